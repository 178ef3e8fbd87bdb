// The tape-free training step (src/cnn/fused-step.ts) against tfjs-layers' gradient tape: same loss, accuracy,
// gradients and optimizer step, on cpu and on wasm with and without the library's kernels (the fused first
// block), from identical weights, data and dropout streams; which models it accepts; no tensor leaks.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { installWasmTrainingKernels, uninstallWasmTrainingKernels } from '../../src/backend/wasm/install.js';
import { SeededDropout } from '../../src/cnn/dropout.js';
import { fusedStepPlan } from '../../src/cnn/fused-step.js';
import { type BuildCnnOptions, buildCnn, trainCnn } from '../../src/cnn/index.js';
import type { Split } from '../../src/data/split.js';
import { createRandomSource } from '../../src/internal/random.js';
import { useBackend } from '../helpers/backends.js';

// Gradients reduce over up to 8 × 28 × 28 terms in float32, in another order than the tape's ops.
const RTOL = 2e-4;

function batch(n: number, seed = 7): { x: tf.Tensor4D; y: tf.Tensor2D } {
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 4294967296;
  };
  const x = Float32Array.from({ length: n * 28 * 28 }, () => (next() < 0.4 ? 0 : next()));
  const y = new Float32Array(n * 10);
  for (let i = 0; i < n; i++) y[i * 10 + ((i * 3) % 10)] = 1;
  return { x: tf.tensor4d(x, [n, 28, 28, 1]), y: tf.tensor2d(y, [n, 10]) };
}

/** Loss, accuracy and gradients by the tape, as trainOnBatch computes them, with seeded dropout. */
function tapeGradients(model: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor, key: string) {
  const dropouts = model.layers.filter((l): l is SeededDropout => l instanceof SeededDropout);
  const random = createRandomSource(key);
  for (const d of dropouts) d.setRandomSource(random);
  let acc = 0;
  const variables = model.trainableWeights.map((v) => v.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => {
    const out = model.apply(x, { training: true }) as tf.Tensor;
    const a = tf.mean(tfl.metrics.categoricalAccuracy(y, out));
    acc = a.dataSync()[0]!;
    return tf.mean(tfl.metrics.categoricalCrossentropy(y, out)) as tf.Scalar;
  }, variables);
  for (const d of dropouts) d.setRandomSource(undefined);
  const out = {
    loss: value.dataSync()[0]!,
    acc,
    grads: variables.map((v) => Float32Array.from(grads[v.name]!.dataSync())),
  };
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

function planGradients(
  model: tfl.LayersModel,
  x: tf.Tensor4D,
  y: tf.Tensor2D,
  key: string,
  options: { fuseFirstBlock: boolean },
) {
  const plan = fusedStepPlan(model, options);
  if (!plan) throw new Error('no plan');
  const r = plan.gradients(x, y, createRandomSource(key));
  const grads = r.grads.map((g) => Float32Array.from(g.dataSync()));
  tf.dispose(r.grads);
  return { loss: r.loss, acc: r.acc, grads, fused: plan.fusedFirstBlock };
}

function expectClose(actual: Float32Array[], expected: Float32Array[], names: string[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    expect(a.length, names[i]).toBe(e.length);
    let scale = 0;
    let worst = 0;
    for (let k = 0; k < e.length; k++) scale = Math.max(scale, Math.abs(e[k]!));
    for (let k = 0; k < e.length; k++) worst = Math.max(worst, Math.abs(a[k]! - e[k]!));
    expect(scale, `${names[i]} has a gradient`).toBeGreaterThan(0);
    expect(worst / scale, names[i]).toBeLessThan(RTOL);
  });
}

function tinySplit(count: number): Split {
  return {
    images: Uint8Array.from({ length: count * 784 }, (_, i) => ((i * 2654435761) >>> 24) & 0xff),
    labels: Uint8Array.from({ length: count }, (_, i) => (i * 7) % 10),
    count,
    height: 28,
    width: 28,
  };
}

const SETUPS = [
  { name: 'cpu', backend: 'cpu', kernels: false, fused: false },
  { name: 'wasm + training kernels, first block unfused', backend: 'wasm', kernels: true, fused: false },
  { name: 'wasm + training kernels (fused first block)', backend: 'wasm', kernels: true, fused: true },
] as const;

const NETS: [string, BuildCnnOptions][] = [
  ['reference', {}],
  ['3x3 kernels, other sizes', { filters: [8, 12, 4], kernelSize: 3, denseUnits: 16, convDropout: 0.2 }],
];

describe.each(SETUPS)('fused step on $name', ({ backend, kernels, fused }) => {
  it.each(NETS)('gives the tape gradients: %s', async (_, net) => {
    if (kernels) installWasmTrainingKernels();
    else uninstallWasmTrainingKernels();
    const options = { fuseFirstBlock: fused };
    await useBackend(backend);
    const model = buildCnn({ seed: 3, ...net });
    const { x, y } = batch(8);
    try {
      const tape = tapeGradients(model, x, y, 'k');
      const before = tf.memory().numTensors;
      const mine = planGradients(model, x, y, 'k', options);
      expect(tf.memory().numTensors).toBe(before);
      expect(mine.fused).toBe(fused);
      expect(mine.loss).toBeCloseTo(tape.loss, 5);
      expect(mine.acc).toBe(tape.acc);
      expectClose(
        mine.grads,
        tape.grads,
        model.trainableWeights.map((w) => w.name),
      );
    } finally {
      tf.dispose([x, y]);
      model.dispose();
    }
  });

  it('steps the optimizer as trainOnBatch does, without leaks', async () => {
    if (kernels) installWasmTrainingKernels();
    else uninstallWasmTrainingKernels();
    const options = { fuseFirstBlock: fused };
    await useBackend(backend);
    const a = buildCnn({ seed: 5 });
    const b = buildCnn({ seed: 5 });
    const { x, y } = batch(8, 11);
    try {
      const planA = fusedStepPlan(a, options)!;
      const dropB = b.layers.filter((l): l is SeededDropout => l instanceof SeededDropout);
      for (let step = 0; step < 2; step++) {
        const before = tf.memory().numTensors;
        const [lossA, accA] = planA.trainOnBatch(x, y, createRandomSource('s', step));
        // the optimizer makes its slots on the first step
        if (step > 0) expect(tf.memory().numTensors).toBe(before);
        const random = createRandomSource('s', step);
        for (const d of dropB) d.setRandomSource(random);
        const [lossB, accB] = (await b.trainOnBatch(x, y)) as number[];
        for (const d of dropB) d.setRandomSource(undefined);
        expect(lossA).toBeCloseTo(lossB!, 5);
        expect(accA).toBe(accB);
      }
      const wa = a.getWeights().map((w) => Float32Array.from(w.dataSync()));
      const wb = b.getWeights().map((w) => Float32Array.from(w.dataSync()));
      // Adam's first steps move every weight by about the learning rate, whatever the gradient's size: the
      // comparison is absolute, against that step size
      wa.forEach((w, i) => {
        let worst = 0;
        for (let k = 0; k < w.length; k++) worst = Math.max(worst, Math.abs(w[k]! - wb[i]![k]!));
        expect(worst, a.weights[i]!.name).toBeLessThan(2e-4);
      });
    } finally {
      tf.dispose([x, y]);
      a.dispose();
      b.dispose();
    }
  });

  it('does not leak when a step fails', async () => {
    if (kernels) installWasmTrainingKernels();
    else uninstallWasmTrainingKernels();
    const options = { fuseFirstBlock: fused };
    await useBackend(backend);
    const model = buildCnn({ seed: 1 });
    const plan = fusedStepPlan(model, options)!;
    const x = tf.zeros([2, 28, 28, 1]) as tf.Tensor4D;
    const y = tf.zeros([2, 7]) as tf.Tensor2D; // wrong number of classes
    try {
      const before = tf.memory().numTensors;
      expect(() => plan.gradients(x, y, createRandomSource(1))).toThrow();
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      tf.dispose([x, y]);
      model.dispose();
    }
  });
});

describe('fusedStepPlan', () => {
  it('accepts buildCnn networks and refuses what it does not compute', async () => {
    await useBackend('cpu');
    const made: tfl.LayersModel[] = [];
    const make = <T extends tfl.LayersModel>(m: T) => {
      made.push(m);
      return m;
    };
    try {
      expect(fusedStepPlan(make(buildCnn({ seed: 1 })))).not.toBeNull();
      expect(fusedStepPlan(make(buildCnn({ seed: 1, architecture: 'vgg-bn' })))).toBeNull();
      expect(fusedStepPlan(make(buildCnn({ seed: 1, batchNorm: true })))).toBeNull();
      expect(fusedStepPlan(make(buildCnn({ seed: 1, compile: false })))).toBeNull();
      expect(fusedStepPlan(make(buildCnn({ seed: 1, compile: false })), { compiled: false })).not.toBeNull();
      // a regulariser, an activation the plan does not write out, a stride, another loss
      const regularised = make(tfl.sequential());
      regularised.add(tfl.layers.flatten({ inputShape: [28, 28, 1] }));
      regularised.add(
        tfl.layers.dense({ units: 10, activation: 'softmax', kernelRegularizer: tfl.regularizers.l2() }),
      );
      regularised.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      expect(fusedStepPlan(regularised)).toBeNull();
      const tanh = make(tfl.sequential());
      tanh.add(tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 2, activation: 'tanh' }));
      tanh.add(tfl.layers.flatten());
      tanh.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
      tanh.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      expect(fusedStepPlan(tanh)).toBeNull();
      const strided = make(tfl.sequential());
      strided.add(tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 2, strides: 2 }));
      strided.add(tfl.layers.flatten());
      strided.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
      strided.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      expect(fusedStepPlan(strided)).toBeNull();
      const plainDense = make(tfl.sequential());
      plainDense.add(tfl.layers.flatten({ inputShape: [28, 28, 1] }));
      plainDense.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
      plainDense.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      expect(fusedStepPlan(plainDense)).not.toBeNull();
      const mse = make(tfl.sequential());
      mse.add(tfl.layers.flatten({ inputShape: [28, 28, 1] }));
      mse.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
      mse.compile({ optimizer: 'adam', loss: 'meanSquaredError', metrics: ['accuracy'] });
      expect(fusedStepPlan(mse)).toBeNull();
    } finally {
      for (const m of made) m.dispose();
    }
  });
});

describe('trainCnn with and without the fused step', () => {
  it('gives the same seeded run (to float32 rounding) on wasm with the kernels', async () => {
    installWasmTrainingKernels();
    await useBackend('wasm');
    const data = tinySplit(96);
    const histories = [];
    const weights: Float32Array[][] = [];
    for (const fusedStep of [true, false]) {
      const model = buildCnn({ seed: 2 });
      try {
        const before = tf.memory().numTensors;
        histories.push(await trainCnn(model, data, { epochs: 2, batchSize: 32, seed: 4, fusedStep }));
        weights.push(model.getWeights().map((w) => Float32Array.from(w.dataSync())));
        model.dispose();
        // the model's own tensors are gone; nothing else is left behind
        expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
      } catch (e) {
        model.dispose();
        throw e;
      }
    }
    const [a, b] = histories;
    a!.epochs.forEach((e, i) => {
      expect(e.loss).toBeCloseTo(b!.epochs[i]!.loss, 4);
      expect(e.acc).toBeCloseTo(b!.epochs[i]!.acc, 6);
    });
    weights[0]!.forEach((w, i) => {
      let worst = 0;
      for (let k = 0; k < w.length; k++) worst = Math.max(worst, Math.abs(w[k]! - weights[1]![i]![k]!));
      expect(worst).toBeLessThan(1e-3);
    });
  });

  it('refuses a fusedStep that is not a boolean (BAD_OPTION)', async () => {
    await useBackend('cpu');
    const model = buildCnn({ seed: 1 });
    try {
      await expect(
        trainCnn(model, tinySplit(8), { epochs: 1, fusedStep: 'yes' as unknown as boolean }),
      ).rejects.toMatchObject({ code: 'BAD_OPTION' });
    } finally {
      model.dispose();
    }
  });
});
