import type * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { layers, type Shape } from '@tensorflow/tfjs-layers';
import type { Seed } from '../internal/random.js';
import { badOption, mergeOptions, show } from '../internal/validate.js';
import { RANDOM_ERASING_DEFAULTS, type RandomErasingConfig, type RandomErasingOptions } from './erasing.js';
import { type EraseStats, RandomEraser } from './random-eraser.js';

type LayerArgs = NonNullable<ConstructorParameters<typeof layers.Layer>[0]>;

/** The generic tfjs-layers arguments the layer accepts next to the erasing options. */
const LAYER_KEYS = [
  'name',
  'inputShape',
  'batchInputShape',
  'batchSize',
  'dtype',
  'trainable',
  'inputDType',
] as const;

/**
 * Arguments of the {@link randomErasing} layer: the {@link RandomErasingOptions} plus the usual
 * tfjs-layers ones (`name`, `inputShape`, `batchInputShape`, `batchSize`, `dtype`, `trainable`,
 * `inputDType`).
 *
 * @example
 * ```ts
 * const args: RandomErasingLayerArgs = { inputShape: [28, 28, 1], v_h: 1, seed: 1 };
 * ```
 */
export interface RandomErasingLayerArgs
  extends RandomErasingOptions,
    Pick<LayerArgs, (typeof LAYER_KEYS)[number]> {}

// tfjs-layers writes config keys in snake_case and reads them back in camelCase, so `s_l` comes back
// as `sL` and `pixel_level` as `pixelLevel`; this maps every spelling to the option name.
const CONFIG_ALIASES: Readonly<Record<string, keyof RandomErasingOptions | 'seedCodes'>> = {
  sL: 's_l',
  sH: 's_h',
  r1: 'r_1',
  r2: 'r_2',
  vL: 'v_l',
  vH: 'v_h',
  pixelLevel: 'pixel_level',
  max_attempts: 'maxAttempts',
  seed_codes: 'seedCodes',
};

/**
 * A tfjs-layers layer that applies random erasing to its `[N, H, W, C]` input when called with
 * `training: true` (as `model.fit` does) and is the identity at inference (`predict`, `evaluate`,
 * `apply` without `training`). Serializable: saved models that contain it load back with the same
 * options; the loaded layer restarts its random stream from the saved seed (or a fresh one when the
 * original had none).
 *
 * Registered with `serialization.registerClass` (class name `RandomErasing`) when the first layer is
 * made (and by the library's model loaders); importing this module has no side effect. To load a saved
 * model that contains the layer with `tf.loadLayersModel` directly, call {@link registerRandomErasing}
 * first.
 *
 * @example
 * ```ts
 * const model = tf.sequential({
 *   layers: [randomErasing({ inputShape: [28, 28, 1], v_h: 1, seed: 1 }), tf.layers.flatten(), tf.layers.dense({ units: 10 })],
 * });
 * ```
 */
export class RandomErasing extends layers.Layer {
  /** The name under which tfjs-layers serializes the class. */
  static readonly className = 'RandomErasing';
  /** The eraser that does the work; its `stats` count the images seen in training calls. */
  readonly eraser: RandomEraser;
  private readonly userSeed: Seed | undefined;

  /** @throws FashionMnistError `BAD_OPTION` for invalid or unknown arguments. */
  constructor(args: RandomErasingLayerArgs = {}) {
    if (args === null || typeof args !== 'object' || Array.isArray(args)) {
      throw badOption(`randomErasing: arguments must be an object, received ${show(args)}`);
    }
    const layerArgs: Record<string, unknown> = {};
    const eraseArgs: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(args)) {
      if ((LAYER_KEYS as readonly string[]).includes(key)) layerArgs[key] = value;
      else eraseArgs[key] = value;
    }
    // Validate before super() so that a typo is reported as such and not as a tfjs-layers oddity.
    const options = mergeOptions('randomErasing', RANDOM_ERASING_DEFAULTS, eraseArgs);
    const eraser = new RandomEraser(options);
    super(layerArgs as LayerArgs);
    // A layer that exists can be saved, so its class must be loadable: register it now (idempotent)
    // rather than as an import side effect that bundlers may drop.
    registerRandomErasing();
    this.eraser = eraser;
    this.userSeed = options.seed;
  }

  /** The validated options. */
  get options(): RandomErasingConfig {
    return this.eraser.options;
  }

  /** The eraser's counters; see {@link EraseStats}. */
  get stats(): EraseStats {
    return this.eraser.stats;
  }

  /** Erasing keeps the shape. */
  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    return inputShape;
  }

  /** Erases when `kwargs.training` is `true`; otherwise returns the input itself. */
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    if (kwargs?.['training'] !== true) return x;
    return this.eraser.eraseBatch(x as tf.Tensor4D);
  }

  /** The options (and the seed given, if any) plus the generic layer settings. */
  override getConfig(): serialization.ConfigDict {
    const o = this.eraser.options;
    // String seeds are stored as character codes: tfjs-layers rewrites every string in a config
    // (snake_case on save, camelCase on load), which would change the seed and so the stream.
    const seed = this.userSeed;
    const config: serialization.ConfigDict = {
      p: o.p,
      s_l: o.s_l,
      s_h: o.s_h,
      r_1: o.r_1,
      r_2: o.r_2,
      v_l: o.v_l,
      v_h: o.v_h,
      pixel_level: o.pixel_level,
      maxAttempts: o.maxAttempts,
      seed: typeof seed === 'number' ? seed : null,
      seedCodes: typeof seed === 'string' ? Array.from(seed, (ch) => ch.codePointAt(0)!) : null,
    };
    return { ...config, ...super.getConfig() };
  }

  /** Rebuilds a layer from {@link RandomErasing.getConfig} output, in either key spelling. */
  static override fromConfig<T extends serialization.Serializable>(
    cls: serialization.SerializableConstructor<T>,
    config: serialization.ConfigDict,
  ): T {
    const args: Record<string, unknown> = {};
    let seedCodes: unknown = null;
    const known = [...Object.keys(RANDOM_ERASING_DEFAULTS), ...LAYER_KEYS];
    for (const [rawKey, value] of Object.entries(config)) {
      const key = CONFIG_ALIASES[rawKey] ?? rawKey;
      if (key === 'seedCodes') seedCodes = value;
      else if (key === 'seed') args['seed'] = value ?? undefined;
      // Deserialization adds its own keys (`customObjects`, …) that are not layer arguments.
      else if (known.includes(key)) args[key] = value;
    }
    if (Array.isArray(seedCodes)) args['seed'] = String.fromCodePoint(...(seedCodes as number[]));
    return new cls(args as serialization.ConfigDict);
  }
}

let registered = false;

/**
 * Registers {@link RandomErasing} with tfjs serialization (idempotent). Making a layer and the
 * library's model loaders do it; call it yourself before loading a model that contains the layer with
 * `tf.loadLayersModel` directly.
 *
 * @example
 * ```ts
 * registerRandomErasing();
 * const model = await tf.loadLayersModel('indexeddb://with-augmentation');
 * ```
 */
export function registerRandomErasing(): typeof RandomErasing {
  if (!registered) {
    registered = true;
    serialization.registerClass(RandomErasing);
  }
  return RandomErasing;
}

/**
 * Creates a {@link RandomErasing} layer: random erasing while training, identity at inference.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-layers';
 * const model = tf.sequential();
 * model.add(randomErasing({ inputShape: [28, 28, 1], v_h: 1, seed: 42 }));
 * model.add(tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu' }));
 * ```
 */
export function randomErasing(args?: RandomErasingLayerArgs): RandomErasing {
  return new RandomErasing(args);
}
