// The universal loader where it is meant to run: bundled for the browser with esbuild and driven in Debian's
// Chromium against the local HTTP server. Same rules as in Node: typed errors, the next mirror, the idle timeout,
// size limits while streaming and inflating (DecompressionStream, chunk by chunk), relative URLs resolved
// against the page.
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_CHROMIUM, launchChromium } from '../helpers/chromium.js';
import { startServer, type TestServer } from '../helpers/http-server.js';
import { makeTinyDataset } from '../helpers/tiny-dataset.js';
import { gzipBomb, imagesHeader } from './bombs.js';

const ds = makeTinyDataset(6, 4);

/** What a page call returns: the counts, or the error's class, code and message. */
type Outcome = {
  counts?: [number, number];
  location?: string;
  name?: string;
  code?: string;
  message?: string;
};

describe.skipIf(!HAS_CHROMIUM)('universal loadFashionMnist in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    const bundle = await build({
      stdin: {
        contents:
          "import { loadFashionMnist } from './src/data/load.ts'; import { parseIdx } from './src/data/idx.ts';" +
          'Object.assign(globalThis, { loadFashionMnist, parseIdx });',
        resolveDir: '.',
        loader: 'ts',
      },
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'iife',
      logLevel: 'silent',
    });
    server = await startServer();
    const html = '<!doctype html><title>loader</title><script src="/loader.js"></script>';
    server.routes.set('/index.html', {
      kind: 'bytes',
      body: new TextEncoder().encode(html),
      contentType: 'text/html',
    });
    server.routes.set('/loader.js', {
      kind: 'bytes',
      body: bundle.outputFiles[0].contents,
      contentType: 'text/javascript',
    });
    for (const [name, body] of ds.gz) {
      server.routes.set(`/data/ok/${name}`, { kind: 'bytes', body });
      server.routes.set(`/data/stall/${name}`, { kind: 'stall', body, after: 5 });
      server.routes.set(`/data/cut/${name}`, { kind: 'cut', body, after: 5 });
      server.routes.set(`/data/bomb/${name}`, { kind: 'bytes', body });
    }
    server.routes.set('/data/bomb/train-images-idx3-ubyte.gz', { kind: 'bytes', body: gzipBomb(1024) });
    browser = await launchChromium();
    page = await browser.newPage();
    await page.goto(`${server.url}index.html`);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** Runs loadFashionMnist in the page with the tiny data set's catalogue. */
  const load = (options: Record<string, unknown>): Promise<Outcome> =>
    page.evaluate(
      async ({ options, spec }) => {
        type Data = { train: { count: number }; test: { count: number }; source: { location: string } };
        const g = globalThis as unknown as { loadFashionMnist: (o: unknown) => Promise<Data> };
        try {
          const data = await g.loadFashionMnist({ ...options, dataset: spec });
          return { counts: [data.train.count, data.test.count], location: data.source.location } as Outcome;
        } catch (e) {
          const err = e as { name: string; code?: string; message: string };
          return { name: err.name, code: err.code, message: err.message } as Outcome;
        }
      },
      { options, spec: JSON.parse(JSON.stringify(ds.spec)) },
    );

  it('loads from a URL relative to the page', async () => {
    const r = await load({ baseUrl: 'data/ok' });
    expect(r).toEqual({ counts: [6, 4], location: `${server.url}data/ok/` });
  });

  it('a stalled body is a TIMEOUT, and the next mirror is tried', async () => {
    const r = await load({ baseUrl: 'data/stall/', timeoutMs: 500 });
    expect(r).toMatchObject({ name: 'FashionMnistError', code: 'TIMEOUT' });
    const next = await load({ mirrors: ['data/stall/', 'data/ok/'], timeoutMs: 2000 });
    expect(next.counts).toEqual([6, 4]);
  });

  it('a body cut off mid-stream is DOWNLOAD_FAILED, and the next mirror is tried', async () => {
    const r = await load({ baseUrl: 'data/cut/' });
    expect(r).toMatchObject({ name: 'FashionMnistError', code: 'DOWNLOAD_FAILED' });
    const next = await load({ mirrors: ['data/cut/', 'data/ok/'] });
    expect(next.counts).toEqual([6, 4]);
  });

  it('a 1 GiB gzip bomb is TOO_LARGE (inflating stops at the catalogue size)', async () => {
    const r = await load({ baseUrl: 'data/bomb/' });
    expect(r).toMatchObject({ name: 'FashionMnistError', code: 'TOO_LARGE' });
  });

  it('parseIdx stops a 1 GiB bomb that goes on past its header (BAD_SHAPE), in well under 2 s', async () => {
    server.routes.set('/bomb.gz', { kind: 'bytes', body: gzipBomb(1024, imagesHeader(5)) });
    const r = await page.evaluate(async () => {
      const g = globalThis as unknown as { parseIdx: (b: Uint8Array, n: string) => Promise<unknown> };
      const input = new Uint8Array(await (await fetch('/bomb.gz')).arrayBuffer());
      const t = performance.now();
      try {
        await g.parseIdx(input, 'bomb.gz');
        return { code: 'resolved', ms: performance.now() - t };
      } catch (e) {
        return { code: (e as { code?: string }).code, name: (e as Error).name, ms: performance.now() - t };
      }
    });
    expect(r).toMatchObject({ code: 'BAD_SHAPE', name: 'FashionMnistError' });
    expect(r.ms).toBeLessThan(2000);
  });

  it('Node-only options are UNSUPPORTED', async () => {
    const r = await load({ baseUrl: 'data/ok/', dir: '/tmp' });
    expect(r).toMatchObject({ code: 'UNSUPPORTED' });
    expect(r.message).toContain('fashion-mnist-tfjs/node');
  });
});
