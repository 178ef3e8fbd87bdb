// End to end: each buildCnn architecture's gradients and one training step on wasm (with the training
// kernels) against the cpu backend, from identical weights and data: the reference CNN, and 'vgg-bn', whose
// batch normalisation trains through the Tile and leading-axis Mean kernels. This file installs the
// kernels before the wasm backend is first initialised (vitest runs each file in its own process),
// which exercises the setup path the kernels need in that order.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { installWasmTrainingKernels } from '../../src/backend/wasm/install.js';
import { buildCnn } from '../../src/cnn/index.js';
import { type BACKENDS, useBackend } from '../helpers/backends.js';

// The products in a gradient reduce over up to 6,272 terms (batch 8) in float32 on wasm and in
// float64 on cpu; the tolerance per variable is relative to its largest gradient.
const RTOL = 1e-4;

function data(n: number): { x: Float32Array; y: Float32Array } {
  let s = 12345;
  const next = () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 4294967296;
  };
  const x = Float32Array.from({ length: n * 28 * 28 }, () => (next() < 0.4 ? 0 : next()));
  const y = new Float32Array(n * 10);
  for (let i = 0; i < n; i++) y[i * 10 + (i % 10)] = 1;
  return { x, y };
}

/** Gradients of the categorical cross-entropy of `model` on (x, y), in training mode, dropout off. */
function gradients(
  model: tfl.Sequential,
  x: tf.Tensor,
  y: tf.Tensor,
): { loss: number; grads: Float32Array[] } {
  const { value, grads } = tf.variableGrads(() => {
    const p = model.apply(x, { training: true }) as tf.Tensor;
    return tf.losses.softmaxCrossEntropy(y, tf.log(tf.clipByValue(p, 1e-7, 1))) as tf.Scalar;
  });
  const names = model.trainableWeights.map((w) => w.name);
  const out = names.map((n) => Float32Array.from(grads[n].dataSync()));
  const loss = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, grads: out };
}

describe.each(['reference', 'vgg-bn'] as const)(
  '%s CNN on wasm + training kernels vs cpu',
  (architecture) => {
    it('installs before the wasm backend starts, then gives cpu gradients and the same SGD step', async () => {
      installWasmTrainingKernels();
      // Batch 8 (every one of the 10 classes but two still has an example) and three rounds rather than four:
      // this test checks values and leaks, not speed, and must finish on a slow or busy machine.
      const n = 8;
      const { x: xv, y: yv } = data(n);
      const results: Record<string, { loss: number; grads: Float32Array[]; after: Float32Array[] }> = {};
      let initial: Float32Array[] | null = null;
      // cpu once, wasm twice: tfjs-layers caches a few constants on first use, so the leak check of the
      // training kernels (wasm) uses its second round
      for (const backend of ['cpu', 'wasm', 'wasm'] as const satisfies readonly (typeof BACKENDS)[number][]) {
        await useBackend(backend);
        const before = tf.memory().numTensors;
        // dropout off: its masks come from a JS generator and would differ between the two runs
        const model = buildCnn({ architecture, seed: 7, convDropout: 0, denseDropout: 0, compile: false });
        if (initial == null) initial = model.getWeights().map((w) => Float32Array.from(w.dataSync()));
        else {
          const ws = initial.map((v, i) => tf.tensor(v, model.getWeights()[i].shape));
          model.setWeights(ws);
          tf.dispose(ws);
        }
        const x = tf.tensor(xv, [n, 28, 28, 1]);
        const y = tf.tensor(yv, [n, 10]);
        const g = gradients(model, x, y);
        const sgd = tf.train.sgd(0.1);
        model.compile({ optimizer: sgd, loss: 'categoricalCrossentropy' });
        await model.trainOnBatch(x, y);
        const after = model.getWeights().map((w) => Float32Array.from(w.dataSync()));
        tf.dispose([x, y]);
        model.dispose();
        sgd.dispose();
        // the training kernels must not leak over a whole gradient + training step
        if (backend in results) expect(tf.memory().numTensors).toBe(before);
        results[backend] = { ...g, after };
      }
      const { cpu, wasm } = results;
      expect(Math.abs(wasm.loss - cpu.loss)).toBeLessThan(1e-5 * Math.max(1, cpu.loss));
      cpu.grads.forEach((ref, i) => {
        let scale = 0;
        let err = 0;
        for (let j = 0; j < ref.length; j++) {
          scale = Math.max(scale, Math.abs(ref[j]));
          err = Math.max(err, Math.abs(wasm.grads[i][j] - ref[j]));
        }
        expect(err, `gradient ${i}: max |wasm - cpu| ${err} vs scale ${scale}`).toBeLessThanOrEqual(
          RTOL * scale + 1e-7,
        );
      });
      cpu.after.forEach((ref, i) => {
        let err = 0;
        for (let j = 0; j < ref.length; j++) err = Math.max(err, Math.abs(wasm.after[i][j] - ref[j]));
        // (with 'vgg-bn' this includes batch normalisation's moving mean and variance)
        expect(err, `weights ${i} after one SGD step`).toBeLessThanOrEqual(1e-5);
      });
    });
  },
);
