// Data: the catalogue of files, IDX decoding, loading by URL and the in-memory split helpers (universal).

export type { DataSource, FashionMnist, LoadProgress, ProgressCallback } from './assemble.js';
export type { DatasetFile, DatasetSpec } from './catalog.js';
export { CLASS_NAMES, FASHION_MNIST, IMAGE_SIZE, NUM_CLASSES } from './catalog.js';
export type { IdxArray, IdxDataMap, IdxDtype } from './idx.js';
export { encodeIdx, gunzip, isGzip, parseIdx, parseIdxBytes, sha256Hex } from './idx.js';
export type { LoadUrlOptions } from './load.js';
export { loadFashionMnist } from './load.js';
export { SAMPLE } from './sample-catalog.js';
export type { BatchOptions, Split, ToTensorsOptions } from './split.js';
export { batchIndices, permutation, splitFromIdx, subset, take, toTensors } from './split.js';
