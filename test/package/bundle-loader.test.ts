// Issue 10, item 8: a bundler that tree-shakes (the package says "sideEffects": false) may drop the module that
// registers the RandomErasing layer; a script that imports only the model loader must still load a saved model
// that contains the layer. Bundled with esbuild (bundle, minify, tree shaking) and run by node in a child process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomErasing, registerRandomErasing } from '../../src/augment/random-erasing-layer.js';
import { saveModel } from '../../src/cnn/io-node.js';
import { useBackend } from '../helpers/backends.js';

const root = mkdtempSync(join(tmpdir(), 'fmnist-bundle-loader-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Bundles `source` (which may import the package's sources by absolute path) as a user's bundler would. */
async function bundle(source: string): Promise<{ code: string; inputs: string[] }> {
  const result = await build({
    stdin: { contents: source, resolveDir: process.cwd(), loader: 'ts' },
    bundle: true,
    minify: true,
    treeShaking: true,
    platform: 'node',
    format: 'esm',
    external: ['@tensorflow/*'],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  // The modules that put code into the output (esbuild lists every file it read, kept or shaken off).
  const kept = Object.values(result.metafile.outputs)[0].inputs;
  const inputs = Object.keys(kept).filter((p) => kept[p].bytesInOutput > 0);
  return { code: result.outputFiles[0].text, inputs };
}

/** Runs an ES module given as text with node, from the repository (so that @tensorflow/* resolve). */
function runModule(code: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module'], {
    input: code,
    cwd: process.cwd(),
    encoding: 'utf8',
    timeout: 240_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('a tree-shaken, minified bundle that imports only loadModel', () => {
  const dir = join(root, 'with-erasing');
  let expected: number[];
  beforeAll(async () => {
    await useBackend('cpu');
    registerRandomErasing(); // for saving here; the bundle below must do without this module's import
    const model = tfl.sequential({
      layers: [
        randomErasing({ inputShape: [28, 28, 1], p: 1, seed: 3 }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: 'ones' }),
      ],
    });
    await saveModel(model, dir);
    expected = tf.tidy(() => Array.from((model.predict(tf.ones([1, 28, 28, 1])) as tf.Tensor).dataSync()));
    model.dispose();
  });

  for (const entry of ['src/node.ts', 'src/cnn/io-node.ts']) {
    it(`loads a saved model with a RandomErasing layer and predicts (imported from ${entry})`, async () => {
      const script = `
        import * as tf from '@tensorflow/tfjs-core';
        import '@tensorflow/tfjs-backend-cpu';
        import { loadModel } from ${JSON.stringify(resolve(entry))};
        await tf.setBackend('cpu');
        const model = await loadModel(${JSON.stringify(dir)});
        const out = model.predict(tf.ones([1, 28, 28, 1]));
        console.log(JSON.stringify({
          layers: model.layers.map((l) => l.getClassName()),
          out: Array.from(out.dataSync()),
        }));
      `;
      const { code, inputs } = await bundle(script);
      // Tree shaking did its work: nothing of the k-NN, the data loader's network code or the report came along.
      expect(inputs.filter((p) => /src\/(knn|report)\//.test(p))).toEqual([]);
      const run = runModule(code);
      expect(run.stderr).not.toMatch(/Unknown layer/);
      expect(run.status).toBe(0);
      const result = JSON.parse(run.stdout.trim().split('\n').at(-1) as string);
      expect(result.layers).toEqual(['RandomErasing', 'Flatten', 'Dense']);
      // At inference the layer is the identity, so the loaded model predicts what the saved one did.
      expect(result.out.length).toBe(10);
      for (const [i, v] of (result.out as number[]).entries()) expect(v).toBeCloseTo(expected[i], 6);
    });
  }
});
