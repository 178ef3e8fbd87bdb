// Statistical tests of the sampling half of random erasing (tfjs-free). Every comparison is against
// the independent transcription in reference.ts, driven by a different PRNG, with a fixed seed and a
// proper test statistic; each rejects at p < 0.001. The negative controls show the same tests do fail
// for samplers that are only subtly different.
import { describe, expect, it } from 'vitest';
import {
  type EraseParams,
  RANDOM_ERASING_DEFAULTS,
  type RandomErasingConfig,
  rectangleCanFit,
  resolveRandomErasingOptions,
  sampleEraseParams,
} from '../../src/augment/erasing.js';
import { RandomEraser } from '../../src/augment/random-eraser.js';
import { createRandomSource } from '../../src/internal/random.js';
import { type ReferenceDraw, referenceDraw, type Variant } from './reference.js';
import {
  binomialTestP,
  chiSquareGoodnessOfFit,
  chiSquareHomogeneity,
  ksOneSample,
  mulberry32,
  quantileBins,
} from './stats.js';

const ALPHA = 0.001;

type Rect = { top: number; left: number; h: number; w: number; attempts: number; values: ArrayLike<number> };

function ours(config: RandomErasingConfig, seed: number, n: number, H: number, W: number, C = 1): Rect[] {
  const random = createRandomSource(seed);
  const out: Rect[] = [];
  for (let i = 0; i < n; i++) {
    const p = sampleEraseParams(random, H, W, C, config);
    if (p.erase) out.push(p);
  }
  return out;
}

function simulated(
  config: RandomErasingConfig,
  seed: number,
  n: number,
  H: number,
  W: number,
  variant: Variant = 'reference',
): ReferenceDraw[] {
  const rand = mulberry32(seed);
  const out: ReferenceDraw[] = [];
  for (let i = 0; i < n; i++) {
    const d = referenceDraw(rand, H, W, 1, config, variant);
    if (d) out.push(d);
  }
  return out;
}

/** The observables compared between two samples of accepted rectangles. */
function features(rects: Rect[]) {
  return {
    w: rects.map((r) => r.w),
    h: rects.map((r) => r.h),
    top: rects.map((r) => r.top),
    left: rects.map((r) => r.left),
    area: rects.map((r) => r.w * r.h),
    joint: rects.map((r) => `${r.w}x${r.h}`),
    attempts: rects.map((r) => Math.min(r.attempts, 12)),
  };
}

function compare(a: Rect[], b: Rect[]): Record<string, number> {
  const fa = features(a);
  const fb = features(b);
  const p: Record<string, number> = {};
  for (const key of Object.keys(fa) as (keyof typeof fa)[]) p[key] = chiSquareHomogeneity(fa[key], fb[key]).p;
  // The aspect ratio h / w of the rectangles takes many values; compare it in 40 equal-frequency bins.
  const ratio = (rs: Rect[]) => rs.filter((r) => r.w > 0).map((r) => r.h / r.w);
  const [ra, rb] = quantileBins(ratio(a), ratio(b), 40);
  p['ratio'] = chiSquareHomogeneity(ra, rb).p;
  return p;
}

const N = 40_000;
const CASES: {
  name: string;
  options: Parameters<typeof resolveRandomErasingOptions>[0];
  H: number;
  W: number;
}[] = [
  { name: 'defaults on 28×28', options: { p: 1 }, H: 28, W: 28 },
  {
    name: 'wide ranges on a 20×36 image',
    options: { p: 1, s_l: 0.1, s_h: 0.7, r_1: 0.5, r_2: 2.5, maxAttempts: 10_000 },
    H: 20,
    W: 36,
  },
];

describe('rectangle distribution matches the reference procedure', () => {
  for (const c of CASES) {
    it(`${c.name}: w, h, top, left, area, ratio, (w, h) and attempts`, () => {
      const config = resolveRandomErasingOptions(c.options);
      const a = ours(config, 11, N, c.H, c.W);
      const b = simulated(config, 12, N, c.H, c.W);
      expect(a.length).toBe(N);
      expect(a.filter((r) => r.left + r.w > c.W || r.top + r.h > c.H).length).toBe(0);
      const p = compare(a, b);
      for (const [name, value] of Object.entries(p))
        expect({ name, p: value > ALPHA }).toEqual({ name, p: true });
    });
  }

  it.each<[Variant, string]>([
    ['fit-first', 'joint'],
    ['round', 'w'],
    ['log-ratio', 'ratio'],
  ])('the same tests reject a %s sampler (power check on %s)', (variant, feature) => {
    const config = resolveRandomErasingOptions({ p: 1 });
    const p = compare(ours(config, 11, N, 28, 28), simulated(config, 12, N, 28, 28, variant));
    expect(p[feature]).toBeLessThan(1e-6);
  });

  it('consumes the random stream draw for draw like the reference', () => {
    // Feeding the same uniforms to both implementations gives identical decisions and values.
    for (const options of [{}, { pixel_level: true }, { p: 0.9, s_l: 0.2, s_h: 0.9, r_1: 0.5, r_2: 1.5 }]) {
      const config = resolveRandomErasingOptions(options);
      const r1 = createRandomSource('draw-for-draw');
      const r2 = createRandomSource('draw-for-draw');
      for (let i = 0; i < 2000; i++) {
        const mine = sampleEraseParams(r1, 24, 30, 3, config);
        const ref = referenceDraw(r2, 24, 30, 3, config);
        if (!ref) {
          expect(mine.erase).toBe(false);
          continue;
        }
        expect(mine.erase).toBe(true);
        const m = mine as Extract<EraseParams, { erase: true }>;
        expect([m.top, m.left, m.h, m.w, m.attempts]).toEqual([
          ref.top,
          ref.left,
          ref.h,
          ref.w,
          ref.attempts,
        ]);
        expect(Array.from(m.values)).toEqual(ref.values);
      }
    }
  });
});

describe('erase probability p', () => {
  it.each([0.3, 0.5, 0.85])('erases a fraction consistent with p = %s (exact binomial test)', (p) => {
    const config = resolveRandomErasingOptions({ p });
    const random = createRandomSource(`rate-${p}`);
    const n = 20_000;
    let k = 0;
    for (let i = 0; i < n; i++) if (sampleEraseParams(random, 28, 28, 1, config).erase) k++;
    expect(binomialTestP(k, n, p)).toBeGreaterThan(ALPHA);
  });

  it('p = 0 never erases and p = 1 always does', () => {
    const never = new RandomEraser({ p: 0, seed: 1 });
    const always = new RandomEraser({ p: 1, seed: 1 });
    for (let i = 0; i < 2000; i++) {
      never.sampleParams(28, 28);
      always.sampleParams(28, 28);
    }
    expect(never.stats).toMatchObject({ images: 2000, erased: 0, skipped: 2000, attempts: 0 });
    expect(always.stats).toMatchObject({ images: 2000, erased: 2000, skipped: 0, exhausted: 0 });
  });
});

describe('fill values', () => {
  it('one value per rectangle, uniform on [v_l, v_h) (KS and chi-square)', () => {
    const config = resolveRandomErasingOptions({ p: 1, v_l: -3, v_h: 7 });
    const rects = ours(config, 5, N, 28, 28);
    expect(rects.filter((r) => r.values.length !== 1).length).toBe(0);
    const values = rects.map((r) => r.values[0]!);
    expect(values.filter((v) => !(v >= -3 && v < 7)).length).toBe(0);
    expect(ksOneSample(values, (x) => (x + 3) / 10).p).toBeGreaterThan(ALPHA);
    const counts = new Array(50).fill(0);
    for (const v of values) counts[Math.floor(((v + 3) / 10) * 50)]++;
    expect(chiSquareGoodnessOfFit(counts, new Array(50).fill(1 / 50)).p).toBeGreaterThan(ALPHA);
  });

  it('pixel_level draws h·w·channels independent uniform values', () => {
    const config = resolveRandomErasingOptions({ p: 1, pixel_level: true, v_l: 0, v_h: 1 });
    const rects = ours(config, 6, 3000, 28, 28, 3);
    const all: number[] = [];
    let sameChannels = 0;
    let pairs = 0;
    let sxy = 0;
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let syy = 0;
    expect(rects.filter((r) => r.values.length !== r.h * r.w * 3).length).toBe(0);
    for (const r of rects) {
      for (let i = 0; i < r.values.length; i += 3) {
        const [a, b, c] = [r.values[i]!, r.values[i + 1]!, r.values[i + 2]!];
        if (a === b && b === c) sameChannels++;
        pairs++;
        sx += a;
        sy += b;
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
      }
      for (const v of Array.from(r.values)) all.push(v);
    }
    expect(sameChannels).toBe(0);
    // Channels of one pixel are independent: their correlation is within 4 standard errors of 0.
    const corr =
      (sxy / pairs - (sx / pairs) * (sy / pairs)) /
      Math.sqrt((sxx / pairs - (sx / pairs) ** 2) * (syy / pairs - (sy / pairs) ** 2));
    expect(Math.abs(corr)).toBeLessThan(4 / Math.sqrt(pairs));
    expect(all.filter((v) => !(v >= 0 && v < 1)).length).toBe(0);
    const counts = new Array(100).fill(0);
    for (const v of all) counts[Math.floor(v * 100)]++;
    expect(chiSquareGoodnessOfFit(counts, new Array(100).fill(0.01)).p).toBeGreaterThan(ALPHA);
  });
});

describe('retry bound', () => {
  it('gives up after maxAttempts with the probability the geometry implies, and counts it', () => {
    // s = 0.95·784 and r = 1 give a 27×27 rectangle: 2 of 28 positions fit per axis, so an attempt
    // succeeds with probability 1/196 and five attempts all fail with probability (195/196)^5.
    const eraser = new RandomEraser({
      p: 1,
      s_l: 0.95,
      s_h: 0.95,
      r_1: 1,
      r_2: 1,
      v_l: 100,
      v_h: 200,
      maxAttempts: 5,
      seed: 9,
    });
    const n = 4000;
    const image = new Uint8Array(784).fill(7);
    let unchanged = 0;
    for (let i = 0; i < n; i++) {
      const out = eraser.eraseImage(image, [28, 28]);
      if (out.every((v) => v === 7)) unchanged++;
    }
    const { exhausted, erased, attempts } = eraser.stats;
    expect(exhausted + erased).toBe(n);
    expect(unchanged).toBe(exhausted); // a fill in [100, 200) always changes the 7s
    expect(binomialTestP(exhausted, n, (195 / 196) ** 5)).toBeGreaterThan(ALPHA);
    expect(attempts).toBeGreaterThanOrEqual(exhausted * 5);
  });

  it('rectangles of width or height 0 are accepted, as in the reference, and change nothing', () => {
    const eraser = new RandomEraser({ p: 1, s_l: 0, s_h: 0, seed: 2 });
    const params = eraser.sampleParams(28, 28);
    expect(params).toMatchObject({ erase: true, h: 0, w: 0, attempts: 1 });
    const img = new Float32Array(784).fill(0.5);
    expect(eraser.eraseImage(img, [28, 28])).toEqual(img);
    expect(eraser.stats.erased).toBe(2);
  });

  it('rejects, before drawing, options whose rectangles can never fit the image', () => {
    const eraser = new RandomEraser({ s_l: 1, s_h: 1, r_1: 3, r_2: 3, seed: 1 });
    expect(() => eraser.sampleParams(28, 28)).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => eraser.eraseImage(new Uint8Array(784), [28, 28])).toThrow(/fits a 28×28 image/);
    expect(eraser.stats.images).toBe(0);
    // The same options are fine for an image tall enough: h = floor(sqrt(s·r)) = 28·sqrt(3)·…
    expect(rectangleCanFit(eraser.options, 28 * 3, 28)).toBe(true);
  });

  it('rectangleCanFit agrees with a brute-force search over (s, r)', () => {
    const rand = mulberry32(77);
    for (let t = 0; t < 300; t++) {
      const H = 2 + Math.floor(rand() * 40);
      const W = 2 + Math.floor(rand() * 40);
      const s_l = rand() ** 0.3;
      const s_h = s_l + (1 - s_l) * rand();
      const r_1 = 0.05 + rand() * 4;
      const r_2 = r_1 + rand() * 4;
      const config = resolveRandomErasingOptions({ s_l, s_h, r_1, r_2 });
      let found = false;
      for (let i = 0; i <= 200 && !found; i++) {
        for (let j = 0; j <= 200 && !found; j++) {
          const s = (s_l + ((s_h - s_l) * i) / 200) * H * W;
          const r = r_1 + ((r_2 - r_1) * j) / 200;
          if (Math.floor(Math.sqrt(s / r)) <= W && Math.floor(Math.sqrt(s * r)) <= H) found = true;
        }
      }
      // The grid can miss a thin feasible sliver, never invent one.
      if (found) expect(rectangleCanFit(config, H, W)).toBe(true);
      if (!rectangleCanFit(config, H, W)) expect(found).toBe(false);
    }
  });
});

describe('defaults', () => {
  it('are those of the reference implementation', () => {
    expect(RANDOM_ERASING_DEFAULTS).toMatchObject({
      p: 0.5,
      s_l: 0.02,
      s_h: 0.4,
      r_1: 0.3,
      r_2: 1 / 0.3,
      v_l: 0,
      v_h: 255,
      pixel_level: false,
    });
    expect(Object.isFrozen(RANDOM_ERASING_DEFAULTS)).toBe(true);
  });

  it('make the retry bound practically unreachable on 28×28 (measured acceptance rate)', () => {
    const eraser = new RandomEraser({ p: 1, seed: 'acceptance' });
    for (let i = 0; i < 20_000; i++) eraser.sampleParams(28, 28);
    const { attempts, erased } = eraser.stats;
    const acceptance = erased / attempts;
    // Documented in docs/augmentation.md; (1 - acceptance)^100 is the chance of exhausting.
    expect(acceptance).toBeGreaterThan(0.3);
    expect((1 - acceptance) ** 100).toBeLessThan(1e-15);
  });
});
