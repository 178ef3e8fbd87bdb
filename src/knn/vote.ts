// Turning neighbour lists into class votes, whatever search strategy found them, so the tie rule lives in
// exactly one place.
import type { KnnMetric, KnnWeights, NeighbourLists } from './types.js';

/**
 * The distance a caller sees: Euclidean (not squared, as scikit-learn returns it) or `1 − cos`.
 *
 * @example
 * ```ts
 * reportedDistance('euclidean', 25); // 5
 * ```
 */
export function reportedDistance(metric: KnnMetric, internal: number): number {
  return metric === 'euclidean' ? Math.sqrt(internal) : internal;
}

/**
 * Adds the votes of one query row's neighbours into `votes` (length = number of classes, zeroed by the
 * caller). `distance` weights are 1/d; when some neighbours are at distance 0 they alone vote, with equal
 * weight, as scikit-learn does (1/0 would otherwise be Infinity for all of them).
 *
 * @example
 * ```ts
 * const votes = new Float64Array(10);
 * addVotes(votes, lists, 0, labels, 'uniform', 'euclidean');
 * ```
 */
export function addVotes(
  votes: Float64Array,
  lists: NeighbourLists,
  row: number,
  labels: Int32Array,
  weights: KnnWeights,
  metric: KnnMetric,
): void {
  const { k } = lists;
  const o = row * k;
  if (weights === 'uniform') {
    for (let t = 0; t < k; t++) votes[labels[lists.indices[o + t]]] += 1;
    return;
  }
  let zero = false;
  for (let t = 0; t < k; t++) if (lists.distances[o + t] === 0) zero = true;
  for (let t = 0; t < k; t++) {
    const d = reportedDistance(metric, lists.distances[o + t]);
    if (zero) {
      if (d === 0) votes[labels[lists.indices[o + t]]] += 1;
    } else {
      votes[labels[lists.indices[o + t]]] += 1 / d;
    }
  }
}

/**
 * The predicted class for one row from its votes. Tie rule (part of the contract): when several classes
 * share the highest vote, the class of the nearest neighbour among those classes wins. Neighbours are
 * ordered by exact distance, then by training index, so the winner is always well defined. With `rank`
 * (`ties: 'lowest'`: each class's position in the sorted classes), the tied class of lowest rank wins instead.
 *
 * @example
 * ```ts
 * const cls = decide(votes, lists, 0, labels);
 * ```
 */
export function decide(
  votes: Float64Array,
  lists: NeighbourLists,
  row: number,
  labels: Int32Array,
  rank: Int32Array | null = null,
): number {
  let best = -1;
  let bestVote = -1;
  let tied = false;
  for (let c = 0; c < votes.length; c++) {
    if (votes[c] > bestVote) {
      bestVote = votes[c];
      best = c;
      tied = false;
    } else if (votes[c] === bestVote) {
      tied = true;
    }
  }
  if (!tied) return best;
  if (rank !== null) {
    // ties: 'lowest' — the tied class that comes first in `classes` (scikit-learn's argmax, and
    // @tensorflow-models/knn-classifier's loop for labels 0, 1, 2, …).
    for (let c = 0; c < votes.length; c++) if (votes[c] === bestVote && rank[c] < rank[best]) best = c;
    return best;
  }
  const o = row * lists.k;
  for (let t = 0; t < lists.k; t++) {
    const c = labels[lists.indices[o + t]];
    if (votes[c] === bestVote) return c;
  }
  return best;
}

/**
 * Predicted classes for every row.
 *
 * @example
 * ```ts
 * const pred = predictFromLists(lists, labels, 10, 'uniform', 'euclidean');
 * ```
 */
export function predictFromLists(
  lists: NeighbourLists,
  labels: Int32Array,
  numClasses: number,
  weights: KnnWeights,
  metric: KnnMetric,
  rank: Int32Array | null = null,
): Int32Array {
  const out = new Int32Array(lists.rows);
  const votes = new Float64Array(numClasses);
  for (let r = 0; r < lists.rows; r++) {
    votes.fill(0);
    addVotes(votes, lists, r, labels, weights, metric);
    out[r] = decide(votes, lists, r, labels, rank);
  }
  return out;
}

/**
 * Class probabilities (`rows × numClasses`, each row sums to 1): the normalised votes.
 *
 * @example
 * ```ts
 * const proba = probaFromLists(lists, labels, 10, 'distance', 'euclidean');
 * ```
 */
export function probaFromLists(
  lists: NeighbourLists,
  labels: Int32Array,
  numClasses: number,
  weights: KnnWeights,
  metric: KnnMetric,
): Float32Array {
  const out = new Float32Array(lists.rows * numClasses);
  const votes = new Float64Array(numClasses);
  for (let r = 0; r < lists.rows; r++) {
    votes.fill(0);
    addVotes(votes, lists, r, labels, weights, metric);
    let sum = 0;
    for (let c = 0; c < numClasses; c++) sum += votes[c];
    for (let c = 0; c < numClasses; c++) out[r * numClasses + c] = votes[c] / sum;
  }
  return out;
}

/**
 * Public neighbour lists: float32 distances in the caller's units.
 *
 * @example
 * ```ts
 * const { indices, distances } = publicNeighbours(lists, 'euclidean');
 * ```
 */
export function publicNeighbours(
  lists: NeighbourLists,
  metric: KnnMetric,
): { indices: Int32Array; distances: Float32Array } {
  const distances = new Float32Array(lists.distances.length);
  for (let i = 0; i < distances.length; i++) distances[i] = reportedDistance(metric, lists.distances[i]);
  return { indices: lists.indices, distances };
}
