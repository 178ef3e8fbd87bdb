// The tfjs-free core of the two geometric augmentations that CIFAR-style recipes (and the random-erasing
// paper's Fashion-MNIST runs) use before erasing: a random crop of the image padded by `padding` pixels on each
// side (torchvision's `RandomCrop(size, padding)`, zero fill) and a horizontal flip with probability `flip`
// (`RandomHorizontalFlip(p)`). As with erasing, sampling and applying are split: `sampleCropFlip` draws the
// parameters from a seeded stream, and `writeCropFlip`, a pure function of its arguments, applies them. A crop
// of a zero-padded image is the image shifted by (dy, dx) with zeros shifted in, which is how it is applied:
// no padded copy is made.

import type { RandomSource } from '../internal/random.js';
import { badOption, checkNumber, mergeOptions } from '../internal/validate.js';

/**
 * Options of the crop-and-flip augmentation (`trainCnn`'s `cropFlip`).
 *
 * @example
 * ```ts
 * const options: CropFlipOptions = { padding: 2, flip: 0.5 }; // torchvision: RandomCrop(28, 2), RandomHorizontalFlip()
 * ```
 */
export interface CropFlipOptions {
  /** Pixels of zero padding on each side before a random crop back to the image size (an integer >= 0; default 2). */
  padding?: number;
  /** Probability of a horizontal (left-right) flip, in [0, 1] (default 0.5). */
  flip?: number;
}

/**
 * The defaults of {@link CropFlipOptions}.
 *
 * @example
 * ```ts
 * CROP_FLIP_DEFAULTS.padding; // 2
 * ```
 */
export const CROP_FLIP_DEFAULTS: Readonly<Required<CropFlipOptions>> = Object.freeze({
  padding: 2,
  flip: 0.5,
});

/**
 * What one image gets: its content moves by `dy` rows and `dx` columns (each in [-padding, padding]; zeros fill
 * what moves in), then it is mirrored left-right when `flip` is true.
 */
export interface CropFlipParams {
  dy: number;
  dx: number;
  flip: boolean;
}

/**
 * Checks and completes crop-and-flip options; `where` names the caller in errors, which name the options as
 * `cropFlip` (trainCnn's option) so that a wrong type or an unknown key is not taken for one of the caller's own.
 */
export function resolveCropFlipOptions(where: string, options: unknown): Required<CropFlipOptions> {
  const o = mergeOptions<CropFlipOptions>(`${where}: cropFlip`, CROP_FLIP_DEFAULTS, options);
  const padding = checkNumber(where, 'cropFlip.padding', o.padding, { integer: true, min: 0, max: 64 });
  const flip = checkNumber(where, 'cropFlip.flip', o.flip, { min: 0, max: 1 });
  return { padding, flip };
}

/**
 * Draws one image's parameters: the crop offset (two uniform integers in [-padding, padding], as torchvision's
 * crop of the padded image) then, only when `flip > 0`, the flip.
 */
export function sampleCropFlip(options: Required<CropFlipOptions>, random: RandomSource): CropFlipParams {
  const span = 2 * options.padding + 1;
  const dy = Math.min(span - 1, Math.floor(random() * span)) - options.padding;
  const dx = Math.min(span - 1, Math.floor(random() * span)) - options.padding;
  const flip = options.flip > 0 && random() < options.flip;
  return { dy, dx, flip };
}

/**
 * Applies {@link CropFlipParams} to one `height × width × channels` image (channels last) read from `src` at
 * `srcOffset`, writing the result to `dst` at `dstOffset`: `out[y][x] = in[y - dy][x' - dx]` with
 * `x' = width - 1 - x` when flipped, 0 outside the image. `src` and `dst` must not overlap.
 *
 * @throws FashionMnistError `BAD_OPTION` when a shift is larger than the image.
 */
export function writeCropFlip(
  src: ArrayLike<number>,
  srcOffset: number,
  dst: { [index: number]: number },
  dstOffset: number,
  height: number,
  width: number,
  channels: number,
  params: CropFlipParams,
): void {
  const { dy, dx, flip } = params;
  if (Math.abs(dy) >= height || Math.abs(dx) >= width) {
    throw badOption(`writeCropFlip: shift (${dy}, ${dx}) is larger than a ${height}x${width} image`);
  }
  for (let y = 0; y < height; y++) {
    const sy = y - dy;
    const rowOut = dstOffset + y * width * channels;
    if (sy < 0 || sy >= height) {
      for (let i = 0; i < width * channels; i++) dst[rowOut + i] = 0;
      continue;
    }
    const rowIn = srcOffset + sy * width * channels;
    for (let x = 0; x < width; x++) {
      const sx = (flip ? width - 1 - x : x) - dx;
      const o = rowOut + x * channels;
      if (sx < 0 || sx >= width) {
        for (let c = 0; c < channels; c++) dst[o + c] = 0;
      } else {
        const i = rowIn + sx * channels;
        for (let c = 0; c < channels; c++) dst[o + c] = src[i + c]!;
      }
    }
  }
}
