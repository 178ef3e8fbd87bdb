// Entry `fashion-mnist-tfjs/knn` (universal): the exact k-nearest-neighbours classifier and the loop-free
// distance matrix. The worker-thread search strategy for Node is `knnWorkerPool` of `fashion-mnist-tfjs/node`.
export { type KneighborsOptions, KnnClassifier, type KnnNeighbours } from './classifier.js';
export { type DistanceMatrixOptions, distanceMatrix } from './distance.js';
export type { KnnFeatures, KnnLabels } from './input.js';
export type { KnnCallOptions, KnnOptions } from './options.js';
export type { KnnMetric, SearchProgress, SearchStats } from './search.js';
export type { KnnWeights } from './vote.js';
