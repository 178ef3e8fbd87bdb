// The crop-and-flip core (tfjs-free): the apply step against a literal transcription of torchvision's
// RandomCrop(size, padding) (zero fill) then RandomHorizontalFlip, the sampling step's draws and frequencies, and
// the option checks. Random shapes and parameters come from mulberry32, not from the library's generator.
import { describe, expect, it } from 'vitest';
import {
  CROP_FLIP_DEFAULTS,
  type CropFlipParams,
  resolveCropFlipOptions,
  sampleCropFlip,
  writeCropFlip,
} from '../../src/augment/crop-flip.js';
import { createRandomSource, type RandomSource } from '../../src/internal/random.js';
import { mulberry32 } from '../helpers/rng.js';

type Image = { data: Float64Array; h: number; w: number; c: number };

/**
 * The recipe spelled out: pad the image with `padding` zeros on every side, take the h × w window whose top-left
 * corner is at (padding - dy, padding - dx) of the padded image (a content shift of (dy, dx), the convention of
 * `CropFlipParams`), then mirror it left-right when `flip`.
 */
function reference(img: Image, padding: number, params: CropFlipParams): Float64Array {
  const { h, w, c } = img;
  const ph = h + 2 * padding;
  const pw = w + 2 * padding;
  const padded = new Float64Array(ph * pw * c);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < c; k++)
        padded[((y + padding) * pw + x + padding) * c + k] = img.data[(y * w + x) * c + k]!;
  const top = padding - params.dy;
  const left = padding - params.dx;
  const crop = new Float64Array(h * w * c);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < c; k++) crop[(y * w + x) * c + k] = padded[((top + y) * pw + left + x) * c + k]!;
  if (!params.flip) return crop;
  const out = new Float64Array(h * w * c);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < c; k++) out[(y * w + x) * c + k] = crop[(y * w + (w - 1 - x)) * c + k]!;
  return out;
}

/** The wrong order (mirror, then crop): a negative control that the comparison can tell apart. */
function flipThenCrop(img: Image, padding: number, params: CropFlipParams): Float64Array {
  const mirrored = reference(img, 0, { dy: 0, dx: 0, flip: params.flip });
  return reference({ ...img, data: mirrored }, padding, { ...params, flip: false });
}

/** An image of distinct non-zero values, so that any misplaced or missed pixel shows. */
function randomImage(rand: RandomSource, h: number, w: number, c: number): Image {
  return { data: Float64Array.from({ length: h * w * c }, () => 1 + Math.floor(rand() * 1000)), h, w, c };
}

function apply(img: Image, params: CropFlipParams): Float64Array {
  const out = new Float64Array(img.data.length).fill(Number.NaN);
  writeCropFlip(img.data, 0, out, 0, img.h, img.w, img.c, params);
  return out;
}

/** Counts the draws taken from `random`. */
function counting(random: RandomSource): { random: RandomSource; draws: () => number } {
  let n = 0;
  return {
    random: () => {
      n++;
      return random();
    },
    draws: () => n,
  };
}

describe('writeCropFlip', () => {
  it('equals zero padding, a crop of the padded image and a mirror, for random shapes and parameters', () => {
    const rand = mulberry32(2017);
    let flipped = 0;
    let shifted = 0;
    let orderMatters = 0;
    for (let t = 0; t < 400; t++) {
      const h = 1 + Math.floor(rand() * 12);
      const w = 1 + Math.floor(rand() * 12);
      const c = [1, 1, 3, 2][t % 4]!;
      const padding = Math.floor(rand() * Math.min(h, w)); // < h and < w, as trainCnn requires
      const params: CropFlipParams = {
        dy: Math.floor(rand() * (2 * padding + 1)) - padding,
        dx: Math.floor(rand() * (2 * padding + 1)) - padding,
        flip: rand() < 0.5,
      };
      const img = randomImage(rand, h, w, c);
      const got = apply(img, params);
      expect(Array.from(got), `${h}x${w}x${c} ${JSON.stringify(params)}`).toEqual(
        Array.from(reference(img, padding, params)),
      );
      if (params.flip) flipped++;
      if (params.dy !== 0 || params.dx !== 0) shifted++;
      if (Array.from(got).some((v, i) => v !== flipThenCrop(img, padding, params)[i])) orderMatters++;
    }
    expect(flipped).toBeGreaterThan(100);
    expect(shifted).toBeGreaterThan(200);
    expect(orderMatters).toBeGreaterThan(50); // a flip-first implementation would have failed above
  });

  it('covers the named cases: 28x28, three channels, non-square, the largest shifts', () => {
    const rand = mulberry32(7);
    const cases: [number, number, number, number, CropFlipParams][] = [
      [28, 28, 1, 2, { dy: 2, dx: -2, flip: true }],
      [28, 28, 1, 2, { dy: -1, dx: 1, flip: false }],
      [8, 5, 3, 4, { dy: -4, dx: 4, flip: true }],
      [5, 9, 3, 4, { dy: 4, dx: -4, flip: false }],
      [3, 17, 2, 2, { dy: 2, dx: 0, flip: true }],
    ];
    for (const [h, w, c, padding, params] of cases) {
      const img = randomImage(rand, h, w, c);
      expect(Array.from(apply(img, params))).toEqual(Array.from(reference(img, padding, params)));
    }
    // A hand-checked 2x3 example: shift right by one (zeros enter on the left), then mirror.
    const tiny = Float64Array.from([1, 2, 3, 4, 5, 6]);
    const out = new Float64Array(6);
    writeCropFlip(tiny, 0, out, 0, 2, 3, 1, { dy: 0, dx: 1, flip: false });
    expect(Array.from(out)).toEqual([0, 1, 2, 0, 4, 5]);
    writeCropFlip(tiny, 0, out, 0, 2, 3, 1, { dy: 0, dx: 1, flip: true });
    expect(Array.from(out)).toEqual([2, 1, 0, 5, 4, 0]);
    writeCropFlip(tiny, 0, out, 0, 2, 3, 1, { dy: -1, dx: 0, flip: false });
    expect(Array.from(out)).toEqual([4, 5, 6, 0, 0, 0]);
  });

  it('is the identity for { dy: 0, dx: 0, flip: false }, and flipping twice gives the image back', () => {
    const rand = mulberry32(11);
    for (const [h, w, c] of [
      [28, 28, 1],
      [7, 4, 3],
      [1, 9, 2],
    ] as const) {
      const img = randomImage(rand, h, w, c);
      expect(Array.from(apply(img, { dy: 0, dx: 0, flip: false }))).toEqual(Array.from(img.data));
      const once = apply(img, { dy: 0, dx: 0, flip: true });
      if (w > 1) expect(Array.from(once)).not.toEqual(Array.from(img.data));
      const twice = apply({ ...img, data: once }, { dy: 0, dx: 0, flip: true });
      expect(Array.from(twice)).toEqual(Array.from(img.data));
    }
  });

  it('reads and writes at the given offsets, never touches src or the rest of dst, and works on bytes', () => {
    const rand = mulberry32(5);
    const img = randomImage(rand, 6, 4, 3);
    img.data = img.data.map((v) => 1 + (v % 255)); // bytes
    const px = img.data.length;
    const src = new Uint8Array(3 * px);
    for (let i = 0; i < src.length; i++) src[i] = 1 + Math.floor(rand() * 250);
    src.set(img.data, px); // the image is the middle one of three
    const copy = src.slice();
    const dst = new Float32Array(4 * px).fill(-1);
    const params = { dy: 1, dx: -2, flip: true };
    writeCropFlip(src, px, dst, 2 * px, 6, 4, 3, params);
    expect(src).toEqual(copy);
    expect(Array.from(dst.subarray(2 * px, 3 * px))).toEqual(Array.from(reference(img, 2, params)));
    expect([...dst.subarray(0, 2 * px), ...dst.subarray(3 * px)].every((v) => v === -1)).toBe(true);
  });

  it('rejects a shift as large as the image with BAD_OPTION, writing nothing', () => {
    const src = new Float64Array(12).fill(1);
    const dst = new Float64Array(12).fill(-1);
    for (const params of [
      { dy: 3, dx: 0, flip: false },
      { dy: -3, dx: 0, flip: false },
      { dy: 0, dx: 4, flip: true },
    ]) {
      expect(() => writeCropFlip(src, 0, dst, 0, 3, 4, 1, params)).toThrow(
        expect.objectContaining({ name: 'FashionMnistError', code: 'BAD_OPTION' }),
      );
    }
    expect(dst.every((v) => v === -1)).toBe(true);
    // One less is allowed: all zeros but one row.
    writeCropFlip(src, 0, dst, 0, 3, 4, 1, { dy: 2, dx: 0, flip: false });
    expect(Array.from(dst)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
  });
});

describe('sampleCropFlip', () => {
  const draw = (seed: string, n: number, options = CROP_FLIP_DEFAULTS) => {
    const random = createRandomSource(seed);
    return Array.from({ length: n }, () => sampleCropFlip(options, random));
  };

  it('is reproducible with a seed, and another seed gives other draws', () => {
    const a = draw('crop', 200);
    expect(draw('crop', 200)).toEqual(a);
    expect(draw('other', 200)).not.toEqual(a);
  });

  it('draws offsets over exactly [-padding, padding], about equally often and independently', () => {
    for (const padding of [1, 2, 3]) {
      const n = 14_000;
      const span = 2 * padding + 1;
      const draws = draw(`offsets ${padding}`, n, { padding, flip: 0.5 });
      for (const axis of ['dy', 'dx'] as const) {
        const counts = new Map<number, number>();
        for (const d of draws) counts.set(d[axis], (counts.get(d[axis]) ?? 0) + 1);
        const values = [...counts.keys()].sort((a, b) => a - b);
        expect(values).toEqual(Array.from({ length: span }, (_, i) => i - padding));
        // Expected n / span each (≥ 2,000); the standard deviation is under 45, so ±15 % is over 7 sigma.
        for (const count of counts.values()) {
          expect(count).toBeGreaterThan(0.85 * (n / span));
          expect(count).toBeLessThan(1.15 * (n / span));
        }
      }
      // dy and dx are separate draws: equal about 1 / span of the time, not always.
      const same = draws.filter((d) => d.dy === d.dx).length;
      expect(same).toBeGreaterThan(0.8 * (n / span));
      expect(same).toBeLessThan(1.2 * (n / span));
    }
  });

  it('maps the ends of [0, 1) to the ends of the offset range', () => {
    const values = [0, 1 - 2 ** -53, 0.99];
    let i = 0;
    const fake = () => values[i++ % values.length]!;
    expect(sampleCropFlip({ padding: 3, flip: 1 }, fake)).toEqual({ dy: -3, dx: 3, flip: true });
  });

  it('flips with probability flip', () => {
    for (const p of [0.1, 0.5, 0.9]) {
      const n = 10_000;
      const flips = draw(`flip ${p}`, n, { padding: 2, flip: p }).filter((d) => d.flip).length;
      // Standard deviation at most 50: ±300 is over 6 sigma.
      expect(Math.abs(flips - p * n)).toBeLessThan(300);
    }
    expect(draw('always', 500, { padding: 2, flip: 1 }).every((d) => d.flip)).toBe(true);
    expect(draw('never', 500, { padding: 2, flip: 0 }).some((d) => d.flip)).toBe(false);
  });

  it('takes two uniforms per image when flip is 0, three otherwise', () => {
    for (const [flip, perImage] of [
      [0, 2],
      [0.5, 3],
      [1, 3],
    ] as const) {
      const { random, draws } = counting(createRandomSource('count'));
      for (let i = 0; i < 100; i++) sampleCropFlip({ padding: 2, flip }, random);
      expect(draws()).toBe(100 * perImage);
    }
    // flip: 0 leaves the offsets where a flip-aware run has them: the first two draws of each image.
    const withFlip = draw('aligned', 1, { padding: 2, flip: 0.5 })[0]!;
    const without = draw('aligned', 1, { padding: 2, flip: 0 })[0]!;
    expect([without.dy, without.dx]).toEqual([withFlip.dy, withFlip.dx]);
  });

  it('never shifts with padding 0', () => {
    const draws = draw('no padding', 1000, { padding: 0, flip: 0.5 });
    for (const d of draws) {
      expect(d.dy).toBe(0); // toBe: Object.is, so -0 would fail too
      expect(d.dx).toBe(0);
    }
    expect(draws.some((d) => d.flip)).toBe(true);
  });
});

describe('resolveCropFlipOptions', () => {
  it('fills in the frozen defaults, the same object as the /augment entry exports', () => {
    expect(Object.isFrozen(CROP_FLIP_DEFAULTS)).toBe(true);
    expect(CROP_FLIP_DEFAULTS).toEqual({ padding: 2, flip: 0.5 });
    expect(resolveCropFlipOptions('test', undefined)).toEqual({ padding: 2, flip: 0.5 });
    expect(resolveCropFlipOptions('test', {})).toEqual({ padding: 2, flip: 0.5 });
    expect(resolveCropFlipOptions('test', { padding: 4, flip: undefined })).toEqual({
      padding: 4,
      flip: 0.5,
    });
    expect(resolveCropFlipOptions('test', { padding: 0, flip: 1 })).toEqual({ padding: 0, flip: 1 });
    expect(resolveCropFlipOptions('test', { flip: 0 })).toEqual({ padding: 2, flip: 0 });
  });

  const bad: [string, unknown, RegExp][] = [
    ['negative padding', { padding: -1 }, /'cropFlip.padding' must be an integer >= 0 .*received -1/],
    ['fractional padding', { padding: 1.5 }, /'cropFlip.padding' must be an integer.*received 1.5/],
    ['NaN padding', { padding: Number.NaN }, /'cropFlip.padding'.*received NaN/],
    ['infinite padding', { padding: Number.POSITIVE_INFINITY }, /'cropFlip.padding'/],
    ['padding as a string', { padding: '2' }, /'cropFlip.padding'.*received "2"/],
    ['flip above 1', { flip: 1.01 }, /'cropFlip.flip' must be a number >= 0 and <= 1, received 1.01/],
    ['flip 2', { flip: 2 }, /'cropFlip.flip'.*received 2/],
    ['negative flip', { flip: -0.1 }, /'cropFlip.flip'/],
    ['NaN flip', { flip: Number.NaN }, /'cropFlip.flip'/],
    ['flip as a boolean', { flip: true }, /'cropFlip.flip'.*received true/],
    ['an unknown key', { pad: 2 }, /test: cropFlip: unknown option 'pad'; allowed options are padding, flip/],
    ['true', true, /test: cropFlip: options must be an object, received true/],
    ['null', null, /cropFlip: options must be an object/],
    ['an array', [2, 0.5], /cropFlip: options must be an object/],
  ];
  for (const [name, options, message] of bad) {
    it(`rejects ${name} with BAD_OPTION`, () => {
      expect(() => resolveCropFlipOptions('test', options)).toThrow(
        expect.objectContaining({ name: 'FashionMnistError', code: 'BAD_OPTION' }),
      );
      expect(() => resolveCropFlipOptions('test', options)).toThrow(message);
    });
  }
});
