// Turning what callers pass (tensors, typed arrays, label arrays) into the flat row-major numbers the
// neighbour search works on, with the data checks every entry point shares.
import * as tf from '@tensorflow/tfjs-core';
import { FashionMnistError } from '../errors.js';
import { show } from '../internal/validate.js';

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
 * Class labels: a rank-1 tensor of class indices, a one-hot `[N, classes]` tensor, or an array of
 * non-negative integers.
 *
 * @example
 * ```ts
 * const y: KnnLabels = data.train.labels; // Uint8Array of 0..9
 * ```
 */
export type KnnLabels = tf.Tensor | ArrayLike<number>;

/**
 * Flat row-major features; `values` is a private copy (uint8 when every value is an integer 0..255).
 *
 * @example
 * ```ts
 * const rows: Rows = { values: new Uint8Array(2 * 784), rows: 2, dims: 784 };
 * ```
 */
export interface Rows {
  values: Uint8Array | Float32Array;
  rows: number;
  dims: number;
}

function describe(x: unknown): string {
  return x instanceof tf.Tensor ? `tensor [${x.shape.join(', ')}] ${x.dtype}` : show(x);
}

function isNumericArray(x: unknown): x is ArrayLike<number> {
  return (
    (ArrayBuffer.isView(x) &&
      !(x instanceof DataView) &&
      !(x instanceof BigInt64Array) &&
      !(x instanceof BigUint64Array)) ||
    Array.isArray(x)
  );
}

/**
 * Copies features into a compact private buffer, checking for NaN/±Infinity. Uint8 storage is kept (or chosen
 * when every value happens to be an integer 0..255) because it is 4× smaller and the exact refinement reads it.
 *
 * `dims` fixes the row length for flat arrays (from `fit`); `rowsHint` is the label count at `fit`.
 *
 * @example
 * ```ts
 * const rows = readFeatures('KnnClassifier.fit', data.train.images, { rowsHint: data.train.count });
 * ```
 */
export function readFeatures(where: string, x: unknown, shape: { dims?: number; rowsHint?: number }): Rows {
  let flat: ArrayLike<number>;
  let rows: number;
  let dims: number;
  if (x instanceof tf.Tensor) {
    if (x.isDisposed)
      throw new FashionMnistError('BAD_INPUT', `${where}: the features tensor has been disposed`);
    if (x.rank < 2) {
      throw new FashionMnistError(
        'BAD_INPUT',
        `${where}: features must have a sample axis and at least one feature axis, received ${describe(x)}`,
      );
    }
    if (x.dtype === 'string' || x.dtype === 'complex64') {
      throw new FashionMnistError('BAD_INPUT', `${where}: features must be numeric, received ${describe(x)}`);
    }
    rows = x.shape[0];
    dims = x.size / Math.max(rows, 1);
    if (rows === 0) dims = x.shape.slice(1).reduce((a: number, b: number) => a * b, 1);
    flat = x.dataSync() as ArrayLike<number>;
  } else if (isNumericArray(x) && !Array.isArray(x)) {
    flat = x;
    const n = flat.length;
    if (shape.dims !== undefined) {
      dims = shape.dims;
      if (n % dims !== 0) {
        throw new FashionMnistError(
          'BAD_INPUT',
          `${where}: a flat array of ${n} values is not a whole number of ${dims}-value rows (the feature size seen at fit)`,
        );
      }
      rows = n / dims;
    } else {
      const r = shape.rowsHint ?? 0;
      if (r <= 0 || n % r !== 0) {
        throw new FashionMnistError(
          'COUNT_MISMATCH',
          `${where}: a flat array of ${n} values cannot hold one row per label (${r} labels)`,
        );
      }
      rows = r;
      dims = n / r;
    }
  } else {
    throw new TypeError(`${where}: features must be a tf.Tensor or a typed array, received ${describe(x)}`);
  }
  if (dims < 1 || !Number.isInteger(dims)) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `${where}: features need at least one value per row, received ${describe(x)}`,
    );
  }
  if (shape.dims !== undefined && dims !== shape.dims) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `${where}: rows have ${dims} features but the model was fitted on ${shape.dims}-feature rows`,
    );
  }
  return { values: compact(where, flat, dims), rows, dims };
}

function compact(where: string, flat: ArrayLike<number>, dims: number): Uint8Array | Float32Array {
  const n = flat.length;
  if (flat instanceof Uint8Array || flat instanceof Uint8ClampedArray) return new Uint8Array(flat);
  let bytes = true;
  for (let i = 0; i < n; i++) {
    const v = flat[i];
    if (!Number.isFinite(v)) {
      throw new FashionMnistError(
        'BAD_INPUT',
        `${where}: features contain ${v} at row ${Math.floor(i / dims)}, column ${i % dims}; k-NN needs finite numbers`,
      );
    }
    if (bytes && !(v >= 0 && v <= 255 && (v | 0) === v)) bytes = false;
  }
  return bytes ? Uint8Array.from(flat) : Float32Array.from(flat);
}

/**
 * Reads class labels as non-negative integers (one-hot tensors are decoded with argmax).
 *
 * @example
 * ```ts
 * readLabels('KnnClassifier.fit', [0, 3, 9]); // Int32Array [0, 3, 9]
 * ```
 */
export function readLabels(where: string, y: unknown): Int32Array {
  let values: ArrayLike<number>;
  if (y instanceof tf.Tensor) {
    if (y.isDisposed)
      throw new FashionMnistError('BAD_INPUT', `${where}: the labels tensor has been disposed`);
    if (y.rank === 1) values = y.dataSync() as ArrayLike<number>;
    else if (y.rank === 2) {
      const decoded = tf.argMax(y, 1);
      values = decoded.dataSync() as ArrayLike<number>;
      decoded.dispose();
    } else {
      throw new FashionMnistError(
        'BAD_INPUT',
        `${where}: labels must be [N] class indices or [N, classes] one-hot, received ${describe(y)}`,
      );
    }
  } else if (isNumericArray(y)) {
    values = y;
  } else {
    throw new TypeError(
      `${where}: labels must be a tf.Tensor, a typed array or an array of numbers, received ${describe(y)}`,
    );
  }
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(Number.isInteger(v) && v >= 0 && v < 2 ** 31)) {
      throw new FashionMnistError(
        'BAD_INPUT',
        `${where}: label ${v} at index ${i} is not a class index (a non-negative integer)`,
      );
    }
    out[i] = v;
  }
  return out;
}
