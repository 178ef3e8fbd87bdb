import * as tf from '@tensorflow/tfjs-core';
import { FashionMnistError } from '../errors.js';
import { requireBackend } from '../internal/backend.js';
import { checkBoolean, checkOneOf, mergeOptions, show } from '../internal/validate.js';
import type { KnnMetric } from './types.js';

/**
 * Options of {@link distanceMatrix}.
 *
 * @example
 * ```ts
 * const opts: DistanceMatrixOptions = { metric: 'euclidean', squared: true };
 * ```
 */
export interface DistanceMatrixOptions {
  /** `'euclidean'` (default) or `'cosine'` (1 − cos). */
  metric: KnnMetric;
  /** Euclidean only: return squared distances (skips the square root). Default false. */
  squared: boolean;
}

const DISTANCE_DEFAULTS: Readonly<DistanceMatrixOptions> = Object.freeze({
  metric: 'euclidean',
  squared: false,
});

function flat2d(name: string, t: tf.Tensor): tf.Tensor2D {
  if (!(t instanceof tf.Tensor)) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `distanceMatrix: '${name}' must be a tf.Tensor, received ${show(t)}`,
    );
  }
  if (t.isDisposed) {
    throw new FashionMnistError('BAD_INPUT', `distanceMatrix: '${name}' has been disposed`);
  }
  if (t.rank < 2) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `distanceMatrix: '${name}' must be [N, ...features], received [${t.shape.join(', ')}]`,
    );
  }
  return tf.cast(tf.reshape(t, [t.shape[0], -1]), 'float32') as tf.Tensor2D;
}

/**
 * All pairwise distances between the rows of `a` (`[M, …]`) and `b` (`[N, …]`) as an `[M, N]` float32 tensor,
 * without loops: ||a||² − 2·a·bᵀ + ||b||² from one matrix product (negatives from rounding are clamped to 0).
 * Meant for teaching and for small inputs: it materialises the whole matrix and carries float32 rounding
 * (about 1e-7 relative to the norms). {@link KnnClassifier} chunks the queries and refines its candidates
 * exactly instead.
 *
 * @example
 * ```ts
 * const d = distanceMatrix(tf.tensor2d([[0, 0]]), tf.tensor2d([[3, 4], [0, 1]])); // [[5, 1]]
 * ```
 */
export function distanceMatrix(
  a: tf.Tensor,
  b: tf.Tensor,
  options?: Partial<DistanceMatrixOptions>,
): tf.Tensor2D {
  const o = mergeOptions<DistanceMatrixOptions>('distanceMatrix', DISTANCE_DEFAULTS, options);
  checkOneOf('distanceMatrix', 'metric', o.metric, ['euclidean', 'cosine'] as const);
  checkBoolean('distanceMatrix', 'squared', o.squared);
  requireBackend('distanceMatrix');
  return tf.tidy(() => {
    const A = flat2d('a', a);
    const B = flat2d('b', b);
    if (A.shape[1] !== B.shape[1]) {
      throw new FashionMnistError(
        'BAD_SHAPE',
        `distanceMatrix: rows of 'a' have ${A.shape[1]} features but rows of 'b' have ${B.shape[1]}`,
      );
    }
    // b is transposed once so the product is a plain matMul (transposeB is slow on the wasm backend).
    if (o.metric === 'cosine') {
      const unit = (t: tf.Tensor2D) => {
        const n = tf.sqrt(tf.sum(tf.square(t), 1, true));
        return tf.div(t, tf.where(tf.equal(n, 0), tf.onesLike(n), n)) as tf.Tensor2D;
      };
      const cos = tf.matMul(unit(A), tf.transpose(unit(B)));
      return tf.clipByValue(tf.sub(1, cos), 0, 2) as tf.Tensor2D;
    }
    const an = tf.sum(tf.square(A), 1, true);
    const bn = tf.reshape(tf.sum(tf.square(B), 1), [1, -1]);
    const d2 = tf.relu(tf.add(tf.sub(an, tf.mul(2, tf.matMul(A, tf.transpose(B)))), bn)) as tf.Tensor2D;
    return o.squared ? d2 : (tf.sqrt(d2) as tf.Tensor2D);
  });
}
