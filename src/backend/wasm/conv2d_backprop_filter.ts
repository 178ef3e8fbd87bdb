// Conv2DBackpropFilter for the wasm backend, which has none in 4.22. The filter gradient is a
// product whose reduction runs over every output pixel of the batch (P = N*OH*OW), done by
// XNNPACK's fully-connected operator: out[m, n] = sum_k A[m, k] * B[k, n], with A read in place
// and B ("weights") repacked on every call. Measured on the reference CNN, repacking costs 5-10 ns
// per element of B while the arithmetic runs at 30-40 GFLOP/s, so the layout is chosen to keep B
// narrow. Three layouts (Ci/Co input/output channels, KK filter taps):
//
//   'x-major'  A = im2col(x)^T [KK*Ci, P]  B = dy [P, Co]        -> dW          (any stride)
//   'dy-major' A = im2col(dy)^T [KK*Co, P] B = x [P, Ci]         -> dW^T per tap (stride 1)
//   'dy-rows'  A = dy^T [Co, P]            B = im2col(x) [P, KK*Ci] -> dW^T      (any stride)
//   'direct'   no product: im2col(x) [P, T] (T = KK*Ci padded to a multiple of 4 with zero taps) and dy
//              [P, Co] read once by a SIMD kernel of ours (src/kernels/filter_grad_t4.wat) that accumulates
//              dW [T, Co] directly (T <= 16 and Co % 16 = 0: the first layer, where XNNPACK's product of a
//              4-row result over 50,176 terms runs at about 2 GMAC/s)
//   'runs'     no product, no copies: for stride 1 and Ci % 4 = 0, Co % 8 = 0, each tap's dW [Ci, Co] is summed
//              by a SIMD kernel of ours (src/kernels/filter_grad_runs.wat) straight from x and dy, one call per
//              image and tap over the rows whose shifted input is inside the image (the reference CNN's second
//              layer: 7 ms instead of 11 for the 'dy-major' product, whose shifted dyᵀ is built in memory and
//              whose [12,544, 64] right operand XNNPACK repacks on every call)
//
// A is built in JS on the wasm heap. 'dy-rows' suits few input channels (the first layer:
// B is [P, 4]); 'dy-major' suits Co < Ci (the second layer: 64 in, 32 out). Work is split over
// images in chunks, which bounds memory and keeps the transposes of 'dy-rows' off strides that
// are multiples of 4 KiB (a [50176, 64] transpose in one piece takes ~20 ms from cache-set
// aliasing; in 8-image chunks ~3 ms).
import { backend_util, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import { FashionMnistError } from '../../errors.js';
import {
  asWasm,
  type ConvGradAttrs,
  call,
  f32,
  heapOffset,
  type KernelArgs,
  release,
  view,
  type WasmBackendLike,
} from './heap.js';
import { gatherTransposed, im2col } from './layout.js';
import { simdKernels } from './simd.js';

/**
 * Largest JS-built operand per chunk, in floats (16 MiB); bigger jobs are split over images.
 * @example
 * ```ts
 * const imagesPerProduct = Math.floor(CHUNK_FLOATS / (H * W * 4 * Co));
 * ```
 */
export const CHUNK_FLOATS = 1 << 22;
/**
 * Largest dy chunk the 'dy-rows' layout transposes at once (see the 4 KiB aliasing note above).
 * @example
 * ```ts
 * const imagesPerTranspose = Math.floor(TRANSPOSE_CHUNK_FLOATS / (OH * OW * Co));
 * ```
 */
export const TRANSPOSE_CHUNK_FLOATS = 1 << 19;

/**
 * The three operand layouts; see the file comment.
 * @example
 * ```ts
 * const layout: FilterGradLayout = chooseFilterGradLayout(info); // 'dy-rows' for 1 input channel
 * ```
 */
export type FilterGradLayout = 'x-major' | 'dy-major' | 'dy-rows' | 'direct' | 'runs';

interface FilterAttrs extends ConvGradAttrs {
  filterShape: [number, number, number, number];
}

/** Whether the 'direct' layout fits `info` (few filter taps x input channels, output channels in 16s). */
function directApplies(info: backend_util.Conv2DInfo): boolean {
  return info.filterHeight * info.filterWidth * info.inChannels <= 16 && info.outChannels % 16 === 0;
}

/** Whether the 'runs' layout fits `info` (stride and dilation 1, channels in 4s and 8s). */
function runsApply(info: backend_util.Conv2DInfo): boolean {
  return (
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    info.inChannels % 4 === 0 &&
    info.outChannels % 8 === 0
  );
}

/**
 * Estimated cost (arbitrary units ~ ns) of each layout ('direct' and 'runs' aside: they are chosen whenever
 * they apply);
 * the arithmetic is the same for all.
 * @example
 * ```ts
 * const info = tf.backend_util.computeConv2DInfo([64, 14, 14, 64], [2, 2, 64, 32], 1, 1, 'same');
 * console.log(filterGradCosts(info)); // dy-major is the cheapest
 * ```
 */
export function filterGradCosts(
  info: backend_util.Conv2DInfo,
): Record<Exclude<FilterGradLayout, 'direct' | 'runs'>, number> {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outChannels: Co } = info;
  const P = N * info.outHeight * info.outWidth;
  const KK = info.filterHeight * info.filterWidth;
  const BUILD = 1.5;
  const PACK = 6;
  const stride1 = info.strideHeight === 1 && info.strideWidth === 1;
  return {
    'x-major': KK * Ci * P * BUILD + P * Co * PACK,
    'dy-major': stride1 ? KK * Co * N * H * W * BUILD + N * H * W * Ci * PACK : Number.POSITIVE_INFINITY,
    'dy-rows': Co * P * BUILD + KK * Ci * P * BUILD + KK * Ci * P * PACK,
  };
}

/**
 * The layout {@link conv2dBackpropFilterImpl} uses for `info` (the cheapest estimate).
 * @example
 * ```ts
 * const info = tf.backend_util.computeConv2DInfo([64, 28, 28, 1], [2, 2, 1, 64], 1, 1, 'same');
 * chooseFilterGradLayout(info); // 'dy-rows'
 * ```
 */
export function chooseFilterGradLayout(info: backend_util.Conv2DInfo): FilterGradLayout {
  if (directApplies(info)) return 'direct';
  if (runsApply(info)) return 'runs';
  const costs = filterGradCosts(info);
  let best: FilterGradLayout = 'dy-major';
  for (const k of ['x-major', 'dy-rows'] as const) if (costs[k] < costs[best]) best = k;
  return best;
}

/**
 * Stock wasm kernels the filter gradient is built from.
 * @example
 * ```ts
 * const deps: FilterGradDeps = { matMul: tf.getKernel('BatchMatMul', 'wasm')!, transpose: tf.getKernel('Transpose', 'wasm')! };
 * ```
 */
export interface FilterGradDeps {
  /** BatchMatMul (its plain, untransposed XNNPACK path). */
  matMul: KernelConfig;
  /** Transpose (C++; about 3x faster than a JS loop for the 'dy-rows' layout). */
  transpose: KernelConfig;
}

/**
 * Creates the kernel from the stock wasm kernels it uses.
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: makeConv2DBackpropFilter(deps) });
 * ```
 */
export function makeConv2DBackpropFilter(deps: FilterGradDeps): KernelConfig['kernelFunc'] {
  return (args) => {
    const { inputs, attrs } = args as unknown as KernelArgs;
    const backend = asWasm(args.backend);
    const x = inputs.x as TensorInfo;
    const dy = inputs.dy as TensorInfo;
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as FilterAttrs;
    if (dataFormat === 'NCHW') {
      throw new FashionMnistError(
        'UNSUPPORTED',
        "wasm Conv2DBackpropFilter supports dataFormat 'NHWC' only, like the wasm Conv2D",
      );
    }
    if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
      throw new FashionMnistError(
        'UNSUPPORTED',
        `wasm Conv2DBackpropFilter needs float32 tensors, got ${x.dtype} and ${dy.dtype}`,
      );
    }
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    return conv2dBackpropFilterImpl(backend, deps, x, dy, info);
  };
}

/**
 * dW for NHWC `x`, `dy` and a computed conv geometry. `layout` and `chunkImages` (images per
 * product) override the automatic choices; the tests use them to cover every path.
 * @example
 * ```ts
 * const dW = conv2dBackpropFilterImpl(backend, deps, x, dy, info, 'x-major', 1); // forced layout, one image per product
 * ```
 */
export function conv2dBackpropFilterImpl(
  backend: WasmBackendLike,
  deps: FilterGradDeps,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
  layout: FilterGradLayout = chooseFilterGradLayout(info),
  chunkImages?: number,
): TensorInfo {
  if (layout === 'direct') {
    const simd = directApplies(info) ? simdKernels(backend.wasm) : null;
    if (simd != null) return directFilterGrad(backend, simd, x, dy, info, chunkImages);
    layout = 'dy-rows'; // no SIMD here (or a shape it does not fit): the product layout that suits few channels
  }
  if (layout === 'runs') {
    const simd = runsApply(info) ? simdKernels(backend.wasm) : null;
    if (simd != null) return runsFilterGrad(backend, simd, x, dy, info);
    const costs = filterGradCosts(info); // no SIMD here: the cheapest product layout
    layout = 'dy-major';
    for (const k of ['x-major', 'dy-rows'] as const) if (costs[k] < costs[layout]) layout = k;
  }
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outChannels: Co } = info;
  const { outHeight: OH, outWidth: OW, filterHeight: KH, filterWidth: KW } = info;
  const sh = info.strideHeight;
  const sw = info.strideWidth;
  const KK = KH * KW;
  const tapOffsets = filterTaps(info);

  // Per layout: rows of A, columns (pixels) per image, columns of B.
  const pixels = layout === 'dy-major' ? H * W : OH * OW;
  const rowsA = layout === 'x-major' ? KK * Ci : layout === 'dy-major' ? KK * Co : Co;
  const colsB = layout === 'x-major' ? Co : layout === 'dy-major' ? Ci : KK * Ci;
  const builtPerImage = pixels * (layout === 'dy-rows' ? Co + KK * Ci : rowsA);
  const perChunkBuilt = Math.floor(CHUNK_FLOATS / Math.max(1, builtPerImage));
  const perChunkT = Math.floor(TRANSPOSE_CHUNK_FLOATS / Math.max(1, OH * OW * Co));
  const auto = layout === 'dy-rows' ? Math.min(perChunkBuilt, perChunkT) : perChunkBuilt;
  const perChunk = Math.max(1, Math.min(N, chunkImages ?? auto));
  // 'same'-size stride-1 convolutions: dy^T shifted as a whole (memcpy) instead of gathered
  const flatShift = layout === 'dy-major' && OH === H && OW === W;

  const outRows = rowsA;
  const acc = new Float64Array(outRows * colsB);
  let single: TensorInfo | null = null; // the product itself when there is only one chunk
  for (let n0 = 0; n0 < N; n0 += perChunk) {
    const n1 = Math.min(N, n0 + perChunk);
    const whole = n0 === 0 && n1 === N;
    const P = (n1 - n0) * pixels;
    let b: TensorInfo;
    let ownsB = true;
    if (layout !== 'dy-rows' && whole) {
      b = view(layout === 'x-major' ? dy : x, [P, colsB]);
      ownsB = false;
    } else {
      b = backend.makeOutput([P, colsB], 'float32');
    }
    let a: TensorInfo;
    if (layout === 'dy-rows') {
      // A = the dy chunk transposed, by the stock C++ Transpose on a copy of the chunk
      const chunk = backend.makeOutput([P, Co], 'float32');
      f32(backend, chunk).set(f32(backend, dy).subarray(n0 * pixels * Co, n1 * pixels * Co));
      a = call(deps.transpose, backend, { x: chunk }, { perm: [1, 0] });
      release(backend, chunk);
      im2col(f32(backend, x), im2colGeometry(info), tapOffsets, n0, n1, f32(backend, b));
    } else {
      a = backend.makeOutput([rowsA, P], 'float32');
      // Views only after the allocations above: any allocation may grow (and detach) the heap.
      const aV = f32(backend, a);
      if (layout === 'x-major') {
        const xV = f32(backend, x);
        for (let t = 0; t < KK; t++) {
          const [offH, offW] = tapOffsets[t];
          const g = {
            srcH: H,
            srcW: W,
            channels: Ci,
            dstH: OH,
            dstW: OW,
            strideH: sh,
            strideW: sw,
            offH,
            offW,
          };
          gatherTransposed(xV, g, n0, n1, aV, t * Ci, P);
        }
        if (ownsB) f32(backend, b).set(f32(backend, dy).subarray(n0 * pixels * Co, n1 * pixels * Co));
      } else if (flatShift) {
        // dy^T [Co, (n, h, w)] by the stock C++ Transpose, then each tap's rows are dy^T moved by
        // dh*W + dw floats, with the pixels whose source falls outside the image zeroed.
        let chunk = view(dy, [P, Co]);
        if (!whole) {
          chunk = backend.makeOutput([P, Co], 'float32');
          f32(backend, chunk).set(f32(backend, dy).subarray(n0 * pixels * Co, n1 * pixels * Co));
        }
        const dyT = call(deps.transpose, backend, { x: chunk }, { perm: [1, 0] });
        if (!whole) release(backend, chunk);
        const src = f32(backend, dyT);
        const dst = f32(backend, a);
        const len = Co * P;
        const planes = Co * (n1 - n0);
        for (let t = 0; t < KK; t++) {
          const [dh, dw] = tapOffsets[t];
          const block = dst.subarray(t * len, (t + 1) * len);
          const shift = dh * W + dw;
          if (shift >= 0) {
            block.set(src.subarray(0, len - shift), shift);
            block.fill(0, 0, shift);
          } else {
            block.set(src.subarray(-shift), 0);
            block.fill(0, len + shift, len);
          }
          const h0 = Math.max(0, Math.min(H, dh)); // rows [h0, h1) have a source row
          const h1 = Math.max(h0, Math.min(H, H + dh));
          const w0 = Math.max(0, Math.min(W, dw));
          const w1 = Math.max(w0, Math.min(W, W + dw));
          for (let q = 0; q < planes; q++) {
            const base = q * H * W;
            if (h0 > 0) block.fill(0, base, base + h0 * W);
            if (h1 < H) block.fill(0, base + h1 * W, base + H * W);
            if (w0 > 0 || w1 < W) {
              for (let h = h0; h < h1; h++) {
                const row = base + h * W;
                for (let w = 0; w < w0; w++) block[row + w] = 0;
                for (let w = w1; w < W; w++) block[row + w] = 0;
              }
            }
          }
        }
        release(backend, dyT);
        if (ownsB) f32(backend, b).set(f32(backend, x).subarray(n0 * pixels * Ci, n1 * pixels * Ci));
      } else {
        // column = x pixel (h, w); tap (kh, kw) reads dy[h - kh + pt, w - kw + pl]
        const dyV = f32(backend, dy);
        for (let t = 0; t < KK; t++) {
          const [offH, offW] = tapOffsets[t];
          const g = { srcH: OH, srcW: OW, channels: Co, dstH: H, dstW: W, strideH: 1, strideW: 1 };
          gatherTransposed(dyV, { ...g, offH: -offH, offW: -offW }, n0, n1, aV, t * Co, P);
        }
        if (ownsB) f32(backend, b).set(f32(backend, x).subarray(n0 * pixels * Ci, n1 * pixels * Ci));
      }
    }
    const part = call(deps.matMul, backend, { a, b }, { transposeA: false, transposeB: false });
    release(backend, a);
    if (ownsB) release(backend, b);
    if (whole) {
      single = part;
    } else {
      const p = f32(backend, part);
      for (let i = 0; i < p.length; i++) acc[i] += p[i];
      release(backend, part);
    }
  }

  const filterShape = [KH, KW, Ci, Co];
  if (layout === 'x-major' && single != null) return view(single, filterShape);
  const out = backend.makeOutput(filterShape, 'float32');
  const o = f32(backend, out);
  const src: ArrayLike<number> = single != null ? f32(backend, single) : acc;
  if (layout === 'x-major') {
    for (let i = 0; i < o.length; i++) o[i] = src[i];
  } else if (layout === 'dy-major') {
    // src is [(tap, co), ci]; the filter is [tap, ci, co].
    for (let t = 0; t < KK; t++) {
      const base = t * Co * Ci;
      for (let co = 0; co < Co; co++) {
        for (let ci = 0; ci < Ci; ci++) o[base + ci * Co + co] = src[base + co * Ci + ci];
      }
    }
  } else {
    // src is [co, (tap, ci)]; the filter is [(tap, ci), co].
    const cols = KK * Ci;
    for (let co = 0; co < Co; co++) for (let j = 0; j < cols; j++) o[j * Co + co] = src[co * cols + j];
  }
  if (single != null) release(backend, single);
  return out;
}

/** The (offH, offW) that each filter tap adds to an output pixel's position, in HWIO tap order. */
function filterTaps(info: backend_util.Conv2DInfo): [number, number][] {
  const taps: [number, number][] = [];
  for (let kh = 0; kh < info.filterHeight; kh++) {
    for (let kw = 0; kw < info.filterWidth; kw++) taps.push([kh - info.padInfo.top, kw - info.padInfo.left]);
  }
  return taps;
}

/** The geometry of `im2col(x)` for the filter gradient: one row per output pixel. */
function im2colGeometry(info: backend_util.Conv2DInfo) {
  return {
    srcH: info.inHeight,
    srcW: info.inWidth,
    channels: info.inChannels,
    dstH: info.outHeight,
    dstW: info.outWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
  };
}

/** The 'direct' layout: im2col chunks and the SIMD accumulation into dW (see the file comment). */
function directFilterGrad(
  backend: WasmBackendLike,
  simd: NonNullable<ReturnType<typeof simdKernels>>,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
  chunkImages?: number,
): TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outChannels: Co } = info;
  const { outHeight: OH, outWidth: OW, filterHeight: KH, filterWidth: KW } = info;
  const taps = filterTaps(info);
  const T = taps.length * Ci;
  // zero taps (they read only padding) until the row width is a multiple of 4
  while ((taps.length * Ci) % 4 !== 0) taps.push([(H + W + 1) << 10, (H + W + 1) << 10]);
  const T4 = taps.length * Ci;
  const pixels = OH * OW;
  const perChunk = Math.max(
    1,
    Math.min(N, chunkImages ?? Math.floor(CHUNK_FLOATS / Math.max(1, pixels * T4))),
  );
  const acc = backend.makeOutput([T4, Co], 'float32');
  f32(backend, acc).fill(0);
  const g = im2colGeometry(info);
  for (let n0 = 0; n0 < N; n0 += perChunk) {
    const n1 = Math.min(N, n0 + perChunk);
    const P = (n1 - n0) * pixels;
    const xcol = backend.makeOutput([P, T4], 'float32');
    // views and offsets only after the allocation: it may grow the heap
    im2col(f32(backend, x), g, taps, n0, n1, f32(backend, xcol));
    const dyAt = heapOffset(backend, dy) + n0 * pixels * Co * 4;
    simd.filterGradT4(heapOffset(backend, xcol), dyAt, heapOffset(backend, acc), P, T4, Co);
    release(backend, xcol);
  }
  const filterShape = [KH, KW, Ci, Co];
  if (T4 === T) return view(acc, filterShape);
  const out = backend.makeOutput(filterShape, 'float32');
  f32(backend, out).set(f32(backend, acc).subarray(0, T * Co));
  release(backend, acc);
  return out;
}

/** The 'runs' layout: one SIMD call per image and tap, from x and dy in place (see the file comment). */
function runsFilterGrad(
  backend: WasmBackendLike,
  simd: NonNullable<ReturnType<typeof simdKernels>>,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outChannels: Co } = info;
  const { outHeight: OH, outWidth: OW, filterHeight: KH, filterWidth: KW } = info;
  const out = backend.makeOutput([KH, KW, Ci, Co], 'float32');
  f32(backend, out).fill(0);
  // offsets only after the allocation: it may grow the heap
  const xAt = heapOffset(backend, x);
  const dyAt = heapOffset(backend, dy);
  const outAt = heapOffset(backend, out);
  const taps = filterTaps(info);
  for (let t = 0; t < taps.length; t++) {
    const [dh, dw] = taps[t]!;
    // output pixels (oh, ow) whose input pixel (oh + dh, ow + dw) is inside the image
    const oh0 = Math.max(0, -dh);
    const oh1 = Math.min(OH, H - dh);
    const ow0 = Math.max(0, -dw);
    const ow1 = Math.min(OW, W - dw);
    if (oh1 <= oh0 || ow1 <= ow0) continue;
    const runs = oh1 - oh0;
    for (let n = 0; n < N; n++) {
      const xp = xAt + ((n * H + oh0 + dh) * W + ow0 + dw) * Ci * 4;
      const dp = dyAt + ((n * OH + oh0) * OW + ow0) * Co * 4;
      simd.filterGradRuns(
        xp,
        dp,
        outAt + t * Ci * Co * 4,
        runs,
        ow1 - ow0,
        W * Ci * 4,
        OW * Co * 4,
        Ci,
        Co,
        runs,
      );
    }
  }
  return out;
}
