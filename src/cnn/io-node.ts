// Save and load layers models in Node with plain `fs`, so users need no @tensorflow/tfjs-node (whose install
// downloads a native library). The files are the standard TensorFlow.js layers format, so a browser can load
// the same directory over HTTP with `tf.loadLayersModel(url)` or this library's universal `loadPretrained({ url })`.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { registerRandomErasing } from '../augment/random-erasing-layer.js';
import { FashionMnistError } from '../errors.js';
import { requireBackend } from '../internal/backend.js';
import { concatBytes } from '../internal/bytes.js';
import {
  badOption,
  checkBoolean,
  checkNumber,
  checkOneOf,
  mergeOptions,
  show,
} from '../internal/validate.js';
import { registerSeededDropout } from './dropout.js';
import { buildModel, checkTimeout, DEFAULT_TIMEOUT_MS, type LoadedArtifacts } from './io.js';
import {
  checkGroupBytes,
  checkModelJson,
  MAX_MODEL_JSON_BYTES,
  quantizeWeights,
  specByteLength,
  type WeightQuantization,
} from './weights.js';

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
 * Leftovers of a save that was killed (`.<name>.tmp-<pid>-<hex>`, `.<name>.old-<pid>-<hex>` beside the model
 * folder) are removed by the next successful save of the same folder when their owner process is no longer
 * running on this machine, or when they are older than this (one hour: no save takes that long, and a process
 * id can be reused).
 */
const STALE_AFTER_MS = 60 * 60 * 1000;

const LEFTOVER = /^(tmp|old)-(\d+)-[0-9a-f]{8}$/;

function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, but belongs to someone else
  }
}

/** Removes stale leftovers of interrupted saves of `target` (see {@link STALE_AFTER_MS}); best effort. */
async function removeStaleLeftovers(target: string): Promise<void> {
  const parent = dirname(target);
  const prefix = `.${basename(target)}.`;
  let entries: string[];
  try {
    entries = await readdir(parent);
  } catch {
    return;
  }
  for (const name of entries) {
    const m = name.startsWith(prefix) ? LEFTOVER.exec(name.slice(prefix.length)) : null;
    if (!m) continue;
    const path = join(parent, name);
    try {
      const st = await lstat(path);
      if (!st.isDirectory()) continue;
      if (!processRunning(Number(m[2])) || Date.now() - st.mtimeMs > STALE_AFTER_MS) {
        await rm(path, { recursive: true, force: true });
      }
    } catch {
      // gone meanwhile, or not ours to remove: leave it
    }
  }
}

function checkDir(where: string, dir: unknown): string {
  if (typeof dir !== 'string' || dir === '') {
    throw badOption(`${where}: dir must be a non-empty string path, received ${show(dir)}`);
  }
  return dir;
}

/**
 * Saves a `tf.LayersModel` into `dir` as `model.json` plus weight shards, the standard TensorFlow.js layers
 * format, using plain `fs` (no tfjs-node). The directory is written under a temporary name next to `dir`,
 * flushed to disk and then renamed into place, so a crash mid-save never leaves `dir` holding a half-written
 * model: `dir` either has the old complete model, the new complete model, or (for an instant between two renames
 * when replacing) does not exist, the old one then waiting beside it as `.<name>.old-…`. An existing `dir` is
 * replaced only if it is empty or holds a `model.json`. Leftovers of earlier saves that were killed
 * (`.<name>.tmp-…`, `.<name>.old-…`) are removed after a successful save when their process is gone or they are
 * over an hour old.
 *
 * @throws FashionMnistError `BAD_OPTION` for a bad option or `dir`; `BAD_MODEL` when `dir` exists and is not a
 * model directory; `NO_BACKEND` when no TensorFlow.js backend is ready.
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
  checkDir(where, dir);
  const quantize = checkOneOf(where, 'quantize', o.quantize, ['none', 'float16', 'uint16', 'uint8'] as const);
  const shardBytes = checkNumber(where, 'shardBytes', o.shardBytes, { integer: true, min: 1 });
  const includeOptimizer = checkBoolean(where, 'includeOptimizer', o.includeOptimizer);
  if (
    o.metadata !== undefined &&
    (typeof o.metadata !== 'object' || o.metadata === null || Array.isArray(o.metadata))
  ) {
    throw badOption(`${where}: option 'metadata' must be a plain object, received ${show(o.metadata)}`);
  }
  requireBackend(where);
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
  // The optimizer is always asked for: that is the public way to get the training config, which is kept
  // always (so that a loaded model comes back compiled, with its loss, metrics, optimizer and rate); the
  // optimizer's weights, which come after the model's, are dropped unless includeOptimizer.
  tf.engine().startScope();
  try {
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
      }),
      { includeOptimizer: model.optimizer != null },
    );
  } finally {
    tf.engine().endScope();
  }
  if (!artifacts?.weightSpecs || artifacts.weightData === undefined) {
    throw new FashionMnistError('BAD_MODEL', `${where}: the model produced no weights to save`);
  }
  let specs = artifacts.weightSpecs;
  let data = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  if (!includeOptimizer) {
    specs = specs.filter((s) => s.group !== 'optimizer');
    data = data.slice(
      0,
      specs.reduce((n, s) => n + specByteLength(s), 0),
    );
  }
  const encoded = quantizeWeights(specs, data, quantize);
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
  if (artifacts.trainingConfig) modelJson.trainingConfig = artifacts.trainingConfig;
  const metadata = o.metadata ?? artifacts.userDefinedMetadata;
  if (metadata) modelJson.userDefinedMetadata = metadata as Record<string, object>;

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
  // Only now: until the new model is in place, an `.old-…` left by a killed save may be the only copy.
  await removeStaleLeftovers(target);
  return { dir: target, files: [MODEL_JSON, ...paths], weightBytes: bytes.length };
}

/** Runs `read` with an abort signal that fires after `timeoutMs`; the abort becomes `TIMEOUT`. */
async function withTimeout<T>(
  timeoutMs: number,
  where: string,
  path: string,
  read: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await read(controller.signal);
  } catch (e) {
    if (controller.signal.aborted) {
      throw new FashionMnistError(
        'TIMEOUT',
        `${where}: reading ${path} took longer than ${timeoutMs} ms; retry, or raise the option timeoutMs`,
        { path, cause: e },
      );
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** A file-system error as a FashionMnistError: a missing file is `BAD_MODEL`, anything else `IO_ERROR`. */
function fsError(e: unknown, where: string, path: string, missing: string): FashionMnistError {
  if (e instanceof FashionMnistError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new FashionMnistError('BAD_MODEL', `${where}: ${missing}`, { path, cause: e });
  }
  return new FashionMnistError(
    'IO_ERROR',
    `${where}: cannot read ${path} (${code ?? (e as Error).message}); check that it is a readable file`,
    { path, cause: e },
  );
}

/** Where a killed save left the previous model of `root`, if it did (to say so when `root` is missing). */
function interruptedSaveHint(root: string): string {
  try {
    const prefix = `.${basename(root)}.old-`;
    const found = readdirSync(dirname(root)).find(
      (n) => n.startsWith(prefix) && existsSync(join(dirname(root), n, MODEL_JSON)),
    );
    return found
      ? `; a save into it was interrupted and the previous model is in ${join(dirname(root), found)} ` +
          `(rename that folder to ${basename(root)} to use it)`
      : '';
  } catch {
    return '';
  }
}

/**
 * Reads and checks the `model.json` at `jsonPath` and the weight files it names, with the manifest rules every
 * loader applies (see `checkModelJson`): the sizes are checked before each file is read (so a huge or
 * special file in a shard's place is never read), every file must be a regular file, and each read is
 * abandoned after `timeoutMs`.
 */
async function readModelFiles(jsonPath: string, where: string, timeoutMs: number): Promise<LoadedArtifacts> {
  const root = dirname(jsonPath);
  const st = await stat(jsonPath).catch((e) => {
    throw fsError(e, where, root, `no ${basename(jsonPath)} in ${root}${interruptedSaveHint(root)}`);
  });
  if (!st.isFile()) {
    throw new FashionMnistError('BAD_MODEL', `${where}: ${jsonPath} is not a regular file`, { path: root });
  }
  if (st.size > MAX_MODEL_JSON_BYTES) {
    throw new FashionMnistError(
      'TOO_LARGE',
      `${where}: ${jsonPath} has ${st.size} bytes; a model.json may have at most ${MAX_MODEL_JSON_BYTES}`,
      { path: root },
    );
  }
  const text = await withTimeout(timeoutMs, where, jsonPath, (signal) =>
    readFile(jsonPath, { encoding: 'utf8', signal }),
  ).catch((e) => {
    throw fsError(e, where, jsonPath, `no ${basename(jsonPath)} in ${root}`);
  });
  const checked = checkModelJson(text, where, jsonPath);
  const parts: Uint8Array[] = [];
  for (const [g, group] of checked.groups.entries()) {
    let received = 0;
    const tooMany = (n: number) =>
      new FashionMnistError(
        'BAD_MODEL',
        `${where}: weight files of group ${g + 1} (${group.paths.join(', ')}) hold ${n} bytes, more than the ` +
          `${group.bytes} the manifest's weights need; they do not belong to this model.json`,
        { path: root },
      );
    for (const p of group.paths) {
      const path = join(root, p);
      const missing = `weight file ${p} listed in ${basename(jsonPath)} is missing from ${root}`;
      const info = await stat(path).catch((e) => {
        throw fsError(e, where, path, missing);
      });
      if (!info.isFile()) {
        throw new FashionMnistError('BAD_MODEL', `${where}: weight file ${path} is not a regular file`, {
          path: root,
        });
      }
      if (received + info.size > group.bytes) throw tooMany(received + info.size);
      const buf = await withTimeout(timeoutMs, where, path, (signal) => readFile(path, { signal })).catch(
        (e) => {
          throw fsError(e, where, path, missing);
        },
      );
      received += buf.length;
      if (received > group.bytes) throw tooMany(received); // it grew since stat
      parts.push(buf);
    }
    checkGroupBytes(where, g, group, received, root);
  }
  return { checked, weightData: concatBytes(parts) };
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
export async function readModelArtifacts(dir: string): Promise<tf.io.ModelArtifacts> {
  const where = 'readModelArtifacts';
  checkDir(where, dir);
  const { checked, weightData } = await readModelFiles(
    join(resolve(dir), MODEL_JSON),
    where,
    DEFAULT_TIMEOUT_MS,
  );
  return tf.io.getModelArtifactsForJSON(checked.json, async () => [
    checked.specs,
    weightData.buffer as ArrayBuffer,
  ]);
}

/**
 * Options of {@link loadModel}.
 *
 * @example
 * ```ts
 * const options: LoadModelOptions = { timeoutMs: 10_000 };
 * ```
 */
export interface LoadModelOptions {
  /**
   * Milliseconds each file (`model.json`, each weight file) may take to read: an integer from 1 to 2^31 − 1
   * (default 60 000).
   */
  timeoutMs?: number;
}

const LOAD_DEFAULTS: Readonly<LoadModelOptions> = Object.freeze({ timeoutMs: DEFAULT_TIMEOUT_MS });

/**
 * Loads the model whose `model.json` is `jsonPath`; for {@link loadModel} and the Node `loadPretrained`, after
 * their checks of options and backend.
 */
export async function loadModelFile(
  jsonPath: string,
  where: string,
  timeoutMs: number,
): Promise<tfl.LayersModel> {
  registerRandomErasing();
  // Dropout layers come back as SeededDropout (the same layer under the same class name), so that trainCnn can
  // seed their masks and a resumed run replays an uninterrupted one.
  registerSeededDropout();
  const artifacts = await readModelFiles(jsonPath, where, timeoutMs);
  return buildModel(artifacts, where, dirname(jsonPath));
}

/**
 * Loads a model saved by {@link saveModel} (or by any TensorFlow.js tool in the layers format) from a
 * directory, with plain `fs`. Quantised weights are dequantised to float32. A saved optimizer state is
 * restored too when the model was saved compiled. Registers the `RandomErasing` layer itself, so a bundle
 * that imports only this function loads models that contain it. Nothing is left in memory when it fails.
 *
 * Limits: `model.json` at most 32 MiB, weights at most 1 GiB, weight files named in the manifest must be plain
 * file names inside the directory holding exactly the bytes their weights need, each file read within
 * `timeoutMs`.
 *
 * @throws FashionMnistError `BAD_MODEL` for a missing or corrupt `model.json`, a missing shard, shard sizes
 * that do not match the manifest, paths outside the directory, or a topology TensorFlow.js cannot build;
 * `TOO_LARGE` beyond the limits; `IO_ERROR` when the file system refuses a read; `TIMEOUT`; `BAD_OPTION`;
 * `NO_BACKEND` when no TensorFlow.js backend is ready.
 * @example
 * ```ts
 * import { loadModel } from 'fashion-mnist-tfjs/node';
 * const model = await loadModel('out/my-cnn');
 * ```
 */
export async function loadModel(dir: string, options?: LoadModelOptions): Promise<tfl.LayersModel> {
  const where = 'loadModel';
  const o = mergeOptions(where, LOAD_DEFAULTS, options);
  checkDir(where, dir);
  const timeoutMs = checkTimeout(where, o.timeoutMs);
  requireBackend(where);
  return loadModelFile(join(resolve(dir), MODEL_JSON), where, timeoutMs);
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
