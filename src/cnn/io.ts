// Loading a layers model, universally: building it from checked artifacts without leaking a tensor on any
// failure, and fetching the artifacts over HTTP with the same manifest rules as the Node folder loader
// (file names inside the folder, exact sizes, a total limit), streamed size checks and a timeout per request.
// Only public tfjs API: fetch, tf.io.decodeWeights, tfl.models.modelFromJSON, LayersModel.loadWeights. The
// artifacts are not handed to tf.loadLayersModel through an IOHandler because that keeps the half-built model
// (its variables, the decoded weights, the optimizer) when a step fails: 20 failed loads kept 360 tensors.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { registerRandomErasing } from '../augment/random-erasing-layer.js';
import { FashionMnistError } from '../errors.js';
import { concatBytes, fetchBytes } from '../internal/bytes.js';
import { checkNumber } from '../internal/validate.js';
import { registerSeededDropout } from './dropout.js';
import { type CheckedModelJson, checkGroupBytes, checkModelJson, MAX_MODEL_JSON_BYTES } from './weights.js';

/** Default of every loader's `timeoutMs`: 60 s per file read or request (as `loadFashionMnist`). */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** Checks a `timeoutMs` option (a whole number of milliseconds that timers accept). */
export function checkTimeout(where: string, value: unknown): number {
  return checkNumber(where, 'timeoutMs', value, { integer: true, min: 1, max: 2 ** 31 - 1 });
}

/** A checked `model.json` and the bytes of all its weight files, in manifest order. */
export interface LoadedArtifacts {
  checked: CheckedModelJson;
  weightData: Uint8Array;
}

const variableNames = (): Set<string> => new Set(Object.keys(tf.engine().registeredVariables));

/** Disposes the variables registered now that were not in `before` (what a failed synchronous build made). */
function disposeVariablesSince(before: Set<string>): void {
  const now = tf.engine().registeredVariables;
  tf.dispose(
    Object.keys(now)
      .filter((name) => !before.has(name))
      .map((name) => now[name]),
  );
}

/**
 * tfjs-layers compiles a loaded model with an optimizer deserialised for it alone but does not let the model own
 * it, so `model.dispose()` leaves the optimizer's variables behind (Adam: 2 tensors, more once trained). Freed here
 * through the model's public `dispose`, rather than by writing tfjs's protected ownership flag.
 */
function disposeOptimizerWithModel(model: tfl.LayersModel, optimizer: tf.Optimizer): void {
  const disposeModel = model.dispose.bind(model);
  model.dispose = () => {
    const result = disposeModel();
    if (result.refCountAfterDispose === 0) optimizer.dispose();
    return result;
  };
}

/**
 * Builds a `tf.LayersModel` from checked artifacts, as `tf.loadLayersModel` would (topology, training config,
 * metadata, weights, optimizer state), but leaves no tensor behind when any step fails, and registers the
 * `RandomErasing` layer first so that a bundler that dropped the layer module's import cannot break loading.
 *
 * @throws FashionMnistError `BAD_MODEL` (with the tfjs error as cause) when tfjs cannot build or fill the model.
 */
export async function buildModel(
  { checked, weightData }: LoadedArtifacts,
  where: string,
  source: string,
): Promise<tfl.LayersModel> {
  registerRandomErasing();
  // Dropout layers come back as SeededDropout (the same layer under the same class name), so that trainCnn can
  // seed their masks and a resumed run replays an uninterrupted one.
  registerSeededDropout();
  const bad = (message: string, cause: unknown) =>
    new FashionMnistError('BAD_MODEL', `${where}: cannot build the model in ${source}: ${message}`, {
      path: source,
      cause,
    });
  const { json, specs } = checked;
  // The topology is deserialised synchronously inside modelFromJSON (no weights are given, so it never awaits):
  // the variables registered between these two lines are this model's, even if it failed half-way.
  const before = variableNames();
  const pending = tfl.models.modelFromJSON({
    modelTopology: json.modelTopology as tf.io.ModelJSON['modelTopology'],
  } as tfl.ModelAndWeightsConfig);
  const built = variableNames();
  let model: tfl.LayersModel;
  try {
    model = await pending;
  } catch (e) {
    const now = tf.engine().registeredVariables;
    tf.dispose([...built].filter((n) => !before.has(n) && n in now).map((n) => now[n]));
    throw bad((e as Error).message, e);
  }
  if (!(model instanceof tfl.LayersModel)) {
    (model as { dispose?: () => unknown }).dispose?.();
    throw bad('its topology describes a layer, not a model', undefined);
  }

  const decoded: tf.Tensor[] = [];
  const optimizerWeights: Parameters<tf.Optimizer['setWeights']>[0] = [];
  // Synchronous again: the training config may create the optimizer's variables before it fails.
  const beforeConfig = variableNames();
  try {
    if (json.trainingConfig) {
      model.loadTrainingConfig(json.trainingConfig as Parameters<tfl.LayersModel['loadTrainingConfig']>[0]);
    }
    if (json.userDefinedMetadata) model.setUserDefinedMetadata(json.userDefinedMetadata);
    const data =
      weightData.byteOffset === 0 && weightData.byteLength === weightData.buffer.byteLength
        ? (weightData.buffer as ArrayBuffer)
        : weightData.slice().buffer;
    // tidy: if decoding fails half-way, the weights decoded so far are freed.
    const named = tf.tidy(() => tf.io.decodeWeights(data, specs));
    decoded.push(...Object.values(named));
    const modelWeights: tf.NamedTensorMap = {};
    for (const spec of specs) {
      if (spec.group === 'optimizer') optimizerWeights.push({ name: spec.name, tensor: named[spec.name] });
      else modelWeights[spec.name] = named[spec.name];
    }
    // tidy: a weight constraint applied on assignment makes temporary tensors.
    tf.tidy(() => model.loadWeights(modelWeights, true));
  } catch (e) {
    tf.dispose(decoded);
    model.dispose();
    disposeVariablesSince(beforeConfig); // the optimizer, if the training config made one
    throw bad((e as Error).message, e);
  }
  const optimizer = model.optimizer ?? undefined;
  try {
    if (optimizer && optimizerWeights.length > 0) await optimizer.setWeights(optimizerWeights);
  } catch (e) {
    model.dispose();
    optimizer?.dispose();
    throw bad(`cannot restore the optimizer state: ${(e as Error).message}`, e);
  } finally {
    tf.dispose(decoded);
  }
  if (optimizer) disposeOptimizerWithModel(model, optimizer);
  return model;
}

/** One file of a model over HTTP: the library's bounded fetch (idle timeout, size limit checked while streaming). */
function fetchLimited(
  url: string,
  limit: number,
  tooLarge: (received: number) => FashionMnistError,
  timeoutMs: number,
): Promise<Uint8Array> {
  return fetchBytes(url, { maxBytes: limit, timeoutMs, tooLarge, timeoutHint: "the option 'timeoutMs'" });
}

/**
 * Fetches a model's `model.json` and weight files from `url` (the `model.json`): the manifest is checked before
 * any weight is requested, weight files are requested only inside its folder, one after another, each refused
 * as soon as its group holds more bytes than the manifest's weights need, and every request is abandoned after
 * `timeoutMs`.
 */
export async function fetchModelArtifacts(
  url: string,
  where: string,
  timeoutMs: number,
): Promise<LoadedArtifacts> {
  const jsonBytes = await fetchLimited(
    url,
    MAX_MODEL_JSON_BYTES,
    (n) =>
      new FashionMnistError(
        'TOO_LARGE',
        `${where}: ${url} has ${n} bytes or more; a model.json may have at most ${MAX_MODEL_JSON_BYTES}`,
        { path: url },
      ),
    timeoutMs,
  );
  const checked = checkModelJson(new TextDecoder().decode(jsonBytes), where, url);
  const parts: Uint8Array[] = [];
  for (const [g, group] of checked.groups.entries()) {
    let received = 0;
    for (const p of group.paths) {
      const shardUrl = new URL(p, url).href;
      const tooLong = (n: number) =>
        new FashionMnistError(
          'BAD_MODEL',
          `${where}: weight files of group ${g + 1} hold more than the ${group.bytes} bytes the manifest's ` +
            `weights need (${shardUrl} brought the group to ${received + n}); they do not belong to this model.json`,
          { path: url },
        );
      const bytes = await fetchLimited(shardUrl, group.bytes - received, tooLong, timeoutMs);
      received += bytes.length;
      parts.push(bytes);
    }
    checkGroupBytes(where, g, group, received, url);
  }
  return { checked, weightData: concatBytes(parts) };
}
