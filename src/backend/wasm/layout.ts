// Data-layout loops run in JS on the wasm heap. They exist so that every heavy product can be
// handed to XNNPACK's fully-connected path (plain row-major A times plain B), the only matmul
// path of tfjs-backend-wasm 4.22 that is fast; its transposed-operand path is a scalar loop.

/**
 * Geometry of one shifted, strided gather (see {@link gatherTransposed}).
 * @example
 * ```ts
 * const g: GatherGeometry = { srcH: 28, srcW: 28, channels: 1, dstH: 28, dstW: 28, strideH: 1, strideW: 1, offH: 0, offW: 1 };
 * ```
 */
export interface GatherGeometry {
  /** Source tensor height, width and channels (NHWC, batch implied). */
  srcH: number;
  srcW: number;
  channels: number;
  /** Target grid height and width: one column of the result per target pixel. */
  dstH: number;
  dstW: number;
  /** Source row = target row * strideH + offH (same for columns); outside the source reads as 0. */
  strideH: number;
  strideW: number;
  offH: number;
  offW: number;
}

/**
 * im2col, transposed: for images `n0..n1-1` writes rows `rowBase + c` (one per channel) of the
 * row-major matrix `dst` with `ld` columns, column `m` being target pixel m of the chunk, value
 * `src[n, th*strideH+offH, tw*strideW+offW, c]` or 0 outside the source. Loops are ordered so that
 * one target row's source pixels (at most a few KiB) stay in L1 while every channel row is written
 * contiguously.
 * @example
 * ```ts
 * // row c of dst = channel c of x shifted one pixel left, one column per pixel of images 0..63
 * gatherTransposed(x, g, 0, 64, dst, 0, 64 * 28 * 28);
 * ```
 */
export function gatherTransposed(
  src: Float32Array,
  g: GatherGeometry,
  n0: number,
  n1: number,
  dst: Float32Array,
  rowBase: number,
  ld: number,
): void {
  const { srcH, srcW, channels: C, dstH, dstW, strideH, strideW, offH, offW } = g;
  // Valid target columns: 0 <= tw*strideW + offW < srcW.
  let tw0 = 0;
  while (tw0 < dstW && tw0 * strideW + offW < 0) tw0++;
  let tw1 = dstW;
  while (tw1 > tw0 && (tw1 - 1) * strideW + offW >= srcW) tw1--;
  for (let n = n0; n < n1; n++) {
    for (let th = 0; th < dstH; th++) {
      const m0 = ((n - n0) * dstH + th) * dstW;
      const sh = th * strideH + offH;
      if (sh < 0 || sh >= srcH) {
        for (let c = 0; c < C; c++) dst.fill(0, (rowBase + c) * ld + m0, (rowBase + c) * ld + m0 + dstW);
        continue;
      }
      const srcRow = (n * srcH + sh) * srcW;
      for (let c = 0; c < C; c++) {
        const d = (rowBase + c) * ld + m0;
        for (let tw = 0; tw < tw0; tw++) dst[d + tw] = 0;
        let s = (srcRow + tw0 * strideW + offW) * C + c;
        const step = strideW * C;
        for (let tw = tw0; tw < tw1; tw++, s += step) dst[d + tw] = src[s];
        for (let tw = tw1; tw < dstW; tw++) dst[d + tw] = 0;
      }
    }
  }
}

/**
 * im2col: for images `n0..n1-1` writes one row per target pixel of the row-major matrix `dst`
 * (`taps * channels` columns, tap-major like an HWIO filter): the source pixel each filter tap
 * sees, or zeros where it falls in the padding. `taps` lists the (offH, offW) of every tap.
 * @example
 * ```ts
 * // one row per output pixel of images 0..7, the 4 taps of a 2x2 'same' filter side by side
 * im2col(x, geometry, [[0, 0], [0, 1], [1, 0], [1, 1]], 0, 8, dst);
 * ```
 */
export function im2col(
  src: Float32Array,
  g: Omit<GatherGeometry, 'offH' | 'offW'>,
  taps: readonly (readonly [number, number])[],
  n0: number,
  n1: number,
  dst: Float32Array,
): void {
  const { srcH, srcW, channels: C, dstH, dstW, strideH, strideW } = g;
  const cols = taps.length * C;
  let row = 0;
  for (let n = n0; n < n1; n++) {
    for (let th = 0; th < dstH; th++) {
      for (let tw = 0; tw < dstW; tw++, row++) {
        let d = row * cols;
        for (let t = 0; t < taps.length; t++, d += C) {
          const sh = th * strideH + taps[t][0];
          const sw = tw * strideW + taps[t][1];
          if (sh < 0 || sh >= srcH || sw < 0 || sw >= srcW) {
            for (let c = 0; c < C; c++) dst[d + c] = 0;
          } else {
            const s = ((n * srcH + sh) * srcW + sw) * C;
            for (let c = 0; c < C; c++) dst[d + c] = src[s + c];
          }
        }
      }
    }
  }
}
