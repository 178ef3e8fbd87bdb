// The tfjs-free core of random erasing: options, sampling (`sampleEraseParams`: params → rectangle + fill)
// and the one apply step (`writeErase`, with one conversion rule per element type, `FillRule`). Data
// pipelines that never touch a tensor can use this module on its own; every front end calls it:
// `applyErase` and `RandomEraser.eraseImage` (one image), `RandomEraser.eraseBatch` and the `RandomErasing`
// layer (one mask and one fill for the batch, then a single masked select), and `trainCnn`'s erasing
// (in place on each batch before it becomes a tensor).
//
// The sampling procedure is the reference one (Zhong et al., 2017, and the widely used
// `get_random_eraser`), transcribed draw for draw so that, given the same stream of uniforms,
// it makes the same decisions. Do not "improve" it (centre sampling, log-uniform ratio,
// clipping): users compare against published numbers obtained with exactly this distribution.

import { FashionMnistError } from '../errors.js';
import { checkSeed, type RandomSource, type Seed } from '../internal/random.js';
import { badOption, checkBoolean, checkNumber, mergeOptions, show } from '../internal/validate.js';

export type { RandomSource, Seed };

/**
 * Options of random erasing, with the reference names (`p`, `s_l`, `s_h`, `r_1`, `r_2`, `v_l`,
 * `v_h`, `pixel_level`) plus `maxAttempts` and `seed`.
 *
 * `v_l` and `v_h` are in the units of the pixels you erase: 0..255 for raw bytes (the default),
 * `v_h: 1` for images normalised to [0, 1].
 *
 * @example
 * ```ts
 * const options: RandomErasingOptions = { p: 0.5, s_h: 0.3, v_h: 1, seed: 42 };
 * const eraser = new RandomEraser(options);
 * ```
 */
export interface RandomErasingOptions {
  /** Probability that an image is erased at all, in [0, 1]. Default 0.5. */
  p?: number;
  /** Minimum erased area as a fraction of the image area, in [0, s_h]. Default 0.02. */
  s_l?: number;
  /** Maximum erased area as a fraction of the image area, in [s_l, 1]. Default 0.4. */
  s_h?: number;
  /** Minimum aspect ratio (height / width) of the rectangle, > 0. Default 0.3. */
  r_1?: number;
  /** Maximum aspect ratio (height / width) of the rectangle, >= r_1. Default 1 / 0.3. */
  r_2?: number;
  /** Lowest fill value, in the image's value units. Default 0. */
  v_l?: number;
  /** Highest fill value, in the image's value units, >= v_l. Default 255. */
  v_h?: number;
  /** `false`: one value for the whole rectangle; `true`: one value per pixel and channel. Default false. */
  pixel_level?: boolean;
  /**
   * Bound on rectangle draws per image (an integer >= 1). The reference retries forever; here, after
   * `maxAttempts` rejected rectangles the image is returned unchanged and counted in
   * `RandomEraser.stats.exhausted`. Default 100.
   */
  maxAttempts?: number;
  /**
   * Seed of the random stream (a number or a string; a number is used as its decimal string, so
   * `42` and `'42'` give the same stream). The same seed gives the same results on every platform.
   * Omitted: a fresh seed is drawn, and can be read back from `RandomEraser.seed`.
   */
  seed?: Seed;
}

/**
 * Fully resolved, validated and frozen random erasing settings (everything except the seed), as
 * `RandomEraser.options` holds them; what {@link sampleEraseParams} and {@link rectangleCanFit} take.
 *
 * @example
 * ```ts
 * import { RandomEraser, type RandomErasingConfig } from 'fashion-mnist-tfjs/augment';
 *
 * const config: RandomErasingConfig = new RandomEraser({ p: 1 }).options;
 * config.s_h; // 0.4
 * ```
 */
export interface RandomErasingConfig {
  readonly p: number;
  readonly s_l: number;
  readonly s_h: number;
  readonly r_1: number;
  readonly r_2: number;
  readonly v_l: number;
  readonly v_h: number;
  readonly pixel_level: boolean;
  readonly maxAttempts: number;
}

/**
 * Defaults of the random erasing options: those of the reference implementation, plus a retry bound
 * of 100 (with the defaults on a 28×28 image an attempt succeeds with probability 0.33, so the chance
 * of reaching the bound is about 5e-18).
 *
 * @example
 * ```ts
 * RANDOM_ERASING_DEFAULTS.p; // 0.5
 * ```
 */
export const RANDOM_ERASING_DEFAULTS: Readonly<Required<Omit<RandomErasingOptions, 'seed'>>> & {
  readonly seed: number | string | undefined;
} = Object.freeze({
  p: 0.5,
  s_l: 0.02,
  s_h: 0.4,
  r_1: 0.3,
  r_2: 1 / 0.3,
  v_l: 0,
  v_h: 255,
  pixel_level: false,
  maxAttempts: 100,
  seed: undefined,
});

/**
 * What {@link sampleEraseParams} decided for one image: leave it alone, or erase the rectangle of
 * rows `top..top+h-1` and columns `left..left+w-1` (all channels) with `values`.
 *
 * `values` has one element when `pixel_level` is off, otherwise `h * w * channels` elements in
 * row-major HWC order. `h` or `w` may be 0 (the reference floors the side lengths), which erases
 * nothing. `attempts` is the number of rectangles drawn; `exhausted` is true when the retry bound
 * was reached without a fitting rectangle.
 *
 * @example
 * ```ts
 * import { RandomEraser } from 'fashion-mnist-tfjs/augment';
 *
 * const params = new RandomEraser({ p: 1, seed: 1 }).sampleParams(28, 28);
 * if (params.erase) console.log(params.top, params.left, params.h, params.w);
 * ```
 */
export type EraseParams =
  | { readonly erase: false; readonly attempts: number; readonly exhausted: boolean }
  | {
      readonly erase: true;
      readonly top: number;
      readonly left: number;
      readonly h: number;
      readonly w: number;
      readonly values: Float64Array;
      readonly attempts: number;
    };

/**
 * Pixel containers accepted by the per-image functions, always row-major HWC. The result of an
 * erase has the same type as the input.
 *
 * @example
 * ```ts
 * const pixels: PixelArray = new Uint8Array(28 * 28);
 * ```
 */
export type PixelArray = Float32Array | Float64Array | Int32Array | Uint8Array | Uint8ClampedArray | number[];

/**
 * The array type an erase returns for input type `T`: the same type, except that subclasses of a
 * typed array (Node's `Buffer`, say) come back as the plain typed array, since a `Buffer`'s own
 * `slice` would share memory with the input.
 *
 * @example
 * ```ts
 * const out: ErasedPixels<Uint8Array> = eraser.eraseImage(new Uint8Array(784), [28, 28]); // Uint8Array
 * ```
 */
export type ErasedPixels<T extends PixelArray> = T extends number[]
  ? number[]
  : T extends Float32Array
    ? Float32Array
    : T extends Float64Array
      ? Float64Array
      : T extends Int32Array
        ? Int32Array
        : T extends Uint8ClampedArray
          ? Uint8ClampedArray
          : Uint8Array;

/**
 * Image shape: `[height, width]` for a single-channel image or `[height, width, channels]`.
 *
 * @example
 * ```ts
 * const gray: ImageShape = [28, 28];
 * const rgb: ImageShape = [32, 32, 3];
 * ```
 */
export type ImageShape = readonly [number, number] | readonly [number, number, number];

const WHERE = 'RandomEraser';
const resolved = new WeakSet<object>();

function checkFinite(name: string, value: unknown): number {
  const v = checkNumber(WHERE, name, value);
  if (!Number.isFinite(v)) {
    throw badOption(`${WHERE}: option '${name}' must be a finite number, received ${show(value)}`);
  }
  return v;
}

/**
 * Validates random erasing options and returns the frozen settings (without the seed). Wrong types,
 * out-of-range or inconsistent values (`s_l > s_h`, `r_1 > r_2`, `v_l > v_h`, NaN, infinities) and
 * unknown option names throw `FashionMnistError` with code `BAD_OPTION`.
 *
 * @example
 * ```ts
 * const config = resolveRandomErasingOptions({ p: 1, v_h: 1 });
 * resolveRandomErasingOptions({ s_l: 0.5, s_h: 0.1 }); // throws FashionMnistError BAD_OPTION
 * ```
 */
export function resolveRandomErasingOptions(options?: RandomErasingOptions): RandomErasingConfig {
  const o = mergeOptions(WHERE, RANDOM_ERASING_DEFAULTS, options);
  const p = checkNumber(WHERE, 'p', o.p, { min: 0, max: 1 });
  const s_l = checkNumber(WHERE, 's_l', o.s_l, { min: 0, max: 1 });
  const s_h = checkNumber(WHERE, 's_h', o.s_h, { min: 0, max: 1 });
  if (s_l > s_h) {
    throw badOption(`${WHERE}: option 's_l' must be <= s_h, received s_l=${s_l} and s_h=${s_h}`);
  }
  const r_1 = checkFinite('r_1', o.r_1);
  const r_2 = checkFinite('r_2', o.r_2);
  if (r_1 <= 0) throw badOption(`${WHERE}: option 'r_1' must be a number > 0, received ${show(r_1)}`);
  if (r_2 <= 0) throw badOption(`${WHERE}: option 'r_2' must be a number > 0, received ${show(r_2)}`);
  if (r_1 > r_2) {
    throw badOption(`${WHERE}: option 'r_1' must be <= r_2, received r_1=${r_1} and r_2=${r_2}`);
  }
  const v_l = checkFinite('v_l', o.v_l);
  const v_h = checkFinite('v_h', o.v_h);
  if (v_l > v_h) {
    throw badOption(`${WHERE}: option 'v_l' must be <= v_h, received v_l=${v_l} and v_h=${v_h}`);
  }
  const pixel_level = checkBoolean(WHERE, 'pixel_level', o.pixel_level);
  const maxAttempts = checkNumber(WHERE, 'maxAttempts', o.maxAttempts, { min: 1, integer: true });
  if (o.seed !== undefined) checkSeed(WHERE, o.seed);
  const config: RandomErasingConfig = Object.freeze({
    p,
    s_l,
    s_h,
    r_1,
    r_2,
    v_l,
    v_h,
    pixel_level,
    maxAttempts,
  });
  resolved.add(config);
  return config;
}

/**
 * Whether a rectangle drawn by the reference procedure can fit an `height`×`width` image at all
 * (with positive probability). When it cannot, the reference loops forever; here the samplers throw
 * a `FashionMnistError` `BAD_OPTION` instead, since no retry bound would make such options useful.
 *
 * The side lengths are `floor(sqrt(s / r))` and `floor(sqrt(s · r))`, so they fit exactly when
 * `s / r < (W + 1)²` and `s · r < (H + 1)²`; both only get easier for smaller `s`, so it is enough to
 * look at `s = s_l·H·W` and ask whether some `r` in `[r_1, r_2]` lies in the open interval
 * `(s / (W + 1)², (H + 1)² / s)`.
 *
 * @example
 * ```ts
 * import { RandomEraser, rectangleCanFit } from 'fashion-mnist-tfjs/augment';
 *
 * rectangleCanFit(new RandomEraser().options, 28, 28); // true
 * rectangleCanFit(new RandomEraser({ s_l: 1, s_h: 1, r_1: 3, r_2: 3 }).options, 28, 28); // false
 * ```
 */
export function rectangleCanFit(config: RandomErasingConfig, height: number, width: number): boolean {
  const s = config.s_l * height * width;
  if (s === 0) return true;
  const lo = s / ((width + 1) * (width + 1));
  const hi = ((height + 1) * (height + 1)) / s;
  if (config.r_1 === config.r_2) return lo < config.r_1 && config.r_1 < hi;
  return Math.max(lo, config.r_1) < Math.min(hi, config.r_2);
}

function checkDims(where: string, height: number, width: number, channels: number): void {
  for (const [name, v] of [
    ['height', height],
    ['width', width],
    ['channels', channels],
  ] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new FashionMnistError(
        'BAD_SHAPE',
        `${where}: ${name} must be an integer >= 1, received ${show(v)}`,
      );
    }
  }
}

function ensureResolved(config: RandomErasingConfig): RandomErasingConfig {
  // Frozen configs made by resolveRandomErasingOptions are trusted; anything else is validated, so a
  // hand-written object cannot smuggle in s_l > s_h or a NaN.
  return resolved.has(config) ? config : resolveRandomErasingOptions({ ...config });
}

/**
 * Throws the `FashionMnistError` `BAD_OPTION` explained in {@link rectangleCanFit} when no rectangle can fit.
 *
 * @example
 * ```ts
 * assertRectangleCanFit(resolveRandomErasingOptions(), 28, 28); // passes silently
 * ```
 */
export function assertRectangleCanFit(config: RandomErasingConfig, height: number, width: number): void {
  if (!rectangleCanFit(config, height, width)) {
    throw badOption(
      `${WHERE}: no rectangle with area fraction in [s_l, s_h] = [${config.s_l}, ${config.s_h}] and ` +
        `aspect ratio in [r_1, r_2] = [${config.r_1}, ${config.r_2}] fits a ${height}×${width} image; ` +
        'lower s_l or bring [r_1, r_2] closer to the image aspect ratio',
    );
  }
}

/**
 * Samples what to do with one image, consuming `random` exactly as the reference does: one uniform
 * `u` (if `u > p` the image is left alone), then per attempt the area `s ~ U[s_l, s_h]·H·W`, the
 * ratio `r ~ U[r_1, r_2]`, `w = floor(sqrt(s / r))`, `h = floor(sqrt(s · r))`, `left` uniform in
 * `[0, W)`, `top` uniform in `[0, H)`, accepting when `left + w <= W` and `top + h <= H`; finally the
 * fill value (or `h·w·channels` values with `pixel_level`). After `maxAttempts` rejections it gives
 * up: `{ erase: false, exhausted: true }`. Pure apart from advancing `random`. Fill values are
 * `v_l + (v_h − v_l)·u`, computed without overflow when `v_h − v_l` exceeds the double range.
 *
 * @throws FashionMnistError `BAD_OPTION` when no rectangle allowed by the options can fit the image
 * (or for a hand-made config that is not valid), `BAD_SHAPE` for dimensions that are not integers >= 1.
 *
 * @example
 * ```ts
 * import { applyErase, RandomEraser, sampleEraseParams } from 'fashion-mnist-tfjs/augment';
 *
 * const config = new RandomEraser({ p: 1 }).options;
 * const params = sampleEraseParams(Math.random, 28, 28, 1, config); // any () => number in [0, 1)
 * const erased = applyErase(new Uint8Array(784), [28, 28], params);
 * ```
 */
export function sampleEraseParams(
  random: RandomSource,
  height: number,
  width: number,
  channels: number,
  config: RandomErasingConfig,
): EraseParams {
  checkDims('sampleEraseParams', height, width, channels);
  const c = ensureResolved(config);
  assertRectangleCanFit(c, height, width);
  if (random() > c.p) return { erase: false, attempts: 0, exhausted: false };
  const area = height * width;
  for (let attempt = 1; attempt <= c.maxAttempts; attempt++) {
    const s = (c.s_l + (c.s_h - c.s_l) * random()) * area;
    const r = c.r_1 + (c.r_2 - c.r_1) * random();
    const w = Math.floor(Math.sqrt(s / r));
    const h = Math.floor(Math.sqrt(s * r));
    const left = Math.floor(random() * width);
    const top = Math.floor(random() * height);
    if (left + w <= width && top + h <= height) {
      const n = c.pixel_level ? h * w * channels : 1;
      const values = new Float64Array(n);
      for (let i = 0; i < n; i++) values[i] = uniformBetween(c.v_l, c.v_h, random());
      return { erase: true, top, left, h, w, values, attempts: attempt };
    }
  }
  return { erase: false, attempts: c.maxAttempts, exhausted: true };
}

/**
 * `v_l + (v_h − v_l)·u`, the reference's fill value, without overflow: when `v_h − v_l` is not a finite
 * double (e.g. `v_l = -1e308`, `v_h = 1e308`) the same point is computed as `v_l·(1 − u) + v_h·u`, whose
 * two terms have opposite signs and so cannot overflow. The usual formula is kept otherwise so that the
 * values stay bit-identical to the reference's for the same uniforms.
 */
function uniformBetween(lo: number, hi: number, u: number): number {
  const span = hi - lo;
  if (Number.isFinite(span)) return lo + span * u;
  return Math.min(hi, Math.max(lo, lo * (1 - u) + hi * u));
}

/**
 * Validated image geometry, as returned by {@link imageGeometry}.
 *
 * @example
 * ```ts
 * const { height, width, channels }: ImageGeometry = imageGeometry('demo', new Uint8Array(784), [28, 28]);
 * ```
 */
export interface ImageGeometry {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

/**
 * Checks a pixel container against its shape and returns the geometry. `FashionMnistError` with code
 * `BAD_INPUT` for a container of the wrong type, `BAD_SHAPE` for a malformed shape or when the number
 * of pixels does not match the shape.
 *
 * @example
 * ```ts
 * imageGeometry('demo', new Float32Array(28 * 28 * 3), [28, 28, 3]); // { height: 28, width: 28, channels: 3 }
 * ```
 */
export function imageGeometry(where: string, pixels: unknown, shape: unknown): ImageGeometry {
  if (!Array.isArray(pixels) && !isPixelTypedArray(pixels)) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `${where}: pixels must be a Float32Array, Float64Array, Int32Array, Uint8Array, Uint8ClampedArray or number[], received ${show(pixels)}`,
    );
  }
  if (!Array.isArray(shape) || (shape.length !== 2 && shape.length !== 3)) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `${where}: shape must be [height, width] or [height, width, channels], received ${Array.isArray(shape) ? `[${shape.join(', ')}]` : show(shape)}`,
    );
  }
  const [height, width, channels = 1] = shape as number[];
  checkDims(where, height!, width!, channels);
  const expected = height! * width! * channels;
  if (pixels.length !== expected) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `${where}: shape [${shape.join(', ')}] needs ${expected} values, received ${pixels.length}`,
    );
  }
  return { height: height!, width: width!, channels };
}

function isPixelTypedArray(x: unknown): x is Exclude<PixelArray, number[]> {
  return (
    x instanceof Float32Array ||
    x instanceof Float64Array ||
    x instanceof Int32Array ||
    x instanceof Uint8Array ||
    x instanceof Uint8ClampedArray
  );
}

/**
 * How a fill value becomes a stored pixel, one rule per element type, shared by every front end
 * ({@link applyErase}, `RandomEraser.eraseImage`, `RandomEraser.eraseBatch`, the layer and `trainCnn`):
 *
 * | rule | containers | conversion |
 * | --- | --- | --- |
 * | `uint8` | `Uint8Array`, `Uint8ClampedArray` | rounded (half up), clamped to 0..255 |
 * | `int32` | `Int32Array`, `int32` tensors | rounded (half up), clamped to −2³¹..2³¹−1 |
 * | `float32` | `Float32Array`, `float32` tensors | clamped to ±3.4028235e38, rounded to float32 |
 * | `float64` | `Float64Array`, `number[]` | unchanged |
 */
export type FillRule = 'uint8' | 'int32' | 'float32' | 'float64';

const FLOAT32_MAX = 3.4028234663852886e38;

/** The {@link FillRule} of a pixel container. */
export function fillRuleOf(pixels: PixelArray): FillRule {
  if (pixels instanceof Uint8Array || pixels instanceof Uint8ClampedArray) return 'uint8';
  if (pixels instanceof Int32Array) return 'int32';
  if (pixels instanceof Float32Array) return 'float32';
  return 'float64';
}

/** Converts one fill value by a {@link FillRule}. */
export function toPixel(value: number, rule: FillRule): number {
  switch (rule) {
    case 'uint8':
      return Math.min(255, Math.max(0, Math.round(value)));
    case 'int32':
      return Math.min(2147483647, Math.max(-2147483648, Math.round(value)));
    case 'float32':
      return Math.fround(Math.min(FLOAT32_MAX, Math.max(-FLOAT32_MAX, value)));
    default:
      return value;
  }
}

/** A container that {@link writeErase} can write into. */
export type WritablePixels = { [index: number]: number; readonly length: number };

/**
 * The one apply step, in place: writes the rectangle of `params` (an erasing decision) into the image
 * that starts at `offset` in `out` (row-major HWC, `width` columns, `channels` channels), each value
 * converted by `rule`. Does nothing when `params.erase` is false. No checks: callers validate `params`
 * against the image first ({@link applyErase} does); used as is by the batch front ends, which sample
 * their own parameters.
 */
export function writeErase(
  out: WritablePixels,
  offset: number,
  width: number,
  channels: number,
  params: EraseParams,
  rule: FillRule,
): void {
  if (!params.erase) return;
  const { top, left, h, w, values } = params;
  const perPixel = values.length !== 1;
  const constant = toPixel(values[0]!, rule);
  let k = 0;
  for (let y = top; y < top + h; y++) {
    let i = offset + (y * width + left) * channels;
    for (let x = 0; x < w * channels; x++, i++) out[i] = perPixel ? toPixel(values[k++]!, rule) : constant;
  }
}

/**
 * Checks that erase parameters fit an image of the given geometry: `FashionMnistError` `BAD_INPUT`
 * otherwise.
 */
export function checkEraseParams(where: string, params: EraseParams, geometry: ImageGeometry): void {
  if (!params.erase) return;
  const { height, width, channels } = geometry;
  const { top, left, h, w, values } = params;
  for (const [name, v] of [
    ['top', top],
    ['left', left],
    ['h', h],
    ['w', w],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) {
      throw new FashionMnistError(
        'BAD_INPUT',
        `${where}: params.${name} must be an integer >= 0, received ${show(v)}`,
      );
    }
  }
  if (top + h > height || left + w > width) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `${where}: rectangle rows ${top}..${top + h - 1}, columns ${left}..${left + w - 1} does not fit a ${height}×${width} image`,
    );
  }
  if (!(values instanceof Float64Array) || (values.length !== 1 && values.length !== h * w * channels)) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `${where}: params.values must hold 1 or h*w*channels = ${h * w * channels} values, received ${show(values)}`,
    );
  }
}

/**
 * Applies erase parameters to an image without any randomness and returns a new array of the same
 * type (see {@link ErasedPixels}); the input is never modified. Values are converted by the
 * {@link FillRule} of the container: into a `Uint8Array` / `Uint8ClampedArray` rounded and clamped to
 * 0..255, into an `Int32Array` rounded and clamped to the int32 range, into a `Float32Array` clamped to
 * the float32 range and rounded to float32; a `Float64Array` or `number[]` gets them unchanged.
 *
 * @throws FashionMnistError `BAD_INPUT` for parameters that do not fit the image, `BAD_SHAPE` for a
 * malformed shape.
 * @example
 * ```ts
 * const params = { erase: true, top: 2, left: 3, h: 4, w: 5, values: Float64Array.of(255), attempts: 1 } as const;
 * const out = applyErase(new Uint8Array(28 * 28), [28, 28], params);
 * out[2 * 28 + 3]; // 255
 * ```
 */
export function applyErase<T extends PixelArray>(
  pixels: T,
  shape: ImageShape,
  params: EraseParams,
): ErasedPixels<T> {
  const geometry = imageGeometry('applyErase', pixels, shape);
  checkEraseParams('applyErase', params, geometry);
  const out = copyPixels(pixels);
  writeErase(out, 0, geometry.width, geometry.channels, params, fillRuleOf(pixels));
  return out as ErasedPixels<T>;
}

// A real copy in the base type: `slice` is not enough, because `Buffer.prototype.slice` returns a
// view that shares memory with the input (and typed array subclasses may construct oddly).
function copyPixels(pixels: PixelArray): PixelArray {
  if (Array.isArray(pixels)) return pixels.slice();
  if (pixels instanceof Float32Array) return new Float32Array(pixels);
  if (pixels instanceof Float64Array) return new Float64Array(pixels);
  if (pixels instanceof Int32Array) return new Int32Array(pixels);
  if (pixels instanceof Uint8ClampedArray) return new Uint8ClampedArray(pixels);
  return new Uint8Array(pixels);
}
