// Issue 12, item 2: a call that needs TensorFlow.js with no backend ready says so (NO_BACKEND, with what to do),
// instead of reporting a damaged model (0.1.0: "BAD_MODEL: loadModel: cannot build the model … No backend found
// in registry", and with only the wasm import "backend 'wasm' has not yet been initialized"). Each case runs
// in a fresh child process, since a backend, once set, stays for the life of a process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCnn } from '../../src/cnn/build.js';
import { saveModel } from '../../src/cnn/io-node.js';
import { useBackend } from '../helpers/backends.js';

const root = mkdtempSync(join(tmpdir(), 'fmnist-no-backend-'));
const dir = join(root, 'model');
afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeAll(async () => {
  await useBackend('cpu');
  const m = buildCnn({ seed: 1, filters: [4, 4], denseUnits: 8 });
  await saveModel(m, dir);
  m.dispose();
});

/** Runs every tfjs-dependent call of the CNN API in a child that imported `preamble` and set no backend. */
function codesWithout(preamble: string): Record<string, { code?: string; message: string }> {
  const script = `
    ${preamble}
    import * as node from ${JSON.stringify(resolve('src/node.ts'))};
    import * as universal from ${JSON.stringify(resolve('src/cnn/index.ts'))};
    const images = new Uint8Array(784);
    const split = { images, labels: new Uint8Array(1), count: 1, height: 28, width: 28 };
    const model = {}; // no model can be built without a backend; the check comes first
    const calls = {
      loadModel: () => node.loadModel(${JSON.stringify(dir)}),
      loadPretrainedNode: () => node.loadPretrained(),
      loadPretrainedNodeDir: () => node.loadPretrained({ dir: ${JSON.stringify(dir)} }),
      loadPretrainedUrl: () => universal.loadPretrained({ url: 'http://127.0.0.1:9/m/model.json' }),
      saveModel: () => node.saveModel(model, ${JSON.stringify(join(root, 'out'))}),
      evaluateCnn: () => node.evaluateCnn(model, split),
      predictCnnProba: () => node.predictCnnProba(model, images),
      predictCnnTopK: () => node.predictCnnTopK(model, images, 1),
      buildCnn: () => node.buildCnn({ seed: 1 }),
      toTensors: () => node.toTensors(split),
    };
    const out = {};
    for (const [name, call] of Object.entries(calls)) {
      try {
        await call();
        out[name] = { message: 'no error' };
      } catch (e) {
        out[name] = { code: e.code, message: e.message };
      }
    }
    console.log(JSON.stringify(out));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 240_000,
  });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
}

describe('no backend ready', () => {
  const calls = [
    'loadModel',
    'loadPretrainedNode',
    'loadPretrainedNodeDir',
    'loadPretrainedUrl',
    'saveModel',
    'evaluateCnn',
    'predictCnnProba',
    'predictCnnTopK',
    'buildCnn',
    'toTensors',
  ];

  it('no backend package imported: NO_BACKEND from every call, saying what to import', () => {
    const got = codesWithout('');
    expect(Object.keys(got)).toEqual(calls);
    for (const [name, e] of Object.entries(got)) {
      expect({ name, code: e.code }).toEqual({ name, code: 'NO_BACKEND' });
      expect(e.message).toMatch(/no TensorFlow\.js backend is registered; import a backend package/);
    }
  });

  it("wasm imported but no setBackend: NO_BACKEND, telling to await tf.setBackend('wasm')", () => {
    const got = codesWithout("import '@tensorflow/tfjs-backend-wasm';");
    expect(Object.keys(got)).toEqual(calls);
    for (const [name, e] of Object.entries(got)) {
      expect({ name, code: e.code }).toEqual({ name, code: 'NO_BACKEND' });
      expect(e.message).toMatch(/registered: wasm/);
      expect(e.message).toMatch(/await tf\.setBackend\('wasm'\)/);
    }
  });

  it('the same child with a backend set loads and predicts (so the cases above fail for want of it)', () => {
    const got = codesWithout(
      "import * as tf from '@tensorflow/tfjs-core'; import '@tensorflow/tfjs-backend-cpu'; await tf.setBackend('cpu');",
    );
    expect(got.loadModel.message).toBe('no error');
    expect(got.loadPretrainedNodeDir.message).toBe('no error');
    expect(got.loadPretrainedUrl.code).toBe('DOWNLOAD_FAILED'); // port 9: nothing listens
    expect(got.predictCnnProba.code).toBe('BAD_INPUT'); // the placeholder is not a model
    expect(got.buildCnn.message).toBe('no error');
    expect(got.toTensors.message).toBe('no error');
  });
});
