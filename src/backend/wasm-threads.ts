// Starts tfjs-backend-wasm 4.x's multithreaded build (XNNPACK on a pthreadpool) in Node, where the
// package itself never does. Three things stand in its way, each worked around for the duration of
// the backend's initialisation only:
//
// 1. The flag WASM_HAS_MULTITHREAD_SUPPORT is hard-wired to false when IS_NODE: it is set to true.
// 2. Emscripten's pthread workers are started from blob: URLs (the worker script, and the main
//    script the worker then imports), which Node's worker_threads refuse (ERR_WORKER_PATH). The
//    Blob constructor and URL.createObjectURL are wrapped so that those two scripts are written to
//    a temporary directory and the workers get file paths. The main script is the factory's source
//    text, which refers to the CommonJS bundle's module aliases (require$$0 = fs, …): a prelude
//    defines them in the worker.
// 3. The thread count is capped at os.cpus().length / 2 (the C++ assumes two hyperthreads per
//    core), i.e. 1 on a 2-vCPU machine: os.cpus is widened while the module initialises.
//
// The workers are unref'd afterwards so that they do not keep the process alive.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { FashionMnistError } from '../errors.js';
import { checkNumber, mergeOptions } from '../internal/validate.js';

/**
 * Options of {@link startWasmWithThreads}.
 * @example
 * ```ts
 * await startWasmWithThreads({ threads: 2 });
 * ```
 */
export interface WasmThreadsOptions {
  /** Threads in XNNPACK's pool, the calling thread included (1..8; default: the CPU count, at most 8). */
  threads?: number;
}

/**
 * Defaults of {@link startWasmWithThreads}.
 * @example
 * ```ts
 * console.log(WASM_THREADS_DEFAULTS.threads); // the CPU count, at most 8
 * ```
 */
export const WASM_THREADS_DEFAULTS: Readonly<Required<WasmThreadsOptions>> = Object.freeze({
  threads: Math.min(8, Math.max(1, os.availableParallelism?.() ?? os.cpus().length)),
});

// The CommonJS bundle of tfjs-backend-wasm 4.x (its "main", used by Node for import and require)
// passes these modules to the factory under rollup's names.
const PRELUDE =
  "var require$$0 = require('fs'), require$$1 = require('path'), require$$2 = require('worker_threads'), " +
  "require$$3 = require('perf_hooks'), require$$4 = require('os'), commonjsGlobal = globalThis;\n";

interface PThreadLike {
  unusedWorkers: { unref?: () => void }[];
  runningWorkers: { unref?: () => void }[];
}
interface ThreadedWasmBackend {
  wasm: { tfjs: { getThreadsCount(): number }; PThread?: PThreadLike };
}

/**
 * Initialises the wasm backend with its multithreaded build in Node and makes it the active
 * backend; returns the number of threads XNNPACK uses. Must run before anything else starts the
 * wasm backend (`setBackend('wasm')`, `tf.ready()` with wasm registered first); import
 * `@tensorflow/tfjs-backend-wasm` before calling it. Node only. The temporary worker scripts are
 * removed when the process exits.
 *
 * @throws Error when the wasm backend is already running or does not start threaded.
 * @example
 * ```ts
 * import '@tensorflow/tfjs-backend-wasm';
 * import { startWasmWithThreads } from 'fashion-mnist-tfjs/experimental-wasm-threads';
 * import { installWasmTrainingKernels } from 'fashion-mnist-tfjs/wasm-training';
 *
 * installWasmTrainingKernels();
 * const threads = await startWasmWithThreads({ threads: 2 });
 * ```
 */
export async function startWasmWithThreads(options?: WasmThreadsOptions): Promise<number> {
  const where = 'startWasmWithThreads';
  const o = mergeOptions<Required<WasmThreadsOptions>>(where, WASM_THREADS_DEFAULTS, options);
  const threads = checkNumber(where, 'threads', o.threads, { integer: true, min: 1, max: 8 });
  if (tf.findBackendFactory('wasm') == null) {
    throw new FashionMnistError(
      'NO_BACKEND',
      `${where}: the wasm backend is not registered; import '@tensorflow/tfjs-backend-wasm' first`,
    );
  }
  if (tf.engine().registry.wasm != null) {
    throw new FashionMnistError(
      'UNSUPPORTED',
      `${where}: the wasm backend is already initialised (single-threaded); call this before anything starts it`,
    );
  }

  const dir = mkdtempSync(join(os.tmpdir(), 'fashion-mnist-wasm-threads-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const mainPath = join(dir, 'main.js');
  const RealBlob = globalThis.Blob;
  const realCreateObjectURL = URL.createObjectURL;
  const realCpus = os.cpus;
  const texts = new WeakMap<Blob, string>();
  class CapturingBlob extends RealBlob {
    constructor(parts?: BlobPart[], opts?: BlobPropertyBag) {
      super(parts, opts);
      if (parts?.every((p) => typeof p === 'string')) {
        const text = (parts as string[]).join('');
        texts.set(this, text);
        if (text.startsWith('var WasmBackendModuleThreadedSimd')) writeFileSync(mainPath, PRELUDE + text);
      }
    }
  }
  let workers = 0;
  const flag = tf.env().getFlags().WASM_HAS_MULTITHREAD_SUPPORT;
  try {
    globalThis.Blob = CapturingBlob;
    URL.createObjectURL = (obj: Blob) => {
      const text = texts.get(obj);
      if (text == null) return realCreateObjectURL(obj);
      const path = join(dir, `worker-${workers++}.js`);
      // In the worker the main script arrives as a Blob it cannot read synchronously: point it at the file.
      const shim = `URL.createObjectURL = () => ${JSON.stringify(mainPath)}; URL.revokeObjectURL = () => {};\n`;
      writeFileSync(path, shim + text);
      return path;
    };
    const fakeCpus = Array.from({ length: 2 * threads }, () => realCpus()[0]);
    (os as { cpus: () => os.CpuInfo[] }).cpus = () => fakeCpus;
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    if (!(await tf.setBackend('wasm')))
      throw new FashionMnistError('NO_BACKEND', `${where}: the threaded wasm backend failed to initialise`);
    await tf.ready();
  } finally {
    globalThis.Blob = RealBlob;
    URL.createObjectURL = realCreateObjectURL;
    (os as { cpus: () => os.CpuInfo[] }).cpus = realCpus;
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', flag ?? false);
  }
  const backend = tf.backend() as unknown as ThreadedWasmBackend;
  const pthread = backend.wasm.PThread;
  if (pthread == null) {
    throw new FashionMnistError('UNSUPPORTED', `${where}: the wasm backend started without threads`);
  }
  for (const w of [...pthread.unusedWorkers, ...pthread.runningWorkers]) w.unref?.();
  return backend.wasm.tfjs.getThreadsCount();
}
