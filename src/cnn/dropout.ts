// Dropout whose masks can come from the library's seeded random source. tfjs-layers' Dropout draws its masks
// from Math.random unless its (private) seed is set, and a fixed seed would give the same mask on every batch;
// this layer draws a fresh mask key per training call from a RandomSource that trainCnn hands it through a
// public method, and then draws the mask itself with the WebAssembly generator of internal/dropout-mask.ts (one
// multiply by the mask; its gradient is the same multiply). Without a source it is tfjs-layers' Dropout: same
// config (rate, noiseShape, seed), same op (tf.dropout), identity at inference, and it serialises under the
// class name 'Dropout', so that a saved model is a standard layers model that any TensorFlow.js or Keras
// loader reads.
import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { layers, type Shape } from '@tensorflow/tfjs-layers';
import { dropoutMultipliers } from '../internal/dropout-mask.js';
import { DROPOUT_MASK_KERNEL } from '../internal/kernel-names.js';
import type { RandomSource } from '../internal/random.js';

/**
 * The seeded dropout mask for (`rate`, `key`) as a float32 tensor of `shape`: made on the backend where it has
 * the library's mask kernel (wasm with the training kernels: written straight into the tensor's memory), else
 * drawn into a JS array and uploaded. The same bits either way.
 */
export function dropoutMaskTensor(shape: number[], rate: number, key: number): tf.Tensor {
  if (tf.getKernel(DROPOUT_MASK_KERNEL, tf.getBackend()) != null) {
    return tf.engine().runKernel(DROPOUT_MASK_KERNEL, {}, { shape, rate, key }) as tf.Tensor;
  }
  return tf.tensor(dropoutMultipliers(tf.util.sizeFromShape(shape), rate, key), shape, 'float32');
}

type LayerArgs = NonNullable<ConstructorParameters<typeof layers.Layer>[0]>;

/** Arguments of {@link SeededDropout}: those of `tf.layers.dropout`. */
export interface SeededDropoutArgs extends LayerArgs {
  /** Fraction of the inputs to drop, in [0, 1]. */
  rate: number;
  /** Shape of the binary mask (`null` entries take the input's size). */
  noiseShape?: (number | null)[] | null;
  /** Fixed mask seed used when no random source is attached (as tfjs-layers' Dropout). */
  seed?: number | null;
}

/**
 * tfjs-layers' Dropout, plus {@link SeededDropout.setRandomSource}: while a source is attached, each training
 * call draws its mask key from it and the mask from the library's WebAssembly generator, so a seeded training
 * run gets the same masks every time, on every backend. Without a source it behaves exactly as
 * `tf.layers.dropout`.
 */
export class SeededDropout extends layers.Layer {
  /** Serialised as a standard Dropout layer. */
  static readonly className = 'Dropout';
  readonly rate: number;
  readonly noiseShape: (number | null)[] | null | undefined;
  readonly seed: number | null | undefined;
  private random: RandomSource | undefined;

  constructor(args: SeededDropoutArgs) {
    super(args);
    this.rate = Math.max(Math.min(args.rate, 1), 0);
    // Kept as given (undefined included), as tfjs-layers' Dropout does, so that the configs are identical.
    this.noiseShape = args.noiseShape;
    this.seed = args.seed;
    this.supportsMasking = true;
  }

  /** Attaches (or, with `undefined`, detaches) the source the mask seeds are drawn from. */
  setRandomSource(random: RandomSource | undefined): void {
    this.random = random;
  }

  /** Dropout keeps the shape. */
  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    return inputShape;
  }

  /** Drops inputs when `kwargs.training` is `true`; otherwise returns the input itself. */
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    this.invokeCallHook(inputs, kwargs); // as tfjs-layers' Dropout, for call hooks
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    if (!(this.rate > 0 && this.rate < 1) || kwargs?.['training'] !== true) return x;
    const noiseShape = this.noiseShape?.map((d, i) => d ?? x.shape[i]!);
    if (this.random) {
      // One draw of the source per call (as before: 1..2^31), then the whole mask from the fast generator.
      const key = 1 + Math.floor(this.random() * 2 ** 31);
      const shape = noiseShape ?? x.shape;
      const rate = this.rate;
      return tf.tidy(() => tf.mul(x, dropoutMaskTensor(shape, rate, key)));
    }
    // tfjs treats a seed of 0 as "no seed" (Math.random).
    return tf.tidy(() => tf.dropout(x, this.rate, noiseShape, this.seed ?? undefined));
  }

  /** The config of tfjs-layers' Dropout: `rate`, `noiseShape`, `seed`, plus the generic layer settings. */
  override getConfig(): serialization.ConfigDict {
    // undefined as tfjs-layers' Dropout has it (its writer turns it into null in model.json).
    const own = { rate: this.rate, noiseShape: this.noiseShape, seed: this.seed } as serialization.ConfigDict;
    return { ...own, ...super.getConfig() };
  }
}

let registered = false;

/**
 * Makes models that are loaded from now on build their `Dropout` layers as {@link SeededDropout} (which is
 * tfjs-layers' Dropout unless `trainCnn` attaches a random source), so that training a loaded checkpoint with a
 * seed replays the masks of an uninterrupted run. Idempotent; {@link buildCnn} calls it, and so should every
 * loader of models that are trained again.
 */
export function registerSeededDropout(): void {
  if (registered) return;
  registered = true;
  serialization.registerClass(SeededDropout);
}
