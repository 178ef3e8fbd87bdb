import * as tf from '@tensorflow/tfjs-core';
import { FashionMnistError } from '../../errors.js';
import { ADAM_KERNEL, makeAdamStep } from './adam.js';
import { makeMatMul } from './batch_mat_mul.js';
import {
  CONV_RELU_POOL_GRAD_KERNEL,
  CONV_RELU_POOL_KERNEL,
  makeConvReluPool,
  makeConvReluPoolGrad,
} from './conv_relu_pool.js';
import { makeConv2DBackpropFilter } from './conv2d_backprop_filter.js';
import { makeConv2DBackpropInput } from './conv2d_backprop_input.js';
import { DROPOUT_MASK_KERNEL, makeDropoutMask } from './dropout_mask.js';
import { makeCast, makeIdentity } from './identity.js';
import { makeMaxPoolGrad } from './max_pool_grad.js';
import { makeMean, makeSum } from './sum.js';
import { makeTile } from './tile.js';

/**
 * Names of the wasm kernels this module registers or replaces.
 * @example
 * ```ts
 * for (const name of WASM_TRAINING_KERNELS) console.log(name, tf.getKernel(name, 'wasm') != null);
 * ```
 */
export const WASM_TRAINING_KERNELS = Object.freeze([
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'MaxPoolGrad',
  'BatchMatMul',
  '_FusedMatMul',
  'Sum',
  'Mean',
  'Tile',
  'Identity',
  'Cast',
  'FashionMnistAdamStep',
  'FashionMnistConvReluPool',
  'FashionMnistConvReluPoolGrad',
  'FashionMnistDropoutMask',
] as const);

/**
 * One of {@link WASM_TRAINING_KERNELS}.
 * @example
 * ```ts
 * const { replaced } = installWasmTrainingKernels();
 * const k: WasmTrainingKernel | undefined = replaced[0];
 * ```
 */
export type WasmTrainingKernel = (typeof WASM_TRAINING_KERNELS)[number];

/**
 * What {@link installWasmTrainingKernels} did.
 * @example
 * ```ts
 * const report: WasmTrainingInstall = installWasmTrainingKernels();
 * if (!report.alreadyInstalled) console.log('replaced', report.replaced.join(', '));
 * ```
 */
export interface WasmTrainingInstall {
  /** Kernels registered by this call (empty when they were already installed). */
  installed: WasmTrainingKernel[];
  /**
   * Kernels that replace a stock wasm kernel (the rest were missing: `Conv2DBackpropFilter`, and this library's
   * own `FashionMnistAdamStep`, the one-pass Adam update that `buildCnn`'s optimizer uses when present, and
   * `FashionMnistConvReluPool`/`FashionMnistConvReluPoolGrad`, the fused first conv block, and
   * `FashionMnistDropoutMask`, seeded dropout masks made in the heap).
   */
  replaced: WasmTrainingKernel[];
  /** True when the kernels were already in place and nothing changed. */
  alreadyInstalled: boolean;
}

const BACKEND = 'wasm';
/** Stock configs, saved at install so that uninstall can restore them. */
let saved: Map<WasmTrainingKernel, tf.KernelConfig | undefined> | null = null;

function stock(name: string): tf.KernelConfig {
  const config = tf.getKernel(name, BACKEND);
  if (config == null) {
    throw new FashionMnistError(
      'NO_BACKEND',
      `installWasmTrainingKernels: the wasm kernel '${name}' is not registered. Import ` +
        `'@tensorflow/tfjs-backend-wasm' (the same copy of @tensorflow/tfjs-core) before installing.`,
    );
  }
  return config;
}

/**
 * Registers `kernelFunc` under `name`. The stock kernels it calls bind their wasm exports in a
 * setup function that the engine runs only for kernels registered when the backend initialises;
 * when installing before `setBackend('wasm')` the stock ones are no longer registered then, so
 * the replacement runs their setup itself.
 */
function register(
  name: WasmTrainingKernel,
  kernelFunc: tf.KernelConfig['kernelFunc'],
  uses: (tf.KernelConfig | undefined)[],
): void {
  if (tf.getKernel(name, BACKEND) != null) tf.unregisterKernel(name, BACKEND);
  const setupFunc = (backend: object): void => {
    for (const config of uses) config?.setupFunc?.(backend);
  };
  tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc, setupFunc });
}

/**
 * Makes `@tensorflow/tfjs-backend-wasm` (4.x) able to train convolutional networks, and fast at it:
 * registers the missing `Conv2DBackpropFilter` and replaces the stock `Conv2DBackpropInput`,
 * `MaxPoolGrad`, transposed `BatchMatMul`/`_FusedMatMul`, leading-axis `Sum`/`Mean` and whole-input `Tile`
 * (the last two make batch normalisation train fast) with formulations
 * that run on XNNPACK's fast paths (or a single JS pass over the wasm heap). Cases that are not
 * sped up (strided input gradients, overlapping pools, batched products, other reductions) fall
 * through to the stock kernels, so results match the cpu backend to float32 rounding either way.
 *
 * It also registers `FashionMnistAdamStep`, one pass per variable for the Adam update of `buildCnn`'s optimizer
 * (tfjs's Adam runs about a dozen element-wise kernels per variable), with the same float32 arithmetic, and
 * `FashionMnistConvReluPool`/`FashionMnistConvReluPoolGrad`: conv of a one-channel image + bias + ReLU + 2x2/2
 * max pool fused, forward and filter/bias gradient, for a training step that calls them directly; and
 * `FashionMnistDropoutMask`, which writes a seeded dropout mask (the generator of seeded training) straight into
 * a tensor in the backend's memory.
 *
 * Call it once, after importing `@tensorflow/tfjs-backend-wasm`; before or after `setBackend('wasm')`
 * both work (each replacement runs the setup of the stock kernels it calls). Calling it again does
 * nothing. Nothing is registered on import: this module has no side effects, so bundlers may
 * tree-shake it.
 *
 * @throws Error when the wasm backend package has not been imported.
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import '@tensorflow/tfjs-backend-wasm';
 * import { installWasmTrainingKernels } from 'fashion-mnist-tfjs/wasm-training';
 *
 * installWasmTrainingKernels();
 * await tf.setBackend('wasm');
 * await model.fit(xs, ys, { batchSize: 64, epochs: 1 }); // a CNN now trains on wasm
 * ```
 */
export function installWasmTrainingKernels(): WasmTrainingInstall {
  if (saved != null) return { installed: [], replaced: [], alreadyInstalled: true };
  const conv2d = stock('Conv2D');
  const matMul = stock('BatchMatMul');
  const fusedMatMul = stock('_FusedMatMul');
  const sum = stock('Sum');
  const mean = stock('Mean');
  const tile = stock('Tile');
  const transpose = stock('Transpose');
  const avgPool = stock('AvgPool');
  const identity = stock('Identity');
  const cast = stock('Cast');
  const inputGrad = tf.getKernel('Conv2DBackpropInput', BACKEND);
  const poolGrad = tf.getKernel('MaxPoolGrad', BACKEND);
  const before = new Map<WasmTrainingKernel, tf.KernelConfig | undefined>();
  for (const name of WASM_TRAINING_KERNELS) before.set(name, tf.getKernel(name, BACKEND));

  register('Conv2DBackpropFilter', makeConv2DBackpropFilter({ matMul, transpose }), [matMul, transpose]);
  register('Conv2DBackpropInput', makeConv2DBackpropInput(conv2d, inputGrad), [conv2d, inputGrad]);
  register('MaxPoolGrad', makeMaxPoolGrad(poolGrad), [poolGrad]);
  register('BatchMatMul', makeMatMul(matMul, transpose), [matMul, transpose]);
  register('_FusedMatMul', makeMatMul(fusedMatMul, transpose), [fusedMatMul, transpose]);
  register('Sum', makeSum(sum, avgPool), [sum, avgPool]);
  register('Mean', makeMean(mean, avgPool), [mean, avgPool]);
  register('Tile', makeTile(tile), [tile]);
  register('Identity', makeIdentity(identity), [identity]);
  register('Cast', makeCast(cast), [cast]);
  register(ADAM_KERNEL, makeAdamStep(), []);
  register(CONV_RELU_POOL_KERNEL, makeConvReluPool(), []);
  register(CONV_RELU_POOL_GRAD_KERNEL, makeConvReluPoolGrad(), []);
  register(DROPOUT_MASK_KERNEL, makeDropoutMask(), []);
  saved = before;
  return {
    installed: [...WASM_TRAINING_KERNELS],
    replaced: WASM_TRAINING_KERNELS.filter((n) => before.get(n) != null),
    alreadyInstalled: false,
  };
}

/**
 * Restores the stock wasm kernels (and unregisters `Conv2DBackpropFilter` again). Mainly for
 * benchmarks and tests that compare the two; returns false when nothing was installed.
 *
 * @example
 * ```ts
 * installWasmTrainingKernels();
 * // … train …
 * uninstallWasmTrainingKernels(); // back to the stock tfjs-backend-wasm kernels
 * ```
 */
export function uninstallWasmTrainingKernels(): boolean {
  if (saved == null) return false;
  for (const [name, config] of saved) {
    if (tf.getKernel(name, BACKEND) != null) tf.unregisterKernel(name, BACKEND);
    if (config != null) tf.registerKernel(config);
  }
  saved = null;
  return true;
}

/**
 * Whether {@link installWasmTrainingKernels} is in effect.
 *
 * @example
 * ```ts
 * if (!wasmTrainingKernelsInstalled()) installWasmTrainingKernels();
 * ```
 */
export function wasmTrainingKernelsInstalled(): boolean {
  return saved != null;
}
