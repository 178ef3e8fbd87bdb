import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as tfl from '@tensorflow/tfjs-layers';
import { registerRandomErasing } from '../augment/random-erasing-layer.js';
import { packageRoot } from '../data/node.js';
import { FashionMnistError } from '../errors.js';
import { requireBackend } from '../internal/backend.js';
import { registerSeededDropout } from './dropout.js';
import { buildModel, fetchModelArtifacts } from './io.js';
import { hasModel, loadModelFile, MODEL_JSON } from './io-node.js';
import {
  absoluteUrl,
  checkPretrainedName,
  DEFAULT_PRETRAINED,
  type LoadPretrainedOptions,
  PRETRAINED_MODELS,
  type PretrainedModelName,
  resolvePretrained,
} from './pretrained.js';

/**
 * Directory of a shipped model inside the installed package (whether or not it holds the files).
 *
 * @example
 * ```ts
 * pretrainedModelDir(); // '/…/node_modules/fashion-mnist-tfjs/models/fashion-cnn'
 * ```
 */
export function pretrainedModelDir(name: PretrainedModelName = DEFAULT_PRETRAINED): string {
  const { folder } = PRETRAINED_MODELS[checkPretrainedName('pretrainedModelDir', name)];
  return join(packageRoot(), ...folder.split('/'));
}

/**
 * Loads a pretrained Fashion-MNIST CNN in Node: by default the one shipped with the package, read from its
 * files (no network, no tfjs-node). Takes what the universal `loadPretrained` takes (a shipped model's name,
 * `{ name }`, `{ url }` over HTTP(S) or a `file:` URL, `timeoutMs`) and also `{ dir }`, a folder holding
 * `model.json` and its weight files. Every source is checked by the same rules as `loadModel` (files inside
 * the folder, exact sizes, size limits, a timeout per file). The model comes back compiled, so it can be
 * evaluated or fine-tuned with `trainCnn`; nothing is left in memory when the load fails.
 *
 * @throws FashionMnistError `BAD_OPTION` for a bad option or name; `NO_BACKEND` when no TensorFlow.js backend
 * is ready; `BAD_MODEL` when the package has no pretrained model or its files are damaged; `IO_ERROR`,
 * `DOWNLOAD_FAILED`, `TIMEOUT`, `TOO_LARGE` as `loadModel` and the universal `loadPretrained`.
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import '@tensorflow/tfjs-backend-wasm';
 * import { loadPretrained, loadFashionMnist, evaluateCnn } from 'fashion-mnist-tfjs/node';
 *
 * await tf.setBackend('wasm');
 * const model = await loadPretrained('fashion-cnn');
 * const { test } = await loadFashionMnist();
 * console.log((await evaluateCnn(model, test)).accuracy);
 * ```
 */
export async function loadPretrained(
  nameOrOptions?: PretrainedModelName | LoadPretrainedOptions,
): Promise<tfl.LayersModel> {
  const where = 'loadPretrained';
  const source = resolvePretrained(where, nameOrOptions);
  const url = source.kind === 'url' ? absoluteUrl(where, source.url) : undefined;
  if (url && url.protocol !== 'file:' && url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FashionMnistError(
      'UNSUPPORTED',
      `${where}: cannot load ${url.href} in Node; pass an http(s): or file: URL, or { dir }`,
      { path: url.href },
    );
  }
  requireBackend(where);
  registerRandomErasing();
  // Dropout layers come back as SeededDropout (the same layer under the same class name), so that trainCnn can
  // seed their masks and a resumed run replays an uninterrupted one.
  registerSeededDropout();
  if (source.kind === 'url') {
    const at = url as URL;
    if (at.protocol === 'file:') return loadModelFile(fileURLToPath(at), where, source.timeoutMs);
    const artifacts = await fetchModelArtifacts(at.href, where, source.timeoutMs);
    return buildModel(artifacts, where, at.href);
  }
  const dir = source.kind === 'dir' ? resolve(source.dir) : pretrainedModelDir(source.name);
  if (source.kind === 'name' && !(await hasModel(dir))) {
    throw new FashionMnistError(
      'BAD_MODEL',
      `${where}: no pretrained model '${source.name}' in ${dir}; this installation was packed without it ` +
        '(train one with scripts/train-pretrained.ts)',
      { path: dir },
    );
  }
  return loadModelFile(join(dir, MODEL_JSON), where, source.timeoutMs);
}
