// Save and load layers models in Node with plain `fs`, so users need no @tensorflow/tfjs-node (whose install
// downloads a native library). The files are the standard TensorFlow.js layers format, so a browser can load
// the same directory over HTTP with `tf.loadLayersModel(url)`.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FashionMnistError } from '../errors.js';
import { concatBytes } from '../internal/bytes.js';
import { checkBoolean, checkNumber, checkOneOf, mergeOptions, show } from '../internal/validate.js';
import { quantizeWeights, specByteLength, type WeightQuantization } from './weights.js';

/**
 * The model description file in a saved model directory.
 *
 * @example
 * ```ts
 * existsSync(join(dir, MODEL_JSON));
 * ```
 */
export const MODEL_JSON = 'model.json';

/**
 * Options of {@link saveModel}.
 *
 * @example
 * ```ts
 * const options: SaveModelOptions = { quantize: 'float16', metadata: { trainedOn: 'full' } };
 * ```
 */
export interface SaveModelOptions {
  /**
   * Weight storage: `'none'` (float32, exact; the default), `'float16'` (half the size), `'uint16'` or `'uint8'`
   * (a quarter of the size; affine per-weight quantisation). Loading dequantises to float32.
   */
  quantize?: WeightQuantization;
  /** Largest weight file in bytes (default 4 MiB, like the TensorFlow.js converter). */
  shardBytes?: number;
  /** Also save the optimizer's state (for resuming training from a checkpoint); default `false`. */
  includeOptimizer?: boolean;
  /** Free-form JSON stored as `userDefinedMetadata` in `model.json`. */
  metadata?: Record<string, unknown>;
}

const SAVE_DEFAULTS: Readonly<SaveModelOptions> = Object.freeze({
  quantize: 'none',
  shardBytes: 4 * 1024 * 1024,
  includeOptimizer: false,
  metadata: undefined,
});

/**
 * What {@link saveModel} wrote.
 *
 * @example
 * ```ts
 * const { dir, files, weightBytes }: SaveModelResult = await saveModel(model, 'out/cnn');
 * ```
 */
export interface SaveModelResult {
  /** Absolute path of the model directory. */
  dir: string;
  /** File names written into it, `model.json` first. */
  files: string[];
  /** Total bytes of the weight files. */
  weightBytes: number;
}

async function writeDurably(path: string, data: Uint8Array | string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(path: string): Promise<void> {
  // Makes the renames themselves durable; some platforms cannot open directories, which only weakens this.
  try {
    const fh = await open(path, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // best effort
  }
}

/**
 * Saves a `tf.LayersModel` into `dir` as `model.json` plus weight shards, the standard TensorFlow.js layers
 * format, using plain `fs` (no tfjs-node). The directory is written under a temporary name next to `dir`,
 * flushed to disk and then renamed into place, so a crash mid-save never leaves `dir` holding a half-written
 * model: `dir` either has the old complete model, the new complete model, or (for an instant between two renames
 * when replacing) does not exist. An existing `dir` is replaced only if it is empty or holds a `model.json`.
 *
 * @throws FashionMnistError `BAD_MODEL` when `dir` exists and is not a model directory.
 * @example
 * ```ts
 * import { buildCnn } from 'fashion-mnist-tfjs';
 * import { saveModel, loadModel } from 'fashion-mnist-tfjs/node';
 *
 * await saveModel(buildCnn(), 'out/my-cnn', { quantize: 'float16' });
 * const model = await loadModel('out/my-cnn');
 * ```
 */
export async function saveModel(
  model: tfl.LayersModel,
  dir: string,
  options?: SaveModelOptions,
): Promise<SaveModelResult> {
  const where = 'saveModel';
  const o = mergeOptions(where, SAVE_DEFAULTS, options);
  if (typeof dir !== 'string' || dir === '') {
    throw new TypeError(`${where}: dir must be a non-empty string path, received ${show(dir)}`);
  }
  const quantize = checkOneOf(where, 'quantize', o.quantize, ['none', 'float16', 'uint16', 'uint8'] as const);
  const shardBytes = checkNumber(where, 'shardBytes', o.shardBytes, { integer: true, min: 1 });
  const includeOptimizer = checkBoolean(where, 'includeOptimizer', o.includeOptimizer);
  if (o.metadata !== undefined && (typeof o.metadata !== 'object' || o.metadata === null)) {
    throw new TypeError(`${where}: option 'metadata' must be a plain object, received ${show(o.metadata)}`);
  }
  const target = resolve(dir);
  if (existsSync(target)) {
    const st = statSync(target);
    const entries = st.isDirectory() ? readdirSync(target) : null;
    if (entries === null || (entries.length > 0 && !entries.includes(MODEL_JSON))) {
      throw new FashionMnistError(
        'BAD_MODEL',
        `${where}: ${target} exists and is not a model directory (no ${MODEL_JSON}); refusing to replace it`,
        { path: target },
      );
    }
  }

  let artifacts: tf.io.ModelArtifacts | undefined;
  // tfjs-layers' save() leaves one tensor behind per call when it includes the optimizer (the iteration
  // counter it builds for the weight list); a scope collects it, since everything saved is copied out as bytes.
  tf.engine().startScope();
  try {
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
      }),
      { includeOptimizer },
    );
  } finally {
    tf.engine().endScope();
  }
  if (!artifacts?.weightSpecs || artifacts.weightData === undefined) {
    throw new FashionMnistError('BAD_MODEL', `${where}: the model produced no weights to save`);
  }
  const encoded = quantizeWeights(
    artifacts.weightSpecs,
    tf.io.CompositeArrayBuffer.join(artifacts.weightData),
    quantize,
  );
  const bytes = new Uint8Array(encoded.data);
  const count = Math.max(1, Math.ceil(bytes.length / shardBytes));
  const paths = Array.from({ length: count }, (_, i) => `group1-shard${i + 1}of${count}.bin`);
  const modelJson: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology as object,
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths, weights: encoded.specs }],
  };
  // tfjs writes the training config only together with optimizer weights; keep it always, so that a loaded
  // model comes back compiled (loss, metrics, optimizer and its rate) and can be evaluated or fine-tuned.
  const trainingConfig =
    artifacts.trainingConfig ??
    (model.optimizer
      ? (model as unknown as { getTrainingConfig(): tf.io.TrainingConfig }).getTrainingConfig()
      : undefined);
  if (trainingConfig) modelJson.trainingConfig = trainingConfig;
  if (o.metadata) modelJson.userDefinedMetadata = o.metadata as Record<string, object>;

  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = join(parent, `.${basename(target)}.tmp-${tag}`);
  const old = join(parent, `.${basename(target)}.old-${tag}`);
  try {
    await mkdir(tmp);
    for (let i = 0; i < count; i++) {
      await writeDurably(join(tmp, paths[i]), bytes.subarray(i * shardBytes, (i + 1) * shardBytes));
    }
    // model.json last: a directory with a model.json has all its shards.
    await writeDurably(join(tmp, MODEL_JSON), JSON.stringify(modelJson));
    await syncDir(tmp);
    if (existsSync(target)) {
      await rename(target, old);
      await rename(tmp, target);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, target);
    }
    await syncDir(parent);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    // If the old model was moved aside but the new one could not take its place, put the old one back.
    if (!existsSync(target) && existsSync(old)) await rename(old, target).catch(() => undefined);
    throw e;
  }
  return { dir: target, files: [MODEL_JSON, ...paths], weightBytes: bytes.length };
}

function badModel(dir: string, message: string, cause: unknown, where: string): FashionMnistError {
  return new FashionMnistError('BAD_MODEL', `${where}: ${message}`, { path: dir, cause });
}

/**
 * Reads and checks a saved model directory without building the model: parses `model.json`, checks every shard
 * named by the manifest exists inside the directory and that the shard sizes add up to what the manifest's
 * weight shapes need. Returns the artifacts `tf.io.fromMemory` takes.
 *
 * @throws FashionMnistError `BAD_MODEL` naming the file and the problem.
 * @example
 * ```ts
 * const artifacts = await readModelArtifacts('models/fashion-cnn');
 * const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
 * ```
 */
export function readModelArtifacts(dir: string): Promise<tf.io.ModelArtifacts> {
  return readArtifacts(dir, 'readModelArtifacts');
}

/** {@link readModelArtifacts}, with errors named after the public function the caller called. */
async function readArtifacts(dir: string, where: string): Promise<tf.io.ModelArtifacts> {
  const bad = (root: string, message: string, cause?: unknown) => badModel(root, message, cause, where);
  if (typeof dir !== 'string' || dir === '') {
    throw new TypeError(`${where}: dir must be a non-empty string path, received ${show(dir)}`);
  }
  const root = resolve(dir);
  const jsonPath = join(root, MODEL_JSON);
  let text: string;
  try {
    text = await readFile(jsonPath, 'utf8');
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw bad(root, missing ? `no ${MODEL_JSON} in ${root}` : `cannot read ${jsonPath}`, e);
  }
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(root, `${jsonPath} is not valid JSON (${(e as Error).message})`, e);
  }
  if (
    typeof json !== 'object' ||
    json === null ||
    typeof json.modelTopology !== 'object' ||
    !json.modelTopology
  ) {
    throw bad(root, `${jsonPath} has no modelTopology; it is not a TensorFlow.js layers model`);
  }
  if (!Array.isArray(json.weightsManifest)) {
    throw bad(root, `${jsonPath} has no weightsManifest array`);
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  for (const [g, group] of json.weightsManifest.entries()) {
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw bad(root, `${jsonPath}: weightsManifest[${g}] needs 'paths' and 'weights' arrays`);
    }
    let expected = 0;
    for (const w of group.weights) {
      if (!w || typeof w.name !== 'string' || !Array.isArray(w.shape) || typeof w.dtype !== 'string') {
        throw bad(root, `${jsonPath}: weightsManifest[${g}] has an entry without name, shape and dtype`);
      }
      try {
        expected += specByteLength(w);
      } catch (e) {
        throw bad(root, `${jsonPath}: ${(e as Error).message}`, e);
      }
    }
    let actual = 0;
    const groupBuffers: Uint8Array[] = [];
    for (const p of group.paths) {
      // Shards must be plain files inside the directory: a manifest must not read files elsewhere.
      if (
        typeof p !== 'string' ||
        p === '' ||
        p.includes('/') ||
        p.includes('\\') ||
        p === '.' ||
        p === '..'
      ) {
        throw bad(root, `${jsonPath}: weight path ${show(p)} is not a file name inside the model directory`);
      }
      let buf: Uint8Array;
      try {
        buf = await readFile(join(root, p));
      } catch (e) {
        throw bad(root, `weight file ${p} listed in ${MODEL_JSON} is missing from ${root}`, e);
      }
      actual += buf.length;
      groupBuffers.push(buf);
    }
    if (actual !== expected) {
      throw bad(
        root,
        `weight files of group ${g + 1} (${group.paths.join(', ')}) hold ${actual} bytes but the manifest's ` +
          `weights need ${expected}; the files are truncated or do not belong to this model.json`,
      );
    }
    specs.push(...group.weights);
    buffers.push(...groupBuffers);
  }
  const weightData = concatBytes(buffers);
  return tf.io.getModelArtifactsForJSON(json, async () => [specs, weightData.buffer]);
}

/**
 * Loads a model saved by {@link saveModel} (or by any TensorFlow.js tool in the layers format) from a
 * directory, with plain `fs`. Quantised weights are dequantised to float32. A saved optimizer state is
 * restored too when the model was saved compiled.
 *
 * @throws FashionMnistError `BAD_MODEL` for a missing or corrupt `model.json`, a missing shard, shard sizes
 * that do not match the manifest, or a topology TensorFlow.js cannot build.
 * @example
 * ```ts
 * import { loadModel } from 'fashion-mnist-tfjs/node';
 * const model = await loadModel('out/my-cnn');
 * ```
 */
export async function loadModel(dir: string): Promise<tfl.LayersModel> {
  const artifacts = await readArtifacts(dir, 'loadModel');
  try {
    const model = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
    // tfjs-layers compiles a loaded model with an optimizer it deserialised for this model alone, but marks it
    // as not owned, so model.dispose() would leak the optimizer's variables; it is this model's, so own it.
    if (model.optimizer) (model as unknown as { isOptimizerOwned: boolean }).isOptimizerOwned = true;
    return model;
  } catch (e) {
    throw badModel(
      resolve(dir),
      `cannot build the model in ${resolve(dir)}: ${(e as Error).message}`,
      e,
      'loadModel',
    );
  }
}

/**
 * Whether `dir` looks like a saved model (has a `model.json`); does not validate it.
 *
 * @example
 * ```ts
 * if (await hasModel('checkpoints/last')) model = await loadModel('checkpoints/last');
 * ```
 */
export async function hasModel(dir: string): Promise<boolean> {
  try {
    return (await stat(join(resolve(dir), MODEL_JSON))).isFile();
  } catch {
    return false;
  }
}
