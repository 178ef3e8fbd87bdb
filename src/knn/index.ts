// Entry `fashion-mnist-tfjs/knn` (universal): the exact k-nearest-neighbours classifier, its search-strategy
// type and the loop-free distance matrix. The worker-thread search strategy for Node is `knnWorkerPool` of
// `fashion-mnist-tfjs/node`.
export { KnnClassifier } from './classifier.js';
export { type DistanceMatrixOptions, distanceMatrix } from './distance.js';
export type {
  KneighborsOptions,
  KnnCallOptions,
  KnnFeatures,
  KnnIndex,
  KnnLabel,
  KnnLabels,
  KnnMetric,
  KnnNeighbours,
  KnnOptions,
  KnnPredictions,
  KnnRows,
  KnnSearch,
  KnnSearchJob,
  KnnWeights,
  NeighbourLists,
  SearchProgress,
  SearchStats,
} from './types.js';
