import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeIdx, parseIdxBytes } from '../../src/data/idx.js';
import {
  batchIndices,
  permutation,
  type Split,
  splitFromIdx,
  subset,
  take,
  toTensors,
} from '../../src/data/split.js';
import { BACKENDS, useBackend } from '../helpers/backends.js';

const badOption = expect.objectContaining({ code: 'BAD_OPTION' });

function split(n: number): Split {
  return {
    images: Uint8Array.from({ length: n * 784 }, (_, i) => i % 256),
    labels: Uint8Array.from({ length: n }, (_, i) => i % 10),
    count: n,
    height: 28,
    width: 28,
  };
}

describe('splitFromIdx', () => {
  const imgs = (n: number) =>
    parseIdxBytes(encodeIdx({ dtype: 'uint8', shape: [n, 28, 28], data: new Uint8Array(n * 784) }));
  const labs = (v: number[]) =>
    parseIdxBytes(encodeIdx({ dtype: 'uint8', shape: [v.length], data: Uint8Array.from(v) }));
  it('builds a split', () => {
    const s = splitFromIdx(imgs(2), labs([3, 4]));
    expect(s.count).toBe(2);
    expect([s.height, s.width]).toEqual([28, 28]);
  });
  it('rejects image/label count mismatch', () => {
    expect(() => splitFromIdx(imgs(3), labs([1, 2]), 'train')).toThrow(/train: 3 images but 2 labels/);
    expect(() => splitFromIdx(imgs(3), labs([1, 2]))).toThrow(
      expect.objectContaining({ code: 'COUNT_MISMATCH' }),
    );
  });
  it('rejects labels outside 0..9 and images of the wrong rank', () => {
    expect(() => splitFromIdx(imgs(1), labs([10]))).toThrow(/label 10 at index 0/);
    expect(() => splitFromIdx(imgs(1), labs([10]))).toThrow(expect.objectContaining({ code: 'BAD_LABEL' }));
    expect(() => splitFromIdx(labs([1]), labs([1]))).toThrow(/images must be uint8 \[N, height, width\]/);
    expect(() => splitFromIdx(labs([1]), labs([1]))).toThrow(expect.objectContaining({ code: 'BAD_SHAPE' }));
    expect(() => splitFromIdx(imgs(1), imgs(1))).toThrow(expect.objectContaining({ code: 'BAD_SHAPE' }));
  });
});

describe('subset and take', () => {
  const s = split(10);
  it('subset is a view', () => {
    const v = subset(s, 2, 5);
    expect(v.count).toBe(3);
    expect(v.images.buffer).toBe(s.images.buffer);
    expect(Array.from(v.labels)).toEqual([2, 3, 4]);
    expect(v.images[0]).toBe(s.images[2 * 784]);
  });
  it('subset validates its range', () => {
    expect(() => subset(s, 5, 4)).toThrow(badOption);
    expect(() => subset(s, 0, 11)).toThrow(badOption);
    expect(() => subset(s, 1.5)).toThrow(badOption);
  });
  it('take copies the chosen rows in order', () => {
    const t = take(s, [7, 1]);
    expect(Array.from(t.labels)).toEqual([7, 1]);
    expect(t.images[0]).toBe(s.images[7 * 784]);
    expect(t.images.buffer).not.toBe(s.images.buffer);
    expect(() => take(s, [10])).toThrow(/index 10 at position 0/);
    expect(() => take(s, [1.5])).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
  });
});

describe('permutation and batchIndices', () => {
  it('is a seeded permutation', () => {
    const a = permutation(100, 1);
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(permutation(100, 1))).toEqual(Array.from(a));
    expect(Array.from(permutation(100, 2))).not.toEqual(Array.from(a));
  });
  it('covers every index once, in batches', () => {
    const seen: number[] = [];
    const sizes: number[] = [];
    for (const b of batchIndices(10, { batchSize: 4, seed: 's' })) {
      sizes.push(b.length);
      seen.push(...b);
    }
    expect(sizes).toEqual([4, 4, 2]);
    expect(seen.sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...batchIndices(10, { batchSize: 4, dropRemainder: true })].length).toBe(2);
    expect(Array.from([...batchIndices(3, { shuffle: false })][0])).toEqual([0, 1, 2]);
  });
  it('validates options', () => {
    expect(() => [...batchIndices(3, { batchSize: 0 })]).toThrow(badOption);
    expect(() => [...batchIndices(3, { batchSize: '2' as unknown as number })]).toThrow(badOption);
    expect(() => [...batchIndices(3, { batchsize: 2 } as never)]).toThrow(/unknown option 'batchsize'/);
    expect(() => [...batchIndices(-1)]).toThrow(badOption);
    expect(() => [...batchIndices('3' as unknown as number)]).toThrow(badOption);
    expect(() => permutation(2.5)).toThrow(badOption);
  });
});

describe.each(BACKENDS)('toTensors on %s', (backend) => {
  beforeAll(() => useBackend(backend));
  it('normalises, shapes and labels', () => {
    const s = split(3);
    const before = tf.memory().numTensors;
    const { xs, ys } = toTensors(s);
    expect(xs.shape).toEqual([3, 28, 28, 1]);
    expect(xs.dtype).toBe('float32');
    expect(ys.dtype).toBe('int32');
    expect(Array.from(ys.dataSync())).toEqual([0, 1, 2]);
    const x = xs.dataSync();
    expect(x[255]).toBeCloseTo(1, 6);
    expect(x[1]).toBeCloseTo(1 / 255, 6);
    tf.dispose([xs, ys]);
    expect(tf.memory().numTensors).toBe(before);
  });
  it('raw pixels and one-hot labels, without leaks', () => {
    const before = tf.memory().numTensors;
    const { xs, ys } = toTensors(split(2), { normalize: false, oneHot: true });
    expect(xs.dataSync()[255]).toBe(255);
    expect(ys.shape).toEqual([2, 10]);
    expect(ys.dtype).toBe('float32');
    expect(Array.from(ys.dataSync()).slice(0, 12)).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    tf.dispose([xs, ys]);
    expect(tf.memory().numTensors).toBe(before);
  });
  it('rejects bad options', () => {
    expect(() => toTensors(split(1), { normalize: 1 as unknown as boolean })).toThrow(badOption);
    expect(() => toTensors({ ...split(2), count: 3 })).toThrow(
      expect.objectContaining({ code: 'COUNT_MISMATCH' }),
    );
  });
  it('refuses something that is not a split with BAD_INPUT / BAD_SHAPE, not a TypeError or a tfjs Error', () => {
    const before = tf.memory().numTensors;
    const badInput = expect.objectContaining({ code: 'BAD_INPUT' });
    const badShape = expect.objectContaining({ code: 'BAD_SHAPE' });
    expect(() => toTensors(null as unknown as Split)).toThrow(badInput);
    expect(() => toTensors({ ...split(1), images: [0] } as unknown as Split)).toThrow(badInput);
    expect(() => toTensors({ ...split(1), height: Number.NaN })).toThrow(badShape);
    expect(() => toTensors({ ...split(1), height: 0, width: 0 })).toThrow(badShape);
    expect(() => subset(null as unknown as Split, 0)).toThrow(badInput);
    expect(() => take(null as unknown as Split, [0])).toThrow(badInput);
    expect(() => take({ ...split(1), width: -1 }, [0])).toThrow(badShape);
    expect(tf.memory().numTensors).toBe(before);
  });
  it('refuses a label that is not a class when one-hot (it became a row of zeros), leaking nothing', () => {
    const s = split(3);
    s.labels[1] = 12;
    const before = tf.memory().numTensors;
    expect(() => toTensors(s, { oneHot: true })).toThrow(
      expect.objectContaining({ code: 'BAD_LABEL', message: expect.stringMatching(/label 12 at index 1/) }),
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});
