import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FASHION_MNIST } from '../../src/data/catalog.js';
import { defaultCacheDir, loadFashionMnist, loadSample } from '../../src/data/node.js';
import { SAMPLE } from '../../src/data/sample-catalog.js';
import { FashionMnistError } from '../../src/errors.js';
import { startServer, type TestServer } from '../helpers/http-server.js';
import { makeTinyDataset, writeTinyDataset } from '../helpers/tiny-dataset.js';

const ds = makeTinyDataset(5, 3);
let server: TestServer;
const tmp = () => mkdtempSync(join(tmpdir(), 'fmnist-cache-'));

beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());
afterEach(() => {
  delete process.env.FASHION_MNIST_DIR;
});

describe('Node loader sources', () => {
  it('an explicit dir, gzip or uncompressed', async () => {
    for (const compressed of [true, false]) {
      const dir = writeTinyDataset(ds, compressed);
      const data = await loadFashionMnist({ dir, dataset: ds.spec, download: false });
      expect(data.source).toEqual({ kind: 'dir', location: dir });
      expect(data.train.count).toBe(5);
      expect(data.isSample).toBe(false);
    }
  });

  it('an explicit dir that lacks files lists what is missing', async () => {
    const dir = tmp();
    const err = await loadFashionMnist({ dir, dataset: ds.spec }).catch((e) => e);
    expect(err).toBeInstanceOf(FashionMnistError);
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain(join(dir, 't10k-labels-idx1-ubyte.gz'));
  });

  it('FASHION_MNIST_DIR comes before the cache', async () => {
    process.env.FASHION_MNIST_DIR = writeTinyDataset(ds);
    const data = await loadFashionMnist({
      dataset: ds.spec,
      cacheDir: writeTinyDataset(ds),
      download: false,
    });
    expect(data.source.kind).toBe('env');
  });

  it('the cache is used when present', async () => {
    const cacheDir = writeTinyDataset(ds);
    const data = await loadFashionMnist({ dataset: ds.spec, cacheDir, download: false });
    expect(data.source).toEqual({ kind: 'cache', location: cacheDir });
  });

  it('says where it looked and how to get the data', async () => {
    const err = await loadFashionMnist({ dataset: ds.spec, cacheDir: tmp(), download: false }).catch(
      (e) => e,
    );
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain('FASHION_MNIST_DIR');
    expect(err.message).toContain('apt-get install dataset-fashion-mnist');
    expect(err.message).toContain('download (disabled)');
  });

  it('falls back to the embedded sample only when asked', async () => {
    const data = await loadFashionMnist({
      dataset: ds.spec,
      cacheDir: tmp(),
      download: false,
      fallbackToSample: true,
    });
    expect(data.isSample).toBe(true);
    expect(data.source.kind).toBe('sample');
  });

  it('validates options', async () => {
    const badOption = { code: 'BAD_OPTION' };
    await expect(loadFashionMnist({ dir: 5 as unknown as string })).rejects.toMatchObject(badOption);
    await expect(loadFashionMnist({ download: 1 as unknown as boolean })).rejects.toMatchObject(badOption);
    await expect(loadFashionMnist({ directory: 'x' } as never)).rejects.toThrow(/unknown option 'directory'/);
    await expect(loadFashionMnist({ timeoutMs: '5' as unknown as number })).rejects.toMatchObject(badOption);
    await expect(loadFashionMnist({ timeoutMs: 0 })).rejects.toMatchObject(badOption);
    await expect(loadFashionMnist({ timeoutMs: 2 ** 31 })).rejects.toMatchObject(badOption);
    await expect(loadFashionMnist({ mirrors: [] })).rejects.toMatchObject(badOption);
    await expect(loadFashionMnist({ baseUrl: 'http://a/', mirrors: ['http://b/'] })).rejects.toMatchObject(
      badOption,
    );
    await expect(loadFashionMnist({ baseUrl: 'relative/dir/' })).rejects.toMatchObject(badOption);
    await expect(loadFashionMnist({ dataset: { id: 'x' } as never })).rejects.toMatchObject(badOption);
    await expect(loadSample({ verfy: false } as never)).rejects.toThrow(/unknown option 'verfy'/);
  });

  it('defaultCacheDir follows XDG_CACHE_HOME', () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/fashion-mnist-tfjs');
  });
});

describe('download into the cache', () => {
  const spec = { ...ds.spec, id: 'tiny-dl' };
  it('downloads, verifies and writes atomically; the next run reads the cache', async () => {
    for (const [name, body] of ds.gz) server.routes.set(`/m1/${name}`, { kind: 'bytes', body });
    const cacheDir = tmp();
    const phases = new Set<string>();
    const data = await loadFashionMnist({
      dataset: spec,
      cacheDir,
      mirrors: [`${server.url}m1/`],
      onProgress: (p) => phases.add(p.phase),
    });
    expect(data.source.kind).toBe('download');
    expect(phases.has('download')).toBe(true);
    expect(readdirSync(cacheDir).sort()).toEqual(ds.spec.files.map((f) => f.name).sort());
    const again = await loadFashionMnist({ dataset: spec, cacheDir, mirrors: [`${server.url}m1/`] });
    expect(again.source.kind).toBe('cache');
  });

  it('tries the next mirror when one fails', async () => {
    for (const [name, body] of ds.gz) server.routes.set(`/m2/${name}`, { kind: 'bytes', body });
    const data = await loadFashionMnist({
      dataset: spec,
      cacheDir: tmp(),
      mirrors: [`${server.url}none/`, `${server.url}m2/`],
    });
    expect(data.train.count).toBe(5);
  });

  it('an interrupted download leaves nothing a later run could take as good', async () => {
    for (const [name, body] of ds.gz) server.routes.set(`/m3/${name}`, { kind: 'bytes', body });
    const name = 't10k-images-idx3-ubyte.gz';
    server.routes.set(`/m3/${name}`, { kind: 'cut', body: ds.gz.get(name)!, after: 20 });
    const cacheDir = tmp();
    const err = await loadFashionMnist({ dataset: spec, cacheDir, mirrors: [`${server.url}m3/`] }).catch(
      (e) => e,
    );
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain(name);
    const left = readdirSync(cacheDir);
    expect(left).not.toContain(name);
    expect(left.filter((f) => f.includes('partial'))).toEqual([]);
    // The files that did arrive whole were verified and are kept, so a retry only fetches the missing one.
    expect(left).toContain('train-images-idx3-ubyte.gz');
  });

  it('content with the wrong checksum is never written to the cache', async () => {
    for (const [name, body] of ds.gz) server.routes.set(`/m4/${name}`, { kind: 'bytes', body });
    server.routes.set('/m4/train-labels-idx1-ubyte.gz', {
      kind: 'bytes',
      body: ds.gz.get('t10k-labels-idx1-ubyte.gz')!,
    });
    const cacheDir = tmp();
    const err = await loadFashionMnist({ dataset: spec, cacheDir, mirrors: [`${server.url}m4/`] }).catch(
      (e) => e,
    );
    expect(err.message).toMatch(/SHA-256 of the decompressed content is [0-9a-f]{64}, expected/);
    expect(existsSync(join(cacheDir, 'train-labels-idx1-ubyte.gz'))).toBe(false);
  });

  it('a damaged cache file is set aside and downloaded again', async () => {
    for (const [name, body] of ds.gz) server.routes.set(`/m5/${name}`, { kind: 'bytes', body });
    const cacheDir = writeTinyDataset(ds);
    writeFileSync(join(cacheDir, 'train-labels-idx1-ubyte.gz'), ds.gz.get('t10k-labels-idx1-ubyte.gz')!);
    const err = await loadFashionMnist({ dataset: spec, cacheDir, download: false }).catch((e) => e);
    expect(err.message).toContain('unusable');
    rmSync(join(cacheDir, 'train-labels-idx1-ubyte.gz'));
    const data = await loadFashionMnist({ dataset: spec, cacheDir, mirrors: [`${server.url}m5/`] });
    expect(data.source.kind).toBe('download');
  });
});

describe('embedded sample', () => {
  it('is a balanced real sample with verified checksums', async () => {
    const s = await loadSample();
    expect(s.isSample).toBe(true);
    expect([s.train.count, s.test.count]).toEqual([6000, 1000]);
    const perClass = (labels: Uint8Array) =>
      Array.from({ length: 10 }, (_, c) => labels.filter((l) => l === c).length);
    expect(perClass(s.train.labels)).toEqual(Array(10).fill(600));
    expect(perClass(s.test.labels)).toEqual(Array(10).fill(100));
    expect(SAMPLE.files.map((f) => f.name)).toEqual(FASHION_MNIST.files.map((f) => f.name));
  });
});
