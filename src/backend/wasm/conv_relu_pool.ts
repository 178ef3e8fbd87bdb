// The first block of the reference CNN (Conv2D of the one-channel image -> + bias -> ReLU -> MaxPool 2x2/2) as
// two fused kernels, forward and filter/bias gradient, for a tape-free training step that calls them directly
// instead of tfjs's ops.
//
// Why: in the reference CNN's training step this block costs about 14 ms per batch of 64 on wasm, almost all of
// it memory-bound passes over a 64x28x28x64 float32 activation (12.8 MB): Conv2D, Add, Relu and MaxPool
// forward; MaxPoolGrad, Step, Multiply, Sum and Conv2DBackpropFilter backward. With one input channel the
// convolution is only KH*KW multiply-adds per output, so the fused forward computes each pooling window's four
// conv outputs in registers (SIMD over 4 channels, each input pixel loaded as a splat), keeps the maximum and a
// routing byte per channel, and never writes the 28x28x64 activation; the backward pass reads dy and the routing
// bytes (a quarter of the pooled size) and sums the gradients straight into dFilter and dBias.
// (src/kernels/conv_relu_pool.wat; a plain-JS path with the same float32 arithmetic runs when the SIMD module is
// unavailable.)
import { type KernelConfig, type TensorInfo, util } from '@tensorflow/tfjs-core';
import { FashionMnistError } from '../../errors.js';
import { CONV_RELU_POOL_GRAD_KERNEL, CONV_RELU_POOL_KERNEL } from '../../internal/kernel-names.js';
import { asWasm, f32, heapOffset, type KernelArgs, release, type WasmBackendLike } from './heap.js';
import { type SimdKernels, simdKernels } from './simd.js';

export { CONV_RELU_POOL_GRAD_KERNEL, CONV_RELU_POOL_KERNEL };

/** The attributes of {@link CONV_RELU_POOL_KERNEL}: the conv's top/left padding and output size (stride 1). */
export interface ConvReluPoolAttrs {
  padTop: number;
  padLeft: number;
  outHeight: number;
  outWidth: number;
}

/** The attributes of {@link CONV_RELU_POOL_GRAD_KERNEL}. */
export interface ConvReluPoolGradAttrs extends ConvReluPoolAttrs {
  filterHeight: number;
  filterWidth: number;
}

/** Which implementation the kernels use; `'auto'` (the default) is SIMD when available. For tests. */
export type ConvReluPoolPath = 'auto' | 'js';

/** Sizes of one call. HP x WP is the zero-padded input the window loops read without bounds checks. */
interface Geometry {
  N: number;
  H: number;
  W: number;
  KH: number;
  KW: number;
  Co: number;
  PH: number;
  PW: number;
  HP: number;
  WP: number;
  padTop: number;
  padLeft: number;
}

function fail(kernel: string, message: string): never {
  throw new FashionMnistError('BAD_SHAPE', `${kernel}: ${message}`);
}

function count(kernel: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    fail(kernel, `attribute ${name} must be an integer >= 0`);
  return v;
}

function geometry(
  kernel: string,
  x: TensorInfo,
  KH: number,
  KW: number,
  Co: number,
  a: ConvReluPoolAttrs,
): Geometry {
  if (x.shape.length !== 4 || x.shape[3] !== 1) fail(kernel, `x must be [N, H, W, 1], got [${x.shape}]`);
  if (Co % 4 !== 0 || Co <= 0)
    fail(kernel, `the output channel count must be a positive multiple of 4, got ${Co}`);
  if (KH <= 0 || KW <= 0) fail(kernel, `empty filter ${KH}x${KW}`);
  const [N, H, W] = x.shape as [number, number, number, number];
  const padTop = count(kernel, 'padTop', a.padTop);
  const padLeft = count(kernel, 'padLeft', a.padLeft);
  const OH = count(kernel, 'outHeight', a.outHeight);
  const OW = count(kernel, 'outWidth', a.outWidth);
  const PH = Math.floor(OH / 2);
  const PW = Math.floor(OW / 2);
  return { N, H, W, KH, KW, Co, PH, PW, HP: 2 * PH + KH - 1, WP: 2 * PW + KW - 1, padTop, padLeft };
}

/** Writes x zero-padded to [N, HP, WP] into `dst` (the first N*HP*WP floats). */
function pad(src: Float32Array, dst: Float32Array, g: Geometry): void {
  const { N, H, W, HP, WP, padTop, padLeft } = g;
  dst.fill(0, 0, N * HP * WP);
  const c0 = Math.min(WP, padLeft);
  const c1 = Math.min(WP, W + padLeft);
  if (c1 <= c0) return;
  for (let n = 0; n < N; n++) {
    for (let r = 0; r < HP; r++) {
      const sr = r - padTop;
      if (sr < 0 || sr >= H) continue;
      const from = (n * H + sr) * W + c0 - padLeft;
      dst.set(src.subarray(from, from + c1 - c0), (n * HP + r) * WP + c0);
    }
  }
}

function pick(backend: WasmBackendLike, path: ConvReluPoolPath): SimdKernels | null {
  return path === 'js' ? null : simdKernels(backend.wasm);
}

/**
 * Creates the forward kernel function ({@link CONV_RELU_POOL_KERNEL}).
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: CONV_RELU_POOL_KERNEL, backendName: 'wasm', kernelFunc: makeConvReluPool() });
 * const [pooled, argmax] = tf.engine().runKernel(CONV_RELU_POOL_KERNEL, { x, filter, bias },
 *   { padTop: 0, padLeft: 0, outHeight: 28, outWidth: 28 }) as tf.Tensor[];
 * ```
 */
export function makeConvReluPool(path: ConvReluPoolPath = 'auto'): KernelConfig['kernelFunc'] {
  return (args) => {
    const { inputs, attrs } = args as unknown as KernelArgs;
    const backend = asWasm(args.backend);
    const { x, filter, bias } = inputs as Record<'x' | 'filter' | 'bias', TensorInfo>;
    const [KH = 0, KW = 0, Ci = 0, Co = 0] = filter.shape;
    if (filter.shape.length !== 4 || Ci !== 1) {
      fail(CONV_RELU_POOL_KERNEL, `filter must be [KH, KW, 1, Co], got [${filter.shape}]`);
    }
    if (util.sizeFromShape(bias.shape) !== Co) fail(CONV_RELU_POOL_KERNEL, `bias must have ${Co} values`);
    const g = geometry(CONV_RELU_POOL_KERNEL, x, KH, KW, Co, attrs as unknown as ConvReluPoolAttrs);
    const { N, PH, PW, HP, WP } = g;
    const out = backend.makeOutput([N, PH, PW, Co], 'float32');
    const codes = backend.makeOutput([N, PH, PW, Co / 4], 'int32');
    if (N * PH * PW === 0) return [out, codes];
    const scratch = backend.makeOutput([N * HP * WP], 'float32');
    // views only now: every makeOutput may grow the heap
    const xp = f32(backend, scratch);
    pad(f32(backend, x), xp, g);
    const simd = pick(backend, path);
    if (simd != null) {
      const at = (t: TensorInfo) => heapOffset(backend, t);
      const run = KH === 2 && KW === 2 ? simd.convReluPool2x2 : simd.convReluPool;
      run(at(scratch), at(filter), at(bias), at(out), at(codes), N, PH, PW, HP, WP, KH, KW, Co);
    } else {
      const w = f32(backend, filter);
      const b = f32(backend, bias);
      const y = f32(backend, out);
      const c8 = new Uint8Array(backend.wasm.HEAPU8.buffer, heapOffset(backend, codes), N * PH * PW * Co);
      const fr = Math.fround;
      for (let n = 0; n < N; n++) {
        for (let ph = 0; ph < PH; ph++) {
          for (let pw = 0; pw < PW; pw++) {
            const o = ((n * PH + ph) * PW + pw) * Co;
            for (let c = 0; c < Co; c++) {
              let best = 0;
              let code = 0;
              for (let k = 0; k < 4; k++) {
                const base = (n * HP + 2 * ph + (k >> 1)) * WP + 2 * pw + (k & 1);
                let acc = 0;
                for (let kh = 0; kh < KH; kh++) {
                  for (let kw = 0; kw < KW; kw++) {
                    acc = fr(acc + fr(xp[base + kh * WP + kw]! * w[(kh * KW + kw) * Co + c]!));
                  }
                }
                const z = fr(acc + b[c]!);
                if (k === 0 || z > best) {
                  best = z;
                  code = k;
                }
              }
              const pos = best > 0;
              y[o + c] = pos ? best : 0;
              c8[o + c] = pos ? code : 255;
            }
          }
        }
      }
    }
    release(backend, scratch);
    return [out, codes];
  };
}

/**
 * Creates the gradient kernel function ({@link CONV_RELU_POOL_GRAD_KERNEL}).
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: CONV_RELU_POOL_GRAD_KERNEL, backendName: 'wasm', kernelFunc: makeConvReluPoolGrad() });
 * const [dFilter, dBias] = tf.engine().runKernel(CONV_RELU_POOL_GRAD_KERNEL, { x, dy, argmax },
 *   { padTop: 0, padLeft: 0, filterHeight: 2, filterWidth: 2, outHeight: 28, outWidth: 28 }) as tf.Tensor[];
 * ```
 */
export function makeConvReluPoolGrad(path: ConvReluPoolPath = 'auto'): KernelConfig['kernelFunc'] {
  return (args) => {
    const { inputs, attrs } = args as unknown as KernelArgs;
    const backend = asWasm(args.backend);
    const { x, dy, argmax } = inputs as Record<'x' | 'dy' | 'argmax', TensorInfo>;
    const a = attrs as unknown as ConvReluPoolGradAttrs;
    const K = CONV_RELU_POOL_GRAD_KERNEL;
    const Co = dy.shape[3] ?? 0;
    const g = geometry(
      K,
      x,
      count(K, 'filterHeight', a.filterHeight),
      count(K, 'filterWidth', a.filterWidth),
      Co,
      a,
    );
    const { N, PH, PW, HP, WP, KH, KW } = g;
    if (!util.arraysEqual(dy.shape, [N, PH, PW, Co]))
      fail(K, `dy must be [${[N, PH, PW, Co]}], got [${dy.shape}]`);
    if (!util.arraysEqual(argmax.shape, [N, PH, PW, Co / 4]) || argmax.dtype !== 'int32') {
      fail(K, `argmax must be int32 [${[N, PH, PW, Co / 4]}], got ${argmax.dtype} [${argmax.shape}]`);
    }
    const T = KH * KW;
    const dFilter = backend.makeOutput([KH, KW, 1, Co], 'float32');
    const dBias = backend.makeOutput([Co], 'float32');
    const scratch = backend.makeOutput([N * HP * WP + T * 4], 'float32');
    const dF = f32(backend, dFilter);
    const dB = f32(backend, dBias);
    dF.fill(0);
    dB.fill(0);
    if (N * PH * PW > 0) {
      const xp = f32(backend, scratch);
      pad(f32(backend, x), xp, g);
      const simd = pick(backend, path);
      if (simd != null) {
        const at = (t: TensorInfo) => heapOffset(backend, t);
        const scr = at(scratch) + N * HP * WP * 4;
        const run = KH === 2 && KW === 2 ? simd.convReluPoolGrad2x2 : simd.convReluPoolGrad;
        run(at(scratch), at(dy), at(argmax), at(dFilter), at(dBias), scr, N, PH, PW, HP, WP, KH, KW, Co);
      } else {
        const d = f32(backend, dy);
        const c8 = new Uint8Array(backend.wasm.HEAPU8.buffer, heapOffset(backend, argmax), N * PH * PW * Co);
        // the same two-level float32 sums as the SIMD path: per image, then into the totals
        const blockF = new Float32Array(T * Co);
        const blockB = new Float32Array(Co);
        const fr = Math.fround;
        for (let n = 0; n < N; n++) {
          blockF.fill(0);
          blockB.fill(0);
          for (let ph = 0; ph < PH; ph++) {
            for (let pw = 0; pw < PW; pw++) {
              const o = ((n * PH + ph) * PW + pw) * Co;
              for (let c = 0; c < Co; c++) {
                const k = c8[o + c]!;
                if (k === 255) continue;
                const v = d[o + c]!;
                blockB[c] += v;
                if (k > 3) continue;
                const base = (n * HP + 2 * ph + (k >> 1)) * WP + 2 * pw + (k & 1);
                for (let kh = 0; kh < KH; kh++) {
                  for (let kw = 0; kw < KW; kw++)
                    blockF[(kh * KW + kw) * Co + c] += fr(xp[base + kh * WP + kw]! * v);
                }
              }
            }
          }
          for (let i = 0; i < T * Co; i++) dF[i] += blockF[i]!;
          for (let c = 0; c < Co; c++) dB[c] += blockB[c]!;
        }
      }
    }
    release(backend, scratch);
    return [dFilter, dBias];
  };
}
