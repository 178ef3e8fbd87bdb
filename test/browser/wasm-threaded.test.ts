// Training on wasm where a browser runs it fastest: a cross-origin isolated page, where tfjs-backend-wasm starts
// its threaded build. That build imports its (shared) memory instead of exporting it, so this library's SIMD
// kernels must find it elsewhere; when they did not, every one of them silently fell back to JavaScript and
// Chromium trained at a third of Node's speed. Here the page checks that they bind, and a seeded training run
// in the page gives the losses of the same run in Node.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installWasmTrainingKernels } from '../../src/backend/wasm/index.js';
import { buildCnn } from '../../src/cnn/build.js';
import { trainCnn } from '../../src/cnn/train.js';
import { useBackend } from '../helpers/backends.js';
import { HAS_CHROMIUM, launchChromium, pageResults } from '../helpers/chromium.js';
import { closeServer } from '../helpers/http-server.js';

const COUNT = 128;
/** Deterministic images and labels, the same in the page and here. */
const DATA_SOURCE = `
  const images = new Uint8Array(${COUNT} * 784);
  for (let i = 0; i < images.length; i++) images[i] = (i * 2654435761) >>> 24;
  const labels = Uint8Array.from({ length: ${COUNT} }, (_, i) => (i * 7) % 10);
  const split = { images, labels, count: ${COUNT}, height: 28, width: 28 };
`;
const NET = '{ seed: 3, filters: [8, 16], denseUnits: 16 }';
const TRAIN = '{ epochs: 2, batchSize: 32, seed: 1 }';

const PAGE_SCRIPT = `
  import * as tf from '@tensorflow/tfjs-core';
  import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
  import { installWasmTrainingKernels } from ${JSON.stringify(resolve('src/backend/wasm/index.ts'))};
  import { simdKernels } from ${JSON.stringify(resolve('src/backend/wasm/simd.ts'))};
  import { buildCnn } from ${JSON.stringify(resolve('src/cnn/build.ts'))};
  import { trainCnn } from ${JSON.stringify(resolve('src/cnn/train.ts'))};
  (async () => {
    setWasmPaths('/wasm/');
    setThreadsCount(2);
    installWasmTrainingKernels();
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not start');
    const multithread = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true;
    const bound = simdKernels(tf.backend().wasm) !== null;
    ${DATA_SOURCE}
    const before = tf.memory().numTensors;
    const model = buildCnn(${NET});
    const history = await trainCnn(model, split, ${TRAIN});
    model.dispose();
    window.results = {
      isolated: globalThis.crossOriginIsolated === true,
      multithread,
      bound,
      losses: history.epochs.map((e) => e.loss),
      left: tf.memory().numTensors - before,
    };
  })().catch((e) => { window.results = { error: String(e && e.stack || e) }; });
`;

describe.skipIf(!HAS_CHROMIUM)('wasm training in an isolated Chromium page (threaded build)', () => {
  let server: Server;
  let browser: Browser;
  let expected: number[];

  beforeAll(async () => {
    // The same run in Node, on the single-threaded build.
    installWasmTrainingKernels();
    await useBackend('wasm');
    const split = new Function(`${DATA_SOURCE}; return split;`)() as Parameters<typeof trainCnn>[1];
    const model = buildCnn({ seed: 3, filters: [8, 16], denseUnits: 16 });
    expected = (await trainCnn(model, split, { epochs: 2, batchSize: 32, seed: 1 })).epochs.map(
      (e) => e.loss,
    );
    model.dispose();

    const bundle = await build({
      stdin: { contents: PAGE_SCRIPT, resolveDir: process.cwd(), loader: 'js' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'chrome120',
      write: false,
      logLevel: 'silent',
      define: { 'process.env.NODE_ENV': '"production"' },
    });
    const js = Buffer.from(bundle.outputFiles[0]!.contents);
    const wasmDir = resolve('node_modules/@tensorflow/tfjs-backend-wasm/dist');
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      // The two headers that make the page cross-origin isolated (SharedArrayBuffer, hence threads).
      const headers = {
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
      };
      const wasm = /^\/wasm\/([\w.-]+\.wasm)$/.exec(path);
      let body: Buffer | null = null;
      let type = 'text/html';
      if (path === '/') body = Buffer.from('<!doctype html><script type="module" src="/app.js"></script>');
      else if (path === '/app.js') [body, type] = [js, 'text/javascript'];
      else if (wasm) {
        try {
          [body, type] = [readFileSync(join(wasmDir, wasm[1]!)), 'application/wasm'];
        } catch {
          body = null;
        }
      }
      if (body === null) res.writeHead(404, headers).end();
      else res.writeHead(200, { ...headers, 'content-type': type }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    browser = await launchChromium();
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    await closeServer(server);
  });

  it('binds the SIMD kernels to the shared memory and trains as Node does, leaving no tensor', async () => {
    const { results, errors } = await pageResults<{
      error?: string;
      isolated: boolean;
      multithread: boolean;
      bound: boolean;
      losses: number[];
      left: number;
    }>(browser, server);
    expect(results.error).toBeUndefined();
    expect(errors).toEqual([]);
    expect(results.isolated, 'the page is cross-origin isolated').toBe(true);
    expect(results.multithread, 'so tfjs starts its threaded build').toBe(true);
    expect(results.bound, "this library's SIMD kernels bind to that build's memory").toBe(true);
    expect(results.losses).toHaveLength(expected.length);
    // Same seeded run; XNNPACK on 2 threads may sum in another order than on one.
    for (const [i, loss] of results.losses.entries()) expect(loss).toBeCloseTo(expected[i]!, 4);
    expect(results.left).toBe(0);
  }, 180_000);
});
