// The randomErasing layer on every test backend: identity at inference, erasing in training,
// serialization round trips, model save/load, training with model.fit, no leaks.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  RandomEraser,
  RandomErasing,
  type RandomErasingLayerArgs,
  randomErasing,
  registerRandomErasing,
} from '../../src/augment/index.js';
import { BACKENDS, useBackend } from '../helpers/backends.js';
import { mulberry32 } from './stats.js';

function batch(n: number, seed = 1): tf.Tensor4D {
  const rand = mulberry32(seed);
  return tf.tensor4d(
    Float32Array.from({ length: n * 28 * 28 }, () => rand()),
    [n, 28, 28, 1],
  );
}

function model(args: RandomErasingLayerArgs): tfl.Sequential {
  return tfl.sequential({
    layers: [
      randomErasing({ inputShape: [28, 28, 1], ...args }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: 'ones' }),
    ],
  });
}

async function saveToMemory(m: tfl.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await m.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return saved!;
}

describe('randomErasing layer (backend independent)', () => {
  // Runs first in this file (a fresh process per file): importing the module registered nothing.
  it('registers its class when the first layer is made, not when its module is imported', async () => {
    const map = () => tf.serialization.SerializationMap.getMap().classNameMap;
    expect(map()['RandomErasing']).toBeUndefined();
    const source = await import('node:fs/promises').then((fs) =>
      fs.readFile(new URL('../../src/augment/random-erasing-layer.ts', import.meta.url), 'utf8'),
    );
    expect(source).not.toMatch(/^registerRandomErasing\(\);/m);
    randomErasing({ seed: 1 });
    expect(map()['RandomErasing']?.[0]).toBe(RandomErasing);
  });

  it('validates its options like RandomEraser, and rejects unknown keys, with BAD_OPTION', () => {
    const badOption = expect.objectContaining({ code: 'BAD_OPTION' });
    expect(() => randomErasing({ p: 2 })).toThrow(badOption);
    expect(() => randomErasing({ s_l: 0.5, s_h: 0.2 })).toThrow(/'s_l' must be <= s_h/);
    expect(() => randomErasing({ rate: 0.5 } as unknown as RandomErasingLayerArgs)).toThrow(
      /unknown option 'rate'/,
    );
    expect(() => randomErasing({ rate: 0.5 } as unknown as RandomErasingLayerArgs)).toThrow(badOption);
    expect(() => randomErasing(null as unknown as RandomErasingLayerArgs)).toThrow(badOption);
  });

  it('getConfig round-trips through fromConfig, including string seeds', () => {
    for (const seed of [7, 'Run_A-1', undefined]) {
      const layer = randomErasing({
        p: 0.7,
        s_l: 0.05,
        s_h: 0.3,
        r_1: 0.5,
        r_2: 2,
        v_l: 0.1,
        v_h: 0.9,
        pixel_level: true,
        maxAttempts: 50,
        seed,
        name: `e${String(seed)}`,
      });
      const config = layer.getConfig();
      const copy = RandomErasing.fromConfig(RandomErasing, config) as RandomErasing;
      expect(copy.getConfig()).toEqual(config);
      expect(copy.options).toEqual(layer.options);
      if (seed !== undefined) expect(copy.eraser.seed).toBe(seed);
    }
  });

  it('registers its class once, under its class name', () => {
    expect(registerRandomErasing()).toBe(RandomErasing);
    expect(tf.serialization.SerializationMap.getMap().classNameMap['RandomErasing']?.[0]).toBe(RandomErasing);
  });
});

for (const backend of BACKENDS) {
  describe(`randomErasing layer on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it('is the identity at inference (predict, apply without training, training: false)', async () => {
      const m = model({ p: 1, seed: 1 });
      const x = batch(8);
      const layer = m.layers[0] as RandomErasing;
      for (const kwargs of [undefined, { training: false }]) {
        const y = layer.apply(x, kwargs) as tf.Tensor;
        expect(await y.data()).toEqual(await x.data());
        y.dispose();
      }
      const reference = tfl.sequential({
        layers: [tfl.layers.flatten({ inputShape: [28, 28, 1] }), m.layers[2]!],
      });
      const p1 = m.predict(x) as tf.Tensor;
      const p2 = reference.predict(x) as tf.Tensor;
      expect(await p1.data()).toEqual(await p2.data());
      expect(layer.stats.images).toBe(0);
      tf.dispose([x, p1, p2]);
    });

    it('erases with training: true, exactly like a RandomEraser with the same seed', async () => {
      const layer = randomErasing({ p: 1, v_h: 1, seed: 'layer' });
      const eraser = new RandomEraser({ p: 1, v_h: 1, seed: 'layer' });
      const x = batch(8, 2);
      const y = layer.apply(x, { training: true }) as tf.Tensor;
      const z = eraser.eraseBatch(x);
      expect(await y.data()).toEqual(await z.data());
      expect(await y.data()).not.toEqual(await x.data());
      expect(layer.stats.erased).toBe(8);
      tf.dispose([x, y, z]);
    });

    it('is called with training: true by model.fit, which trains and leaks nothing', async () => {
      const m = model({ p: 0.5, v_h: 1, seed: 3 });
      m.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
      const x = batch(32, 3);
      const y = tf.oneHot(
        tf.tensor1d(
          Array.from({ length: 32 }, (_, i) => i % 3),
          'int32',
        ),
        3,
      );
      const layer = m.layers[0] as RandomErasing;
      await m.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 }); // warm-up: optimizer state is allocated once
      const before = tf.memory().numTensors;
      const seen = layer.stats.images;
      await m.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
      expect(layer.stats.images - seen).toBe(64);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, y]);
      m.dispose();
    });

    it('survives save and load (in-memory IOHandler) with its options and seed', async () => {
      const m = model({
        p: 0.8,
        s_h: 0.3,
        v_l: 0.2,
        v_h: 0.6,
        pixel_level: true,
        seed: 'Keep_Me',
        maxAttempts: 40,
      });
      const artifacts = await saveToMemory(m);
      const topology = JSON.stringify(artifacts.modelTopology);
      expect(topology).toContain('"class_name":"RandomErasing"');
      const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
      const original = m.layers[0] as RandomErasing;
      const restored = loaded.layers[0] as RandomErasing;
      expect(restored).toBeInstanceOf(RandomErasing);
      expect(restored.getConfig()).toEqual(original.getConfig());
      expect(restored.eraser.seed).toBe('Keep_Me');
      // Same seed, fresh stream: the loaded layer erases like a new layer with those options.
      const fresh = randomErasing({
        p: 0.8,
        s_h: 0.3,
        v_l: 0.2,
        v_h: 0.6,
        pixel_level: true,
        seed: 'Keep_Me',
        maxAttempts: 40,
      });
      const x = batch(6, 4);
      const a = restored.apply(x, { training: true }) as tf.Tensor;
      const b = fresh.apply(x, { training: true }) as tf.Tensor;
      expect(await a.data()).toEqual(await b.data());
      const pa = loaded.predict(x) as tf.Tensor;
      const pb = m.predict(x) as tf.Tensor;
      expect(await pa.data()).toEqual(await pb.data());
      tf.dispose([x, a, b, pa, pb]);
      m.dispose();
      loaded.dispose();
    });

    it('apply leaks no tensors in either mode', () => {
      const layer = randomErasing({ p: 1, seed: 1 });
      const x = batch(4, 5);
      const before = tf.memory().numTensors;
      for (const training of [true, false]) {
        const y = layer.apply(x, { training }) as tf.Tensor;
        expect(tf.memory().numTensors).toBe(before + 1);
        y.dispose();
        expect(tf.memory().numTensors).toBe(before);
      }
      x.dispose();
    });
  });
}
