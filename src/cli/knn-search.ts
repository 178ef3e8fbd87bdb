// Which k-NN classifier the CLI runs: the in-process one for one worker, the library's worker pool for more.
// The pool is about to become `new KnnClassifier({ search: knnWorkerPool({ workers }) })`; only this function
// changes then.
import { availableParallelism } from 'node:os';
import { KnnClassifier } from '../knn/classifier.js';
import type { KnnFeatures, KnnLabels } from '../knn/input.js';
import type { KnnOptions } from '../knn/options.js';
import { ParallelKnnClassifier } from '../knn/parallel-node.js';

/** The pool's default: the machine's available parallelism, at most 8 (as the library's worker pool). */
export const DEFAULT_KNN_WORKERS = Math.max(1, Math.min(8, availableParallelism()));

/** A fitted classifier the CLI can predict with; `dispose` may be async (workers stop). */
export type CliKnn = KnnClassifier | ParallelKnnClassifier;

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
  const knn: CliKnn =
    workers > 1 ? new ParallelKnnClassifier({ ...options, workers, backend }) : new KnnClassifier(options);
  try {
    await knn.fit(x, y);
  } catch (e) {
    await knn.dispose();
    throw e;
  }
  return knn;
}
