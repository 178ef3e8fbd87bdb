// The k-NN search on the exact uint8 WebAssembly kernel: `wasmSearch` (calling thread) and `knnWorkerPool`'s
// `kernel: 'auto'` (worker threads over shared memory). Both must give the default (tfjs, cpu backend) search's
// neighbours, distances and predictions bit for bit, ties included; fall back to the tfjs path where the
// kernel does not apply (cosine, float features, a float query); keep addExample's tail merge working; free
// what they hold; and report ABORTED when disposed during a search.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDevKnnWorker } from '../../scripts/dev-knn-worker.js';
import { DEBIAN_DIR, loadFashionMnist } from '../../src/data/node.js';
import { FashionMnistError } from '../../src/errors.js';
import { KnnClassifier, type KnnSearch, wasmSearch } from '../../src/knn/index.js';
import { tfjsSearch } from '../../src/knn/search.js';
import { KernelIndex, kernelApplies } from '../../src/knn/wasm-search.js';
import { knnWorkerPool } from '../../src/knn/worker-pool-node.js';
import { useBackend } from '../helpers/backends.js';
import { naiveNeighbours, naiveVote, randomLabels, randomRows } from './reference.js';

function idx(name: string): Uint8Array {
  const b = gunzipSync(readFileSync(join(__dirname, '..', '..', 'data', 'sample', name)));
  const nd = b[3];
  return new Uint8Array(b.buffer, b.byteOffset + 4 + 4 * nd, b.length - 4 - 4 * nd);
}

async function expectRejects(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(
    () => new Error(`expected a FashionMnistError ${code}, but it resolved`),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(FashionMnistError);
  expect((e as FashionMnistError).code).toBe(code);
}

/** Spies on which index a strategy builds: the name of the strategy whose `index` ran last. */
function spy(search: KnnSearch): { search: KnnSearch; built: string[] } {
  const built: string[] = [];
  return {
    built,
    search: {
      name: search.name,
      index(train, metric, where) {
        const index = search.index(train, metric, where);
        built.push(index.constructor.name);
        return index;
      },
    },
  };
}

// Binary-ish pixels (0 or 255 and a few values between) make many equal distances: the tie rule is exercised.
const [n, m, dims] = [500, 70, 49];
const coarse = (seed: number, rows: number) =>
  Uint8Array.from(randomRows(rows, dims, seed, 0, 3, true), (v) => (v === 2 ? 255 : v * 128));
const train = coarse(301, n);
const query = coarse(302, m);
const labels = randomLabels(n, 4, 303);

describe('wasmSearch and knnWorkerPool on the uint8 kernel', () => {
  let worker: Awaited<ReturnType<typeof buildDevKnnWorker>>;
  beforeAll(async () => {
    await useBackend('cpu');
    worker = await buildDevKnnWorker();
  });
  afterAll(() => worker?.remove());

  it('the kernel applies on this engine to uint8 euclidean rows only', () => {
    expect(kernelApplies({ values: train, rows: n, dims }, 'euclidean')).toBe(true);
    expect(kernelApplies({ values: train, rows: n, dims }, 'cosine')).toBe(false);
    expect(kernelApplies({ values: new Float32Array(dims), rows: 1, dims }, 'euclidean')).toBe(false);
  });

  const strategies = (): [string, KnnSearch][] => [
    ['wasmSearch', wasmSearch],
    ['knnWorkerPool (kernel)', knnWorkerPool({ workers: 2, workerUrl: worker.url })],
  ];

  it('same neighbours, distances, predictions and probabilities as the tfjs search, ties included', async () => {
    const ref = naiveNeighbours(train, query, dims, 9);
    let ties = 0;
    for (let q = 0; q < m; q++)
      for (let t = 1; t < 9; t++) if (ref.distances[q * 9 + t] === ref.distances[q * 9 + t - 1]) ties++;
    expect(ties).toBeGreaterThan(20);
    const base = new KnnClassifier({ k: 5, search: tfjsSearch }).fit(train, labels);
    const want = {
      nb: await base.kneighbors(query, { k: 9 }),
      pred: await base.predict(query),
      proba: Array.from(await base.predictProba(query)),
      score: await base.score(query, labels.subarray(0, m)),
    };
    await base.dispose();
    expect(Array.from(want.nb.indices)).toEqual(Array.from(ref.indices));
    expect(Array.from(want.pred)).toEqual(
      Array.from(naiveVote(naiveNeighbours(train, query, dims, 5), labels, 5, 4).pred),
    );
    for (const [name, search] of strategies()) {
      const s = spy(search);
      const knn = new KnnClassifier({ k: 5, batchSize: 16, search: s.search }).fit(train, labels);
      const progress: number[] = [];
      const nb = await knn.kneighbors(query, { k: 9, onProgress: (p) => progress.push(p.rowsDone) });
      expect(s.built, name).toEqual(['KernelIndex']);
      expect(Array.from(nb.indices), name).toEqual(Array.from(want.nb.indices));
      expect(Array.from(nb.distances), name).toEqual(Array.from(want.nb.distances));
      expect(progress, name).toEqual([16, 32, 48, 64, 70]);
      expect(Array.from(await knn.predict(query)), name).toEqual(Array.from(want.pred));
      expect(Array.from(await knn.predictProba(query)), name).toEqual(want.proba);
      expect(await knn.score(query, labels.subarray(0, m)), name).toBe(want.score);
      expect(knn.lastStats, name).toMatchObject({ batchSize: 16, chunks: 5, rescued: 0 });
      await knn.dispose();
    }
  });

  it('same neighbours as the tfjs search on real images (data/sample: 1,500 × 100, k = 7, 28 × 28 patches)', async () => {
    const x = idx('train-images-idx3-ubyte.gz').slice(0, 1500 * 784);
    const y = idx('train-labels-idx1-ubyte.gz').slice(0, 1500);
    const q = idx('t10k-images-idx3-ubyte.gz').slice(0, 100 * 784);
    const base = new KnnClassifier({ k: 7, search: tfjsSearch }).fit(x, y);
    const want = await base.kneighbors(q);
    const wantPred = await base.predict(q);
    await base.dispose();
    for (const [name, search] of strategies()) {
      const knn = new KnnClassifier({ k: 7, search }).fit(x, y);
      const got = await knn.kneighbors(q);
      expect(Array.from(got.indices), name).toEqual(Array.from(want.indices));
      expect(Array.from(got.distances), name).toEqual(Array.from(want.distances));
      expect(Array.from(await knn.predict(q)), name).toEqual(Array.from(wantPred));
      await knn.dispose();
    }
  });

  it('falls back to the tfjs path for cosine, float features and a float query; same answers', async () => {
    const floats = randomRows(200, dims, 304);
    const fq = randomRows(30, dims, 305);
    const cases: [string, Float32Array | Uint8Array, Float32Array | Uint8Array, 'euclidean' | 'cosine'][] = [
      ['cosine', train, query, 'cosine'],
      ['float features', floats, fq, 'euclidean'],
      ['float query on uint8 rows', train, Float32Array.from(query, (v) => v + 0.5), 'euclidean'],
    ];
    for (const [what, x, q, metric] of cases) {
      const y = labels.subarray(0, x.length / dims);
      const base = new KnnClassifier({ k: 3, metric, search: tfjsSearch }).fit(x, y);
      const want = await base.kneighbors(q);
      const wantPred = await base.predict(q);
      await base.dispose();
      for (const [name, search] of strategies()) {
        const s = spy(search);
        const knn = new KnnClassifier({ k: 3, metric, search: s.search }).fit(x, y);
        const got = await knn.kneighbors(q);
        expect(Array.from(got.indices), `${what} ${name}`).toEqual(Array.from(want.indices));
        expect(Array.from(got.distances), `${what} ${name}`).toEqual(Array.from(want.distances));
        expect(Array.from(await knn.predict(q)), `${what} ${name}`).toEqual(Array.from(wantPred));
        expect(s.built[0], `${what} ${name}`).toBe(
          what === 'float query on uint8 rows'
            ? 'KernelIndex'
            : name === 'wasmSearch'
              ? 'TfjsIndex'
              : 'WorkerPoolIndex',
        );
        await knn.dispose();
      }
    }
  });

  it('examples added one at a time are merged exactly (the tail), and a rebuild keeps the answers', async () => {
    const ref = naiveNeighbours(train, query, dims, 5);
    for (const [name, search] of strategies()) {
      const knn = new KnnClassifier({ k: 5, search }).fit(
        train.subarray(0, 450 * dims),
        labels.subarray(0, 450),
      );
      await knn.predict(query.subarray(0, dims)); // builds the index over 450 rows
      for (let i = 450; i < n; i++) knn.addExample(train.subarray(i * dims, (i + 1) * dims), labels[i]);
      const tail = await knn.kneighbors(query.subarray(0, 3 * dims)); // 3 × 50 < 4 × 500: tail searched beside
      expect(Array.from(tail.indices), name).toEqual(Array.from(ref.indices.subarray(0, 15)));
      const all = await knn.kneighbors(query); // rebuilt
      expect(Array.from(all.indices), name).toEqual(Array.from(ref.indices));
      expect(Array.from(all.distances), name).toEqual(
        Array.from(ref.distances, (d) => Math.fround(Math.sqrt(d))),
      );
      await knn.dispose();
    }
  });

  it('no tensors left on success and on failure; ABORTED when disposed during a search; DISPOSED after', async () => {
    for (const [name, search] of strategies()) {
      const before = tf.memory().numTensors;
      const knn = new KnnClassifier({ k: 5, batchSize: 1, search }).fit(train, labels);
      await knn.predict(query);
      await knn.predictProba(query);
      await expect(knn.predict(new Uint8Array(dims + 1))).rejects.toThrow(FashionMnistError);
      expect(tf.memory().numTensors, name).toBe(before);
      const running = expectRejects(knn.predict(query), 'ABORTED');
      await knn.dispose();
      await running;
      await expectRejects(knn.predict(query), 'DISPOSED');
      expect(tf.memory().numTensors, name).toBe(before);
    }
  });

  it("knnWorkerPool({ kernel: 'tfjs' }) keeps the tfjs engines; a bad value is BAD_OPTION", async () => {
    const s = spy(knnWorkerPool({ workers: 1, backend: 'cpu', kernel: 'tfjs', workerUrl: worker.url }));
    const knn = new KnnClassifier({ k: 3, search: s.search }).fit(train, labels);
    const want = naiveNeighbours(train, query, dims, 3);
    expect(Array.from((await knn.kneighbors(query)).indices)).toEqual(Array.from(want.indices));
    expect(s.built).toEqual(['WorkerPoolIndex']);
    await knn.dispose();
    expect(() => knnWorkerPool({ kernel: 'fast' as 'auto' })).toThrow(/kernel/);
  });
});

describe('KernelIndex (over a stand-in kernel)', () => {
  it('frees the kernel once on dispose, after the chunk in flight; that search and later ones are ABORTED', async () => {
    let disposed = 0;
    let release: () => void = () => undefined;
    const calls: number[] = [];
    const runner = {
      setTrain: () => undefined,
      search: (q: Uint8Array, k: number) => {
        calls.push(q.length);
        return new Promise<{ indices: Int32Array; distances: Int32Array; rows: number; k: number }>(
          (resolve) => {
            release = () => resolve({ indices: new Int32Array(k), distances: new Int32Array(k), rows: 1, k });
          },
        );
      },
      dispose: () => {
        disposed++;
      },
    };
    const rows = { values: new Uint8Array(8), rows: 4, dims: 2 };
    const index = new KernelIndex(runner, rows, 'euclidean', () => {
      throw new Error('no fallback expected');
    });
    const query = { values: new Uint8Array(4), rows: 2, dims: 2 };
    const running = expectRejects(index.search({ where: 'test', query, k: 1, batchSize: 1 }), 'ABORTED');
    await new Promise((r) => setTimeout(r, 0));
    expect(calls).toEqual([2]);
    const gone = index.dispose();
    expect(disposed).toBe(0); // the chunk in flight still uses the kernel
    release();
    await gone;
    await running;
    expect(disposed).toBe(1);
    expect(calls).toEqual([2]); // the second chunk never ran
    await index.dispose();
    expect(disposed).toBe(1);
    await expectRejects(index.search({ where: 'test', query, k: 1, batchSize: 1 }), 'ABORTED');
  });
});

const present = existsSync(`${DEBIAN_DIR}/train-images-idx3-ubyte.gz`);
describe.skipIf(!present)('the uint8 kernel on the real Fashion-MNIST', () => {
  it('gets exactly 856 of the first 1,000 test images right, on the calling thread and on 2 threads', async () => {
    const data = await loadFashionMnist({ dir: DEBIAN_DIR });
    const x = data.test.images.subarray(0, 1000 * 784);
    const preds: Int32Array[] = [];
    for (const search of [wasmSearch, knnWorkerPool({ workers: 2 })]) {
      const knn = new KnnClassifier({ k: 5, search }).fit(data.train.images, data.train.labels);
      try {
        preds.push(await knn.predict(x));
      } finally {
        await knn.dispose();
      }
    }
    let hits = 0;
    for (let i = 0; i < 1000; i++) if (preds[0][i] === data.test.labels[i]) hits++;
    expect(hits).toBe(856);
    expect(Array.from(preds[1])).toEqual(Array.from(preds[0]));
  }, 300_000);
});
