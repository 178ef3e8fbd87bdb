import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_CNN_DEFAULTS, buildCnn, countTrainableParams } from '../../src/cnn/build.js';
import { SeededDropout } from '../../src/cnn/dropout.js';
import { loadModel, saveModel } from '../../src/cnn/io-node.js';
import { ScheduledAdam } from '../../src/cnn/optimizer.js';
import { createRandomSource } from '../../src/internal/random.js';
import { BACKENDS, useBackend } from '../helpers/backends.js';

const layerSummary = (m: ReturnType<typeof buildCnn>) =>
  m.layers.map((l) => {
    const c = l.getConfig() as Record<string, unknown>;
    return [l.getClassName(), c.filters ?? c.units ?? c.rate ?? c.poolSize ?? null];
  });

describe('buildCnn', () => {
  beforeAll(() => useBackend('cpu'));

  it('builds the reference network: layer sequence, shapes, activations and 412,778 parameters', () => {
    const m = buildCnn();
    expect(layerSummary(m)).toEqual([
      ['Conv2D', 64],
      ['MaxPooling2D', [2, 2]],
      ['Dropout', 0.3],
      ['Conv2D', 32],
      ['MaxPooling2D', [2, 2]],
      ['Dropout', 0.3],
      ['Flatten', null],
      ['Dense', 256],
      ['Dropout', 0.5],
      ['Dense', 10],
    ]);
    expect(countTrainableParams(m)).toBe(412_778);
    expect(m.countParams()).toBe(412_778);
    expect(m.inputs[0].shape).toEqual([null, 28, 28, 1]);
    expect(m.outputs[0].shape).toEqual([null, 10]);
    const convs = m.layers.filter((l) => l.getClassName() === 'Conv2D').map((l) => l.getConfig());
    for (const c of convs) {
      expect(c.kernelSize).toEqual([2, 2]);
      expect(c.padding).toBe('same');
      expect(c.activation).toBe('relu');
    }
    const dense = m.layers.filter((l) => l.getClassName() === 'Dense').map((l) => l.getConfig().activation);
    expect(dense).toEqual(['relu', 'softmax']);
    m.dispose();
  });

  it('compiles with Adam(0.001), categorical cross-entropy and accuracy', () => {
    const m = buildCnn();
    const opt = m.optimizer as ScheduledAdam;
    expect(opt).toBeInstanceOf(ScheduledAdam);
    expect(opt.getClassName()).toBe('Adam');
    expect(opt.learningRate).toBe(0.001);
    expect(opt.getConfig()).toEqual({ learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
    expect(m.loss).toBe('categoricalCrossentropy');
    expect(m.metricsNames).toEqual(['loss', 'acc']);
    m.dispose();
  });

  it('returns a fresh model per call, and a seed gives identical initial weights', () => {
    const a = buildCnn({ seed: 7 });
    const b = buildCnn({ seed: 7 });
    const c = buildCnn({ seed: 8 });
    expect(a).not.toBe(b);
    const wa = a.getWeights().map((w) => w.dataSync());
    const wb = b.getWeights().map((w) => w.dataSync());
    const wc = c.getWeights().map((w) => w.dataSync());
    expect(wb).toEqual(wa);
    expect(wc[0]).not.toEqual(wa[0]);
    // A number seed and its decimal string are the same seed; any string is a seed.
    const d = buildCnn({ seed: '7' });
    expect(d.getWeights().map((w) => w.dataSync())).toEqual(wa);
    const e = buildCnn({ seed: 'run-A' });
    expect(e.getWeights()[0]!.dataSync()).not.toEqual(wa[0]);
    d.dispose();
    e.dispose();
    // The two conv kernels differ even though they come from one seed (one derived seed per layer).
    expect(Array.from(wa[2].slice(0, 8))).not.toEqual(Array.from(wa[0].slice(0, 8)));
    // Glorot-uniform: |w| <= sqrt(6 / (fanIn + fanOut)); for the last layer that is sqrt(6 / 266).
    const limit = Math.sqrt(6 / (256 + 10));
    expect(Math.max(...Array.from(wa[6]).map(Math.abs))).toBeLessThanOrEqual(limit + 1e-7);
    for (const m of [a, b, c]) m.dispose();
  });

  for (const backend of BACKENDS) {
    it(`seeded initial weights are the same on ${backend} as on cpu`, async () => {
      await useBackend('cpu');
      const ref = buildCnn({ seed: 3 });
      const refW = ref.getWeights().map((w) => Array.from(w.dataSync()));
      ref.dispose();
      await useBackend(backend);
      const m = buildCnn({ seed: 3 });
      expect(m.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(refW);
      const p = tf.tidy(() => m.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor);
      expect(p.shape).toEqual([2, 10]);
      const sums = tf.tidy(() => tf.sum(p, 1).dataSync());
      for (const s of sums) expect(s).toBeCloseTo(1, 5);
      p.dispose();
      m.dispose();
      await useBackend('cpu');
    });
  }

  it('applies each option', () => {
    const m = buildCnn({
      filters: [8, 16, 4],
      kernelSize: 3,
      poolSize: 2,
      convDropout: 0.1,
      denseUnits: 20,
      denseDropout: 0.2,
      classes: 5,
      inputShape: [32, 32, 3],
      learningRate: 0.01,
      compile: true,
    });
    expect(layerSummary(m)).toEqual([
      ['Conv2D', 8],
      ['MaxPooling2D', [2, 2]],
      ['Dropout', 0.1],
      ['Conv2D', 16],
      ['MaxPooling2D', [2, 2]],
      ['Dropout', 0.1],
      ['Conv2D', 4],
      ['MaxPooling2D', [2, 2]],
      ['Dropout', 0.1],
      ['Flatten', null],
      ['Dense', 20],
      ['Dropout', 0.2],
      ['Dense', 5],
    ]);
    expect(m.layers[0].getConfig().kernelSize).toEqual([3, 3]);
    expect(m.inputs[0].shape).toEqual([null, 32, 32, 3]);
    // (3·3·3·8+8) + (3·3·8·16+16) + (3·3·16·4+4) + (4·4·4·20+20) + (20·5+5)
    expect(countTrainableParams(m)).toBe(224 + 1168 + 580 + 1300 + 105);
    expect((m.optimizer as ScheduledAdam).learningRate).toBe(0.01);
    m.dispose();
  });

  it('compile: false leaves the model uncompiled', () => {
    const m = buildCnn({ compile: false });
    expect(m.optimizer).toBeUndefined();
    m.dispose();
  });

  it('batchNorm: true adds BatchNormalization + ReLU after each convolution (no conv bias)', () => {
    const m = buildCnn({ batchNorm: true });
    expect(m.layers.map((l) => l.getClassName()).slice(0, 5)).toEqual([
      'Conv2D',
      'BatchNormalization',
      'Activation',
      'MaxPooling2D',
      'Dropout',
    ]);
    expect(m.layers[0].getConfig().useBias).toBe(false);
    // Convolutions lose their biases (64 + 32) and batch norm gains gamma and beta per channel (2·96).
    expect(countTrainableParams(m)).toBe(412_778 - 96 + 192);
    m.dispose();
  });

  it("architecture 'vgg-bn': BN conv stages, its own dropout defaults, 427,626 parameters, saves and loads", async () => {
    const m = buildCnn({ architecture: 'vgg-bn', seed: 3 });
    const convBnRelu = (f: number) => [
      ['Conv2D', f],
      ['BatchNormalization', null],
      ['Activation', null],
    ];
    expect(layerSummary(m)).toEqual([
      ...convBnRelu(32),
      ['MaxPooling2D', [2, 2]],
      ['Dropout', 0.1],
      ...convBnRelu(64),
      ...convBnRelu(64),
      ['MaxPooling2D', [2, 2]],
      ['Dropout', 0.1],
      ...convBnRelu(128),
      ['MaxPooling2D', [2, 2]],
      ['Dropout', 0.1],
      ['Flatten', null],
      ['Dense', 256],
      ['Dropout', 0.3],
      ['Dense', 10],
    ]);
    for (const l of m.layers.filter((x) => x.getClassName() === 'Conv2D')) {
      expect(l.getConfig().kernelSize).toEqual([3, 3]);
      expect(l.getConfig().useBias).toBe(false);
      expect(l.getConfig().padding).toBe('same');
    }
    // convs 9·(1·32 + 32·64 + 64·64 + 64·128) + BN gamma/beta 2·(32+64+64+128) + dense 1152·256+256 + 256·10+10
    expect(countTrainableParams(m)).toBe(9 * (32 + 2048 + 4096 + 8192) + 2 * 288 + 1152 * 256 + 256 + 2570);
    expect(countTrainableParams(m)).toBe(427_626);
    expect(m.outputs[0].shape).toEqual([null, 10]);
    // the same seed gives the same weights; options that act on the head are honoured
    const again = buildCnn({ architecture: 'vgg-bn', seed: 3 });
    m.getWeights().forEach((w, i) => {
      expect(w.dataSync()).toEqual(again.getWeights()[i]!.dataSync());
    });
    again.dispose();
    const custom = buildCnn({
      architecture: 'vgg-bn',
      convDropout: 0.2,
      denseDropout: 0.5,
      denseUnits: 32,
      classes: 4,
    });
    expect(layerSummary(custom).filter(([n]) => n === 'Dropout' || n === 'Dense')).toEqual([
      ['Dropout', 0.2],
      ['Dropout', 0.2],
      ['Dropout', 0.2],
      ['Dense', 32],
      ['Dropout', 0.5],
      ['Dense', 4],
    ]);
    custom.dispose();
    // a saved vgg-bn model (moving statistics included) loads back with the same predictions
    const dir = mkdtempSync(join(tmpdir(), 'vgg-bn-'));
    try {
      const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 5);
      const y = tf.oneHot(tf.tensor1d([1, 2, 3], 'int32'), 10);
      await m.trainOnBatch(x, y); // moves the batch-norm statistics away from their initial values
      await saveModel(m, dir);
      const loaded = await loadModel(dir);
      const p1 = m.predict(x) as tf.Tensor;
      const p2 = loaded.predict(x) as tf.Tensor;
      expect(Array.from(p2.dataSync())).toEqual(Array.from(p1.dataSync()));
      tf.dispose([x, y, p1, p2]);
      loaded.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      m.dispose();
    }
  });

  it('does not leak tensors beyond the model it returns, its optimizer state included', async () => {
    const before = tf.memory().numTensors;
    const m = buildCnn({ seed: 1 });
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const x = tf.zeros([2, 28, 28, 1]);
    const y = tf.oneHot(tf.tensor1d([1, 2], 'int32'), 10);
    const trainAndDispose = async () => {
      const trained = buildCnn({ seed: 1, filters: [2], denseUnits: 4 });
      await trained.trainOnBatch(x, y); // creates Adam's moments
      expect(tf.memory().numTensors).toBeGreaterThan(before + 2 + 2 * trained.getWeights().length);
      trained.dispose();
    };
    await trainAndDispose(); // tfjs-layers keeps a constant or two from its first training step
    const warm = tf.memory().numTensors;
    await trainAndDispose();
    expect(tf.memory().numTensors).toBe(warm);
    tf.dispose([x, y]);
  });

  it('has frozen defaults', () => {
    expect(Object.isFrozen(BUILD_CNN_DEFAULTS)).toBe(true);
    expect(BUILD_CNN_DEFAULTS.filters).toEqual([64, 32]);
    expect(BUILD_CNN_DEFAULTS.architecture).toBe('reference');
  });

  describe('validation', () => {
    const cases: [string, unknown, RegExp][] = [
      ['options not an object', 5, /options must be an object/],
      ['unknown option', { filter: [1] }, /unknown option 'filter'/],
      ['filters not an array', { filters: 64 }, /'filters' must be an array/],
      ['filters empty', { filters: [] }, /'filters' must be an array of one or more/],
      ['filters entry', { filters: [64, 0] }, /'filters\[1\]'.*received 0/],
      ['filters entry type', { filters: ['64'] }, /'filters\[0\]'/],
      ['kernelSize type', { kernelSize: '2' }, /'kernelSize'.*received "2"/],
      ['kernelSize fraction', { kernelSize: 2.5 }, /'kernelSize' must be an integer/],
      ['poolSize', { poolSize: 0 }, /'poolSize'/],
      ['convDropout', { convDropout: 1 }, /'convDropout'.*< 1.*received 1/],
      ['denseDropout', { denseDropout: -0.1 }, /'denseDropout'/],
      ['denseDropout type', { denseDropout: null }, /'denseDropout'/],
      ['denseUnits', { denseUnits: 0 }, /'denseUnits'/],
      ['classes', { classes: 1 }, /'classes'.*>= 2/],
      ['inputShape length', { inputShape: [28, 28] }, /'inputShape' must be an array of 3/],
      ['inputShape type', { inputShape: 'x' }, /'inputShape'/],
      ['learningRate', { learningRate: 0 }, /'learningRate'.*> 0/],
      ['learningRate NaN', { learningRate: Number.NaN }, /'learningRate'/],
      ['compile', { compile: 1 }, /'compile' must be a boolean/],
      ['batchNorm', { batchNorm: 'yes' }, /'batchNorm' must be a boolean/],
      ['seed NaN', { seed: Number.NaN }, /'seed'/],
      ['seed type', { seed: {} }, /'seed' must be a finite number or a string/],
      ['pools the image away', { filters: [8, 8, 8, 8, 8] }, /shrink a 28x28 input to nothing/],
      ['architecture', { architecture: 'resnet' }, /'architecture' must be one of 'reference', 'vgg-bn'/],
      ['architecture type', { architecture: 1 }, /'architecture'/],
      [
        'filters with vgg-bn',
        { architecture: 'vgg-bn', filters: [8] },
        /'filters' shapes the reference network/,
      ],
      ['batchNorm with vgg-bn', { architecture: 'vgg-bn', batchNorm: true }, /'batchNorm'.*'vgg-bn'/],
      ['vgg-bn on an image too small', { architecture: 'vgg-bn', inputShape: [6, 6, 1] }, /to nothing/],
    ];
    for (const [name, options, message] of cases) {
      it(`rejects ${name} with BAD_OPTION`, () => {
        expect(() => buildCnn(options as never)).toThrow(
          expect.objectContaining({ name: 'FashionMnistError', code: 'BAD_OPTION' }),
        );
        expect(() => buildCnn(options as never)).toThrow(message);
      });
    }
  });

  afterAll(() => useBackend('cpu'));
});

/** Gradients of a few fixed variables: enough to run optimizers side by side step for step. */
function problem(seed: string) {
  const random = createRandomSource(seed);
  const values = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);
  const vars = [tf.variable(tf.tensor2d(values(12), [3, 4])), tf.variable(tf.tensor1d(values(4)))];
  const x = tf.tensor2d(values(15), [5, 3]);
  const loss = () => tf.tidy(() => tf.sum(tf.square(tf.add(tf.matMul(x, vars[0]!), vars[1]!))) as tf.Scalar);
  return { vars, x, loss, dispose: () => tf.dispose([...vars, x]) };
}

for (const backend of BACKENDS) {
  describe(`ScheduledAdam on ${backend}`, () => {
    beforeAll(() => useBackend(backend));
    afterAll(() => useBackend('cpu'));

    it('takes the same steps as tf.train.adam, also after a rate change', () => {
      const a = problem('adam');
      const b = problem('adam');
      const ours = new ScheduledAdam(0.01, 0.9, 0.999, 1e-7);
      const theirs = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
      for (let step = 0; step < 6; step++) {
        ours.minimize(a.loss, false, a.vars);
        theirs.minimize(b.loss, false, b.vars);
      }
      // tfjs-core's rate is only reachable by a new optimizer; ours changes in place.
      ours.setLearningRate(0.002);
      const theirs2 = tf.train.adam(0.002, 0.9, 0.999, 1e-7);
      return (async () => {
        await theirs2.setWeights(await theirs.getWeights());
        for (let step = 0; step < 4; step++) {
          ours.minimize(a.loss, false, a.vars);
          theirs2.minimize(b.loss, false, b.vars);
        }
        for (let i = 0; i < a.vars.length; i++) {
          const got = a.vars[i]!.dataSync();
          const want = b.vars[i]!.dataSync();
          for (let k = 0; k < got.length; k++) expect(Math.abs(got[k]! - want[k]!)).toBeLessThanOrEqual(1e-6);
        }
        expect(ours.iterations).toBe(10);
        for (const o of [ours, theirs, theirs2]) o.dispose();
        a.dispose();
        b.dispose();
      })();
    });

    it('exchanges state with tfjs Adam both ways (getWeights / setWeights), so checkpoints keep working', async () => {
      const a = problem('state');
      const b = problem('state');
      const before = tf.memory().numTensors;
      const close = () => {
        for (let i = 0; i < a.vars.length; i++) {
          const got = b.vars[i]!.dataSync();
          const want = a.vars[i]!.dataSync();
          for (let k = 0; k < got.length; k++) expect(Math.abs(got[k]! - want[k]!)).toBeLessThanOrEqual(1e-6);
        }
      };
      const tfAdam = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
      for (let step = 0; step < 3; step++) tfAdam.minimize(a.loss, false, a.vars);
      for (let i = 0; i < b.vars.length; i++) (b.vars[i] as tf.Variable).assign(a.vars[i] as tf.Tensor);
      // tfjs Adam's state into ours: both go on alike.
      const ours = new ScheduledAdam(0.01);
      const tfState = await tfAdam.getWeights();
      expect(tfState.map((w) => w.name)).toEqual([
        'iter',
        ...a.vars.map((v) => `${v.name}/m`),
        ...a.vars.map((v) => `${v.name}/v`),
      ]);
      await ours.setWeights(tfState);
      tf.dispose(tfState[0]!.tensor);
      expect(ours.iterations).toBe(3);
      for (let step = 0; step < 3; step++) {
        tfAdam.minimize(a.loss, false, a.vars);
        ours.minimize(b.loss, false, b.vars);
      }
      close();
      // Ours back into a fresh tfjs Adam: the same names and values, and again the same steps.
      const back = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
      const oursState = await ours.getWeights();
      await back.setWeights(oursState);
      const backState = await back.getWeights();
      expect(backState.map((w) => w.name)).toEqual(oursState.map((w) => w.name));
      for (let i = 0; i < oursState.length; i++) {
        expect(Array.from(backState[i]!.tensor.dataSync())).toEqual(
          Array.from(oursState[i]!.tensor.dataSync()),
        );
      }
      expect(backState[0]!.tensor.dataSync()[0]).toBe(6);
      tf.dispose([oursState[0]!.tensor, backState[0]!.tensor]);
      for (let step = 0; step < 3; step++) {
        tfAdam.minimize(a.loss, false, a.vars);
        back.minimize(b.loss, false, b.vars);
      }
      close();
      // A round trip through itself keeps ours' state and leaks nothing; dispose frees all it holds.
      const again = await ours.getWeights();
      await ours.setWeights(again);
      tf.dispose(again[0]!.tensor);
      ours.dispose();
      tfAdam.dispose();
      // tfjs Adam's own setWeights keeps the moments it replaced: only `back`'s leftovers may remain.
      back.dispose();
      expect(tf.memory().numTensors - before).toBeLessThanOrEqual(0 + 2 * a.vars.length);
      a.dispose();
      b.dispose();
    });

    it('serialises as a standard Adam and validates its rate', () => {
      const adam = new ScheduledAdam(0.003);
      expect(adam.getClassName()).toBe('Adam');
      const copy = ScheduledAdam.fromConfig(ScheduledAdam, adam.getConfig()) as ScheduledAdam;
      expect(copy.getConfig()).toEqual(adam.getConfig());
      expect(tf.train.adam(0.1) instanceof ScheduledAdam).toBe(false);
      for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '0.1']) {
        expect(() => adam.setLearningRate(bad as number)).toThrow(
          expect.objectContaining({ code: 'BAD_OPTION' }),
        );
      }
      expect(adam.learningRate).toBe(0.003);
      const before = tf.memory().numTensors;
      new ScheduledAdam().dispose(); // holds no tensors until it trains
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}

describe('SeededDropout', () => {
  beforeAll(() => useBackend('cpu'));

  it('is configured and saved as tfjs-layers Dropout', () => {
    const ours = new SeededDropout({ rate: 0.3, name: 'd' });
    const theirs = tfl.layers.dropout({ rate: 0.3, name: 'd' });
    expect(ours.getClassName()).toBe('Dropout');
    expect(ours.getConfig()).toEqual(theirs.getConfig());
  });

  it('draws its masks from an attached source (reproducible), else as tf.dropout does', () => {
    const x = tf.ones([4, 50]);
    const layer = new SeededDropout({ rate: 0.5 });
    const masks = (seed: string) => {
      layer.setRandomSource(createRandomSource(seed));
      const out = [0, 1].map(() => {
        const y = layer.apply(x, { training: true }) as tf.Tensor;
        const v = Array.from(y.dataSync());
        y.dispose();
        return v;
      });
      layer.setRandomSource(undefined);
      return out;
    };
    const a = masks('s');
    expect(masks('s')).toEqual(a);
    expect(a[1]).not.toEqual(a[0]); // a fresh mask per call
    expect(masks('t')).not.toEqual(a);
    for (const v of a[0]!) expect(v === 0 || v === 2).toBe(true);
    // Inference is the identity; a fixed configured seed behaves as tfjs Dropout's.
    const same = layer.apply(x) as tf.Tensor;
    expect(Array.from(same.dataSync())).toEqual(new Array(200).fill(1));
    const fixed = new SeededDropout({ rate: 0.5, seed: 42 }).apply(x, { training: true }) as tf.Tensor;
    const reference = tfl.layers.dropout({ rate: 0.5, seed: 42 }).apply(x, { training: true }) as tf.Tensor;
    expect(Array.from(fixed.dataSync())).toEqual(Array.from(reference.dataSync()));
    tf.dispose([x, same, fixed, reference]);
  });

  it('lets the reference model load the shipped model, with the same predictions', async () => {
    buildCnn().dispose(); // registers SeededDropout for loading
    const shipped = await loadModel(new URL('../../models/fashion-cnn', import.meta.url).pathname);
    expect(countTrainableParams(shipped)).toBe(412_778);
    expect(shipped.layers.filter((l) => l instanceof SeededDropout).length).toBe(3);
    const model = buildCnn();
    model.setWeights(shipped.getWeights());
    const x = tf.tidy(() => tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 5));
    const p1 = model.predict(x) as tf.Tensor;
    const p2 = shipped.predict(x) as tf.Tensor;
    expect(Array.from(p1.dataSync())).toEqual(Array.from(p2.dataSync()));
    tf.dispose([x, p1, p2]);
    model.dispose();
    shipped.dispose();
  });
});
