import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { CLASS_NAMES } from '../data/catalog.js';
import type { Split } from '../data/split.js';
import { FashionMnistError } from '../errors.js';
import { requireBackend } from '../internal/backend.js';
import { checkBoolean, checkNumber, mergeOptions, show } from '../internal/validate.js';
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

/** Checks that `model` is a layers model with one image input; returns its `[height, width, channels]`. */
function modelInputShape(model: tfl.LayersModel, where: string): [number, number, number] {
  if (
    typeof model !== 'object' ||
    model === null ||
    typeof model.predict !== 'function' ||
    !Array.isArray(model.inputs)
  ) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `${where}: model must be a tf.LayersModel (from buildCnn, loadModel or loadPretrained), received ${show(model)}`,
    );
  }
  const shape = model.inputs[0]?.shape;
  if (model.inputs.length !== 1 || shape?.length !== 4 || shape.slice(1).some((d) => d == null)) {
    throw new FashionMnistError(
      'BAD_MODEL',
      `${where}: expected a model with one image input [batch, height, width, channels], got ` +
        `${model.inputs.length} input(s), the first [${shape?.join(', ')}]`,
    );
  }
  // A disposed model fails deep inside tfjs with a plain Error; its weights tell through their public read().
  for (const w of model.weights) {
    try {
      w.read();
    } catch (cause) {
      throw new FashionMnistError(
        'DISPOSED',
        `${where}: the model has been disposed; build or load it again (dispose a model only when done with it)`,
        { cause },
      );
    }
  }
  return [shape[1] as number, shape[2] as number, shape[3] as number];
}

/** The number of classes of a model with one `[batch, classes]` output. */
function modelClasses(model: tfl.LayersModel, where: string): number {
  const shape = model.outputs[0]?.shape;
  if (model.outputs.length !== 1 || shape?.length !== 2 || !(Number(shape[1]) >= 1)) {
    throw new FashionMnistError(
      'BAD_MODEL',
      `${where}: expected a classifier with one output [batch, classes], got ${model.outputs.length} ` +
        `output(s), the first [${shape?.join(', ')}]`,
    );
  }
  return shape[1] as number;
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

/** How many images `images` holds, checking that raw pixels, splits and tensors fit the model's input. */
function countImages(images: CnnImages, shape: [number, number, number], where: string): number {
  const px = shape[0] * shape[1] * shape[2];
  if (images instanceof tf.Tensor) {
    if (images.isDisposed) {
      throw new FashionMnistError('BAD_INPUT', `${where}: the images tensor has been disposed`);
    }
    const s = images.shape;
    const inner = s.length === 3 ? s : s.slice(1);
    if ((s.length !== 3 && s.length !== 4) || inner.some((d, i) => d !== shape[i])) {
      throw new FashionMnistError(
        'BAD_SHAPE',
        `${where}: tensor of shape [${s.join(', ')}] does not fit the model's input [${shape.join(', ')}]; ` +
          `pass [${shape.join(', ')}] or [n, ${shape.join(', ')}]`,
      );
    }
    return s.length === 3 ? 1 : s[0];
  }
  if (isSplit(images)) {
    if (images.height !== shape[0] || images.width !== shape[1] || shape[2] !== 1) {
      throw new FashionMnistError(
        'BAD_SHAPE',
        `${where}: ${images.height}x${images.width} grayscale images do not fit the model's input [${shape.join(', ')}]`,
      );
    }
    if (!(images.images instanceof Uint8Array) || !Number.isSafeInteger(images.count) || images.count < 0) {
      throw new FashionMnistError(
        'BAD_INPUT',
        `${where}: a split needs images as a Uint8Array and a count, received ${show(images.images)} and ${show(images.count)}`,
      );
    }
    if (images.images.length !== images.count * px) {
      throw new FashionMnistError(
        'COUNT_MISMATCH',
        `${where}: the split says ${images.count} images of ${px} pixels but holds ${images.images.length} bytes`,
      );
    }
    return images.count;
  }
  if (images instanceof Uint8Array) {
    if (images.length === 0 || images.length % px !== 0) {
      throw new FashionMnistError(
        images.length === 0 ? 'BAD_INPUT' : 'BAD_SHAPE',
        `${where}: ${images.length} bytes is not a whole number of ${shape.join('x')} images (${px} bytes each)`,
      );
    }
    return images.length / px;
  }
  throw new FashionMnistError(
    'BAD_INPUT',
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
  /**
   * The model's last layer gives logits (no softmax): apply a softmax to each row (default `false`, as Keras'
   * `from_logits`). Without it, outputs that are not probabilities (a negative value, or a row whose sum is
   * more than 1e-3 away from 1) are refused with `BAD_MODEL`.
   */
  fromLogits?: boolean;
}

const PREDICT_DEFAULTS: Readonly<PredictOptions> = Object.freeze({ batchSize: 500, fromLogits: false });

/** How far from 1 a row of probabilities may sum (float32 softmax is within 1e-6). */
const SUM_TOLERANCE = 1e-3;

/** Refuses outputs that are not one probability distribution per row, saying what to do. */
function checkDistribution(
  values: Float32Array,
  classes: number,
  first: number,
  where: string,
  fromLogits: boolean,
): void {
  for (let r = 0; r * classes < values.length; r++) {
    let sum = 0;
    let min = Number.POSITIVE_INFINITY;
    for (let c = 0; c < classes; c++) {
      const v = values[r * classes + c];
      sum += v;
      if (!(v >= min)) min = v; // NaN sticks
    }
    if (Number.isNaN(min) || !Number.isFinite(sum)) {
      throw new FashionMnistError(
        'BAD_MODEL',
        `${where}: the model gave non-finite outputs for image ${first + r}; its weights are damaged or ` +
          'the training diverged (save or train the model again)',
      );
    }
    if (!fromLogits && (min < 0 || Math.abs(sum - 1) > SUM_TOLERANCE)) {
      throw new FashionMnistError(
        'BAD_MODEL',
        `${where}: the model's outputs are not probabilities (image ${first + r}: they sum to ` +
          `${sum.toPrecision(6)}, the smallest is ${min.toPrecision(6)}); a model whose last layer gives ` +
          'logits needs the option { fromLogits: true } (or end it with a softmax activation)',
      );
    }
  }
}

/** predictCnnProba, with errors named after the public function that was called. */
async function predictProbabilities(
  where: string,
  model: tfl.LayersModel,
  images: CnnImages,
  options: PredictOptions | undefined,
): Promise<{ probabilities: Float32Array; classes: number; count: number }> {
  const o = mergeOptions(where, PREDICT_DEFAULTS, options);
  const batchSize = checkNumber(where, 'batchSize', o.batchSize, { integer: true, min: 1 });
  const fromLogits = checkBoolean(where, 'fromLogits', o.fromLogits);
  requireBackend(where);
  const shape = modelInputShape(model, where);
  const classes = modelClasses(model, where);
  const count = countImages(images, shape, where);
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
      const y = model.predict(x) as tf.Tensor;
      return fromLogits ? tf.softmax(y) : y;
    });
    let values: Float32Array;
    try {
      values = (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
    checkDistribution(values, classes, start, where, fromLogits);
    probabilities.set(values, start * classes);
  }
  return { probabilities, classes, count };
}

/**
 * Class probabilities of a model for every image, as a row-major `Float32Array` of `count × classes`, computed
 * in chunks so that ten thousand images never sit in one float tensor. The outputs must be probabilities (rows
 * summing to 1); for a model that ends in logits pass `{ fromLogits: true }`.
 *
 * @throws FashionMnistError `NO_BACKEND` when no TensorFlow.js backend is ready; `BAD_SHAPE` / `COUNT_MISMATCH`
 * / `BAD_INPUT` for images that do not fit the model; `BAD_MODEL` for a model that is not an image classifier
 * or whose outputs are not probabilities; `DISPOSED` for a disposed model; `BAD_OPTION`.
 * @example
 * ```ts
 * const { probabilities, classes } = await predictCnnProba(model, data.test);
 * const p = probabilities.subarray(0, classes); // image 0
 * ```
 */
export function predictCnnProba(
  model: tfl.LayersModel,
  images: CnnImages,
  options?: PredictOptions,
): Promise<{ probabilities: Float32Array; classes: number; count: number }> {
  return predictProbabilities('predictCnnProba', model, images, options);
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
  const where = 'evaluateCnn';
  const { classNames = CLASS_NAMES, ...rest } = options ?? {};
  requireBackend(where);
  if (!isSplit(split)) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `${where}: expected a labelled Split ({ images, labels, count, height, width }), received ${show(split)}`,
    );
  }
  if (!(split.labels instanceof Uint8Array) || split.labels.length !== split.count) {
    throw new FashionMnistError(
      'COUNT_MISMATCH',
      `${where}: the split says ${split.count} images but has ${show(split.labels)} labels`,
    );
  }
  if (split.count === 0) throw new FashionMnistError('BAD_INPUT', `${where}: the split has no images`);
  const { probabilities, classes, count } = await predictProbabilities(where, model, split, rest);
  checkLabels(where, 'labels', split.labels, classes);
  const predictions = argmaxRows(probabilities, classes);
  let loss = 0;
  for (let i = 0; i < count; i++) {
    const p = Math.min(Math.max(probabilities[i * classes + split.labels[i]], 1e-7), 1 - 1e-7);
    loss -= Math.log(p);
  }
  const confusion = confusionMatrix(split.labels, predictions, classes);
  return {
    count,
    accuracy: accuracy(split.labels, predictions),
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
  const where = 'predictCnnTopK';
  const { classNames = CLASS_NAMES, ...rest } = options ?? {};
  requireBackend(where);
  modelInputShape(model, where);
  // Checked before the forward passes, which a bad `k` would otherwise waste.
  checkNumber(where, 'k', k, { integer: true, min: 1, max: modelClasses(model, where) });
  const { probabilities, classes, count } = await predictProbabilities(where, model, images, rest);
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
