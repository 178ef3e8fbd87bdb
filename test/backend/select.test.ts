import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the gradients tf.grad needs
import { describe, expect, it } from 'vitest';
import { BACKEND_CANDIDATES, selectBackend, useFastestBackend } from '../../src/backend/select.js';
import { wasmTrainingKernelsInstalled } from '../../src/backend/wasm/install.js';
import { FashionMnistError } from '../../src/errors.js';

// This machine has no @tensorflow/tfjs-node(-gpu) (its install needs a native download); if one is
// ever installed, the assertions about skipping it no longer apply.
async function installed(pkg: string): Promise<boolean> {
  try {
    const specifier: string = pkg;
    await import(specifier);
    return true;
  } catch {
    return false;
  }
}

describe('selectBackend', () => {
  it('selects cpu and wasm (with the training kernels) and reports it', async () => {
    const cpu = await selectBackend('cpu');
    expect(cpu).toEqual({
      candidate: 'cpu',
      backend: 'cpu',
      package: '@tensorflow/tfjs-backend-cpu',
      trainingKernels: false,
      skipped: [],
    });
    expect(tf.getBackend()).toBe('cpu');
    const wasm = await selectBackend('wasm');
    expect(wasm.backend).toBe('wasm');
    // the threads patch is not offered by the stable entry (it lives in /experimental-wasm-threads)
    await expect(selectBackend('wasm', { wasmThreads: 2 } as never)).rejects.toThrow(
      /unknown option 'wasmThreads'/,
    );
    expect(wasm.trainingKernels).toBe(true);
    expect(wasmTrainingKernelsInstalled()).toBe(true);
    // a convolution's filter gradient now works on wasm
    const g = tf.tidy(() => {
      const x = tf.ones([1, 3, 3, 1]) as tf.Tensor4D;
      return tf.grad((w: tf.Tensor) => tf.sum(tf.conv2d(x, w as tf.Tensor4D, 1, 'valid')))(
        tf.ones([2, 2, 1, 1]),
      );
    });
    expect(Array.from(g.dataSync())).toEqual([4, 4, 4, 4]);
    g.dispose();
  });

  it('names the npm package to install when a backend package is missing', async () => {
    if (await installed('@tensorflow/tfjs-node')) return;
    const err = await selectBackend('tfjs-node').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FashionMnistError);
    expect((err as FashionMnistError).code).toBe('NOT_FOUND');
    expect((err as Error).message).toMatch(/npm install @tensorflow\/tfjs-node\b/);
  });

  it('rejects unknown names and options', async () => {
    await expect(selectBackend('webgl' as never)).rejects.toMatchObject({
      name: 'FashionMnistError',
      code: 'BAD_OPTION',
    });
    await expect(selectBackend('webgl' as never)).rejects.toThrow(
      /'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'/,
    );
    await expect(selectBackend(42 as never)).rejects.toMatchObject({
      name: 'FashionMnistError',
      code: 'BAD_OPTION',
    });
    await expect(selectBackend('cpu', { trainingKernel: true } as never)).rejects.toThrow(/unknown option/);
    await expect(selectBackend('cpu', { trainingKernels: 'yes' } as never)).rejects.toMatchObject({
      name: 'FashionMnistError',
      code: 'BAD_OPTION',
    });
    await expect(
      useFastestBackend({ candidates: ['cpu'], trainingKernels: 1 } as never),
    ).rejects.toMatchObject({
      name: 'FashionMnistError',
      code: 'BAD_OPTION',
    });
  });
});

describe('useFastestBackend', () => {
  it('falls through missing native backends to wasm and says why', async () => {
    const nodeGpu = await installed('@tensorflow/tfjs-node-gpu');
    const node = await installed('@tensorflow/tfjs-node');
    const choice = await useFastestBackend();
    if (nodeGpu || node) {
      expect(choice.backend).toBe('tensorflow');
      return;
    }
    expect(choice.candidate).toBe('wasm');
    expect(choice.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.skipped.map((s) => s.candidate)).toEqual(['tfjs-node-gpu', 'tfjs-node']);
    for (const s of choice.skipped) expect(s.reason).toContain(`npm install ${s.package}`);
  });

  it('honours the candidate list and validates it', async () => {
    expect((await useFastestBackend({ candidates: ['cpu'] })).backend).toBe('cpu');
    await expect(useFastestBackend({ candidates: [] })).rejects.toMatchObject({
      name: 'FashionMnistError',
      code: 'BAD_OPTION',
    });
    await expect(useFastestBackend({ candidates: 'cpu' as never })).rejects.toMatchObject({
      name: 'FashionMnistError',
      code: 'BAD_OPTION',
    });
    await expect(useFastestBackend({ candidates: ['cpu', 'gpu' as never] })).rejects.toThrow(
      /candidates\[1\]/,
    );
    expect(BACKEND_CANDIDATES).toEqual(['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu']);
  });

  it('reports every reason when nothing works', async () => {
    if (await installed('@tensorflow/tfjs-node')) return;
    const err = await useFastestBackend({ candidates: ['tfjs-node'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FashionMnistError);
    expect((err as Error).message).toMatch(
      /no backend could be used:\n- tfjs-node: @tensorflow\/tfjs-node is not installed/,
    );
  });
});
