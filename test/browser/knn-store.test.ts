// k-NN persistence in a real browser: the universal entry (`fashion-mnist-tfjs/knn`) bundled with esbuild, served on
// 127.0.0.1 and driven in headless Chromium. Save to IndexedDB, reload the page, load, and predict exactly what
// the library predicts in Node; load a file saved by Node over http; typed errors for what cannot work.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSample } from '../../src/data/node.js';
import { KnnClassifier } from '../../src/knn/index.js';
import { useBackend } from '../helpers/backends.js';
import { HAS_CHROMIUM, launchChromium } from '../helpers/chromium.js';

const TRAIN = 600;
const QUERIES = 100;

// What the page can do, exposed on window for page.evaluate.
const ENTRY = `
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { KnnClassifier, loadKnn, saveKnn } from './src/knn/index.ts';

const codeOf = async (f) => {
  try { await f(); return 'OK'; } catch (e) { return e && e.code ? e.code : String(e); }
};
window.knnApi = {
  async ready() { await tf.setBackend('cpu'); await tf.ready(); return tf.getBackend(); },
  async fitAndSave(x, y, q, name) {
    const knn = new KnnClassifier({ k: 5 }).fit(Uint8Array.from(x), y);
    const pred = Array.from(await knn.predict(Uint8Array.from(q)));
    const saved = await saveKnn(knn, 'indexeddb://' + name);
    const bytes = Array.from(knn.toBytes().subarray(0, 64));
    await knn.dispose();
    return { pred, saved, bytes, tensors: tf.memory().numTensors };
  },
  async load(source, q) {
    const knn = await loadKnn(source);
    const pred = Array.from(await knn.predict(Uint8Array.from(q)));
    const numSamples = knn.numSamples;
    await knn.dispose();
    return { pred, numSamples, tensors: tf.memory().numTensors };
  },
  async errors(goodUrl) {
    // Raw bytes that are not a classifier, put where saveKnn would put one.
    await new Promise((res, rej) => {
      const open = indexedDB.open('fashion-mnist-tfjs', 1);
      open.onupgradeneeded = () => open.result.createObjectStore('knn-classifiers');
      open.onerror = () => rej(open.error);
      open.onsuccess = () => {
        const tx = open.result.transaction('knn-classifiers', 'readwrite');
        tx.objectStore('knn-classifiers').put(new Blob([new Uint8Array(100).fill(7)]), 'garbage');
        tx.oncomplete = () => { open.result.close(); res(); };
        tx.onerror = () => rej(tx.error);
      };
    });
    const tiny = new KnnClassifier({ k: 1 }).fit(new Uint8Array([1, 2]), [0, 1]);
    const saveFile = await codeOf(() => saveKnn(tiny, '/tmp/knn.fmknn'));
    await tiny.dispose();
    return {
      saveFile,
      missing: await codeOf(() => loadKnn('indexeddb://never-saved')),
      garbage: await codeOf(() => loadKnn('indexeddb://garbage')),
      filePath: await codeOf(() => loadKnn('models/knn.fmknn')),
      tooLarge: await codeOf(() => loadKnn(goodUrl, { maxBytes: 100 })),
      notFitted: await codeOf(() => saveKnn(new KnnClassifier(), 'indexeddb://x')),
      tensors: tf.memory().numTensors,
    };
  },
};
`;

describe.skipIf(!HAS_CHROMIUM)('k-NN saved to IndexedDB in headless Chromium', () => {
  let server: Server;
  let url: string;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  let x: number[];
  let y: number[];
  let q: number[];
  let expected: number[];
  let nodeBytes: Uint8Array;

  beforeAll(async () => {
    const bundle = await build({
      stdin: { contents: ENTRY, resolveDir: resolve('.'), sourcefile: 'knn-store-entry.js', loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    const js = bundle.outputFiles[0].contents;
    // What the page must predict: this library in Node, on the same sample images.
    await useBackend('cpu');
    const data = await loadSample();
    const train = data.train.images.subarray(0, TRAIN * 784);
    const labels = data.train.labels.subarray(0, TRAIN);
    const query = data.test.images.subarray(0, QUERIES * 784);
    const knn = new KnnClassifier({ k: 5 }).fit(train, labels);
    expected = Array.from(await knn.predict(query));
    nodeBytes = knn.toBytes();
    await knn.dispose();
    [x, y, q] = [Array.from(train), Array.from(labels), Array.from(query)];

    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><script type="module" src="/app.js"></script>');
      } else if (path === '/app.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        res.end(Buffer.from(js));
      } else if (path === '/knn.fmknn') {
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': nodeBytes.length,
        });
        res.end(Buffer.from(nodeBytes));
      } else if (path === '/favicon.ico') {
        res.writeHead(204).end();
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(url);
    await page.waitForFunction(() => 'knnApi' in window, undefined, { timeout: 60_000 });
    expect(
      await page.evaluate(() => (window as never as { knnApi: { ready(): Promise<string> } }).knnApi.ready()),
    ).toBe('cpu');
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  type Api = {
    knnApi: {
      ready(): Promise<string>;
      fitAndSave(
        x: number[],
        y: number[],
        q: number[],
        name: string,
      ): Promise<{
        pred: number[];
        saved: { destination: string; bytes: number };
        bytes: number[];
        tensors: number;
      }>;
      load(source: string, q: number[]): Promise<{ pred: number[]; numSamples: number; tensors: number }>;
      errors(goodUrl: string): Promise<Record<string, string | number>>;
    };
  };

  it('fit, save to IndexedDB, reload the page, load: the same predictions as in Node', async () => {
    const saved = await page.evaluate(
      ([x, y, q]) => (window as never as Api).knnApi.fitAndSave(x, y, q, 'sample-600'),
      [x, y, q] as const,
    );
    expect(saved.pred).toEqual(expected);
    expect(saved.saved).toEqual({ destination: 'indexeddb://sample-600', bytes: nodeBytes.length });
    // The same format in both environments: the header bytes agree with Node's.
    expect(saved.bytes).toEqual(Array.from(nodeBytes.subarray(0, 64)));
    expect(saved.tensors).toBe(0);
    await page.reload();
    await page.waitForFunction(() => 'knnApi' in window, undefined, { timeout: 60_000 });
    await page.evaluate(() => (window as never as Api).knnApi.ready());
    const loaded = await page.evaluate(
      ([q]) => (window as never as Api).knnApi.load('indexeddb://sample-600', q),
      [q] as const,
    );
    expect(loaded).toEqual({ pred: expected, numSamples: TRAIN, tensors: 0 });
  });

  it('loads a classifier saved by Node over http, with identical predictions', async () => {
    const loaded = await page.evaluate(([src, q]) => (window as never as Api).knnApi.load(src, q), [
      `${url}knn.fmknn`,
      q,
    ] as const);
    expect(loaded.pred).toEqual(expected);
  });

  it('typed errors: NOT_FOUND, BAD_FILE, UNSUPPORTED for file paths, TOO_LARGE, NOT_FITTED; no leaks; no console errors', async () => {
    const codes = await page.evaluate((u) => (window as never as Api).knnApi.errors(u), `${url}knn.fmknn`);
    expect(codes).toEqual({
      missing: 'NOT_FOUND',
      garbage: 'BAD_FILE',
      filePath: 'UNSUPPORTED',
      saveFile: 'UNSUPPORTED',
      tooLarge: 'TOO_LARGE',
      notFitted: 'NOT_FITTED',
      tensors: 0,
    });
    expect(errors).toEqual([]);
  });
});
