// Which model a command runs: a directory the user named, or the pretrained one shipped in the package.
import { existsSync } from 'node:fs';
import type * as tfl from '@tensorflow/tfjs-layers';
import { hasModel, loadModel } from '../cnn/io-node.js';
import { loadPretrained, pretrainedModelDir } from '../cnn/pretrained-node.js';
import { FashionMnistError } from '../errors.js';

/** Loads `dir`, or the pretrained model when `dir` is undefined; `label` says which, for messages. */
export async function resolveModel(
  dir: string | undefined,
): Promise<{ model: tfl.LayersModel; label: string }> {
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
        'TensorFlow.js layers model: model.json plus weight files), or leave out --model to use the pretrained one.',
      { path: dir },
    );
  }
  return { model: await loadModel(dir), label: dir };
}
