// One Adam update per variable as a single wasm kernel. tfjs-core's AdamOptimizer runs about a dozen
// element-wise kernels per variable and step (each a pass over the variable's size plus a JS dispatch); this
// kernel reads the variable, its gradient and both moments once and writes the three new tensors, with the
// same float32 arithmetic in the same order (src/kernels/adam.wat). ScheduledAdam calls it when the active
// backend has it registered (installWasmTrainingKernels) and keeps tfjs's ops everywhere else.
import { type KernelConfig, type TensorInfo, util } from '@tensorflow/tfjs-core';
import { ADAM_KERNEL } from '../../internal/kernel-names.js';
import { asWasm, f32, heapOffset, type KernelArgs } from './heap.js';
import { simdKernels } from './simd.js';

export { ADAM_KERNEL };

/** The attributes of {@link ADAM_KERNEL}. */
export interface AdamStepAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
  oneMinusAccBeta1: number;
  oneMinusAccBeta2: number;
}

/**
 * Creates the kernel function.
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: ADAM_KERNEL, backendName: 'wasm', kernelFunc: makeAdamStep() });
 * ```
 */
export function makeAdamStep(): KernelConfig['kernelFunc'] {
  return (args) => {
    const { inputs, attrs } = args as unknown as KernelArgs;
    const backend = asWasm(args.backend);
    const { value, gradient, m, v } = inputs as Record<'value' | 'gradient' | 'm' | 'v', TensorInfo>;
    const a = attrs as unknown as AdamStepAttrs;
    const n = util.sizeFromShape(value.shape);
    const wOut = backend.makeOutput(value.shape, 'float32');
    const mOut = backend.makeOutput(value.shape, 'float32');
    const vOut = backend.makeOutput(value.shape, 'float32');
    // Every scalar as tfjs's ops see it: a float32 tensor made from the JS number.
    const p = [
      Math.fround(a.beta1),
      Math.fround(1 - a.beta1),
      Math.fround(a.beta2),
      Math.fround(1 - a.beta2),
      Math.fround(a.oneMinusAccBeta1),
      Math.fround(a.oneMinusAccBeta2),
      Math.fround(a.epsilon),
      Math.fround(-a.learningRate),
    ] as const;
    const simd = simdKernels(backend.wasm);
    if (simd != null && n > 0) {
      const at = (t: TensorInfo) => heapOffset(backend, t);
      simd.adamStep(at(value), at(gradient), at(m), at(v), at(wOut), at(mOut), at(vOut), n, ...p);
    } else if (n > 0) {
      const [b1, c1, b2, c2, d1, d2, eps, nlr] = p;
      const fr = Math.fround;
      const [w0, g0, m0, v0] = [value, gradient, m, v].map((t) => f32(backend, t, n));
      const [w1, m1, v1] = [wOut, mOut, vOut].map((t) => f32(backend, t, n));
      for (let i = 0; i < n; i++) {
        const g = g0![i]!;
        const mi = fr(fr(m0![i]! * b1) + fr(g * c1));
        const vi = fr(fr(v0![i]! * b2) + fr(fr(g * g) * c2));
        m1![i] = mi;
        v1![i] = vi;
        w1![i] = fr(fr(fr(fr(mi / d1) / fr(fr(Math.sqrt(fr(vi / d2))) + eps)) * nlr) + w0![i]!);
      }
    }
    return [wOut, mOut, vOut];
  };
}
