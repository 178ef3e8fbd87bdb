// The k-NN options, declared once for the single-engine classifier and the Node worker pool.
import { checkFunction, checkNumber, checkOneOf, mergeOptions, show } from '../internal/validate.js';
import type { KnnMetric, SearchProgress } from './search.js';
import type { KnnWeights } from './vote.js';

/**
 * Options of {@link KnnClassifier} (all optional; see {@link KNN_DEFAULTS}).
 *
 * @example
 * ```ts
 * const options: Partial<KnnOptions> = { k: 5, weights: 'distance', metric: 'euclidean' };
 * ```
 */
export interface KnnOptions {
  /** Number of neighbours that vote (1 ≤ k ≤ number of training rows). */
  k: number;
  /** `'uniform'`: one vote each; `'distance'`: weight 1/d (neighbours at distance 0 take the whole vote). */
  weights: KnnWeights;
  /** `'euclidean'` or `'cosine'` (1 − cos, through the same single matrix product on normalised rows). */
  metric: KnnMetric;
  /** Query rows per matrix product, or `'auto'` to size chunks from `memoryBudget`. */
  batchSize: number | 'auto';
  /** Bytes allowed for one chunk's score matrix (and topk's working copy) when `batchSize` is `'auto'`. */
  memoryBudget: number;
}

/**
 * Defaults: k = 5, uniform votes, Euclidean distance, chunks sized for a 128 MiB budget (279 query rows
 * against 60,000 training images).
 *
 * @example
 * ```ts
 * console.log(KNN_DEFAULTS.k); // 5
 * ```
 */
export const KNN_DEFAULTS: Readonly<KnnOptions> = Object.freeze({
  k: 5,
  weights: 'uniform',
  metric: 'euclidean',
  batchSize: 'auto',
  memoryBudget: 128 * 2 ** 20,
});

/**
 * Merges and validates options; TypeError for wrong types, RangeError for values out of range.
 *
 * @example
 * ```ts
 * resolveKnnOptions('KnnClassifier', { k: 3 }); // { k: 3, weights: 'uniform', … }
 * ```
 */
export function resolveKnnOptions(where: string, options: unknown): KnnOptions {
  const o = mergeOptions<KnnOptions>(where, KNN_DEFAULTS, options);
  checkNumber(where, 'k', o.k, { integer: true, min: 1 });
  checkOneOf(where, 'weights', o.weights, ['uniform', 'distance'] as const);
  checkOneOf(where, 'metric', o.metric, ['euclidean', 'cosine'] as const);
  if (o.batchSize !== 'auto') {
    if (typeof o.batchSize !== 'number') {
      throw new TypeError(
        `${where}: option 'batchSize' must be 'auto' or an integer >= 1, received ${show(o.batchSize)}`,
      );
    }
    checkNumber(where, 'batchSize', o.batchSize, { integer: true, min: 1 });
  }
  checkNumber(where, 'memoryBudget', o.memoryBudget, { min: 1 });
  return Object.freeze(o) as KnnOptions;
}

/**
 * Options of one prediction call.
 *
 * @example
 * ```ts
 * await knn.predict(x, { onProgress: ({ done, total }) => console.error(`${done}/${total}`) });
 * ```
 */
export interface KnnCallOptions {
  /** Called after every query chunk with chunks (and rows) done so far. */
  onProgress?: (progress: SearchProgress) => void;
}

/**
 * Validates per-call options.
 *
 * @example
 * ```ts
 * resolveCallOptions('KnnClassifier.predict', { onProgress: console.log });
 * ```
 */
export function resolveCallOptions(where: string, options: unknown): KnnCallOptions {
  const o = mergeOptions<KnnCallOptions>(where, { onProgress: undefined }, options);
  checkFunction(where, 'onProgress', o.onProgress);
  return o;
}
