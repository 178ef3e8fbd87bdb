import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCnn, evaluateCnn, predictCnnProba, predictCnnTopK } from '../../src/cnn/index.js';
import type { Split } from '../../src/data/split.js';
import { FashionMnistError } from '../../src/errors.js';
import { accuracy, confusionMatrix, perClassMetrics } from '../../src/metrics/index.js';
import { BACKENDS, useBackend } from '../helpers/backends.js';

/**
 * A model whose answer is known: it looks only at the first pixel row of a 4x4 image and, through a dense
 * layer with hand-set weights, gives class c the logit 10·pixel[c]. So an image with pixel c bright is class c.
 */
function handMadeModel(activation: 'softmax' | 'linear' = 'softmax', bias = 0): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape: [4, 4, 1] }));
  m.add(tfl.layers.dense({ units: 4, activation }));
  const kernel = new Float32Array(16 * 4);
  for (let c = 0; c < 4; c++) kernel[c * 4 + c] = 10;
  tf.tidy(() => m.layers[1].setWeights([tf.tensor2d(kernel, [16, 4]), tf.fill([4], -bias)]));
  return m;
}

function handMadeSplit(labels: number[], bright: number[]): Split {
  const images = new Uint8Array(labels.length * 16);
  bright.forEach((c, i) => {
    images[i * 16 + c] = 255;
  });
  return { images, labels: Uint8Array.from(labels), count: labels.length, height: 4, width: 4 };
}

describe('accuracy / confusionMatrix / perClassMetrics', () => {
  it('computes accuracy', () => {
    expect(accuracy([0, 1, 2, 2], [0, 1, 1, 2])).toBe(0.75);
    expect(() => accuracy([0], [0, 1])).toThrow(FashionMnistError);
    expect(() => accuracy([], [])).toThrow(/no labels/);
  });

  it('builds the confusion matrix with rows = truth, columns = prediction', () => {
    expect(confusionMatrix([0, 1, 1, 2, 2, 2], [0, 1, 0, 2, 1, 2], 3)).toEqual([
      [1, 0, 0],
      [1, 1, 0],
      [0, 1, 2],
    ]);
    expect(confusionMatrix([9], [0])[9][0]).toBe(1); // 10 classes by default
  });

  it('rejects labels out of range and mismatched lengths', () => {
    const err = (() => {
      try {
        confusionMatrix([0, 3], [0, 1], 3);
      } catch (e) {
        return e as FashionMnistError;
      }
    })();
    expect(err).toBeInstanceOf(FashionMnistError);
    expect(err?.code).toBe('BAD_LABEL');
    expect(err?.message).toMatch(/yTrue\[1\] is 3/);
    expect(() => confusionMatrix([0, 1], [0, 1.5], 3)).toThrow(/yPred\[1\]/);
    expect(() => confusionMatrix([0], [0, 1], 3)).toThrow(/1 true labels but 2 predictions/);
  });

  it('gives precision/recall/F1/support, with 0 for a zero denominator (as scikit-learn)', () => {
    // Class 0: 2 images, both right; one class-1 image is also called 0. Class 1: 2 images, 1 right.
    // Class 2: never predicted (precision 0/0) and has 1 image (recall 0). Class 3: no images, never predicted.
    const m = confusionMatrix([0, 0, 1, 1, 2], [0, 0, 0, 1, 1], 4);
    const per = perClassMetrics(m, ['a', 'b', 'c', 'd']);
    expect(per.map((c) => c.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(per[0].precision).toBeCloseTo(2 / 3, 12);
    expect(per[0].recall).toBe(1);
    expect(per[0].f1).toBeCloseTo(0.8, 12);
    expect(per[1].precision).toBe(0.5);
    expect(per[1].recall).toBe(0.5);
    expect(per[2]).toMatchObject({ precision: 0, recall: 0, f1: 0, support: 1 });
    expect(per[3]).toMatchObject({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(per.map((c) => c.support)).toEqual([2, 2, 1, 0]);
    expect(() => perClassMetrics([[1, 2]])).toThrow(/square/);
  });
});

for (const backend of BACKENDS) {
  describe(`model helpers on ${backend}`, () => {
    beforeAll(() => useBackend(backend));
    afterAll(() => useBackend('cpu'));

    it('predictCnnProba / evaluateCnn give the known answers of a hand-made model', async () => {
      const model = handMadeModel();
      // Images 0..3 are classes 0..3; image 4 is labelled 3 but looks like class 1 (a mistake).
      const split = handMadeSplit([0, 1, 2, 3, 3], [0, 1, 2, 3, 1]);
      const { probabilities, classes, count } = await predictCnnProba(model, split, { batchSize: 2 });
      expect([classes, count]).toEqual([4, 5]);
      const top = Math.exp(10) / (Math.exp(10) + 3);
      expect(probabilities[0]).toBeCloseTo(top, 5);
      expect(probabilities[4 * 4 + 1]).toBeCloseTo(top, 5);

      const ev = await evaluateCnn(model, split, { classNames: ['a', 'b', 'c', 'd'], batchSize: 3 });
      expect(ev.accuracy).toBe(0.8);
      expect(Array.from(ev.predictions)).toEqual([0, 1, 2, 3, 1]);
      expect(ev.confusion[3]).toEqual([0, 1, 0, 1]);
      expect(ev.perClass[1]).toMatchObject({ name: 'b', precision: 0.5, recall: 1, support: 1 });
      // Loss: four right answers at p = top, one wrong at p = 1 / (e^10 + 3).
      const expected = (-4 * Math.log(top) - Math.log(1 / (Math.exp(10) + 3))) / 5;
      expect(ev.loss).toBeCloseTo(expected, 4);
      model.dispose();
    });

    it('predictCnnTopK orders classes by probability with names, for splits, bytes and tensors', async () => {
      const model = handMadeModel();
      const split = handMadeSplit([2], [2]);
      const [first] = await predictCnnTopK(model, split, 2, { classNames: ['a', 'b', 'c', 'd'] });
      expect(first.map((p) => p.className)).toEqual(['c', 'a']); // ties broken by the lower index
      expect(first[0].probability).toBeCloseTo(Math.exp(10) / (Math.exp(10) + 3), 5);
      const fromBytes = await predictCnnTopK(model, split.images, 1, { classNames: ['a', 'b', 'c', 'd'] });
      expect(fromBytes[0][0].index).toBe(2);
      const t = tf.tensor3d(
        Array.from(split.images, (v) => v / 255),
        [4, 4, 1],
      );
      const fromTensor = await predictCnnTopK(model, t, 4);
      expect(fromTensor[0].map((p) => p.index)).toEqual([2, 0, 1, 3]);
      expect(fromTensor[0][0].className).toBe('Pullover'); // default names are Fashion-MNIST's
      const sum = fromTensor[0].reduce((a, p) => a + p.probability, 0);
      expect(sum).toBeCloseTo(1, 5);
      t.dispose();
      model.dispose();
    });

    it('rejects inputs that do not fit the model, with typed errors', async () => {
      const model = handMadeModel();
      await expect(predictCnnTopK(model, new Uint8Array(15), 1)).rejects.toMatchObject({
        code: 'BAD_SHAPE',
        message: expect.stringMatching(/not a whole number of 4x4x1/),
      });
      await expect(predictCnnTopK(model, handMadeSplit([0], [0]), 5)).rejects.toMatchObject({
        code: 'BAD_OPTION',
      });
      const wrong = tf.zeros([1, 5, 4, 1]) as tf.Tensor4D;
      await expect(predictCnnProba(model, wrong)).rejects.toMatchObject({ code: 'BAD_SHAPE' });
      wrong.dispose();
      await expect(predictCnnProba(model, wrong)).rejects.toMatchObject({ code: 'BAD_INPUT' }); // disposed
      await expect(predictCnnProba(model, [1, 2] as never)).rejects.toMatchObject({ code: 'BAD_INPUT' });
      await expect(predictCnnProba(model, new Uint8Array(16), { batchSize: 0 })).rejects.toMatchObject({
        code: 'BAD_OPTION',
      });
      await expect(
        predictCnnProba(model, new Uint8Array(16), { fromLogits: 1 } as never),
      ).rejects.toMatchObject({ code: 'BAD_OPTION' });
      await expect(evaluateCnn(model, handMadeSplit([7], [0]))).rejects.toMatchObject({
        code: 'BAD_LABEL',
        message: expect.stringMatching(/labels\[0\] is 7/),
      });
      // A split whose parts disagree is refused, not read past its end or padded with zeros.
      const short = { ...handMadeSplit([0, 1], [0, 1]), count: 3 };
      await expect(predictCnnProba(model, short)).rejects.toMatchObject({ code: 'COUNT_MISMATCH' });
      const fewLabels = { ...handMadeSplit([0, 1], [0, 1]), labels: Uint8Array.from([0]) };
      await expect(evaluateCnn(model, fewLabels)).rejects.toMatchObject({ code: 'COUNT_MISMATCH' });
      await expect(evaluateCnn(model, handMadeSplit([], []))).rejects.toMatchObject({ code: 'BAD_INPUT' });
      await expect(predictCnnProba({} as never, new Uint8Array(16))).rejects.toMatchObject({
        code: 'BAD_INPUT',
      });
      model.dispose();
    });

    it('refuses a logits model (no softmax) with advice, and applies the softmax with fromLogits', async () => {
      // The hand-made model without its softmax: its outputs are logits 10·pixel, e.g. [10, 0, 0, 0].
      const logits = handMadeModel('linear');
      const split = handMadeSplit([0, 1, 2], [0, 1, 2]);
      const err = await predictCnnProba(logits, split).catch((e) => e);
      expect(err).toBeInstanceOf(FashionMnistError);
      expect(err.code).toBe('BAD_MODEL');
      expect(err.message).toMatch(/not probabilities \(image 0: they sum to 10\.0000/);
      expect(err.message).toMatch(/fromLogits: true/);
      await expect(predictCnnTopK(logits, split, 1)).rejects.toMatchObject({ code: 'BAD_MODEL' });
      await expect(evaluateCnn(logits, split)).rejects.toMatchObject({ code: 'BAD_MODEL' });
      // Negative outputs are refused too, even when a row happens to sum to 1.
      const negative = handMadeModel('linear', 2.25);
      const row = handMadeSplit([0], [0]); // outputs [7.75, -2.25, -2.25, -2.25]: they sum to 1
      await expect(predictCnnProba(negative, row)).rejects.toMatchObject({
        code: 'BAD_MODEL',
        message: expect.stringMatching(/sum to 1\.00000, the smallest is -2\.25000/),
      });

      const softmax = handMadeModel();
      const expected = await predictCnnProba(softmax, split);
      const fixed = await predictCnnProba(logits, split, { fromLogits: true });
      for (let i = 0; i < expected.probabilities.length; i++) {
        expect(fixed.probabilities[i]).toBeCloseTo(expected.probabilities[i], 5);
      }
      const [top] = await predictCnnTopK(logits, split, 1, { fromLogits: true });
      expect(top[0].index).toBe(0);
      expect(top[0].probability).toBeLessThanOrEqual(1);
      const ev = await evaluateCnn(logits, split, { fromLogits: true });
      expect(ev.accuracy).toBe(1);
      for (const m of [logits, negative, softmax]) m.dispose();
    });

    it('refuses NaN outputs (damaged weights) even with fromLogits', async () => {
      const model = handMadeModel('linear');
      tf.tidy(() => model.layers[1].setWeights([tf.fill([16, 4], Number.NaN), tf.zeros([4])]));
      for (const fromLogits of [false, true]) {
        await expect(predictCnnProba(model, handMadeSplit([0], [0]), { fromLogits })).rejects.toMatchObject({
          code: 'BAD_MODEL',
          message: expect.stringMatching(/non-finite/),
        });
      }
      model.dispose();
    });

    it('does not leak tensors', async () => {
      const model = buildCnn({ seed: 1 });
      const split: Split = {
        images: Uint8Array.from({ length: 7 * 784 }, (_, i) => (i * 31) % 256),
        labels: Uint8Array.from([0, 1, 2, 3, 4, 5, 6]),
        count: 7,
        height: 28,
        width: 28,
      };
      await evaluateCnn(model, split, { batchSize: 3 }); // warm-up: kernels and constants made once
      const before = tf.memory().numTensors;
      await predictCnnProba(model, split, { batchSize: 3 });
      await evaluateCnn(model, split, { batchSize: 3 });
      await predictCnnTopK(model, split.images.subarray(0, 784), 3);
      const t = tf.zeros([2, 28, 28, 1]) as tf.Tensor4D;
      await predictCnnTopK(model, t, 3);
      await predictCnnProba(model, t, { fromLogits: true });
      t.dispose();
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    });

    it('a disposed model is DISPOSED, not a plain tfjs Error', async () => {
      const model = buildCnn({ seed: 1, filters: [4, 4], denseUnits: 8 });
      model.dispose();
      const split = handMadeSplit([0], [0]);
      const disposed = expect.objectContaining({ code: 'DISPOSED' });
      await expect(evaluateCnn(model, split)).rejects.toEqual(disposed);
      await expect(predictCnnProba(model, split)).rejects.toEqual(disposed);
      await expect(predictCnnTopK(model, split, 1)).rejects.toEqual(disposed);
    });

    it('does not leak tensors when it fails', async () => {
      const logits = handMadeModel('linear');
      const split = handMadeSplit([0, 1, 2], [0, 1, 2]);
      await predictCnnProba(logits, split).catch(() => undefined); // warm-up
      const before = tf.memory().numTensors;
      await expect(predictCnnProba(logits, split, { batchSize: 2 })).rejects.toMatchObject({
        code: 'BAD_MODEL',
      });
      await expect(evaluateCnn(logits, split)).rejects.toMatchObject({ code: 'BAD_MODEL' });
      await expect(predictCnnTopK(logits, split, 9)).rejects.toMatchObject({ code: 'BAD_OPTION' });
      const wrong = tf.zeros([1, 5, 4, 1]) as tf.Tensor4D;
      await expect(predictCnnProba(logits, wrong)).rejects.toMatchObject({ code: 'BAD_SHAPE' });
      wrong.dispose();
      expect(tf.memory().numTensors).toBe(before);
      logits.dispose();
    });
  });
}
