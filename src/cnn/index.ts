// Entry `fashion-mnist-tfjs/cnn` (universal): the networks, their training loop, evaluation and prediction
// helpers, and the pretrained model by URL. Saving and loading from disk live in `fashion-mnist-tfjs/node`.
export { type BuildCnnOptions, buildCnn, type CnnArchitecture, countTrainableParams } from './build.js';
export type {
  CnnPoolSession,
  CnnShardResult,
  CnnShardTask,
  CnnTrainingPool,
} from './data-parallel.js';
export {
  type CnnEvaluation,
  type CnnImages,
  evaluateCnn,
  type PredictOptions,
  predictCnnProba,
  predictCnnTopK,
  type TopKPrediction,
} from './evaluate.js';
export { type LoadPretrainedOptions, loadPretrained, pretrainedModelUrl } from './pretrained.js';
export {
  type BatchProgress,
  type EpochLog,
  type LearningRateSchedule,
  type StopReason,
  type TrainCnnOptions,
  type TrainHistory,
  trainCnn,
} from './train.js';
