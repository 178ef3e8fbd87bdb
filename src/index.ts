// Root entry `fashion-mnist-tfjs` (universal: browsers, workers, Node): the names most programs need. Everything
// else is in a subpath entry by capability (/data, /augment, /knn, /cnn, /metrics, /report, /node,
// /wasm-training, /experimental-wasm-threads); see docs/api.md.

export type { RandomErasingOptions, Seed } from './augment/erasing.js';
export { RandomEraser } from './augment/random-eraser.js';
export { RandomErasing, randomErasing } from './augment/random-erasing-layer.js';
export {
  buildCnn,
  type CnnEvaluation,
  type CnnTrainingPool,
  evaluateCnn,
  type LoadPretrainedOptions,
  loadPretrained,
  predictCnnProba,
  predictCnnTopK,
  type TrainCnnOptions,
  type TrainHistory,
  trainCnn,
} from './cnn/index.js';
export type { FashionMnist, Split } from './data/index.js';
export { CLASS_NAMES, IMAGE_SIZE, loadFashionMnist, NUM_CLASSES, subset, toTensors } from './data/index.js';
export {
  ERROR_CODES,
  FashionMnistError,
  type FashionMnistErrorCode,
  isFashionMnistError,
} from './errors.js';
export { KnnClassifier, type KnnOptions } from './knn/index.js';
export { accuracy, confusionMatrix } from './metrics/index.js';
