// Node-only data loading: files on disk, the user cache, Debian's package and downloads, in that order.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import { FashionMnistError } from '../errors.js';
import { fetchBytes } from '../internal/bytes.js';
import { ioError, readFileLimited, writeFileAtomic } from '../internal/fs-node.js';
import { badOption, checkBoolean, checkFunction, mergeOptions, show } from '../internal/validate.js';
import {
  type AssembleParts,
  buildDataset,
  type DataSource,
  type FashionMnist,
  loadFile,
  verifiedContent,
} from './assemble.js';
import { type DatasetFile, type DatasetSpec, FASHION_MNIST, fileSizeLimit } from './catalog.js';
import type { IdxArray } from './idx.js';
import { absoluteBase, type LoadFashionMnistOptions, resolveLoadOptions } from './options.js';
import { SAMPLE } from './sample-catalog.js';

/**
 * Where Debian's `dataset-fashion-mnist` package puts the files.
 * @example
 * ```ts
 * const data = await loadFashionMnist({ dir: DEBIAN_DIR });
 * ```
 */
export const DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';

const WHERE = 'loadFashionMnist';

/**
 * The user cache directory for downloaded data.
 *
 * @example
 * ```ts
 * defaultCacheDir(); // '/home/me/.cache/fashion-mnist-tfjs'
 * ```
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'fashion-mnist-tfjs');
}

/** Inflates gzip with zlib, streaming into a buffer of `maxBytes`: past it, zlib is stopped (TOO_LARGE). */
function inflate(bytes: Uint8Array, name: string, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolvePromise, reject) => {
    const z = createGunzip({ chunkSize: 64 * 1024 });
    // Zero-filled lazily by the system: a file cut short only ever touches the pages it fills.
    const out = new Uint8Array(maxBytes);
    let written = 0;
    let settled = false;
    const settle = (e?: FashionMnistError) => {
      if (settled) return;
      settled = true;
      if (e) {
        z.destroy();
        reject(e);
      } else resolvePromise(out.subarray(0, written));
    };
    z.on('data', (chunk: Buffer) => {
      if (settled) return;
      if (written + chunk.length > maxBytes) {
        settle(
          new FashionMnistError(
            'TOO_LARGE',
            `${name}: the gzip data inflates to more than ${maxBytes} bytes, the most allowed for this file ` +
              `(its size in the catalogue plus slack); stopped inflating (the file is not this data set's)`,
            { path: name },
          ),
        );
        return;
      }
      out.set(chunk, written);
      written += chunk.length;
    });
    z.on('error', (cause) =>
      settle(
        new FashionMnistError('BAD_GZIP', `${name}: truncated or corrupt gzip data (${cause.message})`, {
          path: name,
          cause,
        }),
      ),
    );
    z.on('end', () => settle());
    z.end(bytes);
  });
}

const nodeParts = {
  inflate,
  sha256: (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex'),
};

/** The path of `file` in `dir`, compressed or not, or undefined when neither exists. */
function findFile(dir: string, file: DatasetFile): string | undefined {
  const gz = join(dir, file.name);
  if (existsSync(gz)) return gz;
  const raw = join(dir, file.name.replace(/\.gz$/, ''));
  return existsSync(raw) ? raw : undefined;
}

function hasAll(dir: string, spec: DatasetSpec): boolean {
  return spec.files.every((f) => findFile(dir, f) !== undefined);
}

interface Reading {
  verify: boolean;
  onProgress: LoadFashionMnistOptions['onProgress'];
}

function dirParts(dir: string, opts: Reading): AssembleParts {
  return {
    ...nodeParts,
    verify: opts.verify,
    onProgress: opts.onProgress,
    describe: (f) => findFile(dir, f) ?? join(dir, f.name),
    async read(file, report) {
      const path = findFile(dir, file);
      if (!path) {
        throw new FashionMnistError('NOT_FOUND', `${join(dir, file.name)}: no such file (nor without .gz)`, {
          path: join(dir, file.name),
        });
      }
      const bytes = await readFileLimited(WHERE, path, fileSizeLimit(file));
      report(bytes.length, bytes.length);
      return bytes;
    },
  };
}

async function loadDir(dir: string, spec: DatasetSpec, source: DataSource, opts: Reading) {
  const parts = dirParts(dir, opts);
  const decoded = new Map<DatasetFile, IdxArray>();
  for (const file of spec.files) decoded.set(file, await loadFile(spec, file, parts, 'read', decoded.size));
  return buildDataset(spec, decoded, source, spec.id === SAMPLE.id);
}

/** Writes a verified download into the cache, atomically (a temporary file, flushed, then renamed). */
async function writeCacheFile(cacheDir: string, file: DatasetFile, bytes: Uint8Array): Promise<void> {
  const keep = (e: FashionMnistError) =>
    new FashionMnistError(
      'IO_ERROR',
      `${e.message}; the download was verified but cannot be kept in the cache: fix the permissions, or pass ` +
        "another 'cacheDir' (or set XDG_CACHE_HOME)",
      { path: e.path, cause: e.cause },
    );
  try {
    await mkdir(cacheDir, { recursive: true });
  } catch (cause) {
    throw keep(ioError(WHERE, 'create the cache directory', cacheDir, cause));
  }
  try {
    await writeFileAtomic(WHERE, join(cacheDir, file.name), bytes);
  } catch (e) {
    throw e instanceof FashionMnistError ? keep(e) : e;
  }
}

/** Moves a cached file that failed verification out of the way (to `<name>.damaged`), for inspection. */
async function moveAside(path: string): Promise<string> {
  const aside = `${path}.damaged`;
  try {
    await rm(aside, { recursive: true, force: true });
    await rename(path, aside);
  } catch (cause) {
    // Gone already (another process repaired it first): nothing left to move.
    if ((cause as NodeJS.ErrnoException)?.code !== 'ENOENT')
      throw ioError(WHERE, 'move aside the damaged', path, cause);
  }
  return aside;
}

/** Downloads one file (the mirrors in order), verifies it, caches it and returns its decompressed content. */
async function downloadFile(
  file: DatasetFile,
  bases: readonly string[],
  cacheDir: string,
  common: { timeoutMs: number; fetch: typeof globalThis.fetch | undefined },
  report: (loaded: number, total?: number) => void,
): Promise<Uint8Array> {
  const failures: string[] = [];
  let last: FashionMnistError | undefined;
  for (const base of bases) {
    const url = new URL(file.name, base).href;
    let bytes: Uint8Array;
    let raw: Uint8Array;
    try {
      bytes = await fetchBytes(url, {
        fetch: common.fetch,
        timeoutMs: common.timeoutMs,
        timeoutHint: "the option 'timeoutMs'",
        maxBytes: fileSizeLimit(file),
        onBytes: report,
      });
      // Verify before anything reaches the cache, so a later run never takes a bad file as good.
      raw = await verifiedContent(file, bytes, url, { ...nodeParts, verify: true });
    } catch (e) {
      if (!(e instanceof FashionMnistError)) throw e;
      failures.push(`${e.code}: ${e.message}`);
      last = e;
      continue;
    }
    await writeCacheFile(cacheDir, file, bytes);
    return raw;
  }
  throw new FashionMnistError(
    'DOWNLOAD_FAILED',
    `${file.name}: every mirror failed:\n    ${failures.join('\n    ')}`,
    { path: file.name, cause: last },
  );
}

/**
 * The directory holding the package's own files (`data/sample/`, `models/`), found from this module's location
 * so that it works from `src/` (tests) and from `dist/` (the published package).
 * @example
 * ```ts
 * import { join } from 'node:path';
 * const sampleDir = join(packageRoot(), 'data', 'sample');
 * ```
 */
export function packageRoot(): string {
  const here = typeof __filename === 'string' ? dirname(__filename) : dirname(fileURLToPath(import.meta.url));
  let dir = here;
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'fashion-mnist-tfjs') return dir;
      } catch {
        // an unreadable package.json is not ours; keep walking up
      }
    }
    dir = dirname(dir);
  }
  throw new FashionMnistError('NOT_FOUND', `cannot find the fashion-mnist-tfjs package root above ${here}`);
}

const SAMPLE_DEFAULTS: Readonly<Pick<LoadFashionMnistOptions, 'onProgress' | 'verify'>> = Object.freeze({
  onProgress: undefined,
  verify: true,
});

/**
 * Loads the small real sample embedded in the package (6,000 training and 1,000 test images, balanced), from
 * disk, without network. `isSample` is `true` on the result.
 *
 * @example
 * ```ts
 * import { loadSample } from 'fashion-mnist-tfjs/node';
 * const { train, test } = await loadSample(); // 6000 / 1000 images
 * ```
 */
export async function loadSample(
  options?: Pick<LoadFashionMnistOptions, 'onProgress' | 'verify'>,
): Promise<FashionMnist> {
  const opts = mergeOptions('loadSample', SAMPLE_DEFAULTS, options);
  const verify = checkBoolean('loadSample', 'verify', opts.verify);
  const onProgress = checkFunction<NonNullable<typeof opts.onProgress>>(
    'loadSample',
    'onProgress',
    opts.onProgress,
  );
  const dir = join(packageRoot(), 'data', 'sample');
  return loadDir(dir, SAMPLE, { kind: 'sample', location: dir }, { verify, onProgress });
}

function checkPath(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') {
    throw badOption(`${WHERE}: option '${name}' must be a non-empty path string, received ${show(value)}`);
  }
  return value;
}

/**
 * Loads Fashion-MNIST in Node from the first source that has it: an explicit `dir`; the `FASHION_MNIST_DIR`
 * environment variable; the user cache; Debian's `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist`);
 * a download from the mirrors (or `baseUrl`) into the cache (atomic, verified); and, only if asked, the embedded
 * sample. `result.source` says which one was used. Every file is verified by the SHA-256 of its decompressed
 * content, and every size is bounded by the catalogue.
 *
 * An explicit `dir` or `FASHION_MNIST_DIR` is used or fails (never falls through). A cached file that fails
 * verification is moved aside (`<name>.damaged`) and downloaded again (`onProgress` reports it in `note`). When
 * no source works, the error is `NOT_FOUND`; its message lists every source and why it failed, and its `cause`
 * is the last failure (e.g. `IO_ERROR` for a cache that cannot be written, `DOWNLOAD_FAILED` with a `TIMEOUT`
 * inside for stalled mirrors). File-system problems are always `FashionMnistError`s with the path.
 *
 * @example
 * ```ts
 * import { loadFashionMnist } from 'fashion-mnist-tfjs/node';
 * const data = await loadFashionMnist({ fallbackToSample: true });
 * console.log(data.source, data.train.count);
 * ```
 */
export async function loadFashionMnist(options?: LoadFashionMnistOptions): Promise<FashionMnist> {
  const common = resolveLoadOptions(WHERE, options);
  const { raw } = common;
  const dirOption = checkPath('dir', raw.dir);
  const cacheOption = checkPath('cacheDir', raw.cacheDir);
  const download = raw.download === undefined ? true : checkBoolean(WHERE, 'download', raw.download);
  const fallbackToSample =
    raw.fallbackToSample === undefined
      ? false
      : checkBoolean(WHERE, 'fallbackToSample', raw.fallbackToSample);
  const spec = common.dataset;
  const name =
    raw.baseUrl !== undefined ? 'baseUrl' : raw.mirrors !== undefined ? 'mirrors' : 'dataset.mirrors';
  const bases = (common.bases ?? spec.mirrors).map((b) => absoluteBase(WHERE, name, b));
  const reading: Reading = { verify: common.verify, onProgress: common.onProgress };
  const isSample = spec.id === SAMPLE.id;
  const tried: string[] = [];
  let last: FashionMnistError | undefined;

  // An explicit directory is the caller's decision: use it or fail, never fall through to something else.
  if (dirOption !== undefined) {
    const dir = resolve(dirOption);
    if (!hasAll(dir, spec)) {
      const missing = spec.files.filter((f) => !findFile(dir, f)).map((f) => join(dir, f.name));
      throw new FashionMnistError(
        'NOT_FOUND',
        `Fashion-MNIST files missing in ${dir}:\n  ${missing.join('\n  ')}`,
        { path: dir },
      );
    }
    return loadDir(dir, spec, { kind: 'dir', location: dir }, reading);
  }
  const envDir = process.env.FASHION_MNIST_DIR;
  if (envDir) {
    const dir = resolve(envDir);
    if (!hasAll(dir, spec)) {
      throw new FashionMnistError(
        'NOT_FOUND',
        `FASHION_MNIST_DIR=${envDir} does not hold the four Fashion-MNIST files (${spec.files.map((f) => f.name).join(', ')})`,
        { path: dir },
      );
    }
    return loadDir(dir, spec, { kind: 'env', location: dir }, reading);
  }
  tried.push('FASHION_MNIST_DIR (not set)');

  // The cache, file by file: what verifies is kept; what does not is repaired by the download step.
  const cacheDir = resolve(cacheOption ?? join(defaultCacheDir(), spec === FASHION_MNIST ? '' : spec.id));
  const decoded = new Map<DatasetFile, IdxArray>();
  const damaged = new Map<DatasetFile, { path: string; error: FashionMnistError }>();
  const cacheParts = dirParts(cacheDir, reading);
  for (const file of spec.files) {
    const path = findFile(cacheDir, file);
    if (!path) continue;
    try {
      decoded.set(file, await loadFile(spec, file, cacheParts, 'read', decoded.size));
    } catch (e) {
      if (!(e instanceof FashionMnistError)) throw e;
      damaged.set(file, { path, error: e });
      last = e;
    }
  }
  if (decoded.size === spec.files.length) {
    try {
      return buildDataset(spec, decoded, { kind: 'cache', location: cacheDir }, isSample);
    } catch (e) {
      // Files that verify one by one but do not fit together (only possible with verify: false).
      if (!(e instanceof FashionMnistError)) throw e;
      tried.push(`${cacheDir} (the cache: unusable: ${e.message})`);
      last = e;
    }
  } else if (decoded.size === 0 && damaged.size === 0) tried.push(`${cacheDir} (the cache: empty)`);
  else {
    const problems = [...damaged.values()].map((d) => `${d.error.code}: ${d.error.message}`);
    const missing = spec.files.length - decoded.size - damaged.size;
    tried.push(
      `${cacheDir} (the cache: unusable: ${[...problems, ...(missing ? [`${missing} file(s) missing`] : [])].join('; ')})`,
    );
  }

  if (spec === FASHION_MNIST) {
    if (hasAll(DEBIAN_DIR, spec)) {
      try {
        return await loadDir(DEBIAN_DIR, spec, { kind: 'debian', location: DEBIAN_DIR }, reading);
      } catch (e) {
        if (!(e instanceof FashionMnistError)) throw e;
        tried.push(`${DEBIAN_DIR} (Debian's dataset-fashion-mnist: unusable: ${e.code}: ${e.message})`);
        last = e;
      }
    } else tried.push(`${DEBIAN_DIR} (Debian's dataset-fashion-mnist: not installed)`);
  }

  if (download && bases.length > 0) {
    try {
      const files = spec.files.length;
      for (const file of spec.files) {
        if (decoded.has(file)) continue;
        const filesDone = decoded.size;
        const progress = (loaded: number, total?: number, note?: string) =>
          common.onProgress?.({
            phase: 'download',
            file: file.name,
            loaded,
            total,
            filesDone,
            files,
            ...(note === undefined ? {} : { note }),
          });
        const bad = damaged.get(file);
        if (bad) {
          const aside = await moveAside(bad.path);
          progress(
            0,
            undefined,
            `the cached ${bad.path} failed verification (${bad.error.code}: ${bad.error.message}); moved it to ` +
              `${aside} and downloading it again`,
          );
        }
        const content = await downloadFile(file, bases, cacheDir, common, (l, t) => progress(l, t));
        // Verified by the download; decode without checking the checksum twice.
        decoded.set(
          file,
          await loadFile(
            spec,
            file,
            { describe: () => join(cacheDir, file.name), verify: false, read: async () => content },
            'download',
            filesDone,
          ),
        );
      }
      return buildDataset(spec, decoded, { kind: 'download', location: bases.join(', ') }, isSample);
    } catch (e) {
      if (!(e instanceof FashionMnistError)) throw e;
      tried.push(`download from ${bases.join(', ')} (${e.code}: ${e.message})`);
      last = e;
    }
  } else tried.push(download ? 'download (no mirrors for this data set)' : 'download (disabled)');

  if (fallbackToSample) return loadSample(reading);
  throw new FashionMnistError(
    'NOT_FOUND',
    `Fashion-MNIST not found. Looked in:\n  ${tried.join('\n  ')}\n` +
      `To get it: install Debian's package (apt-get install dataset-fashion-mnist), or set FASHION_MNIST_DIR to a ` +
      `directory with the four .gz files, or pass { dir }, or allow the download (needs internet). ` +
      `For a quick offline try, use loadSample() or { fallbackToSample: true }.`,
    last === undefined ? undefined : { cause: last },
  );
}
