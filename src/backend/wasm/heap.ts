// Structural access to the wasm backend's tensor storage. The kernels in this folder receive the
// BackendWasm instance from the engine at call time, so they never import
// `@tensorflow/tfjs-backend-wasm` (no second copy, no type dependency); this file names only the
// members they use, all of which are public on BackendWasm 4.x.
import type {
  backend_util,
  DataType,
  KernelConfig,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import { FashionMnistError } from '../../errors.js';

/**
 * The members of `BackendWasm` (tfjs-backend-wasm 4.x) that the training kernels use.
 * @example
 * ```ts
 * const backend = tf.backend() as unknown as WasmBackendLike;
 * ```
 */
export interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

/**
 * Arguments every kernel function receives from the engine.
 * @example
 * ```ts
 * const kernelFunc: tf.KernelFunc = (args) => {
 *   const { inputs, attrs } = args as unknown as KernelArgs;
 *   return inputs.x as tf.TensorInfo;
 * };
 * ```
 */
export interface KernelArgs {
  inputs: NamedTensorInfoMap;
  backend: WasmBackendLike;
  attrs?: NamedAttrMap;
}

/**
 * Narrows the engine's untyped `backend` argument, failing loudly if it is not the wasm backend.
 * @example
 * ```ts
 * const backend = asWasm(args.backend); // throws unless it is tfjs-backend-wasm
 * ```
 */
export function asWasm(backend: unknown): WasmBackendLike {
  const b = backend as Partial<WasmBackendLike> | null;
  if (b == null || b.wasm == null || b.dataIdMap == null || typeof b.makeOutput !== 'function') {
    throw new FashionMnistError(
      'UNSUPPORTED',
      'fashion-mnist-tfjs/wasm-training: kernel called with a backend that is not tfjs-backend-wasm',
    );
  }
  return b as WasmBackendLike;
}

/**
 * Byte offset of a tensor's storage on the wasm heap, for code that addresses the heap directly.
 * @example
 * ```ts
 * simd.maxPoolGrad2x2(heapOffset(backend, x), heapOffset(backend, dy), heapOffset(backend, out), rows, OW, W, C * 4);
 * ```
 */
export function heapOffset(backend: WasmBackendLike, info: TensorInfo): number {
  const data = backend.dataIdMap.get(info.dataId);
  if (data == null)
    throw new FashionMnistError(
      'UNSUPPORTED',
      'fashion-mnist-tfjs/wasm-training: tensor data is not on the wasm backend',
    );
  return data.memoryOffset;
}

/**
 * A Float32Array view of a tensor's bytes on the wasm heap. Views go stale when the heap grows
 * (any allocation may grow it), so take them after the last `makeOutput` of a kernel.
 * @example
 * ```ts
 * const out = backend.makeOutput([2, 3], 'float32');
 * f32(backend, out).fill(0);
 * ```
 */
export function f32(backend: WasmBackendLike, info: TensorInfo, length?: number): Float32Array {
  const size = length ?? info.shape.reduce((a, b) => a * b, 1);
  return new Float32Array(backend.wasm.HEAPU8.buffer, heapOffset(backend, info), size);
}

/**
 * A TensorInfo that shares `info`'s storage under another shape (no copy, no new reference).
 * @example
 * ```ts
 * const asMatrix = view(dy, [dy.shape[0] * dy.shape[1] * dy.shape[2], dy.shape[3]]);
 * ```
 */
export function view(info: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/**
 * Frees a temporary created inside a kernel.
 * @example
 * ```ts
 * const tmp = backend.makeOutput([4], 'float32');
 * release(backend, tmp);
 * ```
 */
export function release(backend: WasmBackendLike, info: TensorInfo): void {
  backend.disposeData(info.dataId);
}

/**
 * Runs a saved (stock) kernel implementation directly, bypassing the registry.
 * @example
 * ```ts
 * const product = call(stockMatMul, backend, { a, b }, { transposeA: false, transposeB: false });
 * ```
 */
export function call(
  config: KernelConfig,
  backend: WasmBackendLike,
  inputs: NamedTensorInfoMap,
  attrs: NamedAttrMap = {},
): TensorInfo {
  const out = config.kernelFunc({ inputs, backend, attrs });
  return Array.isArray(out) ? out[0] : out;
}

/**
 * Normalises an `n | [h, w]` attribute.
 * @example
 * ```ts
 * pair(2); // [2, 2]
 * pair([1, 3]); // [1, 3]
 * ```
 */
export function pair(v: number | [number, number] | number[] | undefined, fallback = 1): [number, number] {
  if (v == null) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  return [v[0], v[1] ?? v[0]];
}

/** Attributes shared by the two convolution-gradient kernels (tfjs-core's Conv2DBackprop* attrs). */
export interface ConvGradAttrs {
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}
