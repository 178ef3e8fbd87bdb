import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  applyErase,
  assertRectangleCanFit,
  type RandomErasingConfig,
  type RandomErasingOptions,
  resolveRandomErasingOptions,
  sampleEraseParams,
} from '../augment/erasing.js';
import { permutation, type Split, subset } from '../data/split.js';
import { FashionMnistError } from '../errors.js';
import { createRandomSource } from '../internal/random.js';
import {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkOneOf,
  mergeOptions,
  show,
} from '../internal/validate.js';
import { evaluateCnn } from './evaluate.js';

/**
 * Progress after each training batch.
 *
 * @example
 * ```ts
 * const onBatchEnd = (p: BatchProgress) => console.log(`${p.batch + 1}/${p.batches} ${Math.round(p.imagesPerSec)} img/s`);
 * ```
 */
export interface BatchProgress {
  /** Epoch, 0-based. */
  epoch: number;
  /** Total epochs of the run. */
  epochs: number;
  /** Batch within the epoch, 0-based. */
  batch: number;
  /** Batches per epoch. */
  batches: number;
  /** Loss of this batch (training mode: dropout and erasing on). */
  loss: number;
  /** Accuracy of this batch (training mode). */
  acc: number;
  /** Training images per second so far in this epoch. */
  imagesPerSec: number;
  /** Estimated seconds until the run's last epoch ends, from this epoch's speed. */
  etaSeconds: number;
}

/**
 * What happened in one epoch; also what {@link TrainCnnOptions.onEpochEnd} receives.
 *
 * @example
 * ```ts
 * const onEpochEnd = (log: EpochLog) => console.log(log.epoch + 1, log.loss, log.valAcc);
 * ```
 */
export interface EpochLog {
  /** Epoch, 0-based. */
  epoch: number;
  /** Total epochs of the run. */
  epochs: number;
  /** Mean training loss over the epoch's batches (training mode). */
  loss: number;
  /** Mean training accuracy over the epoch's batches (training mode). */
  acc: number;
  /** Validation loss, when there is validation data. */
  valLoss?: number;
  /** Validation accuracy, when there is validation data. */
  valAcc?: number;
  /** Learning rate used in this epoch. */
  learningRate: number;
  /** Wall-clock seconds of the epoch, validation included. */
  seconds: number;
  /** Training images per second (validation excluded). */
  imagesPerSec: number;
  /** Estimated seconds for the remaining epochs. */
  etaSeconds: number;
}

/**
 * Why a run ended.
 *
 * @example
 * ```ts
 * const reason: StopReason = (await trainCnn(model, data.train)).stopReason;
 * ```
 */
export type StopReason = 'completed' | 'early-stopping' | 'aborted';

/**
 * What {@link trainCnn} returns.
 *
 * @example
 * ```ts
 * const history: TrainHistory = await trainCnn(model, data.train, { epochs: 3 });
 * console.log(history.epochs.map((e) => e.loss));
 * ```
 */
export interface TrainHistory {
  /** One entry per epoch that ran, in order. */
  epochs: EpochLog[];
  /** Why training ended. */
  stopReason: StopReason;
  /** Epoch whose weights the model holds at the end, when best weights were restored. */
  restoredEpoch?: number;
  /** Wall-clock seconds of the whole run. */
  seconds: number;
}

/**
 * A learning-rate schedule: a name, or a function of the 0-based epoch and the base rate.
 *
 * @example
 * ```ts
 * const warmup: LearningRateSchedule = (epoch, base) => (epoch < 2 ? base / 10 : base);
 * ```
 */
export type LearningRateSchedule =
  | 'constant'
  | 'cosine'
  | 'step'
  | ((epoch: number, baseRate: number) => number);

/**
 * Options of {@link trainCnn}.
 *
 * @example
 * ```ts
 * const options: TrainCnnOptions = { epochs: 40, seed: 1, schedule: 'cosine', eraseFraction: 0.15 };
 * ```
 */
export interface TrainCnnOptions {
  /** Epochs to train (default `10`). */
  epochs?: number;
  /** Images per batch (default `64`, as the reference). */
  batchSize?: number;
  /**
   * Seed of everything random in training: shuffling, which images are erased and how, and the dropout masks.
   * The same seed, model and backend give the same run. Undefined: a fresh random run each time.
   */
  seed?: number;
  /** Shuffle the training images every epoch (default `true`). */
  shuffle?: boolean;
  /**
   * Probability that a training image is randomly erased (default `0.15`, as the reference, which erased 15 %
   * of the training images). `0` turns erasing off.
   */
  eraseFraction?: number;
  /**
   * Options of the random erasing itself (`s_l`, `s_h`, `r_1`, `r_2`, `v_l`, `v_h`, `pixel_level`,
   * `maxAttempts`; see `RandomErasingOptions`). Erasing happens on the `[0, 1]`-normalised images, so `v_h`
   * defaults to `1` here (fill values uniform in `[0, 1]`, the reference's 0..255 scaled). `p` and `seed` are
   * not accepted: `eraseFraction` and the run's `seed` set them.
   */
  erase?: Omit<RandomErasingOptions, 'p' | 'seed'>;
  /** Fraction of the training split held out (its last images, before shuffling) for validation. */
  validationSplit?: number;
  /** A separate validation split (takes precedence over `validationSplit`). */
  validationData?: Split;
  /** Base learning rate; default: the compiled optimizer's current rate. */
  learningRate?: number;
  /**
   * Learning-rate schedule, evaluated at the start of each epoch (default `'constant'`). `'cosine'` decays from
   * the base rate to `minLearningRate` over `epochs`; `'step'` multiplies by `stepFactor` every `stepEvery`
   * epochs; a function gets `(epoch, baseRate)`.
   */
  schedule?: LearningRateSchedule;
  /** Floor of the cosine schedule (default `0`). */
  minLearningRate?: number;
  /** Epochs between step decays (default `10`). */
  stepEvery?: number;
  /** Factor of each step decay (default `0.5`). */
  stepFactor?: number;
  /**
   * Stop when the monitored validation metric has not improved for this many epochs. Default: no early stopping.
   * Needs validation data.
   */
  patience?: number;
  /** Metric watched by early stopping (default `'valLoss'`). */
  monitor?: 'valLoss' | 'valAcc';
  /** With early stopping, put back the weights of the best epoch at the end (default `true`). */
  restoreBestWeights?: boolean;
  /**
   * First epoch to run, for resuming a run from a checkpoint: epochs before it are skipped, and the schedule,
   * shuffles and erasing continue as if the run had never stopped (default `0`).
   */
  initialEpoch?: number;
  /** Called after every batch; may return a promise, which is awaited. */
  onBatchEnd?: (progress: BatchProgress) => void | Promise<void>;
  /** Called after every epoch (e.g. to checkpoint); may return a promise, which is awaited. */
  onEpochEnd?: (log: EpochLog) => void | Promise<void>;
  /** Aborts the run after the current batch; the history then says `'aborted'`. */
  signal?: AbortSignal;
}

/**
 * The defaults of {@link trainCnn}.
 *
 * @example
 * ```ts
 * TRAIN_CNN_DEFAULTS.batchSize; // 64
 * ```
 */
export const TRAIN_CNN_DEFAULTS: Readonly<TrainCnnOptions> = Object.freeze({
  epochs: 10,
  batchSize: 64,
  seed: undefined,
  shuffle: true,
  eraseFraction: 0.15,
  erase: undefined,
  validationSplit: 0,
  validationData: undefined,
  learningRate: undefined,
  schedule: 'constant',
  minLearningRate: 0,
  stepEvery: 10,
  stepFactor: 0.5,
  patience: undefined,
  monitor: 'valLoss',
  restoreBestWeights: true,
  initialEpoch: 0,
  onBatchEnd: undefined,
  onEpochEnd: undefined,
  signal: undefined,
});

const WHERE = 'trainCnn';

/**
 * The learning rate of epoch `epoch` (0-based) under a schedule; exported so scripts can print the plan and
 * tests can check it.
 *
 * @example
 * ```ts
 * learningRateAt('cosine', 0, 10, 0.001); // 0.001
 * learningRateAt('cosine', 5, 10, 0.001); // 0.0005
 * ```
 */
export function learningRateAt(
  schedule: LearningRateSchedule,
  epoch: number,
  epochs: number,
  baseRate: number,
  options: { minLearningRate?: number; stepEvery?: number; stepFactor?: number } = {},
): number {
  const { minLearningRate = 0, stepEvery = 10, stepFactor = 0.5 } = options;
  if (typeof schedule === 'function') {
    const lr = schedule(epoch, baseRate);
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr <= 0) {
      throw new RangeError(
        `${WHERE}: the schedule returned ${show(lr)} for epoch ${epoch}; expected a number > 0`,
      );
    }
    return lr;
  }
  if (schedule === 'cosine') {
    return minLearningRate + ((baseRate - minLearningRate) * (1 + Math.cos((Math.PI * epoch) / epochs))) / 2;
  }
  if (schedule === 'step') return baseRate * stepFactor ** Math.floor(epoch / stepEvery);
  return baseRate;
}

/** Optimizers whose step size can be changed between batches (every tfjs-core optimizer has the field). */
interface HasLearningRate {
  learningRate: number;
}

function optimizerOf(model: tfl.LayersModel): tf.Optimizer & HasLearningRate {
  const opt = model.optimizer as (tf.Optimizer & Partial<HasLearningRate>) | undefined;
  if (!opt) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `${WHERE}: the model is not compiled; call model.compile() first`,
    );
  }
  if (typeof opt.learningRate !== 'number') {
    throw new FashionMnistError(
      'BAD_INPUT',
      `${WHERE}: optimizer ${opt.getClassName()} has no numeric learningRate to schedule`,
    );
  }
  return opt as tf.Optimizer & HasLearningRate;
}

/** Dropout layers read their `seed` field on every call; setting it per batch makes masks reproducible. */
interface SeededLayer {
  seed?: number;
}

function dropoutLayers(model: tfl.LayersModel): SeededLayer[] {
  return model.layers.filter((l) => l.getClassName() === 'Dropout') as unknown as SeededLayer[];
}

/**
 * A seeded generator for one purpose of one epoch, so that resuming at epoch `e` replays exactly what an
 * uninterrupted run would have done there.
 */
function rngFor(seed: number | undefined, epoch: number, purpose: string): () => number {
  return createRandomSource(seed === undefined ? undefined : `${seed}/${epoch}/${purpose}`);
}

function resolveEraser(options: unknown, shape: [number, number, number]): RandomErasingConfig {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw new TypeError(
      `${WHERE}: option 'erase' must be an object of RandomErasingOptions, received ${show(options)}`,
    );
  }
  for (const key of ['p', 'seed'] as const) {
    if (options && key in options) {
      throw new TypeError(
        `${WHERE}: option 'erase.${key}' is not allowed; use trainCnn's ${key === 'p' ? 'eraseFraction' : 'seed'}`,
      );
    }
  }
  // p = 1: the training loop has already decided (with probability eraseFraction) that this image is erased.
  const config = resolveRandomErasingOptions({ v_h: 1, ...(options as RandomErasingOptions), p: 1 });
  assertRectangleCanFit(config, shape[0], shape[1]);
  return config;
}

function checkSplit(name: string, split: unknown, inputShape: [number, number, number]): Split {
  const s = split as Split;
  if (
    typeof s !== 'object' ||
    s === null ||
    !(s.images instanceof Uint8Array) ||
    !(s.labels instanceof Uint8Array) ||
    typeof s.count !== 'number'
  ) {
    throw new TypeError(
      `${WHERE}: ${name} must be a Split ({ images, labels, count, height, width }), received ${show(split)}`,
    );
  }
  if (s.height !== inputShape[0] || s.width !== inputShape[1] || inputShape[2] !== 1) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `${WHERE}: ${name} holds ${s.height}x${s.width} grayscale images but the model takes [${inputShape.join(', ')}]`,
    );
  }
  if (s.images.length < s.count * s.height * s.width || s.labels.length < s.count) {
    throw new FashionMnistError('BAD_INPUT', `${WHERE}: ${name} has fewer bytes than its count says`);
  }
  return s;
}

/**
 * Trains a compiled classifier (such as {@link buildCnn}'s) on a split with the reference recipe and more:
 * seeded shuffling, random erasing of a fraction of each batch, validation, early stopping, a learning-rate
 * schedule, and progress callbacks with images/s and ETA.
 *
 * The loop is written on `model.trainOnBatch` rather than `model.fit` so that erasing and every random choice
 * (shuffle, erasing, dropout masks) come from one seed. Images stay as bytes; only one batch at a time becomes
 * a tensor, so memory does not grow with the data or the number of epochs.
 *
 * @throws TypeError / RangeError for bad options; FashionMnistError `BAD_INPUT` for an uncompiled model or data
 * that does not fit it.
 * @example
 * ```ts
 * import { buildCnn, trainCnn, evaluateCnn } from 'fashion-mnist-tfjs';
 * import { loadSample } from 'fashion-mnist-tfjs/node';
 *
 * const data = await loadSample();
 * const model = buildCnn({ seed: 1 });
 * const history = await trainCnn(model, data.train, {
 *   epochs: 5, seed: 1, schedule: 'cosine', validationData: data.test,
 *   onEpochEnd: (e) => console.log(`epoch ${e.epoch + 1}: loss ${e.loss.toFixed(3)} val ${e.valAcc}`),
 * });
 * ```
 */
export async function trainCnn(
  model: tfl.LayersModel,
  data: Split,
  options?: TrainCnnOptions,
): Promise<TrainHistory> {
  const o = mergeOptions(WHERE, TRAIN_CNN_DEFAULTS, options);
  const epochs = checkNumber(WHERE, 'epochs', o.epochs, { integer: true, min: 1 });
  const batchSize = checkNumber(WHERE, 'batchSize', o.batchSize, { integer: true, min: 1 });
  const seed =
    o.seed === undefined ? undefined : checkNumber(WHERE, 'seed', o.seed, { integer: true, min: 0 });
  const shuffle = checkBoolean(WHERE, 'shuffle', o.shuffle);
  const eraseFraction = checkNumber(WHERE, 'eraseFraction', o.eraseFraction, { min: 0, max: 1 });
  const validationSplit = checkNumber(WHERE, 'validationSplit', o.validationSplit, {
    min: 0,
    max: 1,
    maxExclusive: true,
  });
  const minLearningRate = checkNumber(WHERE, 'minLearningRate', o.minLearningRate, { min: 0 });
  const stepEvery = checkNumber(WHERE, 'stepEvery', o.stepEvery, { integer: true, min: 1 });
  const stepFactor = checkNumber(WHERE, 'stepFactor', o.stepFactor, { min: 0, minExclusive: true, max: 1 });
  const schedule =
    typeof o.schedule === 'function'
      ? o.schedule
      : checkOneOf(WHERE, 'schedule', o.schedule, ['constant', 'cosine', 'step'] as const);
  const patience =
    o.patience === undefined
      ? undefined
      : checkNumber(WHERE, 'patience', o.patience, { integer: true, min: 0 });
  const monitor = checkOneOf(WHERE, 'monitor', o.monitor, ['valLoss', 'valAcc'] as const);
  const restoreBest = checkBoolean(WHERE, 'restoreBestWeights', o.restoreBestWeights);
  const initialEpoch = checkNumber(WHERE, 'initialEpoch', o.initialEpoch, {
    integer: true,
    min: 0,
    max: epochs,
  });
  const onBatchEnd = checkFunction<NonNullable<TrainCnnOptions['onBatchEnd']>>(
    WHERE,
    'onBatchEnd',
    o.onBatchEnd,
  );
  const onEpochEnd = checkFunction<NonNullable<TrainCnnOptions['onEpochEnd']>>(
    WHERE,
    'onEpochEnd',
    o.onEpochEnd,
  );
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TypeError(`${WHERE}: option 'signal' must be an AbortSignal, received ${show(o.signal)}`);
  }
  const optimizer = optimizerOf(model);
  const baseRate =
    o.learningRate === undefined
      ? optimizer.learningRate
      : checkNumber(WHERE, 'learningRate', o.learningRate, { min: 0, minExclusive: true });

  const inputShape = model.inputs[0].shape.slice(1) as [number, number, number];
  const classes = model.outputs[0].shape[1] as number;
  let train = checkSplit('data', data, inputShape);
  let validation: Split | undefined;
  if (o.validationData !== undefined) {
    validation = checkSplit('validationData', o.validationData, inputShape);
  } else if (validationSplit > 0) {
    const nVal = Math.round(train.count * validationSplit);
    if (nVal < 1 || nVal >= train.count) {
      throw new RangeError(
        `${WHERE}: validationSplit ${validationSplit} of ${train.count} images leaves no validation or no training images`,
      );
    }
    validation = subset(train, train.count - nVal);
    train = subset(train, 0, train.count - nVal);
  }
  if (train.count === 0) throw new FashionMnistError('BAD_INPUT', `${WHERE}: no training images`);
  for (let i = 0; i < train.count; i++) {
    if (train.labels[i] >= classes) {
      throw new FashionMnistError(
        'BAD_INPUT',
        `${WHERE}: label ${train.labels[i]} at ${i} is not a class 0..${classes - 1}`,
      );
    }
  }
  if (patience !== undefined && !validation) {
    throw new RangeError(
      `${WHERE}: early stopping ('patience') needs validationData or a validationSplit > 0`,
    );
  }
  // Resolved before training starts so that bad erase options fail fast.
  const eraser = eraseFraction > 0 ? resolveEraser(o.erase, inputShape) : undefined;

  const px = inputShape[0] * inputShape[1] * inputShape[2];
  const batches = Math.ceil(train.count / batchSize);
  const dropouts = dropoutLayers(model);
  const history: TrainHistory = { epochs: [], stopReason: 'completed', seconds: 0 };
  const runStart = performance.now();
  let best = Number.POSITIVE_INFINITY;
  let bestEpoch = -1;
  let bestWeights: tf.Tensor[] | undefined;
  let sinceBest = 0;
  const seedBackup = dropouts.map((d) => d.seed);
  const rateBackup = optimizer.learningRate;

  try {
    for (let epoch = initialEpoch; epoch < epochs; epoch++) {
      const epochStart = performance.now();
      const lr = learningRateAt(schedule, epoch, epochs, baseRate, {
        minLearningRate,
        stepEvery,
        stepFactor,
      });
      optimizer.learningRate = lr;
      const order = shuffle
        ? permutation(train.count, seed === undefined ? undefined : `${seed}/${epoch}/shuffle`)
        : Int32Array.from({ length: train.count }, (_, i) => i);
      const eraseRng = rngFor(seed, epoch, 'erase');
      const dropoutRng = rngFor(seed, epoch, 'dropout');
      let lossSum = 0;
      let accSum = 0;
      let seen = 0;
      for (let b = 0; b < batches; b++) {
        if (o.signal?.aborted) {
          history.stopReason = 'aborted';
          break;
        }
        const start = b * batchSize;
        const n = Math.min(batchSize, train.count - start);
        const pixels = new Float32Array(n * px);
        const onehot = new Float32Array(n * classes);
        for (let j = 0; j < n; j++) {
          const i = order[start + j];
          const src = train.images.subarray(i * px, (i + 1) * px);
          const dst = pixels.subarray(j * px, (j + 1) * px);
          for (let k = 0; k < px; k++) dst[k] = src[k] / 255;
          onehot[j * classes + train.labels[i]] = 1;
          // The draw happens for every image so that which images get erased does not depend on the others.
          if (eraser && eraseRng() < eraseFraction) {
            dst.set(applyErase(dst, inputShape, sampleEraseParams(eraseRng, ...inputShape, eraser)));
          }
        }
        for (const d of dropouts) d.seed = Math.floor(dropoutRng() * 2 ** 31);
        const xs = tf.tensor4d(pixels, [n, inputShape[0], inputShape[1], inputShape[2]]);
        const ys = tf.tensor2d(onehot, [n, classes]);
        let result: number | number[];
        try {
          result = await model.trainOnBatch(xs, ys);
        } finally {
          xs.dispose();
          ys.dispose();
        }
        const [loss, acc] = Array.isArray(result) ? result : [result, Number.NaN];
        lossSum += loss * n;
        accSum += acc * n;
        seen += n;
        if (onBatchEnd) {
          const elapsed = (performance.now() - epochStart) / 1000;
          const rate = seen / elapsed;
          const remaining = train.count - seen + (epochs - epoch - 1) * train.count;
          await onBatchEnd({
            epoch,
            epochs,
            batch: b,
            batches,
            loss,
            acc,
            imagesPerSec: rate,
            etaSeconds: remaining / rate,
          });
        }
      }
      // Callbacks may save the model: do not let the last batch's dropout seed end up in a model.json.
      dropouts.forEach((d, i) => {
        d.seed = seedBackup[i];
      });
      if (history.stopReason === 'aborted' && seen === 0) break;
      const trainSeconds = (performance.now() - epochStart) / 1000;
      const log: EpochLog = {
        epoch,
        epochs,
        loss: lossSum / seen,
        acc: accSum / seen,
        learningRate: lr,
        seconds: 0,
        imagesPerSec: seen / trainSeconds,
        etaSeconds: 0,
      };
      if (validation) {
        const ev = await evaluateCnn(model, validation);
        log.valLoss = ev.loss;
        log.valAcc = ev.accuracy;
      }
      log.seconds = (performance.now() - epochStart) / 1000;
      log.etaSeconds = (epochs - epoch - 1) * log.seconds;
      history.epochs.push(log);
      if (onEpochEnd) await onEpochEnd(log);
      if (history.stopReason === 'aborted') break;

      if (patience !== undefined && log.valLoss !== undefined && log.valAcc !== undefined) {
        const score = monitor === 'valLoss' ? log.valLoss : -log.valAcc;
        if (score < best) {
          best = score;
          bestEpoch = epoch;
          sinceBest = 0;
          if (restoreBest) {
            if (bestWeights) tf.dispose(bestWeights);
            bestWeights = model.getWeights().map((w) => tf.keep(tf.clone(w)));
          }
        } else if (++sinceBest > patience) {
          history.stopReason = 'early-stopping';
          break;
        }
      }
    }
    if (bestWeights && bestEpoch !== history.epochs[history.epochs.length - 1]?.epoch) {
      model.setWeights(bestWeights);
      history.restoredEpoch = bestEpoch;
    }
  } finally {
    if (bestWeights) tf.dispose(bestWeights);
    // Leave the model as it came: no fixed dropout seed in its saved config, and the rate the caller compiled.
    dropouts.forEach((d, i) => {
      d.seed = seedBackup[i];
    });
    optimizer.learningRate = rateBackup;
  }
  history.seconds = (performance.now() - runStart) / 1000;
  return history;
}
