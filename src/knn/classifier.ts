// The one k-NN classifier. It checks inputs, keeps the labels and votes; where and how the neighbours are
// searched is a strategy object (option `search`): the TensorFlow.js search by default, Node worker threads
// with `knnWorkerPool()` from the /node entry. Universal: nothing here may reach a Node built-in.
import * as tf from '@tensorflow/tfjs-core';
import { FashionMnistError } from '../errors.js';
import { badOption, checkFunction, checkNumber, mergeOptions, show } from '../internal/validate.js';
import { accuracy } from '../metrics/metrics.js';
import { decodeKnnState, encodeKnnState } from './format.js';
import { MAX_CLASSES, readFeatures, readLabelValues } from './input.js';
import { resolveCallOptions, resolveKnnOptions } from './options.js';
import { chunkRows } from './search.js';
import { mergeTail } from './tail.js';
import { TrainingSet, type TrainingSnapshot } from './training-set.js';
import type {
  KneighborsOptions,
  KnnCallOptions,
  KnnClassPrediction,
  KnnFeatures,
  KnnIndex,
  KnnLabel,
  KnnLabels,
  KnnNeighbours,
  KnnOptions,
  KnnPredictions,
  KnnRestoreOptions,
  KnnRows,
  NeighbourLists,
  PredictClassOptions,
  SearchStats,
} from './types.js';
import { addVotes, decide, predictFromLists, probaFromLists, publicNeighbours } from './vote.js';

/**
 * A search index and the searches using it. An index replaced because examples were added or removed is
 * disposed once its last search has finished (that search answers for the data as it was when it started);
 * `fit` and `dispose()` release it at once, so searches still running on it reject with ABORTED.
 */
class IndexHandle {
  private users = 0;
  private retired = false;
  private released: Promise<void> | null = null;
  constructor(
    readonly index: KnnIndex,
    /** Training rows the index covers (rows [0, rows) of the training set). */
    readonly rows: number,
    private readonly onRelease: (handle: IndexHandle) => void,
  ) {}

  acquire(): void {
    this.users++;
  }

  done(): void {
    this.users--;
    if (this.retired && this.users <= 0) void this.kill();
  }

  /** Disposes the index when no search uses it any more. */
  retire(): void {
    this.retired = true;
    if (this.users <= 0) void this.kill();
  }

  /** Disposes the index now (once). */
  kill(): Promise<void> {
    this.retired = true;
    if (this.released === null) {
      this.released = release(this.index);
      this.onRelease(this);
    }
    return this.released;
  }
}

/** What `fit` (or the first added example) produced. */
interface Fitted {
  set: TrainingSet;
  /** The search index over the first `handle.rows` rows; null until the first search after `addExample`. */
  handle: IndexHandle | null;
  /** Cached sorted view of the classes (see `sorted()`), keyed by `set.classVersion`. */
  sorted: { version: number; classes: readonly KnnLabel[]; rank: Int32Array; order: Int32Array } | null;
}

/**
 * The life cycle, tracked explicitly: `empty` until the first `fit` (or added example), `fitted` while it
 * holds examples, `disposed` for good after `dispose()`. Clearing every class returns it to `empty`.
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

const RESTORE_DEFAULTS: Readonly<KnnRestoreOptions> = Object.freeze({
  search: undefined,
  batchSize: undefined,
  memoryBudget: undefined,
});

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
 * classes wins (`ties: 'lowest'`: the tied class first in `classes`, scikit-learn's rule); neighbours at equal
 * distance are ordered by training index (the order in which examples were given).
 *
 * Labels can be numbers (integers that fit in 32 bits) or strings, as scikit-learn's: `classes` lists them
 * sorted (the columns of `predictProba`), and `predict` returns them as given (an `Int32Array` for numbers, an
 * array for strings: `new KnnClassifier<string>()`). At most {@link KnnClassifier.MAX_CLASSES} (65,536)
 * distinct labels.
 *
 * Grows and persists: `addExample(s)` and `clearClass` change the examples without a full rebuild per
 * example (results always equal `fit` on the same examples); `toBytes()` / `KnnClassifier.fromBytes()` (and
 * `saveKnn` / `loadKnn`) save and restore it exactly.
 *
 * Life cycle: before the first `fit` or `addExample` (and after clearing every class), calls fail with
 * `NOT_FITTED`; after `dispose()`, every call (`fit` included) fails with `DISPOSED`, and a search still
 * running when `dispose()` is called rejects with `ABORTED`.
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
  /** Every index not yet released: the current one, and replaced ones that searches still use. */
  private readonly live = new Set<IndexHandle>();

  constructor(options?: Partial<KnnOptions>) {
    this.options = resolveKnnOptions('KnnClassifier', options);
  }

  /**
   * A classifier from bytes written by {@link KnnClassifier.toBytes} (in any environment): the same examples,
   * labels, `k`, `metric`, `weights` and `ties`, so it predicts exactly what the saved one did. `options` sets
   * what the bytes do not fix: `search`, `batchSize`, `memoryBudget`. Damaged, truncated or foreign bytes are
   * `BAD_FILE`. Like `fit`, it builds the search index at once.
   *
   * @example
   * ```ts
   * const copy = KnnClassifier.fromBytes(knn.toBytes());
   * ```
   */
  static fromBytes<L extends KnnLabel = number>(
    bytes: Uint8Array,
    options?: KnnRestoreOptions,
  ): KnnClassifier<L> {
    const where = 'KnnClassifier.fromBytes';
    const runtime = mergeOptions<KnnRestoreOptions>(where, RESTORE_DEFAULTS, options);
    const state = decodeKnnState(bytes, 'k-NN classifier bytes');
    const knn = new KnnClassifier<L>({
      ...runtime,
      k: state.k,
      metric: state.metric,
      weights: state.weights,
      ties: state.ties,
    });
    const set = new TrainingSet(state.dims);
    set.append(
      { values: state.features, rows: state.rows, dims: state.dims },
      { ids: Int32Array.from(state.classIndex), added: [...state.classes] },
    );
    knn.state = { kind: 'fitted', fitted: { set, handle: null, sorted: null } };
    knn.buildIndex(where, knn.state.fitted);
    return knn;
  }

  /**
   * The fitted classifier as bytes, the same in every environment: a versioned header (`k`, `metric`,
   * `weights`, `ties`, the labels), the training matrix in its own element type (uint8 pixels stay one byte
   * each: 47 MB for the full Fashion-MNIST training set) and a CRC-32. {@link KnnClassifier.fromBytes} reads
   * them back; `saveKnn` writes them to a file (Node) or IndexedDB (browsers).
   *
   * @example
   * ```ts
   * const bytes = knn.toBytes();
   * const copy = KnnClassifier.fromBytes(bytes); // predicts exactly what knn does
   * ```
   */
  toBytes(): Uint8Array {
    const f = this.requireFitted('KnnClassifier.toBytes');
    const { set } = f;
    const view = set.view();
    const snap = set.snapshot();
    return encodeKnnState({
      k: this.options.k,
      metric: this.options.metric,
      weights: this.options.weights,
      ties: this.options.ties,
      rows: view.rows,
      dims: view.dims,
      features: view.values,
      classIndex: new Uint32Array(snap.ids.buffer, snap.ids.byteOffset, view.rows),
      classes: snap.labels.slice(0, snap.numClasses),
    });
  }

  /**
   * Stores the training set: a private copy of the values (uint8 when they are pixels) for the exact
   * refinement, and the search strategy's index (the transposed matrix on the backend, or the worker
   * threads). Calling `fit` again replaces the previous data (and examples added since); searches still
   * running on it reject with `ABORTED`.
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
    const values = readLabelValues(where, y);
    const data = readFeatures(where, x, { rowsHint: values.length });
    if (data.rows !== values.length) {
      throw new FashionMnistError(
        'COUNT_MISMATCH',
        `${where}: ${data.rows} images but ${values.length} labels; they must match one to one`,
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
    const set = new TrainingSet(data.dims);
    set.append(data, set.classify(where, values));
    const fitted: Fitted = { set, handle: null, sorted: null };
    const current = this.buildIndex(where, fitted);
    this.state = { kind: 'fitted', fitted };
    // The previous data's indexes go at once: searches still running on them reject with ABORTED.
    for (const h of [...this.live]) if (h !== current) void h.kill();
    return this;
  }

  /**
   * Adds one example: a feature vector of any shape (a tensor or a typed array; its values are flattened) and
   * its label, to an empty or fitted classifier. The first example fixes the feature size; a new label adds a
   * class. Amortised O(features) per example: the training matrix grows by doubling, and the search index is
   * not rebuilt per example — examples added since it was built are searched exactly beside it until they
   * are as many as the indexed ones (or a search would cost more than rebuilding), then it is rebuilt once.
   * Results are exactly those of `fit` on all the examples in the order they were added.
   *
   * @example
   * ```ts
   * const knn = new KnnClassifier<string>({ k: 3 });
   * knn.addExample(embedding, 'cat'); // a tensor [1, 1024], or a Float32Array of 1024 values
   * ```
   */
  addExample(example: KnnFeatures, label: L): this {
    const where = 'KnnClassifier.addExample';
    this.requireUsable(where);
    const row = this.readOne(
      where,
      example,
      this.state.kind === 'fitted' ? this.state.fitted.set.dims : undefined,
    );
    this.append(where, row, [label]);
    return this;
  }

  /**
   * Adds examples, as `fit` takes them (rows `x`, one label each in `y`), to an empty or fitted classifier,
   * without rebuilding the search index each time (see {@link KnnClassifier.addExample}). Unlike `fit`, it
   * keeps the examples already there, and there may be fewer examples than `k` for a while.
   *
   * @example
   * ```ts
   * knn.addExamples(moreImages, moreLabels);
   * ```
   */
  addExamples(x: KnnFeatures, y: KnnLabels<L>): this {
    const where = 'KnnClassifier.addExamples';
    this.requireUsable(where);
    const values = readLabelValues(where, y);
    const dims = this.state.kind === 'fitted' ? this.state.fitted.set.dims : undefined;
    const data = readFeatures(where, x, { dims, rowsHint: values.length });
    if (data.rows !== values.length) {
      throw new FashionMnistError(
        'COUNT_MISMATCH',
        `${where}: ${data.rows} images but ${values.length} labels; they must match one to one`,
      );
    }
    this.append(where, data, values);
    return this;
  }

  /**
   * Removes every example of one class, and the class. Removing the last class leaves the classifier empty
   * (as before its first `fit`). A label that is no class is `BAD_LABEL`.
   *
   * @example
   * ```ts
   * knn.clearClass('cat');
   * ```
   */
  clearClass(label: L): this {
    const where = 'KnnClassifier.clearClass';
    const f = this.requireFitted(where);
    const id = f.set.idOf(label);
    if (id === undefined) {
      throw new FashionMnistError(
        'BAD_LABEL',
        `${where}: ${show(label)} is not a class of this classifier (classes: ${this.sorted(f).classes.slice(0, 10).map(show).join(', ')}${f.set.numClasses > 10 ? ', …' : ''})`,
      );
    }
    f.set.removeClass(id);
    f.handle?.retire();
    f.handle = null;
    if (f.set.rows === 0) this.state = { kind: 'empty' };
    return this;
  }

  /**
   * How many examples each class holds, in the order of `classes` (label → count). Empty before the first
   * example.
   *
   * @example
   * ```ts
   * knn.classCounts(); // Map { 'boot' => 12, 'sneaker' => 9 }
   * ```
   */
  classCounts(): Map<L, number> {
    this.requireUsable('KnnClassifier.classCounts');
    const out = new Map<L, number>();
    if (this.state.kind !== 'fitted') return out;
    const f = this.state.fitted;
    const { order } = this.sorted(f);
    for (const id of order) out.set(f.set.classLabels[id] as L, f.set.classSizes[id]);
    return out;
  }

  /** Whether the classifier holds examples (`fit` or `addExample`) and `dispose` has not been called. */
  get isFitted(): boolean {
    return this.state.kind === 'fitted';
  }

  /** Whether `dispose()` has been called. */
  get isDisposed(): boolean {
    return this.state.kind === 'disposed';
  }

  /** Number of classes: distinct training labels (columns of `predictProba`). */
  get numClasses(): number {
    return this.requireFitted('KnnClassifier.numClasses').set.numClasses;
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
    return this.sorted(this.requireFitted('KnnClassifier.classes')).classes as readonly L[];
  }

  /** Features per row seen at `fit` (784 for Fashion-MNIST). */
  get numFeatures(): number {
    return this.requireFitted('KnnClassifier.numFeatures').set.dims;
  }

  /** Training rows (examples). */
  get numSamples(): number {
    return this.requireFitted('KnnClassifier.numSamples').set.rows;
  }

  /** Chunking and rescue counts of the most recent search, or `null` before the first. */
  get lastStats(): SearchStats | null {
    return this.stats;
  }

  /** The search and the vote shared by `predict` and `score`: a class id per query row, on one snapshot. */
  private async predictIds(
    where: string,
    f: Fitted,
    query: ReturnType<typeof readFeatures>,
    call: ReturnType<typeof resolveCallOptions>,
  ) {
    const k = this.checkK(where, f);
    const snap = f.set.snapshot();
    const rank = this.options.ties === 'lowest' ? this.sorted(f).rank : null;
    const lists = await this.search(where, f, snap, query, k, call);
    const pred = predictFromLists(
      lists,
      snap.ids,
      snap.numClasses,
      this.options.weights,
      this.options.metric,
      rank,
    );
    return { snap, pred };
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
    const query = readFeatures(where, x, { dims: f.set.dims });
    const { snap, pred } = await this.predictIds(where, f, query, call);
    return this.labelsOf(snap, pred);
  }

  /**
   * Predicts one example the way @tensorflow-models/knn-classifier's `predictClass` does: the label, its
   * position in `classes`, and every class's share of the votes (votes / k for uniform weights). The example
   * is one feature vector of any shape, as for `addExample`. `k` per call (default: the classifier's); while
   * the classifier holds fewer examples than `k`, all of them vote. Ties follow the `ties` option (`'lowest'`
   * is that library's rule for labels 0, 1, 2, …).
   *
   * @example
   * ```ts
   * const { label, confidences } = await knn.predictClass(embedding, { k: 3 });
   * ```
   */
  async predictClass(example: KnnFeatures, options?: PredictClassOptions): Promise<KnnClassPrediction<L>> {
    const where = 'KnnClassifier.predictClass';
    const f = this.requireFitted(where);
    const o = mergeOptions<PredictClassOptions>(where, { k: undefined }, options);
    const asked = checkNumber(where, 'k', o.k ?? this.options.k, { integer: true, min: 1 });
    const query = this.readOne(where, example, f.set.dims);
    const snap = f.set.snapshot();
    const k = Math.min(asked, snap.rows);
    const sorted = this.sorted(f);
    const lists = await this.search(where, f, snap, query, k, {});
    const votes = new Float64Array(snap.numClasses);
    addVotes(votes, lists, 0, snap.ids, this.options.weights, this.options.metric);
    const best = decide(votes, lists, 0, snap.ids, this.options.ties === 'lowest' ? sorted.rank : null);
    let sum = 0;
    for (const v of votes) sum += v;
    const confidences = new Map<L, number>();
    for (const id of sorted.order) confidences.set(snap.labels[id] as L, votes[id] / sum);
    return { label: snap.labels[best] as L, classIndex: sorted.rank[best], confidences };
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
    const query = readFeatures(where, x, { dims: f.set.dims });
    const k = this.checkK(where, f);
    const snap = f.set.snapshot();
    const { order } = this.sorted(f);
    const lists = await this.search(where, f, snap, query, k, call);
    const byId = probaFromLists(lists, snap.ids, snap.numClasses, this.options.weights, this.options.metric);
    const c = snap.numClasses;
    const out = new Float32Array(byId.length);
    for (let r = 0; r < lists.rows; r++) for (let j = 0; j < c; j++) out[r * c + j] = byId[r * c + order[j]];
    return out;
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
    const kk = checkNumber(where, 'k', k ?? this.options.k, { integer: true, min: 1, max: f.set.rows });
    const query = readFeatures(where, x, { dims: f.set.dims });
    const snap = f.set.snapshot();
    return publicNeighbours(await this.search(where, f, snap, query, kk, call), this.options.metric);
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
    const query = readFeatures(where, x, { dims: f.set.dims });
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
    const { snap, pred } = await this.predictIds(where, f, query, call);
    // Both sides as class ids: a true label that is no class (-1) matches nothing, exactly as comparing the
    // labels themselves would.
    const position = new Map<unknown, number>();
    for (let c = 0; c < snap.numClasses; c++) position.set(snap.labels[c], c);
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
    this.state = { kind: 'disposed' };
    const all = [...this.live].map((h) => h.kill());
    return Promise.all(all).then(() => undefined);
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
      throw new FashionMnistError('NOT_FITTED', `${where}: call fit(x, y) or addExample(x, label) first`);
    }
    return this.state.fitted;
  }

  /** The model's k, which must not exceed the examples held (fit checks it; added examples may be fewer). */
  private checkK(where: string, f: Fitted): number {
    const { k } = this.options;
    if (k > f.set.rows) {
      throw badOption(
        `${where}: option 'k' is ${k} but the classifier holds ${f.set.rows} examples; add at least ${k} (or use predictClass, which lets all of them vote while there are fewer than k)`,
      );
    }
    return k;
  }

  /** One example of any shape, flattened, as one row (`dims` values when the classifier has examples). */
  private readOne(where: string, example: KnnFeatures, dims?: number): KnnRows {
    let flat: unknown = example;
    if (example instanceof tf.Tensor) {
      if (example.isDisposed) {
        throw new FashionMnistError('BAD_INPUT', `${where}: the example tensor has been disposed`);
      }
      if (example.dtype === 'string' || example.dtype === 'complex64') {
        throw new FashionMnistError(
          'BAD_INPUT',
          `${where}: the example must be numeric, received ${example.dtype}`,
        );
      }
      flat = example.dataSync();
    }
    if (!ArrayBuffer.isView(flat) || flat instanceof DataView) {
      throw new FashionMnistError(
        'BAD_INPUT',
        `${where}: an example must be a tf.Tensor or a typed array of its feature values, received ${show(example)}`,
      );
    }
    const n = (flat as unknown as ArrayLike<number>).length;
    if (n === 0) {
      throw new FashionMnistError(
        'BAD_INPUT',
        `${where}: the example has no values; pass its feature vector`,
      );
    }
    if (dims !== undefined && n !== dims) {
      throw new FashionMnistError(
        'BAD_SHAPE',
        `${where}: an example of ${dims} values was expected (the feature size of this classifier), received ${n}`,
      );
    }
    return readFeatures(where, flat, { dims: n });
  }

  private append(where: string, data: KnnRows, labels: ArrayLike<unknown>): void {
    if (data.rows === 0) return;
    if (this.state.kind !== 'fitted') {
      const set = new TrainingSet(data.dims);
      set.append(data, set.classify(where, labels));
      this.state = { kind: 'fitted', fitted: { set, handle: null, sorted: null } };
      return;
    }
    const { set } = this.state.fitted;
    set.append(data, set.classify(where, labels));
  }

  /** The classes sorted as `classes`, with each class id's rank there and the ids in that order. */
  private sorted(f: Fitted): NonNullable<Fitted['sorted']> {
    const { set } = f;
    if (f.sorted !== null && f.sorted.version === set.classVersion) return f.sorted;
    const labels = set.classLabels;
    const order = Int32Array.from({ length: labels.length }, (_, i) => i);
    if (set.kind === 'string') {
      order.sort((a, b) => (labels[a] < labels[b] ? -1 : labels[a] > labels[b] ? 1 : 0));
    } else {
      order.sort((a, b) => (labels[a] as number) - (labels[b] as number));
    }
    const rank = new Int32Array(labels.length);
    for (let i = 0; i < order.length; i++) rank[order[i]] = i;
    const classes = Object.freeze(Array.from(order, (id) => labels[id]));
    f.sorted = { version: set.classVersion, classes, rank, order };
    return f.sorted;
  }

  /** Class ids to the labels as given: an Int32Array for numbers, an array for strings. */
  private labelsOf(snap: TrainingSnapshot, pred: Int32Array): KnnPredictions<L> {
    if (typeof snap.labels[0] === 'number') {
      return pred.map((c) => snap.labels[c] as number) as KnnPredictions<L>;
    }
    return Array.from(pred, (c) => snap.labels[c]) as KnnPredictions<L>;
  }

  /** Builds the search index over every row the training set holds now. */
  private buildIndex(where: string, f: Fitted): IndexHandle {
    const view = f.set.view();
    const handle = new IndexHandle(
      this.options.search.index(view, this.options.metric, where),
      view.rows,
      (h) => this.live.delete(h),
    );
    this.live.add(handle);
    f.handle?.retire();
    f.handle = handle;
    return handle;
  }

  /**
   * The k nearest of the snapshot's rows for every query row: the index for the rows it covers, the rows
   * added since searched exactly beside it. The index is rebuilt first when those rows are as many as the
   * indexed ones, or when searching them would cost more than rebuilding (query rows × added rows ≥ 4 × rows).
   */
  private async search(
    where: string,
    f: Fitted,
    snap: TrainingSnapshot,
    query: KnnRows,
    k: number,
    call: KnnCallOptions,
  ): Promise<NeighbourLists> {
    let handle = f.handle;
    const tail = snap.rows - (handle?.rows ?? 0);
    // Rebuilding touches every row a few times (layout, norms, upload); searching the tail exactly costs one
    // pass over it per query row: rebuild when that pass would cost about as much (factor 4), or when the tail
    // has grown as large as the index (which keeps the cost per added example amortised O(features)).
    if (handle === null || (tail > 0 && (tail >= handle.rows || tail * query.rows >= 4 * snap.rows))) {
      handle = this.buildIndex(where, f);
    }
    const indexed = handle.rows;
    const { batchSize: batch, memoryBudget } = this.options;
    const batchSize = batch === 'auto' ? chunkRows(memoryBudget, indexed, query.rows) : batch;
    handle.acquire();
    let lists: NeighbourLists;
    try {
      const result = await handle.index.search({
        where,
        query,
        k: Math.min(k, indexed),
        batchSize,
        onProgress: call.onProgress,
      });
      this.stats = result.stats;
      lists = result.lists;
    } finally {
      handle.done();
    }
    if (indexed === snap.rows) return lists;
    return mergeTail(lists, query.values, k, snap.values, snap.dims, indexed, snap.rows, this.options.metric);
  }
}
