// The exact uint8 k-NN kernel (src/knn/wasm-kernel.ts over src/kernels/knn_u8.wat) against a brute-force
// JS reference: every distance computed, sorted by (distance, training index), first k kept. Both the
// WebAssembly SIMD path and the plain JS fallback must give the same indices and distances, on random data
// (binary pixels make many equal distances, so the tie rule is exercised), on duplicated training rows,
// on odd sizes (dims not a multiple of 8, rows not a multiple of 4, odd query counts, tiny blocks), and on
// a slice of the real data shipped in data/sample.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isFashionMnistError } from '../../src/errors.js';
import { createKnnKernel, KNN_KERNEL_MAX_DIMS, type KnnKernelOptions } from '../../src/knn/wasm-kernel.js';
import { createKnnKernelPool } from '../../src/knn/wasm-kernel-node.js';
import { mulberry32 } from '../helpers/rng.js';

function reference(train: Uint8Array, queries: Uint8Array, dims: number, k: number) {
  const n = queries.length / dims;
  const m = train.length / dims;
  const indices = new Int32Array(n * k);
  const distances = new Int32Array(n * k);
  const d = new Float64Array(m);
  const order = Array.from({ length: m }, (_, i) => i);
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < m; b++) {
      let s = 0;
      for (let i = 0; i < dims; i++) {
        const e = queries[a * dims + i] - train[b * dims + i];
        s += e * e;
      }
      d[b] = s;
    }
    order.sort((x, y) => d[x] - d[y] || x - y);
    for (let j = 0; j < k; j++) {
      indices[a * k + j] = order[j];
      distances[a * k + j] = d[order[j]];
    }
  }
  return { indices, distances };
}

function expectSame(train: Uint8Array, queries: Uint8Array, dims: number, k: number, opts: KnnKernelOptions) {
  const want = reference(train, queries, dims, k);
  const kernel = createKnnKernel(opts);
  try {
    kernel.setTrain(train, dims);
    const got = kernel.search(queries, k);
    expect(got.rows).toBe(queries.length / dims);
    expect(got.k).toBe(k);
    expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
    expect(Array.from(got.distances)).toEqual(Array.from(want.distances));
  } finally {
    kernel.dispose();
  }
}

function idx(name: string): Uint8Array {
  const b = gunzipSync(readFileSync(join(__dirname, '..', '..', 'data', 'sample', name)));
  const nd = b[3];
  return new Uint8Array(b.buffer, b.byteOffset + 4 + 4 * nd, b.length - 4 - 4 * nd);
}

describe('createKnnKernel', () => {
  it('runs in WebAssembly SIMD on Node (the assembled module validates)', () => {
    const kernel = createKnnKernel();
    expect(kernel.simd).toBe(true);
    expect(createKnnKernel({ simd: false }).simd).toBe(false);
  });

  for (const simd of [true, false]) {
    const path = simd ? 'wasm SIMD' : 'plain JS';
    it(`${path}: same neighbours as brute force on random shapes, ties to the lower index`, () => {
      const r = mulberry32(simd ? 11 : 12);
      for (let t = 0; t < 40; t++) {
        const dims = 1 + Math.floor(r() * 50);
        const m = 1 + Math.floor(r() * 60);
        const n = Math.floor(r() * 11);
        const k = 1 + Math.floor(r() * Math.min(m, 9));
        const binary = r() < 0.5;
        const px = () => (binary ? (r() < 0.5 ? 0 : 255) : Math.floor(r() * 256));
        const train = Uint8Array.from({ length: m * dims }, px);
        const queries = Uint8Array.from({ length: n * dims }, px);
        expectSame(train, queries, dims, k, {
          simd,
          queryBlockRows: 2 + Math.floor(r() * 6),
          trainBlockRows: 4 * (1 + Math.floor(r() * 4)),
          prune: r() < 0.7,
          pruneGroup: 2 + Math.floor(r() * 15),
          refineGroup: r() < 0.3 ? 0 : 2 + Math.floor(r() * 6),
          imageShape: r() < 0.5 ? null : [1, dims],
        });
      }
    });

    it(`${path}: duplicated training rows come out in index order, with distance 0 for an exact match`, () => {
      const r = mulberry32(5);
      const dims = 13;
      const base = Uint8Array.from({ length: 3 * dims }, () => Math.floor(r() * 256));
      // rows 0..8: base rows 0,1,2 repeated three times
      const train = new Uint8Array(9 * dims);
      for (let i = 0; i < 9; i++) train.set(base.subarray((i % 3) * dims, (i % 3) * dims + dims), i * dims);
      const queries = base.slice(dims, 2 * dims); // equals training rows 1, 4, 7
      const kernel = createKnnKernel({ simd });
      kernel.setTrain(train, dims);
      const got = kernel.search(queries, 4);
      expect(Array.from(got.indices.subarray(0, 3))).toEqual([1, 4, 7]);
      expect(Array.from(got.distances.subarray(0, 3))).toEqual([0, 0, 0]);
      expectSame(train, queries, dims, 9, { simd });
    });

    it(`${path}: the extreme distance (all 0 against all 255) is exact`, () => {
      const dims = 784;
      const train = new Uint8Array(5 * dims).fill(255);
      train.fill(0, 2 * dims, 3 * dims);
      const queries = new Uint8Array(dims);
      const kernel = createKnnKernel({ simd });
      kernel.setTrain(train, dims);
      const got = kernel.search(queries, 5);
      expect(Array.from(got.indices)).toEqual([2, 0, 1, 3, 4]);
      expect(Array.from(got.distances)).toEqual([
        0,
        784 * 255 * 255,
        784 * 255 * 255,
        784 * 255 * 255,
        784 * 255 * 255,
      ]);
    });
  }

  it('same neighbours as brute force on real images (data/sample: 1,500 training × 61 test rows, k = 7)', () => {
    const train = idx('train-images-idx3-ubyte.gz').slice(0, 1500 * 784);
    const queries = idx('t10k-images-idx3-ubyte.gz').slice(0, 61 * 784);
    expectSame(train, queries, 784, 7, { simd: true });
    expectSame(train, queries, 784, 7, { simd: true, prune: false });
    expectSame(train, queries, 784, 7, { simd: true, queryBlockRows: 8, trainBlockRows: 12, pruneGroup: 16 });
    expectSame(train, queries, 784, 7, { simd: true, imageShape: [28, 28] });
    expectSame(train, queries, 784, 7, { simd: true, imageShape: [28, 28], pruneGroup: 4, refineGroup: 0 });
    expectSame(train, queries, 784, 7, { simd: true, imageShape: [14, 56], pruneGroup: 8, refineGroup: 2 });
    expectSame(train.subarray(0, 300 * 784), queries, 784, 7, { simd: false });
  });

  it('setTrain replaces the training rows; search can be called again', () => {
    const kernel = createKnnKernel();
    kernel.setTrain(new Uint8Array([0, 0, 10, 10, 20, 20]), 2);
    expect(Array.from(kernel.search(new Uint8Array([9, 9]), 2).indices)).toEqual([1, 0]);
    kernel.setTrain(new Uint8Array([5, 5, 9, 9]), 2);
    expect(kernel.rows).toBe(2);
    expect(Array.from(kernel.search(new Uint8Array([9, 9]), 2).indices)).toEqual([1, 0]);
    expect(kernel.search(new Uint8Array(0), 1).rows).toBe(0);
  });

  it('typed errors: bad options, shapes, k, unfitted and disposed', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isFashionMnistError(e) ? e.code : `untyped: ${String(e)}`;
      }
      return 'no error';
    };
    expect(code(() => createKnnKernel({ trainBlockRows: 6 }))).toBe('BAD_OPTION');
    expect(code(() => createKnnKernel({ queryBlockRows: 0 }))).toBe('BAD_OPTION');
    expect(code(() => createKnnKernel({ simd: 'yes' } as unknown as KnnKernelOptions))).toBe('BAD_OPTION');
    expect(code(() => createKnnKernel({ threads: 2 } as unknown as KnnKernelOptions))).toBe('BAD_OPTION');
    expect(code(() => createKnnKernel({ pruneGroup: 1 }))).toBe('BAD_OPTION');
    expect(code(() => createKnnKernel({ refineGroup: 1 }))).toBe('BAD_OPTION');
    expect(code(() => createKnnKernel({ imageShape: [28] as unknown as [number, number] }))).toBe(
      'BAD_OPTION',
    );
    expect(code(() => createKnnKernel({ imageShape: [4, 4] }).setTrain(new Uint8Array(15), 15))).toBe(
      'BAD_SHAPE',
    );
    expect(code(() => createKnnKernel({ prune: 1 } as unknown as KnnKernelOptions))).toBe('BAD_OPTION');
    for (const simd of [true, false]) {
      const kernel = createKnnKernel({ simd });
      expect(code(() => kernel.search(new Uint8Array(4), 1))).toBe('NOT_FITTED');
      expect(code(() => kernel.setTrain([1, 2] as unknown as Uint8Array, 2))).toBe('BAD_INPUT');
      expect(code(() => kernel.setTrain(new Uint8Array(5), 2))).toBe('BAD_SHAPE');
      expect(code(() => kernel.setTrain(new Uint8Array(0), 2))).toBe('BAD_SHAPE');
      expect(code(() => kernel.setTrain(new Uint8Array(4), KNN_KERNEL_MAX_DIMS + 1))).toBe('BAD_SHAPE');
      kernel.setTrain(new Uint8Array(8), 2);
      expect(code(() => kernel.search(new Uint8Array(3), 1))).toBe('BAD_SHAPE');
      expect(code(() => kernel.search(new Float32Array(4) as unknown as Uint8Array, 1))).toBe('BAD_INPUT');
      expect(code(() => kernel.search(new Uint8Array(4), 0))).toBe('BAD_OPTION');
      expect(code(() => kernel.search(new Uint8Array(4), 5))).toBe('BAD_OPTION');
      expect(code(() => kernel.search(new Uint8Array(4), 1.5))).toBe('BAD_OPTION');
      kernel.dispose();
      expect(code(() => kernel.search(new Uint8Array(4), 1))).toBe('DISPOSED');
      expect(code(() => kernel.setTrain(new Uint8Array(4), 2))).toBe('DISPOSED');
    }
  });
});

describe('createKnnKernelPool (worker threads over one shared copy of the training rows)', () => {
  it('same neighbours as brute force, whatever the task split; typed errors; dispose', async () => {
    const pool = await createKnnKernelPool({ threads: 2, taskRows: 2, queryBlockRows: 6, trainBlockRows: 8 });
    try {
      expect(pool.threads).toBe(2);
      await expect(pool.search(new Uint8Array(4), 1)).rejects.toMatchObject({ code: 'NOT_FITTED' });
      const r = mulberry32(21);
      for (let t = 0; t < 6; t++) {
        const dims = 8 + Math.floor(r() * 40);
        const m = 4 + Math.floor(r() * 60);
        const n = 1 + Math.floor(r() * 25);
        const k = 1 + Math.floor(r() * 4);
        const px = () => (r() < 0.5 ? 0 : 255);
        const train = Uint8Array.from({ length: m * dims }, px);
        const queries = Uint8Array.from({ length: n * dims }, px);
        pool.setTrain(train, dims);
        const got = await pool.search(queries, k);
        const want = reference(train, queries, dims, k);
        expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
        expect(Array.from(got.distances)).toEqual(Array.from(want.distances));
      }
      const train = idx('train-images-idx3-ubyte.gz').slice(0, 800 * 784);
      const queries = idx('t10k-images-idx3-ubyte.gz').slice(0, 33 * 784);
      pool.setTrain(train, 784);
      const got = await pool.search(queries, 5);
      const want = reference(train, queries, 784, 5);
      expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
      await expect(pool.search(queries, 801)).rejects.toMatchObject({ code: 'BAD_OPTION' });
    } finally {
      await pool.dispose();
    }
    await expect(pool.search(new Uint8Array(784), 1)).rejects.toMatchObject({ code: 'DISPOSED' });
  });

  it('without SIMD, searches on the calling thread with the same results', async () => {
    const pool = await createKnnKernelPool({ simd: false });
    try {
      expect(pool.threads).toBe(0);
      pool.setTrain(new Uint8Array([0, 0, 10, 10, 20, 20]), 2);
      expect(Array.from((await pool.search(new Uint8Array([9, 9, 19, 19]), 2)).indices)).toEqual([
        1, 0, 2, 1,
      ]);
    } finally {
      await pool.dispose();
    }
  });
});
