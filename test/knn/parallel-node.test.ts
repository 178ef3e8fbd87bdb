// ParallelKnnClassifier (Node worker threads): same answers as the naive reference and as KnnClassifier,
// for any worker count and backend, plus its own errors and shutdown.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FashionMnistError } from '../../src/errors.js';
import { KnnClassifier } from '../../src/knn/index.js';
import { ParallelKnnClassifier } from '../../src/knn/parallel-node.js';
import { useBackend } from '../helpers/backends.js';
import { naiveNeighbours, naiveVote, randomLabels, randomRows } from './reference.js';

const [n, m, dims] = [400, 90, 30];
const train = randomRows(n, dims, 201, 0, 256, true);
const query = randomRows(m, dims, 202, 0, 256, true);
const labels = randomLabels(n, 5, 203);

describe('ParallelKnnClassifier', () => {
  const pools: ParallelKnnClassifier[] = [];
  beforeAll(async () => {
    await useBackend('cpu');
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.dispose()));
  });

  for (const backend of ['wasm', 'cpu'] as const) {
    it(`matches the naive reference and KnnClassifier exactly (2 workers, ${backend} in each)`, async () => {
      const k = 5;
      const pool = await new ParallelKnnClassifier({ k, workers: 2, backend, batchSize: 7 }).fit(
        train,
        labels,
      );
      pools.push(pool);
      const progress: number[] = [];
      const nb = await pool.kneighbors(query, { onProgress: (p) => progress.push(p.done) });
      const want = naiveNeighbours(train, query, dims, k);
      expect(Array.from(nb.indices)).toEqual(Array.from(want.indices));
      expect(Array.from(nb.distances)).toEqual(Array.from(Float32Array.from(want.distances, Math.sqrt)));
      expect(progress).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
      const single = new KnnClassifier({ k }).fit(train, labels);
      expect(Array.from(await pool.predict(query))).toEqual(Array.from(await single.predict(query)));
      expect(Array.from(await pool.predictProba(query))).toEqual(
        Array.from(await single.predictProba(query)),
      );
      expect(Array.from(await pool.predict(query))).toEqual(Array.from(naiveVote(want, labels, k, 5).pred));
      const truth = randomLabels(m, 5, 204);
      expect(await pool.score(query, truth)).toBe(await single.score(query, truth));
      expect(pool.lastStats?.chunks).toBe(13);
      single.dispose();
      await pool.dispose();
      await expect(pool.predict(query)).rejects.toMatchObject({ code: 'NOT_FITTED' });
    });
  }

  it('runs concurrent searches on one pool and refits', async () => {
    const pool = await new ParallelKnnClassifier({
      k: 3,
      workers: 2,
      weights: 'distance',
      metric: 'cosine',
    }).fit(train, labels);
    pools.push(pool);
    const half = query.subarray(0, 45 * dims);
    const [a, b] = await Promise.all([pool.kneighbors(query), pool.kneighbors(half)]);
    expect(Array.from(b.indices)).toEqual(Array.from(a.indices.subarray(0, 45 * 3)));
    const want = naiveNeighbours(train, query, dims, 3, 'cosine');
    expect(Array.from(a.indices)).toEqual(Array.from(want.indices));
    await pool.fit(query, randomLabels(m, 2, 205));
    expect(pool.numClasses).toBe(2);
    const self = await pool.kneighbors(query, { k: 1 });
    expect(Array.from(self.indices)).toEqual(Array.from({ length: m }, (_, i) => i));
    await pool.dispose();
  });

  it('checks options and inputs like KnnClassifier', async () => {
    expect(() => new ParallelKnnClassifier({ workers: 0 })).toThrow(RangeError);
    expect(() => new ParallelKnnClassifier({ backend: 'webgl' as 'cpu' })).toThrow(RangeError);
    expect(() => new ParallelKnnClassifier({ k: 0 })).toThrow(RangeError);
    expect(() => new ParallelKnnClassifier({ threads: 2 } as never)).toThrow(TypeError);
    const pool = new ParallelKnnClassifier({ workers: 1, k: 3 });
    await expect(pool.predict(query)).rejects.toMatchObject({ code: 'NOT_FITTED' });
    await expect(pool.fit(train, randomLabels(n - 1, 5, 1))).rejects.toBeInstanceOf(FashionMnistError);
    await expect(new ParallelKnnClassifier({ k: n + 1 }).fit(train, labels)).rejects.toThrow(RangeError);
    await pool.fit(train, labels);
    pools.push(pool);
    await expect(pool.predict(Float32Array.from([1, 2]))).rejects.toMatchObject({ code: 'BAD_INPUT' });
    const nan = Float32Array.from(query);
    nan[5] = Number.NaN;
    await expect(pool.predict(nan)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await pool.dispose();
  });

  it('a worker that dies drops the pool instead of hanging later calls', async () => {
    const pool = await new ParallelKnnClassifier({ workers: 2, k: 3, backend: 'cpu' }).fit(train, labels);
    pools.push(pool);
    // Simulate a crash (out of memory, a native fault) by ending one thread behind the pool's back.
    const inner = pool as unknown as { fitted: { slots: { worker: { terminate(): Promise<number> } }[] } };
    await inner.fitted.slots[0].worker.terminate();
    await expect(pool.predict(query)).rejects.toMatchObject({ code: 'NOT_FITTED' });
    expect(pool.isFitted).toBe(false);
  });

  it('reports a worker that cannot start', async () => {
    const pool = new ParallelKnnClassifier({
      workers: 1,
      workerUrl: new URL('./no-such-worker.js', import.meta.url),
    });
    await expect(pool.fit(train, labels)).rejects.toThrow();
    expect(pool.isFitted).toBe(false);
  });
});
