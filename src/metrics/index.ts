// Entry `fashion-mnist-tfjs/metrics`: the one implementation of the classification metrics that k-NN `score`,
// `evaluateCnn`, the CLI and the HTML report use.
export { accuracy, type ClassMetrics, confusionMatrix, perClassMetrics } from './metrics.js';
