// The estimator surface that KnnClassifier and the Node worker pool (ParallelKnnClassifier) share: the checks
// of `fit`'s input, voting, scoring, the getters. Each subclass only says how the neighbours are searched and
// where the training set lives. Universal: nothing here may reach a Node built-in.
import { FashionMnistError } from '../errors.js';
import { checkNumber } from '../internal/validate.js';
import type { KneighborsOptions, KnnNeighbours } from './classifier.js';
import { type KnnFeatures, type KnnLabels, type Rows, readFeatures, readLabels } from './input.js';
import { type KnnCallOptions, type KnnOptions, resolveCallOptions } from './options.js';
import { chunkRows, type NeighbourLists, type SearchProgress, type SearchStats } from './search.js';
import { predictFromLists, probaFromLists, publicNeighbours } from './vote.js';

/**
 * What every estimator keeps from `fit`; subclasses add where their training matrix lives.
 *
 * @example
 * ```ts
 * interface Fitted extends FittedCore { index: NeighbourIndex }
 * ```
 */
export interface FittedCore {
  labels: Int32Array;
  /** The largest training label + 1. */
  numClasses: number;
  /** Training rows. */
  rows: number;
  /** Features per row. */
  dims: number;
}

/**
 * A training set read and checked by `KnnEstimator.readTrainingSet`.
 *
 * @example
 * ```ts
 * const { data, labels, numClasses } = this.readTrainingSet(x, y);
 * ```
 */
export interface TrainingSet {
  data: Rows;
  labels: Int32Array;
  numClasses: number;
}

/**
 * One search, checked and sized by the base class, for a subclass's `KnnEstimator.searchRows`.
 *
 * @example
 * ```ts
 * const { lists, stats } = await index.search(values, job.k, job.batchSize, job.onProgress);
 * ```
 */
export interface SearchJob<F extends FittedCore> {
  /** The method that searches, for error messages (`'predict'`, `'kneighbors'`, …). */
  where: string;
  /** The fitted state the search started with. */
  fitted: F;
  /** Query rows, checked to have the training set's width. */
  query: Rows;
  /** Neighbours per row. */
  k: number;
  /** Query rows per chunk. */
  batchSize: number;
  onProgress?: (progress: SearchProgress) => void;
}

/**
 * k-nearest-neighbour estimator with scikit-learn's shape (`predict`, `predictProba`, `kneighbors`, `score`),
 * whatever the search runs on. `KnnClassifier` searches on the active tfjs backend,
 * `ParallelKnnClassifier` (Node) on worker threads.
 *
 * @example
 * ```ts
 * async function accuracy(knn: KnnEstimator<KnnOptions, FittedCore>, x: KnnFeatures, y: KnnLabels) {
 *   return knn.score(x, y);
 * }
 * ```
 */
export abstract class KnnEstimator<O extends KnnOptions, F extends FittedCore> {
  /** The validated options (frozen). */
  readonly options: Readonly<O>;
  /** Everything `fit` produced; `null` before `fit` and after `dispose`. */
  protected fitted: F | null = null;
  protected stats: SearchStats | null = null;
  /** The class name that starts every error message. */
  protected readonly className: string;

  protected constructor(className: string, options: Readonly<O>) {
    this.className = className;
    this.options = options;
  }

  /** Whether `fit` has completed (and `dispose` not been called since). */
  get isFitted(): boolean {
    return this.fitted !== null;
  }

  /** Number of classes: the largest training label + 1 (columns of `predictProba`). */
  get numClasses(): number {
    return this.require('numClasses').numClasses;
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
    const kk = checkNumber(`${this.className}.kneighbors`, 'k', k === undefined ? this.options.k : k, {
      integer: true,
      min: 1,
      max: f.rows,
    });
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
    const labels = readLabels(`${this.className}.score`, y);
    const pred = await this.predict(x, options);
    if (pred.length !== labels.length) {
      throw new FashionMnistError(
        'COUNT_MISMATCH',
        `${this.className}.score: ${pred.length} images but ${labels.length} labels; they must match one to one`,
      );
    }
    let hit = 0;
    for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) hit++;
    return pred.length === 0 ? 0 : hit / pred.length;
  }

  /** What to do about a call before `fit`, after "<class>.<method>: ". */
  protected abstract notFittedHint(): string;

  /**
   * Finds the `job.k` nearest training rows of every query row, in query order, with the search's stats.
   * Called only while fitted; throws `NOT_FITTED` if the estimator is disposed meanwhile.
   */
  protected abstract searchRows(job: SearchJob<F>): Promise<{ lists: NeighbourLists; stats: SearchStats }>;

  /**
   * Reads and checks `fit`'s arguments: as many labels as rows, at least one row, and no more neighbours than
   * rows.
   */
  protected readTrainingSet(x: KnnFeatures, y: KnnLabels): TrainingSet {
    const where = `${this.className}.fit`;
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
    let numClasses = 0;
    for (let i = 0; i < labels.length; i++) if (labels[i] + 1 > numClasses) numClasses = labels[i] + 1;
    return { data, labels, numClasses };
  }

  protected require(method: string): F {
    if (this.fitted === null) {
      throw new FashionMnistError('NOT_FITTED', `${this.className}.${method}: ${this.notFittedHint()}`);
    }
    return this.fitted;
  }

  private async search(where: string, x: KnnFeatures, k: number, options: unknown): Promise<NeighbourLists> {
    const fitted = this.require(where);
    const call = resolveCallOptions(`${this.className}.${where}`, options);
    const query = readFeatures(`${this.className}.${where}`, x, { dims: fitted.dims });
    const { batchSize: batch, memoryBudget }: Readonly<KnnOptions> = this.options;
    const batchSize = batch === 'auto' ? chunkRows(memoryBudget, fitted.rows, query.rows) : batch;
    const { lists, stats } = await this.searchRows({
      where,
      fitted,
      query,
      k,
      batchSize,
      onProgress: call.onProgress,
    });
    this.stats = stats;
    return lists;
  }
}
