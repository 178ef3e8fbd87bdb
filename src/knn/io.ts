// Saving and loading k-NN classifiers, universal part: IndexedDB (`indexeddb://name`) and http(s) URLs. The Node
// entry has the same two functions with the same options type, plus file paths (io-node.ts).
import { FashionMnistError } from '../errors.js';
import { fetchBytes } from '../internal/bytes.js';
import { checkFunction, checkNumber, mergeOptions, show } from '../internal/validate.js';
import { KnnClassifier } from './classifier.js';
import { getIndexedDb, indexedDbKey, putIndexedDb } from './store.js';
import type { KnnLabel, KnnRestoreOptions } from './types.js';

/**
 * Options of `loadKnn` (the same type in `fashion-mnist-tfjs/knn` and `fashion-mnist-tfjs/node`): where the
 * loaded classifier searches (as for `KnnClassifier.fromBytes`), and limits on what is read.
 *
 * @example
 * ```ts
 * const options: LoadKnnOptions = { maxBytes: 100 * 2 ** 20, timeoutMs: 30_000 };
 * ```
 */
export interface LoadKnnOptions extends KnnRestoreOptions {
  /** Largest saved classifier accepted, in bytes (`TOO_LARGE` beyond it). Default 1 GiB. */
  maxBytes?: number;
  /** Idle time limit of a download (http/https sources): the longest wait for the response or its next chunk, in milliseconds (`TIMEOUT` beyond it). Default 60,000. */
  timeoutMs?: number;
  /** The `fetch` used for http/https sources (default: the global one). */
  fetch?: typeof globalThis.fetch;
}

/**
 * What `saveKnn` wrote.
 *
 * @example
 * ```ts
 * const { destination, bytes } = await saveKnn(knn, 'indexeddb://shoes');
 * ```
 */
export interface SaveKnnResult {
  /** The destination as given (a path, or `indexeddb://name`). */
  destination: string;
  /** Size of the saved classifier in bytes. */
  bytes: number;
}

/** Default `maxBytes` of `loadKnn`: 1 GiB. */
export const LOAD_KNN_MAX_BYTES = 2 ** 30;
/** Default `timeoutMs` of `loadKnn`: one minute. */
export const LOAD_KNN_TIMEOUT_MS = 60_000;

const LOAD_DEFAULTS: Readonly<LoadKnnOptions> = Object.freeze({
  search: undefined,
  batchSize: undefined,
  memoryBudget: undefined,
  maxBytes: LOAD_KNN_MAX_BYTES,
  timeoutMs: LOAD_KNN_TIMEOUT_MS,
  fetch: undefined,
});

/** Validated load options, split into limits and the options for `fromBytes`. */
export function resolveLoadOptions(
  where: string,
  options: unknown,
): {
  maxBytes: number;
  timeoutMs: number;
  fetch: typeof globalThis.fetch | undefined;
  restore: KnnRestoreOptions;
} {
  const { maxBytes, timeoutMs, fetch, ...restore } = mergeOptions<LoadKnnOptions>(
    where,
    LOAD_DEFAULTS,
    options,
  );
  checkNumber(where, 'maxBytes', maxBytes, { integer: true, min: 1 });
  // setTimeout takes whole milliseconds up to 2^31 − 1.
  checkNumber(where, 'timeoutMs', timeoutMs, { integer: true, min: 1, max: 2 ** 31 - 1 });
  checkFunction(where, 'fetch', fetch);
  return { maxBytes: maxBytes as number, timeoutMs: timeoutMs as number, fetch, restore };
}

/** The address as text: a string as is, a URL by its href; anything else is BAD_OPTION. */
export function addressOf(where: string, name: string, value: unknown): string {
  if (value instanceof URL) return value.href;
  if (typeof value !== 'string' || value.length === 0) {
    throw new FashionMnistError(
      'BAD_OPTION',
      `${where}: '${name}' must be a non-empty string (a path, an http(s) URL or indexeddb://name), received ${show(value)}`,
    );
  }
  return value;
}

export const isHttp = (address: string): boolean => /^https?:\/\//i.test(address);

export function requireClassifier(where: string, knn: unknown): KnnClassifier<KnnLabel> {
  if (!(knn instanceof KnnClassifier)) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `${where}: expected a KnnClassifier to save, received ${show(knn)}`,
    );
  }
  return knn;
}

function fileUnsupported(where: string, address: string): FashionMnistError {
  return new FashionMnistError(
    'UNSUPPORTED',
    `${where}: '${address}' looks like a file path, which this entry cannot use; in Node import ${where} from 'fashion-mnist-tfjs/node'; in a browser use indexeddb://<name>${where === 'loadKnn' ? ' or an http(s) URL' : ''}`,
    { path: address },
  );
}

/**
 * Downloads a saved classifier with the library's bounded fetch: a size limit checked while streaming and an idle
 * timeout; HTTP errors and cut connections are `DOWNLOAD_FAILED`, as for every other download.
 */
export async function fetchBounded(
  where: string,
  url: string,
  limits: { maxBytes: number; timeoutMs: number; fetch: typeof globalThis.fetch | undefined },
): Promise<Uint8Array> {
  const doFetch = limits.fetch ?? globalThis.fetch;
  if (typeof doFetch !== 'function') {
    throw new FashionMnistError('UNSUPPORTED', `${where}: no fetch here; pass the fetch option`, {
      path: url,
    });
  }
  return fetchBytes(url, {
    fetch: doFetch,
    maxBytes: limits.maxBytes,
    timeoutMs: limits.timeoutMs,
    timeoutHint: "the option 'timeoutMs'",
    tooLarge: (n) =>
      new FashionMnistError(
        'TOO_LARGE',
        `${where}: ${url} sends ${n} bytes or more, more than the limit of ${limits.maxBytes}; raise the maxBytes option if it is right`,
        { path: url },
      ),
  });
}

/**
 * Saves a fitted classifier (its `toBytes()`): in this universal entry to IndexedDB, as `indexeddb://name`
 * (browsers; one transaction, durable when the promise resolves). A file path is `UNSUPPORTED` here: in Node
 * use the same-named function of `fashion-mnist-tfjs/node`, which writes files atomically.
 *
 * @example
 * ```ts
 * import { saveKnn } from 'fashion-mnist-tfjs/knn';
 * await saveKnn(knn, 'indexeddb://my-shoes');
 * ```
 */
export async function saveKnn(knn: KnnClassifier<KnnLabel>, destination: string): Promise<SaveKnnResult> {
  const where = 'saveKnn';
  const address = addressOf(where, 'destination', destination);
  const classifier = requireClassifier(where, knn);
  const key = indexedDbKey(address);
  if (key === null) {
    if (isHttp(address)) {
      throw new FashionMnistError(
        'UNSUPPORTED',
        `${where}: cannot save to a URL (${address}); upload knn.toBytes() yourself, or use indexeddb://<name>`,
        { path: address },
      );
    }
    throw fileUnsupported(where, address);
  }
  const bytes = classifier.toBytes();
  await putIndexedDb(where, key, bytes);
  return { destination: address, bytes: bytes.length };
}

/** Loads the bytes of `indexeddb://` and http(s) sources, or returns null for anything else. */
export async function loadUniversalBytes(
  where: string,
  address: string,
  limits: { maxBytes: number; timeoutMs: number; fetch: typeof globalThis.fetch | undefined },
): Promise<Uint8Array | null> {
  const key = indexedDbKey(address);
  if (key !== null) return getIndexedDb(where, key, limits.maxBytes);
  if (isHttp(address)) return fetchBounded(where, address, limits);
  return null;
}

/**
 * Loads a classifier saved by `saveKnn` (or `toBytes()`), ready to predict exactly as the saved one did: in this
 * universal entry from `indexeddb://name` or an http(s) URL (with `maxBytes` and `timeoutMs` limits). A file
 * path is `UNSUPPORTED` here (use `fashion-mnist-tfjs/node`). Damaged, truncated or foreign bytes are
 * `BAD_FILE`; nothing saved under the name is `NOT_FOUND`.
 *
 * @example
 * ```ts
 * import { loadKnn } from 'fashion-mnist-tfjs/knn';
 * const knn = await loadKnn<string>('indexeddb://my-shoes');
 * console.log(await knn.predict(embeddings));
 * ```
 */
export async function loadKnn<L extends KnnLabel = number>(
  source: string,
  options?: LoadKnnOptions,
): Promise<KnnClassifier<L>> {
  const where = 'loadKnn';
  const address = addressOf(where, 'source', source);
  const { restore, ...limits } = resolveLoadOptions(where, options);
  const bytes = await loadUniversalBytes(where, address, limits);
  if (bytes === null) throw fileUnsupported(where, address);
  return restoreFrom<L>(where, address, bytes, restore);
}

/** `KnnClassifier.fromBytes`, with BAD_FILE naming the source. */
export function restoreFrom<L extends KnnLabel>(
  where: string,
  address: string,
  bytes: Uint8Array,
  restore: KnnRestoreOptions,
): KnnClassifier<L> {
  try {
    return KnnClassifier.fromBytes<L>(bytes, restore);
  } catch (e) {
    if (e instanceof FashionMnistError && e.code === 'BAD_FILE') {
      throw new FashionMnistError('BAD_FILE', `${where}: ${address}: ${e.message}`, {
        path: address,
        cause: e,
      });
    }
    throw e;
  }
}
