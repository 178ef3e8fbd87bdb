// Entry `fashion-mnist-tfjs/node` (Node only): the root names, with the Node versions of loadFashionMnist (disk,
// cache, Debian's package, download, the embedded sample) and loadPretrained (from disk), plus what needs the
// file system or worker threads. Same name, same options type as the universal functions.

export type { BackendCandidate, SkippedBackend, UseFastestBackendOptions } from './backend/select.js';
export {
  type BackendSelection,
  type SelectBackendOptions,
  selectBackend,
  useFastestBackend,
} from './backend/select.js';
export {
  type LoadModelOptions,
  loadModel,
  type SaveModelOptions,
  type SaveModelResult,
  saveModel,
} from './cnn/io-node.js';
// The Node loadPretrained (also reads folders) over the root's, with the same options type.
export { loadPretrained } from './cnn/pretrained-node.js';
export type { WeightQuantization } from './cnn/weights.js';
export {
  type CnnWorkerPool,
  type CnnWorkerPoolOptions,
  cnnWorkerPool,
} from './cnn/worker-pool-node.js';
export { defaultCacheDir, loadFashionMnist, loadSample } from './data/node.js';
export type { LoadFashionMnistOptions } from './data/options.js';
export * from './index.js';
export { type LoadKnnOptions, loadKnn, type SaveKnnResult, saveKnn } from './knn/io-node.js';
export {
  type KnnWorkerPool,
  type KnnWorkerPoolOptions,
  knnWorkerPool,
} from './knn/worker-pool-node.js';
export { type DecodePngOptions, decodePng, encodePng, writePng } from './report/png.js';
