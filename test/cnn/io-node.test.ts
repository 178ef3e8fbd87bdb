import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
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
    const badOption = { code: 'BAD_OPTION' };
    await expect(saveModel(m, fresh(), { quantize: 'int4' as never })).rejects.toMatchObject(badOption);
    await expect(saveModel(m, fresh(), { shardBytes: 0 })).rejects.toMatchObject(badOption);
    await expect(saveModel(m, fresh(), { includeOptimizer: 'yes' as never })).rejects.toMatchObject(
      badOption,
    );
    await expect(saveModel(m, fresh(), { metadata: [1] as never })).rejects.toMatchObject(badOption);
    await expect(saveModel(m, fresh(), { bogus: 1 } as never)).rejects.toThrow(/unknown option 'bogus'/);
    await expect(saveModel(m, '' as string)).rejects.toMatchObject(badOption);
    await expect(loadModel(42 as never)).rejects.toMatchObject(badOption);
    await expect(loadModel(fresh(), { timeoutMs: 0 })).rejects.toMatchObject(badOption);
    await expect(loadModel(fresh(), { timeout: 5 } as never)).rejects.toThrow(/unknown option 'timeout'/);
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

describe('failed loads leave nothing in memory', () => {
  let good: string;
  beforeAll(async () => {
    await useBackend('cpu');
    good = fresh();
    const m = buildCnn({ seed: 1 }); // compiled: the saved model has a training config (Adam)
    await saveModel(m, good);
    m.dispose();
  });
  type Json = {
    modelTopology: { config: { layers: { class_name: string }[] } };
    weightsManifest: { weights: { name: string; shape: number[] }[] }[];
    trainingConfig: { loss: string; optimizer_config: { class_name: string } };
  };
  const damaged = (edit: (j: Json) => void) => {
    const dir = fresh();
    mkdirSync(dir);
    for (const f of readdirSync(good)) writeFileSync(join(dir, f), readFileSync(join(good, f)));
    const j = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    edit(j);
    writeFileSync(join(dir, 'model.json'), JSON.stringify(j));
    return dir;
  };
  // Each case makes tfjs fail at a different step, after it has made some of the model's variables.
  const cases: [string, (j: Json) => void, RegExp][] = [
    [
      'an unknown layer after four built ones',
      (j) => {
        j.modelTopology.config.layers[4].class_name = 'NoSuchLayer';
      },
      /NoSuchLayer/,
    ],
    [
      'a weight whose shape does not fit its layer (same bytes)',
      (j) => {
        j.weightsManifest[0].weights[0].shape = [1, 2, 2, 64];
      },
      /[Ss]hape/,
    ],
    [
      'a weight the model does not have',
      (j) => {
        j.weightsManifest[0].weights[7].name = 'nowhere/bias';
      },
      /no target variable/,
    ],
    [
      'a training config with an unknown loss (after the optimizer was made)',
      (j) => {
        j.trainingConfig.loss = 'no_such_loss';
      },
      /no_such_loss|noSuchLoss|[Ll]oss/,
    ],
    [
      'an unknown optimizer',
      (j) => {
        j.trainingConfig.optimizer_config.class_name = 'NoSuchOptimizer';
      },
      /NoSuchOptimizer/,
    ],
  ];
  for (const [name, edit, message] of cases) {
    it(`${name}: BAD_MODEL, and 20 failures leave no tensor`, async () => {
      const dir = damaged(edit);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) {
        const err = await badModelError(dir);
        expect(err).toBeInstanceOf(FashionMnistError);
        expect(err.code).toBe('BAD_MODEL');
        expect(err.message).toMatch(message);
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('a loaded compiled model frees its optimizer too when disposed', async () => {
    (await loadModel(good)).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      const model = await loadModel(good);
      expect(model.optimizer.getClassName()).toBe('Adam');
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('what loadModel refuses before reading', () => {
  let good: string;
  beforeAll(async () => {
    await useBackend('cpu');
    good = fresh();
    const m = buildCnn({ seed: 1 });
    await saveModel(m, good);
    m.dispose();
  });
  const copy = () => {
    const dir = fresh();
    mkdirSync(dir);
    for (const f of readdirSync(good)) writeFileSync(join(dir, f), readFileSync(join(good, f)));
    return dir;
  };

  it('a huge file in a shard’s place is refused by its size, without reading it', async () => {
    const dir = copy();
    truncateSync(join(dir, 'group1-shard1of1.bin'), 8 * 1024 ** 3); // sparse: 8 GiB that take no disk
    const err = await badModelError(dir);
    expect(err.code).toBe('BAD_MODEL');
    expect(err.message).toMatch(/hold 8589934592 bytes, more than the 1651112/);
  });

  it('a FIFO or a directory in a shard’s place is refused (a FIFO would block a read forever)', async () => {
    const dir = copy();
    rmSync(join(dir, 'group1-shard1of1.bin'));
    execFileSync('mkfifo', [join(dir, 'group1-shard1of1.bin')]);
    await expect(loadModel(dir)).rejects.toMatchObject({
      code: 'BAD_MODEL',
      message: expect.stringMatching(/is not a regular file/),
    });
    const dir2 = copy();
    rmSync(join(dir2, 'group1-shard1of1.bin'));
    mkdirSync(join(dir2, 'group1-shard1of1.bin'));
    await expect(loadModel(dir2)).rejects.toMatchObject({ code: 'BAD_MODEL' });
    const dir3 = copy();
    rmSync(join(dir3, 'model.json'));
    mkdirSync(join(dir3, 'model.json'));
    await expect(loadModel(dir3)).rejects.toMatchObject({ code: 'BAD_MODEL' });
  });

  it('a model.json over 32 MiB is TOO_LARGE, without reading it', async () => {
    const dir = copy();
    truncateSync(join(dir, 'model.json'), 64 * 1024 * 1024);
    await expect(loadModel(dir)).rejects.toMatchObject({ code: 'TOO_LARGE' });
  });

  it('a manifest declaring more than 1 GiB of weights is TOO_LARGE before any weight is read', async () => {
    const dir = copy();
    const j = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    j.weightsManifest[0].weights[4].shape = [1568, 256, 1000];
    writeFileSync(join(dir, 'model.json'), JSON.stringify(j));
    await expect(loadModel(dir)).rejects.toMatchObject({ code: 'TOO_LARGE' });
  });

  it.skipIf(process.getuid?.() === 0)(
    'an unreadable file is IO_ERROR with its path [skipped as root, who reads anything]',
    async () => {
      const dir = copy();
      chmodSync(join(dir, 'group1-shard1of1.bin'), 0);
      await expect(loadModel(dir)).rejects.toMatchObject({
        code: 'IO_ERROR',
        path: join(dir, 'group1-shard1of1.bin'),
      });
    },
  );
});

describe('leftovers of killed saves', () => {
  beforeAll(() => useBackend('cpu'));

  /** The id of a process that has ended (a child that ran and exited). */
  const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid as number;
  const leftover = (parent: string, kind: 'tmp' | 'old', pid: number, hex: string) => {
    const p = join(parent, `.model.${kind}-${pid}-${hex}`);
    mkdirSync(p);
    writeFileSync(join(p, 'group1-shard1of1.bin'), Buffer.alloc(1000));
    return p;
  };

  it('the next save removes those of processes that are gone, or over an hour old, and keeps the rest', async () => {
    const parent = fresh();
    const dir = join(parent, 'model');
    const m = buildCnn({ seed: 1 });
    await saveModel(m, dir);
    const dead = deadPid();
    const gone = [leftover(parent, 'tmp', dead, 'aaaaaaaa'), leftover(parent, 'old', dead, 'bbbbbbbb')];
    // A save in progress in a live process (this one): kept, unless it is over an hour old.
    const live = leftover(parent, 'tmp', process.pid, 'cccccccc');
    const ancient = leftover(parent, 'old', process.pid, 'dddddddd');
    const hoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
    utimesSync(ancient, hoursAgo, hoursAgo);
    // Not ours: other names are never touched.
    mkdirSync(join(parent, '.other.tmp-1-eeeeeeee'));
    mkdirSync(join(parent, '.model.tmp-notapid'));
    await saveModel(m, dir);
    for (const p of [...gone, ancient]) expect(existsSync(p)).toBe(false);
    expect(readdirSync(parent).sort()).toEqual(
      ['.model.tmp-notapid', '.other.tmp-1-eeeeeeee', `.model.tmp-${process.pid}-cccccccc`, 'model'].sort(),
    );
    expect(existsSync(live)).toBe(true);
    m.dispose();
  });

  it('a save killed between its two renames: loadModel says where the previous model waits', async () => {
    const parent = fresh();
    const dir = join(parent, 'model');
    const m = buildCnn({ seed: 1 });
    await saveModel(m, dir);
    const aside = join(parent, `.model.old-${deadPid()}-abcdef01`);
    renameSync(dir, aside); // what the kill leaves: the old model moved aside, the new one not yet in place
    const err = await badModelError(dir);
    expect(err.code).toBe('BAD_MODEL');
    expect(err.message).toContain(`the previous model is in ${aside}`);
    m.dispose();
  });

  it('a real kill -9 during saves leaves leftovers that the next save removes', async () => {
    const parent = fresh();
    const dir = join(parent, 'model');
    // A child that saves a model over and over, with small shards (many writes) until it is killed.
    const script = `
      import * as tf from '@tensorflow/tfjs-core';
      import '@tensorflow/tfjs-backend-cpu';
      import { buildCnn } from ${JSON.stringify(join(process.cwd(), 'src/cnn/build.ts'))};
      import { saveModel } from ${JSON.stringify(join(process.cwd(), 'src/cnn/io-node.ts'))};
      await tf.setBackend('cpu');
      const m = buildCnn({ seed: 1 });
      for (let i = 0; ; i++) {
        await saveModel(m, ${JSON.stringify(dir)}, { shardBytes: 20_000 });
        if (i === 0) process.stdout.write('saved\\n');
      }
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((ok, fail) => {
      child.stdout.once('data', () => ok());
      child.once('exit', (code) => fail(new Error(`the saving child exited early (${code})`)));
    });
    // Kill it until it leaves something behind mid-save (each save is mostly writing, so this comes soon).
    let killed = child;
    for (let attempt = 0; attempt < 50; attempt++) {
      await new Promise((r) => setTimeout(r, 50 + attempt * 7));
      killed.kill('SIGKILL');
      await new Promise((r) => killed.once('exit', r));
      if (readdirSync(parent).some((n) => n.startsWith('.model.'))) break;
      killed = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise((r) => killed.stdout.once('data', r));
    }
    const leftovers = readdirSync(parent).filter((n) => n.startsWith('.model.'));
    expect(leftovers.length).toBeGreaterThan(0);
    const m = buildCnn({ seed: 2 });
    await saveModel(m, dir);
    expect(readdirSync(parent)).toEqual(['model']);
    (await loadModel(dir)).dispose();
    m.dispose();
  });
});
