/**
 * Machine-readable reasons for a {@link FashionMnistError}.
 *
 * - `BAD_MAGIC`: the bytes do not start with an IDX magic number.
 * - `BAD_DTYPE`: the IDX header names a data type the format does not define.
 * - `BAD_SHAPE`: the header's dimensions do not match the number of bytes, or arrays of the wrong rank or type.
 * - `BAD_GZIP`: gzip data that is truncated or corrupt.
 * - `CHECKSUM_MISMATCH`: decompressed content whose SHA-256 differs from the catalogue.
 * - `COUNT_MISMATCH`: image and label files of different lengths, or wrong image size.
 * - `NOT_FOUND`: no source had the data (the message lists where it looked).
 * - `DOWNLOAD_FAILED`: every mirror failed.
 * - `BAD_MODEL`: a saved model directory that is missing files or damaged.
 * - `BAD_INPUT`: data given to an estimator that it cannot use (NaN, wrong size, …).
 * - `NOT_FITTED`: an estimator used before `fit`.
 * @example
 * ```ts
 * try {
 *   await loadFashionMnist({ dir: 'downloads' });
 * } catch (e) {
 *   if (e instanceof FashionMnistError && e.code === 'CHECKSUM_MISMATCH') console.error('damaged file:', e.path);
 * }
 * ```
 */
export type FashionMnistErrorCode =
  | 'BAD_MAGIC'
  | 'BAD_DTYPE'
  | 'BAD_SHAPE'
  | 'BAD_GZIP'
  | 'CHECKSUM_MISMATCH'
  | 'COUNT_MISMATCH'
  | 'NOT_FOUND'
  | 'DOWNLOAD_FAILED'
  | 'BAD_MODEL'
  | 'BAD_INPUT'
  | 'NOT_FITTED';

/**
 * The one error class for problems with data, files and models. Option mistakes are
 * reported as `TypeError` / `RangeError` instead, like the platform does.
 *
 * @example
 * ```ts
 * try {
 *   await loadFashionMnist({ dir: '/nowhere' });
 * } catch (e) {
 *   if (e instanceof FashionMnistError && e.code === 'NOT_FOUND') console.error(e.message);
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
