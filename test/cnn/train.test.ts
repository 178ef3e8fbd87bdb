import v8 from 'node:v8';
import vm from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveCropFlipOptions, sampleCropFlip, writeCropFlip } from '../../src/augment/crop-flip.js';
import { writeErase } from '../../src/augment/erasing.js';
import { RandomEraser, type RandomErasing, randomErasing } from '../../src/augment/index.js';
import { buildCnn, type EpochLog, evaluateCnn, trainCnn } from '../../src/cnn/index.js';
import type { ScheduledAdam } from '../../src/cnn/optimizer.js';
import { learningRateAt, TRAIN_CNN_DEFAULTS } from '../../src/cnn/train.js';
import { loadSample } from '../../src/data/node.js';
import type { Split } from '../../src/data/split.js';
import { subset } from '../../src/data/split.js';
import { FashionMnistError } from '../../src/errors.js';
import { createRandomSource, permutationFrom, type Seed } from '../../src/internal/random.js';
import { installWasmTrainingKernels } from '../../src/wasm-training.js';
import { BACKENDS, useBackend } from '../helpers/backends.js';

// The wasm backend of tfjs 4.22 cannot train a CNN on its own (no Conv2DBackpropFilter).
installWasmTrainingKernels();
// A real GC before each memory reading, so that the memory test measures retained memory, not garbage.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

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
const small = (seed = 3) => buildCnn({ seed, filters: [4, 4], denseUnits: 16 });
const weightsOf = (m: ReturnType<typeof buildCnn>) => m.getWeights().map((w) => Array.from(w.dataSync()));

describe('learningRateAt', () => {
  it('computes constant, cosine, step and custom schedules', () => {
    expect(learningRateAt('constant', 7, 10, 0.01)).toBe(0.01);
    expect(learningRateAt('cosine', 0, 10, 0.001)).toBeCloseTo(0.001, 15);
    expect(learningRateAt('cosine', 5, 10, 0.001)).toBeCloseTo(0.0005, 15);
    expect(learningRateAt('cosine', 5, 10, 0.001, { minLearningRate: 0.0001 })).toBeCloseTo(0.00055, 15);
    expect(learningRateAt('cosine', 9, 10, 1)).toBeCloseTo((1 + Math.cos((Math.PI * 9) / 10)) / 2, 15);
    expect(learningRateAt('step', 9, 30, 0.1, { stepEvery: 10 })).toBe(0.1);
    expect(learningRateAt('step', 25, 30, 0.1, { stepEvery: 10, stepFactor: 0.1 })).toBeCloseTo(0.001, 15);
    expect(learningRateAt((e, base) => base / (e + 1), 3, 10, 1)).toBe(0.25);
    expect(() => learningRateAt(() => -1, 0, 10, 1)).toThrow(/returned -1/);
  });
});

for (const backend of BACKENDS) {
  describe(`trainCnn mechanics on ${backend}`, () => {
    beforeAll(() => useBackend(backend));
    afterAll(() => useBackend('cpu'));
    const data = tinySplit(40);

    it('is reproducible with a seed (a number or its string), and a different seed gives a different run', async () => {
      const run = async (seed: number | string) => {
        const m = small();
        const h = await trainCnn(m, data, { epochs: 2, batchSize: 16, seed, erasing: { p: 0.5 } });
        const w = weightsOf(m);
        m.dispose();
        return { w, losses: h.epochs.map((e) => e.loss) };
      };
      const a = await run(1);
      const b = await run(1);
      const c = await run(2);
      const d = await run('1');
      expect(b.w).toEqual(a.w);
      expect(b.losses).toEqual(a.losses);
      expect(d.w).toEqual(a.w);
      expect(c.w).not.toEqual(a.w);
    });

    it('resuming at an epoch with the weights and optimizer state replays an uninterrupted run', async () => {
      const options = {
        epochs: 3,
        batchSize: 16,
        seed: 'resume',
        schedule: 'cosine' as const,
        erasing: { p: 0.5 },
      };
      const straight = small();
      await trainCnn(straight, data, options);
      const first = small();
      let weights: tf.Tensor[] = [];
      let state: { name: string; tensor: tf.Tensor }[] = [];
      await trainCnn(first, data, {
        ...options,
        onEpochEnd: async (log) => {
          if (log.epoch !== 0) return;
          weights = first.getWeights().map((w) => tf.clone(w));
          state = (await first.optimizer.getWeights()).map((w) => ({
            name: w.name,
            tensor: tf.clone(w.tensor),
          }));
        },
      });
      const resumed = small();
      resumed.setWeights(weights);
      await resumed.optimizer.setWeights(state);
      tf.dispose([...weights, ...state.map((w) => w.tensor)]);
      await trainCnn(resumed, data, { ...options, initialEpoch: 1 });
      expect(weightsOf(resumed)).toEqual(weightsOf(straight));
      for (const m of [straight, first, resumed]) m.dispose();
    });

    it('does not grow the number of tensors over epochs, and leaves dropout and the rate as they were', async () => {
      const m = small();
      await trainCnn(m, data, { epochs: 1, batchSize: 16, seed: 1 }); // creates the optimizer's state
      const before = tf.memory().numTensors;
      await trainCnn(m, data, {
        epochs: 4,
        batchSize: 16,
        seed: 1,
        schedule: 'cosine',
        validationData: tinySplit(10, 1),
        patience: 10,
      });
      expect(tf.memory().numTensors).toBe(before);
      const seeds = m.layers.filter((l) => l.getClassName() === 'Dropout').map((l) => l.getConfig().seed);
      expect(seeds).toEqual([undefined, undefined, undefined]);
      expect((m.optimizer as ScheduledAdam).learningRate).toBe(0.001);
      m.dispose();
    });

    it('frees everything it made, the optimizer state included, once the model is disposed', async () => {
      const before = tf.memory().numTensors;
      const m = small();
      await trainCnn(m, data, { epochs: 1, batchSize: 16, seed: 1, schedule: 'cosine', erasing: { p: 1 } });
      m.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });

    it('keeps memory flat over many epochs (data stays as bytes, one batch of tensors at a time)', async () => {
      const m = small();
      const big = tinySplit(64, 5);
      await trainCnn(m, big, { epochs: 3, batchSize: 16, seed: 1 }); // warm-up: heaps and kernels settle
      const usage = () => {
        gc();
        const u = process.memoryUsage();
        return { rss: u.rss, js: u.heapUsed, tensorBytes: tf.memory().numBytes };
      };
      const before = usage();
      const tensorsBefore = tf.memory().numTensors;
      await trainCnn(m, big, { epochs: 20, batchSize: 16, seed: 1, validationData: tinySplit(16, 6) });
      const after = usage();
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      expect(after.tensorBytes).toBe(before.tensorBytes);
      // Measured after a forced GC: the JS heap moves by about 0.1 MB and RSS by under 10 MB (allocator noise)
      // over 20 epochs; the limits catch anything that keeps per-batch or per-epoch objects alive.
      expect(after.js - before.js).toBeLessThan(2 * 1024 * 1024);
      expect(after.rss - before.rss).toBeLessThan(32 * 1024 * 1024);
      m.dispose();
    });

    /** Runs trainCnn on a fresh small model and returns every image that reached the model, in order. */
    const watch = async (options: Parameters<typeof trainCnn>[2], model = small()) => {
      const seen: Float32Array[] = [];
      const original = model.trainOnBatch.bind(model);
      model.trainOnBatch = (x, y) => {
        seen.push((x as tf.Tensor).dataSync() as Float32Array);
        return original(x, y);
      };
      // fusedStep: false, so that every batch goes through the spied trainOnBatch
      await trainCnn(model, data, { epochs: 1, batchSize: 16, seed: 4, fusedStep: false, ...options });
      model.dispose();
      const all = new Float32Array(seen.reduce((a, b) => a + b.length, 0));
      let at = 0;
      for (const b of seen) {
        all.set(b, at);
        at += b.length;
      }
      return Array.from({ length: all.length / 784 }, (_, i) => all.subarray(i * 784, (i + 1) * 784));
    };
    // A fill value no byte / 255 can take marks the erased pixels: 127.5 in the split's units is 0.5.
    const marker = { v_l: 127.5, v_h: 127.5, s_l: 0.1, s_h: 0.2 };
    const marked = (img: Float32Array) => img.filter((v) => v === 0.5).length;

    it('feeds normalised, shuffled images and erases each image with probability p, with the given options', async () => {
      const clean = await watch({});
      expect(clean.length).toBe(40);
      const originals = Array.from({ length: 40 }, (_, i) =>
        Array.from(data.images.subarray(i * 784, (i + 1) * 784), (v) => Math.fround(v / 255)),
      );
      const positions = clean.map((img) => originals.findIndex((o) => o.every((v, k) => v === img[k])));
      expect([...positions].sort((a, b) => a - b)).toEqual(originals.map((_, i) => i)); // a permutation
      expect(positions).not.toEqual(originals.map((_, i) => i)); // shuffled
      expect(clean.every((img) => marked(img) === 0)).toBe(true);
      expect(await watch({ erasing: false })).toEqual(clean); // off by default, and `false` is off

      const all = await watch({ erasing: { p: 1, ...marker } });
      for (const img of all) {
        // Area fraction in [s_l, s_h], up to the flooring of the rectangle's sides.
        expect(marked(img)).toBeGreaterThan(0);
        expect(marked(img)).toBeLessThanOrEqual(0.2 * 784);
      }
      const half = await watch({ erasing: { p: 0.5, ...marker } });
      const erased = half.filter((img) => marked(img) > 0).length;
      expect(erased).toBeGreaterThan(8);
      expect(erased).toBeLessThan(32);
      // Default fill: uniform values in 0..255 of the split's units, so [0, 1] once normalised.
      const noisy = await watch({ erasing: { p: 1 } });
      for (const img of noisy) for (const v of img) expect(v >= 0 && v <= 1).toBe(true);
      expect(noisy).not.toEqual(clean);
      // The erasing has its own seed when given one, else the run's.
      const own = await watch({ erasing: { p: 1, seed: 'own' } });
      expect(await watch({ erasing: { p: 1, seed: 'own' }, seed: 4 })).toEqual(own);
      expect(own.map(marked)).toEqual(noisy.map(marked)); // both: no marker
      expect(own).not.toEqual(noisy);
    });

    it('erases each chosen image exactly once, with a RandomEraser it is given (counted)', async () => {
      const eraser = new RandomEraser({ p: 0.5, ...marker, seed: 'count' });
      const images = await watch({ erasing: eraser });
      const erasedImages = images.filter((img) => marked(img) > 0).length;
      expect(eraser.stats.images).toBe(40); // one draw per image that reached the model
      expect(eraser.stats.erased).toBe(erasedImages); // each chosen image erased, once
      expect(erasedImages).toBeGreaterThan(0);
      expect(erasedImages).toBeLessThan(40);
      // Erasing once: a rectangle of one value, never two overlapping rectangles (which could exceed s_h).
      for (const img of images) expect(marked(img)).toBeLessThanOrEqual(0.2 * 784);
      // The same eraser continues its stream on the next run.
      await watch({ erasing: eraser });
      expect(eraser.stats.images).toBe(80);
    });

    it('lets a RandomErasing layer erase (once per image) and refuses to erase a second time', async () => {
      const withLayer = () => {
        const m = tfl.sequential({
          layers: [
            randomErasing({ inputShape: [28, 28, 1], p: 0.5, v_h: 1, seed: 1 }),
            tfl.layers.flatten(),
            tfl.layers.dense({ units: 10, activation: 'softmax' }),
          ],
        });
        m.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
        return m;
      };
      const m = withLayer();
      const layer = m.layers[0] as RandomErasing;
      await trainCnn(m, data, { epochs: 2, batchSize: 16, seed: 1 });
      expect(layer.stats.images).toBe(80);
      expect(layer.stats.erased).toBeGreaterThan(0);
      const before = tf.memory().numTensors;
      for (const erasing of [{ p: 0.15 }, new RandomEraser({ p: 1 })]) {
        const attempt = trainCnn(m, data, { epochs: 1, erasing });
        await expect(attempt).rejects.toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
        await expect(trainCnn(m, data, { epochs: 1, erasing })).rejects.toThrow(
          /RandomErasing layer .*erased twice; remove the layer or pass erasing: false/,
        );
      }
      expect(layer.stats.images).toBe(80); // nothing ran
      expect(tf.memory().numTensors).toBe(before);
      m.dispose();
    });

    it('drives a plain tfjs Adam through a schedule like its own optimizer, and gives it back', async () => {
      const ours = small(9);
      const theirs = small(9);
      const adam = tf.train.adam(0.001, 0.9, 0.999, 1e-7);
      theirs.compile({ optimizer: adam, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      const options = { epochs: 3, batchSize: 16, seed: 2, schedule: 'cosine' as const };
      const a = await trainCnn(ours, data, options);
      const before = tf.memory().numTensors;
      const b = await trainCnn(theirs, data, options);
      expect(b.epochs.map((e) => e.learningRate)).toEqual(a.epochs.map((e) => e.learningRate));
      expect(weightsOf(theirs)).toEqual(weightsOf(ours));
      expect(theirs.optimizer).toBe(adam);
      expect(adam.getConfig().learningRate).toBe(0.001);
      // Its state came back: a first and a second moment per trainable weight, nothing else left over.
      const state = await adam.getWeights();
      expect(state.length).toBe(1 + 2 * theirs.trainableWeights.length);
      expect(state[0]!.tensor.dataSync()[0]).toBe(9); // 3 epochs × 3 batches
      tf.dispose(state[0]!.tensor);
      expect(tf.memory().numTensors).toBe(before + 2 * theirs.trainableWeights.length);
      // An optimizer without a public rate is refused when the run needs other rates, and used as is otherwise.
      const sgd = small(9);
      sgd.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      await expect(trainCnn(sgd, data, options)).rejects.toThrow(/offers no public way to change its rate/);
      const h = await trainCnn(sgd, data, { epochs: 1, batchSize: 16 });
      expect(h.epochs[0]!.learningRate).toBe(0.1);
      for (const m of [ours, theirs, sgd]) m.dispose();
      adam.dispose();
    });

    it('reports progress, follows the schedule and validates on a split of the data', async () => {
      const m = small();
      const batchesSeen: number[] = [];
      const logs: EpochLog[] = [];
      const h = await trainCnn(m, data, {
        epochs: 3,
        batchSize: 8,
        seed: 2,
        schedule: 'step',
        stepEvery: 1,
        stepFactor: 0.5,
        learningRate: 0.004,
        validationSplit: 0.2,
        onBatchEnd: (p) => {
          batchesSeen.push(p.batch);
          expect(p.batches).toBe(4); // 32 training images after holding out 8
          expect(p.imagesPerSec).toBeGreaterThan(0);
          expect(p.etaSeconds).toBeGreaterThanOrEqual(0);
          expect(Number.isFinite(p.loss)).toBe(true);
        },
        onEpochEnd: async (log) => {
          logs.push(log);
        },
      });
      expect(batchesSeen).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
      expect(logs.map((l) => l.learningRate)).toEqual([0.004, 0.002, 0.001]);
      expect(h.epochs).toEqual(logs);
      expect(h.stopReason).toBe('completed');
      for (const l of logs) {
        expect(l.valAcc).toBeGreaterThanOrEqual(0);
        expect(l.valLoss).toBeGreaterThan(0);
      }
      m.dispose();
    });

    it('stops early when validation stops improving', async () => {
      const m = small();
      // A rate so small the validation accuracy cannot change: no epoch improves on the first.
      const h = await trainCnn(m, data, {
        epochs: 10,
        batchSize: 20,
        seed: 1,
        learningRate: 1e-12,
        validationData: tinySplit(10, 3),
        patience: 1,
        monitor: 'valAcc',
      });
      expect(h.stopReason).toBe('early-stopping');
      expect(h.epochs.length).toBe(3);
      m.dispose();
    });

    it('restores the best weights after early stopping', async () => {
      const m = small();
      let best: number[][] = [];
      const h = await trainCnn(m, data, {
        epochs: 6,
        batchSize: 20,
        seed: 1,
        // A sane first epoch, then a rate that wrecks the model: validation loss only gets worse.
        schedule: (epoch) => (epoch === 0 ? 1e-3 : 50),
        validationData: tinySplit(10, 3),
        patience: 2,
        onEpochEnd: (log) => {
          if (log.epoch === 0) best = weightsOf(m);
        },
      });
      expect(h.stopReason).toBe('early-stopping');
      expect(h.restoredEpoch).toBe(0);
      expect(weightsOf(m)).toEqual(best);
      m.dispose();
    });

    it('on a failure in a callback, leaks nothing and gives back the optimizer, its rate and its state', async () => {
      const m = small(5);
      const adam = tf.train.adam(0.002, 0.9, 0.999, 1e-7);
      m.compile({ optimizer: adam, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      await trainCnn(m, data, { epochs: 1, batchSize: 16, seed: 1 }); // adam's moments now exist
      const before = tf.memory().numTensors;
      const failing = trainCnn(m, data, {
        epochs: 3,
        batchSize: 16,
        seed: 1,
        schedule: 'cosine',
        erasing: { p: 0.5 },
        onBatchEnd: (p) => {
          if (p.epoch === 1 && p.batch === 1) throw new Error('callback failed');
        },
      });
      await expect(failing).rejects.toThrow('callback failed');
      expect(m.optimizer).toBe(adam);
      expect(adam.getConfig().learningRate).toBe(0.002);
      expect(tf.memory().numTensors).toBe(before);
      const state = await adam.getWeights();
      expect(state[0]!.tensor.dataSync()[0]).toBe(3 + 5); // 1 epoch + 1 epoch + 2 batches
      tf.dispose(state[0]!.tensor);
      m.dispose();
      adam.dispose();
    });

    it('stops after the current batch when aborted', async () => {
      const m = small();
      const ctl = new AbortController();
      const h = await trainCnn(m, data, {
        epochs: 5,
        batchSize: 8,
        seed: 1,
        onBatchEnd: (p) => {
          if (p.batch === 1) ctl.abort();
        },
        signal: ctl.signal,
      });
      expect(h.stopReason).toBe('aborted');
      expect(h.epochs.length).toBe(1);
      m.dispose();
    });
  });
}

describe('trainCnn cropFlip (cpu)', () => {
  beforeAll(() => useBackend('cpu'));
  const data = tinySplit(40);
  const px = 784;

  /**
   * Every image (normalised) that reached the model, in order. The model does not train (what it is fed does not
   * depend on its weights), which keeps these runs fast.
   */
  const feed = async (options: Parameters<typeof trainCnn>[2], model = small()) => {
    const seen: Float32Array[] = [];
    model.trainOnBatch = async (x) => {
      const batch = (x as tf.Tensor).dataSync() as Float32Array;
      for (let i = 0; i < batch.length / px; i++) seen.push(batch.slice(i * px, (i + 1) * px));
      return [1, 0];
    };
    try {
      await trainCnn(model, data, { epochs: 1, batchSize: 16, seed: 4, fusedStep: false, ...options });
    } finally {
      model.dispose();
    }
    return seen;
  };
  /** What trainCnn must feed for images `order` in epoch `epoch`: the core's draws from the run's stream. */
  const expected = (
    seed: Seed,
    epoch: number,
    options: object,
    order = Array.from({ length: data.count }, (_, i) => i),
    erase?: RandomEraser,
  ) => {
    const resolved = resolveCropFlipOptions('test', options);
    const random = createRandomSource(seed, epoch, 'crop-flip');
    return order.map((i) => {
      const out = new Float32Array(px);
      writeCropFlip(data.images, i * px, out, 0, 28, 28, 1, sampleCropFlip(resolved, random));
      if (erase) writeErase(out, 0, 28, 1, erase.sampleParams(28, 28, 1), 'float32');
      return out.map((v) => v / 255);
    });
  };
  const originals = Array.from({ length: 40 }, (_, i) =>
    Float32Array.from(data.images.subarray(i * px, (i + 1) * px), (v) => v / 255),
  );

  it("feeds exactly writeCropFlip's output for the params drawn from the run's 'crop-flip' stream", async () => {
    const got = await feed({ shuffle: false, seed: 'cf', cropFlip: { padding: 3, flip: 0.5 } });
    expect(got).toEqual(expected('cf', 0, { padding: 3, flip: 0.5 }));
    // It did something: most images moved or mirrored, and the plain run feeds the originals.
    expect(got.filter((img, i) => img.some((v, k) => v !== originals[i]![k])).length).toBeGreaterThan(30);
    expect(await feed({ shuffle: false, seed: 'cf' })).toEqual(originals);
    expect(await feed({ shuffle: false, seed: 'cf', cropFlip: false })).toEqual(originals);
    // `{}` takes the defaults (padding 2, flip 0.5); flip only, no shift, with padding 0.
    expect(await feed({ shuffle: false, seed: 'cf', cropFlip: {} })).toEqual(expected('cf', 0, {}));
    const mirrored = await feed({ shuffle: false, seed: 'cf', cropFlip: { padding: 0, flip: 1 } });
    expect(mirrored).toEqual(expected('cf', 0, { padding: 0, flip: 1 }));
    expect(mirrored[0]![0]).toBe(originals[0]![27]);
  });

  it('draws per image in the shuffled order, a new stream each epoch, reproducibly, and replays on resume', async () => {
    const options = { epochs: 2, seed: 'resume-cf', cropFlip: { padding: 2, flip: 0.5 } };
    const run = await feed(options);
    expect(run.length).toBe(80);
    // The shuffle is the run's own ('shuffle' stream); the crop draws follow the order images are fed in.
    const shuffled = (epoch: number) =>
      Array.from(permutationFrom(40, createRandomSource('resume-cf', epoch, 'shuffle')));
    expect(run.slice(0, 40)).toEqual(expected('resume-cf', 0, options.cropFlip, shuffled(0)));
    expect(run.slice(40)).toEqual(expected('resume-cf', 1, options.cropFlip, shuffled(1)));
    expect(run.slice(40)).not.toEqual(run.slice(0, 40));
    expect(await feed(options)).toEqual(run); // the same seed, the same images
    expect(await feed({ ...options, seed: 'other' })).not.toEqual(run);
    expect(await feed({ ...options, initialEpoch: 1 })).toEqual(run.slice(40)); // resumed at epoch 1
    // Without a seed each run draws its own stream.
    const unseeded = { ...options, seed: undefined, shuffle: false };
    expect(await feed(unseeded)).not.toEqual(await feed(unseeded));
  });

  it('crops and flips first, then erases, each from its own stream', async () => {
    // A fill value no byte / 255 can take (127.5 → 0.5) marks the erased pixels.
    const marker = { p: 1, v_l: 127.5, v_h: 127.5, s_l: 0.1, s_h: 0.2, seed: 'er' };
    const cropFlip = { padding: 3, flip: 0.5 };
    const got = await feed({ shuffle: false, seed: 'both', cropFlip, erasing: new RandomEraser(marker) });
    expect(got).toEqual(expected('both', 0, cropFlip, undefined, new RandomEraser(marker)));
    expect(got.every((img) => img.some((v) => v === 0.5))).toBe(true);
    // The other order (erase, then crop and flip) gives other images: the comparison above can tell.
    const twin = new RandomEraser(marker);
    const resolved = resolveCropFlipOptions('test', cropFlip);
    const random = createRandomSource('both', 0, 'crop-flip');
    const eraseFirst = originals.map((_, i) => {
      const erased = Float32Array.from(data.images.subarray(i * px, (i + 1) * px));
      writeErase(erased, 0, 28, 1, twin.sampleParams(28, 28, 1), 'float32');
      const out = new Float32Array(px);
      writeCropFlip(erased, 0, out, 0, 28, 28, 1, sampleCropFlip(resolved, random));
      return out.map((v) => v / 255);
    });
    expect(got).not.toEqual(eraseFirst);
    // Turning erasing on does not move the crop draws, nor the other way round.
    const cropOnly = await feed({ shuffle: false, seed: 'both', cropFlip });
    expect(cropOnly).toEqual(expected('both', 0, cropFlip));
    expect(got.map((img, i) => img.every((v, k) => v === 0.5 || v === cropOnly[i]![k]))).not.toContain(false);
  });

  it('leaks no tensors, on success and when a callback fails mid-run', async () => {
    const m = small();
    await trainCnn(m, data, { epochs: 1, batchSize: 16, seed: 1 }); // creates the optimizer's state
    const before = tf.memory().numTensors;
    await trainCnn(m, data, { epochs: 2, batchSize: 16, seed: 1, cropFlip: {}, erasing: { p: 0.5 } });
    expect(tf.memory().numTensors).toBe(before);
    const failing = trainCnn(m, data, {
      epochs: 2,
      batchSize: 16,
      seed: 1,
      cropFlip: { padding: 4 },
      onBatchEnd: (p) => {
        if (p.epoch === 1 && p.batch === 1) throw new Error('callback failed');
      },
    });
    await expect(failing).rejects.toThrow('callback failed');
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});

describe('trainCnn validation', () => {
  beforeAll(() => useBackend('cpu'));
  const data = tinySplit(8);
  const cases: [string, unknown, RegExp][] = [
    ['unknown option', { epoch: 1 }, /unknown option 'epoch'/],
    ['epochs', { epochs: 0 }, /'epochs'/],
    ['batchSize type', { batchSize: '64' }, /'batchSize'/],
    ['seed type', { seed: {} }, /'seed' must be a finite number or a string/],
    ['seed NaN', { seed: Number.NaN }, /'seed'/],
    [
      '0.1.0 eraseFraction',
      { eraseFraction: 0.15 },
      /'eraseFraction' was replaced in 0.2.0 by 'erasing: \{ p \}'/,
    ],
    ['0.1.0 erase', { erase: { s_l: 0.1 } }, /'erase' was replaced in 0.2.0 by 'erasing'/],
    ['erasing type', { erasing: 3 }, /'erasing' must be RandomErasingOptions, a RandomEraser or false/],
    ['erasing true', { erasing: true }, /'erasing'/],
    ['erasing.p', { erasing: { p: 1.5 } }, /'p'/],
    ['erasing option', { erasing: { s_l: 2 } }, /s_l/],
    ['erasing unknown key', { erasing: { fraction: 0.1 } }, /unknown option 'fraction'/],
    ['erasing that cannot fit', { erasing: { s_l: 1, s_h: 1, r_1: 3, r_2: 3 } }, /fits a 28×28 image/],
    ['schedule', { schedule: 'linear' }, /'schedule' must be one of 'constant', 'cosine', 'step'/],
    ['validationSplit', { validationSplit: 1 }, /'validationSplit'/],
    ['validationSplit leaving nothing', { validationSplit: 0.01 }, /leaves no validation/],
    ['patience without validation', { patience: 2 }, /needs validationData/],
    ['monitor', { monitor: 'loss' }, /'monitor'/],
    ['initialEpoch', { epochs: 2, initialEpoch: 3 }, /'initialEpoch'/],
    ['onEpochEnd', { onEpochEnd: 'log' }, /'onEpochEnd' must be a function/],
    ['signal', { signal: {} }, /'signal' must be an AbortSignal/],
    ['learningRate', { learningRate: -1 }, /'learningRate'/],
    ['schedule result', { schedule: () => 0 }, /the schedule returned 0 for epoch 0/],
    [
      'cropFlip padding as large as the image',
      { cropFlip: { padding: 28 } },
      /'cropFlip.padding' 28 must be smaller than the 28x28 image/,
    ],
    ['cropFlip padding beyond its range', { cropFlip: { padding: 65 } }, /'cropFlip.padding'/],
    [
      'cropFlip negative padding',
      { cropFlip: { padding: -1 } },
      /'cropFlip.padding' must be an integer >= 0/,
    ],
    ['cropFlip fractional padding', { cropFlip: { padding: 0.5 } }, /'cropFlip.padding'/],
    ['cropFlip flip 2', { cropFlip: { flip: 2 } }, /'cropFlip.flip' must be a number >= 0 and <= 1/],
    ['cropFlip unknown key', { cropFlip: { pad: 2 } }, /cropFlip: unknown option 'pad'/],
    ['cropFlip true', { cropFlip: true }, /cropFlip: options must be an object, received true/],
  ];
  for (const [name, options, message] of cases) {
    it(`rejects ${name} with BAD_OPTION, before any work and without leaking`, async () => {
      const m = small();
      const before = tf.memory().numTensors;
      await expect(trainCnn(m, data, options as never)).rejects.toThrow(
        expect.objectContaining({ name: 'FashionMnistError', code: 'BAD_OPTION' }),
      );
      await expect(trainCnn(m, data, options as never)).rejects.toThrow(message);
      expect(tf.memory().numTensors).toBe(before);
      m.dispose();
    });
  }

  it('rejects an uncompiled model, data that does not fit and labels that are not classes, by code', async () => {
    const raw = buildCnn({ compile: false, filters: [2], denseUnits: 4 });
    await expect(trainCnn(raw, data)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    raw.dispose();
    const m = small();
    const wrong: Split = { ...data, height: 14, width: 56 };
    await expect(trainCnn(m, wrong)).rejects.toMatchObject({ code: 'BAD_SHAPE' });
    await expect(trainCnn(m, { ...data, images: data.images.subarray(0, 700) })).rejects.toMatchObject({
      code: 'BAD_SHAPE',
    });
    await expect(trainCnn(m, { ...data, labels: data.labels.subarray(0, 3) })).rejects.toMatchObject({
      code: 'COUNT_MISMATCH',
    });
    const badLabel = trainCnn(m, { ...data, labels: Uint8Array.from([12, 0, 0, 0, 0, 0, 0, 0]) });
    await expect(badLabel).rejects.toMatchObject({ code: 'BAD_LABEL' });
    await expect(
      trainCnn(m, { ...data, labels: Uint8Array.from([12, 0, 0, 0, 0, 0, 0, 0]) }),
    ).rejects.toThrow(/label 12/);
    await expect(trainCnn(m, 'data' as never)).rejects.toThrow(FashionMnistError);
    await expect(trainCnn(m, 'data' as never)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    m.dispose();
  });

  it('has frozen defaults matching the reference recipe, with erasing off unless asked for', () => {
    expect(Object.isFrozen(TRAIN_CNN_DEFAULTS)).toBe(true);
    expect(TRAIN_CNN_DEFAULTS).toMatchObject({ batchSize: 64, erasing: false, schedule: 'constant' });
  });
});

describe('training the reference CNN on the embedded sample (wasm + fast kernels)', () => {
  beforeAll(() => useBackend('wasm'));
  afterAll(() => useBackend('cpu'));

  it('lowers the loss and clears the measured accuracy floor', async () => {
    const sample = await loadSample();
    const train = subset(sample.train, 0, 3000);
    const model = buildCnn({ seed: 1 });
    const before = await evaluateCnn(model, sample.test);
    const h = await trainCnn(model, train, { epochs: 2, seed: 1, schedule: 'cosine', erasing: { p: 0.15 } });
    const after = await evaluateCnn(model, sample.test);
    expect(h.epochs[1].loss).toBeLessThan(h.epochs[0].loss);
    expect(after.loss).toBeLessThan(before.loss);
    // Measured on wasm (tfjs 4.22, this recipe, 3,000 images, 2 epochs): 0.736 for seed 1 (0.756 and 0.763 for
    // seeds 2 and 3), from 0.10 untrained; the floor leaves room for other tfjs versions and CPUs.
    expect(before.accuracy).toBeLessThan(0.3);
    expect(after.accuracy).toBeGreaterThan(0.7);
    model.dispose();
  }, 120_000);
});
