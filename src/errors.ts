/**
 * Why a {@link FashionMnistError} was thrown. Codes are stable across versions (messages are not); each one
 * comes with what to do about it in {@link ERROR_CODES} and in `docs/reliability.md`.
 */
export type FashionMnistErrorCode =
  | 'BAD_OPTION'
  | 'BAD_INPUT'
  | 'BAD_SHAPE'
  | 'COUNT_MISMATCH'
  | 'BAD_LABEL'
  | 'NOT_FITTED'
  | 'DISPOSED'
  | 'NO_BACKEND'
  | 'BAD_MAGIC'
  | 'BAD_DTYPE'
  | 'BAD_GZIP'
  | 'CHECKSUM_MISMATCH'
  | 'TOO_LARGE'
  | 'NOT_FOUND'
  | 'IO_ERROR'
  | 'DOWNLOAD_FAILED'
  | 'TIMEOUT'
  | 'BAD_MODEL'
  | 'BAD_FILE'
  | 'ABORTED'
  | 'WORKER_FAILED'
  | 'UNSUPPORTED';

/**
 * The code table: for every {@link FashionMnistErrorCode}, what it means and what to do. The CLI prints the
 * advice under the message; `docs/reliability.md` shows the same table.
 */
export const ERROR_CODES: Readonly<
  Record<FashionMnistErrorCode, { readonly meaning: string; readonly todo: string }>
> = Object.freeze({
  BAD_OPTION: {
    meaning: 'an option has the wrong type, is out of range, or is unknown (a typo)',
    todo: 'fix the option named in the message; the message lists what is allowed',
  },
  BAD_INPUT: {
    meaning: 'data given to a function cannot be used (NaN, wrong type, empty where rows are needed, …)',
    todo: 'check the array or tensor you passed; the message says what was received',
  },
  BAD_SHAPE: {
    meaning:
      'an array or tensor has the wrong rank, size or element type, or an IDX header disagrees with its bytes',
    todo: 'reshape the input to what the message asks for (e.g. [n, 28, 28] or [n, 784])',
  },
  COUNT_MISMATCH: {
    meaning: 'two inputs that must have one entry each per example have different lengths',
    todo: 'pass as many labels as images (or predictions as labels)',
  },
  BAD_LABEL: {
    meaning: 'a label is not usable: not an integer class index, out of the allowed range, or not one-hot',
    todo: 'use integer class indices below the documented maximum, or map your labels first',
  },
  NOT_FITTED: {
    meaning: 'an estimator was used before fit',
    todo: 'call fit (or load a saved estimator) first',
  },
  DISPOSED: {
    meaning: 'an object was used after dispose()',
    todo: 'create a new one; a disposed object has released its memory',
  },
  NO_BACKEND: {
    meaning: 'a TensorFlow.js call needs a backend and none is ready',
    todo: "import a backend package (e.g. '@tensorflow/tfjs-backend-wasm') and await tf.setBackend(name)",
  },
  BAD_MAGIC: {
    meaning: 'the bytes do not start with an IDX magic number',
    todo: 'check that the file is an IDX (or gzipped IDX) file and was not replaced by an HTML error page',
  },
  BAD_DTYPE: {
    meaning: 'an IDX header names a data type the format does not define',
    todo: 'the file is damaged or not IDX; fetch it again',
  },
  BAD_GZIP: {
    meaning: 'gzip data that is truncated or corrupt',
    todo: 'the file is damaged; delete it (or let the loader fetch it again)',
  },
  CHECKSUM_MISMATCH: {
    meaning: 'decompressed content whose SHA-256 differs from the catalogue',
    todo: 'the file is damaged or a different release; fetch it again',
  },
  TOO_LARGE: {
    meaning: 'an input is larger than the expected or documented maximum size (bytes, pixels, classes)',
    todo: 'check the input; the limits are listed in docs/reliability.md and some can be raised by an option',
  },
  NOT_FOUND: {
    meaning: 'no source had the data or file (the message lists where it looked)',
    todo: 'install the data (apt-get install dataset-fashion-mnist), set FASHION_MNIST_DIR, or pass a path',
  },
  IO_ERROR: {
    meaning:
      'the file system refused a read or write (permissions, a directory in a file’s place, disk full, …)',
    todo: 'check the path in the message and its permissions; the cause has the system error code',
  },
  DOWNLOAD_FAILED: {
    meaning: 'every mirror failed',
    todo: 'check the network or pass a reachable URL; the message lists each mirror’s failure',
  },
  TIMEOUT: {
    meaning: 'an operation took longer than its time limit',
    todo: 'retry, or raise the timeout option named in the message',
  },
  BAD_MODEL: {
    meaning: 'a saved model is missing files, damaged, or unsafe (paths outside its folder, wrong sizes)',
    todo: 'save or download the model again',
  },
  BAD_FILE: {
    meaning: 'a saved file (e.g. a k-NN classifier) is truncated, damaged or of a foreign format or version',
    todo: 'save it again with this version of the library',
  },
  ABORTED: {
    meaning: 'work was stopped before it finished (dispose() during a search, an abort signal)',
    todo: 'nothing, if you stopped it; otherwise do not dispose while work is pending',
  },
  WORKER_FAILED: {
    meaning: 'a worker thread failed to start or crashed',
    todo: 'see the cause; this may be a bug to report',
  },
  UNSUPPORTED: {
    meaning: 'the request cannot be served in this environment (e.g. a file path in a browser)',
    todo: 'use the entry named in the message (e.g. fashion-mnist-tfjs/node)',
  },
});

/**
 * The one error class of the library: bad options, bad data, files, models, backends. Branch on `code`
 * (stable), not on the message. `path` names the file, URL or directory concerned, and `cause` carries the
 * underlying error (a system error, a tfjs error) when there is one.
 *
 * @example
 * ```ts
 * import { FashionMnistError } from 'fashion-mnist-tfjs';
 * import { loadFashionMnist } from 'fashion-mnist-tfjs/node';
 *
 * try {
 *   await loadFashionMnist({ dir: '/nowhere' });
 * } catch (e) {
 *   if (e instanceof FashionMnistError && e.code === 'NOT_FOUND') console.error(e.message);
 *   else throw e;
 * }
 * ```
 */
export class FashionMnistError extends Error {
  /** Why it failed; stable across versions, unlike the message. */
  readonly code: FashionMnistErrorCode;
  /** The file, URL or directory concerned, when there is one. */
  readonly path?: string;

  constructor(code: FashionMnistErrorCode, message: string, options?: { path?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FashionMnistError';
    this.code = code;
    if (options?.path !== undefined) this.path = options.path;
  }
}

/** True when `e` is a {@link FashionMnistError}, with the given code when one is passed. */
export function isFashionMnistError(e: unknown, code?: FashionMnistErrorCode): e is FashionMnistError {
  return e instanceof FashionMnistError && (code === undefined || e.code === code);
}
