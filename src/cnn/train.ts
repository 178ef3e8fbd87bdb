import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  type CropFlipOptions,
  resolveCropFlipOptions,
  sampleCropFlip,
  writeCropFlip,
} from '../augment/crop-flip.js';
import { assertRectangleCanFit, type RandomErasingOptions, writeErase } from '../augment/erasing.js';
import { RandomEraser } from '../augment/random-eraser.js';
import { checkSplitArg, type Split, subset } from '../data/split.js';
import { FashionMnistError } from '../errors.js';
import { checkSeed, createRandomSource, freshSeed, permutationFrom, type Seed } from '../internal/random.js';
import {
  badOption,
  checkBoolean,
  checkFunction,
  checkNumber,
  checkOneOf,
  mergeOptions,
  show,
} from '../internal/validate.js';
import {
  type CnnPoolSession,
  type CnnTrainingPool,
  checkPoolableModel,
  dropoutKey,
  pooledStep,
  trainableSizes,
} from './data-parallel.js';
import { SeededDropout } from './dropout.js';
import { evaluateCnn } from './evaluate.js';
import { fusedStepPlan } from './fused-step.js';
import { allLayers } from './layers.js';
import { ScheduledAdam } from './optimizer.js';

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
 * const options: TrainCnnOptions = { epochs: 40, seed: 1, schedule: 'cosine', erasing: { p: 0.15 } };
 * ```
 */
export interface TrainCnnOptions {
  /** Epochs to train (default `10`). */
  epochs?: number;
  /** Images per batch (default `64`, as the reference). */
  batchSize?: number;
  /**
   * Seed of everything random in training (a number or a string; `7` and `'7'` are the same): shuffling, which
   * images are erased and how, and the dropout masks of {@link buildCnn}'s layers. The same seed, model and
   * backend give the same run. Undefined: a fresh random run each time.
   */
  seed?: Seed;
  /** Shuffle the training images every epoch (default `true`). */
  shuffle?: boolean;
  /**
   * Random erasing of the training images (default: off).
   *
   * - `RandomErasingOptions` (the same as `RandomEraser`'s, with the same defaults): each training image is
   *   erased with probability `p` (the reference recipe is `{ p: 0.15 }`). Its stream is derived per epoch from
   *   `erasing.seed`, or else from the run's `seed`, so resuming at an epoch replays the erasing too.
   * - a `RandomEraser`: used as it is (its options, its stream, its `stats`), e.g. to count what it did.
   * - `false` or omitted: no erasing.
   *
   * Erasing works on the split's own pixel values (0..255, like the bytes of the split), before they are
   * normalised to [0, 1], so the default fill values (uniform in 0..255) suit it. A model that contains a
   * `RandomErasing` layer erases by itself in training: with erasing on here too, `trainCnn` refuses it.
   */
  erasing?: RandomErasingOptions | RandomEraser | false;
  /**
   * Random crop of the zero-padded image and horizontal flip of each training image, applied before erasing
   * (torchvision's `RandomCrop(size, padding)` then `RandomHorizontalFlip(p)`), e.g. `{ padding: 2, flip: 0.5 }`;
   * `{}` takes those defaults. Its stream is derived per epoch from the run's `seed`, so a resumed run replays it.
   * `false` or omitted: off (default).
   */
  cropFlip?: CropFlipOptions | false;
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
  /**
   * Data-parallel training on more cores: replicas of the model that each compute the gradients of one shard of
   * every batch while this thread computes another (in Node: `cnnWorkerPool()` of `fashion-mnist-tfjs/node`).
   * The gradients are summed weighted by shard size (the whole batch's gradient) and the optimizer steps once
   * per batch, so the run is the one without a pool up to float32 rounding, except for dropout: with a `seed`,
   * each shard's masks come from a stream of (seed, epoch, batch, shard), so results depend on the pool's
   * worker count (reproducible for a given count). The loss must be categorical cross-entropy, and models with
   * BatchNormalization layers are refused (`BAD_OPTION`). Batch accuracy is then categorical accuracy. The pool
   * serves one run at a time and stays open afterwards (dispose it yourself).
   */
  pool?: CnnTrainingPool;
  /**
   * Train with the library's tape-free step where it applies (default `true`): for the sequential networks
   * `buildCnn` makes (not `'vgg-bn'`, whose batch normalisation it does not compute) on the `cpu` and `wasm`
   * backends, each batch's gradients are computed by fused ops and hand-written backward formulas instead of
   * tfjs-layers' gradient tape, and on `wasm` with `installWasmTrainingKernels()` the first convolution block
   * runs as one kernel each way. The results are tfjs-layers' `trainOnBatch`'s up to float32 rounding (same
   * loss, gradients and dropout masks); the reference CNN trains about 1.5× faster on wasm. `false` always
   * uses `model.trainOnBatch`.
   */
  fusedStep?: boolean;
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
  erasing: false,
  cropFlip: false,
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
  pool: undefined,
  fusedStep: true,
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
      throw badOption(
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

/** The learning rate an optimizer reports in its (public) config, if it has one. */
function configuredRate(optimizer: tf.Optimizer): number | undefined {
  const rate = optimizer.getConfig()['learningRate'];
  return typeof rate === 'number' && Number.isFinite(rate) && rate > 0 ? rate : undefined;
}

/**
 * Sets the learning rate of `model`'s optimizer epoch by epoch, through public APIs only, and puts things back
 * at the end. With a {@link ScheduledAdam} (what buildCnn compiles with) that is `setLearningRate`. A plain
 * tfjs Adam (compiled by name, or deserialised from a checkpoint) keeps its rate in a protected field, so for a
 * run that needs other rates it is stood in for by a ScheduledAdam with the same settings and state (moved with
 * the public getWeights/setWeights, which share the tensors) and gets the state back when the run ends.
 */
class RateControl {
  private constructor(
    private readonly model: tfl.LayersModel,
    private readonly original: tf.Optimizer,
    private readonly adam: ScheduledAdam | undefined,
    private readonly stand: boolean,
    private readonly initialRate: number | undefined,
  ) {}

  static async take(model: tfl.LayersModel, rates: number[]): Promise<RateControl> {
    const original = model.optimizer as tf.Optimizer | undefined;
    if (!original) {
      throw new FashionMnistError(
        'BAD_INPUT',
        `${WHERE}: the model is not compiled; call model.compile() first`,
      );
    }
    if (original instanceof ScheduledAdam) {
      return new RateControl(model, original, original, false, original.learningRate);
    }
    const current = configuredRate(original);
    if (rates.every((r) => r === current)) return new RateControl(model, original, undefined, false, current);
    if (original.getClassName() !== 'Adam') {
      throw badOption(
        `${WHERE}: the run needs learning rates ${[...new Set(rates)].join(', ')} but the model's optimizer ` +
          `${original.getClassName()} offers no public way to change its rate; compile the model with ` +
          "Adam (buildCnn's optimizer, or compile({ optimizer: 'adam' })) or leave 'learningRate' and 'schedule' at " +
          'their defaults',
      );
    }
    const config = original.getConfig();
    const stand = new ScheduledAdam(
      rates[0],
      config['beta1'] as number,
      config['beta2'] as number,
      config['epsilon'] as number,
    );
    const state = await original.getWeights();
    try {
      await stand.setWeights(state);
    } finally {
      tf.dispose(state[0]!.tensor); // the iteration counter getWeights made; the rest is the live state
    }
    model.optimizer = stand;
    return new RateControl(model, original, stand, true, current);
  }

  /** The rate the run starts from when the caller gives none. */
  get baseRate(): number | undefined {
    return this.initialRate;
  }

  set(rate: number): void {
    this.adam?.setLearningRate(rate);
  }

  async release(): Promise<void> {
    if (!this.adam) return;
    if (!this.stand) {
      if (this.initialRate !== undefined) this.adam.setLearningRate(this.initialRate);
      return;
    }
    // The stand-in's state goes back into the original optimizer, whose old state tensors are then freed.
    const old = await this.original.getWeights();
    const state = await this.adam.getWeights();
    try {
      await this.original.setWeights(state);
    } finally {
      tf.dispose([state[0]!.tensor, ...old.map((w) => w.tensor)]);
    }
    this.model.optimizer = this.original;
    this.adam.dispose();
  }
}

/** The erasing of a run: a RandomEraser per epoch (options), or the caller's own RandomEraser. */
type Erasing =
  | { kind: 'off' }
  | { kind: 'eraser'; eraser: RandomEraser }
  | { kind: 'options'; options: RandomErasingOptions; seed: Seed };

function resolveErasing(value: unknown, runSeed: Seed | undefined, shape: [number, number, number]): Erasing {
  if (value === undefined || value === false) return { kind: 'off' };
  let erasing: Erasing;
  if (value instanceof RandomEraser) {
    erasing = { kind: 'eraser', eraser: value };
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    // Validated now (a RandomEraser checks everything, the seed included), so that bad options fail fast.
    const probe = new RandomEraser(value as RandomErasingOptions);
    const own = (value as RandomErasingOptions).seed;
    erasing = {
      kind: 'options',
      options: value as RandomErasingOptions,
      seed: own ?? runSeed ?? freshSeed(),
    };
    assertRectangleCanFit(probe.options, shape[0], shape[1]);
    return erasing;
  } else {
    throw badOption(
      `${WHERE}: option 'erasing' must be RandomErasingOptions, a RandomEraser or false, received ${show(value)}`,
    );
  }
  assertRectangleCanFit(erasing.eraser.options, shape[0], shape[1]);
  return erasing;
}

function eraserFor(erasing: Erasing, epoch: number): RandomEraser | undefined {
  if (erasing.kind === 'off') return undefined;
  if (erasing.kind === 'eraser') return erasing.eraser;
  return new RandomEraser({ ...erasing.options, seed: `${erasing.seed}/${epoch}/erase` });
}

function checkSplit(name: string, split: unknown, inputShape: [number, number, number]): Split {
  const s = checkSplitArg(WHERE, split, name);
  if (s.height !== inputShape[0] || s.width !== inputShape[1] || inputShape[2] !== 1) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `${WHERE}: ${name} holds ${s.height}x${s.width} grayscale images but the model takes [${inputShape.join(', ')}]`,
    );
  }
  if (s.images.length < s.count * s.height * s.width) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `${WHERE}: ${name} has ${s.images.length} pixel bytes, fewer than its count ${s.count} × ${s.height} × ${s.width}`,
    );
  }
  if (s.labels.length < s.count) {
    throw new FashionMnistError(
      'COUNT_MISMATCH',
      `${WHERE}: ${name} has ${s.labels.length} labels for ${s.count} images`,
    );
  }
  return s;
}

/** 0.1.0 option names and what replaced them, for a message that says what to do. */
const RENAMED: Readonly<Record<string, string>> = {
  eraseFraction:
    "option 'eraseFraction' was replaced in 0.2.0 by 'erasing: { p }' (e.g. erasing: { p: 0.15 })",
  erase: "option 'erase' was replaced in 0.2.0 by 'erasing' (RandomErasingOptions with p, or a RandomEraser)",
};

/**
 * Trains a compiled classifier (such as {@link buildCnn}'s) on a split with the reference recipe and more:
 * seeded shuffling, random erasing (the same `RandomErasingOptions` as `RandomEraser`, or a `RandomEraser`),
 * validation, early stopping, a learning-rate schedule, and progress callbacks with images/s and ETA.
 *
 * The loop is written on `model.trainOnBatch` rather than `model.fit` so that erasing and every random choice
 * (shuffle, erasing, dropout masks) come from one seed. Images stay as bytes; only one batch at a time becomes
 * a tensor, so memory does not grow with the data or the number of epochs.
 *
 * Learning rates are set through a public `setLearningRate` of the Adam that {@link buildCnn} compiles with; a
 * plain tfjs Adam (`compile({ optimizer: 'adam' })`) is stood in for by one for the run when the run needs other
 * rates (its state moves over and back); other optimizers are refused when the run needs another rate. Dropout
 * masks are seeded in buildCnn's `Dropout` layers (and those of models loaded with this library's `loadModel` /
 * `loadPretrained`, or with tfjs after `buildCnn` has run); other dropout layers draw their own masks.
 *
 * @throws FashionMnistError `BAD_OPTION` for bad options, and for a model that contains a `RandomErasing` layer
 * while `erasing` is on (images would be erased twice); `BAD_INPUT` for an uncompiled model; `BAD_SHAPE` for data
 * that does not fit the model; `BAD_LABEL` for a label that is not one of the model's classes.
 * @example
 * ```ts
 * import { buildCnn, trainCnn, evaluateCnn } from 'fashion-mnist-tfjs';
 * import { loadSample } from 'fashion-mnist-tfjs/node';
 *
 * const data = await loadSample();
 * const model = buildCnn({ seed: 1 });
 * const history = await trainCnn(model, data.train, {
 *   epochs: 5, seed: 1, schedule: 'cosine', erasing: { p: 0.15 }, validationData: data.test,
 *   onEpochEnd: (e) => console.log(`epoch ${e.epoch + 1}: loss ${e.loss.toFixed(3)} val ${e.valAcc}`),
 * });
 * ```
 */
export async function trainCnn(
  model: tfl.LayersModel,
  data: Split,
  options?: TrainCnnOptions,
): Promise<TrainHistory> {
  if (options !== null && typeof options === 'object') {
    for (const key of Object.keys(RENAMED)) {
      if (key in options) throw badOption(`${WHERE}: ${RENAMED[key]}`);
    }
  }
  const o = mergeOptions(WHERE, TRAIN_CNN_DEFAULTS, options);
  const epochs = checkNumber(WHERE, 'epochs', o.epochs, { integer: true, min: 1 });
  const batchSize = checkNumber(WHERE, 'batchSize', o.batchSize, { integer: true, min: 1 });
  const seed = o.seed === undefined ? undefined : checkSeed(WHERE, o.seed);
  const shuffle = checkBoolean(WHERE, 'shuffle', o.shuffle);
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
  const fusedStep = checkBoolean(WHERE, 'fusedStep', o.fusedStep);
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
    throw badOption(`${WHERE}: option 'signal' must be an AbortSignal, received ${show(o.signal)}`);
  }
  const pool = o.pool;
  if (
    pool !== undefined &&
    (pool === null ||
      typeof pool !== 'object' ||
      typeof (pool as { open?: unknown }).open !== 'function' ||
      typeof (pool as { workers?: unknown }).workers !== 'number')
  ) {
    throw badOption(
      `${WHERE}: option 'pool' must be a CnnTrainingPool (such as cnnWorkerPool() from fashion-mnist-tfjs/node), received ${show(pool)}`,
    );
  }
  const learningRate =
    o.learningRate === undefined
      ? undefined
      : checkNumber(WHERE, 'learningRate', o.learningRate, { min: 0, minExclusive: true });
  if (!model.optimizer) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `${WHERE}: the model is not compiled; call model.compile() first`,
    );
  }

  const inputShape = model.inputs[0].shape.slice(1) as [number, number, number];
  const classes = model.outputs[0].shape[1] as number;
  let train = checkSplit('data', data, inputShape);
  let validation: Split | undefined;
  if (o.validationData !== undefined) {
    validation = checkSplit('validationData', o.validationData, inputShape);
  } else if (validationSplit > 0) {
    const nVal = Math.round(train.count * validationSplit);
    if (nVal < 1 || nVal >= train.count) {
      throw badOption(
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
        'BAD_LABEL',
        `${WHERE}: label ${train.labels[i]} at ${i} is not a class 0..${classes - 1}`,
      );
    }
  }
  if (patience !== undefined && !validation) {
    throw badOption(`${WHERE}: early stopping ('patience') needs validationData or a validationSplit > 0`);
  }
  // Resolved before training starts so that bad erasing options fail fast.
  const erasing = resolveErasing(o.erasing, seed, inputShape);
  const cropFlip = o.cropFlip === false ? undefined : resolveCropFlipOptions(WHERE, o.cropFlip);
  if (cropFlip && (cropFlip.padding >= inputShape[0] || cropFlip.padding >= inputShape[1])) {
    throw badOption(
      `${WHERE}: option 'cropFlip.padding' ${cropFlip.padding} must be smaller than the ${inputShape[0]}x${inputShape[1]} image`,
    );
  }
  if (pool) checkPoolableModel(model, WHERE);
  // Without a seed the run is random anyway; one fresh seed then serves every epoch's crop stream.
  const cropSeed = seed ?? freshSeed();
  const layers = allLayers(model);
  const erasingLayer = layers.find((l) => l.getClassName() === 'RandomErasing');
  if (erasing.kind !== 'off' && erasingLayer) {
    throw badOption(
      `${WHERE}: the model contains a RandomErasing layer ('${erasingLayer.name}'), which erases in training, and ` +
        "option 'erasing' is on too, so images would be erased twice; remove the layer or pass erasing: false",
    );
  }

  // The whole rate plan is known up front, so that an optimizer whose rate cannot change is refused before
  // any work is done.
  const current =
    model.optimizer instanceof ScheduledAdam ? model.optimizer.learningRate : configuredRate(model.optimizer);
  const baseRate = learningRate ?? current;
  if (baseRate === undefined) {
    throw badOption(
      `${WHERE}: optimizer ${model.optimizer.getClassName()} reports no learning rate; pass option 'learningRate'`,
    );
  }
  const rates: number[] = [];
  for (let epoch = initialEpoch; epoch < epochs; epoch++) {
    rates.push(learningRateAt(schedule, epoch, epochs, baseRate, { minLearningRate, stepEvery, stepFactor }));
  }

  const px = inputShape[0] * inputShape[1] * inputShape[2];
  const batches = Math.ceil(train.count / batchSize);
  const dropouts = layers.filter((l): l is SeededDropout => l instanceof SeededDropout);
  const history: TrainHistory = { epochs: [], stopReason: 'completed', seconds: 0 };
  const runStart = performance.now();
  let best = Number.POSITIVE_INFINITY;
  let bestEpoch = -1;
  let bestWeights: tf.Tensor[] | undefined;
  let sinceBest = 0;
  const rate = await RateControl.take(model, rates);
  let session: CnnPoolSession | undefined;

  try {
    // With a pool: the replicas start from the model as it is now; scratch holds the summed gradients.
    session = pool ? await pool.open(model, WHERE) : undefined;
    const scratch = session
      ? new Float32Array(trainableSizes(model).reduce((a, b) => a + b, 0))
      : new Float32Array(0);
    // The tape-free step, where it applies to this model on this backend (else model.trainOnBatch).
    const plan = fusedStep ? fusedStepPlan(model) : null;
    for (let epoch = initialEpoch; epoch < epochs; epoch++) {
      const epochStart = performance.now();
      const lr = rates[epoch - initialEpoch]!;
      rate.set(lr);
      const order = shuffle
        ? permutationFrom(train.count, createRandomSource(seed, epoch, 'shuffle'))
        : Int32Array.from({ length: train.count }, (_, i) => i);
      const eraser = eraserFor(erasing, epoch);
      const cropRandom = cropFlip ? createRandomSource(cropSeed, epoch, 'crop-flip') : undefined;
      // One stream per epoch, shared by the dropout layers in the order they run, so that resuming at an epoch
      // replays its masks.
      const dropoutRandom = seed === undefined ? undefined : createRandomSource(seed, epoch, 'dropout');
      for (const d of dropouts) d.setRandomSource(dropoutRandom);
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
          if (cropFlip && cropRandom) {
            const params = sampleCropFlip(cropFlip, cropRandom);
            writeCropFlip(train.images, i * px, pixels, j * px, ...inputShape, params);
          } else {
            pixels.set(train.images.subarray(i * px, (i + 1) * px), j * px);
          }
          onehot[j * classes + train.labels[i]] = 1;
          // In the split's own units (0..255), with the erasing core's apply step and float32 rule.
          if (eraser) {
            writeErase(
              pixels,
              j * px,
              inputShape[1],
              inputShape[2],
              eraser.sampleParams(...inputShape),
              'float32',
            );
          }
        }
        for (let k = 0; k < pixels.length; k++) pixels[k] = pixels[k] / 255;
        let result: number | number[];
        if (session) {
          const keyOf = seed === undefined ? undefined : (s: number) => dropoutKey(seed, epoch, b, s);
          result = await pooledStep(model, session, dropouts, { pixels, onehot, n }, keyOf, scratch, plan);
        } else {
          const xs = tf.tensor4d(pixels, [n, inputShape[0], inputShape[1], inputShape[2]]);
          const ys = tf.tensor2d(onehot, [n, classes]);
          try {
            result = plan ? plan.trainOnBatch(xs, ys, dropoutRandom) : await model.trainOnBatch(xs, ys);
          } finally {
            xs.dispose();
            ys.dispose();
          }
        }
        const [loss, acc] = Array.isArray(result) ? result : [result, Number.NaN];
        lossSum += loss * n;
        accSum += acc * n;
        seen += n;
        if (onBatchEnd) {
          const elapsed = (performance.now() - epochStart) / 1000;
          const speed = seen / elapsed;
          const remaining = train.count - seen + (epochs - epoch - 1) * train.count;
          await onBatchEnd({
            epoch,
            epochs,
            batch: b,
            batches,
            loss,
            acc,
            imagesPerSec: speed,
            etaSeconds: remaining / speed,
          });
        }
      }
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
    await session?.close();
    if (bestWeights) tf.dispose(bestWeights);
    // Leave the model as it came: dropout back to its own randomness, the optimizer and rate the caller had.
    for (const d of dropouts) d.setRandomSource(undefined);
    await rate.release();
  }
  history.seconds = (performance.now() - runStart) / 1000;
  return history;
}
