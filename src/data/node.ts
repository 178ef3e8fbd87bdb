// Node-only data loading: files on disk, the user cache, Debian's package and downloads, in that order.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { FashionMnistError } from '../errors.js';
import { checkBoolean, checkFunction, checkNumber, mergeOptions, show } from '../internal/validate.js';
import {
  assemble,
  type DataSource,
  type FashionMnist,
  type ProgressCallback,
  verifiedContent,
} from './assemble.js';
import { type DatasetFile, type DatasetSpec, FASHION_MNIST } from './catalog.js';
import { readBody } from './load.js';
import { SAMPLE } from './sample-catalog.js';

/**
 * Where Debian's `dataset-fashion-mnist` package puts the files.
 * @example
 * ```ts
 * const data = await loadFashionMnist({ dir: DEBIAN_DIR });
 * ```
 */
export const DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';

/**
 * Options of the Node {@link loadFashionMnist}.
 * @example
 * ```ts
 * const options: LoadNodeOptions = { cacheDir: '/var/cache/fmnist', download: false, fallbackToSample: true };
 * const data = await loadFashionMnist(options);
 * ```
 */
export interface LoadNodeOptions {
  /** A directory holding the four files (`.gz` or uncompressed); when given, only it is tried. */
  dir?: string;
  /** The cache directory (default: `$XDG_CACHE_HOME/fashion-mnist-tfjs` or `~/.cache/fashion-mnist-tfjs`). */
  cacheDir?: string;
  /** Download from the mirrors into the cache when no local copy exists (default `true`). */
  download?: boolean;
  /** Base URLs to download from (default: the official mirrors). */
  mirrors?: readonly string[];
  /** Milliseconds before one download request is abandoned: an integer from 1 to 2^32 − 1 (default 60 000). */
  timeoutMs?: number;
  /** Use the embedded sample when the full data cannot be found or downloaded (default `false`). */
  fallbackToSample?: boolean;
  /** Verify SHA-256 of every decompressed file (default `true`). */
  verify?: boolean;
  onProgress?: ProgressCallback;
  /**
   * The table of files to load (default: the full Fashion-MNIST). Another IDX data set laid out the same way
   * (MNIST, KMNIST) can be described by its own table; Debian's directory is only consulted for Fashion-MNIST.
   */
  dataset?: DatasetSpec;
}

const NODE_DEFAULTS: Readonly<LoadNodeOptions> = Object.freeze({
  dir: undefined,
  cacheDir: undefined,
  download: true,
  mirrors: undefined,
  timeoutMs: 60_000,
  fallbackToSample: false,
  verify: true,
  onProgress: undefined,
  dataset: undefined,
});

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

const nodeParts = {
  inflate: (bytes: Uint8Array, name: string) => {
    try {
      return gunzipSync(bytes);
    } catch (cause) {
      throw new FashionMnistError('BAD_GZIP', `${name}: truncated or corrupt gzip data (${String(cause)})`, {
        path: name,
        cause,
      });
    }
  },
  sha256: (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex'),
};

/** The path of `file` in `dir`, compressed or not, or undefined when neither exists. */
function findFile(dir: string, file: DatasetFile): string | undefined {
  const gz = join(dir, file.name);
  if (existsSync(gz)) return gz;
  const raw = join(dir, file.name.replace(/\.gz$/, ''));
  return existsSync(raw) ? raw : undefined;
}

async function loadDir(dir: string, spec: DatasetSpec, source: DataSource, opts: LoadNodeOptions) {
  return assemble(
    spec,
    {
      ...nodeParts,
      verify: opts.verify,
      onProgress: opts.onProgress,
      describe: (f) => findFile(dir, f) ?? join(dir, f.name),
      async read(file, report) {
        const path = findFile(dir, file);
        if (!path) {
          throw new FashionMnistError(
            'NOT_FOUND',
            `${join(dir, file.name)}: no such file (nor without .gz)`,
            {
              path: join(dir, file.name),
            },
          );
        }
        const bytes = await readFile(path);
        report(bytes.length, bytes.length);
        return bytes;
      },
    },
    source,
    spec.id === SAMPLE.id,
  );
}

function hasAll(dir: string, spec: DatasetSpec): boolean {
  return spec.files.every((f) => findFile(dir, f) !== undefined);
}

/** Downloads one file to the cache: written to a temporary name, verified, then renamed into place. */
async function downloadFile(
  file: DatasetFile,
  mirrors: readonly string[],
  cacheDir: string,
  timeoutMs: number,
  report: (loaded: number, total?: number) => void,
): Promise<Uint8Array> {
  const failures: string[] = [];
  for (const base of mirrors) {
    const url = new URL(file.name, base.endsWith('/') ? base : `${base}/`).href;
    let bytes: Uint8Array;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
      bytes = await readBody(response, report);
      // Verify before anything reaches the cache, so a later run never takes a bad file as good.
      await verifiedContent(file, bytes, url, { ...nodeParts, verify: true });
    } catch (e) {
      failures.push(`${url}: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    await mkdir(cacheDir, { recursive: true });
    const target = join(cacheDir, file.name);
    const tmp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.partial`;
    try {
      await writeFile(tmp, bytes);
      await rename(tmp, target);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return bytes;
  }
  throw new FashionMnistError(
    'DOWNLOAD_FAILED',
    `${file.name}: every mirror failed:\n    ${failures.join('\n    ')}`,
    {
      path: file.name,
    },
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

const SAMPLE_DEFAULTS: Readonly<Pick<LoadNodeOptions, 'onProgress' | 'verify'>> = Object.freeze({
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
  options?: Pick<LoadNodeOptions, 'onProgress' | 'verify'>,
): Promise<FashionMnist> {
  const opts = mergeOptions('loadSample', SAMPLE_DEFAULTS, options);
  checkBoolean('loadSample', 'verify', opts.verify);
  checkFunction('loadSample', 'onProgress', opts.onProgress);
  const dir = join(packageRoot(), 'data', 'sample');
  return loadDir(dir, SAMPLE, { kind: 'sample', location: dir }, opts);
}

/**
 * Loads Fashion-MNIST in Node from the first source that has it: an explicit `dir`; the `FASHION_MNIST_DIR`
 * environment variable; the user cache; Debian's `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist`);
 * a download from the official mirrors into the cache (atomic, verified); and, only if asked, the embedded
 * sample. `result.source` says which one was used. Every file is verified by the SHA-256 of its decompressed
 * content.
 *
 * @example
 * ```ts
 * import { loadFashionMnist } from 'fashion-mnist-tfjs/node';
 * const data = await loadFashionMnist({ fallbackToSample: true });
 * console.log(data.source, data.train.count);
 * ```
 */
export async function loadFashionMnist(options?: LoadNodeOptions): Promise<FashionMnist> {
  const opts = mergeOptions('loadFashionMnist', NODE_DEFAULTS, options);
  for (const key of ['dir', 'cacheDir'] as const) {
    if (opts[key] !== undefined && typeof opts[key] !== 'string') {
      throw new TypeError(
        `loadFashionMnist: option '${key}' must be a string path, received ${show(opts[key])}`,
      );
    }
  }
  checkBoolean('loadFashionMnist', 'download', opts.download);
  checkBoolean('loadFashionMnist', 'fallbackToSample', opts.fallbackToSample);
  checkBoolean('loadFashionMnist', 'verify', opts.verify);
  checkFunction('loadFashionMnist', 'onProgress', opts.onProgress);
  // AbortSignal.timeout takes a whole number of milliseconds up to 2^32 - 1.
  const timeoutMs = checkNumber('loadFashionMnist', 'timeoutMs', opts.timeoutMs, {
    integer: true,
    min: 1,
    max: 2 ** 32 - 1,
  });
  const spec = opts.dataset ?? FASHION_MNIST;
  const tried: string[] = [];

  // An explicit directory is the caller's decision: use it or fail, never fall through to something else.
  if (opts.dir !== undefined) {
    const dir = resolve(opts.dir);
    if (!hasAll(dir, spec)) {
      const missing = spec.files.filter((f) => !findFile(dir, f)).map((f) => join(dir, f.name));
      throw new FashionMnistError(
        'NOT_FOUND',
        `Fashion-MNIST files missing in ${dir}:\n  ${missing.join('\n  ')}`,
        {
          path: dir,
        },
      );
    }
    return loadDir(dir, spec, { kind: 'dir', location: dir }, opts);
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
    return loadDir(dir, spec, { kind: 'env', location: dir }, opts);
  }
  tried.push('FASHION_MNIST_DIR (not set)');

  const cacheDir = resolve(opts.cacheDir ?? join(defaultCacheDir(), spec === FASHION_MNIST ? '' : spec.id));
  if (hasAll(cacheDir, spec)) {
    try {
      return await loadDir(cacheDir, spec, { kind: 'cache', location: cacheDir }, opts);
    } catch (e) {
      // Our own cache may be damaged (a disk problem, a hand edit): set it aside and carry on to the next source.
      if (!(e instanceof FashionMnistError)) throw e;
      tried.push(`${cacheDir} (unusable: ${e.message})`);
    }
  } else tried.push(`${cacheDir} (the cache: empty)`);

  if (spec === FASHION_MNIST) {
    if (hasAll(DEBIAN_DIR, spec))
      return loadDir(DEBIAN_DIR, spec, { kind: 'debian', location: DEBIAN_DIR }, opts);
    tried.push(`${DEBIAN_DIR} (Debian's dataset-fashion-mnist: not installed)`);
  }

  if (opts.download) {
    const mirrors = opts.mirrors ?? spec.mirrors;
    try {
      let filesDone = 0;
      for (const file of spec.files) {
        // Files already verified into the cache by an interrupted earlier run are kept.
        if (!findFile(cacheDir, file)) {
          await downloadFile(file, mirrors, cacheDir, timeoutMs, (loaded, total) =>
            opts.onProgress?.({
              phase: 'download',
              file: file.name,
              loaded,
              total,
              filesDone,
              files: spec.files.length,
            }),
          );
        }
        filesDone++;
      }
      return await loadDir(cacheDir, spec, { kind: 'download', location: mirrors.join(', ') }, opts);
    } catch (e) {
      if (!(e instanceof FashionMnistError)) throw e;
      tried.push(`download from ${mirrors.join(', ')} (${e.message})`);
    }
  } else tried.push('download (disabled)');

  if (opts.fallbackToSample) return loadSample({ onProgress: opts.onProgress, verify: opts.verify });
  throw new FashionMnistError(
    'NOT_FOUND',
    `Fashion-MNIST not found. Looked in:\n  ${tried.join('\n  ')}\n` +
      `To get it: install Debian's package (apt-get install dataset-fashion-mnist), or set FASHION_MNIST_DIR to a ` +
      `directory with the four .gz files, or pass { dir }, or allow the download (needs internet). ` +
      `For a quick offline try, use loadSample() or { fallbackToSample: true }.`,
  );
}
