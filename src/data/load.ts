import { FashionMnistError } from '../errors.js';
import { concatBytes } from '../internal/bytes.js';
import { checkBoolean, checkFunction, mergeOptions, show } from '../internal/validate.js';
import { assemble, type FashionMnist, type ProgressCallback } from './assemble.js';
import { type DatasetFile, type DatasetSpec, FASHION_MNIST } from './catalog.js';
import { SAMPLE } from './sample-catalog.js';

/**
 * Options of the universal {@link loadFashionMnist}.
 * @example
 * ```ts
 * const options: LoadUrlOptions = { baseUrl: '/static/fashion-mnist/', verify: true };
 * const data = await loadFashionMnist(options);
 * ```
 */
export interface LoadUrlOptions {
  /**
   * Base URL that serves the four `.gz` files by their official names (a trailing slash is added if missing).
   * Defaults to the official mirrors, tried in order (a browser page needs a server that allows CORS).
   */
  baseUrl?: string;
  /** Progress per file (bytes received, verification). */
  onProgress?: ProgressCallback;
  /** Verify SHA-256 of each decompressed file (default `true`). */
  verify?: boolean;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /** The table of files to load (default: the full Fashion-MNIST). */
  dataset?: DatasetSpec;
}

const URL_DEFAULTS: Readonly<LoadUrlOptions> = Object.freeze({
  baseUrl: undefined,
  onProgress: undefined,
  verify: true,
  fetch: undefined,
  dataset: undefined,
});

/** Reads a response body to the end, reporting bytes as they arrive. */
export async function readBody(
  response: Response,
  report: (loaded: number, total?: number) => void,
): Promise<Uint8Array> {
  const header = response.headers.get('content-length');
  const total = header ? Number(header) : undefined;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    report(loaded, total);
  }
  return concatBytes(chunks);
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/**
 * Loads Fashion-MNIST over HTTP(S) with `fetch` — in a browser, a worker, Deno, Bun or Node. Every file is
 * checked against its SHA-256 before use. In Node, `fashion-mnist-tfjs/node` has a `loadFashionMnist` that
 * also looks on disk and caches downloads.
 *
 * @example
 * ```ts
 * import { loadFashionMnist } from 'fashion-mnist-tfjs';
 * const data = await loadFashionMnist({
 *   baseUrl: '/data/fashion-mnist/',
 *   onProgress: (p) => console.log(p.file, p.loaded, p.total),
 * });
 * console.log(data.train.count, data.test.count); // 60000 10000
 * ```
 */
export async function loadFashionMnist(options?: LoadUrlOptions): Promise<FashionMnist> {
  const opts = mergeOptions('loadFashionMnist', URL_DEFAULTS, options);
  if (opts.baseUrl !== undefined && typeof opts.baseUrl !== 'string') {
    throw new TypeError(
      `loadFashionMnist: option 'baseUrl' must be a string, received ${show(opts.baseUrl)}`,
    );
  }
  checkBoolean('loadFashionMnist', 'verify', opts.verify);
  const onProgress = checkFunction<ProgressCallback>('loadFashionMnist', 'onProgress', opts.onProgress);
  const doFetch = checkFunction<typeof fetch>('loadFashionMnist', 'fetch', opts.fetch) ?? globalThis.fetch;
  const spec = opts.dataset ?? FASHION_MNIST;
  const bases = opts.baseUrl !== undefined ? [opts.baseUrl] : [...spec.mirrors];
  if (bases.length === 0) {
    throw new TypeError(
      `loadFashionMnist: option 'baseUrl' is required for data set '${spec.id}', which has no mirrors, received undefined`,
    );
  }
  const failures: string[] = [];
  for (const base of bases.map(withSlash)) {
    const urlOf = (file: DatasetFile) => new URL(file.name, new URL(base, globalThis.location?.href)).href;
    try {
      return await assemble(
        spec,
        {
          describe: urlOf,
          verify: opts.verify,
          onProgress,
          async read(file, report) {
            const url = urlOf(file);
            let response: Response;
            try {
              response = await doFetch(url);
            } catch (cause) {
              throw new FashionMnistError('DOWNLOAD_FAILED', `${url}: request failed (${String(cause)})`, {
                path: url,
                cause,
              });
            }
            if (!response.ok) {
              throw new FashionMnistError(
                'DOWNLOAD_FAILED',
                `${url}: HTTP ${response.status} ${response.statusText}`,
                {
                  path: url,
                },
              );
            }
            return readBody(response, report);
          },
        },
        { kind: 'url', location: base },
        spec.id === SAMPLE.id,
      );
    } catch (e) {
      // A broken or unreachable mirror is worth trying the next one; damaged content is not hidden when it is the
      // only source the caller asked for.
      if (!(e instanceof FashionMnistError) || bases.length === 1) throw e;
      failures.push(e.message);
    }
  }
  throw new FashionMnistError(
    'DOWNLOAD_FAILED',
    `${spec.id}: every mirror failed:\n  ${failures.join('\n  ')}`,
  );
}
