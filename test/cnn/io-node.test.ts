import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCnn, trainCnn } from '../../src/cnn/index.js';
import { hasModel, loadModel, readModelArtifacts, saveModel } from '../../src/cnn/io-node.js';
import type { Split } from '../../src/data/split.js';
import { FashionMnistError } from '../../src/errors.js';
import { installWasmTrainingKernels } from '../../src/wasm-training.js';
import { BACKENDS, useBackend } from '../helpers/backends.js';
import { startServer } from '../helpers/http-server.js';

const root = mkdtempSync(join(tmpdir(), 'fmnist-cnn-io-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `m${n++}`);

const probe = () =>
  tf.tensor4d(
    Float32Array.from({ length: 3 * 784 }, (_, i) => ((i * 37) % 101) / 100),
    [3, 28, 28, 1],
  );
const predict = (m: tfl.LayersModel) =>
  tf.tidy(() => {
    const x = probe();
    return Array.from((m.predict(x) as tf.Tensor).dataSync());
  });

async function badModelError(dir: string): Promise<FashionMnistError> {
  try {
    await loadModel(dir);
  } catch (e) {
    return e as FashionMnistError;
  }
  throw new Error('expected loadModel to fail');
}

for (const backend of BACKENDS) {
  describe(`saveModel / loadModel on ${backend}`, () => {
    beforeAll(() => useBackend(backend));
    afterAll(() => useBackend('cpu'));

    it('round-trips to identical weights and predictions, in the standard layers format', async () => {
      const model = buildCnn({ seed: 11 });
      const dir = fresh();
      const result = await saveModel(model, dir);
      expect(result.files).toEqual(['model.json', 'group1-shard1of1.bin']);
      expect(result.weightBytes).toBe(412_778 * 4);
      expect(statSync(join(dir, 'group1-shard1of1.bin')).size).toBe(412_778 * 4);
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
      expect(json.format).toBe('layers-model');
      expect(json.modelTopology.class_name).toBe('Sequential');
      expect(json.weightsManifest[0].paths).toEqual(['group1-shard1of1.bin']);
      expect(json.trainingConfig.loss).toBe('categorical_crossentropy');
      const loaded = await loadModel(dir);
      expect(loaded.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(
        model.getWeights().map((w) => Array.from(w.dataSync())),
      );
      expect(predict(loaded)).toEqual(predict(model));
      // It comes back compiled, with the saved learning rate.
      expect((loaded.optimizer as unknown as { learningRate: number }).learningRate).toBe(0.001);
      model.dispose();
      loaded.dispose();
    });

    it('splits weights into shards of the requested size and stores metadata', async () => {
      const model = buildCnn({ seed: 2 });
      const dir = fresh();
      const res = await saveModel(model, dir, { shardBytes: 500_000, metadata: { note: 'hi' } });
      expect(res.files).toEqual(['model.json', ...[1, 2, 3, 4].map((i) => `group1-shard${i}of4.bin`)]);
      expect(readdirSync(dir).sort()).toEqual([...res.files].sort());
      const loaded = await loadModel(dir);
      expect(predict(loaded)).toEqual(predict(model));
      const artifacts = await readModelArtifacts(dir);
      expect(artifacts.userDefinedMetadata).toEqual({ note: 'hi' });
      model.dispose();
      loaded.dispose();
    });

    it('does not leak tensors', async () => {
      const model = buildCnn({ seed: 4 });
      const dir = fresh();
      await saveModel(model, dir);
      (await loadModel(dir)).dispose();
      const before = tf.memory().numTensors;
      await saveModel(model, dir);
      (await loadModel(dir)).dispose();
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    });

    it('does not leak tensors when saving the optimizer state too', async () => {
      const model = buildCnn({ seed: 4 });
      const dir = fresh();
      const { xs, ys } = { xs: tf.zeros([2, 28, 28, 1]), ys: tf.oneHot(tf.tensor1d([1, 2], 'int32'), 10) };
      // Training on wasm needs the kernels stock tfjs-backend-wasm lacks.
      if (tf.getBackend() === 'wasm') installWasmTrainingKernels();
      await model.trainOnBatch(xs, ys); // creates Adam's slots, which save() then includes
      await saveModel(model, dir, { includeOptimizer: true });
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) await saveModel(model, dir, { includeOptimizer: true });
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([xs, ys]);
      model.dispose();
    });
  });
}

describe('quantised weights', () => {
  beforeAll(() => useBackend('cpu'));

  it('float16 / uint16 / uint8 shrink the files and stay close to the float32 model', async () => {
    const model = buildCnn({ seed: 5 });
    const exact = predict(model);
    const w0 = Array.from(model.getWeights()[0].dataSync());
    for (const [quantize, bytes, weightTol, probTol] of [
      ['float16', 2, 1e-3, 2e-3],
      ['uint16', 2, 1e-4, 1e-3],
      ['uint8', 1, 5e-3, 2e-2],
    ] as const) {
      const dir = fresh();
      const res = await saveModel(model, dir, { quantize });
      expect(res.weightBytes).toBe(412_778 * bytes);
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
      expect(json.weightsManifest[0].weights[0].quantization.dtype).toBe(quantize);
      const loaded = await loadModel(dir);
      const q0 = Array.from(loaded.getWeights()[0].dataSync());
      const maxErr = Math.max(...q0.map((v, i) => Math.abs(v - w0[i])));
      expect(maxErr).toBeGreaterThan(0); // it really was quantised
      expect(maxErr).toBeLessThan(weightTol);
      const p = predict(loaded);
      for (let i = 0; i < p.length; i++) expect(Math.abs(p[i] - exact[i])).toBeLessThan(probTol);
      loaded.dispose();
    }
    model.dispose();
  });

  it('float16 encoding round-trips special values through tfjs-core’s decoder', async () => {
    const m = tfl.sequential();
    m.add(tfl.layers.dense({ units: 4, inputShape: [2], useBias: false }));
    const values = [0, -0, 1, -2.5, 65504, 1e6, -1e6, 6e-8, 1e-9, 0.1, 1.7, 2049];
    const dir = fresh();
    // Saves m with `weights` as float16 and reads them back through loadModel, freeing every tensor on the way.
    const roundTrip = async (weights: number[]): Promise<number[]> => {
      const w = tf.tensor2d(weights, [2, 4]);
      m.setWeights([w]);
      w.dispose();
      await saveModel(m, dir, { quantize: 'float16' });
      const loaded = await loadModel(dir);
      const out = Array.from(loaded.getWeights()[0].dataSync());
      loaded.dispose();
      return out;
    };
    const back = await roundTrip(values.slice(0, 8));
    expect(back.slice(0, 7)).toEqual([
      0,
      -0,
      1,
      -2.5,
      65504,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ]);
    expect(back[7]).toBeCloseTo(5.96e-8, 9); // smallest subnormal half
    const back2 = await roundTrip([...values.slice(8), 0, 0, 0, 0]);
    expect(back2[0]).toBe(0); // underflows to zero
    expect(back2[1]).toBeCloseTo(0.1, 3);
    expect(back2[2]).toBeCloseTo(1.7, 2);
    expect(back2[3]).toBe(2048); // ties to even
    m.dispose();
  });
});

describe('stock tf.loadLayersModel', () => {
  beforeAll(() => useBackend('cpu'));

  it('loads a saved directory over HTTP from a real server (as a browser would)', async () => {
    const model = buildCnn({ seed: 9 });
    const dir = fresh();
    const { files } = await saveModel(model, dir, { shardBytes: 500_000, quantize: 'float16' });
    const server = await startServer();
    try {
      for (const f of files)
        server.routes.set(`/cnn/${f}`, { kind: 'bytes', body: readFileSync(join(dir, f)) });
      const remote = await tfl.loadLayersModel(`${server.url}cnn/model.json`);
      const local = await loadModel(dir);
      expect(predict(remote)).toEqual(predict(local));
      expect(server.hits).toEqual([
        '/cnn/model.json',
        '/cnn/group1-shard1of2.bin',
        '/cnn/group1-shard2of2.bin',
      ]);
      remote.dispose();
      local.dispose();
    } finally {
      await server.close();
      model.dispose();
    }
  });
});

describe('damaged model directories', () => {
  let good: string;
  beforeAll(async () => {
    await useBackend('cpu');
    good = fresh();
    const m = buildCnn({ seed: 1 });
    await saveModel(m, good, { shardBytes: 1_000_000 });
    m.dispose();
  });
  const copy = () => {
    const dir = fresh();
    mkdirSync(dir);
    for (const f of readdirSync(good)) writeFileSync(join(dir, f), readFileSync(join(good, f)));
    return dir;
  };
  const editJson = (dir: string, edit: (j: Record<string, unknown>) => void) => {
    const j = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    edit(j);
    writeFileSync(join(dir, 'model.json'), JSON.stringify(j));
  };

  const cases: [string, () => string, RegExp][] = [
    ['a directory that does not exist', () => join(root, 'nope'), /no model\.json in/],
    [
      'a directory without model.json',
      () => {
        const d = copy();
        rmSync(join(d, 'model.json'));
        return d;
      },
      /no model\.json/,
    ],
    [
      'a corrupt model.json',
      () => {
        const d = copy();
        writeFileSync(join(d, 'model.json'), '{"modelTopology": {"class_name": "Seq');
        return d;
      },
      /not valid JSON/,
    ],
    [
      'a model.json without topology',
      () => {
        const d = copy();
        editJson(d, (j) => delete j.modelTopology);
        return d;
      },
      /no modelTopology/,
    ],
    [
      'a model.json without weightsManifest',
      () => {
        const d = copy();
        editJson(d, (j) => delete j.weightsManifest);
        return d;
      },
      /no weightsManifest/,
    ],
    [
      'a missing shard',
      () => {
        const d = copy();
        rmSync(join(d, 'group1-shard2of2.bin'));
        return d;
      },
      /weight file group1-shard2of2\.bin listed in model\.json is missing/,
    ],
    [
      'a truncated shard',
      () => {
        const d = copy();
        const p = join(d, 'group1-shard2of2.bin');
        writeFileSync(p, readFileSync(p).subarray(0, 1000));
        return d;
      },
      /hold 1001000 bytes but the manifest's weights need 1651112/,
    ],
    [
      'a shard with extra bytes',
      () => {
        const d = copy();
        const p = join(d, 'group1-shard1of2.bin');
        writeFileSync(p, Buffer.concat([readFileSync(p), Buffer.alloc(4)]));
        return d;
      },
      /hold 1651116 bytes/,
    ],
    [
      'a manifest pointing outside the directory',
      () => {
        const d = copy();
        editJson(d, (j) => {
          (j.weightsManifest as { paths: string[] }[])[0].paths[0] = '../m0/group1-shard1of1.bin';
        });
        return d;
      },
      /is not a file name inside the model directory/,
    ],
    [
      'a manifest with an unknown dtype',
      () => {
        const d = copy();
        editJson(d, (j) => {
          (j.weightsManifest as { weights: { dtype: string }[] }[])[0].weights[0].dtype = 'float99';
        });
        return d;
      },
      /dtype 'float99'/,
    ],
    [
      'a topology tfjs cannot build',
      () => {
        const d = copy();
        editJson(d, (j) => {
          (j.modelTopology as { class_name: string }).class_name = 'NoSuchModel';
        });
        return d;
      },
      /cannot build the model/,
    ],
  ];
  for (const [name, make, message] of cases) {
    it(`rejects ${name} with BAD_MODEL`, async () => {
      const err = await badModelError(make());
      expect(err).toBeInstanceOf(FashionMnistError);
      expect(err.code).toBe('BAD_MODEL');
      expect(err.message).toMatch(message);
    });
  }

  it('the intact copy loads (so the cases above fail for their damage alone)', async () => {
    (await loadModel(copy())).dispose();
  });
});

describe('atomic saving', () => {
  beforeAll(() => useBackend('cpu'));

  it('replaces an existing model and leaves no temporary directories behind', async () => {
    const parent = fresh();
    const dir = join(parent, 'model');
    const a = buildCnn({ seed: 1 });
    const b = buildCnn({ seed: 2 });
    await saveModel(a, dir, { shardBytes: 1_000_000 });
    await saveModel(b, dir);
    expect(readdirSync(parent)).toEqual(['model']);
    expect(readdirSync(dir).sort()).toEqual(['group1-shard1of1.bin', 'model.json']);
    const loaded = await loadModel(dir);
    expect(predict(loaded)).toEqual(predict(b));
    for (const m of [a, b, loaded]) m.dispose();
  });

  it('refuses to replace a directory that is not a model, and a file', async () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(join(dir, 'precious.txt'), 'keep me');
    const m = buildCnn({ seed: 1 });
    await expect(saveModel(m, dir)).rejects.toMatchObject({ code: 'BAD_MODEL' });
    expect(readFileSync(join(dir, 'precious.txt'), 'utf8')).toBe('keep me');
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    await expect(saveModel(m, file)).rejects.toThrow(/not a model directory/);
    m.dispose();
  });

  it('a failed save leaves the previous model loadable and no partial directory', async () => {
    const parent = fresh();
    const dir = join(parent, 'model');
    const good = buildCnn({ seed: 1 });
    await saveModel(good, dir);
    // A model whose save fails half-way: its handler throws after tfjs has serialised the topology.
    const broken = buildCnn({ seed: 2 });
    broken.save = async () => {
      throw new Error('disk on fire');
    };
    await expect(saveModel(broken, dir)).rejects.toThrow('disk on fire');
    expect(readdirSync(parent)).toEqual(['model']);
    const loaded = await loadModel(dir);
    expect(predict(loaded)).toEqual(predict(good));
    for (const m of [good, broken, loaded]) m.dispose();
  });

  it('validates its options', async () => {
    const m = buildCnn({ seed: 1 });
    await expect(saveModel(m, fresh(), { quantize: 'int4' as never })).rejects.toThrow(RangeError);
    await expect(saveModel(m, fresh(), { shardBytes: 0 })).rejects.toThrow(RangeError);
    await expect(saveModel(m, fresh(), { includeOptimizer: 'yes' as never })).rejects.toThrow(TypeError);
    await expect(saveModel(m, fresh(), { bogus: 1 } as never)).rejects.toThrow(/unknown option 'bogus'/);
    await expect(saveModel(m, '' as string)).rejects.toThrow(TypeError);
    await expect(loadModel(42 as never)).rejects.toThrow(TypeError);
    // Errors name the function that was called.
    await expect(readModelArtifacts(join(root, 'nope'))).rejects.toThrow(
      /^readModelArtifacts: no model\.json/,
    );
    await expect(loadModel(join(root, 'nope'))).rejects.toThrow(/^loadModel: no model\.json/);
    m.dispose();
  });

  it('hasModel tells a model directory from anything else', async () => {
    const dir = fresh();
    expect(await hasModel(dir)).toBe(false);
    const m = buildCnn({ seed: 1 });
    await saveModel(m, dir);
    expect(await hasModel(dir)).toBe(true);
    expect(existsSync(join(dir, 'model.json'))).toBe(true);
    m.dispose();
  });
});

describe('checkpoints with optimizer state', () => {
  beforeAll(() => useBackend('cpu'));

  const tiny: Split = {
    images: Uint8Array.from({ length: 48 * 784 }, (_, i) => ((i * 2654435761) >>> 24) & 0xff),
    labels: Uint8Array.from({ length: 48 }, (_, i) => i % 10),
    count: 48,
    height: 28,
    width: 28,
  };
  const small = () => buildCnn({ seed: 3, filters: [4, 4], denseUnits: 16 });
  const options = { epochs: 3, batchSize: 16, seed: 5, schedule: 'cosine' as const };

  it('resuming from a checkpoint replays an uninterrupted run exactly', async () => {
    const straight = small();
    await trainCnn(straight, tiny, options);

    // The same run, checkpointed after its first epoch (the later epochs stand for the work an interruption loses).
    const first = small();
    const dir = fresh();
    await trainCnn(first, tiny, {
      ...options,
      onEpochEnd: async (log) => {
        if (log.epoch === 0) await saveModel(first, dir, { includeOptimizer: true });
      },
    });
    const resumed = await loadModel(dir);
    expect(resumed.optimizer.getClassName()).toBe('Adam');
    await trainCnn(resumed, tiny, { ...options, initialEpoch: 1 });
    expect(resumed.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(
      straight.getWeights().map((w) => Array.from(w.dataSync())),
    );
    for (const m of [straight, first, resumed]) m.dispose();
  });
});
