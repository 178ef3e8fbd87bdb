// File-system errors that a test running as root cannot provoke for real (root reads and writes whatever the
// permission bits say): EACCES is injected into node:fs/promises for the paths a test names. Everything else goes
// to the real file system.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadFashionMnist } from '../../src/data/node.js';
import { FashionMnistError } from '../../src/errors.js';
import { startServer, type TestServer } from '../helpers/http-server.js';
import { makeTinyDataset, writeTinyDataset } from '../helpers/tiny-dataset.js';

const denied = new Set<string>();
const eacces = (path: string) =>
  Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES', errno: -13, path });

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const deny = (path: unknown) => [...denied].some((d) => String(path).startsWith(d));
  return {
    ...real,
    open: ((path, ...rest) =>
      deny(path) ? Promise.reject(eacces(String(path))) : real.open(path, ...rest)) as typeof real.open,
    writeFile: ((path, ...rest) =>
      deny(path)
        ? Promise.reject(eacces(String(path)))
        : real.writeFile(path, ...rest)) as typeof real.writeFile,
  };
});

const ds = makeTinyDataset(5, 3);
let server: TestServer;
beforeAll(async () => {
  server = await startServer();
  for (const [name, body] of ds.gz) server.routes.set(`/m/${name}`, { kind: 'bytes', body });
});
afterAll(() => server.close());
afterEach(() => denied.clear());

describe('EACCES (injected: the tests run as root)', () => {
  const name = 'train-labels-idx1-ubyte.gz';

  it('an unreadable file in an explicit dir is IO_ERROR with the path and the system error as cause', async () => {
    const dir = writeTinyDataset(ds);
    denied.add(join(dir, name));
    const err = await loadFashionMnist({ dir, dataset: ds.spec }).catch((e) => e);
    expect(err).toBeInstanceOf(FashionMnistError);
    expect(err.code).toBe('IO_ERROR');
    expect(err.path).toBe(join(dir, name));
    expect(err.cause.code).toBe('EACCES');
    expect(err.message).toContain('permissions');
  });

  it('an unreadable cached file falls back to the sample when asked', async () => {
    const cacheDir = writeTinyDataset(ds);
    denied.add(join(cacheDir, name));
    const data = await loadFashionMnist({
      dataset: ds.spec,
      cacheDir,
      download: false,
      fallbackToSample: true,
    });
    expect(data.isSample).toBe(true);
  });

  it('a cache dir that refuses writes is IO_ERROR after a verified download; the sample fallback applies', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'fmnist-ro-'));
    denied.add(cacheDir);
    const spec = { ...ds.spec, id: 'tiny-eacces' };
    const mirrors = [`${server.url}m/`];
    const err = await loadFashionMnist({ dataset: spec, cacheDir, mirrors }).catch((e) => e);
    expect(err).toBeInstanceOf(FashionMnistError);
    expect(err.code).toBe('NOT_FOUND');
    expect(err.cause.code).toBe('IO_ERROR');
    expect(err.cause.path).toContain(cacheDir);
    expect(err.cause.cause.code).toBe('EACCES');
    expect(err.message).toContain('the download was verified but cannot be kept');
    const data = await loadFashionMnist({ dataset: spec, cacheDir, mirrors, fallbackToSample: true });
    expect(data.isSample).toBe(true);
  });
});
