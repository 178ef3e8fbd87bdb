// Which k-NN search the CLI runs: in this thread for one worker, the library's worker pool for more.
import { availableParallelism } from 'node:os';
import { KnnClassifier } from '../knn/classifier.js';
import type { KnnFeatures, KnnLabels, KnnOptions } from '../knn/types.js';
import { knnWorkerPool } from '../knn/worker-pool-node.js';

/** The pool's default: the machine's available parallelism, at most 8 (as the library's worker pool). */
export const DEFAULT_KNN_WORKERS = Math.max(1, Math.min(8, availableParallelism()));

/** A fitted classifier the CLI can predict with. */
export type CliKnn = KnnClassifier;

/**
 * Fits k-NN on `x`, `y`: in this thread for `workers` 1, else on a pool of `workers` threads running the tfjs
 * backend `backend` each. Disposes of what it made when fitting fails.
 */
export async function fitKnn(
  options: Partial<KnnOptions>,
  workers: number,
  backend: 'wasm' | 'cpu',
  x: KnnFeatures,
  y: KnnLabels,
): Promise<CliKnn> {
  const search = workers > 1 ? knnWorkerPool({ workers, backend }) : undefined;
  const knn = new KnnClassifier({ ...options, ...(search ? { search } : {}) });
  try {
    knn.fit(x, y);
  } catch (e) {
    await knn.dispose();
    throw e;
  }
  return knn;
}
