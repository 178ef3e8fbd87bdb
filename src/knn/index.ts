// k-nearest neighbours (universal): the classifier, the loop-free distance matrix and their types.
// The Node worker-thread pool lives in ./parallel-node.ts and is exported from the Node entry only.
export type { KneighborsOptions, KnnNeighbours } from './classifier.js';
export { KnnClassifier } from './classifier.js';
export type { DistanceMatrixOptions } from './distance.js';
export { distanceMatrix } from './distance.js';
export type { KnnFeatures, KnnLabels } from './input.js';
export type { KnnCallOptions, KnnOptions } from './options.js';
export { KNN_DEFAULTS } from './options.js';
export type { KnnMetric, SearchProgress, SearchStats } from './search.js';
export type { KnnWeights } from './vote.js';
