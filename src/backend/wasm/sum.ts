// Sum over leading axes for the wasm backend. A bias gradient is a sum over every axis but the
// last (e.g. [64, 28, 28, 64] -> [64]); the stock kernel first transposes the whole tensor so that
// the reduced axes come last (8 ms for that shape, most of it cache-set aliasing in the
// transpose). For a rank-4 tensor summed over [0, 1, 2] this kernel instead runs XNNPACK's
// average pooling over each image (0.5 ms), then adds the N per-image results in float64 and
// scales back by H*W; other leading-axis sums are one float64 pass in JS. Anything else goes
// to the stock kernel. Mean over leading axes (batch normalisation's moments, twice per layer and
// step) is the same sum divided by the number of rows.
import { type KernelConfig, type TensorInfo, util } from '@tensorflow/tfjs-core';
import { asWasm, call, f32, type KernelArgs, release } from './heap.js';

/**
 * Creates the kernel; `stock` is the wasm Sum it replaces, `avgPool` the stock AvgPool.
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: 'Sum', backendName: 'wasm', kernelFunc: makeSum(stockSum, stockAvgPool) });
 * ```
 */
export function makeSum(stock: KernelConfig, avgPool: KernelConfig): KernelConfig['kernelFunc'] {
  return leadingReduce(stock, avgPool, false);
}

/**
 * Creates the Mean kernel: {@link makeSum}'s leading-axis sum divided by the number of rows; `stock` is the
 * wasm Mean it replaces.
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: 'Mean', backendName: 'wasm', kernelFunc: makeMean(stockMean, stockAvgPool) });
 * ```
 */
export function makeMean(stock: KernelConfig, avgPool: KernelConfig): KernelConfig['kernelFunc'] {
  return leadingReduce(stock, avgPool, true);
}

function leadingReduce(
  stock: KernelConfig,
  avgPool: KernelConfig,
  mean: boolean,
): KernelConfig['kernelFunc'] {
  return (args) => {
    const { inputs, attrs } = args as unknown as KernelArgs;
    const backend = asWasm(args.backend);
    const x = inputs.x as TensorInfo;
    const rank = x.shape.length;
    const axes = util
      .parseAxisParam((attrs?.axis ?? []) as number | number[], x.shape)
      .slice()
      .sort((p, q) => p - q);
    const k = axes.length;
    const leading = k > 0 && k < rank && axes.every((ax, i) => ax === i);
    if (!leading || x.dtype !== 'float32' || util.sizeFromShape(x.shape) === 0) return stock.kernelFunc(args);
    const cols = util.sizeFromShape(x.shape.slice(k));
    const shape =
      attrs?.keepDims === true ? [...new Array<number>(k).fill(1), ...x.shape.slice(k)] : x.shape.slice(k);
    const acc = new Float64Array(cols);
    if (rank === 4 && k === 3) {
      const [n, h, w] = x.shape;
      const pooled = call(avgPool, backend, { x }, { filterSize: [h, w], strides: [h, w], pad: 'valid' });
      const p = f32(backend, pooled, n * cols);
      for (let r = 0, base = 0; r < n; r++, base += cols) {
        for (let c = 0; c < cols; c++) acc[c] += p[base + c];
      }
      release(backend, pooled);
      for (let c = 0; c < cols; c++) acc[c] *= h * w;
    } else {
      const rows = util.sizeFromShape(x.shape.slice(0, k));
      const v = f32(backend, x, rows * cols);
      for (let r = 0, base = 0; r < rows; r++, base += cols) {
        for (let c = 0; c < cols; c++) acc[c] += v[base + c];
      }
    }
    if (mean) {
      const rows = util.sizeFromShape(x.shape.slice(0, k));
      for (let c = 0; c < cols; c++) acc[c] /= rows;
    }
    const out = backend.makeOutput(shape, 'float32');
    f32(backend, out, cols).set(acc);
    return out;
  };
}
