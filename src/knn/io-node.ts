// Node's saveKnn / loadKnn: the universal sources (http(s); indexeddb:// is refused here, Node has no IndexedDB)
// plus file paths, written atomically and read with a size limit.
import { fileURLToPath } from 'node:url';
import { FashionMnistError } from '../errors.js';
import { readFileLimited, writeFileAtomic } from '../internal/fs-node.js';
import type { KnnClassifier } from './classifier.js';
import {
  addressOf,
  isHttp,
  type LoadKnnOptions,
  loadUniversalBytes,
  requireClassifier,
  resolveLoadOptions,
  restoreFrom,
  type SaveKnnResult,
  saveKnn as saveUniversal,
} from './io.js';
import { indexedDbKey } from './store.js';
import type { KnnLabel } from './types.js';

export type { LoadKnnOptions, SaveKnnResult };

const filePath = (address: string): string =>
  address.startsWith('file:') ? fileURLToPath(address) : address;

function noIndexedDb(where: string, address: string): FashionMnistError {
  return new FashionMnistError(
    'UNSUPPORTED',
    `${where}: ${address}: Node has no IndexedDB; give a file path (IndexedDB is for browsers, with fashion-mnist-tfjs/knn)`,
    { path: address },
  );
}

/**
 * Saves a fitted classifier (its `toBytes()`, ≈ rows × features bytes for pixels) to a file, atomically: a
 * temporary file beside it, flushed, then renamed over it, so the file holds either the old or the new
 * classifier, never half of one. A missing folder or a directory in the way is `IO_ERROR`. The destination may
 * be a path or a `file:` URL.
 *
 * @example
 * ```ts
 * import { saveKnn, loadKnn } from 'fashion-mnist-tfjs/node';
 * await saveKnn(knn, 'models/knn.fmknn'); // 47 MB for the full Fashion-MNIST training set
 * const again = await loadKnn('models/knn.fmknn');
 * ```
 */
export async function saveKnn(knn: KnnClassifier<KnnLabel>, destination: string): Promise<SaveKnnResult> {
  const where = 'saveKnn';
  const address = addressOf(where, 'destination', destination);
  if (indexedDbKey(address) !== null) throw noIndexedDb(where, address);
  if (isHttp(address)) return saveUniversal(knn, address); // refused there, with the reason
  const path = filePath(address);
  // Checks the classifier and encodes it before touching the file system.
  const bytes = requireClassifier(where, knn).toBytes();
  await writeFileAtomic(where, path, bytes);
  return { destination: address, bytes: bytes.length };
}

/**
 * Loads a classifier saved by `saveKnn`: from a file path (or `file:` URL), read with a size limit (`maxBytes`,
 * default 1 GiB: `TOO_LARGE` beyond it), or from an http(s) URL (`maxBytes`, and `timeoutMs`, default 60 s).
 * A missing file is `NOT_FOUND`, a directory or another non-file `IO_ERROR`, damaged, truncated or foreign bytes
 * `BAD_FILE`. The classifier predicts exactly what the saved one did; `search`, `batchSize` and
 * `memoryBudget` choose how it searches.
 *
 * @example
 * ```ts
 * import { knnWorkerPool, loadKnn } from 'fashion-mnist-tfjs/node';
 * const knn = await loadKnn('models/knn.fmknn', { search: knnWorkerPool({ workers: 2 }) });
 * ```
 */
export async function loadKnn<L extends KnnLabel = number>(
  source: string,
  options?: LoadKnnOptions,
): Promise<KnnClassifier<L>> {
  const where = 'loadKnn';
  const address = addressOf(where, 'source', source);
  const { restore, ...limits } = resolveLoadOptions(where, options);
  if (indexedDbKey(address) !== null) throw noIndexedDb(where, address);
  const bytes =
    (await loadUniversalBytes(where, address, limits)) ??
    (await readFileLimited(where, filePath(address), limits.maxBytes));
  return restoreFrom<L>(where, address, bytes, restore);
}
