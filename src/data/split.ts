import * as tf from '@tensorflow/tfjs-core';
import { FashionMnistError } from '../errors.js';
import { requireBackend } from '../internal/backend.js';
import { checkSeed, createRandomSource, permutationFrom } from '../internal/random.js';
import { checkBoolean, checkNumber, mergeOptions, show } from '../internal/validate.js';
import { NUM_CLASSES } from './catalog.js';
import type { IdxArray } from './idx.js';

/**
 * One split of the data set, kept as compact bytes: `images` holds `count` images of `height × width`
 * pixels, row-major, values 0..255; `labels[i]` is the class of image `i` (see `CLASS_NAMES`).
 * @example
 * ```ts
 * const { test }: { test: Split } = await loadFashionMnist();
 * const firstImage = test.images.subarray(0, test.height * test.width); // 784 bytes, row-major
 * console.log(CLASS_NAMES[test.labels[0]]); // 'Ankle boot'
 * ```
 */
export interface Split {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
}

/**
 * Checks that `split` is a Split a caller made by hand or got from the loaders (types and dimensions); `name`
 * is how the message calls it (an option name such as 'validationData').
 */
export function checkSplitArg(where: string, split: unknown, name = 'split'): Split {
  const s = split as Split;
  if (
    typeof s !== 'object' ||
    s === null ||
    !(s.images instanceof Uint8Array) ||
    !(s.labels instanceof Uint8Array) ||
    typeof s.count !== 'number'
  ) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `${where}: ${name} must be a Split ({ images: Uint8Array, labels: Uint8Array, count, height, width }), received ${show(split)}`,
    );
  }
  for (const [field, value, min] of [
    ['count', s.count, 0],
    ['height', s.height, 1],
    ['width', s.width, 1],
  ] as const) {
    if (!Number.isInteger(value) || (value as number) < min) {
      throw new FashionMnistError(
        'BAD_SHAPE',
        `${where}: ${name}.${field} must be an integer >= ${min}, received ${show(value)}`,
      );
    }
  }
  return s;
}

/**
 * Builds a {@link Split} from decoded IDX images (`uint8 [N, H, W]`) and labels (`uint8 [N]`), checking that
 * they fit together.
 *
 * @example
 * ```ts
 * const split = splitFromIdx(await parseIdx(imageBytes), await parseIdx(labelBytes));
 * ```
 */
export function splitFromIdx(images: IdxArray, labels: IdxArray, name = 'split'): Split {
  if (images.dtype !== 'uint8' || images.shape.length !== 3) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `${name}: images must be uint8 [N, height, width], received ${images.dtype} [${images.shape.join(', ')}]`,
    );
  }
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `${name}: labels must be uint8 [N], received ${labels.dtype} [${labels.shape.join(', ')}]`,
    );
  }
  const [count, height, width] = images.shape;
  if (labels.shape[0] !== count) {
    throw new FashionMnistError(
      'COUNT_MISMATCH',
      `${name}: ${count} images but ${labels.shape[0]} labels; the image and label files must come from the same split`,
    );
  }
  const labelData = labels.data as Uint8Array;
  for (let i = 0; i < count; i++) {
    if (labelData[i] >= NUM_CLASSES) {
      throw new FashionMnistError(
        'BAD_LABEL',
        `${name}: label ${labelData[i]} at index ${i} is not a class 0..${NUM_CLASSES - 1}`,
      );
    }
  }
  return { images: images.data as Uint8Array, labels: labelData, count, height, width };
}

/**
 * A contiguous range of a split, as views on the same memory (no copy).
 *
 * @example
 * ```ts
 * const first1000 = subset(data.test, 0, 1000);
 * ```
 */
export function subset(split: Split, start: number, end: number = split?.count): Split {
  checkSplitArg('subset', split);
  checkNumber('subset', 'start', start, { integer: true, min: 0, max: split.count });
  checkNumber('subset', 'end', end, { integer: true, min: start, max: split.count });
  const px = split.height * split.width;
  return {
    images: split.images.subarray(start * px, end * px),
    labels: split.labels.subarray(start, end),
    count: end - start,
    height: split.height,
    width: split.width,
  };
}

/**
 * A new split holding the chosen rows, in the order given (copies only those rows).
 *
 * @example
 * ```ts
 * const some = take(data.train, [5, 1, 42]);
 * ```
 */
export function take(split: Split, indices: ArrayLike<number>): Split {
  checkSplitArg('take', split);
  const px = split.height * split.width;
  const images = new Uint8Array(indices.length * px);
  const labels = new Uint8Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    if (!Number.isInteger(i) || i < 0 || i >= split.count) {
      throw new FashionMnistError(
        'BAD_INPUT',
        `take: index ${i} at position ${j} is outside 0..${split.count - 1}; pass whole numbers below split.count`,
      );
    }
    images.set(split.images.subarray(i * px, (i + 1) * px), j * px);
    labels[j] = split.labels[i];
  }
  return { images, labels, count: indices.length, height: split.height, width: split.width };
}

/**
 * Options of {@link toTensors}.
 * @example
 * ```ts
 * const { xs, ys } = toTensors(data.test, { normalize: false, oneHot: true } satisfies ToTensorsOptions);
 * ```
 */
export interface ToTensorsOptions {
  /** Scale pixels to [0, 1] (default) or keep raw 0..255 values. */
  normalize?: boolean;
  /** Labels as one-hot float32 `[N, 10]` instead of int32 `[N]`. */
  oneHot?: boolean;
}

const TO_TENSORS_DEFAULTS: Readonly<Required<ToTensorsOptions>> = Object.freeze({
  normalize: true,
  oneHot: false,
});

/**
 * Tensors for a split: `xs` float32 `[N, H, W, 1]` and `ys` int32 `[N]` (or one-hot float32 `[N, 10]`).
 * The caller owns both tensors and must dispose them.
 *
 * @throws FashionMnistError `BAD_OPTION` for a bad option, `COUNT_MISMATCH` when the split holds fewer pixels or
 *   labels than `count` says, `BAD_LABEL` for a label >= 10 with `oneHot`, `NO_BACKEND` when no TensorFlow.js
 *   backend is ready.
 * @example
 * ```ts
 * const { xs, ys } = toTensors(subset(data.test, 0, 100), { oneHot: true });
 * // … use them …
 * tf.dispose([xs, ys]);
 * ```
 */
export function toTensors(split: Split, options?: ToTensorsOptions): { xs: tf.Tensor4D; ys: tf.Tensor } {
  const opts = mergeOptions('toTensors', TO_TENSORS_DEFAULTS, options);
  checkBoolean('toTensors', 'normalize', opts.normalize);
  checkBoolean('toTensors', 'oneHot', opts.oneHot);
  checkSplitArg('toTensors', split);
  requireBackend('toTensors');
  const n = split.count;
  const px = split.height * split.width;
  if (split.images.length < n * px || split.labels.length < n) {
    throw new FashionMnistError(
      'COUNT_MISMATCH',
      `toTensors: a split of ${n} images of ${split.height}×${split.width} needs ${n * px} pixels and ${n} labels, ` +
        `received ${split.images.length} pixels and ${split.labels.length} labels`,
    );
  }
  if (opts.oneHot) {
    for (let i = 0; i < n; i++) {
      if (split.labels[i] >= NUM_CLASSES) {
        throw new FashionMnistError(
          'BAD_LABEL',
          `toTensors: label ${split.labels[i]} at index ${i} is not a class 0..${NUM_CLASSES - 1}, so it has no ` +
            'one-hot row; fix the labels or pass oneHot: false',
        );
      }
    }
  }
  const pixels = new Float32Array(n * px);
  const scale = opts.normalize ? 1 / 255 : 1;
  const src = split.images;
  for (let i = 0; i < n * px; i++) pixels[i] = src[i] * scale;
  const xs = tf.tensor4d(pixels, [n, split.height, split.width, 1], 'float32');
  const labels = Int32Array.from(split.labels.subarray(0, n));
  const ys = opts.oneHot
    ? tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), NUM_CLASSES), 'float32'))
    : tf.tensor1d(labels, 'int32');
  return { xs, ys };
}

/**
 * Options of {@link batchIndices}.
 * @example
 * ```ts
 * for (const idx of batchIndices(data.train.count, { batchSize: 128, seed: 7 })) {
 *   // …
 * }
 * ```
 */
export interface BatchOptions {
  /** Images per batch (the last batch may be smaller). */
  batchSize?: number;
  /** Visit the images in a random order. */
  shuffle?: boolean;
  /** Seed for the shuffle; the same seed gives the same order on every platform. */
  seed?: string | number;
  /** Drop a last batch smaller than `batchSize`. */
  dropRemainder?: boolean;
}

const BATCH_DEFAULTS: Readonly<BatchOptions> = Object.freeze({
  batchSize: 64,
  shuffle: true,
  seed: undefined,
  dropRemainder: false,
});

/**
 * A seeded Fisher–Yates permutation of `0..n-1`.
 *
 * @example
 * ```ts
 * permutation(5, 'seed'); // e.g. Int32Array [3, 0, 4, 1, 2], the same every time
 * ```
 */
export function permutation(n: number, seed?: string | number): Int32Array {
  checkNumber('permutation', 'n', n, { integer: true, min: 0 });
  return permutationFrom(
    n,
    createRandomSource(seed === undefined ? undefined : checkSeed('permutation', seed)),
  );
}

/**
 * Yields the indices of each batch of a split (shuffled with a seed when asked), so a training loop can build
 * one batch of tensors at a time instead of copying the whole split; combine with {@link take} and
 * {@link toTensors}.
 *
 * @example
 * ```ts
 * for (const idx of batchIndices(data.train.count, { batchSize: 64, seed: 1 })) {
 *   const { xs, ys } = toTensors(take(data.train, idx), { oneHot: true });
 *   // … train …
 *   tf.dispose([xs, ys]);
 * }
 * ```
 */
export function* batchIndices(count: number, options?: BatchOptions): Generator<Int32Array> {
  checkNumber('batchIndices', 'count', count, { integer: true, min: 0 });
  const opts = mergeOptions('batchIndices', BATCH_DEFAULTS, options);
  const size = checkNumber('batchIndices', 'batchSize', opts.batchSize, { integer: true, min: 1 });
  checkBoolean('batchIndices', 'shuffle', opts.shuffle);
  checkBoolean('batchIndices', 'dropRemainder', opts.dropRemainder);
  let order: Int32Array;
  if (opts.shuffle) order = permutation(count, opts.seed);
  else order = Int32Array.from({ length: count }, (_, i) => i);
  for (let start = 0; start < count; start += size) {
    const end = Math.min(start + size, count);
    if (opts.dropRemainder && end - start < size) return;
    yield order.subarray(start, end);
  }
}
