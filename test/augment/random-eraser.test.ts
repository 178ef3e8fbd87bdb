// RandomEraser on plain arrays: options validation, determinism, image layouts and pixel types.
import { describe, expect, it } from 'vitest';
import { resolveRandomErasingOptions, sampleEraseParams } from '../../src/augment/erasing.js';
import {
  applyErase,
  type EraseParams,
  RandomEraser,
  type RandomErasingOptions,
} from '../../src/augment/index.js';
import { FashionMnistError } from '../../src/errors.js';
import { createRandomSource } from '../../src/internal/random.js';
import { mulberry32 } from './stats.js';

type Erased = Extract<EraseParams, { erase: true }>;

function randomImage(length: number, seed = 1, scale = 255): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length }, () => Math.floor(rand() * scale));
}

const badOption = expect.objectContaining({ name: 'FashionMnistError', code: 'BAD_OPTION' });
const badShape = expect.objectContaining({ name: 'FashionMnistError', code: 'BAD_SHAPE' });
const badInput = expect.objectContaining({ name: 'FashionMnistError', code: 'BAD_INPUT' });

describe('RandomEraser options', () => {
  const bad: [string, unknown, RegExp][] = [
    ['p', -0.1, /'p' must be a number >= 0 and <= 1, received -0.1/],
    ['p', 1.5, /'p'.*received 1.5/],
    ['p', Number.NaN, /'p'.*received NaN/],
    ['p', '0.5', /'p'.*received "0.5"/],
    ['s_l', -0.01, /'s_l'/],
    ['s_l', Number.NaN, /'s_l'.*NaN/],
    ['s_h', 1.01, /'s_h' must be a number >= 0 and <= 1, received 1.01/],
    ['s_h', null, /'s_h'.*received null/],
    ['r_1', 0, /'r_1' must be a number > 0, received 0/],
    ['r_1', -1, /'r_1' must be a number > 0/],
    ['r_2', 0, /'r_2' must be a number > 0/],
    ['r_2', Number.POSITIVE_INFINITY, /'r_2' must be a finite number, received Infinity/],
    ['r_1', Number.NaN, /'r_1'.*NaN/],
    ['v_l', Number.NEGATIVE_INFINITY, /'v_l' must be a finite number/],
    ['v_h', Number.NaN, /'v_h'.*NaN/],
    ['v_h', '255', /'v_h'/],
    ['pixel_level', 1, /'pixel_level' must be a boolean, received 1/],
    ['maxAttempts', 0, /'maxAttempts' must be an integer >= 1, received 0/],
    ['maxAttempts', 2.5, /'maxAttempts'/],
    ['maxAttempts', Number.POSITIVE_INFINITY, /'maxAttempts'/],
    ['seed', {}, /'seed' must be a finite number or a string, received Object/],
    ['seed', Number.NaN, /'seed'.*NaN/],
  ];
  it.each(bad)('rejects %s = %s with BAD_OPTION', (name, value, message) => {
    expect(() => new RandomEraser({ [name]: value } as RandomErasingOptions)).toThrow(badOption);
    expect(() => new RandomEraser({ [name]: value } as RandomErasingOptions)).toThrow(message);
  });

  it.each<[RandomErasingOptions, RegExp]>([
    [{ s_l: 0.5, s_h: 0.1 }, /'s_l' must be <= s_h, received s_l=0.5 and s_h=0.1/],
    [{ r_1: 3, r_2: 2 }, /'r_1' must be <= r_2, received r_1=3 and r_2=2/],
    [{ v_l: 10, v_h: 1 }, /'v_l' must be <= v_h, received v_l=10 and v_h=1/],
  ])('rejects inconsistent pairs %o', (options, message) => {
    expect(() => new RandomEraser(options)).toThrow(badOption);
    expect(() => new RandomEraser(options)).toThrow(message);
  });

  it('rejects unknown option names (typos) and non-object options', () => {
    expect(() => new RandomEraser({ s_L: 0.1 } as unknown as RandomErasingOptions)).toThrow(badOption);
    expect(() => new RandomEraser({ s_L: 0.1 } as unknown as RandomErasingOptions)).toThrow(
      /unknown option 's_L'/,
    );
    expect(() => new RandomEraser({ probability: 0.1 } as unknown as RandomErasingOptions)).toThrow(
      /allowed options are p, s_l/,
    );
    expect(() => new RandomEraser(0.5 as unknown as RandomErasingOptions)).toThrow(badOption);
    expect(() => new RandomEraser([] as unknown as RandomErasingOptions)).toThrow(badOption);
  });

  it('accepts the edges of every range and freezes the resolved options', () => {
    const e = new RandomEraser({
      p: 0,
      s_l: 0,
      s_h: 1,
      r_1: 1,
      r_2: 1,
      v_l: 5,
      v_h: 5,
      maxAttempts: 1,
      seed: 'x',
    });
    expect(e.options).toEqual({
      p: 0,
      s_l: 0,
      s_h: 1,
      r_1: 1,
      r_2: 1,
      v_l: 5,
      v_h: 5,
      pixel_level: false,
      maxAttempts: 1,
    });
    expect(Object.isFrozen(e.options)).toBe(true);
    expect(new RandomEraser({ p: 1, s_l: 0.3, s_h: 0.3 }).options.p).toBe(1);
  });

  it('hand-written configs passed to the pure sampler are validated too', async () => {
    const config = { ...resolveRandomErasingOptions(), s_l: 0.9, s_h: 0.1 };
    expect(() => sampleEraseParams(createRandomSource(1), 28, 28, 1, config)).toThrow(/'s_l' must be <= s_h/);
  });
});

describe('RandomEraser.eraseImage', () => {
  it('returns a new array of the same type and leaves the input untouched', () => {
    const e = new RandomEraser({ p: 1, seed: 3 });
    const f32 = randomImage(784);
    const copy = f32.slice();
    const out = e.eraseImage(f32, [28, 28]);
    expect(out).toBeInstanceOf(Float32Array);
    expect(out).not.toBe(f32);
    expect(f32).toEqual(copy);
    expect(out).not.toEqual(f32);
    const u8 = Uint8Array.from(copy);
    const outU8 = e.eraseImage(u8, [28, 28]);
    expect(outU8).toBeInstanceOf(Uint8Array);
    expect(u8).toEqual(Uint8Array.from(copy));
    const arr = Array.from(copy);
    const outArr = e.eraseImage(arr, [28, 28]);
    expect(Array.isArray(outArr)).toBe(true);
    expect(arr).toEqual(Array.from(copy));
    expect(e.eraseImage(Float64Array.from(copy), [28, 28])).toBeInstanceOf(Float64Array);
  });

  it('copies Node Buffers and subarray views instead of writing through them', () => {
    // Buffer#slice shares memory with its source, so a naive copy would erase the caller's data.
    const e = new RandomEraser({ p: 1, seed: 4, v_l: 200, v_h: 250 });
    const all = Buffer.alloc(3 * 784, 7);
    const view = all.subarray(784, 2 * 784);
    const out = e.eraseImage(view, [28, 28]);
    expect(out).toBeInstanceOf(Uint8Array);
    expect(out.buffer).not.toBe(all.buffer);
    expect(all.every((v) => v === 7)).toBe(true);
    expect(out.some((v) => v !== 7)).toBe(true);
    const f32 = new Float32Array(3 * 784).fill(7);
    e.eraseImage(f32.subarray(784, 2 * 784), [28, 28]);
    expect(f32.every((v) => v === 7)).toBe(true);
  });

  it('changes exactly the sampled rectangle, in every channel, and nothing else', () => {
    for (const [shape, pixelLevel] of [
      [[28, 28], false],
      [[28, 28, 1], true],
      [[20, 36, 3], false],
      [[20, 36, 3], true],
    ] as const) {
      const channels = shape[2] ?? 1;
      const [H, W] = shape;
      const options = { p: 1, pixel_level: pixelLevel, v_l: 1000, v_h: 2000, seed: 'rect' };
      const twin = new RandomEraser(options);
      const eraser = new RandomEraser(options);
      for (let t = 0; t < 50; t++) {
        const image = randomImage(H * W * channels, t);
        const params = twin.sampleParams(H, W, channels) as Erased;
        const out = eraser.eraseImage(image, shape);
        let k = 0;
        let wrong = 0;
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            for (let c = 0; c < channels; c++) {
              const i = (y * W + x) * channels + c;
              const inside =
                y >= params.top &&
                y < params.top + params.h &&
                x >= params.left &&
                x < params.left + params.w;
              const expected = inside ? Math.fround(params.values[pixelLevel ? k++ : 0]!) : image[i];
              if (out[i] !== expected) wrong++;
            }
          }
        }
        expect(wrong).toBe(0);
        expect(params.erase).toBe(true);
      }
    }
  });

  it('one value per rectangle without pixel_level, all channels equal', () => {
    const e = new RandomEraser({ p: 1, seed: 8, v_l: 0.25, v_h: 0.75 });
    const twin = new RandomEraser({ p: 1, seed: 8, v_l: 0.25, v_h: 0.75 });
    const out = e.eraseImage(new Float32Array(32 * 32 * 3), [32, 32, 3]);
    const p = twin.sampleParams(32, 32, 3) as Erased;
    const inside = Array.from(out).filter((v) => v !== 0);
    expect(inside.length).toBe(p.h * p.w * 3);
    expect(new Set(inside).size).toBe(1);
    expect(inside[0]).toBeGreaterThanOrEqual(0.25);
    expect(inside[0]).toBeLessThan(0.75);
  });

  it('rounds and clamps values written into a Uint8Array', () => {
    const params: Erased = {
      erase: true,
      top: 0,
      left: 0,
      h: 1,
      w: 4,
      values: Float64Array.of(-7, 12.5, 254.6, 300.2),
      attempts: 1,
    };
    expect(Array.from(applyErase(new Uint8Array(8), [2, 4], params))).toEqual([0, 13, 255, 255, 0, 0, 0, 0]);
    expect(Array.from(applyErase(new Uint8ClampedArray(8), [2, 4], params)).slice(0, 4)).toEqual([
      0, 13, 255, 255,
    ]);
    expect(applyErase([0, 0, 0, 0, 0, 0, 0, 0], [2, 4], params).slice(0, 4)).toEqual([
      -7, 12.5, 254.6, 300.2,
    ]);
  });

  it('one rule per element type: int32 rounds and clamps to the int32 range, float32 to its finite range', () => {
    const params: Erased = {
      erase: true,
      top: 0,
      left: 0,
      h: 1,
      w: 4,
      values: Float64Array.of(-1e12, 2.5, -2.5, 1e300),
      attempts: 1,
    };
    expect(Array.from(applyErase(new Int32Array(4), [1, 4], params))).toEqual([
      -(2 ** 31),
      3,
      -2,
      2 ** 31 - 1,
    ]);
    const f32 = applyErase(new Float32Array(4), [1, 4], params);
    expect(f32).toBeInstanceOf(Float32Array);
    expect(Array.from(f32)).toEqual([-1e12, 2.5, -2.5, 3.4028234663852886e38].map(Math.fround));
    expect(f32.every(Number.isFinite)).toBe(true);
    expect(Array.from(applyErase(new Float64Array(4), [1, 4], params))).toEqual([-1e12, 2.5, -2.5, 1e300]);
    // Int32Array images go through eraseImage too, with the same result as the apply step.
    const e = new RandomEraser({ p: 1, v_l: -1e12, v_h: 1e12, pixel_level: true, seed: 'i32' });
    const twin = new RandomEraser({ p: 1, v_l: -1e12, v_h: 1e12, pixel_level: true, seed: 'i32' });
    const out = e.eraseImage(new Int32Array(100), [10, 10]);
    expect(out).toBeInstanceOf(Int32Array);
    expect(out).toEqual(applyErase(new Int32Array(100), [10, 10], twin.sampleParams(10, 10)));
    expect(out.some((v) => v === 2 ** 31 - 1) && out.some((v) => v === -(2 ** 31))).toBe(true);
  });

  it('fill values stay finite and inside [v_l, v_h] when v_h − v_l overflows a double', () => {
    // v_h − v_l = 2e308 is Infinity: the reference formula v_l + (v_h − v_l)·u filled Infinity (and NaN at u = 0).
    const e = new RandomEraser({ p: 1, v_l: -1e308, v_h: 1e308, pixel_level: true, seed: 'wide' });
    const out = e.eraseImage(new Float64Array(28 * 28), [28, 28]);
    const erased = Array.from(out).filter((v) => v !== 0);
    expect(erased.length).toBeGreaterThan(10);
    expect(erased.every((v) => Number.isFinite(v) && v >= -1e308 && v <= 1e308)).toBe(true);
    expect(erased.some((v) => v < -1e306) && erased.some((v) => v > 1e306)).toBe(true);
    const single = new RandomEraser({ p: 1, v_l: -Number.MAX_VALUE, v_h: Number.MAX_VALUE, seed: 1 });
    const params = single.sampleParams(28, 28) as Erased;
    expect(Number.isFinite(params.values[0]!)).toBe(true);
    // Ordinary ranges keep the reference arithmetic bit for bit.
    const u = createRandomSource('ref');
    const ordinary = sampleEraseParams(
      createRandomSource('ref'),
      28,
      28,
      1,
      resolveRandomErasingOptions({ p: 1 }),
    );
    u(); // p
    let value = 0;
    for (let a = 0; a < (ordinary as Erased).attempts; a++) {
      u();
      u();
      u();
      u();
    }
    value = 0 + 255 * u();
    expect((ordinary as Erased).values[0]).toBe(value);
  });

  it('rounded Uint8 fill values are uniform over 0..255 with half weight at the ends (chi-square)', async () => {
    const { chiSquareGoodnessOfFit } = await import('./stats.js');
    const e = new RandomEraser({ p: 1, pixel_level: true, seed: 'u8' });
    const twin = new RandomEraser({ p: 1, pixel_level: true, seed: 'u8' });
    const counts = new Array(256).fill(0);
    const zero = new Uint8Array(784);
    for (let t = 0; t < 1500; t++) {
      const p = twin.sampleParams(28, 28) as Erased;
      const out = e.eraseImage(zero, [28, 28]);
      for (let y = p.top; y < p.top + p.h; y++)
        for (let x = p.left; x < p.left + p.w; x++) counts[out[y * 28 + x]!]++;
    }
    const probs = counts.map((_, v) => (v === 0 || v === 255 ? 0.5 : 1) / 255);
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThan(50_000);
    expect(chiSquareGoodnessOfFit(counts, probs).p).toBeGreaterThan(0.001);
  });

  it('2-D and 3-D single-channel shapes give the same result', () => {
    const image = randomImage(784, 4);
    const a = new RandomEraser({ seed: 5, pixel_level: true });
    const b = new RandomEraser({ seed: 5, pixel_level: true });
    for (let t = 0; t < 30; t++)
      expect(a.eraseImage(image, [28, 28])).toEqual(b.eraseImage(image, [28, 28, 1]));
  });

  it('rejects malformed pixels and shapes', () => {
    const e = new RandomEraser({ seed: 1 });
    expect(() => e.eraseImage(new Uint8Array(783), [28, 28])).toThrow(FashionMnistError);
    expect(() => e.eraseImage(new Uint8Array(783), [28, 28])).toThrow(/needs 784 values, received 783/);
    expect(() => e.eraseImage(new Uint8Array(10), [28, 28, 3])).toThrow(
      expect.objectContaining({ code: 'BAD_SHAPE' }),
    );
    expect(() => e.eraseImage(new Int16Array(784) as unknown as Uint8Array, [28, 28])).toThrow(badInput);
    expect(() => e.eraseImage('pixels' as unknown as number[], [28, 28])).toThrow(badInput);
    expect(() => e.eraseImage(new Uint8Array(784), [784] as unknown as [number, number])).toThrow(badShape);
    expect(() => e.eraseImage(new Uint8Array(784), [28, 28.5] as unknown as [number, number])).toThrow(
      badShape,
    );
    expect(() => e.eraseImage(new Uint8Array(0), [0, 28])).toThrow(/height must be an integer >= 1/);
    expect(() => e.eraseImage(new Uint8Array(0), [0, 28])).toThrow(badShape);
    expect(e.stats.images).toBe(0);
  });

  it('applyErase rejects parameters that do not fit the image', () => {
    const base = { erase: true, values: Float64Array.of(1), attempts: 1 } as const;
    expect(() => applyErase(new Uint8Array(16), [4, 4], { ...base, top: 2, left: 0, h: 3, w: 1 })).toThrow(
      badInput,
    );
    expect(() => applyErase(new Uint8Array(16), [4, 4], { ...base, top: -1, left: 0, h: 1, w: 1 })).toThrow(
      badInput,
    );
    expect(() =>
      applyErase(new Uint8Array(16), [4, 4], {
        ...base,
        top: 0,
        left: 0,
        h: 2,
        w: 2,
        values: new Float64Array(3),
      }),
    ).toThrow(/1 or h\*w\*channels = 4 values/);
  });
});

describe('determinism', () => {
  const image = randomImage(28 * 28 * 3, 9);
  const run = (options: RandomErasingOptions, n = 40) => {
    const e = new RandomEraser(options);
    return Array.from({ length: n }, () => e.eraseImage(image, [28, 28, 3]));
  };

  it('the same seed gives identical output; a number seed equals its decimal string', () => {
    expect(run({ seed: 42, pixel_level: true })).toEqual(run({ seed: 42, pixel_level: true }));
    expect(run({ seed: 42 })).toEqual(run({ seed: '42' }));
  });

  it('different seeds give different output', () => {
    expect(run({ seed: 1 })).not.toEqual(run({ seed: 2 }));
  });

  it('without a seed, a fresh one is drawn and reported, and replays the run', () => {
    const a = new RandomEraser();
    const b = new RandomEraser();
    expect(typeof a.seed).toBe('number');
    expect(a.seed).not.toBe(b.seed);
    const replay = new RandomEraser({ seed: a.seed });
    for (let t = 0; t < 20; t++)
      expect(a.eraseImage(image, [28, 28, 3])).toEqual(replay.eraseImage(image, [28, 28, 3]));
  });

  it('resetStats clears counters without touching the stream', () => {
    const a = new RandomEraser({ seed: 3 });
    const b = new RandomEraser({ seed: 3 });
    a.eraseImage(image, [28, 28, 3]);
    b.eraseImage(image, [28, 28, 3]);
    a.resetStats();
    expect(a.stats).toEqual({ images: 0, erased: 0, skipped: 0, exhausted: 0, attempts: 0 });
    expect(a.eraseImage(image, [28, 28, 3])).toEqual(b.eraseImage(image, [28, 28, 3]));
  });
});

describe('module boundaries', () => {
  it('the per-image core reaches no tfjs module and no Node built-in', async () => {
    const { readFile } = await import('node:fs/promises');
    const { dirname, resolve } = await import('node:path');
    const seen = new Set<string>();
    const external: string[] = [];
    const visit = async (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = await readFile(file, 'utf8');
      for (const [, spec] of source.matchAll(/^\s*(?:import|export)[^'"]*from\s+'([^']+)'/gm)) {
        if (spec!.startsWith('.')) await visit(resolve(dirname(file), spec!.replace(/\.js$/, '.ts')));
        else external.push(spec!);
      }
    };
    await visit(resolve(import.meta.dirname, '../../src/augment/erasing.ts'));
    expect(seen.size).toBeGreaterThan(1);
    expect(external.sort()).toEqual(['seedrandom']);
  });
});
