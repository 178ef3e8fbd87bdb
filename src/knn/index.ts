// Entry `fashion-mnist-tfjs/knn` (universal): the exact k-nearest-neighbours classifier, its search-strategy
// type, the loop-free distance matrix, and saveKnn / loadKnn (IndexedDB and http(s); the same functions of
// `fashion-mnist-tfjs/node` also take file paths). The worker-thread search strategy for Node is
// `knnWorkerPool` of `fashion-mnist-tfjs/node`; `wasmSearch` searches with this library's exact uint8
// WebAssembly SIMD kernel on the calling thread.
export { KnnClassifier } from './classifier.js';
export { type DistanceMatrixOptions, distanceMatrix } from './distance.js';
export { type LoadKnnOptions, loadKnn, type SaveKnnResult, saveKnn } from './io.js';
export { tfjsSearch } from './search.js';
export type {
  KneighborsOptions,
  KnnCallOptions,
  KnnClassPrediction,
  KnnFeatures,
  KnnIndex,
  KnnLabel,
  KnnLabels,
  KnnMetric,
  KnnNeighbours,
  KnnOptions,
  KnnPredictions,
  KnnRestoreOptions,
  KnnRows,
  KnnSearch,
  KnnSearchJob,
  KnnTies,
  KnnWeights,
  NeighbourLists,
  PredictClassOptions,
  SearchProgress,
  SearchStats,
} from './types.js';
export { wasmSearch } from './wasm-search.js';
