// trainCnn with cnnWorkerPool (Node worker threads, data-parallel): the same steps as without a pool up to
// float32 rounding (dropout off), reproducible seeded runs, learning on real images, the checks made before any
// work, and its own failures and shutdown (no leaked threads or tensors).
//
// The workers start from the bundle of src/cnn/cnn-worker.ts that the global setup builds
// (.cache/dev/cnn-worker.mjs, the default from the sources), as the package starts dist/cnn-worker.js: never
// through a TypeScript loader.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildCnn, trainCnn } from '../../src/cnn/index.js';
import { type CnnWorkerPool, cnnWorkerPool } from '../../src/cnn/worker-pool-node.js';
import { loadSample } from '../../src/data/node.js';
import { type Split, subset } from '../../src/data/split.js';
import { FashionMnistError } from '../../src/errors.js';
import { installWasmTrainingKernels } from '../../src/wasm-training.js';
import { useBackend } from '../helpers/backends.js';

installWasmTrainingKernels();

/** Deterministic pseudo-images: enough to exercise the loop, not to learn anything in particular. */
function tinySplit(count: number, salt = 0): Split {
  return {
    images: Uint8Array.from({ length: count * 784 }, (_, i) => (((i + salt) * 2654435761) >>> 24) & 0xff),
    labels: Uint8Array.from({ length: count }, (_, i) => (i * 7 + salt) % 10),
    count,
    height: 28,
    width: 28,
  };
}
const small = (dropout = 0) =>
  buildCnn({ seed: 3, filters: [4, 4], denseUnits: 16, convDropout: dropout, denseDropout: dropout });
const weightsOf = (m: tfl.LayersModel) => m.getWeights().map((w) => Float32Array.from(w.dataSync()));
const knnFixture = (name: string) => new URL(`../knn/fixtures/${name}`, import.meta.url);

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let max = 0;
  a.forEach((w, i) => {
    for (let j = 0; j < w.length; j++) max = Math.max(max, Math.abs(w[j]! - b[i]![j]!));
  });
  return max;
}

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

describe('trainCnn with cnnWorkerPool', () => {
  const pools: CnnWorkerPool[] = [];
  const pool = (options: Parameters<typeof cnnWorkerPool>[0] = {}) => {
    const p = cnnWorkerPool({ backend: 'cpu', ...options });
    pools.push(p);
    return p;
  };
  beforeAll(() => useBackend('cpu'));
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.dispose()));
  });
  afterAll(() => useBackend('cpu'));

  it('dropout off: pooled steps are the unpooled steps (Adam and SGD, 1 or 2 workers, uneven shards)', async () => {
    const data = tinySplit(37);
    for (const [workers, batchSize, optimizer] of [
      [1, 16, 'adam'],
      [2, 7, 'adam'],
      [1, 16, 'sgd'],
    ] as const) {
      const make = () => {
        const m = small();
        if (optimizer === 'sgd') {
          m.compile({
            optimizer: tf.train.sgd(0.05),
            loss: 'categoricalCrossentropy',
            metrics: ['accuracy'],
          });
        }
        return m;
      };
      const plain = make();
      const pooled = make();
      expect(maxDiff(weightsOf(plain), weightsOf(pooled))).toBe(0);
      const options = { epochs: 1, batchSize, seed: 5 };
      const a = await trainCnn(plain, data, options);
      const b = await trainCnn(pooled, data, { ...options, pool: pool({ workers }) });
      const diff = maxDiff(weightsOf(plain), weightsOf(pooled));
      // A few steps of float32 rounding; Adam's first steps are ±lr per weight, so a sign change of a tiny
      // gradient would show as 2e-3: none happens here.
      expect(diff, `${workers} workers, batch ${batchSize}, ${optimizer}`).toBeLessThan(1e-5);
      expect(b.epochs[0]!.loss).toBeCloseTo(a.epochs[0]!.loss, 5);
      expect(b.epochs[0]!.acc).toBeCloseTo(a.epochs[0]!.acc, 6);
      plain.dispose();
      pooled.dispose();
    }
  });

  it('seeded runs with dropout are reproducible for a worker count, and the count is part of the run', async () => {
    const data = tinySplit(40, 1);
    const run = async (workers: number) => {
      const m = small(0.3);
      await trainCnn(m, data, { epochs: 2, batchSize: 10, seed: 'r', pool: pool({ workers }) });
      const w = weightsOf(m);
      m.dispose();
      return w;
    };
    const first = await run(1);
    expect(maxDiff(first, await run(1))).toBe(0);
    expect(maxDiff(first, await run(2))).toBeGreaterThan(0);
  });

  it('learns real images on wasm (main thread and worker), with tf.memory() flat over the steps', async () => {
    await useBackend('wasm');
    try {
      const data = await loadSample();
      const train = subset(data.train, 0, 320);
      const model = buildCnn({ seed: 1, filters: [8, 8], denseUnits: 32, learningRate: 0.003 });
      const counts: number[] = [];
      const before = tf.memory().numTensors;
      const history = await trainCnn(model, train, {
        epochs: 4,
        batchSize: 32,
        seed: 1,
        pool: pool({ backend: 'wasm' }),
        onBatchEnd: () => {
          counts.push(tf.memory().numTensors);
        },
      });
      const losses = history.epochs.map((e) => e.loss);
      expect(losses[3]!).toBeLessThan(losses[0]! * 0.9);
      expect(history.epochs[3]!.acc).toBeGreaterThan(history.epochs[0]!.acc);
      expect(new Set(counts.slice(1)).size).toBe(1);
      // The optimizer's state (made at the first step) is all that stays.
      expect(tf.memory().numTensors - before).toBe(counts[counts.length - 1]! - before);
      model.dispose();
    } finally {
      await useBackend('cpu');
    }
  });

  it('one pool serves runs one after another, refuses a second run at the same time', async () => {
    const p = pool({ workers: 1 });
    const m1 = small();
    const m2 = small();
    const first = trainCnn(m1, tinySplit(20), { epochs: 1, batchSize: 10, pool: p });
    await expectRejects(trainCnn(m2, tinySplit(20), { epochs: 1, pool: p }), 'BAD_OPTION');
    await first;
    await trainCnn(m2, tinySplit(20), { epochs: 1, batchSize: 10, pool: p });
    m1.dispose();
    m2.dispose();
  });

  it('refuses before any work: BatchNormalization, another loss, a pool that is not one, bad pool options', async () => {
    let opened = 0;
    const spy = {
      workers: 1,
      open: () => {
        opened++;
        return Promise.reject(new Error('not reached'));
      },
    };
    const bn = buildCnn({ seed: 1, filters: [4, 4], denseUnits: 16, batchNorm: true });
    const e = await expectRejects(trainCnn(bn, tinySplit(8), { epochs: 1, pool: spy }), 'BAD_OPTION');
    expect(e.message).toMatch(/BatchNormalization/);
    const mse = small();
    mse.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
    await expectRejects(trainCnn(mse, tinySplit(8), { epochs: 1, pool: spy }), 'BAD_OPTION');
    expect(opened).toBe(0);
    const m = small();
    for (const bad of [null, {}, { workers: 1 }, 'pool']) {
      const f = await expectRejects(trainCnn(m, tinySplit(8), { pool: bad as never }), 'BAD_OPTION');
      expect(f.message).toMatch(/option 'pool'/);
    }
    for (const bad of [
      { workers: 0 },
      { workers: 1.5 },
      { backend: 'gpu' },
      { workerUrl: 3 },
      { threads: 2 },
    ]) {
      expect(() => cnnWorkerPool(bad as never)).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    }
    expect(cnnWorkerPool().workers).toBe(1);
    expect(cnnWorkerPool().options).toMatchObject({ workers: 1, backend: 'wasm' });
    bn.dispose();
    mse.dispose();
    m.dispose();
  });

  it('dispose during a step: the run rejects with ABORTED, no tensors left, the pool refuses later runs', async () => {
    const p = pool({ workers: 1 });
    // Disposes as soon as the second step has been handed to the worker: that step is certainly in flight.
    let steps = 0;
    const disposing: Promise<void>[] = [];
    const wrapped = {
      workers: p.workers,
      open: async (model: tfl.LayersModel, where: string) => {
        const session = await p.open(model, where);
        return {
          replicas: session.replicas,
          sync: session.sync,
          close: session.close,
          compute: (tasks: Parameters<typeof session.compute>[0]) => {
            const result = session.compute(tasks);
            if (++steps === 2) queueMicrotask(() => disposing.push(p.dispose()));
            return result;
          },
        };
      },
    };
    const m = small(0.3);
    await trainCnn(m, tinySplit(4), { epochs: 1, batchSize: 4 }); // the optimizer's state exists already
    const before = tf.memory().numTensors;
    const e = await expectRejects(
      trainCnn(m, tinySplit(40), { epochs: 1, batchSize: 10, seed: 1, pool: wrapped }),
      'ABORTED',
    );
    expect(e.message).toMatch(/^trainCnn: /);
    await Promise.all(disposing);
    expect(tf.memory().numTensors).toBe(before);
    await expectRejects(trainCnn(m, tinySplit(10), { epochs: 1, pool: p }), 'ABORTED');
    await p.dispose(); // idempotent
    m.dispose();
  });

  it('a worker that cannot start or crashes: WORKER_FAILED with the cause; the next run starts new threads', async () => {
    const m = small();
    const missing = pool({ workerUrl: knnFixture('no-such-worker.mjs') });
    const e = await expectRejects(trainCnn(m, tinySplit(8), { epochs: 1, pool: missing }), 'WORKER_FAILED');
    expect(e.cause).toBeInstanceOf(Error);
    const failing = pool({ workers: 2, workerUrl: knnFixture('fail-start.mjs') });
    const f = await expectRejects(trainCnn(m, tinySplit(8), { epochs: 1, pool: failing }), 'WORKER_FAILED');
    expect(f.message).toMatch(/failed to initialise/);
    expect(f.cause).toMatchObject({ code: 'NO_BACKEND' });
    const crashing = pool({ workerUrl: knnFixture('crash-on-search.mjs') });
    const c = await expectRejects(trainCnn(m, tinySplit(8), { epochs: 1, pool: crashing }), 'WORKER_FAILED');
    expect((c.cause as Error).message).toBe('simulated crash in the worker');
    const refused = pool({ workerUrl: 'not-a-relative-path.js' });
    await expectRejects(trainCnn(m, tinySplit(8), { epochs: 1, pool: refused }), 'WORKER_FAILED');
    // Still usable: a later run on a good pool trains.
    const good = pool({ workers: 1 });
    await trainCnn(m, tinySplit(8), { epochs: 1, batchSize: 4, pool: good });
    m.dispose();
  });

  it('leaves no thread behind: a process whose pool is disposed, or forgotten idle, exits by itself', () => {
    const script = fileURLToPath(new URL('./fixtures/pool-exit.ts', import.meta.url));
    for (const mode of ['dispose', 'forget']) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', script, mode], {
        encoding: 'utf8',
        timeout: 240_000,
      });
      expect(r.stderr, mode).not.toMatch(/Error/);
      expect(r.stdout.trim().split('\n'), mode).toEqual(['trained', 'end of script']);
      expect(r.status, mode).toBe(0);
    }
  });
});
