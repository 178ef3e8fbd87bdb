// knnWorkerPool (Node worker threads) as KnnClassifier's search strategy: the same answers as the naive
// reference and as the default search, for any worker count and backend, plus its own failures and shutdown.
//
// The workers start from a bundle of src/knn/knn-worker.ts built once for this file (scripts/dev-knn-worker.ts),
// as the package starts dist/knn-worker.js: never through a TypeScript loader.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDevKnnWorker } from '../../scripts/dev-knn-worker.js';
import { FashionMnistError } from '../../src/errors.js';
import { KnnClassifier } from '../../src/knn/index.js';
import { type KnnWorkerPoolOptions, knnWorkerPool } from '../../src/knn/worker-pool-node.js';
import { useBackend } from '../helpers/backends.js';
import { naiveNeighbours, naiveVote, randomLabels, randomRows } from './reference.js';

const [n, m, dims] = [400, 90, 30];
const train = randomRows(n, dims, 201, 0, 256, true);
const query = randomRows(m, dims, 202, 0, 256, true);
const labels = randomLabels(n, 5, 203);
const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);

async function expectRejects(p: Promise<unknown>, code: string): Promise<FashionMnistError> {
  const e = await p.then(
    () => {
      throw new Error(`expected a FashionMnistError ${code}, but it resolved`);
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(FashionMnistError);
  expect((e as FashionMnistError).code).toBe(code);
  return e as FashionMnistError;
}

describe('KnnClassifier with knnWorkerPool', () => {
  let worker: Awaited<ReturnType<typeof buildDevKnnWorker>>;
  const classifiers: KnnClassifier[] = [];
  const pool = (options: Partial<KnnWorkerPoolOptions> = {}) =>
    knnWorkerPool({ workerUrl: worker.url, ...options });
  const make = (...args: ConstructorParameters<typeof KnnClassifier>) => {
    const knn = new KnnClassifier(...args);
    classifiers.push(knn);
    return knn;
  };

  beforeAll(async () => {
    await useBackend('cpu');
    worker = await buildDevKnnWorker();
  });
  afterAll(async () => {
    await Promise.all(classifiers.map((c) => c.dispose()));
    worker?.remove();
  });

  it('examples added one at a time, saved and loaded: the same answers as fit on the default search', async () => {
    const floats = randomRows(n, dims, 204);
    const knn = make({ k: 5, search: pool({ workers: 2 }) }).fit(
      floats.subarray(0, 300 * dims),
      labels.subarray(0, 300),
    );
    for (let i = 300; i < n; i++) knn.addExample(floats.subarray(i * dims, (i + 1) * dims), labels[i]);
    const want = make({ k: 5 }).fit(floats, labels);
    // One query row at a time: the 100 new rows are searched beside the pool's index, not re-sent to it.
    for (let r = 0; r < 5; r++) {
      const q = query.subarray(r * dims, (r + 1) * dims);
      const a = await knn.kneighbors(q);
      const b = await want.kneighbors(q);
      expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
      expect(Array.from(a.distances)).toEqual(Array.from(b.distances));
    }
    const loaded = KnnClassifier.fromBytes(knn.toBytes(), { search: pool({ workers: 1 }) });
    classifiers.push(loaded);
    expect(Array.from(await loaded.predict(query))).toEqual(Array.from(await want.predict(query)));
  });

  for (const backend of ['wasm', 'cpu'] as const) {
    // kernel: 'tfjs' — integer rows would otherwise go to the uint8 kernel (test/knn/wasm-search.test.ts).
    it(`matches the naive reference and the default search exactly (2 workers, ${backend} in each)`, async () => {
      const k = 5;
      const knn = make({ k, batchSize: 7, search: pool({ workers: 2, backend, kernel: 'tfjs' }) }).fit(
        train,
        labels,
      );
      const progress: number[] = [];
      const nb = await knn.kneighbors(query, { onProgress: (p) => progress.push(p.done) });
      const want = naiveNeighbours(train, query, dims, k);
      expect(Array.from(nb.indices)).toEqual(Array.from(want.indices));
      expect(Array.from(nb.distances)).toEqual(Array.from(Float32Array.from(want.distances, Math.sqrt)));
      expect(progress).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
      const single = new KnnClassifier({ k }).fit(train, labels);
      expect(Array.from(await knn.predict(query))).toEqual(Array.from(await single.predict(query)));
      expect(Array.from(await knn.predictProba(query))).toEqual(Array.from(await single.predictProba(query)));
      expect(Array.from(await knn.predict(query))).toEqual(Array.from(naiveVote(want, labels, k, 5).pred));
      const truth = randomLabels(m, 5, 204);
      expect(await knn.score(query, truth)).toBe(await single.score(query, truth));
      expect(knn.lastStats?.chunks).toBe(13);
      await single.dispose();
      await knn.dispose();
      await expectRejects(knn.predict(query), 'DISPOSED');
    });
  }

  it('runs concurrent searches on one pool and refits', async () => {
    const knn = make({ k: 3, weights: 'distance', metric: 'cosine', search: pool({ workers: 2 }) });
    knn.fit(train, labels);
    const half = query.subarray(0, 45 * dims);
    const [a, b] = await Promise.all([knn.kneighbors(query), knn.kneighbors(half)]);
    expect(Array.from(b.indices)).toEqual(Array.from(a.indices.subarray(0, 45 * 3)));
    const want = naiveNeighbours(train, query, dims, 3, 'cosine');
    expect(Array.from(a.indices)).toEqual(Array.from(want.indices));
    knn.fit(query, randomLabels(m, 2, 205));
    expect(knn.numClasses).toBe(2);
    const self = await knn.kneighbors(query, { k: 1 });
    expect(Array.from(self.indices)).toEqual(Array.from({ length: m }, (_, i) => i));
    await knn.dispose();
  });

  it('a refit during a search aborts that search only', async () => {
    const knn = make({ k: 3, batchSize: 1, search: pool({ workers: 2, backend: 'cpu' }) }).fit(train, labels);
    let refit = false;
    const running = knn.predict(query, {
      onProgress: () => {
        if (!refit) {
          refit = true;
          knn.fit(train, labels);
        }
      },
    });
    await expectRejects(running, 'ABORTED');
    expect(Array.from(await knn.predict(query))).toEqual(
      Array.from(naiveVote(naiveNeighbours(train, query, dims, 3), labels, 3, 5).pred),
    );
    await knn.dispose();
  });

  it('checks its options (BAD_OPTION) and the inputs like the default search', async () => {
    for (const bad of [
      { workers: 0 },
      { workers: 65 },
      { workers: 1.5 },
      { backend: 'webgl' },
      { workerUrl: 42 },
      { threads: 2 },
    ]) {
      expect(() => knnWorkerPool(bad as Partial<KnnWorkerPoolOptions>)).toThrow(
        expect.objectContaining({ code: 'BAD_OPTION' }),
      );
    }
    expect(() => new KnnClassifier({ search: {} as never })).toThrow(
      expect.objectContaining({ code: 'BAD_OPTION' }),
    );
    expect(knnWorkerPool({ workers: 3 }).options).toMatchObject({ workers: 3, backend: 'wasm' });
    const knn = make({ k: 3, search: pool({ workers: 1 }) });
    await expectRejects(knn.predict(query), 'NOT_FITTED');
    expect(() => knn.fit(train, randomLabels(n - 1, 5, 1))).toThrow(
      expect.objectContaining({ code: 'COUNT_MISMATCH' }),
    );
    expect(() => make({ k: n + 1, search: pool() }).fit(train, labels)).toThrow(
      expect.objectContaining({ code: 'BAD_OPTION' }),
    );
    knn.fit(train, labels);
    await expectRejects(knn.predict(Float32Array.from([1, 2])), 'BAD_SHAPE');
    const nan = Float32Array.from(query);
    nan[5] = Number.NaN;
    await expectRejects(knn.predict(nan), 'BAD_INPUT');
    await expectRejects(knn.score(query, []), 'COUNT_MISMATCH');
    await knn.dispose();
  });

  it('dispose() during a search rejects it with ABORTED and returns; later calls say DISPOSED', async () => {
    const knn = make({ k: 3, batchSize: 1, search: pool({ workers: 2, backend: 'cpu' }) }).fit(train, labels);
    let disposing: Promise<void> | undefined;
    const running = knn.predict(query, {
      onProgress: () => {
        disposing ??= knn.dispose();
      },
    });
    await expectRejects(running, 'ABORTED');
    await expect(disposing).resolves.toBeUndefined();
    expect(knn.isDisposed).toBe(true);
    await expectRejects(knn.predict(query), 'DISPOSED');
    expect(() => knn.fit(train, labels)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    await knn.dispose(); // twice is fine
  });

  it('dispose() while the threads are still starting aborts the waiting search', async () => {
    const knn = make({ k: 3, search: pool({ workers: 2, backend: 'cpu' }) }).fit(train, labels);
    const waiting = knn.predict(query);
    const disposing = knn.dispose();
    await expectRejects(waiting, 'ABORTED');
    await disposing;
  });

  it('dispose() during a search keeps the process alive until it returns (child process)', () => {
    // Issue 11, item 1: the process used to exit with code 0 inside `await dispose()`, before it returned.
    const script = fileURLToPath(fixture('dispose-during-predict.ts'));
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, worker.url.href], {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.stdout.trim().split('\n')).toEqual([
      'predict rejected ABORTED',
      'dispose returned',
      'after dispose: disposed',
    ]);
    expect(r.status).toBe(0);
  });

  // The fixtures are tfjs workers: kernel 'tfjs' keeps the integer rows on them.
  it('a worker that crashes during a search: WORKER_FAILED with the cause, for every later call too', async () => {
    const knn = make({
      k: 3,
      search: knnWorkerPool({ workers: 2, workerUrl: fixture('crash-on-search.mjs'), kernel: 'tfjs' }),
    });
    knn.fit(train, labels);
    const e = await expectRejects(knn.predict(query), 'WORKER_FAILED');
    expect(e.cause).toBeInstanceOf(RangeError);
    expect((e.cause as Error).message).toBe('simulated crash in the worker');
    expect(e.message).toMatch(/^KnnClassifier\.predict: /);
    // The pool is stopped, not left to hang the next call.
    await expectRejects(knn.kneighbors(query), 'WORKER_FAILED');
    await knn.dispose();
  });

  it('a worker thread that exits: WORKER_FAILED naming the exit code', async () => {
    const knn = make({
      k: 3,
      search: knnWorkerPool({ workers: 1, workerUrl: fixture('exit-on-search.mjs'), kernel: 'tfjs' }),
    });
    knn.fit(train, labels);
    const e = await expectRejects(knn.predict(query), 'WORKER_FAILED');
    expect(e.message).toMatch(/exit code 3/);
    await knn.dispose();
  });

  it('a worker that cannot start: WORKER_FAILED at the first search, with the cause', async () => {
    const missing = make({
      search: knnWorkerPool({ workers: 1, workerUrl: fixture('no-such-worker.mjs'), kernel: 'tfjs' }),
    }).fit(train, labels);
    const e = await expectRejects(missing.predict(query), 'WORKER_FAILED');
    expect(e.cause).toBeInstanceOf(Error);
    await missing.dispose();
    const failing = make({
      search: knnWorkerPool({ workers: 2, workerUrl: fixture('fail-start.mjs'), kernel: 'tfjs' }),
    }).fit(train, labels);
    const f = await expectRejects(failing.predict(query), 'WORKER_FAILED');
    expect(f.message).toMatch(/failed to initialise/);
    expect(f.cause).toMatchObject({ code: 'NO_BACKEND' });
    await failing.dispose();
    // From the sources with no workerUrl, the default is the dev build of the worker (scripts/build-dev-worker.mjs,
    // made by npm ci and the test suite's global setup): it runs, and agrees with the in-thread search.
    const fromSources = make({ search: knnWorkerPool({ workers: 1, backend: 'cpu' }) }).fit(train, labels);
    const inThread = make({}).fit(train, labels);
    expect(Array.from(await fromSources.predict(query))).toEqual(Array.from(await inThread.predict(query)));
    await fromSources.dispose();
    await inThread.dispose();
    // A URL Node refuses outright fails at fit, with nothing left running.
    expect(() =>
      make({
        search: knnWorkerPool({ workers: 2, workerUrl: 'not-a-relative-path.js', kernel: 'tfjs' }),
      }).fit(train, labels),
    ).toThrow(expect.objectContaining({ code: 'WORKER_FAILED' }));
  });
});
