import { FashionMnistError } from '../errors.js';
import { fetchBytes } from '../internal/bytes.js';
import { assemble, type FashionMnist } from './assemble.js';
import { type DatasetFile, fileSizeLimit } from './catalog.js';
import {
  absoluteBase,
  type LoadFashionMnistOptions,
  NODE_ONLY_OPTIONS,
  resolveLoadOptions,
} from './options.js';
import { SAMPLE } from './sample-catalog.js';

const WHERE = 'loadFashionMnist';

/**
 * Loads Fashion-MNIST over HTTP(S) with `fetch` — in a browser, a worker, Deno, Bun or Node. Every file is
 * checked against its SHA-256 before use, and its size against the catalogue while it streams in. A mirror that
 * fails (HTTP error, a body cut off, a stall longer than `timeoutMs`, damaged content) gives way to the next one.
 * In Node, `fashion-mnist-tfjs/node` has a `loadFashionMnist` with the same options that also looks on disk and
 * caches downloads; the options that need it (`dir`, `cacheDir`, `download`, `fallbackToSample`) are refused
 * here with `UNSUPPORTED`.
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
export async function loadFashionMnist(options?: LoadFashionMnistOptions): Promise<FashionMnist> {
  const opts = resolveLoadOptions(WHERE, options);
  for (const key of NODE_ONLY_OPTIONS) {
    if (opts.raw[key] !== undefined) {
      throw new FashionMnistError(
        'UNSUPPORTED',
        `${WHERE}: option '${key}' needs the file system, which this entry does not use; import ` +
          `{ loadFashionMnist } from 'fashion-mnist-tfjs/node' (same function, same options, plus disk, cache ` +
          `and download), or leave '${key}' out to load by URL`,
      );
    }
  }
  const spec = opts.dataset;
  const name = opts.bases ? (opts.raw.baseUrl !== undefined ? 'baseUrl' : 'mirrors') : 'dataset.mirrors';
  const given = opts.bases ?? spec.mirrors;
  if (given.length === 0) {
    throw new FashionMnistError(
      'BAD_OPTION',
      `${WHERE}: option 'baseUrl' is required for data set '${spec.id}', which has no mirrors, received undefined`,
    );
  }
  const bases = given.map((b) => absoluteBase(WHERE, name, b));
  const failures: string[] = [];
  let last: FashionMnistError | undefined;
  for (const base of bases) {
    const urlOf = (file: DatasetFile) => new URL(file.name, base).href;
    try {
      return await assemble(
        spec,
        {
          describe: urlOf,
          verify: opts.verify,
          onProgress: opts.onProgress,
          read: (file, report) =>
            fetchBytes(urlOf(file), {
              fetch: opts.fetch,
              timeoutMs: opts.timeoutMs,
              timeoutHint: "the option 'timeoutMs'",
              maxBytes: fileSizeLimit(file),
              onBytes: report,
            }),
        },
        { kind: 'url', location: base },
        spec.id === SAMPLE.id,
      );
    } catch (e) {
      // A broken or unreachable mirror is worth trying the next one; damaged content is not hidden when it is the
      // only source the caller asked for.
      if (!(e instanceof FashionMnistError) || bases.length === 1) throw e;
      failures.push(`${e.code}: ${e.message}`);
      last = e;
    }
  }
  throw new FashionMnistError(
    'DOWNLOAD_FAILED',
    `${spec.id}: every mirror failed:\n  ${failures.join('\n  ')}`,
    { path: bases.join(', '), cause: last },
  );
}
