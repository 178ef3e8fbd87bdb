// The one metrics module: accuracy, the confusion matrix and per-class precision/recall/F1. k-NN `score`,
// `evaluateCnn`, the CLI and the HTML report all compute their figures here, so an empty input or a length
// mismatch is the same error everywhere: BAD_INPUT for no examples, COUNT_MISMATCH for different lengths.
import { CLASS_NAMES } from '../data/catalog.js';
import { FashionMnistError } from '../errors.js';
import { checkNumber } from '../internal/validate.js';

/** The checks every metric makes on a pair of label arrays. */
function checkPair(where: string, yTrue: ArrayLike<unknown>, yPred: ArrayLike<unknown>): void {
  if (
    yTrue == null ||
    yPred == null ||
    typeof yTrue.length !== 'number' ||
    typeof yPred.length !== 'number'
  ) {
    throw new FashionMnistError('BAD_INPUT', `${where}: expected two arrays of labels`);
  }
  if (yTrue.length !== yPred.length) {
    throw new FashionMnistError(
      'COUNT_MISMATCH',
      `${where}: ${yTrue.length} true labels but ${yPred.length} predictions; pass one prediction per label`,
    );
  }
  if (yTrue.length === 0) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `${where}: no labels given; a metric needs at least one example`,
    );
  }
}

/** Checks that every label is an integer class below `classes` (BAD_LABEL otherwise). */
export function checkLabels(where: string, name: string, labels: ArrayLike<number>, classes: number): void {
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (!Number.isInteger(v) || v < 0 || v >= classes) {
      throw new FashionMnistError(
        'BAD_LABEL',
        `${where}: ${name}[${i}] is ${v}, not a class 0..${classes - 1}`,
      );
    }
  }
}

/**
 * Fraction of predictions equal to the true labels.
 *
 * @example
 * ```ts
 * accuracy([0, 1, 2, 2], [0, 1, 1, 2]); // 0.75
 * ```
 */
export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  checkPair('accuracy', yTrue, yPred);
  let hits = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) hits++;
  return hits / yTrue.length;
}

/**
 * The confusion matrix: `matrix[t][p]` counts images of true class `t` predicted as `p` (rows are the truth,
 * as in scikit-learn).
 *
 * @example
 * ```ts
 * confusionMatrix([0, 1, 1], [0, 1, 0], 2); // [[1, 0], [1, 1]]
 * ```
 */
export function confusionMatrix(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  classes: number = CLASS_NAMES.length,
): number[][] {
  checkNumber('confusionMatrix', 'classes', classes, { integer: true, min: 1 });
  checkPair('confusionMatrix', yTrue, yPred);
  checkLabels('confusionMatrix', 'yTrue', yTrue, classes);
  checkLabels('confusionMatrix', 'yPred', yPred, classes);
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < yTrue.length; i++) m[yTrue[i]][yPred[i]]++;
  return m;
}

/**
 * Per-class scores computed from a confusion matrix.
 *
 * @example
 * ```ts
 * const worst: ClassMetrics = ev.perClass.reduce((a, b) => (b.recall < a.recall ? b : a));
 * ```
 */
export interface ClassMetrics {
  /** Class index. */
  index: number;
  /** Class name (from `classNames`, or the index as text). */
  name: string;
  /** Of the images predicted as this class, the fraction that are; 0 when none was predicted as it. */
  precision: number;
  /** Of the images of this class, the fraction found; 0 when the class has no images. */
  recall: number;
  /** Harmonic mean of precision and recall; 0 when both are 0. */
  f1: number;
  /** Number of images of this class. */
  support: number;
}

/**
 * Precision, recall, F1 and support of each class from a confusion matrix (rows = truth). A zero denominator
 * gives 0, which is what scikit-learn's `precision_recall_fscore_support` reports by default
 * (`zero_division="warn"`), so the numbers line up with it.
 *
 * @example
 * ```ts
 * const per = perClassMetrics(confusionMatrix(yTrue, yPred));
 * console.table(per.map((c) => ({ class: c.name, precision: c.precision, recall: c.recall })));
 * ```
 */
export function perClassMetrics(
  matrix: readonly (readonly number[])[],
  classNames: readonly string[] = CLASS_NAMES,
): ClassMetrics[] {
  const k = Array.isArray(matrix) ? matrix.length : 0;
  if (k === 0 || matrix.some((row) => !Array.isArray(row) || row.length !== k)) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `perClassMetrics: the confusion matrix must be square and non-empty (an array of k rows of k counts)`,
    );
  }
  const out: ClassMetrics[] = [];
  for (let c = 0; c < k; c++) {
    const tp = matrix[c][c];
    let predicted = 0;
    let support = 0;
    for (let i = 0; i < k; i++) {
      predicted += matrix[i][c];
      support += matrix[c][i];
    }
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    out.push({ index: c, name: classNames[c] ?? String(c), precision, recall, f1, support });
  }
  return out;
}
