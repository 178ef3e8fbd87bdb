// The multithreaded wasm build in Node (its own process: vitest runs each file in a fresh fork,
// and the backend must not have been started before).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the gradients tf.grad needs
import { describe, expect, it } from 'vitest';
import { installWasmTrainingKernels } from '../../src/backend/wasm/install.js';
import { simdKernels } from '../../src/backend/wasm/simd.js';
import { startWasmWithThreads } from '../../src/backend/wasm-threads.js';
import '../helpers/backends.js'; // registers the cpu and wasm backends

describe('startWasmWithThreads', () => {
  it('rejects bad options before touching the backend', async () => {
    await expect(startWasmWithThreads({ threads: 0 })).rejects.toMatchObject({
      name: 'FashionMnistError',
      code: 'BAD_OPTION',
    });
    await expect(startWasmWithThreads({ threads: 1.5 })).rejects.toMatchObject({
      name: 'FashionMnistError',
      code: 'BAD_OPTION',
    });
    await expect(startWasmWithThreads({ thread: 2 } as never)).rejects.toThrow(/unknown option/);
  });

  it('starts XNNPACK with 2 threads and the training kernels give the cpu results', async () => {
    installWasmTrainingKernels();
    expect(await startWasmWithThreads({ threads: 2 })).toBe(2);
    expect(tf.getBackend()).toBe('wasm');
    await expect(startWasmWithThreads({ threads: 2 })).rejects.toThrow(/already initialised/);
    // the SIMD helpers bind to the threaded build's shared memory too
    expect(simdKernels((tf.backend() as unknown as { wasm: unknown }).wasm)).not.toBeNull();

    const xv = Float32Array.from({ length: 8 * 14 * 14 * 16 }, (_, i) => Math.sin(i * 0.37));
    const wv = Float32Array.from({ length: 2 * 2 * 16 * 8 }, (_, i) => Math.cos(i * 0.11));
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(xv, [8, 14, 14, 16]);
        const w = tf.tensor4d(wv, [2, 2, 16, 8]);
        const f = (a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(
            tf.square(
              tf.maxPool(tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same')), 2, 2, 'valid'),
            ),
          );
        return tf
          .grads(f)([x, w])
          .map((g) => Float32Array.from(g.dataSync()));
      });
    const [gx, gw] = run();
    await tf.setBackend('cpu');
    const [rx, rw] = run();
    for (const [got, ref] of [
      [gx, rx],
      [gw, rw],
    ]) {
      let err = 0;
      let scale = 0;
      for (let i = 0; i < ref.length; i++) {
        err = Math.max(err, Math.abs(got[i] - ref[i]));
        scale = Math.max(scale, Math.abs(ref[i]));
      }
      expect(err).toBeLessThanOrEqual(2e-5 * scale + 1e-6);
    }
  });
});
