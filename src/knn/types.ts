// The k-NN types, in a module of their own so that the classifier, its options, the search strategies and the
// Node worker pool all depend on this one file and never on each other's types (no import cycle).
import type * as tf from '@tensorflow/tfjs-core';

/**
 * Distance used to rank neighbours: `'euclidean'` or `'cosine'` (1 − cos).
 *
 * @example
 * ```ts
 * const metric: KnnMetric = 'cosine';
 * ```
 */
export type KnnMetric = 'euclidean' | 'cosine';

/**
 * How neighbours' votes are weighted: one each (`'uniform'`) or 1/distance (`'distance'`).
 *
 * @example
 * ```ts
 * const weights: KnnWeights = 'distance';
 * ```
 */
export type KnnWeights = 'uniform' | 'distance';

/**
 * How a tie in votes is broken: `'nearest'` (default) gives it to the class of the nearest neighbour among the
 * tied classes; `'lowest'` to the tied class that comes first in `classes` — scikit-learn's rule, and
 * @tensorflow-models/knn-classifier's for labels 0, 1, 2, ….
 *
 * @example
 * ```ts
 * const ties: KnnTies = 'lowest';
 * ```
 */
export type KnnTies = 'nearest' | 'lowest';

/**
 * Images or feature vectors for a k-NN model: a tensor whose first axis is the sample axis (`[N, 28, 28, 1]`,
 * `[N, 28, 28]`, `[N, 784]`, …) or a flat row-major typed array (such as `Split.images`).
 *
 * @example
 * ```ts
 * const x: KnnFeatures = data.train.images; // Uint8Array, 60,000 × 784 values
 * ```
 */
export type KnnFeatures =
  | tf.Tensor
  | Uint8Array
  | Uint8ClampedArray
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

/**
 * A class label: an integer that fits in 32 bits (any sign) or a string. One classifier's labels are all
 * numbers or all strings; predictions come back as given.
 *
 * @example
 * ```ts
 * const labels: KnnLabel[] = ['sneaker', 'boot', 'sneaker'];
 * ```
 */
export type KnnLabel = number | string;

/**
 * Training labels, one per row: an array or typed array of labels (see {@link KnnLabel}), a rank-1 numeric
 * tensor, or a one-hot `[N, classes]` tensor (decoded to its column indices). At most
 * `KnnClassifier.MAX_CLASSES` (65,536) distinct labels.
 *
 * @example
 * ```ts
 * const y: KnnLabels = data.train.labels; // Uint8Array of 0..9
 * const names: KnnLabels<string> = ['boot', 'bag', 'boot'];
 * ```
 */
export type KnnLabels<L extends KnnLabel = number> = tf.Tensor | ArrayLike<L>;

/**
 * What `predict` returns: an `Int32Array` for number labels, an array of the labels for strings.
 *
 * @example
 * ```ts
 * const pred: KnnPredictions<string> = await new KnnClassifier<string>().fit(x, names).predict(q); // string[]
 * ```
 */
export type KnnPredictions<L extends KnnLabel = number> = [L] extends [number] ? Int32Array : L[];

/**
 * Flat row-major features as the classifier hands them to a search strategy; `values` is the classifier's
 * private copy (uint8 when every value is an integer 0..255). A strategy may keep it but must not modify it.
 *
 * @example
 * ```ts
 * const rows: KnnRows = { values: new Uint8Array(2 * 784), rows: 2, dims: 784 };
 * ```
 */
export interface KnnRows {
  values: Uint8Array | Float32Array;
  rows: number;
  dims: number;
}

/**
 * Neighbours of each query row, `rows × k`, nearest first (ties in distance: lower training index first).
 *
 * @example
 * ```ts
 * const first: number = lists.indices[0 * lists.k]; // nearest training row of query 0
 * ```
 */
export interface NeighbourLists {
  /** Training-row indices. */
  indices: Int32Array;
  /** Squared Euclidean distances (`euclidean`) or `1 − cos` (`cosine`), exact in float64. */
  distances: Float64Array;
  /** Query rows. */
  rows: number;
  /** Neighbours per row. */
  k: number;
}

/**
 * Chunk progress of a search: `done` of `total` chunks, `rowsDone` of `rows` query rows.
 *
 * @example
 * ```ts
 * const onProgress = (p: SearchProgress) => console.error(`${p.rowsDone}/${p.rows} images`);
 * ```
 */
export interface SearchProgress {
  done: number;
  total: number;
  rowsDone: number;
  rows: number;
}

/**
 * What the last search did, for benchmarks and the curious.
 *
 * @example
 * ```ts
 * await knn.predict(x);
 * console.log(knn.lastStats); // { batchSize: 279, chunks: 36, candidates: 26, rescued: 0 }
 * ```
 */
export interface SearchStats {
  /** Query rows per matrix product. */
  batchSize: number;
  /** Number of query chunks. */
  chunks: number;
  /** Candidates taken by `topk` per row in the first pass. */
  candidates: number;
  /** Rows whose candidate list could not be proven complete and were searched again with a longer list. */
  rescued: number;
}

/**
 * One neighbour search, checked and sized by the classifier for {@link KnnIndex.search}.
 *
 * @example
 * ```ts
 * const { lists, stats } = await index.search({ where: 'KnnClassifier.predict', query, k: 5, batchSize: 279 });
 * ```
 */
export interface KnnSearchJob {
  /** The public method that searches, to start error messages (`'KnnClassifier.predict'`, …). */
  where: string;
  /** Query rows, checked to have the training set's width. */
  query: KnnRows;
  /** Neighbours per row (1 ≤ k ≤ training rows). */
  k: number;
  /** Query rows per chunk. */
  batchSize: number;
  /** Called after every chunk, in order. */
  onProgress?: (progress: SearchProgress) => void;
}

/**
 * The training side of one search strategy, built by {@link KnnSearch.index} at `fit` and owned by the
 * classifier, which disposes it on refit and on `dispose()`.
 *
 * @example
 * ```ts
 * const index = search.index(train, 'euclidean', 'KnnClassifier.fit');
 * const { lists } = await index.search({ where: 'KnnClassifier.predict', query, k: 5, batchSize: 100 });
 * await index.dispose();
 * ```
 */
export interface KnnIndex {
  /**
   * The `job.k` nearest training rows of every query row, in query order. Contract (the classifier's votes
   * and its tie rule rely on it): exact distances, nearest first, equal distances by lower training index.
   * The distances must be bit for bit those of NeighbourIndex's refinement (float64 from the float32 query
   * values, features summed in order; cosine as 1 − a·b / (‖a‖‖b‖) clamped to [0, 2], 1 for a zero row):
   * rows added since the index was built are searched with that formula (src/knn/tail.ts) and merged.
   * Rejects with `FashionMnistError` `ABORTED` when the index is disposed before the search finishes.
   */
  search(job: KnnSearchJob): Promise<{ lists: NeighbourLists; stats: SearchStats }>;
  /** Frees what the index holds (backend memory, threads). Never rejects. */
  dispose(): void | Promise<void>;
}

/**
 * A search strategy for {@link KnnClassifier} (option `search`): where and how the neighbours are searched.
 * The default, `wasmSearch`, runs the library's exact uint8 WebAssembly SIMD kernel where it applies (pixels,
 * euclidean) and the active TensorFlow.js backend otherwise, in every environment; `tfjsSearch` always uses the
 * backend; `knnWorkerPool()` from `fashion-mnist-tfjs/node` searches on Node worker threads. All give the same
 * results bit for bit.
 *
 * @example
 * ```ts
 * import { KnnClassifier } from 'fashion-mnist-tfjs';
 * import { knnWorkerPool } from 'fashion-mnist-tfjs/node';
 * const knn = new KnnClassifier({ k: 5, search: knnWorkerPool({ workers: 2 }) });
 * ```
 */
export interface KnnSearch {
  /** A short name for messages (`'tfjs'`, `'worker pool'`). */
  readonly name: string;
  /**
   * Indexes a training set; called by `fit` and `fromBytes`, and again by the first search after examples were
   * added or removed (when enough were added: see `addExample`), synchronously. Work that needs to wait
   * (starting threads) may go on in the background: the index's `search` waits for it and reports its
   * failure. `train.values` is never modified afterwards; the index may keep it.
   */
  index(train: KnnRows, metric: KnnMetric, where: string): KnnIndex;
}

/**
 * Options of {@link KnnClassifier} (all optional; the defaults are in each option's comment).
 *
 * @example
 * ```ts
 * const options: Partial<KnnOptions> = { k: 5, weights: 'distance', metric: 'euclidean' };
 * ```
 */
export interface KnnOptions {
  /**
   * Number of neighbours that vote (1 ≤ k ≤ number of training rows: checked at `fit`, and by `predict` and
   * the like when examples were added one at a time). Default 5.
   */
  k: number;
  /**
   * `'uniform'` (default): one vote each; `'distance'`: weight 1/d (neighbours at distance 0 take the whole
   * vote).
   */
  weights: KnnWeights;
  /**
   * `'euclidean'` (default) or `'cosine'` (1 − cos, through the same single matrix product on normalised
   * rows).
   */
  metric: KnnMetric;
  /** How a tie in votes is broken (see {@link KnnTies}); default `'nearest'`. */
  ties: KnnTies;
  /** Query rows per matrix product, or `'auto'` (default) to size chunks from `memoryBudget`. */
  batchSize: number | 'auto';
  /**
   * Bytes allowed for one chunk's score matrix (and topk's working copy) when `batchSize` is `'auto'`.
   * Default 128 MiB (279 query rows against 60,000 training images).
   */
  memoryBudget: number;
  /**
   * Where the neighbours are searched (see {@link KnnSearch}). Default: `wasmSearch` (the library's exact
   * WebAssembly kernel for pixels with the euclidean metric, the active TensorFlow.js backend otherwise). In
   * Node, `knnWorkerPool({ workers })` from `fashion-mnist-tfjs/node` uses worker threads.
   */
  search: KnnSearch;
}

/**
 * Options of one prediction call.
 *
 * @example
 * ```ts
 * await knn.predict(x, { onProgress: ({ done, total }) => console.error(`${done}/${total}`) });
 * ```
 */
export interface KnnCallOptions {
  /** Called after every query chunk with chunks (and rows) done so far. */
  onProgress?: (progress: SearchProgress) => void;
}

/**
 * Options of `KnnClassifier.kneighbors`: the per-call options plus a neighbour count other than the model's
 * `k`.
 *
 * @example
 * ```ts
 * const { indices } = await knn.kneighbors(x, { k: 10 });
 * ```
 */
export interface KneighborsOptions extends KnnCallOptions {
  /** Neighbours to return per row (default: the model's `k`). */
  k?: number;
}

/**
 * Nearest training rows of each query row, `rows × k` row-major, nearest first (ties in distance: lower
 * training index first).
 *
 * @example
 * ```ts
 * const { indices, distances } = await knn.kneighbors(x);
 * console.log(indices[0], distances[0]); // nearest training image of the first query, Euclidean distance
 * ```
 */
export interface KnnNeighbours {
  /** Training-row indices. */
  indices: Int32Array;
  /** Euclidean distances (not squared, as scikit-learn returns them), or `1 − cos` for `metric: 'cosine'`. */
  distances: Float32Array;
}

/**
 * Options that a saved classifier does not fix (how and where it searches), for `KnnClassifier.fromBytes`; the
 * model options (`k`, `metric`, `weights`, `ties`) come from the saved bytes.
 *
 * @example
 * ```ts
 * const knn = KnnClassifier.fromBytes(bytes, { search: knnWorkerPool({ workers: 2 }) });
 * ```
 */
export type KnnRestoreOptions = Partial<Pick<KnnOptions, 'search' | 'batchSize' | 'memoryBudget'>>;

/**
 * Options of `KnnClassifier.predictClass`.
 *
 * @example
 * ```ts
 * await knn.predictClass(embedding, { k: 3 });
 * ```
 */
export interface PredictClassOptions {
  /**
   * Neighbours that vote (default: the classifier's `k`). While the classifier holds fewer examples, all of
   * them vote, as in @tensorflow-models/knn-classifier.
   */
  k?: number;
}

/**
 * What `KnnClassifier.predictClass` returns for one example: @tensorflow-models/knn-classifier's result, with
 * labels as given (not turned into strings).
 *
 * @example
 * ```ts
 * const { label, classIndex, confidences } = await knn.predictClass(embedding);
 * console.log(label, confidences.get(label)); // 'cat' 0.6
 * ```
 */
export interface KnnClassPrediction<L extends KnnLabel = number> {
  /** The predicted label. */
  label: L;
  /** Its position in `classes`. */
  classIndex: number;
  /** Every class's share of the votes (votes / k for uniform weights), in the order of `classes`. */
  confidences: Map<L, number>;
}
