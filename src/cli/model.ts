// Which model a command runs: a directory the user named, a shipped model by name, or the default pretrained one.
import { existsSync } from 'node:fs';
import type * as tfl from '@tensorflow/tfjs-layers';
import { hasModel, loadModel } from '../cnn/io-node.js';
import { PRETRAINED_MODELS, type PretrainedModelName } from '../cnn/pretrained.js';
import { loadPretrained, pretrainedModelDir } from '../cnn/pretrained-node.js';
import { FashionMnistError } from '../errors.js';

/** The help text of `--model`, listing the shipped names. */
export const MODEL_FLAG_HELP =
  `model directory, or the name of a shipped model (${Object.keys(PRETRAINED_MODELS).join(', ')}); ` +
  'default: the pretrained fashion-cnn';

/**
 * Loads `dir` (a model directory, or the name of a shipped model when no such directory exists), or the default
 * pretrained model when `dir` is undefined; `label` says which, for messages.
 */
export async function resolveModel(
  dir: string | undefined,
): Promise<{ model: tfl.LayersModel; label: string }> {
  if (dir !== undefined && !existsSync(dir) && Object.hasOwn(PRETRAINED_MODELS, dir)) {
    const name = dir as PretrainedModelName;
    const pre = pretrainedModelDir(name);
    if (!(await hasModel(pre))) {
      throw new FashionMnistError(
        'NOT_FOUND',
        `The pretrained model '${name}' is not in this installation (${pre}/model.json is missing).`,
        { path: pre },
      );
    }
    return { model: await loadPretrained(name), label: name };
  }
  if (dir === undefined) {
    const pre = pretrainedModelDir();
    if (!(await hasModel(pre))) {
      throw new FashionMnistError(
        'NOT_FOUND',
        `The pretrained model is not in this installation (${pre}/model.json is missing). ` +
          'Train one with `fashion-mnist train --out my-model` and pass `--model my-model`.',
        { path: pre },
      );
    }
    return { model: await loadPretrained(), label: 'pretrained' };
  }
  if (!existsSync(dir)) {
    throw new FashionMnistError(
      'BAD_MODEL',
      `${dir}: no such model directory. Pass a directory written by \`fashion-mnist train --out <dir>\` (or any ` +
        'TensorFlow.js layers model: model.json plus weight files), the name of a shipped model ' +
        `(${Object.keys(PRETRAINED_MODELS).join(', ')}), or leave out --model to use the pretrained one.`,
      { path: dir },
    );
  }
  return { model: await loadModel(dir), label: dir };
}
