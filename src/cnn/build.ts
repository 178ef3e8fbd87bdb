import * as tfl from '@tensorflow/tfjs-layers';
import { requireBackend } from '../internal/backend.js';
import { checkSeed, createRandomSource, type Seed } from '../internal/random.js';
import { badOption, checkBoolean, checkNumber, mergeOptions, show } from '../internal/validate.js';
import { registerSeededDropout, SeededDropout } from './dropout.js';
import { ScheduledAdam } from './optimizer.js';

/**
 * The networks {@link buildCnn} can build, by name.
 *
 * - `'reference'` (default): the published study's CNN, 412,778 parameters, two 2×2 convolutions.
 * - `'vgg-bn'`: a batch-normalised VGG-style network for the best accuracy per unit of CPU time: Conv(32) →
 *   pool → Conv(64) → Conv(64) → pool → Conv(128) → pool, every convolution 3×3 without bias followed by
 *   BatchNormalization and ReLU, dropout after each pool, then Dense(256, relu) → dropout → Dense(10, softmax);
 *   427,626 trainable parameters, about 7× the reference's arithmetic per image. The shipped `fashion-vgg-bn`
 *   model is this network.
 */
export type CnnArchitecture = 'reference' | 'vgg-bn';

/** The names of {@link CnnArchitecture}, in order. */
export const CNN_ARCHITECTURES: readonly CnnArchitecture[] = Object.freeze(['reference', 'vgg-bn'] as const);

/**
 * Options of {@link buildCnn}; every field is optional and defaults to the reference network.
 *
 * @example
 * ```ts
 * const options: BuildCnnOptions = { filters: [32, 16], batchNorm: true, seed: 1 };
 * ```
 */
export interface BuildCnnOptions {
  /**
   * Which network (default `'reference'`). `'vgg-bn'` has its own fixed layer stack: the options that shape
   * the reference's stack (`filters`, `kernelSize`, `poolSize`, `batchNorm`) are refused with it, and its
   * dropout defaults are `convDropout: 0.1`, `denseDropout: 0.3`.
   */
  architecture?: CnnArchitecture;
  /** Filters of each convolution block, first to last; one block per entry (default `[64, 32]`). */
  filters?: readonly number[];
  /** Square kernel size of every convolution (default `2`). */
  kernelSize?: number;
  /** Square max-pooling window and stride after each convolution (default `2`). */
  poolSize?: number;
  /** Dropout rate after each convolution block (default `0.3`). */
  convDropout?: number;
  /** Units of the hidden dense layer (default `256`). */
  denseUnits?: number;
  /** Dropout rate after the hidden dense layer (default `0.5`). */
  denseDropout?: number;
  /** Number of output classes (default `10`). */
  classes?: number;
  /** `[height, width, channels]` of one input image (default `[28, 28, 1]`). */
  inputShape?: readonly [number, number, number];
  /** Adam learning rate used when `compile` is true (default `0.001`). */
  learningRate?: number;
  /** Compile with Adam, categorical cross-entropy and accuracy (default `true`). */
  compile?: boolean;
  /**
   * Opt-in batch normalisation after each convolution (before its ReLU), which lets the network train faster;
   * off by default because the reference network has none.
   */
  batchNorm?: boolean;
  /**
   * Seed for the initial weights (a number or a string; `7` and `'7'` are the same): the same seed gives the
   * same initial weights on every backend; leave it undefined for fresh random weights on every call.
   */
  seed?: Seed;
}

/**
 * The defaults of {@link buildCnn}: the reference network.
 *
 * @example
 * ```ts
 * BUILD_CNN_DEFAULTS.denseUnits; // 256
 * ```
 */
export const BUILD_CNN_DEFAULTS: Readonly<BuildCnnOptions> = Object.freeze({
  architecture: 'reference',
  filters: Object.freeze([64, 32]),
  kernelSize: 2,
  poolSize: 2,
  convDropout: 0.3,
  denseUnits: 256,
  denseDropout: 0.5,
  classes: 10,
  inputShape: Object.freeze([28, 28, 1]) as readonly [number, number, number],
  learningRate: 0.001,
  compile: true,
  batchNorm: false,
  seed: undefined,
});

const WHERE = 'buildCnn';

function checkIntArray(name: string, value: unknown, length: number | undefined, min: number): number[] {
  const wanted = `an array of ${length ?? 'one or more'} integers >= ${min}`;
  if (!Array.isArray(value) || (length === undefined ? value.length === 0 : value.length !== length)) {
    throw badOption(`${WHERE}: option '${name}' must be ${wanted}, received ${show(value)}`);
  }
  return value.map((v, i) => checkNumber(WHERE, `${name}[${i}]`, v, { integer: true, min }));
}

/** The dropout defaults of the `'vgg-bn'` architecture (batch normalisation already regularises). */
const VGG_BN_DROPOUT = { convDropout: 0.1, denseDropout: 0.3 } as const;
/** Filters of each convolution of `'vgg-bn'`, stage by stage; a 2×2 max-pool ends each stage. */
const VGG_BN_STAGES: readonly (readonly number[])[] = [[32], [64, 64], [128]];

/** The fully validated options, as used to build the layers. */
interface ResolvedCnnOptions {
  architecture: CnnArchitecture;
  filters: number[];
  kernelSize: number;
  poolSize: number;
  convDropout: number;
  denseUnits: number;
  denseDropout: number;
  classes: number;
  inputShape: [number, number, number];
  learningRate: number;
  compile: boolean;
  batchNorm: boolean;
  seed: Seed | undefined;
}

function resolveOptions(options: unknown): ResolvedCnnOptions {
  const o = mergeOptions<BuildCnnOptions>(WHERE, BUILD_CNN_DEFAULTS, options);
  const architecture = o.architecture as unknown;
  if (typeof architecture !== 'string' || !(CNN_ARCHITECTURES as readonly string[]).includes(architecture)) {
    throw badOption(
      `${WHERE}: option 'architecture' must be one of ${CNN_ARCHITECTURES.map((a) => `'${a}'`).join(', ')}, ` +
        `received ${show(architecture)}`,
    );
  }
  if (architecture === 'vgg-bn') {
    const given = options as Record<string, unknown>;
    for (const name of ['filters', 'kernelSize', 'poolSize', 'batchNorm']) {
      if (given[name] !== undefined) {
        throw badOption(
          `${WHERE}: option '${name}' shapes the reference network and does not apply to architecture ` +
            `'vgg-bn' (its layer stack is fixed); remove it, or use architecture 'reference'`,
        );
      }
    }
    if (given.convDropout === undefined) o.convDropout = VGG_BN_DROPOUT.convDropout;
    if (given.denseDropout === undefined) o.denseDropout = VGG_BN_DROPOUT.denseDropout;
    o.filters = VGG_BN_STAGES.map((stage) => stage[stage.length - 1]!);
    o.poolSize = 2;
  }
  const filters = checkIntArray('filters', o.filters, undefined, 1);
  const inputShape = checkIntArray('inputShape', o.inputShape, 3, 1) as [number, number, number];
  const kernelSize = checkNumber(WHERE, 'kernelSize', o.kernelSize, { integer: true, min: 1 });
  const poolSize = checkNumber(WHERE, 'poolSize', o.poolSize, { integer: true, min: 1 });
  const rate = { min: 0, max: 1, maxExclusive: true };
  const convDropout = checkNumber(WHERE, 'convDropout', o.convDropout, rate);
  const denseDropout = checkNumber(WHERE, 'denseDropout', o.denseDropout, rate);
  const denseUnits = checkNumber(WHERE, 'denseUnits', o.denseUnits, { integer: true, min: 1 });
  const classes = checkNumber(WHERE, 'classes', o.classes, { integer: true, min: 2 });
  const learningRate = checkNumber(WHERE, 'learningRate', o.learningRate, { min: 0, minExclusive: true });
  const compile = checkBoolean(WHERE, 'compile', o.compile);
  const batchNorm = checkBoolean(WHERE, 'batchNorm', o.batchNorm);
  const seed = o.seed === undefined ? undefined : checkSeed(WHERE, o.seed);
  // Each pooling shrinks the image; refuse a stack that would pool it away to nothing rather than
  // let tfjs-layers fail later with a shape error that does not name the option.
  let [h, w] = inputShape;
  for (let i = 0; i < filters.length; i++) {
    h = Math.floor(h / poolSize);
    w = Math.floor(w / poolSize);
    if (h < 1 || w < 1) {
      throw badOption(
        `${WHERE}: ${filters.length} convolution blocks with poolSize ${poolSize} shrink a ` +
          `${inputShape[0]}x${inputShape[1]} input to nothing; use fewer 'filters' entries, a smaller 'poolSize' ` +
          `or a larger 'inputShape'`,
      );
    }
  }
  return {
    architecture: architecture as CnnArchitecture,
    filters,
    kernelSize,
    poolSize,
    convDropout,
    denseUnits,
    denseDropout,
    classes,
    inputShape,
    learningRate,
    compile,
    batchNorm,
    seed,
  };
}

/**
 * Builds the reference Fashion-MNIST CNN (or a variant of it) as a fresh `tf.LayersModel`.
 *
 * With the defaults it is exactly the reference network: Conv2D(64, 2×2, same, relu) → MaxPooling2D(2) →
 * Dropout(0.3) → Conv2D(32, 2×2, same, relu) → MaxPooling2D(2) → Dropout(0.3) → Flatten → Dense(256, relu) →
 * Dropout(0.5) → Dense(10, softmax), 412,778 trainable parameters, compiled with Adam(0.001), categorical
 * cross-entropy and accuracy. Kernels use Glorot-uniform initialisation as in Keras, where the reference was
 * written (tfjs-layers would otherwise default to Glorot-normal).
 *
 * The optimizer is an internal Adam (tfjs Adam's update, with a public `setLearningRate` that `trainCnn`'s
 * schedules use); it saves as a standard `Adam`, and `model.dispose()` frees it too. The dropout layers are an
 * internal tfjs Dropout whose masks `trainCnn` can seed; they save as standard `Dropout` layers. Calling
 * `buildCnn` (or this library's `loadModel` / `loadPretrained`) makes models loaded afterwards use the seedable
 * dropout as well, so that resumed checkpoints replay their dropout masks.
 *
 * `architecture: 'vgg-bn'` builds the second, batch-normalised network instead (see {@link CnnArchitecture}),
 * with the same head, optimizer and options for dropout, units, classes, input shape, learning rate and seed.
 *
 * No backend is imported: the model runs on whichever backend the caller has set.
 *
 * @throws FashionMnistError `BAD_OPTION` for an option of the wrong type, out of range, or unknown; `NO_BACKEND`
 *   when no TensorFlow.js backend is ready (the message says what to import and to `await tf.setBackend(…)`).
 * @example
 * ```ts
 * import '@tensorflow/tfjs-backend-cpu';
 * import { buildCnn } from 'fashion-mnist-tfjs';
 *
 * const model = buildCnn({ seed: 42 });
 * model.summary(); // Total params: 412,778
 * const wider = buildCnn({ filters: [128, 64], batchNorm: true, learningRate: 0.002 });
 * const second = buildCnn({ architecture: 'vgg-bn', seed: 1 }); // 427,626 parameters
 * ```
 */
export function buildCnn(options?: BuildCnnOptions): tfl.Sequential {
  const o = resolveOptions(options);
  requireBackend('buildCnn');
  registerSeededDropout();
  // One distinct seed per initializer, drawn from the one seeded stream: reusing a single seed would give every
  // layer of the same shape identical weights. tfjs treats a seed of 0 as "no seed", hence 1..2^31.
  const initRandom = o.seed === undefined ? undefined : createRandomSource(o.seed, 'init');
  const kernelInit = () =>
    tfl.initializers.glorotUniform(initRandom ? { seed: 1 + Math.floor(initRandom() * 2 ** 31) } : {});

  const model = new CnnSequential();
  if (o.architecture === 'vgg-bn') {
    addVggBnStages(model, o, kernelInit);
  } else {
    addReferenceBlocks(model, o, kernelInit);
  }
  model.add(tfl.layers.flatten());
  model.add(tfl.layers.dense({ units: o.denseUnits, activation: 'relu', kernelInitializer: kernelInit() }));
  model.add(new SeededDropout({ rate: o.denseDropout }));
  model.add(tfl.layers.dense({ units: o.classes, activation: 'softmax', kernelInitializer: kernelInit() }));
  if (o.compile) {
    const optimizer = new ScheduledAdam(o.learningRate);
    model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    model.adopt(optimizer);
  }
  return model;
}

type KernelInit = () => ReturnType<typeof tfl.initializers.glorotUniform>;

function addReferenceBlocks(model: tfl.Sequential, o: ResolvedCnnOptions, kernelInit: KernelInit): void {
  o.filters.forEach((filters, i) => {
    model.add(
      tfl.layers.conv2d({
        ...(i === 0 ? { inputShape: o.inputShape } : {}),
        filters,
        kernelSize: o.kernelSize,
        padding: 'same',
        activation: o.batchNorm ? 'linear' : 'relu',
        useBias: !o.batchNorm, // batch normalisation's beta does the bias's job
        kernelInitializer: kernelInit(),
      }),
    );
    if (o.batchNorm) {
      model.add(tfl.layers.batchNormalization({}));
      model.add(tfl.layers.activation({ activation: 'relu' }));
    }
    model.add(tfl.layers.maxPooling2d({ poolSize: o.poolSize }));
    model.add(new SeededDropout({ rate: o.convDropout }));
  });
}

function addVggBnStages(model: tfl.Sequential, o: ResolvedCnnOptions, kernelInit: KernelInit): void {
  let first = true;
  for (const stage of VGG_BN_STAGES) {
    for (const filters of stage) {
      model.add(
        tfl.layers.conv2d({
          ...(first ? { inputShape: o.inputShape } : {}),
          filters,
          kernelSize: 3,
          padding: 'same',
          useBias: false, // batch normalisation's beta does the bias's job
          kernelInitializer: kernelInit(),
        }),
      );
      first = false;
      model.add(tfl.layers.batchNormalization({}));
      model.add(tfl.layers.activation({ activation: 'relu' }));
    }
    model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
    model.add(new SeededDropout({ rate: o.convDropout }));
  }
}

/**
 * The Sequential model buildCnn returns: a plain `tf.Sequential` (it saves as one) that also frees the optimizer
 * buildCnn made for it when it is disposed. tfjs-layers frees only optimizers it created from a name, and an
 * optimizer given by instance stays the caller's; here the caller is buildCnn.
 */
class CnnSequential extends tfl.Sequential {
  private ownOptimizer: ScheduledAdam | undefined;

  adopt(optimizer: ScheduledAdam): void {
    this.ownOptimizer = optimizer;
  }

  override dispose(): ReturnType<tfl.Sequential['dispose']> {
    const result = super.dispose();
    if (result.refCountAfterDispose === 0 && this.ownOptimizer) {
      this.ownOptimizer.dispose();
      this.ownOptimizer = undefined;
    }
    return result;
  }
}

/**
 * Number of trainable parameters of a model (412,778 for the default {@link buildCnn}).
 *
 * @example
 * ```ts
 * countTrainableParams(buildCnn()); // 412778
 * ```
 */
export function countTrainableParams(model: tfl.LayersModel): number {
  let total = 0;
  for (const w of model.trainableWeights) total += w.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
  return total;
}
