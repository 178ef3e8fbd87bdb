import { describe, expect, it } from 'vitest';
import { FashionMnistError } from '../../src/errors.js';
import { crc32, decodeKnnState, encodeKnnState, type KnnState } from '../../src/knn/format.js';
import { mulberry32 } from '../helpers/rng.js';

function state(dtype: 'uint8' | 'float32', classes: (string | number)[] = [0, 1, 2]): KnnState {
  const rows = 7;
  const dims = 5;
  const random = mulberry32(3);
  const features =
    dtype === 'uint8'
      ? Uint8Array.from({ length: rows * dims }, () => Math.floor(random() * 256))
      : Float32Array.from({ length: rows * dims }, () => random() - 0.5);
  const classIndex = Uint32Array.from({ length: rows }, (_, i) => i % classes.length);
  return { k: 3, metric: 'cosine', weights: 'distance', rows, dims, features, classIndex, classes };
}

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof FashionMnistError) return e.code;
    throw e;
  }
  return 'OK';
}

describe('k-NN saved format', () => {
  it('crc32 matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  for (const dtype of ['uint8', 'float32'] as const) {
    for (const classes of [
      ['shirt', 'bag', 'sock'],
      [7, -3, 2 ** 31 - 1],
    ]) {
      it(`round-trips a ${dtype} classifier exactly, labels ${classes} kept as given`, () => {
        const s = { ...state(dtype, classes), ties: 'lowest' as const };
        const bytes = encodeKnnState(s);
        const back = decodeKnnState(bytes);
        expect(back.features).toBeInstanceOf(s.features.constructor);
        expect(Array.from(back.features)).toEqual(Array.from(s.features));
        expect(Array.from(back.classIndex)).toEqual(Array.from(s.classIndex));
        expect(back).toMatchObject({ k: 3, metric: 'cosine', weights: 'distance', ties: 'lowest', rows: 7 });
        expect(back.classes).toEqual(classes);
      });
    }
  }

  it('a header without ties reads as nearest; mixed, repeated or non-int32 labels are BAD_FILE', () => {
    expect(decodeKnnState(encodeKnnState(state('uint8'))).ties).toBe('nearest');
    for (const classes of [
      ['shirt', 7, 'bag'],
      [1, 2, 1],
      [0.5, 1, 2],
      [2 ** 31, 1, 2],
    ]) {
      expect(codeOf(() => decodeKnnState(encodeKnnState(state('uint8', classes))))).toBe('BAD_FILE');
    }
  });

  it('decodes from a Node Buffer (a view into a shared pool) into a private copy', () => {
    for (const dtype of ['uint8', 'float32'] as const) {
      const s = state(dtype);
      const encoded = encodeKnnState(s);
      // A pooled Buffer at an odd offset, as readFileSync gives for small files.
      const pool = Buffer.alloc(encoded.length + 13);
      pool.set(encoded, 13);
      const buffer = pool.subarray(13);
      const back = decodeKnnState(buffer);
      expect(Array.from(back.features)).toEqual(Array.from(s.features));
      buffer.fill(0);
      expect(Array.from(back.features)).toEqual(Array.from(s.features)); // not a view of the caller's bytes
    }
  });

  it('keeps uint8 pixels at one byte each', () => {
    const s = state('uint8');
    expect(encodeKnnState(s).length).toBeLessThan(s.rows * s.dims + s.rows * 4 + 200);
  });

  it('refuses every truncation, a flipped byte, a foreign file and a newer version with BAD_FILE', () => {
    const bytes = encodeKnnState(state('uint8'));
    for (let n = 0; n < bytes.length; n++)
      expect(codeOf(() => decodeKnnState(bytes.subarray(0, n)))).toBe('BAD_FILE');
    for (let i = 0; i < bytes.length; i += 3) {
      const damaged = bytes.slice();
      damaged[i] ^= 0x10;
      expect(codeOf(() => decodeKnnState(damaged))).toBe('BAD_FILE');
    }
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array(40).fill(0)]);
    expect(() => decodeKnnState(png)).toThrow(/wrong magic/);
    const newer = bytes.slice();
    newer[8] = 2;
    expect(() => decodeKnnState(newer)).toThrow(/version 2/);
    expect(codeOf(() => decodeKnnState('x' as never))).toBe('BAD_INPUT');
  });

  it('survives a seeded fuzz of damaged files: every failure is a FashionMnistError', () => {
    const random = mulberry32(11);
    const good = encodeKnnState(state('float32', ['a', 'b']));
    let failures = 0;
    for (let t = 0; t < 2000; t++) {
      const bytes = good.slice(0, Math.max(0, good.length - Math.floor(random() * 8)));
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) {
        const at = Math.floor(random() * bytes.length);
        bytes[at] = Math.floor(random() * 256);
      }
      const code = codeOf(() => decodeKnnState(bytes));
      if (code !== 'OK') failures++;
    }
    expect(failures).toBeGreaterThan(1900);
  });
});

describe('k-NN saved format: size of the full-data classifier', () => {
  it('60,000 × 784 uint8 pixels with 10 classes take at most 50 MB (one byte per pixel)', () => {
    const rows = 60_000;
    const dims = 784;
    const bytes = encodeKnnState({
      k: 5,
      metric: 'euclidean',
      weights: 'uniform',
      rows,
      dims,
      features: new Uint8Array(rows * dims),
      classIndex: Uint32Array.from({ length: rows }, (_, i) => i % 10),
      classes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    });
    expect(bytes.length).toBeLessThanOrEqual(50_000_000);
    expect(bytes.length).toBeLessThan(rows * dims + rows * 4 + 1024);
    expect(decodeKnnState(bytes).features).toBeInstanceOf(Uint8Array);
  });
});
