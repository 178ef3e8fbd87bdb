// The training examples of one classifier, growable: rows appended one at a time cost amortised O(dims)
// (capacity doubling), labels of any int32 or string map to dense class ids in order of first appearance.
//
// Invariant that makes growth safe while searches run: the first `rows` values of a buffer are never written
// again. Appends write past them (or into a new, larger buffer); removing a class or widening uint8 to float32
// builds new buffers. A search index or a running search may therefore keep `view()` as long as it likes.
import { FashionMnistError } from '../errors.js';
import { show } from '../internal/validate.js';
import { MAX_CLASSES } from './input.js';
import type { KnnLabel, KnnRows } from './types.js';

/** What a search needs of the training set at the moment it starts; later changes do not affect it. */
export interface TrainingSnapshot {
  rows: number;
  dims: number;
  /** Row-major values, at least `rows × dims`. */
  values: Uint8Array | Float32Array;
  /** Class id of each row (at least `rows` entries). */
  ids: Int32Array;
  /** The label of each class id (at least `numClasses` entries). */
  labels: readonly KnnLabel[];
  numClasses: number;
}

function badLabel(where: string, v: unknown, i: number, why: string): FashionMnistError {
  return new FashionMnistError(
    'BAD_LABEL',
    `${where}: label ${show(v)} at index ${i} ${why}; labels are integers that fit in 32 bits or strings, all of one kind`,
  );
}

/**
 * Rows and labels, with capacity doubling. `copied` counts values copied by growth (for the tests that prove
 * the amortised cost).
 */
export class TrainingSet {
  rows = 0;
  readonly dims: number;
  private values: Uint8Array | Float32Array;
  private ids: Int32Array;
  /** Labels by class id (append-only; a removal builds a new array). */
  private labels: KnnLabel[] = [];
  private position = new Map<KnnLabel, number>();
  private counts: number[] = [];
  kind: 'number' | 'string' | undefined;
  /** Values and ids copied by growth since creation. */
  copied = 0;
  /** Bumped whenever the class set changes (for cached sorted views). */
  classVersion = 0;

  constructor(dims: number, dtype: 'uint8' | 'float32' = 'uint8') {
    this.dims = dims;
    this.values = dtype === 'uint8' ? new Uint8Array(0) : new Float32Array(0);
    this.ids = new Int32Array(0);
  }

  /** The matrix dtype: uint8 while every value is an integer 0..255. */
  get dtype(): 'uint8' | 'float32' {
    return this.values instanceof Uint8Array ? 'uint8' : 'float32';
  }

  get numClasses(): number {
    return this.labels.length;
  }

  /** Labels by class id (do not modify). */
  get classLabels(): readonly KnnLabel[] {
    return this.labels;
  }

  /** Number of rows of each class id. */
  get classSizes(): readonly number[] {
    return this.counts;
  }

  /** The class id of a label, or undefined. */
  idOf(label: unknown): number | undefined {
    return this.position.get(label as KnnLabel);
  }

  /** The rows as a {@link KnnRows} view (valid for good: never written again). */
  view(): KnnRows {
    return { values: this.values.subarray(0, this.rows * this.dims), rows: this.rows, dims: this.dims };
  }

  snapshot(): TrainingSnapshot {
    return {
      rows: this.rows,
      dims: this.dims,
      values: this.values,
      ids: this.ids,
      labels: this.labels,
      numClasses: this.labels.length,
    };
  }

  /**
   * Checks labels against this set's kind and class bound, without changing anything, and returns the class id
   * each would get (new classes numbered from `numClasses` on, in order of first appearance).
   */
  classify(where: string, values: ArrayLike<unknown>): { ids: Int32Array; added: KnnLabel[] } {
    const n = values.length;
    const ids = new Int32Array(n);
    const added: KnnLabel[] = [];
    const fresh = new Map<KnnLabel, number>();
    let kind = this.kind;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v === 'number') {
        if (!Number.isInteger(v)) throw badLabel(where, v, i, 'is not an integer');
        if (v < -(2 ** 31) || v >= 2 ** 31) throw badLabel(where, v, i, 'does not fit in 32 bits');
      } else if (typeof v !== 'string') {
        throw badLabel(where, v, i, 'is neither a number nor a string');
      }
      const k = typeof v as 'number' | 'string';
      if (kind === undefined) kind = k;
      else if (kind !== k) throw badLabel(where, v, i, `is a ${k} but earlier labels are ${kind}s`);
      let id = this.position.get(v) ?? fresh.get(v);
      if (id === undefined) {
        if (this.labels.length + added.length >= MAX_CLASSES) {
          throw new FashionMnistError(
            'BAD_LABEL',
            `${where}: more than ${MAX_CLASSES} distinct labels (KnnClassifier.MAX_CLASSES); k-NN votes need one entry per class — group the labels first`,
          );
        }
        id = this.labels.length + added.length;
        fresh.set(v, id);
        added.push(v);
      }
      ids[i] = id;
    }
    return { ids, added };
  }

  /**
   * Appends rows (already checked to have `dims` values each) with the class ids and new classes from
   * {@link classify}. Amortised O(values): the buffers double when full.
   */
  append(rows: KnnRows, classified: { ids: Int32Array; added: KnnLabel[] }): void {
    const n = rows.rows;
    if (n === 0) return;
    const need = this.rows + n;
    const widen = rows.values instanceof Float32Array && this.values instanceof Uint8Array;
    if (this.rows === 0 && this.values.length === 0 && rows.values.length === n * this.dims) {
      // The first rows: adopt the caller's private copy as is (fit's path: no copy at all).
      this.values = rows.values;
      this.ids = Int32Array.from(classified.ids);
    } else {
      if (need * this.dims > this.values.length || widen) {
        const capRows = this.values.length / this.dims;
        const capacity = need > capRows ? Math.max(need, 2 * capRows) : capRows;
        const grown =
          widen || this.values instanceof Float32Array
            ? new Float32Array(capacity * this.dims)
            : new Uint8Array(capacity * this.dims);
        grown.set(this.values.subarray(0, this.rows * this.dims));
        this.copied += this.rows * this.dims;
        this.values = grown;
      }
      if (need > this.ids.length) {
        const grown = new Int32Array(Math.max(need, 2 * this.ids.length, 1));
        grown.set(this.ids.subarray(0, this.rows));
        this.copied += this.rows;
        this.ids = grown;
      }
      this.values.set(rows.values.subarray(0, n * this.dims), this.rows * this.dims);
      this.ids.set(classified.ids, this.rows);
    }
    for (const label of classified.added) {
      this.position.set(label, this.labels.length);
      this.labels.push(label);
      this.counts.push(0);
      if (this.kind === undefined) this.kind = typeof label as 'number' | 'string';
    }
    if (classified.added.length > 0) this.classVersion++;
    for (let i = 0; i < n; i++) this.counts[classified.ids[i]]++;
    this.rows = need;
  }

  /** Removes every row of class `id` and the class itself (later ids shift down by one). New buffers. */
  removeClass(id: number): void {
    const { dims } = this;
    const keep = this.rows - this.counts[id];
    const values =
      this.values instanceof Uint8Array ? new Uint8Array(keep * dims) : new Float32Array(keep * dims);
    const ids = new Int32Array(keep);
    let at = 0;
    for (let r = 0; r < this.rows; r++) {
      const c = this.ids[r];
      if (c === id) continue;
      values.set(this.values.subarray(r * dims, (r + 1) * dims), at * dims);
      ids[at++] = c > id ? c - 1 : c;
    }
    this.values = values;
    this.ids = ids;
    this.rows = keep;
    const removed = this.labels[id];
    this.labels = this.labels.filter((_, c) => c !== id);
    this.counts = this.counts.filter((_, c) => c !== id);
    this.position.delete(removed);
    for (let c = id; c < this.labels.length; c++) this.position.set(this.labels[c], c);
    this.classVersion++;
  }
}
