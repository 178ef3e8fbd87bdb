// BatchMatMul with transposed operands for the wasm backend. tfjs-backend-wasm 4.22 sends every
// product with transposeA or transposeB (all of a Dense layer's gradients) to a scalar triple loop
// that runs at about 1-3 GFLOP/s, while the plain product goes to XNNPACK at about 40. Transposing
// the operand in a blocked JS loop costs one pass over it, so for unbatched products this kernel
// transposes first (with the stock C++ Transpose, about 3x faster than a JS loop) and then calls
// the stock plain product. Batched products are left alone.
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { asWasm, call, type KernelArgs, release, type WasmBackendLike } from './heap.js';

function batchOf(shape: number[]): number {
  let b = 1;
  for (let i = 0; i < shape.length - 2; i++) b *= shape[i];
  return b;
}

/** Materialises the transpose of the last two axes of an unbatched matrix (keeps its rank). */
function transposed(backend: WasmBackendLike, transpose: KernelConfig, t: TensorInfo): TensorInfo {
  const rank = t.shape.length;
  const perm = [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];
  return call(transpose, backend, { x: t }, { perm });
}

/**
 * Creates the kernel (BatchMatMul or _FusedMatMul): `stock` is the kernel it replaces,
 * `transpose` the stock wasm Transpose.
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: makeMatMul(stockMatMul, stockTranspose) });
 * ```
 */
export function makeMatMul(stock: KernelConfig, transpose: KernelConfig): KernelConfig['kernelFunc'] {
  return (args) => {
    const { inputs, attrs } = args as unknown as KernelArgs;
    const backend = asWasm(args.backend);
    const a = inputs.a as TensorInfo;
    const b = inputs.b as TensorInfo;
    const transposeA = attrs?.transposeA === true;
    const transposeB = attrs?.transposeB === true;
    if (
      (!transposeA && !transposeB) ||
      a.dtype !== 'float32' ||
      b.dtype !== 'float32' ||
      batchOf(a.shape) !== 1 ||
      batchOf(b.shape) !== 1
    ) {
      return stock.kernelFunc(args);
    }
    const a2 = transposeA ? transposed(backend, transpose, a) : a;
    const b2 = transposeB ? transposed(backend, transpose, b) : b;
    const out = call(
      stock,
      backend,
      { ...inputs, a: a2, b: b2 },
      { ...attrs, transposeA: false, transposeB: false },
    );
    if (transposeA) release(backend, a2);
    if (transposeB) release(backend, b2);
    return out;
  };
}
