// Tile for the wasm backend when it only repeats the whole input. Batch normalisation's gradient
// (tfjs-core's FusedBatchNorm grad) tiles a [1, 1, 1, C] statistic to the full [N, H, W, C] shape
// three times per layer; the stock kernel computes every output index from scratch (90-140 ms for a
// [64, 28, 28, 32] output). When every input axis up to the last repeated one has size 1, the
// output is the input's bytes repeated prod(reps) times, which this kernel writes by doubling
// copies on the heap (copyWithin, a memmove). Anything else goes to the stock kernel.
import { type KernelConfig, type TensorInfo, util } from '@tensorflow/tfjs-core';
import { asWasm, heapOffset, type KernelArgs } from './heap.js';

/**
 * Creates the kernel; `stock` is the wasm Tile it replaces.
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: 'Tile', backendName: 'wasm', kernelFunc: makeTile(stockTile) });
 * ```
 */
export function makeTile(stock: KernelConfig): KernelConfig['kernelFunc'] {
  return (args) => {
    const { inputs, attrs } = args as unknown as KernelArgs;
    const backend = asWasm(args.backend);
    const x = inputs.x as TensorInfo;
    const reps = (attrs?.reps ?? []) as number[];
    const rank = x.shape.length;
    if (reps.length !== rank || x.dtype === 'string' || x.dtype === 'complex64')
      return stock.kernelFunc(args);
    let last = -1;
    for (let i = 0; i < rank; i++) if (reps[i] !== 1) last = i;
    for (let i = 0; i <= last; i++) if (x.shape[i] !== 1) return stock.kernelFunc(args);
    const outShape = x.shape.map((d, i) => d * reps[i]!);
    const out = backend.makeOutput(outShape, x.dtype);
    const itemBytes = util.bytesPerElement(x.dtype);
    const block = util.sizeFromShape(x.shape) * itemBytes;
    const total = util.sizeFromShape(outShape) * itemBytes;
    if (total === 0) return out;
    const heap = backend.wasm.HEAPU8;
    const src = heapOffset(backend, x);
    const dst = heapOffset(backend, out);
    heap.copyWithin(dst, src, src + block);
    for (let done = block; done < total; ) {
      const n = Math.min(done, total - done);
      heap.copyWithin(dst + done, dst, dst + n);
      done += n;
    }
    return out;
  };
}
