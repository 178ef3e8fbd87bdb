import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_CNN_DEFAULTS, buildCnn, countTrainableParams } from '../../src/cnn/build.js';
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
    const opt = m.optimizer as unknown as { getClassName(): string; learningRate: number };
    expect(opt.getClassName()).toBe('Adam');
    expect(opt.learningRate).toBe(0.001);
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
    expect((m.optimizer as unknown as { learningRate: number }).learningRate).toBe(0.01);
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

  it('does not leak tensors beyond the model it returns', () => {
    const before = tf.memory().numTensors;
    const m = buildCnn({ seed: 1 });
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('has frozen defaults', () => {
    expect(Object.isFrozen(BUILD_CNN_DEFAULTS)).toBe(true);
    expect(BUILD_CNN_DEFAULTS.filters).toEqual([64, 32]);
  });

  describe('validation', () => {
    const cases: [string, unknown, typeof TypeError | typeof RangeError, RegExp][] = [
      ['options not an object', 5, TypeError, /options must be an object/],
      ['unknown option', { filter: [1] }, TypeError, /unknown option 'filter'/],
      ['filters not an array', { filters: 64 }, TypeError, /'filters' must be an array/],
      ['filters empty', { filters: [] }, RangeError, /'filters' must be an array of one or more/],
      ['filters entry', { filters: [64, 0] }, RangeError, /'filters\[1\]'.*received 0/],
      ['filters entry type', { filters: ['64'] }, TypeError, /'filters\[0\]'/],
      ['kernelSize type', { kernelSize: '2' }, TypeError, /'kernelSize'.*received "2"/],
      ['kernelSize fraction', { kernelSize: 2.5 }, RangeError, /'kernelSize' must be an integer/],
      ['poolSize', { poolSize: 0 }, RangeError, /'poolSize'/],
      ['convDropout', { convDropout: 1 }, RangeError, /'convDropout'.*< 1.*received 1/],
      ['denseDropout', { denseDropout: -0.1 }, RangeError, /'denseDropout'/],
      ['denseDropout type', { denseDropout: null }, TypeError, /'denseDropout'/],
      ['denseUnits', { denseUnits: 0 }, RangeError, /'denseUnits'/],
      ['classes', { classes: 1 }, RangeError, /'classes'.*>= 2/],
      ['inputShape length', { inputShape: [28, 28] }, RangeError, /'inputShape' must be an array of 3/],
      ['inputShape type', { inputShape: 'x' }, TypeError, /'inputShape'/],
      ['learningRate', { learningRate: 0 }, RangeError, /'learningRate'.*> 0/],
      ['learningRate NaN', { learningRate: Number.NaN }, RangeError, /'learningRate'/],
      ['compile', { compile: 1 }, TypeError, /'compile' must be a boolean/],
      ['batchNorm', { batchNorm: 'yes' }, TypeError, /'batchNorm' must be a boolean/],
      ['seed', { seed: -1 }, RangeError, /'seed'/],
      ['seed type', { seed: '1' }, TypeError, /'seed'/],
      ['pools the image away', { filters: [8, 8, 8, 8, 8] }, RangeError, /shrink a 28x28 input to nothing/],
    ];
    for (const [name, options, type, message] of cases) {
      it(`rejects ${name}`, () => {
        expect(() => buildCnn(options as never)).toThrow(type);
        expect(() => buildCnn(options as never)).toThrow(message);
      });
    }
  });

  afterAll(() => useBackend('cpu'));
});
