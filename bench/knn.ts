// k-NN speed, measured next to scikit-learn in the same run: the full test set (10,000) against the full
// training set (60,000), raw pixels, k = 5, euclidean, uniform.
//
//   npm run bench:knn                      # everything: uint8 kernel (2 threads, 1 thread), tfjs wasm 2 workers,
//                                          # tfjs wasm 1 thread, tfjs cpu (slice, extrapolated), python
//   npm run bench:knn -- --kernel-only      # the uint8 kernel cases and python only
//   npm run bench:knn -- --rows 1000       # a 1,000-image slice of the test set for every case
//   npm run bench:knn -- --cpu-rows 50 --skip-python --json out.json
//   npm run bench:knn -- --python-once      # scikit-learn only before our cases (default: before and after)
//
// Each case runs in its own child process so that its peak RSS is its own (a wasm heap never shrinks).
// The cpu backend (pure JS, ~1 GFLOP/s) would take most of an hour on the full job, so it runs a slice and the
// time is extrapolated linearly (the work is linear in query rows); the table says so.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { buildDevKnnWorker } from '../scripts/dev-knn-worker.js';
import { DEBIAN_DIR } from '../src/data/node.js';
import { KnnClassifier } from '../src/index.js';
import { wasmSearch } from '../src/knn/index.js';
import { knnWorkerPool, loadFashionMnist } from '../src/node.js';

interface CaseResult {
  name: string;
  backend: string;
  workers: number;
  rows: number;
  fitMs: number;
  predictMs: number;
  /** CPU seconds (user + system, all threads of the process) spent in predict. */
  predictCpuS: number;
  accuracy: number;
  peakRssMiB: number;
  batchSize: number;
  rescued: number;
}

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const dir = flag('--dir') ?? process.env.FASHION_MNIST_DIR ?? DEBIAN_DIR;
if (args.includes('--help')) {
  console.log(`usage: npx tsx bench/knn.ts [--rows N] [--cpu-rows N] [--workers N] [--skip-python] [--skip-cpu]
                                [--python-once] [--dir DIR] [--json FILE]
k-NN speed next to scikit-learn: N test images (default 10000) against the 60,000 training images.`);
  process.exit(0);
}

/**
 * Times `train` (a classifier's fit) and its `predict(x)` (wall and CPU time), then disposes the classifier.
 * `fit` returns before a worker pool's threads have started (the first search waits for them), so the fit time
 * includes a one-row search: thread start and index build are counted as fit, as before.
 */
async function measure(
  train: () => KnnClassifier,
  x: Uint8Array,
): Promise<{
  fitMs: number;
  predictMs: number;
  cpu: NodeJS.CpuUsage;
  pred: Int32Array;
  stats: { batchSize: number; rescued: number } | null;
}> {
  let t = performance.now();
  const knn = train();
  await knn.kneighbors(x.subarray(0, 784), { k: 1 });
  const fitMs = performance.now() - t;
  t = performance.now();
  const cpu0 = process.cpuUsage();
  const pred = await knn.predict(x);
  const cpu = process.cpuUsage(cpu0);
  const predictMs = performance.now() - t;
  const stats = knn.lastStats;
  await knn.dispose();
  return { fitMs, predictMs, cpu, pred, stats };
}

async function runCase(spec: string): Promise<CaseResult> {
  const [name, backend, workersText, rowsText] = spec.split(':');
  const workers = Number(workersText);
  const data = await loadFashionMnist({ dir });
  const rows = Math.min(Number(rowsText), data.test.count);
  const x = data.test.images.subarray(0, rows * 784);
  const y = data.test.labels.subarray(0, rows);
  if (backend === 'kernel') {
    // The exact uint8 WebAssembly kernel: wasmSearch on this thread, or knnWorkerPool's kernel threads.
    const search = workers === 0 ? wasmSearch : knnWorkerPool({ workers });
    return finish(
      await measure(() => new KnnClassifier({ k: 5, search }).fit(data.train.images, data.train.labels), x),
    );
  }
  if (workers === 0) {
    if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    else await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend(backend);
    await tf.ready();
  }
  // From the sources the worker threads need a built worker script (the package has dist/knn-worker.js).
  const worker = workers === 0 ? undefined : await buildDevKnnWorker();
  const search =
    worker === undefined
      ? undefined
      : knnWorkerPool({ workers, backend: backend as 'wasm' | 'cpu', workerUrl: worker.url, kernel: 'tfjs' });
  return finish(
    await measure(
      () => new KnnClassifier({ k: 5, search }).fit(data.train.images, data.train.labels),
      x,
    ).finally(() => worker?.remove()),
  );

  function finish({ fitMs, predictMs, cpu, pred, stats }: Awaited<ReturnType<typeof measure>>): CaseResult {
    let hits = 0;
    for (let i = 0; i < rows; i++) if (pred[i] === y[i]) hits++;
    return {
      name,
      backend,
      workers,
      rows,
      fitMs,
      predictMs,
      predictCpuS: (cpu.user + cpu.system) / 1e6,
      accuracy: hits / rows,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      batchSize: stats?.batchSize ?? 0,
      rescued: stats?.rescued ?? 0,
    };
  }
}

function child(spec: string): CaseResult {
  const r = spawnSync(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), '--case', spec, '--dir', dir],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    },
  );
  const line = r.stdout.split('\n').find((l) => l.startsWith('{"name"'));
  if (r.status !== 0 || line === undefined) throw new Error(`case ${spec} failed:\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(line) as CaseResult;
}

interface PythonResult {
  numpy?: { accuracy: number; seconds: number };
  sklearn?: { accuracy: number; seconds: number };
  peakRssMiB?: number;
  /** CPU seconds of the whole python process (data loading, numpy version and scikit-learn together). */
  cpuS?: number;
  error?: string;
}

/**
 * The OpenBLAS core type the anchor runs with. OpenBLAS 0.3.21 (Debian 12) does not recognise every current CPU
 * and falls back to its 'Prescott' kernels (SSE3), about 3× slower on this machine than the AVX-512 ones: a
 * handicapped anchor flatters us. So, unless OPENBLAS_CORETYPE is already set (some machines set it because
 * older builds crash on them), pick the best kernels the CPU supports. The anchor's accuracy is printed, so a
 * wrong result would show.
 */
function anchorCoreType(): string | undefined {
  if (process.env.OPENBLAS_CORETYPE) return process.env.OPENBLAS_CORETYPE;
  const flags = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  if (/\bavx512f\b/.test(flags)) return 'SkylakeX';
  if (/\bavx2\b/.test(flags)) return 'Haswell';
  return undefined;
}

function python(rows: number): PythonResult {
  // ../shared next to the checkout; from a git worktree under <root>/wt/<name>, the one next to <root>/main.
  const candidates = ['../../shared', '../../../shared'].map((d) => resolve(here, d, 'anchors/knn_numpy.py'));
  const script = process.env.KNN_ANCHOR ?? candidates.find((c) => existsSync(c)) ?? candidates[0];
  const py = process.env.PYTHON ?? '/usr/bin/python3';
  if (!existsSync(script)) return { error: `anchor ${script} not found` };
  // /usr/bin/time -f %M gives the python process's peak RSS (KiB) on stderr, when installed.
  const time = existsSync('/usr/bin/time');
  const coreType = anchorCoreType();
  const env = { ...process.env, ...(coreType ? { OPENBLAS_CORETYPE: coreType } : {}) };
  const r = time
    ? spawnSync('/usr/bin/time', ['-f', 'maxrss_kib=%M cpu_s=%U+%S', py, script, dir, String(rows)], {
        encoding: 'utf8',
        env,
      })
    : spawnSync(py, [script, dir, String(rows)], { encoding: 'utf8', env });
  if (r.status !== 0)
    return { error: (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n').slice(-3).join(' ') };
  const out: PythonResult = {};
  const parse = (re: RegExp) => {
    const m = re.exec(r.stdout);
    return m ? { accuracy: Number(m[1]), seconds: Number(m[2]) } : undefined;
  };
  out.numpy = parse(/numpy-vectorized knn k=5: acc=([\d.]+) time=([\d.]+)s/);
  out.sklearn = parse(/sklearn brute knn k=5: acc=([\d.]+) time=([\d.]+)s/);
  const m = /maxrss_kib=(\d+)/.exec(r.stderr);
  if (m) out.peakRssMiB = Number(m[1]) / 1024;
  const c = /cpu_s=([\d.]+)\+([\d.]+)/.exec(r.stderr);
  if (c) out.cpuS = Number(c[1]) + Number(c[2]);
  return out;
}

function mergePython(a: PythonResult | undefined, b: PythonResult | undefined): PythonResult | undefined {
  if (a === undefined || b === undefined || a.error || b.error) return a ?? b;
  const mean = (x?: { accuracy: number; seconds: number }, y?: { accuracy: number; seconds: number }) =>
    x && y ? { accuracy: x.accuracy, seconds: (x.seconds + y.seconds) / 2 } : (x ?? y);
  console.log(
    `python runs (before / after ours): numpy ${a.numpy?.seconds} / ${b.numpy?.seconds} s, ` +
      `scikit-learn ${a.sklearn?.seconds} / ${b.sklearn?.seconds} s; the table uses the means ` +
      `(OpenBLAS core type: ${anchorCoreType() ?? 'auto-detected'})\n`,
  );
  return {
    numpy: mean(a.numpy, b.numpy),
    sklearn: mean(a.sklearn, b.sklearn),
    peakRssMiB: Math.max(a.peakRssMiB ?? 0, b.peakRssMiB ?? 0) || undefined,
    cpuS: a.cpuS !== undefined && b.cpuS !== undefined ? (a.cpuS + b.cpuS) / 2 : (a.cpuS ?? b.cpuS),
  };
}

async function main(): Promise<void> {
  const single = flag('--case');
  if (single !== undefined) {
    console.log(JSON.stringify(await runCase(single)));
    return;
  }
  const rows = Number(flag('--rows') ?? 10000);
  const cpuRows = Math.min(rows, Number(flag('--cpu-rows') ?? 100));
  const workers = Number(flag('--workers') ?? 2);
  const skipPython = args.includes('--skip-python');
  const skipCpu = args.includes('--skip-cpu');
  const kernelOnly = args.includes('--kernel-only');
  const train = 60000;
  console.log(
    `k-NN benchmark: ${rows} test × ${train} train images, 784 raw pixels, k = 5, euclidean, uniform`,
  );
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, tfjs-core ${tf.version_core}`,
  );
  console.log(
    '(each case in its own process; shared machines make absolute times noisy: compare the ratios)\n',
  );

  // Python runs before and after our cases and the mean is the reference, so that load from other processes
  // during the run biases both sides alike.
  const results: CaseResult[] = [];
  const load0 = loadavg();
  const pyBefore = skipPython ? undefined : python(rows);
  results.push(child(`kernel-${workers}t:kernel:${workers}:${rows}`));
  results.push(child(`kernel-1t:kernel:0:${rows}`));
  if (!kernelOnly) {
    results.push(child(`wasm-${workers}w:wasm:${workers}:${rows}`));
    results.push(child(`wasm-1t:wasm:0:${rows}`));
    if (!skipCpu) results.push(child(`cpu-1t:cpu:0:${cpuRows}`));
  }
  const pyAfter = skipPython || args.includes('--python-once') ? undefined : python(rows);
  const py = mergePython(pyBefore, pyAfter);

  const sk = py?.sklearn?.seconds;
  const header = [
    'case',
    'rows',
    'fit s',
    'predict s',
    'CPU s',
    'all-rows s',
    'job s',
    'distances/s',
    'peak RSS',
    'accuracy',
    'job/sklearn',
  ];
  const table: string[][] = [];
  for (const r of results) {
    const scale = rows / r.rows;
    const full = (r.predictMs / 1000) * scale;
    const job = full + r.fitMs / 1000;
    const what =
      r.backend === 'kernel'
        ? r.workers === 0
          ? 'wasmSearch (uint8 kernel) 1 thread'
          : `knnWorkerPool uint8 kernel ${r.workers} threads`
        : `tfjs ${r.backend} ${r.workers === 0 ? '1 thread' : `${r.workers} workers`}`;
    const label = `${what}${scale > 1 ? ' (slice, extrapolated)' : ''}`;
    table.push([
      label,
      String(r.rows),
      (r.fitMs / 1000).toFixed(2),
      (r.predictMs / 1000).toFixed(2),
      r.predictCpuS.toFixed(1),
      full.toFixed(1),
      job.toFixed(1),
      ((r.rows * train) / (r.predictMs / 1000)).toExponential(2),
      `${r.peakRssMiB.toFixed(0)} MiB`,
      r.accuracy.toFixed(4),
      sk ? `${(job / sk).toFixed(2)}×` : '-',
    ]);
  }
  // The python rows: no fit time or CPU time of their own; ratios against scikit-learn like ours.
  const pythonRow = (label: string, r: { accuracy: number; seconds: number }, rss: string): string[] => [
    label,
    String(rows),
    '-',
    r.seconds.toFixed(2),
    '-',
    r.seconds.toFixed(1),
    r.seconds.toFixed(1),
    ((rows * train) / r.seconds).toExponential(2),
    rss,
    r.accuracy.toFixed(4),
    sk ? `${(r.seconds / sk).toFixed(2)}×` : '-',
  ];
  if (py?.numpy) table.push(pythonRow('numpy (knn_numpy.py)', py.numpy, '-'));
  if (py?.sklearn) {
    const rss = py.peakRssMiB ? `${py.peakRssMiB.toFixed(0)} MiB*` : '-';
    table.push(pythonRow('scikit-learn brute', py.sklearn, rss));
  }
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const fmt = (row: string[]) =>
    row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(fmt(header));
  for (const row of table) console.log(fmt(row));
  console.log(
    'job s: the full job, fit + predict (for us: fit, thread start and index build, then predict; for',
  );
  console.log(
    "scikit-learn: KNeighborsClassifier(algorithm='brute', n_jobs=-1).fit(...).score(...), as timed by",
  );
  console.log('knn_numpy.py; numpy: its loop-free distance matrix, no fit). job/sklearn compares those.');
  const load1 = loadavg();
  console.log(
    `load average (1, 5, 15 min): at start ${load0.map((v) => v.toFixed(2)).join(', ')}; at end ${load1
      .map((v) => v.toFixed(2))
      .join(', ')}`,
  );
  if (py?.peakRssMiB)
    console.log('* peak RSS of the python process, which runs the numpy version and then scikit-learn');
  console.log(
    "CPU s: CPU time of our predict (all threads). When other processes share the cores, wall time rises but CPU time doesn't;",
  );
  console.log('with the cores to itself, the 2-worker wall time would be about CPU s / 2.');
  if (py?.cpuS !== undefined) {
    console.log(`python process CPU time (loading + numpy + scikit-learn together): ${py.cpuS.toFixed(1)} s`);
  }
  if (py?.error) console.log(`python anchor: ${py.error}`);
  // The accuracies quoted here are this run's (the first case scores all `rows`, like the python anchor).
  const theirs = py?.sklearn?.accuracy.toFixed(4) ?? 'not measured';
  console.log(
    `\nnumpy/scikit-learn break vote ties towards the lowest label (${theirs} on ${rows} rows); ours gives the`,
  );
  console.log(
    `class of the nearest tied neighbour (${results[0].accuracy.toFixed(4)}). 'rescued' rows needing a longer candidate list:`,
    results.map((r) => `${r.name}=${r.rescued}`).join(', '),
  );
  const out = flag('--json');
  if (out) writeFileSync(out, JSON.stringify({ rows, results, python: py }, null, 2));
}

await main();
