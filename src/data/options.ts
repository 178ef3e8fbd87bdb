// The one options type of loadFashionMnist, shared by the universal loader (by URL) and the Node loader (disk,
// cache, Debian, download, sample), with its defaults, its limits and the checks both run.
import { FashionMnistError } from '../errors.js';
import {
  badOption,
  checkBoolean,
  checkFunction,
  checkNumber,
  mergeOptions,
  show,
} from '../internal/validate.js';
import type { ProgressCallback } from './assemble.js';
import { type DatasetSpec, FASHION_MNIST } from './catalog.js';

/**
 * Options of `loadFashionMnist`, the same type in every entry. The first group works everywhere; `dir`,
 * `cacheDir`, `download` and `fallbackToSample` read or write the file system and are only accepted by the
 * `loadFashionMnist` of `fashion-mnist-tfjs/node` (elsewhere they are a `FashionMnistError` `UNSUPPORTED`).
 *
 * @example
 * ```ts
 * const options: LoadFashionMnistOptions = { baseUrl: 'https://example.org/fashion-mnist/', timeoutMs: 10_000 };
 * const data = await loadFashionMnist(options);
 * ```
 */
export interface LoadFashionMnistOptions {
  /**
   * One base URL that serves the four `.gz` (or uncompressed) files by their official names; a trailing slash
   * is added if missing. It must be absolute (`https://…`), except in a browser page, where it may be relative
   * to the page. Give `baseUrl` or `mirrors`, not both. Default: the data set's mirrors. In Node this is where a
   * missing file is downloaded from (into the cache).
   */
  baseUrl?: string;
  /** Base URLs tried in order, the next one when a file fails on one (default: the data set's mirrors). */
  mirrors?: readonly string[];
  /**
   * The table of files to load (default: the full Fashion-MNIST). Another IDX data set laid out the same way
   * (MNIST, KMNIST) can be described by its own table; Debian's directory is only consulted for Fashion-MNIST.
   */
  dataset?: DatasetSpec;
  /** Verify the SHA-256 of every decompressed file (default `true`; downloads into the cache always are). */
  verify?: boolean;
  /**
   * Idle timeout of each HTTP request, in milliseconds: the longest wait for the response headers and then for
   * each next chunk of the body (a slow body that keeps arriving is not cut). An integer from 1 to 2,147,483,647;
   * default 30,000. A stalled mirror fails with `TIMEOUT` and the next mirror is tried.
   */
  timeoutMs?: number;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /** Progress per file (bytes received, verification, what was repaired). */
  onProgress?: ProgressCallback;
  /** Node only: a directory holding the four files (`.gz` or uncompressed); when given, only it is tried. */
  dir?: string;
  /** Node only: the cache directory (default `$XDG_CACHE_HOME/fashion-mnist-tfjs` or `~/.cache/fashion-mnist-tfjs`). */
  cacheDir?: string;
  /** Node only: download missing or damaged files from the mirrors into the cache (default `true`). */
  download?: boolean;
  /** Node only: use the embedded sample when the full data cannot be found or downloaded (default `false`). */
  fallbackToSample?: boolean;
}

/** The options that need the file system, refused by the universal loader. */
export const NODE_ONLY_OPTIONS = ['dir', 'cacheDir', 'download', 'fallbackToSample'] as const;

/** Default idle timeout of one HTTP request, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** The largest delay `setTimeout` keeps (2^31 − 1 ms, about 24.8 days); above it, timers fire at once. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

const LOAD_DEFAULTS: Readonly<LoadFashionMnistOptions> = Object.freeze({
  baseUrl: undefined,
  mirrors: undefined,
  dataset: undefined,
  verify: true,
  timeoutMs: DEFAULT_TIMEOUT_MS,
  fetch: undefined,
  onProgress: undefined,
  dir: undefined,
  cacheDir: undefined,
  download: undefined,
  fallbackToSample: undefined,
});

/** The options both loaders share, checked, with defaults filled in. */
export interface CommonLoadOptions {
  /** The base URLs given (`baseUrl` or `mirrors`), or undefined for the data set's own mirrors. */
  bases: readonly string[] | undefined;
  dataset: DatasetSpec;
  verify: boolean;
  timeoutMs: number;
  fetch: typeof globalThis.fetch | undefined;
  onProgress: ProgressCallback | undefined;
  /** The raw options, for the Node-only ones. */
  raw: LoadFashionMnistOptions;
}

function checkDataset(where: string, value: unknown): DatasetSpec {
  const spec = value as DatasetSpec;
  const bad = (what: string) =>
    badOption(
      `${where}: option 'dataset' must be a DatasetSpec ({ id, mirrors, files: DatasetFile[] }); ${what}`,
    );
  if (spec === null || typeof spec !== 'object') throw bad(`received ${show(value)}`);
  if (typeof spec.id !== 'string') throw bad(`its 'id' is ${show(spec.id)}`);
  if (!Array.isArray(spec.mirrors) || spec.mirrors.some((m) => typeof m !== 'string')) {
    throw bad(`its 'mirrors' must be an array of URL strings, received ${show(spec.mirrors)}`);
  }
  if (!Array.isArray(spec.files) || spec.files.length === 0) {
    throw bad(`its 'files' must be a non-empty array, received ${show(spec.files)}`);
  }
  for (const [i, f] of spec.files.entries()) {
    const ok =
      f !== null &&
      typeof f === 'object' &&
      typeof f.name === 'string' &&
      f.name.length > 0 &&
      typeof f.sha256 === 'string' &&
      (f.role === 'images' || f.role === 'labels') &&
      (f.split === 'train' || f.split === 'test') &&
      Number.isSafeInteger(f.bytes) &&
      f.bytes >= 0 &&
      Number.isSafeInteger(f.count) &&
      f.count >= 0;
    if (!ok) {
      throw bad(
        `files[${i}] must have a name, sha256, role ('images' | 'labels'), split ('train' | 'test') and whole ` +
          `numbers bytes and count`,
      );
    }
  }
  if (spec.imageShape !== undefined) {
    const s = spec.imageShape;
    if (!Array.isArray(s) || s.length !== 2 || s.some((d) => !Number.isSafeInteger(d) || d < 1)) {
      throw bad(`its 'imageShape' must be [height, width], received ${show(s)}`);
    }
  }
  return spec;
}

function checkUrlList(where: string, name: string, value: unknown): readonly string[] {
  if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== 'string' || v === '')) {
    throw badOption(
      `${where}: option '${name}' must be a non-empty array of base URL strings, received ${show(value)}`,
    );
  }
  return value;
}

/** Merges and checks the options both loaders share (unknown keys, types, ranges). */
export function resolveLoadOptions(where: string, options: unknown): CommonLoadOptions {
  const raw = mergeOptions(where, LOAD_DEFAULTS, options);
  let bases: readonly string[] | undefined;
  if (raw.baseUrl !== undefined) {
    if (typeof raw.baseUrl !== 'string' || raw.baseUrl === '') {
      throw badOption(
        `${where}: option 'baseUrl' must be a non-empty URL string, received ${show(raw.baseUrl)}`,
      );
    }
    if (raw.mirrors !== undefined) {
      throw badOption(`${where}: give 'baseUrl' (one URL) or 'mirrors' (a list), not both`);
    }
    bases = [raw.baseUrl];
  } else if (raw.mirrors !== undefined) bases = checkUrlList(where, 'mirrors', raw.mirrors);
  return {
    bases,
    dataset: raw.dataset === undefined ? FASHION_MNIST : checkDataset(where, raw.dataset),
    verify: checkBoolean(where, 'verify', raw.verify),
    timeoutMs: checkNumber(where, 'timeoutMs', raw.timeoutMs, { integer: true, min: 1, max: MAX_TIMEOUT_MS }),
    fetch: checkFunction<typeof fetch>(where, 'fetch', raw.fetch),
    onProgress: checkFunction<ProgressCallback>(where, 'onProgress', raw.onProgress),
    raw,
  };
}

/**
 * The absolute URL of a base (with a trailing slash). A relative base is resolved against the page in a
 * browser; elsewhere it is a `BAD_OPTION` that says to pass an absolute URL or to read files with the Node
 * loader.
 */
export function absoluteBase(where: string, name: string, base: string): string {
  const withSlash = base.endsWith('/') ? base : `${base}/`;
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  try {
    return new URL(withSlash, page).href;
  } catch (cause) {
    throw new FashionMnistError(
      'BAD_OPTION',
      `${where}: option '${name}' must be an absolute URL such as 'https://example.org/fashion-mnist/' ` +
        `(a relative one only works in a browser page), received ${show(base)}. To read files from disk, use ` +
        `loadFashionMnist({ dir }) from 'fashion-mnist-tfjs/node'.`,
      { path: base, cause },
    );
  }
}
