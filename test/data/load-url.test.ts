import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadProgress } from '../../src/data/assemble.js';
import { loadFashionMnist } from '../../src/data/load.js';
import { FashionMnistError } from '../../src/errors.js';
import { startServer, type TestServer } from '../helpers/http-server.js';
import { makeTinyDataset } from '../helpers/tiny-dataset.js';

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

  it('reports a connection cut mid-body', async () => {
    serveAll('/cut/');
    const big = ds.gz.get('train-images-idx3-ubyte.gz')!;
    server.routes.set('/cut/train-images-idx3-ubyte.gz', { kind: 'cut', body: big, after: 10 });
    await expect(loadFashionMnist({ baseUrl: `${server.url}cut/`, dataset: ds.spec })).rejects.toThrow();
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
