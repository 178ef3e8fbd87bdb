// Turning what callers pass (tensors, typed arrays, label arrays) into the flat row-major numbers the
// neighbour search works on, with the data checks every entry point shares.
import * as tf from '@tensorflow/tfjs-core';
import { FashionMnistError } from '../errors.js';
import { show } from '../internal/validate.js';
import type { KnnRows } from './types.js';

/**
 * The most distinct classes a k-NN model accepts (65,536). Votes and `predictProba` rows have one entry per
 * class, so the count is bounded; labels themselves can be any int32 or string (they are mapped to dense class
 * ids by training-set.ts). Documented as `KnnClassifier.MAX_CLASSES`.
 */
export const MAX_CLASSES = 65_536;

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
export function readFeatures(
  where: string,
  x: unknown,
  shape: { dims?: number; rowsHint?: number },
): KnnRows {
  let flat: ArrayLike<number>;
  let rows: number;
  let dims: number;
  if (x instanceof tf.Tensor) {
    if (x.isDisposed)
      throw new FashionMnistError('BAD_INPUT', `${where}: the features tensor has been disposed`);
    if (x.rank < 2) {
      throw new FashionMnistError(
        'BAD_SHAPE',
        `${where}: features must have a sample axis and at least one feature axis ([N, 28, 28], [N, 784], …), received ${describe(x)}`,
      );
    }
    if (x.dtype === 'string' || x.dtype === 'complex64') {
      throw new FashionMnistError('BAD_INPUT', `${where}: features must be numeric, received ${describe(x)}`);
    }
    rows = x.shape[0];
    dims = x.shape.slice(1).reduce((a: number, b: number) => a * b, 1);
    flat = x.dataSync() as ArrayLike<number>;
  } else if (isNumericArray(x) && !Array.isArray(x)) {
    flat = x;
    const n = flat.length;
    if (shape.dims !== undefined) {
      dims = shape.dims;
      if (n % dims !== 0) {
        throw new FashionMnistError(
          'BAD_SHAPE',
          `${where}: a flat array of ${n} values is not a whole number of ${dims}-value rows (the feature size seen at fit)`,
        );
      }
      rows = n / dims;
    } else {
      const r = shape.rowsHint ?? 0;
      if (r <= 0 || n % r !== 0) {
        throw new FashionMnistError(
          'COUNT_MISMATCH',
          `${where}: a flat array of ${n} values cannot hold one row per label (${r} labels); pass as many rows as labels`,
        );
      }
      rows = r;
      dims = n / r;
    }
  } else {
    throw new FashionMnistError(
      'BAD_INPUT',
      `${where}: features must be a tf.Tensor or a typed array (such as Uint8Array), received ${describe(x)}`,
    );
  }
  if (dims < 1) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `${where}: features need at least one value per row, received ${describe(x)}`,
    );
  }
  if (shape.dims !== undefined && dims !== shape.dims) {
    throw new FashionMnistError(
      'BAD_SHAPE',
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
 * Reads label values as given: a rank-1 tensor, a typed array or an array as is, a one-hot `[N, classes]`
 * tensor decoded to column indices (each row must hold a single 1 and zeros, else BAD_LABEL). No tensor is
 * created.
 *
 * @example
 * ```ts
 * readLabelValues('KnnClassifier.score', tf.oneHot(tf.tensor1d([2, 0], 'int32'), 3)); // [2, 0]
 * ```
 */
export function readLabelValues(where: string, y: unknown): ArrayLike<unknown> {
  if (y instanceof tf.Tensor) {
    if (y.isDisposed)
      throw new FashionMnistError('BAD_INPUT', `${where}: the labels tensor has been disposed`);
    if (y.dtype === 'string' || y.dtype === 'complex64') {
      throw new FashionMnistError(
        'BAD_INPUT',
        `${where}: label tensors must be numeric (pass string labels as an array), received ${describe(y)}`,
      );
    }
    if (y.rank === 1) return y.dataSync() as ArrayLike<number>;
    if (y.rank !== 2) {
      throw new FashionMnistError(
        'BAD_SHAPE',
        `${where}: labels must be [N] class labels or [N, classes] one-hot, received ${describe(y)}`,
      );
    }
    const [n, classes] = y.shape as [number, number];
    const hot = y.dataSync() as ArrayLike<number>;
    const out = new Int32Array(n);
    for (let r = 0; r < n; r++) {
      let at = -1;
      for (let c = 0; c < classes; c++) {
        const v = hot[r * classes + c];
        if (v === 1 && at < 0) at = c;
        else if (v !== 0) {
          at = -2;
          break;
        }
      }
      if (at < 0) {
        throw new FashionMnistError(
          'BAD_LABEL',
          `${where}: one-hot label row ${r} must hold a single 1 and zeros otherwise; pass class labels instead`,
        );
      }
      out[r] = at;
    }
    return out;
  }
  if (isNumericArray(y)) return y;
  throw new FashionMnistError(
    'BAD_INPUT',
    `${where}: labels must be a tf.Tensor, a typed array or an array of numbers or strings, received ${describe(y)}`,
  );
}
