// MaxPoolGrad for the wasm backend, one pass over the windows: find each window's first maximum
// and add dy there. Ties and -Infinity follow the cpu backend exactly (strict `>` scan from
// -Infinity in row-major window order, so after a ReLU an all-zero window sends its gradient to its
// top-left pixel). The stock wasm kernel is about 5x slower on 2x2/2 pooling and, for overlapping
// windows (e.g. 3x3 stride 2, 'same'), disagrees with both the cpu backend and finite differences,
// so it is used only for non-float32 tensors. Non-overlapping windows (filter = stride, the usual
// case) take an unrolled 2x2 path.
import { backend_util, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import { FashionMnistError } from '../../errors.js';
import { asWasm, f32, heapOffset, type KernelArgs, pair } from './heap.js';
import { simdKernels } from './simd.js';

interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * Creates the kernel; `fallback` is the stock wasm MaxPoolGrad, for dtypes other than float32.
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: 'MaxPoolGrad', backendName: 'wasm', kernelFunc: makeMaxPoolGrad(stockMaxPoolGrad) });
 * ```
 */
export function makeMaxPoolGrad(fallback: KernelConfig | undefined): KernelConfig['kernelFunc'] {
  return (args) => {
    const { inputs, attrs } = args as unknown as KernelArgs;
    const backend = asWasm(args.backend);
    const dy = inputs.dy as TensorInfo;
    const x = inputs.input as TensorInfo;
    const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as PoolAttrs;
    const [fh, fw] = pair(filterSize);
    const [sh, sw] = pair(strides);
    if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
      if (fallback == null) {
        throw new FashionMnistError('NO_BACKEND', 'wasm MaxPoolGrad: no stock kernel to fall back to');
      }
      return fallback.kernelFunc(args);
    }
    const info = backend_util.computePool2DInfo(
      x.shape as [number, number, number, number],
      [fh, fw],
      [sh, sw],
      1,
      pad,
      dimRoundingMode,
    );
    const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
    const pt = info.padInfo.top;
    const pl = info.padInfo.left;
    const out = backend.makeOutput(x.shape, 'float32');
    const simd =
      fh === 2 &&
      fw === 2 &&
      sh === 2 &&
      sw === 2 &&
      pt === 0 &&
      pl === 0 &&
      H === 2 * OH &&
      W === 2 * OW &&
      C % 4 === 0
        ? simdKernels(backend.wasm)
        : null;
    if (simd != null && N * OH > 0 && OW > 0 && C > 0) {
      const at = (t: TensorInfo) => heapOffset(backend, t);
      simd.maxPoolGrad2x2(at(x), at(dy), at(out), N * OH, OW, W, C * 4);
      return out;
    }
    const dx = f32(backend, out);
    const xv = f32(backend, x);
    const g = f32(backend, dy);
    dx.fill(0);
    for (let n = 0; n < N; n++) {
      for (let oh = 0; oh < OH; oh++) {
        const rc = oh * sh - pt;
        const r0 = Math.max(0, rc);
        const r1 = Math.min(H, rc + fh);
        for (let ow = 0; ow < OW; ow++) {
          const cc = ow * sw - pl;
          const c0 = Math.max(0, cc);
          const c1 = Math.min(W, cc + fw);
          const gy = ((n * OH + oh) * OW + ow) * C;
          if (r1 - r0 === 2 && c1 - c0 === 2 && fh === sh && fw === sw) {
            const a = ((n * H + r0) * W + c0) * C;
            const b = a + C;
            const c = a + W * C;
            const d = c + C;
            for (let k = 0; k < C; k++) {
              let best = Number.NEGATIVE_INFINITY;
              let at = -1;
              let v = xv[a + k];
              if (v > best) {
                best = v;
                at = a + k;
              }
              v = xv[b + k];
              if (v > best) {
                best = v;
                at = b + k;
              }
              v = xv[c + k];
              if (v > best) {
                best = v;
                at = c + k;
              }
              v = xv[d + k];
              if (v > best) at = d + k;
              if (at >= 0) dx[at] = g[gy + k];
            }
          } else {
            for (let k = 0; k < C; k++) {
              let best = Number.NEGATIVE_INFINITY;
              let at = -1;
              for (let r = r0; r < r1; r++) {
                for (let col = c0; col < c1; col++) {
                  const i = ((n * H + r) * W + col) * C + k;
                  const v = xv[i];
                  if (v > best) {
                    best = v;
                    at = i;
                  }
                }
              }
              // overlapping windows can pick the same pixel: accumulate
              if (at >= 0) dx[at] += g[gy + k];
            }
          }
        }
      }
    }
    return out;
  };
}
