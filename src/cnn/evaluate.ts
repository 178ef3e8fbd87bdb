import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { CLASS_NAMES } from '../data/catalog.js';
import type { Split } from '../data/split.js';
import { FashionMnistError } from '../errors.js';
import { checkNumber, mergeOptions, show } from '../internal/validate.js';
import {
  accuracy,
  type ClassMetrics,
  checkLabels,
  confusionMatrix,
  perClassMetrics,
} from '../metrics/metrics.js';

/**
 * Images a CNN helper accepts: a split, raw `0..255` pixels of one or more images, or a `[0, 1]` tensor.
 *
 * @example
 * ```ts
 * const images: CnnImages = data.test.images.subarray(0, 784); // one image, raw bytes
 * ```
 */
export type CnnImages = Split | Uint8Array | tf.Tensor3D | tf.Tensor4D;

function isSplit(x: unknown): x is Split {
  return typeof x === 'object' && x !== null && 'images' in x && 'labels' in x && 'count' in x;
}

/** The `[height, width, channels]` a model expects, for checking raw pixels before they reach it. */
function modelInputShape(model: tfl.LayersModel): [number, number, number] {
  const shape = model.inputs[0]?.shape;
  if (shape?.length !== 4 || shape.slice(1).some((d) => d == null)) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `expected a model with one image input [batch, height, width, channels], got [${shape?.join(', ')}]`,
    );
  }
  return [shape[1] as number, shape[2] as number, shape[3] as number];
}

/**
 * Normalised float pixels for images `start..end` of `images` as a `[n, h, w, c]` tensor; the caller disposes.
 * Raw bytes are scaled by 1/255 here so callers can keep the compact `Uint8Array` and build one chunk at a time.
 */
function chunkTensor(
  images: Split | Uint8Array,
  shape: [number, number, number],
  start: number,
  end: number,
): tf.Tensor4D {
  const px = shape[0] * shape[1] * shape[2];
  const bytes = isSplit(images) ? images.images : images;
  const out = new Float32Array((end - start) * px);
  const src = bytes.subarray(start * px, end * px);
  for (let i = 0; i < out.length; i++) out[i] = src[i] / 255;
  return tf.tensor4d(out, [end - start, shape[0], shape[1], shape[2]]);
}

/** How many images `images` holds, checking that raw pixels and splits fit the model's input. */
function countImages(model: tfl.LayersModel, images: CnnImages, where: string): number {
  const shape = modelInputShape(model);
  const px = shape[0] * shape[1] * shape[2];
  if (images instanceof tf.Tensor) {
    const s = images.shape;
    const inner = s.length === 3 ? s : s.slice(1);
    if ((s.length !== 3 && s.length !== 4) || inner.some((d, i) => d !== shape[i])) {
      throw new FashionMnistError(
        'BAD_INPUT',
        `${where}: tensor of shape [${s.join(', ')}] does not fit the model's input [${shape.join(', ')}]`,
      );
    }
    return s.length === 3 ? 1 : s[0];
  }
  if (isSplit(images)) {
    if (images.height !== shape[0] || images.width !== shape[1] || shape[2] !== 1) {
      throw new FashionMnistError(
        'BAD_INPUT',
        `${where}: ${images.height}x${images.width} grayscale images do not fit the model's input [${shape.join(', ')}]`,
      );
    }
    return images.count;
  }
  if (images instanceof Uint8Array) {
    if (images.length === 0 || images.length % px !== 0) {
      throw new FashionMnistError(
        'BAD_INPUT',
        `${where}: ${images.length} bytes is not a whole number of ${shape.join('x')} images (${px} bytes each)`,
      );
    }
    return images.length / px;
  }
  throw new TypeError(
    `${where}: images must be a Split, a Uint8Array of pixels or a Tensor3D/4D, received ${show(images)}`,
  );
}

/**
 * Options of {@link predictCnnProba} and {@link evaluateCnn}.
 *
 * @example
 * ```ts
 * const options: PredictOptions = { batchSize: 1000 };
 * ```
 */
export interface PredictOptions {
  /** Images per forward pass; bounds peak memory (default `500`). */
  batchSize?: number;
}

const PREDICT_DEFAULTS: Readonly<PredictOptions> = Object.freeze({ batchSize: 500 });

/**
 * Class probabilities of a model for every image, as a row-major `Float32Array` of `count × classes`, computed
 * in chunks so that ten thousand images never sit in one float tensor.
 *
 * @example
 * ```ts
 * const { probabilities, classes } = await predictCnnProba(model, data.test);
 * const p = probabilities.subarray(0, classes); // image 0
 * ```
 */
export async function predictCnnProba(
  model: tfl.LayersModel,
  images: CnnImages,
  options?: PredictOptions,
): Promise<{ probabilities: Float32Array; classes: number; count: number }> {
  const o = mergeOptions('predictCnnProba', PREDICT_DEFAULTS, options);
  const batchSize = checkNumber('predictCnnProba', 'batchSize', o.batchSize, { integer: true, min: 1 });
  const count = countImages(model, images, 'predictCnnProba');
  const shape = modelInputShape(model);
  const classes = model.outputs[0].shape[1] as number;
  const probabilities = new Float32Array(count * classes);
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(start + batchSize, count);
    const out = tf.tidy(() => {
      let x: tf.Tensor4D;
      if (images instanceof tf.Tensor) {
        const all = images.rank === 3 ? tf.expandDims<tf.Tensor4D>(images, 0) : (images as tf.Tensor4D);
        x = tf.slice(all, [start, 0, 0, 0], [end - start, -1, -1, -1]);
      } else {
        x = chunkTensor(images, shape, start, end);
      }
      return model.predict(x) as tf.Tensor;
    });
    const values = await out.data();
    out.dispose();
    probabilities.set(values as Float32Array, start * classes);
  }
  return { probabilities, classes, count };
}

function argmaxRows(probabilities: Float32Array, classes: number): Uint8Array {
  const n = probabilities.length / classes;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) {
      if (probabilities[i * classes + c] > probabilities[i * classes + best]) best = c;
    }
    out[i] = best;
  }
  return out;
}

/**
 * What {@link evaluateCnn} measures on a labelled split.
 *
 * @example
 * ```ts
 * const ev: CnnEvaluation = await evaluateCnn(model, data.test);
 * console.log(ev.accuracy, ev.confusion[6]);
 * ```
 */
export interface CnnEvaluation {
  /** Number of images evaluated. */
  count: number;
  /** Fraction classified correctly. */
  accuracy: number;
  /** Mean categorical cross-entropy (natural log), probabilities clipped at 1e-7 like Keras. */
  loss: number;
  /** Predicted class of each image. */
  predictions: Uint8Array;
  /** Class probabilities, row-major `count × classes`. */
  probabilities: Float32Array;
  /** `confusion[t][p]`, rows are the truth. */
  confusion: number[][];
  /** Precision/recall/F1/support per class. */
  perClass: ClassMetrics[];
}

/**
 * Evaluates a classifier on a labelled split: accuracy, loss, confusion matrix and per-class precision/recall,
 * running the model in inference mode (no dropout) in chunks.
 *
 * @example
 * ```ts
 * const ev = await evaluateCnn(model, data.test);
 * console.log(`test accuracy ${(ev.accuracy * 100).toFixed(2)} %`);
 * ```
 */
export async function evaluateCnn(
  model: tfl.LayersModel,
  split: Split,
  options?: PredictOptions & { classNames?: readonly string[] },
): Promise<CnnEvaluation> {
  const { classNames = CLASS_NAMES, ...rest } = options ?? {};
  const { probabilities, classes, count } = await predictCnnProba(model, split, rest);
  checkLabels('evaluateCnn', 'labels', split.labels.subarray(0, count), classes);
  const predictions = argmaxRows(probabilities, classes);
  let loss = 0;
  for (let i = 0; i < count; i++) {
    const p = Math.min(Math.max(probabilities[i * classes + split.labels[i]], 1e-7), 1 - 1e-7);
    loss -= Math.log(p);
  }
  const confusion = confusionMatrix(split.labels.subarray(0, count), predictions, classes);
  return {
    count,
    accuracy: accuracy(split.labels.subarray(0, count), predictions),
    loss: loss / count,
    predictions,
    probabilities,
    confusion,
    perClass: perClassMetrics(confusion, classNames),
  };
}

/**
 * One of the top-k guesses for an image.
 *
 * @example
 * ```ts
 * const best: TopKPrediction = (await predictCnnTopK(model, image, 1))[0][0];
 * ```
 */
export interface TopKPrediction {
  /** Class index. */
  index: number;
  /** Class name. */
  className: string;
  /** Softmax probability. */
  probability: number;
}

/**
 * The `k` most probable classes of each image, most probable first, with names and probabilities.
 *
 * @example
 * ```ts
 * const [top] = await predictCnnTopK(model, subset(data.test, 0, 1), 3);
 * // [{ index: 9, className: 'Ankle boot', probability: 0.98 }, …]
 * ```
 */
export async function predictCnnTopK(
  model: tfl.LayersModel,
  images: CnnImages,
  k = 3,
  options?: PredictOptions & { classNames?: readonly string[] },
): Promise<TopKPrediction[][]> {
  const { classNames = CLASS_NAMES, ...rest } = options ?? {};
  // Checked before the forward passes, which a bad `k` would otherwise waste.
  checkNumber('predictCnnTopK', 'k', k, { integer: true, min: 1, max: model.outputs[0].shape[1] as number });
  const { probabilities, classes, count } = await predictCnnProba(model, images, rest);
  const out: TopKPrediction[][] = [];
  for (let i = 0; i < count; i++) {
    const row = Array.from(probabilities.subarray(i * classes, (i + 1) * classes));
    const order = row.map((_, c) => c).sort((a, b) => row[b] - row[a] || a - b);
    out.push(
      order
        .slice(0, k)
        .map((c) => ({ index: c, className: classNames[c] ?? String(c), probability: row[c] })),
    );
  }
  return out;
}
