// The one k-NN classifier. It checks inputs, keeps the labels and votes; where and how the neighbours are
// searched is a strategy object (option `search`): the TensorFlow.js search by default, Node worker threads
// with `knnWorkerPool()` from the /node entry. Universal: nothing here may reach a Node built-in.
import { FashionMnistError } from '../errors.js';
import { badOption, checkFunction, checkNumber, mergeOptions } from '../internal/validate.js';
import { accuracy } from '../metrics/metrics.js';
import { type ClassIndex, MAX_CLASSES, readClassLabels, readFeatures, readLabelValues } from './input.js';
import { resolveCallOptions, resolveKnnOptions } from './options.js';
import { chunkRows } from './search.js';
import type {
  KneighborsOptions,
  KnnCallOptions,
  KnnFeatures,
  KnnIndex,
  KnnLabel,
  KnnLabels,
  KnnNeighbours,
  KnnOptions,
  KnnPredictions,
  KnnRows,
  NeighbourLists,
  SearchStats,
} from './types.js';
import { predictFromLists, probaFromLists, publicNeighbours } from './vote.js';

/** What `fit` produced. */
interface Fitted {
  index: KnnIndex;
  /** Dense class index of every training row. */
  labels: Int32Array;
  /** The training labels' classes (sorted) and how predictions map back to them. */
  classes: Omit<ClassIndex, 'indices'>;
  /** `classes.classes.length`. */
  numClasses: number;
  /** Training rows. */
  rows: number;
  /** Features per row. */
  dims: number;
}

/**
 * The life cycle, tracked explicitly: `empty` until the first `fit`, `fitted` after it (a refit replaces
 * the index), `disposed` for good after `dispose()`.
 */
type State = { kind: 'empty' } | { kind: 'fitted'; fitted: Fitted } | { kind: 'disposed' };

/** Disposes an index whatever it returns, never leaving a rejected promise unhandled. */
function release(index: KnnIndex): Promise<void> {
  try {
    return Promise.resolve(index.dispose()).catch(() => undefined);
  } catch {
    return Promise.resolve();
  }
}

/**
 * k-nearest-neighbour classifier with scikit-learn's shape (`fit`, `predict`, `predictProba`, `kneighbors`,
 * `score`). The neighbour search is a strategy (option `search`): by default it runs on whichever tfjs backend
 * is active, in any environment; in Node, `knnWorkerPool({ workers })` from `fashion-mnist-tfjs/node` spreads
 * it over worker threads. Every strategy gives the same results, bit for bit.
 *
 * Distances come from ||a||² − 2a·b + ||b||² as one matrix product per query chunk against the training
 * matrix stored transposed at `fit`; `topk` picks a short candidate list per row; the candidates' distances
 * are then recomputed exactly (float64 from the original values; exact integers for pixels) and a float32
 * rounding bound proves the list holds the true k nearest, else that row is searched again with a longer
 * list. Results are therefore exact and identical for any `batchSize`, backend and strategy.
 *
 * Tie rule (contract): when classes have equal votes, the class of the nearest neighbour among the tied
 * classes wins; neighbours at equal distance are ordered by training index.
 *
 * Labels can be numbers (integers that fit in 32 bits) or strings, as scikit-learn's: they are mapped to dense
 * class indices at `fit`, `classes` lists them sorted (the columns of `predictProba`), and `predict` returns
 * them as given (an `Int32Array` for numbers, an array for strings: `new KnnClassifier<string>()`). At most
 * {@link KnnClassifier.MAX_CLASSES} (65,536) distinct labels.
 *
 * Life cycle: before `fit`, calls fail with `NOT_FITTED`; after `dispose()`, every call (`fit` included) fails
 * with `DISPOSED`, and a search still running when `dispose()` is called rejects with `ABORTED`.
 *
 * @example
 * ```ts
 * const knn = new KnnClassifier({ k: 5 }).fit(data.train.images, data.train.labels);
 * const accuracy = await knn.score(data.test.images, data.test.labels); // 0.8567 on the full data
 * await knn.dispose();
 * ```
 */
export class KnnClassifier<L extends KnnLabel = number> {
  /**
   * The most distinct labels (classes) a classifier accepts: 65,536 (`BAD_LABEL` at `fit` otherwise). Votes
   * and `predictProba` rows have one entry per class.
   */
  static readonly MAX_CLASSES: number = MAX_CLASSES;

  /** The validated options (frozen). */
  readonly options: Readonly<KnnOptions>;
  private state: State = { kind: 'empty' };
  private stats: SearchStats | null = null;

  constructor(options?: Partial<KnnOptions>) {
    this.options = resolveKnnOptions('KnnClassifier', options);
  }

  /**
   * Stores the training set: a private copy of the values (uint8 when they are pixels) for the exact
   * refinement, and the search strategy's index (the transposed matrix on the backend, or the worker
   * threads). Calling `fit` again replaces the previous data; searches still running on it reject with
   * `ABORTED`.
   *
   * Synchronous for every strategy: the worker pool starts its threads in the background, and the first
   * search waits for them (and reports a thread that failed to start as `WORKER_FAILED`).
   *
   * @example
   * ```ts
   * knn.fit(xs, ys); // tensors [N, 28, 28, 1] and [N], or data.train.images / data.train.labels
   * ```
   */
  fit(x: KnnFeatures, y: KnnLabels<L>): this {
    const where = 'KnnClassifier.fit';
    this.requireUsable(where);
    const { indices: labels, ...classes } = readClassLabels(where, y);
    const data = readFeatures(where, x, { rowsHint: labels.length });
    if (data.rows !== labels.length) {
      throw new FashionMnistError(
        'COUNT_MISMATCH',
        `${where}: ${data.rows} images but ${labels.length} labels; they must match one to one`,
      );
    }
    if (data.rows === 0) {
      throw new FashionMnistError('BAD_INPUT', `${where}: the training set is empty; pass at least one row`);
    }
    if (this.options.k > data.rows) {
      throw badOption(
        `${where}: option 'k' must be an integer <= ${data.rows} (the number of training rows), received ${this.options.k}; pass more rows or a smaller k`,
      );
    }
    const numClasses = classes.classes.length;
    const index = this.options.search.index(data, this.options.metric, where);
    const previous = this.state.kind === 'fitted' ? this.state.fitted.index : null;
    this.state = {
      kind: 'fitted',
      fitted: { index, labels, classes, numClasses, rows: data.rows, dims: data.dims },
    };
    if (previous !== null) void release(previous);
    return this;
  }

  /** Whether `fit` has completed and `dispose` not been called since. */
  get isFitted(): boolean {
    return this.state.kind === 'fitted';
  }

  /** Whether `dispose()` has been called. */
  get isDisposed(): boolean {
    return this.state.kind === 'disposed';
  }

  /** Number of classes: distinct training labels (columns of `predictProba`). */
  get numClasses(): number {
    return this.requireFitted('KnnClassifier.numClasses').numClasses;
  }

  /**
   * The distinct training labels, sorted (numbers ascending, strings by code unit), as scikit-learn's
   * `classes_`: column `c` of `predictProba` is the probability of `classes[c]`.
   *
   * @example
   * ```ts
   * new KnnClassifier<string>({ k: 1 }).fit(x, ['boot', 'bag', 'boot']).classes; // ['bag', 'boot']
   * ```
   */
  get classes(): readonly L[] {
    return this.requireFitted('KnnClassifier.classes').classes.classes as readonly L[];
  }

  /** Features per row seen at `fit` (784 for Fashion-MNIST). */
  get numFeatures(): number {
    return this.requireFitted('KnnClassifier.numFeatures').dims;
  }

  /** Training rows. */
  get numSamples(): number {
    return this.requireFitted('KnnClassifier.numSamples').rows;
  }

  /** Chunking and rescue counts of the most recent search, or `null` before the first. */
  get lastStats(): SearchStats | null {
    return this.stats;
  }

  /**
   * Predicted label of every row, as given at `fit`: an `Int32Array` for number labels, an array for strings.
   *
   * @example
   * ```ts
   * const pred = await knn.predict(data.test.images, { onProgress: (p) => bar.update(p.done / p.total) });
   * ```
   */
  async predict(x: KnnFeatures, options?: KnnCallOptions): Promise<KnnPredictions<L>> {
    const where = 'KnnClassifier.predict';
    const f = this.requireFitted(where);
    const call = resolveCallOptions(where, options);
    const query = readFeatures(where, x, { dims: f.dims });
    const lists = await this.search(where, f, query, this.options.k, call);
    const pred = predictFromLists(lists, f.labels, f.numClasses, this.options.weights, this.options.metric);
    const { classes, numeric, identity } = f.classes;
    if (identity) return pred as KnnPredictions<L>;
    if (numeric) return pred.map((c) => classes[c] as number) as KnnPredictions<L>;
    return Array.from(pred, (c) => classes[c]) as KnnPredictions<L>;
  }

  /**
   * Class probabilities, `rows × numClasses` row-major, columns in the order of `classes`; each row sums to 1
   * (vote shares).
   *
   * @example
   * ```ts
   * const p = await knn.predictProba(x); // p[r * knn.numClasses + c]
   * ```
   */
  async predictProba(x: KnnFeatures, options?: KnnCallOptions): Promise<Float32Array> {
    const where = 'KnnClassifier.predictProba';
    const f = this.requireFitted(where);
    const call = resolveCallOptions(where, options);
    const query = readFeatures(where, x, { dims: f.dims });
    const lists = await this.search(where, f, query, this.options.k, call);
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
    const where = 'KnnClassifier.kneighbors';
    const f = this.requireFitted(where);
    const { k, ...call } = mergeOptions<KneighborsOptions>(
      where,
      { k: undefined, onProgress: undefined },
      options,
    );
    checkFunction(where, 'onProgress', call.onProgress);
    const kk = checkNumber(where, 'k', k ?? this.options.k, { integer: true, min: 1, max: f.rows });
    const query = readFeatures(where, x, { dims: f.dims });
    return publicNeighbours(await this.search(where, f, query, kk, call), this.options.metric);
  }

  /**
   * Mean accuracy of `predict(x)` against `y`: exactly `accuracy(y, predict(x))` from the metrics module, so
   * the two agree on every input. No rows is `BAD_INPUT`, different counts `COUNT_MISMATCH` (both checked
   * before the search).
   *
   * @example
   * ```ts
   * const acc = await knn.score(data.test.images, data.test.labels);
   * ```
   */
  async score(x: KnnFeatures, y: KnnLabels<L>, options?: KnnCallOptions): Promise<number> {
    const where = 'KnnClassifier.score';
    const f = this.requireFitted(where);
    const call = resolveCallOptions(where, options);
    const labels = readLabelValues(where, y);
    const query = readFeatures(where, x, { dims: f.dims });
    if (query.rows !== labels.length) {
      throw new FashionMnistError(
        'COUNT_MISMATCH',
        `${where}: ${query.rows} images but ${labels.length} labels; they must match one to one`,
      );
    }
    if (query.rows === 0) {
      throw new FashionMnistError(
        'BAD_INPUT',
        `${where}: no images given; a score needs at least one example`,
      );
    }
    const lists = await this.search(where, f, query, this.options.k, call);
    const pred = predictFromLists(lists, f.labels, f.numClasses, this.options.weights, this.options.metric);
    // Both sides as class indices: a true label that is no class (-1) matches nothing, exactly as comparing
    // the labels themselves would.
    const position = new Map<unknown, number>(f.classes.classes.map((c, i) => [c, i]));
    const truth = Int32Array.from({ length: labels.length }, (_, i) => position.get(labels[i]) ?? -1);
    return accuracy(truth, pred);
  }

  /**
   * Frees the training set and what the search strategy holds (backend memory, worker threads), for good:
   * afterwards every call fails with `DISPOSED`. A search still running rejects with `ABORTED`. The backend
   * memory is freed before this returns its promise; awaiting it also waits for worker threads to stop.
   * Never rejects; calling it again does nothing.
   *
   * @example
   * ```ts
   * await knn.dispose();
   * ```
   */
  dispose(): Promise<void> {
    const s = this.state;
    this.state = { kind: 'disposed' };
    return s.kind === 'fitted' ? release(s.fitted.index) : Promise.resolve();
  }

  private requireUsable(where: string): void {
    if (this.state.kind === 'disposed') {
      throw new FashionMnistError(
        'DISPOSED',
        `${where}: this classifier was disposed and has released its memory; create a new KnnClassifier`,
      );
    }
  }

  private requireFitted(where: string): Fitted {
    this.requireUsable(where);
    if (this.state.kind !== 'fitted') {
      throw new FashionMnistError('NOT_FITTED', `${where}: call fit(x, y) first`);
    }
    return this.state.fitted;
  }

  private async search(
    where: string,
    f: Fitted,
    query: KnnRows,
    k: number,
    call: KnnCallOptions,
  ): Promise<NeighbourLists> {
    const { batchSize: batch, memoryBudget } = this.options;
    const batchSize = batch === 'auto' ? chunkRows(memoryBudget, f.rows, query.rows) : batch;
    const { lists, stats } = await f.index.search({
      where,
      query,
      k,
      batchSize,
      onProgress: call.onProgress,
    });
    this.stats = stats;
    return lists;
  }
}
