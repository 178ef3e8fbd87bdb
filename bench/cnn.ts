// Reference CNN throughput on the CPU backends available without a native add-on, against PyTorch
// measured in the same run (before and after ours; the mean is the anchor): training through the public
// trainCnn (seeded, batch 64, Adam 1e-3, buildCnn defaults; one warm-up batch first) and inference
// (model.predict on the 10,000 test images). With --browser, the same training in Debian's Chromium on wasm, on
// a cross-origin isolated page (the threaded build) and on a plain one. --profile adds tf.profile's kernel
// table of a batch (and, with --browser, of each page's training). Results are noisy on a shared machine:
// compare the ratios printed at the end, not the absolute figures.
//
//   npm run bench:cnn [-- --train-images 6400 --cpu-images 128 --rounds 3 --only-rounds --no-torch --no-threads --browser --json out.json --profile]
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  installWasmTrainingKernels,
  uninstallWasmTrainingKernels,
  wasmTrainingKernelsInstalled,
} from '../src/backend/wasm/install.js';
import { startWasmWithThreads } from '../src/backend/wasm-threads.js';
import { SeededDropout } from '../src/cnn/dropout.js';
import { buildCnn, type CnnTrainingPool, trainCnn } from '../src/cnn/index.js';
import { cnnWorkerPool } from '../src/cnn/worker-pool-node.js';
import { DEBIAN_DIR } from '../src/data/node.js';
import { createRandomSource } from '../src/internal/random.js';
import { loadFashionMnist, type Split, subset, toTensors } from '../src/node.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const jsonOut = (() => {
  const i = args.indexOf('--json');
  return i >= 0 ? args[i + 1] : undefined;
})();
const TRAIN_IMAGES = option('train-images', 3200); // wasm: 50 batches
const CHILD_THREADS = option('child-threads', 0); // internal: measure threaded wasm only, print JSON
const CPU_IMAGES = option('cpu-images', 128); // cpu: 2 batches (about 15 images/s)
const ROUNDS = option('rounds', 3); // paired rounds: PyTorch (2 and 1 threads) and ours, alternating
const ONLY_ROUNDS = flag('only-rounds'); // skip the table (cpu, stock wasm, threads, Chromium): the rounds only
const BATCH = 64;
const PYTHON = '/usr/bin/python3';
const ANCHOR = new URL('../../shared/anchors/cnn_torch.py', import.meta.url).pathname;

interface Row {
  name: string;
  trainImagesPerSec: number | null;
  trainNote?: string;
  inferImagesPerSec: number | null;
  inferNote?: string;
}
const rows: Row[] = [];
const fmt = (v: number | null) => (v == null ? '-' : v.toFixed(0));

// cnnWorkerPool runs from the sources with the dev worker bundle: rebuilt, so that it is this checkout's code
execFileSync(process.execPath, [new URL('../scripts/build-dev-worker.mjs', import.meta.url).pathname], {
  stdio: 'ignore',
});
const data = await loadFashionMnist({ download: false, fallbackToSample: true });
console.log(
  `data: ${data.source.kind} ${data.source.location}${data.isSample ? ' (embedded sample only)' : ''}; ` +
    `${data.train.count} train, ${data.test.count} test`,
);
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, tfjs ${tf.version_core}`;
console.log(`machine: ${machine}`);

/**
 * Trains `images` images (whole batches of 64) with trainCnn, seeded, after one warm-up batch; returns images/s
 * over the whole call (batch building, shuffling and the loop's bookkeeping included, as a user sees it).
 */
async function trainThroughput(
  model: tfl.LayersModel,
  split: Split,
  images: number,
  pool?: CnnTrainingPool,
): Promise<number> {
  const n = Math.min(split.count - BATCH, Math.max(BATCH, Math.floor(images / BATCH) * BATCH));
  const options = { epochs: 1, batchSize: BATCH, seed: 1, ...(pool ? { pool } : {}) };
  await trainCnn(model, subset(split, 0, BATCH), options); // also starts the pool's workers
  const t = performance.now();
  await trainCnn(model, subset(split, BATCH, BATCH + n), options);
  return n / ((performance.now() - t) / 1000);
}

/** Predicts `count` test images (batches of 256) after a warm-up; returns images/s. */
function inferThroughput(model: tfl.LayersModel, split: Split, count: number): number {
  const { xs, ys } = toTensors(subset(split, 0, count));
  ys.dispose();
  tf.tidy(() => model.predict(tf.slice(xs, 0, 256), { batchSize: 256 }));
  const t = performance.now();
  const p = model.predict(xs, { batchSize: 256 }) as tf.Tensor;
  p.dataSync();
  const rate = count / ((performance.now() - t) / 1000);
  tf.dispose([p, xs]);
  return rate;
}

async function profileBatch(model: tfl.LayersModel, split: Split): Promise<string[]> {
  // the dropout masks as trainCnn draws them (seeded: the library's generator, not tf.dropout)
  for (const l of model.layers) if (l instanceof SeededDropout) l.setRandomSource(createRandomSource(1));
  const { xs, ys } = toTensors(subset(split, 0, BATCH), { oneHot: true });
  const info = await tf.profile(async () => {
    await model.trainOnBatch(xs, ys);
  });
  tf.dispose([xs, ys]);
  const byKernel: Record<string, number> = {};
  for (const k of info.kernels) byKernel[k.name] = (byKernel[k.name] ?? 0) + Number(k.kernelTimeMs);
  return kernelTable(byKernel);
}

/** The top 12 kernels of a per-batch profile (milliseconds by kernel name), with the total, as lines. */
function kernelTable(byKernel: Record<string, number>): string[] {
  const total = Object.values(byKernel).reduce((a, b) => a + b, 0);
  return [
    `kernel time ${total.toFixed(1)} ms per batch of ${BATCH}:`,
    ...Object.entries(byKernel)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(
        ([k, ms]) => `  ${k.padEnd(30)} ${ms.toFixed(2).padStart(7)} ms  ${((100 * ms) / total).toFixed(0)}%`,
      ),
  ];
}

if (CHILD_THREADS > 0) {
  installWasmTrainingKernels();
  const threads = await startWasmWithThreads({ threads: CHILD_THREADS });
  const model = buildCnn({ seed: 1 });
  const train = await trainThroughput(model, data.train, TRAIN_IMAGES);
  const infer = inferThroughput(model, data.test, data.test.count);
  console.log(`CHILD ${JSON.stringify({ threads, train, infer })}`);
  process.exit(0);
}

// PyTorch, same machine, same run
const TORCH_INFER = `
import gzip, os, sys, time
import numpy as np, torch, torch.nn as nn
torch.set_num_threads(int(os.environ.get("THREADS", os.cpu_count() or 1)))
D = sys.argv[1]
with gzip.open(os.path.join(D, "t10k-images-idx3-ubyte.gz")) as f:
    b = f.read()
x = torch.tensor(np.frombuffer(b, np.uint8, offset=16).reshape(-1, 1, 28, 28), dtype=torch.float32) / 255
m = nn.Sequential(
    nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(1, 64, 2), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.3),
    nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(64, 32, 2), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.3),
    nn.Flatten(), nn.Linear(32 * 7 * 7, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10)).eval()
with torch.no_grad():
    m(x[:256])
    t = time.perf_counter()
    for s in range(0, len(x), 256):
        m(x[s:s + 256])
    print(f"{len(x) / (time.perf_counter() - t):.0f}")
`;
function torch(threads: number | undefined): Row | null {
  const env = { ...process.env, ...(threads ? { THREADS: String(threads) } : {}) };
  try {
    const out = execFileSync(PYTHON, [ANCHOR, DEBIAN_DIR, '1', String(Math.max(TRAIN_IMAGES, 3200))], {
      env,
      encoding: 'utf8',
    });
    const train = Number(/epoch 1: (\d+) img\/s train/.exec(out)?.[1]);
    const used = /threads (\d+)/.exec(out)?.[1];
    const infer = Number(
      execFileSync(PYTHON, ['-c', TORCH_INFER, DEBIAN_DIR], { env, encoding: 'utf8' }).trim(),
    );
    return { name: `PyTorch CPU, ${used} thread(s)`, trainImagesPerSec: train, inferImagesPerSec: infer };
  } catch (e) {
    console.log(`PyTorch anchor not run: ${String((e as Error).message).split('\n')[0]}`);
    return null;
  }
}
// PyTorch first (and again at the end): the anchor is the mean of the two runs of each setting
const torchBefore = flag('no-torch') || ONLY_ROUNDS ? [] : [torch(undefined), torch(1)];

// cpu
await tf.setBackend('cpu');
if (!ONLY_ROUNDS) {
  const model = buildCnn({ seed: 1 });
  const train = await trainThroughput(model, data.train, CPU_IMAGES);
  const infer = inferThroughput(model, data.test, 1000);
  rows.push({
    name: 'tfjs cpu',
    trainImagesPerSec: train,
    inferImagesPerSec: infer,
    inferNote: '1,000 images',
  });
  model.dispose();
}

// stock wasm
if (wasmTrainingKernelsInstalled()) uninstallWasmTrainingKernels();
await tf.setBackend('wasm');
if (!ONLY_ROUNDS) {
  const model = buildCnn({ seed: 1 });
  let trainNote: string | undefined;
  let train: number | null = null;
  try {
    train = await trainThroughput(model, data.train, BATCH);
  } catch (e) {
    trainNote = `cannot train: ${String((e as Error).message).split('\n')[0]}`;
  }
  const infer = inferThroughput(model, data.test, data.test.count);
  rows.push({
    name: 'tfjs wasm (stock 4.22)',
    trainImagesPerSec: train,
    trainNote,
    inferImagesPerSec: infer,
  });
  model.dispose();
}

// wasm + training kernels
installWasmTrainingKernels();
let profile: string[] = [];
if (!ONLY_ROUNDS) {
  const model = buildCnn({ seed: 1 });
  const train = await trainThroughput(model, data.train, TRAIN_IMAGES);
  const infer = inferThroughput(model, data.test, data.test.count);
  if (flag('profile')) profile = await profileBatch(model, data.train);
  rows.push({ name: 'tfjs wasm + wasm-training', trainImagesPerSec: train, inferImagesPerSec: infer });
  model.dispose();
}

// wasm + training kernels, data-parallel over this thread and one worker thread (cnnWorkerPool, /node)
if (!ONLY_ROUNDS) {
  const pool = cnnWorkerPool({ workers: 1 });
  const model = buildCnn({ seed: 1 });
  try {
    const train = await trainThroughput(model, data.train, TRAIN_IMAGES, pool);
    rows.push({ name: 'same, cnnWorkerPool (2 threads)', trainImagesPerSec: train, inferImagesPerSec: null });
  } catch (e) {
    console.log(`cnnWorkerPool not measured: ${String((e as Error).message).split('\n')[0]}`);
  } finally {
    await pool.dispose();
    model.dispose();
  }
}

// wasm + training kernels on the multithreaded build (a fresh process: the build is chosen when
// the backend starts)
if (!flag('no-threads') && !ONLY_ROUNDS) {
  try {
    const out = execFileSync(
      process.execPath,
      [
        ...process.execArgv,
        new URL(import.meta.url).pathname,
        '--child-threads',
        '2',
        '--train-images',
        String(TRAIN_IMAGES),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const r = JSON.parse(/CHILD (.*)/.exec(out)?.[1] ?? 'null') as {
      threads: number;
      train: number;
      infer: number;
    };
    rows.push({
      name: `tfjs wasm + wasm-training, ${r.threads} threads`,
      trainImagesPerSec: r.train,
      inferImagesPerSec: r.infer,
    });
  } catch (e) {
    console.log(`threaded wasm not measured: ${String((e as Error).message).split('\n')[0]}`);
  }
}

// Chromium: the same trainCnn on wasm + kernels in a browser, on a cross-origin isolated page, where the wasm
// backend's threaded build starts natively (asked for 2 threads; its pthread pool is sized from
// navigator.hardwareConcurrency, so the row names the count XNNPACK really got), and on a plain page (the
// single-threaded build, what most sites get)
const browserProfiles: { page: string; lines: string[] }[] = [];
if (flag('browser') && !ONLY_ROUNDS) {
  const { browserTrainThroughput } = await import('./cnn-browser.js');
  const n = Math.min(TRAIN_IMAGES + BATCH, data.train.count);
  try {
    const results = await browserTrainThroughput(
      data.train.images.subarray(0, n * 784),
      data.train.labels.subarray(0, n),
      [
        { threads: 2, isolated: true, profile: flag('profile') },
        { threads: 1, isolated: false, profile: flag('profile') },
      ],
      TRAIN_IMAGES,
    );
    for (const r of results) {
      rows.push({
        name: r.isolated ? `Chromium, isolated, ${r.threads} thr` : 'Chromium, plain page',
        trainImagesPerSec: r.imagesPerSec,
        trainNote: r.note,
        inferImagesPerSec: null,
      });
      if (r.kernelMs)
        browserProfiles.push({ page: r.isolated ? 'isolated' : 'plain', lines: kernelTable(r.kernelMs) });
    }
  } catch (e) {
    console.log(`Chromium not measured: ${String((e as Error).message).split('\n')[0]}`);
  }
}

const torchAfter = flag('no-torch') || ONLY_ROUNDS ? [] : [torch(undefined), torch(1)];
const torchRows: Row[] = [];
for (let i = 0; i < torchBefore.length; i++) {
  const a = torchBefore[i];
  const b = torchAfter[i];
  if (!a || !b) continue;
  const mean = (x: number | null, y: number | null) => (x == null || y == null ? null : (x + y) / 2);
  torchRows.push({
    name: a.name,
    trainImagesPerSec: mean(a.trainImagesPerSec, b.trainImagesPerSec),
    trainNote: `before ${fmt(a.trainImagesPerSec)}, after ${fmt(b.trainImagesPerSec)}`,
    inferImagesPerSec: mean(a.inferImagesPerSec, b.inferImagesPerSec),
  });
}
rows.push(...torchRows);

// Paired rounds: on a shared machine the speed drifts by tens of percent within minutes, so each round runs
// PyTorch (both settings) and our two training setups back to back, and the ratio is taken within the round.
interface Round {
  torch2: number | null;
  torch1: number | null;
  wasm: number;
  pool: number;
}
const rounds: Round[] = [];
if (ROUNDS > 0 && !flag('no-torch')) {
  const single = buildCnn({ seed: 1 });
  const pooled = buildCnn({ seed: 1 });
  const pool = cnnWorkerPool({ workers: 1 });
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const torch2 = torch(undefined)?.trainImagesPerSec ?? null;
      const torch1 = torch(1)?.trainImagesPerSec ?? null;
      const wasm = await trainThroughput(single, data.train, TRAIN_IMAGES);
      const par = await trainThroughput(pooled, data.train, TRAIN_IMAGES, pool);
      rounds.push({ torch2, torch1, wasm, pool: par });
      console.log(
        `round ${r + 1}: PyTorch 2 threads ${fmt(torch2)}, 1 thread ${fmt(torch1)}; wasm ${fmt(wasm)}, ` +
          `cnnWorkerPool ${fmt(par)} img/s`,
      );
    }
  } finally {
    await pool.dispose();
    single.dispose();
    pooled.dispose();
  }
}

// report
// the faster PyTorch configuration is the reference (with 2 threads on a loaded 2-core machine its
// OpenMP workers can spin against each other; one thread is then faster)
const ref = [...torchRows].sort((a, b) => (b.trainImagesPerSec ?? 0) - (a.trainImagesPerSec ?? 0))[0];
const ratio = (v: number | null, r: number | null | undefined) =>
  v == null || !r ? '-' : (v / r).toFixed(2);
console.log(
  `\nreference CNN (412,778 parameters), batch ${BATCH}; ratios against ${ref?.name ?? '(no PyTorch)'}`,
);
console.log(
  `${'backend'.padEnd(30)} ${'train img/s'.padStart(11)} ${'x torch'.padStart(7)} ${'infer img/s'.padStart(11)} ${'x torch'.padStart(7)}  60k-image epoch`,
);
for (const r of rows) {
  const epoch = r.trainImagesPerSec ? `${(60000 / r.trainImagesPerSec).toFixed(0)} s (estimate)` : '-';
  console.log(
    `${r.name.padEnd(30)} ${fmt(r.trainImagesPerSec).padStart(11)} ${ratio(r.trainImagesPerSec, ref?.trainImagesPerSec).padStart(7)} ` +
      `${fmt(r.inferImagesPerSec).padStart(11)} ${ratio(r.inferImagesPerSec, ref?.inferImagesPerSec).padStart(7)}  ${epoch}`,
  );
  for (const note of [r.trainNote, r.inferNote]) if (note) console.log(`${''.padEnd(30)} (${note})`);
}
const wasm = rows.find((r) => r.name.startsWith('tfjs wasm +'));
const cpuRow = rows[0];
if (wasm?.trainImagesPerSec && cpuRow.trainImagesPerSec) {
  console.log(
    `\nwasm + wasm-training vs tfjs cpu: ${(wasm.trainImagesPerSec / cpuRow.trainImagesPerSec).toFixed(0)}x in training`,
  );
}
if (rounds.length) {
  const median = (v: number[]) => {
    const sorted = [...v].sort((a, b) => a - b);
    const m = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
  };
  const best = (r: Round) => Math.max(r.torch2 ?? 0, r.torch1 ?? 0);
  const against = (pick: (r: Round) => number) => rounds.map((r) => pick(r) / best(r));
  const show = (v: number[]) => `${v.map((x) => x.toFixed(2)).join(', ')} (median ${median(v).toFixed(2)})`;
  console.log(
    `\npaired rounds (training, ${TRAIN_IMAGES} images): ratio to PyTorch's faster setting in the same round`,
  );
  console.log(`  tfjs wasm + wasm-training:          ${show(against((r) => r.wasm))}`);
  console.log(`  same, cnnWorkerPool (2 threads):    ${show(against((r) => r.pool))}`);
}
if (profile.length) console.log(`\nwasm + wasm-training, one batch (tf.profile):\n${profile.join('\n')}`);
for (const { page, lines } of browserProfiles) {
  console.log(`\nChromium, ${page} page, trainCnn (tf.profile, mean per batch):\n${lines.join('\n')}`);
}
if (jsonOut) {
  writeFileSync(
    jsonOut,
    `${JSON.stringify({ machine, trainImages: TRAIN_IMAGES, rows, rounds, profile, browserProfiles }, null, 2)}\n`,
  );
}
