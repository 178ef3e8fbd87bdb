// Node only: data-parallel CNN training on worker threads, one tfjs engine each (wasm by default), for
// `trainCnn(model, data, { pool: cnnWorkerPool() })`. The wasm backend's own threads do not start in Node without
// patching globals, so the cores are used one level up: every batch is split into shards, the calling thread
// computes one and each worker thread another, and the calling thread sums the gradients and steps the
// optimizer (src/cnn/data-parallel.ts). Trainable weights and gradients travel through shared memory; control
// messages through postMessage.
//
// Where the worker comes from: the built file next to this module (dist/cnn-worker.js, or .cjs from the
// CommonJS build; tsup builds it as an entry of its own); from the TypeScript sources, the bundle that
// scripts/build-dev-worker.mjs writes to .cache/dev/cnn-worker.mjs (the test suite's global setup builds it).
import { Worker } from 'node:worker_threads';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ERROR_CODES, FashionMnistError, type FashionMnistErrorCode } from '../errors.js';
import { badOption, checkNumber, checkOneOf, mergeOptions, show } from '../internal/validate.js';
import type { CnnWorkerError, CnnWorkerInit, CnnWorkerReply, CnnWorkerTask } from './cnn-worker.js';
import {
  type CnnPoolSession,
  type CnnShardResult,
  type CnnShardTask,
  type CnnTrainingPool,
  readTrainable,
  trainableSizes,
} from './data-parallel.js';

/**
 * Options of {@link cnnWorkerPool}.
 *
 * @example
 * ```ts
 * const options: Partial<CnnWorkerPoolOptions> = { workers: 1, backend: 'wasm' };
 * ```
 */
export interface CnnWorkerPoolOptions {
  /** Worker threads besides the calling thread, 1 to 64 (default `1`: two replicas on a two-core machine). */
  workers: number;
  /** tfjs backend inside each worker: `'wasm'` (default, with the wasm training kernels) or `'cpu'`. */
  backend: 'wasm' | 'cpu';
  /**
   * Where the worker script is: a file URL, or an absolute path (default: `cnn-worker.js`, or `.cjs`, next to
   * this module in the package's `dist/`). Needed when a bundler moves files around.
   */
  workerUrl: URL | string | undefined;
}

/**
 * What {@link cnnWorkerPool} returns: a {@link CnnTrainingPool} for `trainCnn`'s option `pool`, with its
 * validated options and `dispose()`.
 *
 * @example
 * ```ts
 * const pool: CnnWorkerPool = cnnWorkerPool({ workers: 1 });
 * console.log(pool.workers); // 1
 * await pool.dispose();
 * ```
 */
export interface CnnWorkerPool extends CnnTrainingPool {
  readonly options: Readonly<CnnWorkerPoolOptions>;
  /**
   * Stops the threads; the promise settles once they have exited. A training step waiting on them rejects with
   * `ABORTED`; later runs with this pool are refused (`ABORTED`). Idempotent.
   */
  dispose(): Promise<void>;
}

const DEFAULTS: Readonly<CnnWorkerPoolOptions> = Object.freeze({
  workers: 1,
  backend: 'wasm',
  workerUrl: undefined,
});

/**
 * `cnn-worker.{js,cjs}` next to this module in the built package; from the TypeScript sources (tests, `tsx`
 * scripts in the repository), the bundle built by scripts/build-dev-worker.mjs, since Node cannot start a
 * `.ts` worker.
 */
function defaultWorkerUrl(): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL('../../.cache/dev/cnn-worker.mjs', here);
  const ext = here.endsWith('.cjs') ? '.cjs' : '.js';
  return new URL(`./cnn-worker${ext}`, here);
}

/**
 * Data-parallel training of a CNN on Node worker threads, for `trainCnn(model, data, { pool })`: each batch is
 * split into `workers + 1` shards; the calling thread computes the gradients of one, each worker thread (its
 * own tfjs engine, wasm by default, with a replica of the model) those of another, at the same time; the
 * calling thread sums them weighted by shard size (the gradient of the whole batch), steps the model's
 * optimizer once and shares the new weights. On a two-core machine `workers: 1` (the default) trains the
 * reference CNN about 1.5× faster than without a pool, with the wasm backend on both threads.
 *
 * Same model, same optimizer, same batches: the steps are those of a run without a pool, up to float32
 * rounding, except for dropout: with a `seed`, each shard's dropout masks come from a stream derived from
 * (seed, epoch, batch, shard), so a seeded run is reproducible for a given worker count, and differs from a run
 * with another worker count or none. Models with BatchNormalization layers are refused (each shard would
 * normalise with its own statistics), as are losses other than categorical cross-entropy.
 *
 * The threads start with the first run and serve the runs that follow, one at a time; idle threads do not keep
 * the process alive. A thread that fails to start or crashes fails the run with `WORKER_FAILED` (the cause
 * attached; the next run starts new threads); `dispose()` during a run makes it reject with `ABORTED`.
 *
 * @example
 * ```ts
 * import { buildCnn, cnnWorkerPool, loadFashionMnist, selectBackend, trainCnn } from 'fashion-mnist-tfjs/node';
 * await selectBackend('wasm');
 * const data = await loadFashionMnist();
 * const pool = cnnWorkerPool({ workers: 1 });
 * try {
 *   await trainCnn(buildCnn({ seed: 1 }), data.train, { epochs: 1, seed: 1, pool });
 * } finally {
 *   await pool.dispose();
 * }
 * ```
 */
export function cnnWorkerPool(options?: Partial<CnnWorkerPoolOptions>): CnnWorkerPool {
  const where = 'cnnWorkerPool';
  const o = mergeOptions<CnnWorkerPoolOptions>(where, DEFAULTS, options);
  checkNumber(where, 'workers', o.workers, { integer: true, min: 1, max: 64 });
  checkOneOf(where, 'backend', o.backend, ['wasm', 'cpu'] as const);
  if (o.workerUrl !== undefined && typeof o.workerUrl !== 'string' && !(o.workerUrl instanceof URL)) {
    throw badOption(`${where}: option 'workerUrl' must be a URL or a string, received ${show(o.workerUrl)}`);
  }
  // A file URL given as text (e.g. from import.meta.resolve) is a URL; Node's Worker takes only paths as text.
  if (typeof o.workerUrl === 'string' && o.workerUrl.startsWith('file:')) o.workerUrl = new URL(o.workerUrl);
  const pool = new Pool(Object.freeze(o));
  return Object.freeze({
    options: pool.options,
    workers: pool.options.workers,
    open: (model: tfl.LayersModel, at: string) => pool.open(model, at),
    dispose: () => pool.dispose(),
  });
}

/**
 * An error from a worker, rebuilt on this side of the thread boundary: a FashionMnistError with the worker's
 * code when it had one of ours, else WORKER_FAILED naming the original class; the worker's stack is kept.
 */
function rebuild(e: CnnWorkerError): FashionMnistError {
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
    `${where}: the CNN worker pool was disposed; its worker threads are stopped`,
  );
}

/** A task as the caller gives it; `send` numbers it. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

interface Pending {
  where: string;
  resolve: (reply: CnnWorkerReply) => void;
  reject: (e: Error) => void;
}

/** One set of started threads; replaced by a new one after a failure. */
class Threads {
  readonly workers: Worker[] = [];
  readonly ready: Promise<void>;
  failure: FashionMnistError | null = null;
  stopped: Promise<void> | null = null;
  readonly pending = new Map<number, Pending>();
  private settle: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private readyCount = 0;

  constructor(
    private readonly url: URL | string,
    backend: 'wasm' | 'cpu',
    count: number,
    where: string,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.ready.catch(() => undefined); // reported by open()
    try {
      for (let w = 0; w < count; w++) {
        const worker = new Worker(url, { workerData: { backend } satisfies CnnWorkerInit });
        worker.unref();
        this.workers.push(worker);
        worker.on('message', (m: CnnWorkerReply) => this.onMessage(m));
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
        `${where}: could not start a CNN worker thread from ${String(url)}: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
  }

  /** Threads keep the process alive while something waits on them or while they stop, not when idle. */
  updateRef(): void {
    if (this.stopped !== null) return;
    for (const w of this.workers) {
      if (this.pending.size > 0) w.ref();
      else w.unref();
    }
  }

  stop(): Promise<void> {
    if (this.stopped === null) {
      // Referenced while they stop: an unreferenced worker being terminated does not keep the event loop alive.
      for (const w of this.workers) w.ref();
      this.stopped = Promise.all(this.workers.map((w) => w.terminate().catch(() => 0))).then(() => undefined);
    }
    return this.stopped;
  }

  /** Rejects everything waiting with `error` and stops the threads. */
  abort(error: (where: string) => Error): Promise<void> {
    this.settle?.reject(error('cnnWorkerPool'));
    for (const p of this.pending.values()) p.reject(error(p.where));
    this.pending.clear();
    return this.stop();
  }

  failed(where: string, message: string, cause?: unknown): FashionMnistError {
    return new FashionMnistError('WORKER_FAILED', `${where}: CNN worker pool: ${message}`, { cause });
  }

  /** A thread failed to start or died: fail what waits and stop the others (first failure wins). */
  fail(message: string, cause?: unknown): void {
    if (this.failure !== null || this.stopped !== null) return;
    const hint = String(this.url).endsWith('.ts')
      ? '; from the TypeScript sources, pass cnnWorkerPool({ workerUrl }) pointing at a built worker (npm run build → dist/cnn-worker.js, or node scripts/build-dev-worker.mjs → .cache/dev/cnn-worker.mjs)'
      : '';
    this.failure = this.failed('cnnWorkerPool', message + hint, cause);
    void this.abort((where) => this.failed(where, message + hint, cause));
  }

  private onMessage(m: CnnWorkerReply): void {
    if (m.type === 'ready') {
      if (++this.readyCount === this.workers.length) this.settle?.resolve();
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
    this.updateRef();
    if (m.type === 'error') {
      p.reject(
        new FashionMnistError('WORKER_FAILED', `${p.where}: a CNN worker thread failed: ${m.error.message}`, {
          cause: rebuild(m.error),
        }),
      );
    } else p.resolve(m);
  }

  private nextId = 0;

  send(
    where: string,
    worker: number,
    task: WithoutId<CnnWorkerTask>,
    transfer: ArrayBuffer[] = [],
  ): Promise<CnnWorkerReply> {
    if (this.failure !== null)
      return Promise.reject(this.failed(where, this.failure.message, this.failure.cause));
    if (this.stopped !== null) return Promise.reject(aborted(where));
    const id = this.nextId++;
    return new Promise<CnnWorkerReply>((resolve, reject) => {
      this.pending.set(id, { where, resolve, reject });
      this.updateRef();
      this.workers[worker]!.postMessage({ ...task, id }, transfer);
    });
  }
}

class Pool {
  private threads: Threads | null = null;
  private disposed = false;
  private stopping: Promise<void> | null = null;
  private inUse = false;

  constructor(readonly options: Readonly<CnnWorkerPoolOptions>) {}

  async open(model: tfl.LayersModel, where: string): Promise<CnnPoolSession> {
    if (this.disposed) throw aborted(where);
    if (this.inUse) {
      throw badOption(
        `${where}: option 'pool': this CNN worker pool is training another model; one run at a time per pool`,
      );
    }
    this.inUse = true;
    try {
      return await this.start(model, where);
    } catch (e) {
      this.inUse = false;
      throw e;
    }
  }

  private async start(model: tfl.LayersModel, where: string): Promise<CnnPoolSession> {
    if (this.threads === null || this.threads.failure !== null) {
      this.threads = new Threads(
        this.options.workerUrl ?? defaultWorkerUrl(),
        this.options.backend,
        this.options.workers,
        where,
      );
    }
    const threads = this.threads;
    try {
      await threads.ready;
    } catch (e) {
      if (this.disposed) throw aborted(where);
      throw threads.failure ?? e;
    }
    if (this.disposed) throw aborted(where);
    const sizes = trainableSizes(model);
    const total = sizes.reduce((a, b) => a + b, 0);
    const shared = new SharedArrayBuffer(total * 4);
    const weights = new Float32Array(shared);
    readTrainable(model, weights);
    const gradients = threads.workers.map(() => new SharedArrayBuffer(total * 4));
    const views = gradients.map((g) => new Float32Array(g));
    const topology = model.toJSON() as string;
    const all = model.weights.map((w) => (w.read().dataSync() as Float32Array).slice());
    await Promise.all(
      threads.workers.map((_, k) =>
        threads.send(where, k, { type: 'load', topology, weights: all, shared, gradients: gradients[k]! }),
      ),
    );
    let closed = false;
    const session: CnnPoolSession = {
      replicas: threads.workers.length,
      compute: async (tasks: CnnShardTask[]): Promise<CnnShardResult[]> => {
        if (this.disposed) throw aborted(where);
        const replies = await Promise.all(
          tasks.map((t, k) =>
            threads.send(where, k, { type: 'step', ...t }, [
              t.pixels.buffer as ArrayBuffer,
              t.onehot.buffer as ArrayBuffer,
            ]),
          ),
        );
        return replies.map((r, k) => {
          if (r.type !== 'result') throw threads.failed(where, `unexpected reply '${r.type}' to a step`);
          return { loss: r.loss, acc: r.acc, present: r.present, gradients: views[k]! };
        });
      },
      sync: (values: Float32Array) => weights.set(values),
      close: async () => {
        if (closed) return;
        closed = true;
        try {
          if (!this.disposed && threads.failure === null) {
            await Promise.all(threads.workers.map((_, k) => threads.send(where, k, { type: 'unload' })));
          }
        } catch {
          // The replicas go with the threads; nothing else to free.
        } finally {
          this.inUse = false;
        }
      },
    };
    return session;
  }

  dispose(): Promise<void> {
    if (this.stopping === null) {
      this.disposed = true;
      this.stopping = this.threads?.abort(aborted) ?? Promise.resolve();
    }
    return this.stopping;
  }
}
