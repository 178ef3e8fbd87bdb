import { join } from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { packageRoot } from '../data/node.js';
import { FashionMnistError } from '../errors.js';
import { mergeOptions, show } from '../internal/validate.js';
import { hasModel, loadModel } from './io-node.js';
import { PRETRAINED_MODEL_DIR } from './pretrained.js';

/**
 * Directory of the pretrained model inside the installed package (whether or not it holds the files).
 *
 * @example
 * ```ts
 * pretrainedModelDir(); // '/…/node_modules/fashion-mnist-tfjs/models/fashion-cnn'
 * ```
 */
export function pretrainedModelDir(): string {
  return join(packageRoot(), ...PRETRAINED_MODEL_DIR.split('/'));
}

const LOAD_PRETRAINED_DEFAULTS: Readonly<{ dir?: string }> = Object.freeze({ dir: undefined });

/**
 * Loads the pretrained Fashion-MNIST CNN shipped with the package, in Node, from its files (no network, no
 * tfjs-node). The model comes back compiled, so it can be evaluated or fine-tuned with `trainCnn`.
 *
 * @throws TypeError for an unknown option or a `dir` that is not a string; FashionMnistError `BAD_MODEL` when
 * the package has no pretrained model or its files are damaged.
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import '@tensorflow/tfjs-backend-wasm';
 * import { loadPretrained, loadFashionMnist, evaluateCnn } from 'fashion-mnist-tfjs/node';
 *
 * await tf.setBackend('wasm');
 * const model = await loadPretrained();
 * const { test } = await loadFashionMnist();
 * console.log((await evaluateCnn(model, test)).accuracy);
 * ```
 */
export async function loadPretrained(options?: { dir?: string }): Promise<tfl.LayersModel> {
  const dir = mergeOptions('loadPretrained', LOAD_PRETRAINED_DEFAULTS, options).dir ?? pretrainedModelDir();
  if (typeof dir !== 'string') {
    throw new TypeError(`loadPretrained: option 'dir' must be a string path, received ${show(dir)}`);
  }
  if (!(await hasModel(dir))) {
    throw new FashionMnistError(
      'BAD_MODEL',
      `loadPretrained: no pretrained model in ${dir}; this installation was packed without it ` +
        `(train one with scripts/train-pretrained.ts)`,
      { path: dir },
    );
  }
  return loadModel(dir);
}
