// Node only: the k-NN search strategy that splits query rows across worker threads, one tfjs engine each, to
// use every core. The wasm backend's own threads do not start in Node (it spawns workers from a blob URL), and
// k-NN is data-parallel over query rows, so whole chunks go to whichever worker is free.
//
// Where the worker comes from: the built file next to this module (dist/knn-worker.js, or .cjs from the
// CommonJS build; tsup builds it as an entry of its own). Nothing here knows about TypeScript loaders. Code
// that runs from the sources (tests, benchmarks, examples under tsx or vitest) must pass `workerUrl`: Node 20
// does not run a worker's entry through the parent's `--import` hooks, so src/knn/knn-worker.ts cannot start
// as is; scripts/dev-knn-worker.ts bundles it with esbuild for them.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ERROR_CODES, FashionMnistError, type FashionMnistErrorCode } from '../errors.js';
import { badOption, checkNumber, checkOneOf, mergeOptions, show } from '../internal/validate.js';
import type { KnnWorkerError, KnnWorkerInit, KnnWorkerReply, KnnWorkerTask } from './knn-worker.js';
import type {
  KnnIndex,
  KnnMetric,
  KnnRows,
  KnnSearch,
  KnnSearchJob,
  NeighbourLists,
  SearchStats,
} from './types.js';
import { createKnnKernelPool } from './wasm-kernel-node.js';
import { imageShapeFor, KernelIndex, kernelApplies } from './wasm-search.js';

/**
 * Options of {@link knnWorkerPool}.
 *
 * @example
 * ```ts
 * const options: Partial<KnnWorkerPoolOptions> = { workers: 2, backend: 'wasm' };
 * ```
 */
export interface KnnWorkerPoolOptions {
  /** Worker threads, 1 to 64 (default: the machine's available parallelism, at most 8). */
  workers: number;
  /** tfjs backend inside each worker: `'wasm'` (default; needs `@tensorflow/tfjs-backend-wasm`) or `'cpu'`. */
  backend: 'wasm' | 'cpu';
  /**
   * Where the worker script is: a file URL, or an absolute path (default: `knn-worker.js`, or `.cjs`, next to
   * this module in the package's `dist/`). Needed when a bundler moves files around, and when running from the
   * TypeScript sources.
   */
  workerUrl: URL | string | undefined;
  /**
   * `'auto'` (default): when every training feature is a whole number 0..255 (uint8, as Fashion-MNIST pixels),
   * the metric is `'euclidean'` and WebAssembly SIMD and shared memory are available, the threads run this
   * library's exact uint8 WebAssembly kernel over one shared copy of the training rows (no tfjs engine in the
   * threads, no transposed float32 copy: several times faster, far less memory; same results bit for bit);
   * otherwise the tfjs engines below. `'tfjs'`: always the tfjs engines.
   */
  kernel: 'auto' | 'tfjs';
}

/**
 * The strategy {@link knnWorkerPool} returns: a {@link KnnSearch} with its validated options.
 *
 * @example
 * ```ts
 * const pool: KnnWorkerPool = knnWorkerPool({ workers: 2 });
 * console.log(pool.options.workers); // 2
 * ```
 */
export interface KnnWorkerPool extends KnnSearch {
  readonly options: Readonly<KnnWorkerPoolOptions>;
}

function poolDefaults(): Readonly<KnnWorkerPoolOptions> {
  return Object.freeze({
    workers: Math.max(1, Math.min(8, availableParallelism())),
    backend: 'wasm',
    workerUrl: undefined,
    kernel: 'auto',
  });
}

/**
 * `knn-worker.{js,cjs}` next to this module in the built package. When this module runs from the TypeScript
 * sources (tests, `tsx` scripts in the repository), the worker built by scripts/build-dev-worker.mjs instead
 * (`npm ci` and the test suite build it), since Node cannot start a `.ts` worker.
 */
function defaultWorkerUrl(): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL('../../.cache/dev/knn-worker.mjs', here);
  return new URL(`./knn-worker${here.endsWith('.cjs') ? '.cjs' : '.js'}`, here);
}

/**
 * A k-NN search strategy that runs on Node worker threads: each thread has its own tfjs engine (wasm by
 * default) with a copy of the transposed training matrix, while the training values for the exact
 * refinement are shared, not copied. Same results as the default search, bit for bit, and the same tie rule.
 * When the training features are uint8 and the metric euclidean (option `kernel: 'auto'`, the default), the
 * threads run this library's exact uint8 WebAssembly SIMD kernel instead (see `wasmSearch` of
 * `fashion-mnist-tfjs/knn`): one shared copy of the rows, no tfjs engine, the same results.
 *
 * Each `fit` starts the threads in the background (the first search waits for them); `dispose()` on the
 * classifier stops them, and its promise settles once they have exited. Idle threads do not keep the process
 * alive. A thread that fails to start or crashes makes the searches fail with `WORKER_FAILED` (the cause
 * attached) until the classifier is fitted again; a search running when the classifier is disposed rejects with
 * `ABORTED`.
 *
 * @example
 * ```ts
 * import { KnnClassifier } from 'fashion-mnist-tfjs';
 * import { knnWorkerPool } from 'fashion-mnist-tfjs/node';
 * const knn = new KnnClassifier({ k: 5, search: knnWorkerPool({ workers: 2 }) });
 * knn.fit(data.train.images, data.train.labels);
 * console.log(await knn.score(data.test.images, data.test.labels)); // 0.8567
 * await knn.dispose();
 * ```
 */
export function knnWorkerPool(options?: Partial<KnnWorkerPoolOptions>): KnnWorkerPool {
  const where = 'knnWorkerPool';
  const o = mergeOptions<KnnWorkerPoolOptions>(where, poolDefaults(), options);
  checkNumber(where, 'workers', o.workers, { integer: true, min: 1, max: 64 });
  checkOneOf(where, 'backend', o.backend, ['wasm', 'cpu'] as const);
  checkOneOf(where, 'kernel', o.kernel, ['auto', 'tfjs'] as const);
  if (o.workerUrl !== undefined && typeof o.workerUrl !== 'string' && !(o.workerUrl instanceof URL)) {
    throw badOption(`${where}: option 'workerUrl' must be a URL or a string, received ${show(o.workerUrl)}`);
  }
  // A file URL given as text (e.g. from import.meta.resolve) is a URL; Node's Worker takes only paths as text.
  if (typeof o.workerUrl === 'string' && o.workerUrl.startsWith('file:')) o.workerUrl = new URL(o.workerUrl);
  const frozen = Object.freeze(o);
  return Object.freeze({
    name: 'worker pool',
    options: frozen,
    index: (train: KnnRows, metric: KnnMetric, at: string): KnnIndex => {
      const tfjsPool = (t: KnnRows, m: KnnMetric, w: string) => new WorkerPoolIndex(frozen, t, m, w);
      if (
        frozen.kernel === 'tfjs' ||
        !kernelApplies(train, metric) ||
        typeof SharedArrayBuffer === 'undefined'
      )
        return tfjsPool(train, metric, at);
      const pool = createKnnKernelPool({
        threads: frozen.workers,
        imageShape: imageShapeFor(train.dims),
      }).catch((cause) => {
        throw new FashionMnistError(
          'WORKER_FAILED',
          `${at}: the k-NN kernel's worker threads failed to start`,
          {
            cause,
          },
        );
      });
      return new KernelIndex(pool, train, metric, tfjsPool);
    },
  });
}

interface Pending {
  where: string;
  resolve: (reply: Extract<KnnWorkerReply, { type: 'result' }>) => void;
  reject: (e: Error) => void;
}

/**
 * An error from a worker, rebuilt on this side of the thread boundary (structured cloning keeps neither the
 * class nor `code`): a FashionMnistError with the worker's code when it had one of ours, else WORKER_FAILED
 * naming the original class; the worker's stack is kept.
 */
function rebuild(e: KnnWorkerError): FashionMnistError {
  const known = e.code !== undefined && Object.hasOwn(ERROR_CODES, e.code);
  const out = known
    ? new FashionMnistError(e.code as FashionMnistErrorCode, e.message)
    : new FashionMnistError('WORKER_FAILED', `${e.name}: ${e.message}`);
  if (e.stack !== undefined) out.stack = e.stack;
  return out;
}

function aborted(where: string): FashionMnistError {
  return new FashionMnistError(
    'ABORTED',
    `${where}: the classifier was disposed (or fitted again) during the search; its worker threads are stopped`,
  );
}

/** The training set in worker threads: started at construction, stopped by `dispose`. */
class WorkerPoolIndex implements KnnIndex {
  private readonly workers: Worker[] = [];
  private readonly dims: number;
  /** Settles when every worker has reported ready; rejects on a start failure or on dispose. */
  private readonly ready: Promise<void>;
  private settleReady: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private readyCount = 0;
  /** The first failure of a thread; every later search reports it. */
  private failure: { message: string; cause: unknown } | null = null;
  private disposed = false;
  /** Set once the threads are being terminated on purpose (their exit is then expected). */
  private stopped: Promise<void> | null = null;
  private nextId = 0;
  /** Searches in flight: the threads keep the process alive only while this is above 0. */
  private active = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly url: URL | string;

  constructor(options: Readonly<KnnWorkerPoolOptions>, train: KnnRows, metric: KnnMetric, where: string) {
    this.dims = train.dims;
    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = { resolve, reject };
    });
    // Observed here so that a failure nobody searches for is not an unhandled rejection; searches report it.
    this.ready.catch(() => undefined);
    const shared = new SharedArrayBuffer(train.values.byteLength);
    if (train.values instanceof Uint8Array) new Uint8Array(shared).set(train.values);
    else new Float32Array(shared).set(train.values);
    const init: KnnWorkerInit = {
      backend: options.backend,
      train: shared,
      trainType: train.values instanceof Uint8Array ? 'uint8' : 'float32',
      rows: train.rows,
      dims: train.dims,
      metric,
    };
    this.url = options.workerUrl ?? defaultWorkerUrl();
    try {
      for (let w = 0; w < options.workers; w++) {
        const worker = new Worker(this.url, { workerData: init });
        worker.unref();
        this.workers.push(worker);
        worker.on('message', (m: KnnWorkerReply) => this.onMessage(m));
        worker.on('error', (e: Error) => this.fail(`a worker thread failed: ${e.message}`, e));
        worker.on('exit', (code: number) => {
          if (this.stopped === null) this.fail(`a worker thread exited unexpectedly (exit code ${code})`);
        });
      }
    } catch (e) {
      // Node refused the URL synchronously (not a file URL or an absolute path, …).
      void this.stop();
      throw new FashionMnistError(
        'WORKER_FAILED',
        `${where}: could not start a k-NN worker thread from ${String(this.url)}: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
  }

  async search({
    where,
    query: q,
    k,
    batchSize: batch,
    onProgress,
  }: KnnSearchJob): Promise<{ lists: NeighbourLists; stats: SearchStats }> {
    if (this.disposed) throw aborted(where);
    this.active++;
    this.updateRef();
    try {
      try {
        await this.ready;
      } catch {
        throw this.disposed ? aborted(where) : this.failed(where);
      }
      const query = new SharedArrayBuffer(q.rows * this.dims * 4);
      new Float32Array(query).set(q.values);
      const total = Math.ceil(q.rows / batch);
      const indices = new Int32Array(q.rows * k);
      const distances = new Float64Array(q.rows * k);
      const stats: SearchStats = { batchSize: batch, chunks: total, candidates: 0, rescued: 0 };
      let next = 0;
      let done = 0;
      let rowsDone = 0;
      let stop = false;
      const drain = async (worker: Worker): Promise<void> => {
        try {
          while (next < total && !stop) {
            const c = next++;
            const start = c * batch;
            const end = Math.min(q.rows, start + batch);
            const r = await this.run(where, worker, { query, start, end, k });
            indices.set(r.indices, start * k);
            distances.set(r.distances, start * k);
            stats.rescued += r.rescued;
            stats.candidates = r.candidates;
            done++;
            rowsDone += end - start;
            onProgress?.({ done, total, rowsDone, rows: q.rows });
          }
        } catch (e) {
          stop = true; // the other threads stop taking chunks of this search
          throw e;
        }
      };
      await Promise.all(this.workers.map(drain));
      return { lists: { indices, distances, rows: q.rows, k }, stats };
    } finally {
      this.active--;
      this.updateRef();
    }
  }

  /**
   * Rejects the searches in flight with ABORTED and terminates the threads. The threads are referenced while
   * they stop: an unreferenced worker being terminated does not keep the event loop alive, so a process with
   * nothing else to do used to exit (code 0) before `dispose()` returned (issue 11, item 1).
   */
  dispose(): Promise<void> {
    if (!this.disposed) {
      this.disposed = true;
      this.settleReady?.reject(aborted('dispose'));
      for (const p of this.pending.values()) p.reject(aborted(p.where));
      this.pending.clear();
    }
    return this.stop();
  }

  private stop(): Promise<void> {
    if (this.stopped === null) {
      for (const w of this.workers) w.ref();
      this.stopped = Promise.all(this.workers.map((w) => w.terminate().catch(() => 0))).then(() => undefined);
    }
    return this.stopped;
  }

  /** Threads keep the process alive while a search waits on them or while they stop, not when idle. */
  private updateRef(): void {
    if (this.stopped !== null) return;
    for (const w of this.workers) {
      if (this.active > 0) w.ref();
      else w.unref();
    }
  }

  private failed(where: string): FashionMnistError {
    const f = this.failure;
    const hint = String(this.url).endsWith('.ts')
      ? '; running from the TypeScript sources, pass knnWorkerPool({ workerUrl }) pointing at a built worker (npm run build → dist/knn-worker.js, or scripts/dev-knn-worker.ts)'
      : '; fit again to start new threads';
    return new FashionMnistError(
      'WORKER_FAILED',
      `${where}: k-NN worker pool: ${f?.message ?? 'the threads are gone'}${hint}`,
      { cause: f?.cause },
    );
  }

  /** A thread failed to start or died: fail what is in flight and stop the others (first failure wins). */
  private fail(message: string, cause?: unknown): void {
    if (this.disposed || this.failure !== null) return;
    this.failure = { message, cause };
    this.settleReady?.reject(this.failed('k-NN worker pool'));
    for (const p of this.pending.values()) p.reject(this.failed(p.where));
    this.pending.clear();
    void this.stop();
  }

  private onMessage(m: KnnWorkerReply): void {
    if (m.type === 'ready') {
      if (++this.readyCount === this.workers.length) this.settleReady?.resolve();
      return;
    }
    if (m.id === null) {
      if (m.type === 'error')
        this.fail(`a worker thread failed to start: ${m.error.message}`, rebuild(m.error));
      return;
    }
    const p = this.pending.get(m.id);
    if (p === undefined) return;
    this.pending.delete(m.id);
    if (m.type === 'result') p.resolve(m);
    else {
      p.reject(
        new FashionMnistError(
          'WORKER_FAILED',
          `${p.where}: a k-NN worker thread failed: ${m.error.message}`,
          {
            cause: rebuild(m.error),
          },
        ),
      );
    }
  }

  private run(where: string, worker: Worker, task: Omit<KnnWorkerTask, 'id' | 'type'>) {
    if (this.disposed) return Promise.reject(aborted(where));
    if (this.failure !== null) return Promise.reject(this.failed(where));
    const id = this.nextId++;
    return new Promise<Extract<KnnWorkerReply, { type: 'result' }>>((resolve, reject) => {
      this.pending.set(id, { where, resolve, reject });
      worker.postMessage({ type: 'search', id, ...task } satisfies KnnWorkerTask);
    });
  }
}
