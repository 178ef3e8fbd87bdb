// The exact uint8 k-NN kernel (src/knn/wasm-kernel.ts) on the full Fashion-MNIST job, with the numpy and
// scikit-learn anchors (../shared/anchors/knn_numpy.py) run in the same process tree, one after the other,
// so that ratios and not absolute times are compared on a busy machine.
//
//   npx tsx bench/knn-kernel.ts [--test N] [--k K] [--threads 1|2] [--anchor-threads N] [--repeats R]
//                               [--no-anchor] [--data DIR]
//
// --anchor-threads N pins the anchors' BLAS and OpenMP threads (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS): on a
// busy machine OpenBLAS's spinning threads slow down far more than a single thread does, so 1 thread against
// 1 thread is the robust comparison there.
//
// Prints seconds for our setTrain + search (+ the vote), accuracy (ties to the nearest neighbour's class),
// the anchors' lines and the ratios.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createKnnKernel } from '../src/knn/wasm-kernel.js';
import { createKnnKernelPool } from '../src/knn/wasm-kernel-node.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const DATA = arg('data', '/usr/share/datasets/fashion-mnist');
const NT = Number(arg('test', '10000'));
const K = Number(arg('k', '5'));
const THREADS = Number(arg('threads', '1'));
const repeats = Number(arg('repeats', '1'));
const ANCHOR_THREADS = arg('anchor-threads', '');

function idx(name: string): Uint8Array {
  const b = gunzipSync(readFileSync(join(DATA, name)));
  const nd = b[3];
  return new Uint8Array(b.buffer, b.byteOffset + 4 + 4 * nd, b.length - 4 - 4 * nd);
}

const xtr = idx('train-images-idx3-ubyte.gz');
const ytr = idx('train-labels-idx1-ubyte.gz');
const xte = idx('t10k-images-idx3-ubyte.gz').subarray(0, NT * 784);
const yte = idx('t10k-labels-idx1-ubyte.gz').subarray(0, NT);

function vote(indices: Int32Array, k: number): number {
  let correct = 0;
  for (let r = 0; r < NT; r++) {
    const votes = new Int32Array(10);
    for (let j = 0; j < k; j++) votes[ytr[indices[r * k + j]]]++;
    let best = -1;
    let top = -1;
    for (let c = 0; c < 10; c++) if (votes[c] > top) top = votes[c];
    // ties: the class of the nearest neighbour among the tied classes
    for (let j = 0; j < k && best < 0; j++)
      if (votes[ytr[indices[r * k + j]]] === top) best = ytr[indices[r * k + j]];
    if (best === yte[r]) correct++;
  }
  return correct / NT;
}

async function ours(): Promise<number> {
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  let indices: Int32Array;
  if (THREADS > 1) {
    const pool = await createKnnKernelPool({ threads: THREADS, imageShape: [28, 28] });
    pool.setTrain(xtr, 784);
    indices = (await pool.search(xte, K)).indices;
    await pool.dispose();
  } else {
    const kernel = createKnnKernel({ imageShape: [28, 28] });
    kernel.setTrain(xtr, 784);
    indices = kernel.search(xte, K).indices;
    kernel.dispose();
  }
  const acc = vote(indices, K);
  const s = (performance.now() - t) / 1000;
  const rss = (process.resourceUsage().maxRSS / 1024).toFixed(0);
  const cpu = process.cpuUsage(cpu0);
  const cpuS = ((cpu.user + cpu.system) / 1e6).toFixed(2);
  console.log(
    `ours (wasm SIMD, ${THREADS} thread${THREADS > 1 ? 's' : ''}) knn k=${K}: acc=${acc.toFixed(4)} time=${s.toFixed(2)}s n_test=${NT} cpu=${cpuS}s peak_rss=${rss}MB`,
  );
  return s;
}

async function main(): Promise<void> {
  for (let rep = 0; rep < repeats; rep++) {
    const mine = await ours();
    if (process.argv.includes('--no-anchor')) continue;
    const script = join(process.cwd(), '..', 'shared', 'anchors', 'knn_numpy.py');
    const path = existsSync(script) ? script : '/work/shared/anchors/knn_numpy.py';
    const env = ANCHOR_THREADS
      ? { ...process.env, OPENBLAS_NUM_THREADS: ANCHOR_THREADS, OMP_NUM_THREADS: ANCHOR_THREADS }
      : process.env;
    if (ANCHOR_THREADS) console.log(`anchors pinned to ${ANCHOR_THREADS} thread(s)`);
    const out = execFileSync('/usr/bin/python3', [path, DATA, String(NT)], { encoding: 'utf8', env });
    process.stdout.write(out);
    for (const m of out.matchAll(/^(\S+).*time=([\d.]+)s/gm)) {
      console.log(`ratio ours / ${m[1]}: ${(mine / Number(m[2])).toFixed(2)}x`);
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
