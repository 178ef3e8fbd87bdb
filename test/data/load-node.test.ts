import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FASHION_MNIST } from '../../src/data/catalog.js';
import { encodeIdx } from '../../src/data/idx.js';
import { defaultCacheDir, loadFashionMnist, loadSample } from '../../src/data/node.js';
import { SAMPLE } from '../../src/data/sample-catalog.js';
import { FashionMnistError } from '../../src/errors.js';
import { startServer, type TestServer } from '../helpers/http-server.js';
import { makeTinyDataset, writeTinyDataset } from '../helpers/tiny-dataset.js';
import { gzipBomb, imagesHeader } from './bombs.js';

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

/** The codes of an error and of its causes, outermost first. */
function codes(e: unknown): string[] {
  const out: string[] = [];
  for (let c = e; c instanceof Error; c = c.cause) out.push(c instanceof FashionMnistError ? c.code : c.name);
  return out;
}

describe('file-system errors are typed, with the path (issue 11, item 3)', () => {
  const name = 'train-labels-idx1-ubyte.gz';

  it("a directory in a file's place (EISDIR) is IO_ERROR", async () => {
    const dir = writeTinyDataset(ds);
    rmSync(join(dir, name));
    mkdirSync(join(dir, name));
    const err = await loadFashionMnist({ dir, dataset: ds.spec }).catch((e) => e);
    expect(err).toBeInstanceOf(FashionMnistError);
    expect(err.code).toBe('IO_ERROR');
    expect(err.path).toBe(join(dir, name));
    expect(err.message).toContain('a directory');
  });

  it("a FIFO in a file's place is IO_ERROR at once (it used to hang)", { timeout: 30_000 }, async () => {
    const dir = writeTinyDataset(ds);
    rmSync(join(dir, name));
    execFileSync('mkfifo', [join(dir, name)]);
    const err = await loadFashionMnist({ dir, dataset: ds.spec }).catch((e) => e);
    expect(err).toBeInstanceOf(FashionMnistError);
    expect(err.code).toBe('IO_ERROR');
    expect(err.path).toBe(join(dir, name));
    expect(err.message).toContain('not a regular file');
  });

  it('a file far larger than the catalogue says is TOO_LARGE, without being read', async () => {
    const dir = writeTinyDataset(ds, false);
    const raw = join(dir, name.replace(/\.gz$/, ''));
    rmSync(raw);
    writeFileSync(raw, new Uint8Array(0));
    truncateSync(raw, 2 ** 40); // a sparse 1 TiB file
    const err = await loadFashionMnist({ dir, dataset: ds.spec }).catch((e) => e);
    expect(err.code).toBe('TOO_LARGE');
    expect(err.path).toBe(raw);
  });

  it('a gzip bomb on disk is TOO_LARGE: inflating stops at the catalogue size', async () => {
    const dir = writeTinyDataset(ds);
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipBomb(64, imagesHeader(5)));
    const err = await loadFashionMnist({ dir, dataset: ds.spec }).catch((e) => e);
    expect(err).toBeInstanceOf(FashionMnistError);
    expect(err.code).toBe('TOO_LARGE');
    expect(err.message).toContain('stopped inflating');
  });

  it('a FIFO in the cache falls back to the sample when asked', { timeout: 30_000 }, async () => {
    const cacheDir = writeTinyDataset(ds);
    rmSync(join(cacheDir, name));
    execFileSync('mkfifo', [join(cacheDir, name)]);
    const data = await loadFashionMnist({
      dataset: ds.spec,
      cacheDir,
      download: false,
      fallbackToSample: true,
    });
    expect(data.isSample).toBe(true);
    const err = await loadFashionMnist({ dataset: ds.spec, cacheDir, download: false }).catch((e) => e);
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain('not a regular file');
    expect(codes(err)).toEqual(['NOT_FOUND', 'IO_ERROR']);
  });

  it('a cache dir that cannot be written (simulated: a file in its place) is IO_ERROR after a verified download, and the sample fallback applies', async () => {
    for (const [n, body] of ds.gz) server.routes.set(`/ro/${n}`, { kind: 'bytes', body });
    const cacheDir = join(tmp(), 'cache');
    writeFileSync(cacheDir, 'not a directory');
    const spec = { ...ds.spec, id: 'tiny-ro' };
    const mirrors = [`${server.url}ro/`];
    const err = await loadFashionMnist({ dataset: spec, cacheDir, mirrors }).catch((e) => e);
    expect(err).toBeInstanceOf(FashionMnistError);
    expect(codes(err)).toEqual(['NOT_FOUND', 'IO_ERROR', 'Error']);
    expect(err.cause.path).toBe(cacheDir);
    expect(err.message).toContain('cannot create the cache directory');
    const data = await loadFashionMnist({ dataset: spec, cacheDir, mirrors, fallbackToSample: true });
    expect(data.isSample).toBe(true);
    expect(readdirSync(dirname(cacheDir))).toEqual(['cache']);
  });

  it('with verify: false, a test file of 2×392 images next to 28×28 training images is BAD_SHAPE', async () => {
    const dir = writeTinyDataset(ds);
    const odd = encodeIdx({ dtype: 'uint8', shape: [3, 2, 392], data: ds.test.images });
    writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(odd));
    const err = await loadFashionMnist({ dir, dataset: ds.spec, verify: false }).catch((e) => e);
    expect(err).toBeInstanceOf(FashionMnistError);
    expect(err.code).toBe('BAD_SHAPE');
    expect(err.message).toMatch(/test images are 2×392 but training images are 28×28/);
  });
});

describe('damaged cache files are repaired (issue 11, item 4)', () => {
  const spec = { ...ds.spec, id: 'tiny-repair' };
  const name = 'train-labels-idx1-ubyte.gz';

  it('a truncated cached file is moved aside and downloaded again; the progress note says so', async () => {
    for (const [n, body] of ds.gz) server.routes.set(`/fix/${n}`, { kind: 'bytes', body });
    const cacheDir = writeTinyDataset(ds);
    const good = ds.gz.get(name)!;
    writeFileSync(join(cacheDir, name), good.subarray(0, good.length - 5));
    const notes: string[] = [];
    const mirrors = [`${server.url}fix/`];
    const hitsBefore = server.hits.length;
    const data = await loadFashionMnist({
      dataset: spec,
      cacheDir,
      mirrors,
      onProgress: (p) => p.note && notes.push(p.note),
    });
    expect(data.source.kind).toBe('download');
    expect(Array.from(data.train.labels)).toEqual(Array.from(ds.train.labels));
    // Only the damaged file was fetched.
    expect(server.hits.slice(hitsBefore)).toEqual([`/fix/${name}`]);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain('failed verification');
    expect(notes[0]).toContain(`moved it to ${join(cacheDir, `${name}.damaged`)}`);
    expect(existsSync(join(cacheDir, `${name}.damaged`))).toBe(true);
    // Repaired for good: the next run reads the cache, without the network.
    const again = await loadFashionMnist({ dataset: spec, cacheDir, download: false });
    expect(again.source.kind).toBe('cache');
  });

  it("a directory in a cached file's place is moved aside and repaired too", async () => {
    for (const [n, body] of ds.gz) server.routes.set(`/fix2/${n}`, { kind: 'bytes', body });
    const cacheDir = writeTinyDataset(ds);
    rmSync(join(cacheDir, name));
    mkdirSync(join(cacheDir, name));
    const data = await loadFashionMnist({ dataset: spec, cacheDir, mirrors: [`${server.url}fix2/`] });
    expect(data.source.kind).toBe('download');
  });
});

describe('download limits (issue 11, items 5 and 6)', () => {
  const spec = { ...ds.spec, id: 'tiny-limits' };

  it('a stalled mirror is a TIMEOUT after timeoutMs, and the next mirror is used', async () => {
    const first = 'train-images-idx3-ubyte.gz';
    for (const [n, body] of ds.gz) {
      server.routes.set(
        `/slow/${n}`,
        n === first ? { kind: 'stall', body, after: 5 } : { kind: 'bytes', body },
      );
      server.routes.set(`/fast/${n}`, { kind: 'bytes', body });
    }
    const only = await loadFashionMnist({
      dataset: spec,
      cacheDir: tmp(),
      mirrors: [`${server.url}slow/`],
      timeoutMs: 300,
    }).catch((e) => e);
    expect(codes(only)).toEqual(['NOT_FOUND', 'DOWNLOAD_FAILED', 'TIMEOUT']);
    // A generous timeout where a healthy mirror must answer in time, so that a busy machine cannot fail the test.
    const hitsBefore = server.hits.length;
    const data = await loadFashionMnist({
      dataset: spec,
      cacheDir: tmp(),
      mirrors: [`${server.url}slow/`, `${server.url}fast/`],
      timeoutMs: 2000,
    });
    expect(data.source.kind).toBe('download');
    expect(server.hits.slice(hitsBefore).filter((h) => h.startsWith('/fast/'))).toEqual([`/fast/${first}`]);
  });

  it('a body cut off mid-stream is DOWNLOAD_FAILED and the next mirror is used', async () => {
    for (const [n, body] of ds.gz) {
      server.routes.set(`/cutn/${n}`, { kind: 'cut', body, after: 5 });
      server.routes.set(`/fastn/${n}`, { kind: 'bytes', body });
    }
    const data = await loadFashionMnist({
      dataset: spec,
      cacheDir: tmp(),
      mirrors: [`${server.url}cutn/`, `${server.url}fastn/`],
    });
    expect(data.train.count).toBe(5);
    const err = await loadFashionMnist({
      dataset: spec,
      cacheDir: tmp(),
      baseUrl: `${server.url}cutn/`,
    }).catch((e) => e);
    expect(codes(err).slice(0, 3)).toEqual(['NOT_FOUND', 'DOWNLOAD_FAILED', 'DOWNLOAD_FAILED']);
    expect(err.message).toMatch(/closed after 5 of \d+ bytes/);
  });

  it('an endless body is TOO_LARGE and nothing reaches the cache', async () => {
    const chunk = new Uint8Array(64 * 1024).fill(3);
    for (const [n] of ds.gz) server.routes.set(`/endless/${n}`, { kind: 'endless', chunk });
    const cacheDir = tmp();
    const err = await loadFashionMnist({ dataset: spec, cacheDir, mirrors: [`${server.url}endless/`] }).catch(
      (e) => e,
    );
    expect(codes(err).slice(0, 3)).toEqual(['NOT_FOUND', 'DOWNLOAD_FAILED', 'TOO_LARGE']);
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('uses the fetch option for downloads', async () => {
    const seen: string[] = [];
    const data = await loadFashionMnist({
      dataset: spec,
      cacheDir: tmp(),
      baseUrl: 'https://mirror.invalid/fm/',
      fetch: (async (url: string) => {
        seen.push(url);
        return new Response(ds.gz.get(url.split('/').pop()!) as Uint8Array<ArrayBuffer>);
      }) as typeof fetch,
    });
    expect(data.test.count).toBe(3);
    expect(seen).toContain('https://mirror.invalid/fm/t10k-labels-idx1-ubyte.gz');
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
