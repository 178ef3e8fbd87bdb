// Zero-copy Identity and same-dtype Cast for the wasm backend. The stock kernels copy the whole
// tensor (a relu-grad's cast(step(x), 'float32') and tfjs-layers' clones copy 12.8 MB each per
// batch of the reference CNN); sharing the storage with a reference count, as the cpu backend
// and the wasm Reshape already do, is safe because no wasm kernel writes into its inputs.
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { asWasm, type KernelArgs } from './heap.js';

interface RefCounting {
  incRef(dataId: object): void;
}

function share(backend: unknown, x: TensorInfo): TensorInfo {
  (backend as RefCounting).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * Creates the Identity kernel; `stock` handles string tensors.
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: 'Identity', backendName: 'wasm', kernelFunc: makeIdentity(stockIdentity) });
 * ```
 */
export function makeIdentity(stock: KernelConfig): KernelConfig['kernelFunc'] {
  return (args) => {
    const x = (args as unknown as KernelArgs).inputs.x as TensorInfo;
    asWasm(args.backend);
    if (x.dtype === 'string' || typeof (args.backend as Partial<RefCounting>).incRef !== 'function') {
      return stock.kernelFunc(args);
    }
    return share(args.backend, x);
  };
}

/**
 * Creates the Cast kernel: zero-copy when the dtype does not change, else the stock kernel.
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: 'Cast', backendName: 'wasm', kernelFunc: makeCast(stockCast) });
 * ```
 */
export function makeCast(stock: KernelConfig): KernelConfig['kernelFunc'] {
  return (args) => {
    const x = (args as unknown as KernelArgs).inputs.x as TensorInfo;
    asWasm(args.backend);
    const same = args.attrs?.dtype === x.dtype && x.dtype !== 'string' && x.dtype !== 'complex64';
    if (!same || typeof (args.backend as Partial<RefCounting>).incRef !== 'function')
      return stock.kernelFunc(args);
    return share(args.backend, x);
  };
}
