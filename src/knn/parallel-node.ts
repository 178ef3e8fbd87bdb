// Node only: k-NN queries split across worker threads, one tfjs engine each, to use every core. The wasm
// backend's own threads do not start in Node (it spawns workers from a blob URL), and k-NN is data-parallel
// over query rows, so whole chunks go to whichever worker is free.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { FashionMnistError } from '../errors.js';
import { checkNumber, checkOneOf, mergeOptions, show } from '../internal/validate.js';
import { type FittedCore, KnnEstimator, type SearchJob } from './estimator.js';
import type { KnnFeatures, KnnLabels } from './input.js';
import type { KnnWorkerInit, KnnWorkerReply, KnnWorkerTask } from './knn-worker.js';
import { KNN_DEFAULTS, type KnnOptions, resolveKnnOptions } from './options.js';
import type { NeighbourLists, SearchStats } from './search.js';

/**
 * Options of {@link ParallelKnnClassifier}: the {@link KnnOptions} plus the pool's.
 *
 * @example
 * ```ts
 * const options: Partial<ParallelKnnOptions> = { k: 5, workers: 2, backend: 'wasm' };
 * ```
 */
export interface ParallelKnnOptions extends KnnOptions {
  /** Worker threads (default: the machine's available parallelism, at most 8). */
  workers: number;
  /** tfjs backend inside each worker: `'wasm'` (default; needs `@tensorflow/tfjs-backend-wasm`) or `'cpu'`. */
  backend: 'wasm' | 'cpu';
  /**
   * Where the worker script is (default: `knn-worker.js` next to this module). Only needed when a bundler
   * moves files around.
   */
  workerUrl: URL | string | undefined;
}

const PARALLEL_EXTRA = Object.freeze({
  workers: Math.max(1, Math.min(8, availableParallelism())),
  backend: 'wasm' as 'wasm' | 'cpu',
  workerUrl: undefined as URL | string | undefined,
});

function defaultWorkerUrl(): URL {
  // Next to this module: src/knn/knn-worker.ts when run from source (tsx, vitest), dist/knn-worker.{js,cjs}
  // once built.
  const here = import.meta.url;
  const ext = here.endsWith('.ts') ? '.ts' : here.endsWith('.cjs') ? '.cjs' : '.js';
  return new URL(`./knn-worker${ext}`, here);
}

/**
 * tsx's ESM loader API, resolved from this module rather than the working directory. `require.resolve` gives
 * the CommonJS build, which fails inside a worker, so the ESM file beside it is used.
 */
function tsxApi(): string {
  try {
    const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
    const esm = cjs.replace(/\.cjs$/, '.mjs');
    return pathToFileURL(existsSync(esm) ? esm : cjs).href;
  } catch {
    return 'tsx/esm/api';
  }
}

interface Pending {
  resolve: (reply: Extract<KnnWorkerReply, { type: 'result' }>) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
}

interface Fitted extends FittedCore {
  slots: Slot[];
}

/** Merges and checks the k-NN options and the pool's. */
function resolveParallelOptions(options: unknown): Readonly<ParallelKnnOptions> {
  const where = 'ParallelKnnClassifier';
  const all = mergeOptions<ParallelKnnOptions>(where, { ...KNN_DEFAULTS, ...PARALLEL_EXTRA }, options);
  const { workers, backend, workerUrl, ...knn } = all;
  const base = resolveKnnOptions(where, knn);
  checkNumber(where, 'workers', workers, { integer: true, min: 1, max: 64 });
  checkOneOf(where, 'backend', backend, ['wasm', 'cpu'] as const);
  if (workerUrl !== undefined && typeof workerUrl !== 'string' && !(workerUrl instanceof URL)) {
    throw new TypeError(
      `${where}: option 'workerUrl' must be a URL or a string, received ${show(workerUrl)}`,
    );
  }
  return Object.freeze({ ...base, workers, backend, workerUrl });
}

/**
 * {@link KnnClassifier} with the query rows split across Node worker threads, each running its own tfjs
 * engine (wasm by default) with a copy of the training matrix; the training values for the exact refinement
 * are shared, not copied. Same options, same results (bit for bit), same tie rule; `fit` and `dispose` are
 * async because they start and stop threads. Idle workers do not keep the process alive, but call `dispose()`
 * to free their memory.
 *
 * @example
 * ```ts
 * import { ParallelKnnClassifier } from 'fashion-mnist-tfjs/node';
 * const knn = await new ParallelKnnClassifier({ k: 5, workers: 2 }).fit(data.train.images, data.train.labels);
 * console.log(await knn.score(data.test.images, data.test.labels)); // 0.8567
 * await knn.dispose();
 * ```
 */
export class ParallelKnnClassifier extends KnnEstimator<ParallelKnnOptions, Fitted> {
  private nextId = 0;
  /** Searches in flight: workers keep the process alive only while this is above 0. */
  private active = 0;
  private readonly pending = new Map<number, Pending>();
  /** Workers being terminated by this pool, whose exit is expected. */
  private readonly stopping = new Set<Worker>();

  constructor(options?: Partial<ParallelKnnOptions>) {
    super('ParallelKnnClassifier', resolveParallelOptions(options));
  }

  /**
   * Starts the workers and gives each the training set (see {@link KnnClassifier.fit}). Refitting stops the
   * previous workers first.
   *
   * @example
   * ```ts
   * await knn.fit(data.train.images, data.train.labels);
   * ```
   */
  async fit(x: KnnFeatures, y: KnnLabels): Promise<this> {
    const { data, labels, numClasses } = this.readTrainingSet(x, y);
    await this.dispose();
    const shared = new SharedArrayBuffer(data.values.byteLength);
    if (data.values instanceof Uint8Array) new Uint8Array(shared).set(data.values);
    else new Float32Array(shared).set(data.values);
    const init: KnnWorkerInit = {
      backend: this.options.backend,
      train: shared,
      trainType: data.values instanceof Uint8Array ? 'uint8' : 'float32',
      rows: data.rows,
      dims: data.dims,
      metric: this.options.metric,
    };
    const url = this.options.workerUrl ?? defaultWorkerUrl();
    const fromSource = String(url).endsWith('.ts');
    const slots: Slot[] = [];
    const starting: Promise<void>[] = [];
    for (let w = 0; w < this.options.workers; w++) {
      // Running from TypeScript sources (tests, tsx): Node 20 does not apply `--import tsx` to a worker's
      // own entry file, so a tiny bootstrap registers tsx first (development only; tsx is a dev dependency).
      const worker = fromSource
        ? new Worker(
            `import(${JSON.stringify(tsxApi())}).then((api) => { api.register(); return import(${JSON.stringify(String(url))}); })`,
            { eval: true, workerData: init },
          )
        : new Worker(url, { workerData: init });
      const slot: Slot = { worker };
      slots.push(slot);
      starting.push(
        new Promise<void>((resolve, reject) => {
          const onMessage = (m: KnnWorkerReply) => {
            if (m.type === 'ready') resolve();
            else if (m.type === 'error' && m.id === null)
              reject(new Error(`knn worker failed to start: ${m.message}`));
            else this.onReply(m);
          };
          worker.on('message', onMessage);
          worker.on('error', (e) => {
            reject(e);
            this.lost(slots, e);
          });
          worker.on('exit', (code) => {
            if (this.stopping.has(worker)) return;
            const e = new Error(`knn worker exited unexpectedly (code ${code})`);
            reject(e);
            this.lost(slots, e);
          });
        }),
      );
    }
    try {
      await Promise.all(starting);
    } catch (e) {
      await this.stop(slots);
      throw e;
    }
    for (const s of slots) s.worker.unref();
    this.fitted = { slots, labels, numClasses, rows: data.rows, dims: data.dims };
    return this;
  }

  /**
   * Stops the workers and frees their engines.
   *
   * @example
   * ```ts
   * await knn.dispose();
   * ```
   */
  async dispose(): Promise<void> {
    const f = this.fitted;
    this.fitted = null;
    if (f === null) return;
    this.failAll(new FashionMnistError('NOT_FITTED', 'ParallelKnnClassifier: disposed during a search'));
    await this.stop(f.slots);
  }

  /** Terminates workers on purpose (their exit is then not an error). */
  private async stop(slots: Slot[]): Promise<void> {
    for (const s of slots) this.stopping.add(s.worker);
    await Promise.all(slots.map((s) => s.worker.terminate()));
    for (const s of slots) this.stopping.delete(s.worker);
  }

  /**
   * A worker died (crash, out of memory): fail what is in flight and drop the whole pool, so later calls
   * report NOT_FITTED instead of waiting forever on a thread that is gone.
   */
  private lost(slots: Slot[], e: Error): void {
    this.failAll(e);
    if (this.fitted?.slots === slots) this.fitted = null;
    void this.stop(slots);
  }

  protected override notFittedHint(): string {
    return 'call await fit(x, y) first';
  }

  private onReply(m: KnnWorkerReply): void {
    if (m.type === 'ready' || m.id === null) return;
    const p = this.pending.get(m.id);
    if (p === undefined) return;
    this.pending.delete(m.id);
    if (m.type === 'result') p.resolve(m);
    else p.reject(new Error(`knn worker: ${m.message}`));
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private run(slot: Slot, task: Omit<KnnWorkerTask, 'id' | 'type'>) {
    const id = this.nextId++;
    return new Promise<Extract<KnnWorkerReply, { type: 'result' }>>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ type: 'search', id, ...task } satisfies KnnWorkerTask);
    });
  }

  /** Hands chunks to whichever worker is free until all are done, then merges the lists in order. */
  protected override async searchRows({
    where,
    fitted: f,
    query: q,
    k,
    batchSize: batch,
    onProgress,
  }: SearchJob<Fitted>): Promise<{ lists: NeighbourLists; stats: SearchStats }> {
    const query = new SharedArrayBuffer(q.rows * q.dims * 4);
    new Float32Array(query).set(q.values);
    const total = Math.ceil(q.rows / batch);
    const indices = new Int32Array(q.rows * k);
    const distances = new Float64Array(q.rows * k);
    const stats: SearchStats = { batchSize: batch, chunks: total, candidates: 0, rescued: 0 };
    let next = 0;
    let done = 0;
    let rowsDone = 0;
    const drain = async (slot: Slot): Promise<void> => {
      while (next < total && this.fitted === f) {
        const c = next++;
        const start = c * batch;
        const end = Math.min(q.rows, start + batch);
        const r = await this.run(slot, { query, start, end, k });
        indices.set(r.indices, start * k);
        distances.set(r.distances, start * k);
        stats.rescued += r.rescued;
        stats.candidates = r.candidates;
        done++;
        rowsDone += end - start;
        onProgress?.({ done, total, rowsDone, rows: q.rows });
      }
    };
    if (this.active++ === 0) for (const s of f.slots) s.worker.ref();
    try {
      await Promise.all(f.slots.map(drain));
    } finally {
      if (--this.active === 0) for (const s of f.slots) s.worker.unref();
    }
    if (this.fitted !== f)
      throw new FashionMnistError('NOT_FITTED', `ParallelKnnClassifier.${where}: disposed during the search`);
    return { lists: { indices, distances, rows: q.rows, k }, stats };
  }
}
