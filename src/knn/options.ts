// The k-NN options, declared once: defaults, checks, and the per-call options.
import {
  badOption,
  checkFunction,
  checkNumber,
  checkOneOf,
  mergeOptions,
  show,
} from '../internal/validate.js';
import type { KnnCallOptions, KnnOptions } from './types.js';
import { wasmSearch } from './wasm-search.js';

/**
 * Defaults: k = 5, uniform votes, Euclidean distance, ties to the nearest neighbour's class, chunks sized for a 128 MiB budget (279 query rows
 * against 60,000 training images); the search is `wasmSearch`: the library's exact uint8 WebAssembly kernel
 * where it applies (pixels 0..255, euclidean), else the active TensorFlow.js backend, with the same results.
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
  ties: 'nearest',
  batchSize: 'auto',
  memoryBudget: 128 * 2 ** 20,
  search: wasmSearch,
});

/**
 * Merges and validates options; a `FashionMnistError` `BAD_OPTION` names the first bad one.
 *
 * @example
 * ```ts
 * resolveKnnOptions('KnnClassifier', { k: 3 }); // { k: 3, weights: 'uniform', … }
 * ```
 */
export function resolveKnnOptions(where: string, options: unknown): Readonly<KnnOptions> {
  const o = mergeOptions<KnnOptions>(where, KNN_DEFAULTS, options);
  checkNumber(where, 'k', o.k, { integer: true, min: 1 });
  checkOneOf(where, 'weights', o.weights, ['uniform', 'distance'] as const);
  checkOneOf(where, 'metric', o.metric, ['euclidean', 'cosine'] as const);
  checkOneOf(where, 'ties', o.ties, ['nearest', 'lowest'] as const);
  if (o.batchSize !== 'auto') {
    if (typeof o.batchSize !== 'number') {
      throw badOption(
        `${where}: option 'batchSize' must be 'auto' or an integer >= 1, received ${show(o.batchSize)}`,
      );
    }
    checkNumber(where, 'batchSize', o.batchSize, { integer: true, min: 1 });
  }
  checkNumber(where, 'memoryBudget', o.memoryBudget, { min: 1 });
  const search: unknown = o.search;
  if (
    search === null ||
    typeof search !== 'object' ||
    typeof (search as { index?: unknown }).index !== 'function'
  ) {
    throw badOption(
      `${where}: option 'search' must be a search strategy (an object with an index() method, such as knnWorkerPool() from fashion-mnist-tfjs/node), received ${show(search)}`,
    );
  }
  return Object.freeze(o);
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
