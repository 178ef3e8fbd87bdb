import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadProgress } from '../../src/data/assemble.js';
import { encodeIdx } from '../../src/data/idx.js';
import { loadFashionMnist } from '../../src/data/load.js';
import { FashionMnistError } from '../../src/errors.js';
import { startServer, type TestServer } from '../helpers/http-server.js';
import { makeTinyDataset } from '../helpers/tiny-dataset.js';
import { gzipBomb } from './bombs.js';

const ds = makeTinyDataset(6, 4);
let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

function serveAll(prefix: string, mutate?: (name: string, b: Uint8Array) => Uint8Array) {
  for (const [name, bytes] of ds.gz)
    server.routes.set(`${prefix}${name}`, { kind: 'bytes', body: mutate ? mutate(name, bytes) : bytes });
}

describe('loadFashionMnist from a URL (real HTTP server on 127.0.0.1)', () => {
  it('loads, verifies and reports progress', async () => {
    serveAll('/ok/');
    const events: LoadProgress[] = [];
    const data = await loadFashionMnist({
      baseUrl: `${server.url}ok`,
      dataset: ds.spec,
      onProgress: (p) => events.push(p),
    });
    expect(data.source).toEqual({ kind: 'url', location: `${server.url}ok/` });
    expect(data.train.count).toBe(6);
    expect(data.test.count).toBe(4);
    expect(Array.from(data.train.labels)).toEqual(Array.from(ds.train.labels));
    expect(Array.from(data.test.images)).toEqual(Array.from(ds.test.images));
    expect(events.filter((e) => e.phase === 'done').map((e) => e.filesDone)).toEqual([1, 2, 3, 4]);
    expect(events.some((e) => e.phase === 'read' && e.total !== undefined && e.loaded === e.total)).toBe(
      true,
    );
  });

  it('serves uncompressed files too', async () => {
    for (const [name, bytes] of ds.raw) server.routes.set(`/raw/${name}`, { kind: 'bytes', body: bytes });
    const data = await loadFashionMnist({ baseUrl: `${server.url}raw/`, dataset: ds.spec });
    expect(data.train.count).toBe(6);
  });

  it('names the file, expected and actual hash on a checksum mismatch', async () => {
    serveAll('/bad/', (name, b) =>
      name.startsWith('t10k-labels') ? ds.gz.get('train-labels-idx1-ubyte.gz')! : b,
    );
    const err = await loadFashionMnist({ baseUrl: `${server.url}bad/`, dataset: ds.spec }).catch((e) => e);
    expect(err).toBeInstanceOf(FashionMnistError);
    expect(err.code).toBe('CHECKSUM_MISMATCH');
    expect(err.message).toContain('t10k-labels-idx1-ubyte.gz');
    expect(err.message).toContain(ds.spec.files[3].sha256);
  });

  it('reports HTTP errors with the URL', async () => {
    const err = await loadFashionMnist({ baseUrl: `${server.url}missing/`, dataset: ds.spec }).catch(
      (e) => e,
    );
    expect(err.code).toBe('DOWNLOAD_FAILED');
    expect(err.message).toContain(`${server.url}missing/train-images-idx3-ubyte.gz: HTTP 404`);
  });

  it('reports a connection cut mid-body as DOWNLOAD_FAILED (was an untyped TypeError: terminated)', async () => {
    serveAll('/cut/');
    const big = ds.gz.get('train-images-idx3-ubyte.gz')!;
    server.routes.set('/cut/train-images-idx3-ubyte.gz', { kind: 'cut', body: big, after: 10 });
    const err = await loadFashionMnist({ baseUrl: `${server.url}cut/`, dataset: ds.spec }).catch((e) => e);
    expect(err).toBeInstanceOf(FashionMnistError);
    expect(err.code).toBe('DOWNLOAD_FAILED');
    expect(err.path).toBe(`${server.url}cut/train-images-idx3-ubyte.gz`);
    expect(err.message).toMatch(/closed after 10 of \d+ bytes/);
  });

  it('after a body cut off mid-stream, the next mirror is tried', async () => {
    serveAll('/cut2/');
    serveAll('/good2/');
    const big = ds.gz.get('train-images-idx3-ubyte.gz')!;
    server.routes.set('/cut2/train-images-idx3-ubyte.gz', { kind: 'cut', body: big, after: 10 });
    const data = await loadFashionMnist({
      mirrors: [`${server.url}cut2/`, `${server.url}good2/`],
      dataset: ds.spec,
    });
    expect(data.source.location).toBe(`${server.url}good2/`);
    expect(data.train.count).toBe(6);
  });

  it('a stalled body is a TIMEOUT after timeoutMs of silence, and the next mirror is tried', async () => {
    serveAll('/stall/');
    serveAll('/good3/');
    const big = ds.gz.get('train-images-idx3-ubyte.gz')!;
    server.routes.set('/stall/train-images-idx3-ubyte.gz', { kind: 'stall', body: big, after: 10 });
    const err = await loadFashionMnist({
      baseUrl: `${server.url}stall/`,
      dataset: ds.spec,
      timeoutMs: 300,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(FashionMnistError);
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toContain("'timeoutMs'");
    // A generous timeout where a healthy mirror must answer in time, so that a busy machine cannot fail the test.
    const data = await loadFashionMnist({
      mirrors: [`${server.url}stall/`, `${server.url}good3/`],
      dataset: ds.spec,
      timeoutMs: 2000,
    });
    expect(data.source.location).toBe(`${server.url}good3/`);
  });

  it('a server that never answers is a TIMEOUT too', async () => {
    server.routes.set('/silent/train-images-idx3-ubyte.gz', { kind: 'silent' });
    const err = await loadFashionMnist({
      baseUrl: `${server.url}silent/`,
      dataset: ds.spec,
      timeoutMs: 300,
    }).catch((e) => e);
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toContain('no response within 300 ms');
  });

  it('a custom fetch that ignores the abort signal still times out', async () => {
    const never = () => new Promise<Response>(() => {});
    const err = await loadFashionMnist({
      baseUrl: 'https://example.invalid/',
      dataset: ds.spec,
      timeoutMs: 200,
      fetch: never as typeof fetch,
    }).catch((e) => e);
    expect(err.code).toBe('TIMEOUT');
  });

  it('a body longer than the catalogue allows is TOO_LARGE, announced or not, and is not read whole', async () => {
    serveAll('/big/');
    // The tiny training images are 3,952 bytes decompressed: the limit is that + 1 % + 64 KiB.
    server.routes.set('/big/train-images-idx3-ubyte.gz', { kind: 'bytes', body: new Uint8Array(200_000) });
    const announced = await loadFashionMnist({ baseUrl: `${server.url}big/`, dataset: ds.spec }).catch(
      (e) => e,
    );
    expect(announced.code).toBe('TOO_LARGE');
    expect(announced.message).toContain('announces 200000 bytes');

    const chunk = new Uint8Array(64 * 1024).fill(1);
    server.routes.set('/big/train-images-idx3-ubyte.gz', { kind: 'endless', chunk });
    const before = server.endlessBytes;
    const endless = await loadFashionMnist({ baseUrl: `${server.url}big/`, dataset: ds.spec }).catch(
      (e) => e,
    );
    expect(endless.code).toBe('TOO_LARGE');
    expect(endless.message).toContain('stopped reading');
    // Reading stopped near the limit; the server's socket buffers may hold a few more MB, never the whole stream.
    await new Promise((r) => setTimeout(r, 100));
    expect(server.endlessBytes - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('a gzip bomb is TOO_LARGE: inflating stops at the catalogue size', async () => {
    serveAll('/bomb/');
    server.routes.set('/bomb/train-images-idx3-ubyte.gz', { kind: 'bytes', body: gzipBomb(64) });
    const err = await loadFashionMnist({ baseUrl: `${server.url}bomb/`, dataset: ds.spec }).catch((e) => e);
    expect(err).toBeInstanceOf(FashionMnistError);
    expect(err.code).toBe('TOO_LARGE');
    expect(err.message).toContain('stopped inflating');
  });

  it('with verify: false, a test file of 2×392 images next to 28×28 training images is BAD_SHAPE', async () => {
    const odd = encodeIdx({ dtype: 'uint8', shape: [4, 2, 392], data: ds.test.images });
    serveAll('/odd/', (name, b) => (name === 't10k-images-idx3-ubyte.gz' ? gzipSync(odd) : b));
    const err = await loadFashionMnist({
      baseUrl: `${server.url}odd/`,
      dataset: ds.spec,
      verify: false,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(FashionMnistError);
    expect(err.code).toBe('BAD_SHAPE');
    expect(err.message).toContain('2×392');
    // A catalogue that knows the image shape refuses the file itself.
    const err2 = await loadFashionMnist({
      baseUrl: `${server.url}odd/`,
      dataset: { ...ds.spec, imageShape: [28, 28] },
      verify: false,
    }).catch((e) => e);
    expect(err2.code).toBe('BAD_SHAPE');
    expect(err2.path).toBe(`${server.url}odd/t10k-images-idx3-ubyte.gz`);
  });

  it('refuses the Node-only options with UNSUPPORTED, naming fashion-mnist-tfjs/node', async () => {
    for (const options of [
      { dir: '/x' },
      { cacheDir: '/x' },
      { download: false },
      { fallbackToSample: true },
    ]) {
      const err = await loadFashionMnist({ ...options, baseUrl: server.url, dataset: ds.spec }).catch(
        (e) => e,
      );
      expect(err).toBeInstanceOf(FashionMnistError);
      expect(err.code).toBe('UNSUPPORTED');
      expect(err.message).toContain(`'${Object.keys(options)[0]}'`);
      expect(err.message).toContain('fashion-mnist-tfjs/node');
    }
  });

  it('a relative URL outside a browser page is BAD_OPTION, not a raw TypeError: Invalid URL', async () => {
    const err = await loadFashionMnist({ baseUrl: 'data/fashion-mnist/', dataset: ds.spec }).catch((e) => e);
    expect(err).toBeInstanceOf(FashionMnistError);
    expect(err.code).toBe('BAD_OPTION');
    expect(err.message).toContain('absolute URL');
    expect(err.message).toContain('fashion-mnist-tfjs/node');
    expect(server.hits.some((h) => h.includes('data/fashion-mnist'))).toBe(false);
  });

  it('validates options', async () => {
    const badOption = { code: 'BAD_OPTION' };
    await expect(loadFashionMnist({ baseUrl: 3 as unknown as string })).rejects.toMatchObject(badOption);
    await expect(loadFashionMnist({ verify: 'no' as unknown as boolean })).rejects.toMatchObject(badOption);
    await expect(loadFashionMnist({ baseURL: 'x' } as never)).rejects.toThrow(/unknown option 'baseURL'/);
    await expect(loadFashionMnist({ baseURL: 'x' } as never)).rejects.toMatchObject(badOption);
    await expect(loadFashionMnist({ dataset: ds.spec })).rejects.toThrow(/'baseUrl' is required/);
    await expect(loadFashionMnist({ dataset: ds.spec })).rejects.toMatchObject(badOption);
    await expect(loadFashionMnist({ timeoutMs: -1 })).rejects.toMatchObject(badOption);
    await expect(loadFashionMnist({ fetch: 'x' as never })).rejects.toMatchObject(badOption);
  });
});
