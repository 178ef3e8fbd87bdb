// The universal loadPretrained where it is meant to run: a page in headless Chromium, bundled by esbuild for the
// browser. A relative URL resolves against the page; the model predicts what loadModel's does in Node;
// load + dispose leaves no tensor; a manifest path outside the folder and a stalled weight file are refused.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCnn } from '../../src/cnn/build.js';
import { loadModel, saveModel } from '../../src/cnn/io-node.js';
import { useBackend } from '../helpers/backends.js';
import { HAS_CHROMIUM, launchChromium, pageResults } from '../helpers/chromium.js';
import { closeServer } from '../helpers/http-server.js';

const PAGE_SCRIPT = `
  import * as tf from '@tensorflow/tfjs-core';
  import '@tensorflow/tfjs-backend-cpu';
  import { loadPretrained } from ${JSON.stringify(resolve('src/cnn/pretrained.ts'))};
  const codeOf = (p) => p.then(() => 'loaded', (e) => e.code ?? String(e));
  (async () => {
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const model = await loadPretrained({ url: 'm/model.json' }); // relative to the page
    const y = tf.tidy(() => model.predict(tf.ones([1, 28, 28, 1])));
    const out = Array.from(y.dataSync());
    y.dispose();
    model.dispose();
    const left = tf.memory().numTensors - before;
    const traversal = await codeOf(loadPretrained({ url: 'bad/model.json' }));
    const started = Date.now();
    const stalled = await codeOf(loadPretrained({ url: 'stall/model.json', timeoutMs: 300 }));
    window.results = { out, left, traversal, stalled, stalledMs: Date.now() - started };
  })().catch((e) => { window.results = { error: String(e && e.stack || e) }; });
`;

describe.skipIf(!HAS_CHROMIUM)('the universal loader in headless Chromium', () => {
  const root = mkdtempSync(join(tmpdir(), 'fmnist-load-browser-'));
  let server: Server;
  let browser: Browser;
  let expected: number[];

  beforeAll(async () => {
    await useBackend('cpu');
    const m = buildCnn({ seed: 5, filters: [4, 4], denseUnits: 8 });
    const dir = join(root, 'm');
    await saveModel(m, dir, { shardBytes: 4_000 });
    m.dispose();
    const local = await loadModel(dir);
    expected = tf.tidy(() => Array.from((local.predict(tf.ones([1, 28, 28, 1])) as tf.Tensor).dataSync()));
    local.dispose();
    const files = Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))]));
    const bad = JSON.parse(files['model.json'].toString('utf8'));
    bad.weightsManifest[0].paths[0] = '../../secret.bin';

    const bundle = await build({
      stdin: { contents: PAGE_SCRIPT, resolveDir: process.cwd(), loader: 'js' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    const routes = new Map<string, Buffer>([
      ['/', Buffer.from('<!doctype html><script type="module" src="/app.js"></script>')],
      ['/app.js', Buffer.from(bundle.outputFiles[0].contents)],
      ['/bad/model.json', Buffer.from(JSON.stringify(bad))],
      ['/secret.bin', Buffer.from('secret')],
    ]);
    for (const [f, body] of Object.entries(files)) {
      routes.set(`/m/${f}`, body);
      routes.set(`/stall/${f}`, body);
    }
    const hits: string[] = [];
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      hits.push(path);
      const body = routes.get(path);
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      const type = path.endsWith('.js')
        ? 'text/javascript'
        : path === '/'
          ? 'text/html'
          : 'application/octet-stream';
      res.writeHead(200, { 'content-type': type, 'content-length': String(body.length) });
      if (path.startsWith('/stall/') && path.endsWith('.bin'))
        res.write(body.subarray(0, 10)); // then nothing
      else res.end(body);
    });
    (server as Server & { hits: string[] }).hits = hits;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    browser = await launchChromium();
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    await closeServer(server);
    rmSync(root, { recursive: true, force: true });
  });

  it('loads by a relative URL, predicts as in Node, frees everything, refuses traversal and stalls', async () => {
    const { results, errors } = await pageResults<{
      error?: string;
      out: number[];
      left: number;
      traversal: string;
      stalled: string;
      stalledMs: number;
    }>(browser, server);
    expect(results.error).toBeUndefined();
    expect(errors).toEqual([]);
    expect(results.out).toHaveLength(10);
    for (const [i, v] of results.out.entries()) expect(v).toBeCloseTo(expected[i], 5);
    expect(results.left).toBe(0);
    expect(results.traversal).toBe('BAD_MODEL');
    expect((server as Server & { hits: string[] }).hits).not.toContain('/secret.bin');
    expect(results.stalled).toBe('TIMEOUT');
    expect(results.stalledMs).toBeLessThan(30_000); // generous: it hung for good before
  });
});
