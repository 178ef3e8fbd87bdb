// Worker-thread side of `knnWorkerPool` (Node only): one tfjs engine per thread holding its own copy of the
// transposed training matrix, answering neighbour searches for query chunks that live in shared memory.
//
// The pool starts this file by URL: dist/knn-worker.{js,cjs} in the package (tsup builds it as an entry of its
// own, next to the module that starts it). It is never started through a TypeScript loader; code running from
// the sources passes a bundled copy as `workerUrl` (scripts/dev-knn-worker.ts).
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { FashionMnistError } from '../errors.js';
import { describeWorkerError, type WorkerErrorMessage } from '../internal/worker-error.js';
import { NeighbourIndex } from './search.js';
import type { KnnMetric, KnnRows } from './types.js';

/**
 * What the pool passes to each worker at start.
 *
 * @example
 * ```ts
 * new Worker(url, { workerData: { backend: 'wasm', train, trainType: 'uint8', rows, dims, metric } });
 * ```
 */
export interface KnnWorkerInit {
  backend: 'wasm' | 'cpu';
  train: SharedArrayBuffer;
  trainType: 'uint8' | 'float32';
  rows: number;
  dims: number;
  metric: KnnMetric;
}

/**
 * A search request: query rows [start, end) of the shared float32 query buffer.
 *
 * @example
 * ```ts
 * worker.postMessage({ type: 'search', id: 1, query, start: 0, end: 279, k: 5 });
 * ```
 */
export interface KnnWorkerTask {
  type: 'search';
  id: number;
  query: SharedArrayBuffer;
  start: number;
  end: number;
  k: number;
}

/**
 * An error as it crosses the thread boundary (structured cloning keeps neither the class nor `code`).
 *
 * @example
 * ```ts
 * const e: KnnWorkerError = { name: 'FashionMnistError', message: 'backend …', code: 'NO_BACKEND' };
 * ```
 */
export type KnnWorkerError = WorkerErrorMessage;

/**
 * Messages a worker sends back.
 *
 * @example
 * ```ts
 * worker.on('message', (m: KnnWorkerReply) => m.type === 'result' && console.log(m.indices));
 * ```
 */
export type KnnWorkerReply =
  | { type: 'ready' }
  | {
      type: 'result';
      id: number;
      indices: Int32Array;
      distances: Float64Array;
      rescued: number;
      candidates: number;
    }
  | { type: 'error'; id: number | null; error: KnnWorkerError };

async function loadBackend(name: 'wasm' | 'cpu'): Promise<void> {
  // Literal specifiers so bundlers and the type checker see them; the packages are optional peers.
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  else await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend(name))) {
    throw new FashionMnistError('NO_BACKEND', `knn worker: the '${name}' backend failed to initialise`);
  }
  await tf.ready();
}

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) {
    throw new FashionMnistError(
      'UNSUPPORTED',
      'knn-worker: this script runs in a worker thread started by knnWorkerPool(), not on its own',
    );
  }
  const init = workerData as KnnWorkerInit;
  let index: NeighbourIndex;
  try {
    await loadBackend(init.backend);
    const values = init.trainType === 'uint8' ? new Uint8Array(init.train) : new Float32Array(init.train);
    const rows: KnnRows = { values, rows: init.rows, dims: init.dims };
    index = new NeighbourIndex(rows, init.metric);
  } catch (e) {
    port.postMessage({ type: 'error', id: null, error: describeWorkerError(e) } satisfies KnnWorkerReply);
    return;
  }
  // The pool stops a worker with terminate(), which frees its engine with the thread.
  port.on('message', (task: KnnWorkerTask) => {
    const query = new Float32Array(
      task.query,
      task.start * init.dims * 4,
      (task.end - task.start) * init.dims,
    );
    index
      .search(query, task.k, task.end - task.start)
      .then(({ lists, stats }) => {
        const reply: KnnWorkerReply = {
          type: 'result',
          id: task.id,
          indices: lists.indices,
          distances: lists.distances,
          rescued: stats.rescued,
          candidates: stats.candidates,
        };
        port.postMessage(reply, [lists.indices.buffer as ArrayBuffer, lists.distances.buffer as ArrayBuffer]);
      })
      .catch((e: unknown) => {
        port.postMessage({
          type: 'error',
          id: task.id,
          error: describeWorkerError(e),
        } satisfies KnnWorkerReply);
      });
  });
  port.postMessage({ type: 'ready' } satisfies KnnWorkerReply);
}

void main();
