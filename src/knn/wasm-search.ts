// The k-NN search strategy on the exact uint8 WebAssembly kernel (src/knn/wasm-kernel.ts), and the index that
// runs it for both the calling thread (`wasmSearch`, universal) and Node's worker threads (`knnWorkerPool`).
//
// Why the results are those of the tfjs path bit for bit: the kernel applies only when the training rows are
// uint8 (every feature a whole number 0..255) and the query rows too, with the euclidean metric. Then the
// exact float64 formula of NeighbourIndex (sum of (q − t)² over float32 copies of whole numbers) is a sum of
// integers below 2^31, computed exactly: it equals the kernel's int32 squared distance, converted to float64.
// The kernel sorts by (distance, training index), the contract's tie rule. Anything else (cosine, float
// features, a float query against uint8 rows, no WebAssembly SIMD) goes to the fallback strategy's index.
import { FashionMnistError } from '../errors.js';
import { kernelModule } from '../kernels/load.js';
import { knnU8 } from '../kernels/wasm.generated.js';
import { tfjsSearch } from './search.js';
import type {
  KnnIndex,
  KnnMetric,
  KnnRows,
  KnnSearch,
  KnnSearchJob,
  NeighbourLists,
  SearchStats,
} from './types.js';
import { createKnnKernel, KNN_KERNEL_MAX_DIMS, type KnnKernelResult } from './wasm-kernel.js';

/** The part of a kernel (or a kernel thread pool) the index uses. */
export interface KernelRunner {
  setTrain(rows: Uint8Array, dims: number): void;
  search(queries: Uint8Array, k: number): KnnKernelResult | Promise<KnnKernelResult>;
  dispose(): void | Promise<void>;
}

/**
 * Whether the uint8 kernel can search these rows with this metric exactly as the tfjs path does, with
 * WebAssembly SIMD (`simd`: the engine can run the SIMD module; the plain JS kernel is slower than the tfjs
 * path, so it is never chosen here).
 */
export function kernelApplies(train: KnnRows, metric: KnnMetric): boolean {
  return (
    metric === 'euclidean' &&
    train.values instanceof Uint8Array &&
    train.dims <= KNN_KERNEL_MAX_DIMS &&
    train.rows > 0 &&
    kernelModule(knnU8) !== null
  );
}

/** Pruning by square patches when the rows look like 28 × 28 images (any other shape: runs of pixels). */
export function imageShapeFor(dims: number): [number, number] | null {
  return dims === 784 ? [28, 28] : null;
}

function aborted(where: string): FashionMnistError {
  return new FashionMnistError(
    'ABORTED',
    `${where}: the classifier was disposed (or fitted again) during the search; its result is gone`,
  );
}

/**
 * A {@link KnnIndex} over the uint8 kernel: the training rows are stored once at construction (or, for a
 * thread pool, once it has started); query rows go through in chunks of `job.batchSize`, one at a time per
 * index (concurrent searches wait their turn). Queries the kernel cannot take (float values) go to an index
 * of the fallback strategy, built on first use.
 */
export class KernelIndex implements KnnIndex {
  private runner: Promise<KernelRunner>;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private fallbackIndex: KnnIndex | null = null;

  constructor(
    start: KernelRunner | Promise<KernelRunner>,
    private readonly train: KnnRows,
    private readonly metric: KnnMetric,
    private readonly fallback: (train: KnnRows, metric: KnnMetric, where: string) => KnnIndex,
  ) {
    const values = train.values as Uint8Array;
    if (start instanceof Promise) {
      this.runner = start.then((r) => {
        r.setTrain(values, train.dims);
        return r;
      });
    } else {
      start.setTrain(values, train.dims); // at fit, synchronously: its cost and its errors belong there
      this.runner = Promise.resolve(start);
    }
    // A start failure is reported by the searches; never an unhandled rejection.
    this.runner.catch(() => undefined);
  }

  async search(job: KnnSearchJob): Promise<{ lists: NeighbourLists; stats: SearchStats }> {
    const { where, query } = job;
    if (this.disposed) throw aborted(where);
    if (!(query.values instanceof Uint8Array)) {
      this.fallbackIndex ??= this.fallback(this.train, this.metric, where);
      return this.fallbackIndex.search(job);
    }
    const values = query.values;
    const run = this.queue.then(() => this.run(job, values));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(
    { where, query, k, batchSize, onProgress }: KnnSearchJob,
    values: Uint8Array,
  ): Promise<{ lists: NeighbourLists; stats: SearchStats }> {
    const runner = await this.runner;
    const { dims } = this.train;
    const n = query.rows;
    const indices = new Int32Array(n * k);
    const distances = new Float64Array(n * k);
    const batch = Math.max(1, batchSize);
    const total = Math.ceil(n / batch);
    for (let c = 0; c < total; c++) {
      if (this.disposed) throw aborted(where);
      const start = c * batch;
      const end = Math.min(n, start + batch);
      const r = await runner.search(values.subarray(start * dims, end * dims), k);
      if (this.disposed) throw aborted(where);
      indices.set(r.indices, start * k);
      for (let e = 0; e < r.distances.length; e++) distances[start * k + e] = r.distances[e];
      onProgress?.({ done: c + 1, total, rowsDone: end, rows: n });
    }
    const lists: NeighbourLists = { indices, distances, rows: n, k };
    return { lists, stats: { batchSize: batch, chunks: total, candidates: k, rescued: 0 } };
  }

  /** Waits for the search in progress to stop, then frees the kernel (and its threads) and the fallback. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue;
    await Promise.all([
      this.runner.then(
        (r) => r.dispose(),
        () => undefined,
      ),
      this.fallbackIndex?.dispose(),
    ]).catch(() => undefined);
  }
}

/**
 * A k-NN search strategy (option `search` of `KnnClassifier`) on an exact WebAssembly SIMD kernel of this
 * library, on the calling thread, in every environment. It applies when every training feature is a whole
 * number 0..255 (the classifier then keeps them as uint8, as for Fashion-MNIST pixels), the metric is
 * `'euclidean'` and the engine runs WebAssembly SIMD; the kernel computes squared distances in integers and
 * skips, exactly, the rows that a cheap lower bound proves too far. Otherwise (cosine, other features, a query
 * with other values, no SIMD) it searches as the default strategy does, on the active tfjs backend.
 * Neighbours, distances, tie rule and predictions are those of the default strategy, bit for bit. For several
 * threads in Node, `knnWorkerPool()` of `fashion-mnist-tfjs/node` uses the same kernel.
 *
 * @example
 * ```ts
 * import { KnnClassifier, wasmSearch } from 'fashion-mnist-tfjs/knn';
 * const knn = new KnnClassifier({ k: 5, search: wasmSearch }).fit(data.train.images, data.train.labels);
 * console.log(await knn.score(data.test.images, data.test.labels)); // 0.8567
 * ```
 */
export const wasmSearch: KnnSearch = Object.freeze({
  name: 'wasm kernel',
  index(train: KnnRows, metric: KnnMetric, where: string): KnnIndex {
    if (!kernelApplies(train, metric)) return tfjsSearch.index(train, metric, where);
    const kernel = createKnnKernel({ imageShape: imageShapeFor(train.dims) });
    return new KernelIndex(kernel, train, metric, (t, m, w) => tfjsSearch.index(t, m, w));
  },
});
