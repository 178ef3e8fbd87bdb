// Examples added one at a time: the same results as fit on the same data, amortised cost (counted: values copied
// by growth, rows indexed by the search strategy), clearClass, classCounts, predictClass, no leaks.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FashionMnist } from '../../src/data/assemble.js';
import { loadSample } from '../../src/data/node.js';
import { FashionMnistError } from '../../src/errors.js';
import { KnnClassifier, type KnnSearch } from '../../src/knn/index.js';
import { tfjsSearch } from '../../src/knn/search.js';
import { TrainingSet } from '../../src/knn/training-set.js';
import { BACKENDS, useBackend } from '../helpers/backends.js';
import { randomLabels, randomRows } from './reference.js';

/** tfjsSearch, counting what it is asked to index. */
function countingSearch(): KnnSearch & { builds: number; rowsIndexed: number } {
  const s = {
    name: 'counting',
    builds: 0,
    rowsIndexed: 0,
    index(train: Parameters<KnnSearch['index']>[0], metric: 'euclidean' | 'cosine', where: string) {
      s.builds++;
      s.rowsIndexed += train.rows;
      return tfjsSearch.index(train, metric, where);
    },
  };
  return s;
}

async function codeOf(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (e) {
    if (e instanceof FashionMnistError) return e.code;
    throw e;
  }
  return 'OK';
}

let data: FashionMnist;
beforeAll(async () => {
  data = await loadSample();
});

const row = (images: Uint8Array, i: number) => images.subarray(i * 784, (i + 1) * 784);

describe('TrainingSet growth', () => {
  it('appending rows one at a time copies O(1) values per value appended, whatever the size', () => {
    const perValue = (n: number, dims: number) => {
      const set = new TrainingSet(dims);
      const one = new Uint8Array(dims);
      for (let i = 0; i < n; i++) set.append({ values: one, rows: 1, dims }, set.classify('t', [i % 3]));
      expect(set.rows).toBe(n);
      return set.copied / (n * (dims + 1));
    };
    const small = perValue(1000, 784);
    const large = perValue(16_000, 16);
    // Capacity doubling: every value is copied at most about twice in total, at any size.
    expect(small).toBeLessThanOrEqual(2);
    expect(large).toBeLessThanOrEqual(2);
    // Without doubling (a copy per append) this would be about n / 2.
    expect(perValue(4000, 8)).toBeLessThanOrEqual(2);
  });
});

for (const backend of BACKENDS) {
  describe(`adding examples on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it('1,000 examples added one at a time, each followed by a prediction, equal fit() on the same data; the index is rebuilt O(log n) times', async () => {
      const n = 1000;
      const x = data.train.images.subarray(0, n * 784);
      const y = data.train.labels.subarray(0, n);
      const q = data.test.images.subarray(0, 100 * 784);
      const search = countingSearch();
      const knn = new KnnClassifier({ k: 5, search });
      const firstQuery = row(data.test.images, 0);
      for (let i = 0; i < n; i++) {
        knn.addExample(row(x, i), y[i]);
        // The webcam pattern: predict after every added example (with all examples voting while fewer than k).
        await knn.predictClass(firstQuery);
      }
      // Rebuilds only when the rows added since the last one are as many as those indexed: about log2(n).
      expect(search.builds).toBeLessThanOrEqual(Math.ceil(Math.log2(n)) + 2);
      // Rows uploaded in total: a geometric sum, under 2n + small change — not n² / 2 (a rebuild per example).
      expect(search.rowsIndexed).toBeLessThanOrEqual(2 * n + 64);
      const fitted = new KnnClassifier({ k: 5 }).fit(x, y);
      expect(Array.from(await knn.predict(q))).toEqual(Array.from(await fitted.predict(q)));
      expect(Array.from(await knn.predictProba(q))).toEqual(Array.from(await fitted.predictProba(q)));
      const a = await knn.kneighbors(q);
      const b = await fitted.kneighbors(q);
      expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
      expect(Array.from(a.distances)).toEqual(Array.from(b.distances));
      expect(knn.classes).toEqual(fitted.classes);
      expect(knn.numSamples).toBe(n);
      await Promise.all([knn.dispose(), fitted.dispose()]);
    });

    it('examples not yet indexed are searched exactly beside the index (cosine, float, ties)', async () => {
      // Values 0..2: many exactly equal distances, so the merge must order ties by index as a fresh index does.
      const [n, dims] = [300, 6];
      const train = randomRows(n, dims, 11, 0, 3, true);
      const floats = randomRows(n, dims, 12);
      const labels = randomLabels(n, 4, 13);
      for (const [values, metric] of [
        [train, 'euclidean'],
        [floats, 'cosine'],
        [floats, 'euclidean'],
      ] as const) {
        const query = values.subarray(0, 10 * dims);
        const search = countingSearch();
        const knn = new KnnClassifier({ k: 7, metric, search }).fit(
          values.subarray(0, 200 * dims),
          labels.subarray(0, 200),
        );
        for (let i = 200; i < n; i++) knn.addExample(values.subarray(i * dims, (i + 1) * dims), labels[i]);
        // One query row at a time: 100 new rows against 200 indexed stay outside the index.
        const got: number[][] = [];
        for (let r = 0; r < 10; r++) {
          const nb = await knn.kneighbors(query.subarray(r * dims, (r + 1) * dims));
          got.push([...Array.from(nb.indices), ...Array.from(nb.distances)]);
        }
        expect(search.builds).toBe(1);
        const fresh = new KnnClassifier({ k: 7, metric }).fit(values, labels);
        for (let r = 0; r < 10; r++) {
          const nb = await fresh.kneighbors(query.subarray(r * dims, (r + 1) * dims));
          expect(got[r]).toEqual([...Array.from(nb.indices), ...Array.from(nb.distances)]);
        }
        await Promise.all([knn.dispose(), fresh.dispose()]);
      }
    });

    it('addExamples, uint8 widened to float32, tensors of any shape, string labels: all equal fit()', async () => {
      const names = ['top', 'bag', 'boot'];
      const px = randomRows(40, 16, 21, 0, 256, true);
      const fl = randomRows(40, 16, 22);
      const labels = Array.from(randomLabels(80, 3, 23), (c) => names[c]);
      const knn = new KnnClassifier<string>({ k: 3 });
      knn.addExamples(Uint8Array.from(px.subarray(0, 20 * 16)), labels.slice(0, 20));
      const t = tf.tensor(px.subarray(20 * 16, 21 * 16), [4, 4, 1]);
      knn.addExample(t, labels[20]); // any shape: its 16 values are one example
      t.dispose();
      knn.addExamples(tf.tensor2d(px.subarray(21 * 16), [19, 16]), labels.slice(21, 40));
      knn.addExamples(fl, labels.slice(40)); // float rows: the stored matrix becomes float32
      const all = new Float32Array(80 * 16);
      all.set(px);
      all.set(fl, 40 * 16);
      const fitted = new KnnClassifier<string>({ k: 3 }).fit(all, labels);
      const q = randomRows(30, 16, 24, 0, 256);
      expect(await knn.predict(q)).toEqual(await fitted.predict(q));
      expect(Array.from(await knn.predictProba(q))).toEqual(Array.from(await fitted.predictProba(q)));
      expect(knn.classes).toEqual(['bag', 'boot', 'top']);
      expect(knn.classCounts()).toEqual(fitted.classCounts());
      expect(knn.toBytes()).toEqual(fitted.toBytes()); // the same file, byte for byte
      await Promise.all([knn.dispose(), fitted.dispose()]);
    });

    it('clearClass removes a class and its examples (equal to fit on the rest); clearing all empties it', async () => {
      const [n, dims] = [120, 10];
      const x = randomRows(n, dims, 31, 0, 256, true);
      const y = Array.from(randomLabels(n, 4, 32), (c) => c * 10);
      const knn = new KnnClassifier({ k: 3 }).fit(x, y);
      await knn.predict(x.subarray(0, dims)); // an index exists
      expect([...knn.classCounts().keys()]).toEqual([0, 10, 20, 30]);
      knn.clearClass(10);
      const keep = y.map((v, i) => (v === 10 ? -1 : i)).filter((i) => i >= 0);
      const xs = new Uint8Array(keep.length * dims);
      for (const [at, i] of keep.entries()) xs.set(x.subarray(i * dims, (i + 1) * dims), at * dims);
      const rest = new KnnClassifier({ k: 3 }).fit(
        xs,
        keep.map((i) => y[i]),
      );
      const q = randomRows(25, dims, 33, 0, 256, true);
      expect(Array.from(await knn.predict(q))).toEqual(Array.from(await rest.predict(q)));
      expect(knn.classes).toEqual([0, 20, 30]);
      expect(knn.classCounts()).toEqual(rest.classCounts());
      expect(await codeOf(() => knn.clearClass(10))).toBe('BAD_LABEL');
      expect(await codeOf(() => knn.clearClass('10' as never))).toBe('BAD_LABEL');
      for (const c of [...knn.classes]) knn.clearClass(c);
      expect(knn.isFitted).toBe(false);
      expect(knn.classCounts()).toEqual(new Map());
      expect(await codeOf(() => knn.predict(q))).toBe('NOT_FITTED');
      // …and it can grow again.
      knn.addExample(x.subarray(0, dims), 7);
      expect(knn.classes).toEqual([7]);
      await Promise.all([knn.dispose(), rest.dispose()]);
    });

    it('fewer examples than k: predict is BAD_OPTION naming the count, predictClass lets all of them vote', async () => {
      const knn = new KnnClassifier<string>({ k: 5 });
      knn.addExample(Float32Array.from([0, 0]), 'a');
      knn.addExample(Float32Array.from([1, 1]), 'b');
      knn.addExample(Float32Array.from([0.1, 0]), 'a');
      const e = await knn.predict(Float32Array.from([0, 0])).catch((err: unknown) => err);
      expect((e as FashionMnistError).code).toBe('BAD_OPTION');
      expect((e as FashionMnistError).message).toContain('holds 3 examples');
      const r = await knn.predictClass(Float32Array.from([0, 0]));
      expect(r).toEqual({
        label: 'a',
        classIndex: 0,
        confidences: new Map([
          ['a', 2 / 3],
          ['b', 1 / 3],
        ]),
      });
      expect((await knn.predictClass(Float32Array.from([1, 1]), { k: 1 })).label).toBe('b');
      await knn.dispose();
    });

    it('a search running while examples are added finishes on the data it started with', async () => {
      const x = randomRows(200, 8, 41);
      const y = randomLabels(200, 3, 42);
      const knn = new KnnClassifier({ k: 3, batchSize: 1 }).fit(x.subarray(0, 100 * 8), y.subarray(0, 100));
      const before = await knn.predict(x);
      let next: Promise<Int32Array> | undefined;
      const running = knn.predict(x, {
        onProgress: (p) => {
          if (p.done !== 1) return;
          knn.addExamples(x.subarray(100 * 8), y.subarray(100));
          next = knn.predict(x.subarray(0, 8 * 150)); // 150 × 100 ≥ 200: rebuilds the index meanwhile
        },
      });
      expect(Array.from(await running)).toEqual(Array.from(before));
      const all = new KnnClassifier({ k: 3 }).fit(x, y);
      expect(Array.from((await next) ?? [])).toEqual(Array.from((await all.predict(x)).subarray(0, 150)));
      await Promise.all([knn.dispose(), all.dispose()]);
    });

    it('dispose() also stops a search still running on an index replaced after examples were added', async () => {
      const x = randomRows(200, 8, 43);
      const y = randomLabels(200, 3, 44);
      const before = tf.memory().numTensors;
      const knn = new KnnClassifier({ k: 3, batchSize: 1 }).fit(x.subarray(0, 100 * 8), y.subarray(0, 100));
      let other: Promise<unknown> | undefined;
      let disposing: Promise<void> | undefined;
      const running = knn.predict(x, {
        onProgress: (p) => {
          if (p.done === 1) {
            knn.addExamples(x.subarray(100 * 8), y.subarray(100));
            other = knn.predict(x).catch((e: unknown) => e); // builds a new index; the old one is retired
          }
          if (p.done === 3) disposing = knn.dispose();
        },
      });
      await expect(running).rejects.toMatchObject({ code: 'ABORTED' });
      await other;
      await disposing;
      expect(tf.memory().numTensors).toBe(before);
    });

    it('no tensors are left by adding, clearing and predictClass, on success and on failure', async () => {
      const x = randomRows(60, 5, 51);
      const y = randomLabels(60, 3, 52);
      const before = tf.memory().numTensors;
      const knn = new KnnClassifier({ k: 3 });
      for (let i = 0; i < 30; i++) knn.addExample(x.subarray(i * 5, (i + 1) * 5), y[i]);
      await knn.predict(x);
      const owned = tf.memory().numTensors;
      expect(owned).toBe(before + 1); // the index's matrix
      const t = tf.tensor2d(x.subarray(150), [30, 5]);
      knn.addExamples(t, y.subarray(30));
      const one = tf.tidy(() => tf.reshape(tf.slice(t, [0, 0], [1, 5]), [5]));
      await knn.predictClass(one);
      one.dispose();
      await knn.predict(x);
      knn.clearClass(y[0]);
      await knn.predictClass(x.subarray(0, 5));
      const failures: (() => unknown)[] = [
        () => knn.addExample(Float32Array.from([1, 2]), 1),
        () => knn.addExample(x.subarray(0, 5), 'one' as never),
        () => knn.addExample(x.subarray(0, 5), 0.5),
        () => knn.addExamples(t, [1]),
        () => knn.predictClass(Float32Array.from([1, 2, 3])),
        () => knn.predictClass(x.subarray(0, 5), { k: 0 }),
        () => knn.predictClass(x.subarray(0, 5), { ties: 'x' } as never),
        () => knn.clearClass(99),
      ];
      for (const f of failures) expect(await codeOf(f)).not.toBe('OK');
      t.dispose();
      // One index at a time: each one replaced was disposed as soon as no search used it.
      expect(tf.memory().numTensors).toBe(owned);
      await knn.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}

describe('adding examples: errors', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('a wrong feature size is BAD_SHAPE, a label of another kind BAD_LABEL, after dispose DISPOSED', async () => {
    const knn = new KnnClassifier({ k: 1 });
    knn.addExample(Float32Array.from([1, 2, 3]), 1);
    expect(await codeOf(() => knn.addExample(Float32Array.from([1, 2]), 1))).toBe('BAD_SHAPE');
    expect(await codeOf(() => knn.addExamples(Float32Array.from([1, 2, 3, 4]), [1, 1]))).toBe('BAD_SHAPE');
    expect(await codeOf(() => knn.addExample(Float32Array.from([1, 2, 3]), 'x' as never))).toBe('BAD_LABEL');
    expect(await codeOf(() => knn.addExample(new Float32Array(0), 1))).not.toBe('OK');
    expect(await codeOf(() => knn.addExample([1, 2, 3] as never, 1))).toBe('BAD_INPUT');
    expect(knn.numSamples).toBe(1); // nothing half-added
    await knn.dispose();
    expect(await codeOf(() => knn.addExample(Float32Array.from([1, 2, 3]), 1))).toBe('DISPOSED');
    expect(await codeOf(() => knn.classCounts())).toBe('DISPOSED');
    expect(await codeOf(() => knn.clearClass(1))).toBe('DISPOSED');
  });

  it('fit after addExample replaces everything', async () => {
    const knn = new KnnClassifier({ k: 1 });
    knn.addExample(Float32Array.from([1, 2]), 5);
    knn.fit(Float32Array.from([0, 0, 9, 9]), [1, 2]);
    expect(knn.classes).toEqual([1, 2]);
    expect(knn.numSamples).toBe(2);
    await knn.dispose();
  });
});
