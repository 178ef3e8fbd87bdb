import { FashionMnistError } from '../errors.js';
import { type KnnFeatures, type KnnLabels, type Rows, readFeatures, readLabels } from './input.js';
import { type KnnCallOptions, type KnnOptions, resolveCallOptions, resolveKnnOptions } from './options.js';
import { chunkRows, NeighbourIndex, type NeighbourLists, type SearchStats } from './search.js';
import { predictFromLists, probaFromLists, publicNeighbours } from './vote.js';

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
interface Fitted {
  index: NeighbourIndex;
  labels: Int32Array;
  numClasses: number;
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
export class KnnClassifier {
  /** The validated options (frozen). */
  readonly options: Readonly<KnnOptions>;
  private fitted: Fitted | null = null;
  private stats: SearchStats | null = null;

  constructor(options?: Partial<KnnOptions>) {
    this.options = resolveKnnOptions('KnnClassifier', options);
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
    const labels = readLabels('KnnClassifier.fit', y);
    const rows = readFeatures('KnnClassifier.fit', x, { rowsHint: labels.length });
    if (rows.rows !== labels.length) {
      throw new FashionMnistError(
        'COUNT_MISMATCH',
        `KnnClassifier.fit: ${rows.rows} images but ${labels.length} labels; they must match one to one`,
      );
    }
    if (rows.rows === 0)
      throw new FashionMnistError('BAD_INPUT', 'KnnClassifier.fit: the training set is empty');
    if (this.options.k > rows.rows) {
      throw new RangeError(
        `KnnClassifier.fit: option 'k' must be an integer <= ${rows.rows} (the number of training rows), received ${this.options.k}`,
      );
    }
    let numClasses = 0;
    for (let i = 0; i < labels.length; i++) if (labels[i] + 1 > numClasses) numClasses = labels[i] + 1;
    const index = new NeighbourIndex(rows, this.options.metric);
    this.fitted?.index.dispose();
    this.fitted = { index, labels, numClasses };
    return this;
  }

  /** Whether `fit` has been called (and `dispose` not since). */
  get isFitted(): boolean {
    return this.fitted !== null;
  }

  /** Number of classes: the largest training label + 1 (columns of `predictProba`). */
  get numClasses(): number {
    return this.require('numClasses').numClasses;
  }

  /** Features per row seen at `fit` (784 for Fashion-MNIST). */
  get numFeatures(): number {
    return this.require('numFeatures').index.dims;
  }

  /** Training rows. */
  get numSamples(): number {
    return this.require('numSamples').index.rows;
  }

  /** Chunking and rescue counts of the most recent search, or `null` before the first. */
  get lastStats(): SearchStats | null {
    return this.stats;
  }

  /**
   * Predicted class of every row.
   *
   * @example
   * ```ts
   * const pred = await knn.predict(data.test.images, { onProgress: (p) => bar.update(p.done / p.total) });
   * ```
   */
  async predict(x: KnnFeatures, options?: KnnCallOptions): Promise<Int32Array> {
    const f = this.require('predict');
    const lists = await this.search('predict', x, this.options.k, options);
    return predictFromLists(lists, f.labels, f.numClasses, this.options.weights, this.options.metric);
  }

  /**
   * Class probabilities, `rows × numClasses` row-major; each row sums to 1 (vote shares).
   *
   * @example
   * ```ts
   * const p = await knn.predictProba(x); // p[r * knn.numClasses + c]
   * ```
   */
  async predictProba(x: KnnFeatures, options?: KnnCallOptions): Promise<Float32Array> {
    const f = this.require('predictProba');
    const lists = await this.search('predictProba', x, this.options.k, options);
    return probaFromLists(lists, f.labels, f.numClasses, this.options.weights, this.options.metric);
  }

  /**
   * The nearest training rows of each query row with their distances (see {@link KnnNeighbours}).
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
    if (typeof kk !== 'number')
      throw new TypeError(
        `KnnClassifier.kneighbors: option 'k' must be an integer >= 1, received ${typeof kk}`,
      );
    if (!Number.isInteger(kk) || kk < 1 || kk > f.index.rows) {
      throw new RangeError(
        `KnnClassifier.kneighbors: option 'k' must be an integer >= 1 and <= ${f.index.rows}, received ${kk}`,
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
    const labels = readLabels('KnnClassifier.score', y);
    const pred = await this.predict(x, options);
    if (pred.length !== labels.length) {
      throw new FashionMnistError(
        'COUNT_MISMATCH',
        `KnnClassifier.score: ${pred.length} images but ${labels.length} labels; they must match one to one`,
      );
    }
    let hit = 0;
    for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) hit++;
    return pred.length === 0 ? 0 : hit / pred.length;
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

  private require(method: string): Fitted {
    if (this.fitted === null) {
      throw new FashionMnistError(
        'NOT_FITTED',
        `KnnClassifier.${method}: call fit(x, y) first${this.stats ? ' (this classifier was disposed)' : ''}`,
      );
    }
    return this.fitted;
  }

  private async search(where: string, x: KnnFeatures, k: number, options: unknown): Promise<NeighbourLists> {
    const f = this.require(where);
    const call = resolveCallOptions(`KnnClassifier.${where}`, options);
    const q: Rows = readFeatures(`KnnClassifier.${where}`, x, { dims: f.index.dims });
    const query = q.values instanceof Float32Array ? q.values : Float32Array.from(q.values);
    const batch =
      this.options.batchSize === 'auto'
        ? chunkRows(this.options.memoryBudget, f.index.rows, q.rows)
        : this.options.batchSize;
    const { lists, stats } = await f.index.search(query, k, batch, call.onProgress);
    this.stats = stats;
    return lists;
  }
}
