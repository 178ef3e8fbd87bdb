// Node entry: the universal API plus what needs the file system or worker threads. Where a name exists in both
// (loadFashionMnist, loadPretrained), the Node version here takes precedence over the universal one.

export * from './backend/index.js';
export type { SaveModelOptions, SaveModelResult } from './cnn/io-node.js';
export { hasModel, loadModel, MODEL_JSON, readModelArtifacts, saveModel } from './cnn/io-node.js';
export { loadPretrained, pretrainedModelDir } from './cnn/pretrained-node.js';
export type { LoadNodeOptions } from './data/node.js';
export { DEBIAN_DIR, defaultCacheDir, loadFashionMnist, loadSample, packageRoot } from './data/node.js';
export * from './index.js';
export type { ParallelKnnOptions } from './knn/parallel-node.js';
export { ParallelKnnClassifier } from './knn/parallel-node.js';
export { decodePng, encodePng, writePng } from './report/png.js';
