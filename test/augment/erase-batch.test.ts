// RandomEraser.eraseBatch on every test backend: equality with image-by-image erasing, dtypes,
// gradients, errors and tensor leaks.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { RandomEraser, type RandomErasingOptions } from '../../src/augment/index.js';
import { FashionMnistError } from '../../src/errors.js';
import { BACKENDS, useBackend } from '../helpers/backends.js';
import { mulberry32 } from './stats.js';

function randomBatch(n: number, h: number, w: number, c: number, seed: number, scale = 1): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n * h * w * c }, () => rand() * scale);
}

/** Number of positions where two arrays differ (bit-exact float comparison, cheap on big arrays). */
function mismatches(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.max(a.length, b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) n++;
  return n;
}

for (const backend of BACKENDS) {
  describe(`RandomEraser.eraseBatch on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it.each<[string, RandomErasingOptions, number]>([
      ['one value, 1 channel', { v_h: 1 }, 1],
      ['one value, 3 channels', { v_h: 1 }, 3],
      ['pixel_level, 1 channel', { v_h: 1, pixel_level: true }, 1],
      ['pixel_level, 3 channels', { v_l: -2, v_h: 2, pixel_level: true }, 3],
    ])('equals eraseImage on each image in order (%s)', async (_, options, channels) => {
      const [n, h, w] = [24, 28, 20];
      const data = randomBatch(n, h, w, channels, 3);
      const batchEraser = new RandomEraser({ ...options, seed: 'batch' });
      const imageEraser = new RandomEraser({ ...options, seed: 'batch' });
      const x = tf.tensor4d(data, [n, h, w, channels]);
      const y = batchEraser.eraseBatch(x);
      expect(y.shape).toEqual([n, h, w, channels]);
      expect(y.dtype).toBe('float32');
      const got = await y.data();
      const size = h * w * channels;
      const expected = new Float32Array(n * size);
      for (let i = 0; i < n; i++) {
        expected.set(
          imageEraser.eraseImage(data.subarray(i * size, (i + 1) * size), [h, w, channels]),
          i * size,
        );
      }
      expect(mismatches(got, expected)).toBe(0);
      expect(batchEraser.stats).toEqual(imageEraser.stats);
      expect(batchEraser.stats.erased).toBeGreaterThan(0);
      expect(batchEraser.stats.skipped).toBeGreaterThan(0);
      expect(mismatches(await x.data(), data)).toBe(0); // input untouched
      tf.dispose([x, y]);
    });

    it.each<[string, RandomErasingOptions]>([
      ['one value', { v_l: -3.7, v_h: 300.2 }],
      ['pixel_level', { v_l: -3.7, v_h: 300.2, pixel_level: true }],
      ['pixel_level, values beyond int32', { v_l: -1e12, v_h: 1e12, pixel_level: true }],
    ])(
      'int32 batches equal eraseImage on Int32Array images: rounded and clamped (%s)',
      async (_, options) => {
        const [n, h, w, c] = [12, 10, 9, 2];
        const data = Int32Array.from(randomBatch(n, h, w, c, 4, 255), Math.floor);
        const x = tf.tensor4d(data, [n, h, w, c], 'int32');
        const batchEraser = new RandomEraser({ ...options, p: 0.8, seed: 'int' });
        const imageEraser = new RandomEraser({ ...options, p: 0.8, seed: 'int' });
        const y = batchEraser.eraseBatch(x);
        expect(y.dtype).toBe('int32');
        const got = await y.data();
        const size = h * w * c;
        const expected = new Int32Array(n * size);
        for (let i = 0; i < n; i++) {
          expected.set(imageEraser.eraseImage(data.subarray(i * size, (i + 1) * size), [h, w, c]), i * size);
        }
        expect(mismatches(got, expected)).toBe(0);
        expect(batchEraser.stats).toEqual(imageEraser.stats);
        expect(batchEraser.stats.erased).toBeGreaterThan(0);
        for (const v of got) expect(Number.isInteger(v) && v >= -(2 ** 31) && v <= 2 ** 31 - 1).toBe(true);
        tf.dispose([x, y]);
      },
    );

    it('clamps int32 fills instead of wrapping them around (values far beyond int32)', async () => {
      const x = tf.zeros([4, 8, 8, 1], 'int32') as tf.Tensor4D;
      const y = new RandomEraser({ p: 1, v_l: 3e9, v_h: 4e9, seed: 'big' }).eraseBatch(x);
      const got = Array.from(await y.data());
      // Before: Int32Array storage wrapped 3e9..4e9 around to negative numbers.
      expect(got.some((v) => v === 2 ** 31 - 1)).toBe(true);
      expect(got.every((v) => v === 0 || v === 2 ** 31 - 1)).toBe(true);
      tf.dispose([x, y]);
    });

    it('byte images as int32 batches equal eraseImage on Uint8Array images (the uint8 rule)', async () => {
      // With fills inside 0..255 the int32 and uint8 rules agree (both round half up), so a batch of bytes
      // erased as a tensor is the same as each byte image erased as a Uint8Array.
      const [n, h, w] = [16, 12, 12];
      const bytes = Uint8Array.from(randomBatch(n, h, w, 1, 7, 255), Math.floor);
      for (const pixel_level of [false, true]) {
        const options = { p: 0.7, pixel_level, seed: `u8-${pixel_level}` };
        const batchEraser = new RandomEraser(options);
        const imageEraser = new RandomEraser(options);
        const x = tf.tensor4d(Int32Array.from(bytes), [n, h, w, 1], 'int32');
        const y = batchEraser.eraseBatch(x);
        const got = await y.data();
        const expected = new Uint8Array(n * h * w);
        for (let i = 0; i < n; i++) {
          expected.set(imageEraser.eraseImage(bytes.subarray(i * h * w, (i + 1) * h * w), [h, w]), i * h * w);
        }
        expect(mismatches(got, expected)).toBe(0);
        expect(batchEraser.stats.erased).toBeGreaterThan(0);
        tf.dispose([x, y]);
      }
    });

    it('returns a new tensor even when nothing is erased', () => {
      const x = tf.ones([3, 8, 8, 1]) as tf.Tensor4D;
      const y = new RandomEraser({ p: 0, seed: 1 }).eraseBatch(x);
      expect(y).not.toBe(x);
      x.dispose();
      expect(y.isDisposed).toBe(false);
      expect(y.dataSync()).toEqual(new Float32Array(192).fill(1));
      y.dispose();
    });

    it('passes gradients to kept pixels and none to erased ones', async () => {
      const x = tf.tensor4d(randomBatch(4, 12, 12, 2, 5), [4, 12, 12, 2]);
      const eraser = new RandomEraser({ p: 1, seed: 'grad', v_l: 5, v_h: 6 });
      const twin = new RandomEraser({ p: 1, seed: 'grad', v_l: 5, v_h: 6 });
      const g = tf.grad((t: tf.Tensor) => tf.sum(eraser.eraseBatch(t as tf.Tensor4D)))(x);
      const grads = await g.data();
      for (let i = 0; i < 4; i++) {
        const erased = twin.eraseImage(new Float32Array(288), [12, 12, 2]);
        const expected = erased.map((v) => (v === 0 ? 1 : 0));
        expect(mismatches(grads.subarray(i * 288, (i + 1) * 288), expected)).toBe(0);
        expect(expected.includes(0)).toBe(true);
      }
      tf.dispose([x, g]);
    });

    it('rejects tensors of the wrong rank or dtype, and impossible options, without leaking', () => {
      const eraser = new RandomEraser({ seed: 1 });
      const before = tf.memory().numTensors;
      const rank3 = tf.zeros([2, 28, 28]);
      const bool = tf.zeros([1, 4, 4, 1], 'bool');
      const x = tf.zeros([1, 28, 28, 1]) as tf.Tensor4D;
      expect(() => eraser.eraseBatch(rank3 as unknown as tf.Tensor4D)).toThrow(FashionMnistError);
      expect(() => eraser.eraseBatch(rank3 as unknown as tf.Tensor4D)).toThrow(/rank 4/);
      expect(() => eraser.eraseBatch(bool as tf.Tensor4D)).toThrow(/float32 or int32, received bool/);
      expect(() => eraser.eraseBatch(rank3 as unknown as tf.Tensor4D)).toThrow(
        expect.objectContaining({ code: 'BAD_SHAPE' }),
      );
      expect(() => eraser.eraseBatch(new Float32Array(4) as unknown as tf.Tensor4D)).toThrow(
        expect.objectContaining({ code: 'BAD_INPUT' }),
      );
      const impossible = new RandomEraser({ s_l: 1, s_h: 1, r_1: 3, r_2: 3 });
      expect(() => impossible.eraseBatch(x)).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
      tf.dispose([rank3, bool, x]);
      expect(() => eraser.eraseBatch(x)).toThrow(
        expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringMatching(/disposed/) }),
      );
      expect(tf.memory().numTensors).toBe(before);
    });

    it('leaks no tensors (all paths)', () => {
      const x = tf.tensor4d(randomBatch(16, 28, 28, 1, 6), [16, 28, 28, 1]);
      for (const options of [{ p: 1 }, { p: 0 }, { p: 0.5, pixel_level: true }] as RandomErasingOptions[]) {
        const eraser = new RandomEraser({ ...options, seed: 1 });
        const before = tf.memory().numTensors;
        const y = eraser.eraseBatch(x);
        expect(tf.memory().numTensors).toBe(before + 1);
        y.dispose();
        expect(tf.memory().numTensors).toBe(before);
      }
      x.dispose();
    });

    it('eraseImage and sampleParams create no tensors', () => {
      const before = tf.memory().numTensors;
      const eraser = new RandomEraser({ p: 1, seed: 1 });
      eraser.eraseImage(new Float32Array(784), [28, 28]);
      eraser.sampleParams(28, 28);
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}
