// Turns any picture (a product photo, a drawing, an exported Fashion-MNIST image) into a 28×28 image that looks
// like the data set, so that a model trained on Fashion-MNIST sees what it was trained on. Universal: the CLI
// feeds it decoded PNG/JPEG files, the browser demo a canvas's ImageData.
//
// The data set's paper (Xiao, Rasul & Vollgraf 2017, section 2) made each image from a product photo on a light
// background by: trimming edges close to the corner colour (within 5 % of the largest RGB distance), resizing the
// longest edge to 28 by skipping rows and columns, sharpening with a Gaussian operator (radius and σ 1.0),
// extending the shortest edge to 28 with the object centred, negating, and converting to 8-bit grayscale.
// We follow those steps, with two deliberate differences:
//  - resizing averages the pixels each output pixel covers instead of skipping rows and columns: skipping
//    aliases badly on photos much larger than the ~760×1000 catalogue images the paper started from;
//  - negation is decided per image (`invert: 'auto'`): a light background (the paper's case: a product on white,
//    or dark strokes drawn on a white canvas) is negated; a dark one (an image that is already light-on-black,
//    like a Fashion-MNIST image saved as PNG) is kept, so round trips stay faithful.

import { FashionMnistError } from '../errors.js';
import { badOption, checkBoolean, checkNumber, mergeOptions, show } from '../internal/validate.js';

/**
 * A decoded picture in RGBA order, 8 bits per channel (what `pngjs`, `jpeg-js` with `formatAsRGBA` and a
 * canvas's `ImageData` give).
 *
 * @example
 * ```ts
 * const image: RgbaImage = ctx.getImageData(0, 0, canvas.width, canvas.height);
 * ```
 */
export interface RgbaImage {
  readonly data: Uint8Array | Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
}

/**
 * Options of {@link toFashionMnistImage}.
 *
 * @example
 * ```ts
 * const options: FashionMnistImageOptions = { invert: 'auto', sharpen: true };
 * ```
 */
export interface FashionMnistImageOptions {
  /**
   * Negate intensities: `'auto'` (default) negates when the background (the top-left corner) is light, which is
   * how the data set turned catalogue photos on white into light objects on black; `true` / `false` force it.
   */
  invert?: 'auto' | boolean;
  /** Trim edges close to the corner colour before resizing, as the data set did (default `true`). */
  trim?: boolean;
  /** Unsharp-mask with a Gaussian of σ 1 after resizing, as the data set did (default `true`). */
  sharpen?: boolean;
  /** Output edge in pixels (default 28). */
  size?: number;
  /**
   * Keep an image that is already `size × size`, gray (R = G = B) and opaque as it is: no trimming, resizing
   * or sharpening, only the negation `invert` decides (default `true`), so a data-set image saved as PNG comes
   * back byte for byte.
   */
  passThrough?: boolean;
}

/**
 * A picture converted by {@link toFashionMnistImage}.
 *
 * @example
 * ```ts
 * const { pixels, inverted } = toFashionMnistImage(image);
 * console.log(pixels.length, inverted); // 784 true
 * ```
 */
export interface FashionMnistImage {
  /** `size × size` grayscale pixels 0..255, row-major, light object on black like the data set. */
  pixels: Uint8Array;
  /** Edge length (28 unless asked otherwise). */
  size: number;
  /** Whether intensities were negated. */
  inverted: boolean;
  /** The part of the input kept after trimming, in input pixels. */
  crop: { left: number; top: number; width: number; height: number };
}

const IMAGE_DEFAULTS: Readonly<FashionMnistImageOptions> = Object.freeze({
  invert: 'auto',
  trim: true,
  sharpen: true,
  size: 28,
  passThrough: true,
});

/** True when the RGBA image is gray (R = G = B) and fully opaque everywhere. */
function isOpaqueGray(data: ArrayLike<number>): boolean {
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] !== 255 || data[i] !== data[i + 1] || data[i] !== data[i + 2]) return false;
  }
  return true;
}

/** Gray value of an RGBA pixel over a white background (transparent areas count as the white studio backdrop). */
function grayAt(data: ArrayLike<number>, i: number): number {
  const a = data[i + 3] / 255;
  const lum = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
  return lum * a + 255 * (1 - a);
}

function rgbAt(data: ArrayLike<number>, i: number): [number, number, number] {
  const a = data[i + 3] / 255;
  return [data[i] * a + 255 * (1 - a), data[i + 1] * a + 255 * (1 - a), data[i + 2] * a + 255 * (1 - a)];
}

/** Area-averaging resize of a float image: each output pixel is the mean of the input area it covers. */
function resizeArea(src: Float64Array, sw: number, sh: number, dw: number, dh: number): Float64Array {
  const out = new Float64Array(dw * dh);
  const fx = sw / dw;
  const fy = sh / dh;
  for (let y = 0; y < dh; y++) {
    const y0 = y * fy;
    const y1 = y0 + fy;
    for (let x = 0; x < dw; x++) {
      const x0 = x * fx;
      const x1 = x0 + fx;
      let sum = 0;
      let weight = 0;
      for (let sy = Math.floor(y0); sy < Math.min(sh, Math.ceil(y1)); sy++) {
        const wy = Math.min(y1, sy + 1) - Math.max(y0, sy);
        if (wy <= 0) continue;
        for (let sx = Math.floor(x0); sx < Math.min(sw, Math.ceil(x1)); sx++) {
          const wx = Math.min(x1, sx + 1) - Math.max(x0, sx);
          if (wx <= 0) continue;
          sum += src[sy * sw + sx] * wx * wy;
          weight += wx * wy;
        }
      }
      out[y * dw + x] = weight > 0 ? sum / weight : 0;
    }
  }
  return out;
}

/** Unsharp mask: v + (v − gaussian(v)), Gaussian σ = 1 on a radius-1 (3×3) support, edges clamped. */
function sharpen(src: Float64Array, w: number, h: number): Float64Array {
  const g = [Math.exp(-0.5), 1, Math.exp(-0.5)];
  const norm = g[0] + g[1] + g[2];
  const k = g.map((v) => v / norm);
  const tmp = new Float64Array(w * h);
  const blur = new Float64Array(w * h);
  const at = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      tmp[y * w + x] =
        k[0] * src[y * w + at(x - 1, w)] + k[1] * src[y * w + x] + k[2] * src[y * w + at(x + 1, w)];
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      blur[y * w + x] =
        k[0] * tmp[at(y - 1, h) * w + x] + k[1] * tmp[y * w + x] + k[2] * tmp[at(y + 1, h) * w + x];
  const out = new Float64Array(w * h);
  for (let i = 0; i < out.length; i++) out[i] = Math.min(255, Math.max(0, 2 * src[i] - blur[i]));
  return out;
}

/**
 * Converts a picture of any size into a Fashion-MNIST-style `28 × 28` grayscale image: trim the background,
 * resize the longest edge to 28, sharpen, centre on a 28 × 28 canvas, negate when the background is light. See
 * the module comment (and `docs/cli.md`) for how this follows the data set's own recipe and where it differs.
 *
 * An image that is already in the data set's format (`size × size`, gray, opaque: a Fashion-MNIST image saved
 * as PNG) is passed through unchanged, only negated when `invert` says so (`passThrough: false` processes it
 * like any other picture).
 *
 * @throws FashionMnistError `BAD_OPTION` for bad options or a malformed image, `BAD_SHAPE` when `data` does not
 * match `width × height × 4`, `BAD_INPUT` for an image that is a single colour (nothing to classify).
 * @example
 * ```ts
 * import { predictCnnTopK } from 'fashion-mnist-tfjs';
 * import { toFashionMnistImage } from 'fashion-mnist-tfjs/data';
 *
 * const { pixels } = toFashionMnistImage(ctx.getImageData(0, 0, canvas.width, canvas.height));
 * const [top3] = await predictCnnTopK(model, pixels, 3);
 * ```
 */
export function toFashionMnistImage(image: RgbaImage, options?: FashionMnistImageOptions): FashionMnistImage {
  const where = 'toFashionMnistImage';
  const o = mergeOptions(where, IMAGE_DEFAULTS, options);
  if (o.invert !== 'auto' && typeof o.invert !== 'boolean') {
    throw badOption(`${where}: option 'invert' must be 'auto', true or false, received ${show(o.invert)}`);
  }
  const size = checkNumber(where, 'size', o.size, { integer: true, min: 1 });
  checkBoolean(where, 'trim', o.trim);
  checkBoolean(where, 'sharpen', o.sharpen);
  checkBoolean(where, 'passThrough', o.passThrough);
  if (image === null || typeof image !== 'object' || !image.data || typeof image.data.length !== 'number') {
    throw badOption(`${where}: image must be { data, width, height } in RGBA order, received ${show(image)}`);
  }
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw badOption(
      `${where}: width and height must be integers >= 1, received ${show(width)}×${show(height)}`,
    );
  }
  if (data.length !== width * height * 4) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `${where}: a ${width}×${height} RGBA image needs ${width * height * 4} bytes, received ${data.length}`,
    );
  }

  // The background is the colour of the top-left corner, as in the data set's trimming step.
  const bg = rgbAt(data, 0);
  const bgGray = grayAt(data, 0);
  if (o.passThrough && width === size && height === size && isOpaqueGray(data)) {
    // Already a data-set image: every step below would only blur or shift it.
    const inverted = o.invert === 'auto' ? bgGray > 127.5 : o.invert;
    const pixels = new Uint8Array(size * size);
    for (let i = 0; i < pixels.length; i++) pixels[i] = inverted ? 255 - data[i * 4] : data[i * 4];
    return { pixels, size, inverted, crop: { left: 0, top: 0, width, height } };
  }
  const limit = 0.05 * Math.sqrt(3) * 255;
  let left = 0;
  let top = 0;
  let right = width - 1;
  let bottom = height - 1;
  if (o.trim) {
    left = width;
    top = height;
    right = -1;
    bottom = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const [r, g, b] = rgbAt(data, (y * width + x) * 4);
        const d = Math.hypot(r - bg[0], g - bg[1], b - bg[2]);
        if (d > limit) {
          if (x < left) left = x;
          if (x > right) right = x;
          if (y < top) top = y;
          if (y > bottom) bottom = y;
        }
      }
    }
    if (right < 0) {
      throw new FashionMnistError(
        'BAD_INPUT',
        `${where}: the image is a single colour (${width}×${height}); there is no object to classify`,
      );
    }
  }
  const cw = right - left + 1;
  const ch = bottom - top + 1;
  const crop = new Float64Array(cw * ch);
  for (let y = 0; y < ch; y++)
    for (let x = 0; x < cw; x++) crop[y * cw + x] = grayAt(data, ((y + top) * width + x + left) * 4);

  const scale = size / Math.max(cw, ch);
  const dw = Math.max(1, Math.min(size, Math.round(cw * scale)));
  const dh = Math.max(1, Math.min(size, Math.round(ch * scale)));
  let small = resizeArea(crop, cw, ch, dw, dh);
  if (o.sharpen) small = sharpen(small, dw, dh);

  const inverted = o.invert === 'auto' ? bgGray > 127.5 : o.invert;
  const canvas = new Float64Array(size * size).fill(bgGray);
  const ox = Math.floor((size - dw) / 2);
  const oy = Math.floor((size - dh) / 2);
  for (let y = 0; y < dh; y++)
    for (let x = 0; x < dw; x++) canvas[(y + oy) * size + x + ox] = small[y * dw + x];
  const pixels = new Uint8Array(size * size);
  for (let i = 0; i < pixels.length; i++) {
    const v = inverted ? 255 - canvas[i] : canvas[i];
    pixels[i] = Math.round(Math.min(255, Math.max(0, v)));
  }
  return { pixels, size, inverted, crop: { left, top, width: cw, height: ch } };
}
