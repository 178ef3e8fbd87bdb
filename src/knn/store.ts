// Where saved k-NN classifiers live in a browser: IndexedDB, addressed like tfjs models (`indexeddb://name`).
// The bytes are the format of format.ts; this module only moves them.
import { FashionMnistError } from '../errors.js';

const SCHEME = 'indexeddb://';
const DB = 'fashion-mnist-tfjs';
const STORE = 'knn-classifiers';

/** The key of an `indexeddb://name` address, or null for anything else. */
export function indexedDbKey(address: string): string | null {
  if (!address.startsWith(SCHEME)) return null;
  const key = address.slice(SCHEME.length);
  if (key.length === 0) {
    throw new FashionMnistError('BAD_OPTION', `'${address}' names no classifier; use indexeddb://<name>`, {
      path: address,
    });
  }
  return key;
}

function openDb(where: string): Promise<IDBDatabase> {
  const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (idb == null) {
    throw new FashionMnistError(
      'UNSUPPORTED',
      `${where}: IndexedDB is not available here; in Node use a file path with fashion-mnist-tfjs/node`,
    );
  }
  return new Promise((resolve, reject) => {
    const request = idb.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () =>
      reject(new FashionMnistError('IO_ERROR', `${where}: cannot open IndexedDB`, { cause: request.error }));
  });
}

function run<T>(
  where: string,
  mode: IDBTransactionMode,
  act: (s: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  return openDb(where).then(
    (db) =>
      new Promise<T>((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const request = act(tx.objectStore(STORE));
        let result: T;
        request.onsuccess = () => {
          result = request.result;
        };
        // Resolve on commit, so that a save is durable when its promise resolves.
        tx.oncomplete = () => {
          db.close();
          resolve(result);
        };
        tx.onerror = tx.onabort = () => {
          db.close();
          reject(
            new FashionMnistError('IO_ERROR', `${where}: IndexedDB transaction failed`, { cause: tx.error }),
          );
        };
      }),
  );
}

/** Stores bytes under `indexeddb://key` in one transaction (all or nothing). */
export async function putIndexedDb(where: string, key: string, bytes: Uint8Array): Promise<void> {
  await run(where, 'readwrite', (s) => s.put(new Blob([bytes as Uint8Array<ArrayBuffer>]), key));
}

/** Reads the bytes under `indexeddb://key`; NOT_FOUND when there are none. */
export async function getIndexedDb(where: string, key: string, maxBytes: number): Promise<Uint8Array> {
  const value = await run<unknown>(where, 'readonly', (s) => s.get(key));
  if (value === undefined) {
    throw new FashionMnistError('NOT_FOUND', `${where}: nothing is saved under ${SCHEME}${key}`, {
      path: `${SCHEME}${key}`,
    });
  }
  if (!(value instanceof Blob)) {
    throw new FashionMnistError('BAD_FILE', `${where}: ${SCHEME}${key} does not hold a saved classifier`);
  }
  if (value.size > maxBytes) {
    throw new FashionMnistError(
      'TOO_LARGE',
      `${where}: ${SCHEME}${key} holds ${value.size} bytes, more than the limit of ${maxBytes}`,
    );
  }
  return new Uint8Array(await value.arrayBuffer());
}
