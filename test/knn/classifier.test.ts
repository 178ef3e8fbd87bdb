// KnnClassifier and distanceMatrix on every test backend: bit-exact agreement with the naive double loop,
// chunking invariance, the tie rule, distance weights, every error, and tensor leaks.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { FashionMnistError } from '../../src/errors.js';
import { distanceMatrix, KnnClassifier, type KnnOptions } from '../../src/knn/index.js';
import { NeighbourIndex } from '../../src/knn/search.js';
import { accuracy } from '../../src/metrics/metrics.js';
import { BACKENDS, useBackend } from '../helpers/backends.js';
import { naiveNeighbours, naiveVote, randomLabels, randomRows } from './reference.js';

function expectError(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FashionMnistError);
    expect((e as FashionMnistError).code).toBe(code);
    return;
  }
  throw new Error(`expected FashionMnistError ${code}`);
}

async function expectRejects(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toBeInstanceOf(FashionMnistError);
  await expect(p).rejects.toMatchObject({ code });
}

for (const backend of BACKENDS) {
  describe(`KnnClassifier on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    const cases: [string, number, boolean, 'euclidean' | 'cosine', number][] = [
      ['float data, euclidean, k=1', 1, false, 'euclidean', 1],
      ['float data, euclidean, k=5', 5, false, 'euclidean', 2],
      ['pixel data, euclidean, k=7', 7, true, 'euclidean', 3],
      ['float data, cosine, k=5', 5, false, 'cosine', 4],
      ['pixel data, cosine, k=3', 3, true, 'cosine', 5],
    ];
    it.each(cases)('matches the naive double loop exactly (%s)', async (_, k, pixels, metric, seed) => {
      const [n, m, dims] = [320, 40, 50];
      const lo = pixels ? 0 : -1;
      const hi = pixels ? 256 : 1;
      const train = randomRows(n, dims, seed, lo, hi, pixels);
      const query = randomRows(m, dims, seed + 100, lo, hi, pixels);
      const labels = randomLabels(n, 4, seed + 200);
      const knn = new KnnClassifier({ k, metric }).fit(train, labels);
      const got = await knn.kneighbors(query);
      const want = naiveNeighbours(train, query, dims, k, metric);
      expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
      const wantD = Float32Array.from(want.distances, (d) => (metric === 'euclidean' ? Math.sqrt(d) : d));
      expect(Array.from(got.distances)).toEqual(Array.from(wantD));
      const vote = naiveVote(want, labels, k, 4, 'uniform', metric);
      expect(Array.from(await knn.predict(query))).toEqual(Array.from(vote.pred));
      expect(Array.from(await knn.predictProba(query))).toEqual(Array.from(Float32Array.from(vote.proba)));
      // The candidate pass really ran on the backend (not the everything-is-a-candidate shortcut).
      expect(knn.lastStats?.candidates).toBeLessThan(n);
      knn.dispose();
    });

    it('pixel data with many exactly equal distances: order by index, still exact', async () => {
      // Values 0..2 in 6 dimensions: thousands of exact ties, which a float32 ranking cannot order.
      const [n, m, dims, k] = [400, 30, 6, 9];
      const train = randomRows(n, dims, 11, 0, 3, true);
      const query = randomRows(m, dims, 12, 0, 3, true);
      const labels = randomLabels(n, 3, 13);
      const knn = new KnnClassifier({ k }).fit(train, labels);
      const got = await knn.kneighbors(query);
      const want = naiveNeighbours(train, query, dims, k);
      expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
      expect(Array.from(await knn.predict(query))).toEqual(Array.from(naiveVote(want, labels, k, 3).pred));
      knn.dispose();
    });

    it('rows whose candidate list cannot be proven complete are searched again (rescue path)', async () => {
      const [n, m, dims, k] = [300, 25, 20, 4];
      const train = randomRows(n, dims, 21);
      const query = randomRows(m, dims, 22);
      const index = new NeighbourIndex({ values: train, rows: n, dims }, 'euclidean');
      // Exactly k candidates leave no margin: the proof fails for (almost) every row.
      const { lists, stats } = await index.search(query, k, 8, undefined, k);
      index.dispose();
      expect(stats.rescued).toBeGreaterThan(0);
      const want = naiveNeighbours(train, query, dims, k);
      expect(Array.from(lists.indices)).toEqual(Array.from(want.indices));
      expect(Array.from(lists.distances)).toEqual(Array.from(want.distances));
    });

    it('gives identical results for any batch size (chunking invariance)', async () => {
      const [n, m, dims] = [500, 61, 40];
      const train = randomRows(n, dims, 31, 0, 256, true);
      const query = randomRows(m, dims, 32, 0, 256, true);
      const labels = randomLabels(n, 10, 33);
      const results: string[] = [];
      for (const batchSize of [1, 7, 60, 61, 1000, 'auto'] as const) {
        const knn = new KnnClassifier({ k: 6, batchSize, weights: 'distance' }).fit(train, labels);
        const nb = await knn.kneighbors(query);
        const proba = await knn.predictProba(query);
        const pred = await knn.predict(query);
        results.push(
          JSON.stringify([
            Array.from(nb.indices),
            Array.from(nb.distances),
            Array.from(proba),
            Array.from(pred),
          ]),
        );
        knn.dispose();
      }
      for (const r of results) expect(r).toBe(results[0]);
    });

    it('a small memory budget makes more, smaller chunks with the same answer', async () => {
      const [n, m, dims] = [200, 50, 10];
      const train = randomRows(n, dims, 41);
      const query = randomRows(m, dims, 42);
      const labels = randomLabels(n, 3, 43);
      const big = new KnnClassifier().fit(train, labels);
      const small = new KnnClassifier({ memoryBudget: 200 * 8 * 5 }).fit(train, labels);
      const a = await big.predict(query);
      expect(big.lastStats?.chunks).toBe(1);
      const b = await small.predict(query);
      expect(small.lastStats).toMatchObject({ batchSize: 5, chunks: 10 });
      expect(Array.from(b)).toEqual(Array.from(a));
      big.dispose();
      small.dispose();
    });

    it('tie rule: equal votes go to the class of the nearest neighbour among the tied classes', async () => {
      // 1-D points; query at 0. Neighbours by distance: 1 (class 2), 2 (class 0), 3 (class 0), 4 (class 2),
      // 10 (class 1). With k = 4, classes 0 and 2 tie 2:2; class 2 owns the nearest neighbour, so 2 wins
      // (a lowest-label rule would say 0).
      const train = Float32Array.from([2, 10, 3, 1, 4]);
      const labels = [0, 1, 0, 2, 2];
      const knn = new KnnClassifier({ k: 4 }).fit(tf.tensor2d(train, [5, 1]), labels);
      expect(Array.from(await knn.predict(Float32Array.from([0])))).toEqual([2]);
      // Mirror image: now the nearest tied neighbour is class 0.
      const knn2 = new KnnClassifier({ k: 4 }).fit(Float32Array.from([1, 10, 3, 2, 4]), labels);
      expect(Array.from(await knn2.predict(Float32Array.from([0])))).toEqual([0]);
      // Three-way tie with k = 3: the nearest neighbour decides.
      const knn3 = new KnnClassifier({ k: 3 }).fit(Float32Array.from([5, 6, 7]), [4, 1, 3]);
      expect(Array.from(await knn3.predict(Float32Array.from([7.2, 4.9])))).toEqual([3, 4]);
      // Equal distances: the lower training index counts as nearer.
      const knn4 = new KnnClassifier({ k: 2 }).fit(Float32Array.from([-1, 1]), [1, 0]);
      expect(Array.from(await knn4.predict(Float32Array.from([0])))).toEqual([1]);
      for (const c of [knn, knn2, knn3, knn4]) c.dispose();
    });

    it("weights: 'distance' is 1/d, and zero-distance neighbours take the whole vote", async () => {
      const train = Float32Array.from([0, 1, 1.5, 4, 4]);
      const labels = [0, 1, 1, 2, 2];
      const knn = new KnnClassifier({ k: 3, weights: 'distance' }).fit(train, labels);
      // Query 2: neighbours 1.5 (d .5, class 1), 1 (d 1, class 1), then three rows at d 2 of which index 0
      // (class 0) comes first → votes class 0: 0.5, class 1: 2 + 1.
      const p = await knn.predictProba(Float32Array.from([2]));
      expect(Array.from(p)).toEqual(Array.from(Float32Array.from([0.5 / 3.5, 3 / 3.5, 0])));
      // Query 4: two training points at distance 0 (class 2) and 1.5 at 2.5: only the zeros vote.
      expect(Array.from(await knn.predictProba(Float32Array.from([4])))).toEqual([0, 0, 1]);
      expect(Array.from(await knn.predict(Float32Array.from([4])))).toEqual([2]);
      // Zero distance beats any number of close neighbours of another class.
      const knn2 = new KnnClassifier({ k: 5, weights: 'distance' }).fit(
        Float32Array.from([0, 0.001, -0.001, 0.002, -0.002]),
        [3, 1, 1, 1, 1],
      );
      expect(Array.from(await knn2.predict(Float32Array.from([0])))).toEqual([3]);
      const uniform = new KnnClassifier({ k: 5 }).fit(
        Float32Array.from([0, 0.001, -0.001, 0.002, -0.002]),
        [3, 1, 1, 1, 1],
      );
      expect(Array.from(await uniform.predict(Float32Array.from([0])))).toEqual([1]);
      for (const c of [knn, knn2, uniform]) c.dispose();
    });

    it('distance weights agree with the naive reference on random data', async () => {
      const [n, m, dims, k] = [300, 30, 12, 7];
      const train = randomRows(n, dims, 51);
      const query = randomRows(m, dims, 52);
      const labels = randomLabels(n, 5, 53);
      const knn = new KnnClassifier({ k, weights: 'distance' }).fit(train, labels);
      const want = naiveVote(naiveNeighbours(train, query, dims, k), labels, k, 5, 'distance');
      expect(Array.from(await knn.predict(query))).toEqual(Array.from(want.pred));
      const proba = await knn.predictProba(query);
      for (let i = 0; i < proba.length; i++) expect(proba[i]).toBeCloseTo(want.proba[i], 6);
      knn.dispose();
    });

    it('predictProba rows sum to 1; score is the accuracy of predict', async () => {
      const [n, m, dims] = [150, 40, 8];
      const train = randomRows(n, dims, 61);
      const query = randomRows(m, dims, 62);
      const labels = randomLabels(n, 6, 63);
      const truth = randomLabels(m, 6, 64);
      const knn = new KnnClassifier({ k: 5 }).fit(train, labels);
      expect(knn.numClasses).toBe(6);
      const proba = await knn.predictProba(query);
      expect(proba.length).toBe(m * 6);
      for (let r = 0; r < m; r++) {
        let s = 0;
        for (let c = 0; c < 6; c++) s += proba[r * 6 + c];
        expect(s).toBeCloseTo(1, 6);
      }
      const pred = await knn.predict(query);
      const hits = pred.reduce((a, p, i) => a + (p === truth[i] ? 1 : 0), 0);
      expect(await knn.score(query, truth)).toBe(hits / m);
      knn.dispose();
    });

    it('accepts image tensors [N, h, w, 1], one-hot label tensors and typed arrays alike', async () => {
      const [n, m] = [100, 20];
      const train = randomRows(n, 16, 71, 0, 256, true);
      const query = randomRows(m, 16, 72, 0, 256, true);
      const labels = randomLabels(n, 3, 73);
      const xs = tf.tensor4d(train, [n, 4, 4, 1]);
      const ys = tf.oneHot(tf.tensor1d(labels, 'int32'), 3);
      const q4 = tf.tensor4d(query, [m, 4, 4, 1]);
      const fromTensors = new KnnClassifier().fit(xs, ys);
      const fromArrays = new KnnClassifier().fit(Uint8Array.from(train), labels);
      expect(fromTensors.numFeatures).toBe(16);
      expect(fromTensors.numSamples).toBe(n);
      expect(Array.from(await fromTensors.predict(q4))).toEqual(Array.from(await fromArrays.predict(query)));
      expect(Array.from(await fromArrays.predict(q4))).toEqual(Array.from(await fromArrays.predict(query)));
      tf.dispose([xs, ys, q4]);
      fromTensors.dispose();
      fromArrays.dispose();
    });

    it('reports progress chunk by chunk', async () => {
      const train = randomRows(100, 4, 81);
      const knn = new KnnClassifier({ batchSize: 8 }).fit(train, randomLabels(100, 2, 82));
      const seen: string[] = [];
      await knn.predict(randomRows(20, 4, 83), {
        onProgress: (p) => seen.push(`${p.done}/${p.total}:${p.rowsDone}/${p.rows}`),
      });
      expect(seen).toEqual(['1/3:8/20', '2/3:16/20', '3/3:20/20']);
      knn.dispose();
    });

    it('does not leak tensors in any public method', async () => {
      const train = randomRows(80, 6, 91);
      const labels = randomLabels(80, 3, 92);
      const query = randomRows(10, 6, 93);
      const qt = tf.tensor2d(query, [10, 6]);
      const before = tf.memory().numTensors;
      const knn = new KnnClassifier({ batchSize: 3 });
      knn.fit(train, labels);
      expect(tf.memory().numTensors).toBe(before + 1); // the training matrix, owned
      const owned = tf.memory().numTensors;
      await knn.predict(query);
      await knn.predict(qt);
      expect(tf.memory().numTensors).toBe(owned);
      await knn.predictProba(query);
      expect(tf.memory().numTensors).toBe(owned);
      await knn.kneighbors(qt, { k: 4 });
      expect(tf.memory().numTensors).toBe(owned);
      await knn.score(query, randomLabels(10, 3, 94));
      expect(tf.memory().numTensors).toBe(owned);
      knn.fit(train, labels); // refit replaces, not adds
      expect(tf.memory().numTensors).toBe(owned);
      knn.dispose();
      expect(tf.memory().numTensors).toBe(before);
      const a = tf.tensor2d(query, [10, 6]);
      const d = distanceMatrix(a, a);
      expect(tf.memory().numTensors).toBe(before + 2);
      tf.dispose([a, d, qt]);
      // Errors thrown mid-call must not leak either.
      const knn2 = new KnnClassifier().fit(train, labels);
      const n0 = tf.memory().numTensors;
      await expect(knn2.predict(Float32Array.from([1, 2, 3]))).rejects.toThrow();
      expect(tf.memory().numTensors).toBe(n0);
      knn2.dispose();
    });

    it('no tensors are left after any public call that fails', async () => {
      const train = randomRows(20, 4, 111);
      const labels = randomLabels(20, 2, 112);
      const knn = new KnnClassifier({ k: 3, batchSize: 2 }).fit(train, labels);
      const soft = tf.tensor2d(Array.from({ length: 20 }, () => [0.5, 0.5]));
      const inputs = [tf.tensor2d(train, [20, 4]), tf.zeros([3, 5]), tf.tensor1d(labels, 'int32'), soft];
      const before = tf.memory().numTensors;
      const calls: (() => unknown)[] = [
        () => knn.predict(inputs[1]),
        () => knn.predictProba(Float32Array.from([1, 2, 3])),
        () => knn.kneighbors(inputs[0], { k: 99 }),
        () => knn.score(inputs[0], [1]),
        () => knn.predict(inputs[0], { onProgress: 'x' as never }),
        () =>
          knn.predict(inputs[0], {
            onProgress: () => {
              throw new Error('a progress callback that throws');
            },
          }),
        () => new KnnClassifier().fit(inputs[0], inputs[1]),
        () => new KnnClassifier().fit(inputs[0], soft),
        () => new KnnClassifier({ k: 50 }).fit(inputs[0], inputs[2]),
        () => distanceMatrix(inputs[0], inputs[1]),
      ];
      for (const call of calls) {
        await expect((async () => call())()).rejects.toThrow();
      }
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose(inputs);
      await knn.dispose();
    });
  });

  describe(`distanceMatrix on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it('equals the naive double loop exactly on small integers, and closely on floats', () => {
      // Small integers keep every float32 intermediate exact, so equality must be exact.
      const a = randomRows(13, 9, 101, 0, 16, true);
      const b = randomRows(17, 9, 102, 0, 16, true);
      const d2 = distanceMatrix(tf.tensor2d(a, [13, 9]), tf.tensor2d(b, [17, 9]), { squared: true });
      const want = naiveNeighbours(b, a, 9, 17);
      const got = d2.arraySync();
      for (let i = 0; i < 13; i++) {
        for (let t = 0; t < 17; t++)
          expect(got[i][want.indices[i * 17 + t]]).toBe(want.distances[i * 17 + t]);
      }
      d2.dispose();
      const fa = randomRows(7, 30, 103);
      const fb = randomRows(11, 30, 104);
      for (const metric of ['euclidean', 'cosine'] as const) {
        const d = distanceMatrix(tf.tensor2d(fa, [7, 30]), tf.tensor2d(fb, [11, 30]), { metric });
        const w = naiveNeighbours(fb, fa, 30, 11, metric);
        const g = d.arraySync();
        for (let i = 0; i < 7; i++) {
          for (let t = 0; t < 11; t++) {
            const v = w.distances[i * 11 + t];
            expect(g[i][w.indices[i * 11 + t]]).toBeCloseTo(metric === 'euclidean' ? Math.sqrt(v) : v, 5);
          }
        }
        d.dispose();
      }
    });

    it('clamps rounding negatives to 0 (a row against itself)', () => {
      const a = tf.tensor2d(randomRows(5, 784, 105, 0, 256, true), [5, 784]);
      const d = distanceMatrix(a, a, { squared: true });
      const diag = tf.tidy(() => tf.sum(tf.mul(d, tf.eye(5)), 1));
      for (const v of diag.dataSync()) expect(v).toBeGreaterThanOrEqual(0);
      expect(tf.min(d).dataSync()[0]).toBeGreaterThanOrEqual(0);
      tf.dispose([a, d, diag]);
    });

    it('rejects mismatched feature sizes and bad options', () => {
      const a = tf.zeros([2, 3]);
      const b = tf.zeros([2, 4]);
      const before = tf.memory().numTensors;
      expectError(() => distanceMatrix(a, b), 'BAD_SHAPE');
      expectError(() => distanceMatrix(tf.zeros([3]), a), 'BAD_SHAPE');
      expectError(() => distanceMatrix([[1]] as unknown as tf.Tensor, a), 'BAD_INPUT');
      expectError(() => distanceMatrix(a, a, { metric: 'manhattan' as 'cosine' }), 'BAD_OPTION');
      expectError(() => distanceMatrix(a, a, { squared: 1 as unknown as boolean }), 'BAD_OPTION');
      expect(tf.memory().numTensors).toBe(before + 1); // only the tf.zeros([3]) made above
      tf.dispose([a, b]);
    });
  });
}

describe('KnnClassifier errors', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });
  const train = randomRows(20, 4, 111);
  const labels = randomLabels(20, 2, 112);

  it.each<[Partial<KnnOptions> | unknown]>([
    [{ k: 0 }],
    [{ k: -3 }],
    [{ k: 2.5 }],
    [{ k: '5' }],
    [{ weights: 'inverse' }],
    [{ weights: 1 }],
    [{ metric: 'manhattan' }],
    [{ batchSize: 0 }],
    [{ batchSize: 'big' }],
    [{ memoryBudget: 0 }],
    [{ n_neighbors: 5 }],
    [{ search: 'workers' }],
    [{ search: { name: 'no index method' } }],
    ['k=5'],
    [null],
  ])('rejects options %j with BAD_OPTION', (options) => {
    expectError(() => new KnnClassifier(options as Partial<KnnOptions>), 'BAD_OPTION');
  });

  it('k larger than the training set', () => {
    expectError(() => new KnnClassifier({ k: 21 }).fit(train, labels), 'BAD_OPTION');
    expect(() => new KnnClassifier({ k: 21 }).fit(train, labels)).toThrow(/<= 20/);
  });

  it('label count different from image count', () => {
    expectError(() => new KnnClassifier().fit(tf.zeros([20, 4]), randomLabels(19, 2, 1)), 'COUNT_MISMATCH');
    expectError(() => new KnnClassifier().fit(train, randomLabels(7, 2, 1)), 'COUNT_MISMATCH');
  });

  it('feature size at predict different from fit, and features without a feature axis: BAD_SHAPE', async () => {
    const knn = new KnnClassifier().fit(train, labels);
    const [a, b, c] = [tf.zeros([3, 5]), tf.zeros([3, 2, 2, 2]), tf.zeros([20])];
    await expectRejects(knn.predict(a), 'BAD_SHAPE');
    await expectRejects(knn.predict(Float32Array.from([1, 2, 3])), 'BAD_SHAPE');
    await expectRejects(knn.kneighbors(b), 'BAD_SHAPE');
    await expectRejects(knn.predictProba(c), 'BAD_SHAPE');
    expectError(() => new KnnClassifier().fit(c, labels), 'BAD_SHAPE');
    const labels3d = tf.zeros([20, 2, 1]);
    expectError(() => new KnnClassifier().fit(train, labels3d), 'BAD_SHAPE');
    tf.dispose([a, b, c, labels3d]);
    await knn.dispose();
  });

  it('life cycle: NOT_FITTED before fit, DISPOSED after dispose (also after fit → dispose)', async () => {
    const knn = new KnnClassifier();
    expect(knn.isFitted).toBe(false);
    await expectRejects(knn.predict(train), 'NOT_FITTED');
    await expectRejects(knn.predictProba(train), 'NOT_FITTED');
    await expectRejects(knn.kneighbors(train), 'NOT_FITTED');
    await expectRejects(knn.score(train, labels), 'NOT_FITTED');
    expectError(() => knn.numClasses, 'NOT_FITTED');
    expectError(() => knn.numFeatures, 'NOT_FITTED');
    expectError(() => knn.numSamples, 'NOT_FITTED');
    knn.fit(train, labels);
    expect(knn.isFitted).toBe(true);
    // Not awaited on purpose: the backend memory is freed at once, and the state changes at once.
    const disposing = knn.dispose();
    expect(knn.isFitted).toBe(false);
    expect(knn.isDisposed).toBe(true);
    await expectRejects(knn.predict(train), 'DISPOSED');
    await expectRejects(knn.predictProba(train), 'DISPOSED');
    await expectRejects(knn.kneighbors(train), 'DISPOSED');
    await expectRejects(knn.score(train, labels), 'DISPOSED');
    expectError(() => knn.numClasses, 'DISPOSED');
    expectError(() => knn.fit(train, labels), 'DISPOSED');
    await expect(disposing).resolves.toBeUndefined();
    await expect(knn.dispose()).resolves.toBeUndefined(); // twice is fine
    // Disposed before it was ever fitted: DISPOSED too (it will never be usable).
    const never = new KnnClassifier();
    await never.dispose();
    await expectRejects(never.predict(train), 'DISPOSED');
  });

  it('dispose() during a search rejects that search with ABORTED', async () => {
    const knn = new KnnClassifier({ batchSize: 1 }).fit(train, labels);
    let disposing: Promise<void> | undefined;
    const running = knn.predict(train, {
      onProgress: () => {
        disposing ??= knn.dispose();
      },
    });
    await expectRejects(running, 'ABORTED');
    await disposing;
  });

  it('NaN or Infinity in the input', async () => {
    const bad = Float32Array.from(train);
    bad[13] = Number.NaN;
    expectError(() => new KnnClassifier().fit(bad, labels), 'BAD_INPUT');
    const knn = new KnnClassifier().fit(train, labels);
    await expectRejects(knn.predict(bad), 'BAD_INPUT');
    const inf = tf.tensor2d([[0, 1, Number.POSITIVE_INFINITY, 2]]);
    await expectRejects(knn.predict(inf), 'BAD_INPUT');
    inf.dispose();
    knn.dispose();
  });

  it('labels that are not labels: BAD_LABEL; inputs of the wrong kind: BAD_INPUT', () => {
    const withLabel = (v: unknown) => Array.from(labels, (l, i) => (i === 3 ? v : l)) as number[];
    for (const bad of [0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, -(2 ** 31) - 1, null, true, {}]) {
      expectError(() => new KnnClassifier().fit(train, withLabel(bad)), 'BAD_LABEL');
    }
    // One kind per classifier: numbers or strings, not both.
    expectError(() => new KnnClassifier().fit(train, withLabel('3')), 'BAD_LABEL');
    // A one-hot tensor must be one-hot.
    const soft = tf.tensor2d(Array.from({ length: 20 }, () => [0.5, 0.5]));
    expectError(() => new KnnClassifier().fit(train, soft), 'BAD_LABEL');
    soft.dispose();
    expectError(() => new KnnClassifier().fit('pixels' as unknown as Float32Array, labels), 'BAD_INPUT');
    expectError(() => new KnnClassifier().fit([1, 2] as unknown as Float32Array, labels), 'BAD_INPUT');
    expectError(() => new KnnClassifier().fit(train, 'labels' as unknown as number[]), 'BAD_INPUT');
    expectError(() => new KnnClassifier().fit(new Float32Array(0), []), 'COUNT_MISMATCH');
    const none = tf.zeros([0, 4]);
    expectError(() => new KnnClassifier().fit(none, []), 'BAD_INPUT');
    none.dispose();
  });

  it('labels map to dense classes: an absurd label costs nothing; more than MAX_CLASSES distinct is BAD_LABEL', async () => {
    expect(KnnClassifier.MAX_CLASSES).toBe(65_536);
    // Issue 11, item 9: one label of 10,000,000 made predictProba on 100 rows take 18.8 s and 4 GB, because
    // votes had one entry per integer up to the largest label. Classes are now the distinct labels.
    const huge = Array.from(labels, (v, i) => (i === 0 ? 10_000_000 : i === 1 ? -7 : v));
    const knn = new KnnClassifier({ k: 1 }).fit(train, huge);
    expect(knn.classes).toEqual([-7, 0, 1, 10_000_000]);
    expect(knn.numClasses).toBe(4);
    expect((await knn.predictProba(train)).length).toBe(20 * 4);
    const pred = await knn.predict(train);
    expect(pred).toBeInstanceOf(Int32Array);
    expect(Array.from(pred)).toEqual(huge); // k = 1 on the training rows: each row is its own neighbour
    await knn.dispose();
    // The bound is on distinct labels, checked at fit before any work: 65,537 one-value rows.
    const rows = KnnClassifier.MAX_CLASSES + 1;
    const x = Float32Array.from({ length: rows }, (_, i) => i);
    const distinct = Int32Array.from({ length: rows }, (_, i) => i);
    expectError(() => new KnnClassifier({ k: 1 }).fit(x, distinct), 'BAD_LABEL');
    expect(() => new KnnClassifier({ k: 1 }).fit(x, distinct)).toThrow(/65536 distinct labels/);
    const most = new KnnClassifier({ k: 1 }).fit(x.subarray(0, rows - 1), distinct.subarray(0, rows - 1));
    expect(most.numClasses).toBe(KnnClassifier.MAX_CLASSES);
    await most.dispose();
  });

  it('string labels, as scikit-learn: classes sorted, predictions as given, proba columns in class order', async () => {
    // 1-D points: 'sneaker' near 0, 'boot' near 10, 'bag' near 20.
    const x = Float32Array.from([0, 1, 10, 11, 20, 21]);
    const names = ['sneaker', 'sneaker', 'boot', 'boot', 'bag', 'bag'];
    const knn = new KnnClassifier<string>({ k: 2 }).fit(x, names);
    expect(knn.classes).toEqual(['bag', 'boot', 'sneaker']);
    const q = Float32Array.from([0.4, 10.6, 19, 5.2]);
    const pred: string[] = await knn.predict(q);
    // 5.2: neighbours 1 (sneaker, d 4.2) and 10 (boot, d 4.8) tie 1:1, the nearest one's class wins.
    expect(pred).toEqual(['sneaker', 'boot', 'bag', 'sneaker']);
    expect(Array.from(await knn.predictProba(q))).toEqual([0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0.5, 0.5]);
    expect(await knn.score(q, ['sneaker', 'boot', 'boot', 'nothing'])).toBe(0.5);
    expect(await knn.score(q, ['sneaker', 'boot', 'boot', 'nothing'])).toBe(
      accuracy(['sneaker', 'boot', 'boot', 'nothing'] as unknown as number[], pred as unknown as number[]),
    );
    await knn.dispose();
    // Sparse integer labels come back as given too, in an Int32Array.
    const sparse = new KnnClassifier({ k: 1 }).fit(x, [7, 7, 3, 3, 1000, 1000]);
    expect(sparse.classes).toEqual([3, 7, 1000]);
    expect(Array.from(await sparse.predict(q))).toEqual([7, 3, 1000, 7]);
    await sparse.dispose();
  });

  it('per-call options are checked (BAD_OPTION)', async () => {
    const knn = new KnnClassifier().fit(train, labels);
    await expectRejects(knn.predict(train, { onProgress: 3 as unknown as () => void }), 'BAD_OPTION');
    await expectRejects(knn.predict(train, { verbose: true } as never), 'BAD_OPTION');
    await expectRejects(knn.predictProba(train, 'fast' as never), 'BAD_OPTION');
    await expectRejects(knn.kneighbors(train, { k: 0 }), 'BAD_OPTION');
    await expectRejects(knn.kneighbors(train, { k: 21 }), 'BAD_OPTION');
    await expectRejects(knn.kneighbors(train, { k: 2, verbose: true } as never), 'BAD_OPTION');
    await expectRejects(knn.kneighbors(train, 'k=2' as never), 'BAD_OPTION');
    await expectRejects(knn.score(train, randomLabels(3, 2, 1)), 'COUNT_MISMATCH');
    await knn.dispose();
  });

  it('score agrees with accuracy() on every input, empty and mismatched included', async () => {
    const knn = new KnnClassifier({ k: 3 }).fit(train, labels);
    const pred = await knn.predict(train);
    const outcome = async (f: () => Promise<number> | number) => {
      try {
        return { value: await f() };
      } catch (e) {
        return { code: (e as FashionMnistError).code };
      }
    };
    const cases: [Float32Array, ArrayLike<number>, ArrayLike<number>][] = [
      [train, labels, pred],
      [train, Array.from(pred), pred],
      [train, Array.from(pred, (p) => p + 0.5), pred], // labels that are not classes simply never match
      [train.subarray(0, 4 * 4), Array.from(labels).slice(0, 4), pred.subarray(0, 4)],
      [new Float32Array(0), [], new Int32Array(0)],
      [train, [], pred],
      [train.subarray(0, 8), [1, 2, 3], pred.subarray(0, 2)],
    ];
    for (const [x, y, p] of cases) {
      const got = await outcome(() => knn.score(x, y));
      expect(got).toEqual(await outcome(() => accuracy(y, p)));
    }
    expect(await outcome(() => knn.score(new Float32Array(0), []))).toEqual({ code: 'BAD_INPUT' });
    expect(await outcome(() => knn.score(train, [0]))).toEqual({ code: 'COUNT_MISMATCH' });
    // Tensors: the same numbers as arrays, one-hot decoded.
    const yt = tf.oneHot(tf.tensor1d(labels, 'int32'), 2);
    expect(await knn.score(tf.tensor2d(train, [20, 4]), yt)).toBe(accuracy(labels, pred));
    tf.dispose(yt);
    await knn.dispose();
  });
});

describe('KnnClassifier without a backend', () => {
  it('fit on float features (and distanceMatrix) say NO_BACKEND with no tfjs backend; pixels need none (child process)', () => {
    // A process of its own: this one has the test backends registered, and the engine is a global.
    const script = fileURLToPath(new URL('./fixtures/no-backend.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '')).toEqual({
      fit: 'NO_BACKEND',
      pixels: '1,0',
      distanceMatrix: 'NO_BACKEND',
    });
  });
});
