// Seeded dropout masks made in the wasm backend's heap. Seeded training multiplies three activations per batch
// of the reference CNN by a mask (about 920,000 float32 values, 3.7 MB): drawn into a fresh JS array, copied out
// of the generator's memory and uploaded into the heap, a mask cost two copies and the page faults of a new
// buffer per batch (in Chromium about 12 ms per batch, a quarter of a training step). This kernel runs the same
// generator (src/kernels/dropout_mask.wat) over the backend's memory, straight into the output tensor; without
// SIMD it fills the tensor with the JS generator. Either way the bits are those of `dropoutMultipliers`.
import { type KernelConfig, util } from '@tensorflow/tfjs-core';
import { dropoutMaskParams, fillDropoutMask } from '../../internal/dropout-mask.js';
import { DROPOUT_MASK_KERNEL } from '../../internal/kernel-names.js';
import { asWasm, f32, heapOffset, type KernelArgs } from './heap.js';
import { simdKernels } from './simd.js';

export { DROPOUT_MASK_KERNEL };

/** The attributes of {@link DROPOUT_MASK_KERNEL}. */
export interface DropoutMaskAttrs {
  shape: number[];
  rate: number;
  key: number;
}

/**
 * Creates the kernel function.
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: DROPOUT_MASK_KERNEL, backendName: 'wasm', kernelFunc: makeDropoutMask() });
 * ```
 */
export function makeDropoutMask(): KernelConfig['kernelFunc'] {
  return (args) => {
    const { attrs } = args as unknown as KernelArgs;
    const backend = asWasm(args.backend);
    const { shape, rate, key } = attrs as unknown as DropoutMaskAttrs;
    const n = util.sizeFromShape(shape);
    const out = backend.makeOutput(shape, 'float32');
    if (n === 0) return out;
    const simd = simdKernels(backend.wasm);
    if (simd != null) {
      const { threshold, scale } = dropoutMaskParams(rate);
      simd.dropoutMask(heapOffset(backend, out), n, key | 0, threshold | 0, scale);
    } else {
      fillDropoutMask(f32(backend, out, n), rate, key);
    }
    return out;
  };
}
