// The CNN capability: the reference network, its training loop and evaluation helpers (universal).
export type { BuildCnnOptions } from './build.js';
export { BUILD_CNN_DEFAULTS, buildCnn, countTrainableParams } from './build.js';
export type { ClassMetrics, CnnEvaluation, CnnImages, PredictOptions, TopKPrediction } from './evaluate.js';
export {
  accuracy,
  confusionMatrix,
  evaluateCnn,
  perClassMetrics,
  predictProba,
  predictTopK,
} from './evaluate.js';
export type { LoadPretrainedOptions } from './pretrained.js';
export { loadPretrained, PRETRAINED_MODEL_DIR, pretrainedModelUrl } from './pretrained.js';
export type {
  BatchProgress,
  EpochLog,
  LearningRateSchedule,
  StopReason,
  TrainCnnOptions,
  TrainHistory,
} from './train.js';
export { learningRateAt, TRAIN_CNN_DEFAULTS, trainCnn } from './train.js';
export type { WeightQuantization } from './weights.js';
