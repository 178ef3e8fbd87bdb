// Node only: k-NN queries split across worker threads, one tfjs engine each, to use every core. The wasm
// backend's own threads do not start in Node (it spawns workers from a blob URL), and k-NN is data-parallel
// over query rows, so whole chunks go to whichever worker is free.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { FashionMnistError } from '../errors.js';
import { checkNumber, checkOneOf, mergeOptions } from '../internal/validate.js';
import type { KneighborsOptions, KnnNeighbours } from './classifier.js';
import { type KnnFeatures, type KnnLabels, readFeatures, readLabels } from './input.js';
import type { KnnWorkerInit, KnnWorkerReply, KnnWorkerTask } from './knn-worker.js';
import { type KnnCallOptions, type KnnOptions, resolveCallOptions, resolveKnnOptions } from './options.js';
import { chunkRows, type NeighbourLists, type SearchStats } from './search.js';
import { predictFromLists, probaFromLists, publicNeighbours } from './vote.js';

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

interface Fitted {
  slots: Slot[];
  labels: Int32Array;
  numClasses: number;
  rows: number;
  dims: number;
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
export class ParallelKnnClassifier {
  /** The validated options (frozen). */
  readonly options: Readonly<ParallelKnnOptions>;
  private fitted: Fitted | null = null;
  private stats: SearchStats | null = null;
  private nextId = 0;
  /** Searches in flight: workers keep the process alive only while this is above 0. */
  private active = 0;
  private readonly pending = new Map<number, Pending>();
  /** Workers being terminated by this pool, whose exit is expected. */
  private readonly stopping = new Set<Worker>();

  constructor(options?: Partial<ParallelKnnOptions>) {
    const where = 'ParallelKnnClassifier';
    const all = mergeOptions<ParallelKnnOptions>(
      where,
      { ...resolveKnnOptions(where, {}), ...PARALLEL_EXTRA },
      options,
    );
    const { workers, backend, workerUrl, ...knn } = all;
    const base = resolveKnnOptions(where, knn);
    checkNumber(where, 'workers', workers, { integer: true, min: 1, max: 64 });
    checkOneOf(where, 'backend', backend, ['wasm', 'cpu'] as const);
    if (workerUrl !== undefined && typeof workerUrl !== 'string' && !(workerUrl instanceof URL)) {
      throw new TypeError(`${where}: option 'workerUrl' must be a URL or a string`);
    }
    this.options = Object.freeze({ ...base, workers, backend, workerUrl });
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
    const where = 'ParallelKnnClassifier.fit';
    const labels = readLabels(where, y);
    const data = readFeatures(where, x, { rowsHint: labels.length });
    if (data.rows !== labels.length) {
      throw new FashionMnistError(
        'COUNT_MISMATCH',
        `${where}: ${data.rows} images but ${labels.length} labels; they must match one to one`,
      );
    }
    if (data.rows === 0) throw new FashionMnistError('BAD_INPUT', `${where}: the training set is empty`);
    if (this.options.k > data.rows) {
      throw new RangeError(
        `${where}: option 'k' must be an integer <= ${data.rows} (the number of training rows), received ${this.options.k}`,
      );
    }
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
    let numClasses = 0;
    for (let i = 0; i < labels.length; i++) if (labels[i] + 1 > numClasses) numClasses = labels[i] + 1;
    this.fitted = { slots, labels, numClasses, rows: data.rows, dims: data.dims };
    return this;
  }

  /** Whether `fit` has completed (and `dispose` not been called since). */
  get isFitted(): boolean {
    return this.fitted !== null;
  }

  /** Number of classes: the largest training label + 1. */
  get numClasses(): number {
    return this.require('numClasses').numClasses;
  }

  /** Chunking and rescue counts of the most recent search, or `null` before the first. */
  get lastStats(): SearchStats | null {
    return this.stats;
  }

  /**
   * Predicted class of every row (see {@link KnnClassifier.predict}).
   *
   * @example
   * ```ts
   * const pred = await knn.predict(data.test.images);
   * ```
   */
  async predict(x: KnnFeatures, options?: KnnCallOptions): Promise<Int32Array> {
    const f = this.require('predict');
    const lists = await this.search('predict', x, this.options.k, options);
    return predictFromLists(lists, f.labels, f.numClasses, this.options.weights, this.options.metric);
  }

  /**
   * Class probabilities, `rows × numClasses` (see {@link KnnClassifier.predictProba}).
   *
   * @example
   * ```ts
   * const p = await knn.predictProba(x);
   * ```
   */
  async predictProba(x: KnnFeatures, options?: KnnCallOptions): Promise<Float32Array> {
    const f = this.require('predictProba');
    const lists = await this.search('predictProba', x, this.options.k, options);
    return probaFromLists(lists, f.labels, f.numClasses, this.options.weights, this.options.metric);
  }

  /**
   * Nearest training rows and their distances (see {@link KnnClassifier.kneighbors}).
   *
   * @example
   * ```ts
   * const { indices, distances } = await knn.kneighbors(x, { k: 3 });
   * ```
   */
  async kneighbors(x: KnnFeatures, options?: KneighborsOptions): Promise<KnnNeighbours> {
    const f = this.require('kneighbors');
    const { k, ...call } = options ?? {};
    const kk = k === undefined ? this.options.k : k;
    if (typeof kk !== 'number') {
      throw new TypeError(
        `ParallelKnnClassifier.kneighbors: option 'k' must be an integer >= 1, received ${typeof kk}`,
      );
    }
    if (!Number.isInteger(kk) || kk < 1 || kk > f.rows) {
      throw new RangeError(
        `ParallelKnnClassifier.kneighbors: option 'k' must be an integer >= 1 and <= ${f.rows}, received ${kk}`,
      );
    }
    return publicNeighbours(await this.search('kneighbors', x, kk, call), this.options.metric);
  }

  /**
   * Mean accuracy of `predict(x)` against `y`.
   *
   * @example
   * ```ts
   * const acc = await knn.score(data.test.images, data.test.labels);
   * ```
   */
  async score(x: KnnFeatures, y: KnnLabels, options?: KnnCallOptions): Promise<number> {
    this.require('score');
    const labels = readLabels('ParallelKnnClassifier.score', y);
    const pred = await this.predict(x, options);
    if (pred.length !== labels.length) {
      throw new FashionMnistError(
        'COUNT_MISMATCH',
        `ParallelKnnClassifier.score: ${pred.length} images but ${labels.length} labels; they must match one to one`,
      );
    }
    let hit = 0;
    for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) hit++;
    return pred.length === 0 ? 0 : hit / pred.length;
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

  private require(method: string): Fitted {
    if (this.fitted === null) {
      throw new FashionMnistError(
        'NOT_FITTED',
        `ParallelKnnClassifier.${method}: call await fit(x, y) first`,
      );
    }
    return this.fitted;
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
  private async search(where: string, x: KnnFeatures, k: number, options: unknown): Promise<NeighbourLists> {
    const f = this.require(where);
    const call = resolveCallOptions(`ParallelKnnClassifier.${where}`, options);
    const q = readFeatures(`ParallelKnnClassifier.${where}`, x, { dims: f.dims });
    const query = new SharedArrayBuffer(q.rows * q.dims * 4);
    new Float32Array(query).set(q.values);
    const batch =
      this.options.batchSize === 'auto'
        ? chunkRows(this.options.memoryBudget, f.rows, q.rows)
        : this.options.batchSize;
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
        call.onProgress?.({ done, total, rowsDone, rows: q.rows });
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
    this.stats = stats;
    return { indices, distances, rows: q.rows, k };
  }
}
