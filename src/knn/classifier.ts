import { type FittedCore, KnnEstimator, type SearchJob } from './estimator.js';
import type { KnnFeatures, KnnLabels } from './input.js';
import { type KnnCallOptions, type KnnOptions, resolveKnnOptions } from './options.js';
import { NeighbourIndex, type NeighbourLists, type SearchStats } from './search.js';

/**
 * Options of {@link KnnClassifier.kneighbors}: the per-call options plus a neighbour count other than the
 * model's `k`.
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

/** Everything `fit` produced; `null` before `fit` and after `dispose`. */
interface Fitted extends FittedCore {
  index: NeighbourIndex;
}

/**
 * k-nearest-neighbour classifier with scikit-learn's shape (`fit`, `predict`, `predictProba`, `kneighbors`,
 * `score`) that runs on whichever tfjs backend is active.
 *
 * Distances come from ||a||² − 2a·b + ||b||² as one matrix product per query chunk against the training
 * matrix stored transposed at `fit`; `topk` picks a short candidate list per row; the candidates' distances
 * are then recomputed exactly (float64 from the original values; exact integers for pixels) and a float32
 * rounding bound proves the list holds the true k nearest, else that row is searched again with a longer
 * list. Results are therefore exact and identical for any `batchSize` and backend.
 *
 * Tie rule (contract): when classes have equal votes, the class of the nearest neighbour among the tied
 * classes wins; neighbours at equal distance are ordered by training index.
 *
 * @example
 * ```ts
 * const knn = new KnnClassifier({ k: 5 }).fit(data.train.images, data.train.labels);
 * const accuracy = await knn.score(data.test.images, data.test.labels); // 0.8567 on the full data
 * knn.dispose();
 * ```
 */
export class KnnClassifier extends KnnEstimator<KnnOptions, Fitted> {
  constructor(options?: Partial<KnnOptions>) {
    super('KnnClassifier', resolveKnnOptions('KnnClassifier', options));
  }

  /**
   * Stores the training set: a private copy of the values (uint8 when they are pixels) for the exact
   * refinement and the transposed matrix on the backend. Calling `fit` again replaces the previous data.
   *
   * @example
   * ```ts
   * knn.fit(xs, ys); // tensors [N, 28, 28, 1] and [N], or data.train.images / data.train.labels
   * ```
   */
  fit(x: KnnFeatures, y: KnnLabels): this {
    const { data, labels, numClasses } = this.readTrainingSet(x, y);
    const index = new NeighbourIndex(data, this.options.metric);
    this.fitted?.index.dispose();
    this.fitted = { index, labels, numClasses, rows: index.rows, dims: index.dims };
    return this;
  }

  /** Features per row seen at `fit` (784 for Fashion-MNIST). */
  get numFeatures(): number {
    return this.require('numFeatures').dims;
  }

  /** Training rows. */
  get numSamples(): number {
    return this.require('numSamples').rows;
  }

  /**
   * Frees the training matrix held on the backend; the classifier must be fitted again before use.
   *
   * @example
   * ```ts
   * knn.dispose();
   * ```
   */
  dispose(): void {
    this.fitted?.index.dispose();
    this.fitted = null;
  }

  protected override notFittedHint(): string {
    return `call fit(x, y) first${this.stats ? ' (this classifier was disposed)' : ''}`;
  }

  protected override async searchRows({
    fitted,
    query,
    k,
    batchSize,
    onProgress,
  }: SearchJob<Fitted>): Promise<{ lists: NeighbourLists; stats: SearchStats }> {
    const values = query.values instanceof Float32Array ? query.values : Float32Array.from(query.values);
    return fitted.index.search(values, k, batchSize, onProgress);
  }
}
