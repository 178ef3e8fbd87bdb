// Node only: the exact uint8 k-NN kernel on several threads. The training rows are laid out once in a
// shared WebAssembly memory (the kernel's shared-memory variant); each worker thread instantiates the same
// module over that memory, and query pairs go, a few at a time, to whichever worker is free. Each task
// covers whole query rows (all training rows, in index order), so results, tie rule included, are exactly
// the single-threaded kernel's.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FashionMnistError } from '../errors.js';
import { checkNumber, mergeOptions } from '../internal/validate.js';
import { kernelModule } from '../kernels/load.js';
import { knnU8Shared } from '../kernels/wasm.generated.js';
import {
  checkSearch,
  createKnnKernel,
  type KernelCall,
  type KnnKernelOptions,
  type KnnKernelResult,
  runKernelCall,
  WasmKnnKernel,
} from './wasm-kernel.js';

const WHERE = 'createKnnKernelPool';

/**
 * Options of {@link createKnnKernelPool}: the kernel's plus the number of threads.
 * @example
 * ```ts
 * const pool = await createKnnKernelPool({ threads: 2 });
 * ```
 */
export interface KnnKernelPoolOptions extends KnnKernelOptions {
  /** Worker threads (default: available parallelism, at most 8). */
  threads?: number;
  /** Query rows per task handed to a worker (default 32, even). */
  taskRows?: number;
}

/**
 * The k-NN kernel on worker threads. Create with {@link createKnnKernelPool}.
 * @example
 * ```ts
 * const pool = await createKnnKernelPool({ threads: 2 });
 * pool.setTrain(trainPixels, 784);
 * const { indices } = await pool.search(testPixels, 5);
 * await pool.dispose();
 * ```
 */
export interface KnnKernelPool {
  /** Worker threads searching (0 when SIMD or shared memory is missing: searches then run on this thread). */
  readonly threads: number;
  /** Stores the training rows (`rows × dims` uint8), shared by every thread. */
  setTrain(rows: Uint8Array, dims: number): void;
  /** The `k` nearest training rows of each query row, as {@link KnnKernel.search}. */
  search(queries: Uint8Array, k: number): Promise<KnnKernelResult>;
  /** Stops the threads and releases the memory. */
  dispose(): Promise<void>;
}

const DEFAULTS = Object.freeze({
  simd: true,
  queryBlockRows: 2048,
  trainBlockRows: 128,
  prune: true,
  pruneGroup: 16,
  refineGroup: 4,
  imageShape: null as readonly [number, number] | null,
  threads: Math.max(1, Math.min(8, availableParallelism())),
  taskRows: 32,
});

// The worker: instantiate the module over the shared memory, run the pair ranges it is sent.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const runKernelCall = ${runKernelCall.toString()};
const fns = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } }).exports;
parentPort.on('message', (task) => {
  try {
    runKernelCall(fns, task.call, task.pair0, task.pair1);
    parentPort.postMessage({ id: task.id });
  } catch (e) {
    parentPort.postMessage({ id: task.id, error: String(e && e.message ? e.message : e) });
  }
});
`;

/**
 * A pool of worker threads running the k-NN kernel over one shared copy of the training rows; falls back to
 * a single-threaded kernel (`threads` = 0) where WebAssembly SIMD or shared memory is missing.
 * @example
 * ```ts
 * const pool = await createKnnKernelPool({ threads: 2 });
 * pool.setTrain(trainPixels, 784);
 * const { indices, distances } = await pool.search(testPixels, 5);
 * await pool.dispose();
 * ```
 */
export async function createKnnKernelPool(options?: KnnKernelPoolOptions): Promise<KnnKernelPool> {
  const { threads, taskRows, ...kernelOptions } = mergeOptions(WHERE, DEFAULTS, options);
  checkNumber(WHERE, 'threads', threads, { integer: true, min: 1, max: 64 });
  checkNumber(WHERE, 'taskRows', taskRows, { integer: true, min: 2, max: 65536 });
  const kernelCheck = createKnnKernel(kernelOptions); // validates the kernel's options
  const mod = kernelOptions.simd ? kernelModule(knnU8Shared) : null;
  if (mod == null || typeof SharedArrayBuffer === 'undefined') return new SerialPool(kernelCheck);
  kernelCheck.dispose();
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  const kernel = new WasmKnnKernel(mod, kernelOptions, memory);
  const workers: Worker[] = [];
  try {
    for (let w = 0; w < threads; w++) {
      workers.push(new Worker(WORKER_SOURCE, { eval: true, workerData: { module: mod, memory } }));
    }
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            worker.once('online', () => resolve());
            worker.once('error', reject);
          }),
      ),
    );
  } catch (cause) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw new FashionMnistError('WORKER_FAILED', `${WHERE}: a worker thread failed to start`, { cause });
  }
  // Idle threads do not keep the process alive; a running search holds them (see ThreadPool.run).
  for (const w of workers) w.unref();
  return new ThreadPool(kernel, workers, kernelOptions.queryBlockRows, taskRows + (taskRows & 1));
}

class SerialPool implements KnnKernelPool {
  readonly threads = 0;
  constructor(private readonly kernel: ReturnType<typeof createKnnKernel>) {}
  setTrain(rows: Uint8Array, dims: number): void {
    this.kernel.setTrain(rows, dims);
  }
  async search(queries: Uint8Array, k: number): Promise<KnnKernelResult> {
    return this.kernel.search(queries, k);
  }
  async dispose(): Promise<void> {
    this.kernel.dispose();
  }
}

class ThreadPool implements KnnKernelPool {
  private busy = false;
  private disposed = false;

  constructor(
    private readonly kernel: WasmKnnKernel,
    private readonly workers: Worker[],
    private readonly blockRows: number,
    private readonly taskRows: number,
  ) {}

  get threads(): number {
    return this.workers.length;
  }

  private check(where: string): void {
    if (this.disposed)
      throw new FashionMnistError('DISPOSED', `KnnKernelPool.${where}: the pool was disposed`);
    if (this.busy) {
      throw new FashionMnistError('BAD_INPUT', `KnnKernelPool.${where}: a search is running; await it first`);
    }
  }

  setTrain(rows: Uint8Array, dims: number): void {
    this.check('setTrain');
    this.kernel.setTrain(rows, dims);
  }

  async search(queries: Uint8Array, k: number): Promise<KnnKernelResult> {
    this.check('search');
    const { kernel } = this;
    const n = checkSearch(queries, k, kernel.dims, kernel.rows);
    const out: KnnKernelResult = {
      indices: new Int32Array(n * k),
      distances: new Int32Array(n * k),
      rows: n,
      k,
    };
    if (n === 0) return out;
    const block = Math.min(this.blockRows + (this.blockRows & 1), n + (n & 1));
    kernel.ensure(kernel.live('search'), kernel.scratch + kernel.blockBytes(block, k), 'search');
    this.busy = true;
    try {
      for (let start = 0; start < n; start += block) {
        const m = Math.min(block, n - start);
        const call = kernel.prepare(
          queries.subarray(start * kernel.dims, (start + m) * kernel.dims),
          m,
          k,
          kernel.scratch,
        );
        await this.run(call);
        kernel.collect(call, m, k, start, out);
      }
    } finally {
      this.busy = false;
    }
    return out;
  }

  /** Hands pair ranges of `call` to free workers until all are done. */
  private run(call: KernelCall): Promise<void> {
    const taskPairs = this.taskRows / 2;
    let next = 0;
    let running = 0;
    return new Promise<void>((resolve, reject) => {
      let failed = false;
      const cleanups: (() => void)[] = [];
      for (const w of this.workers) w.ref();
      const finish = (e?: Error) => {
        for (const w of this.workers) w.unref();
        for (const c of cleanups) c();
        if (e) reject(e);
        else resolve();
      };
      const feed = (worker: Worker) => {
        if (failed) return;
        if (next >= call.pairs) {
          if (running === 0) finish();
          return;
        }
        const pair0 = next;
        next = Math.min(call.pairs, next + taskPairs);
        running++;
        worker.postMessage({ id: pair0, call, pair0, pair1: next });
      };
      for (const worker of this.workers) {
        const onMessage = (m: { id: number; error?: string }) => {
          running--;
          if (m.error !== undefined) {
            failed = true;
            finish(
              new FashionMnistError('WORKER_FAILED', `KnnKernelPool.search: a worker failed: ${m.error}`),
            );
            return;
          }
          feed(worker);
        };
        const onError = (e: Error) => {
          failed = true;
          finish(
            new FashionMnistError('WORKER_FAILED', 'KnnKernelPool.search: a worker thread died', {
              cause: e,
            }),
          );
        };
        worker.on('message', onMessage);
        worker.on('error', onError);
        cleanups.push(() => {
          worker.off('message', onMessage);
          worker.off('error', onError);
        });
      }
      for (const worker of this.workers) feed(worker);
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.kernel.dispose();
  }
}
