import { FashionMnistError } from '../errors.js';
import type { DatasetFile, DatasetSpec } from './catalog.js';
import { gunzip, isGzip, parseIdxBytes, sha256Hex } from './idx.js';
import { type Split, splitFromIdx } from './split.js';

/**
 * Where a loaded data set came from.
 * @example
 * ```ts
 * const { source } = await loadFashionMnist();
 * if (source.kind === 'sample') console.warn('running on the embedded sample');
 * ```
 */
export interface DataSource {
  /**
   * `url`: fetched from a base URL; `dir`: an explicit directory; `env`: `FASHION_MNIST_DIR`; `cache`: the
   * user cache; `debian`: Debian's `dataset-fashion-mnist`; `download`: downloaded now into the cache;
   * `sample`: the small sample shipped in the package.
   */
  kind: 'url' | 'dir' | 'env' | 'cache' | 'debian' | 'download' | 'sample';
  /** The URL or directory. */
  location: string;
}

/**
 * A loaded data set: both splits and where they came from.
 * @example
 * ```ts
 * const data: FashionMnist = await loadFashionMnist({ fallbackToSample: true });
 * console.log(data.train.count, data.test.count, data.isSample ? '(sample)' : '');
 * ```
 */
export interface FashionMnist {
  train: Split;
  test: Split;
  source: DataSource;
  /** True for the embedded sample: results on it are not comparable with published figures. */
  isSample: boolean;
}

/**
 * Progress of a load, reported per file and phase.
 * @example
 * ```ts
 * await loadFashionMnist({
 *   onProgress: (p: LoadProgress) => console.log(`${p.phase} ${p.file} ${p.loaded}/${p.total ?? '?'} (${p.filesDone}/${p.files})`),
 * });
 * ```
 */
export interface LoadProgress {
  /** `read` / `download`: bytes arriving; `verify`: checksum; `done`: a file is ready. */
  phase: 'read' | 'download' | 'verify' | 'done';
  /** File name from the catalogue. */
  file: string;
  /** Bytes handled so far in this phase. */
  loaded: number;
  /** Total bytes in this phase, when known. */
  total?: number;
  /** Files finished so far, out of `files`. */
  filesDone: number;
  /** Files to load in all. */
  files: number;
}

/**
 * Called with progress while loading; it should return quickly.
 * @example
 * ```ts
 * const log: ProgressCallback = (p) => { if (p.phase === 'done') console.log(`${p.file} ready`); };
 * await loadFashionMnist({ onProgress: log });
 * ```
 */
export type ProgressCallback = (progress: LoadProgress) => void;

/** How the shared assembly step gets and checks bytes; platform entries supply faster parts. */
export interface AssembleParts {
  /** Bytes of one catalogue file (compressed or raw); `report` forwards read/download progress. */
  read(file: DatasetFile, report: (loaded: number, total?: number) => void): Promise<Uint8Array>;
  /** Inflates gzip bytes; defaults to `DecompressionStream`. */
  inflate?: (bytes: Uint8Array, name: string) => Promise<Uint8Array> | Uint8Array;
  /** SHA-256 hex; defaults to Web Crypto. */
  sha256?: (bytes: Uint8Array) => Promise<string> | string;
  /** Skip checksum verification (not recommended: the default verifies every file). */
  verify?: boolean;
  onProgress?: ProgressCallback;
  /** Describes a file's location in messages (path or URL). */
  describe(file: DatasetFile): string;
}

/** Inflates (when gzip) and checks one file's content against the catalogue. */
export async function verifiedContent(
  file: DatasetFile,
  bytes: Uint8Array,
  where: string,
  parts: Pick<AssembleParts, 'inflate' | 'sha256' | 'verify'>,
): Promise<Uint8Array> {
  const raw = isGzip(bytes) ? await (parts.inflate ?? gunzip)(bytes, where) : bytes;
  if (parts.verify !== false) {
    const actual = await (parts.sha256 ?? sha256Hex)(raw);
    if (actual !== file.sha256) {
      throw new FashionMnistError(
        'CHECKSUM_MISMATCH',
        `${where}: SHA-256 of the decompressed content is ${actual}, expected ${file.sha256} (${file.name}, ` +
          `${file.bytes} bytes decompressed; this copy has ${raw.length}). The file is damaged or is not this data set.`,
        { path: where },
      );
    }
  }
  return raw;
}

/** Reads, verifies and decodes the four files of `spec` into a {@link FashionMnist}. */
export async function assemble(
  spec: DatasetSpec,
  parts: AssembleParts,
  source: DataSource,
  isSample: boolean,
): Promise<FashionMnist> {
  const files = spec.files.length;
  let filesDone = 0;
  const decoded = new Map<string, ReturnType<typeof parseIdxBytes>>();
  for (const file of spec.files) {
    const where = parts.describe(file);
    const bytes = await parts.read(file, (loaded, total) =>
      parts.onProgress?.({
        phase: source.kind === 'download' ? 'download' : 'read',
        file: file.name,
        loaded,
        total,
        filesDone,
        files,
      }),
    );
    parts.onProgress?.({
      phase: 'verify',
      file: file.name,
      loaded: 0,
      total: bytes.length,
      filesDone,
      files,
    });
    const raw = await verifiedContent(file, bytes, where, parts);
    const idx = parseIdxBytes(raw, where);
    if (idx.shape[0] !== file.count) {
      throw new FashionMnistError(
        'COUNT_MISMATCH',
        `${where}: holds ${idx.shape[0]} items, the catalogue says ${file.count}`,
        { path: where },
      );
    }
    decoded.set(`${file.split}:${file.role}`, idx);
    filesDone++;
    parts.onProgress?.({
      phase: 'done',
      file: file.name,
      loaded: raw.length,
      total: raw.length,
      filesDone,
      files,
    });
  }
  const split = (name: 'train' | 'test'): Split => {
    const images = decoded.get(`${name}:images`);
    const labels = decoded.get(`${name}:labels`);
    if (!images || !labels)
      throw new FashionMnistError('NOT_FOUND', `${spec.id}: the catalogue has no ${name} files`);
    return splitFromIdx(images, labels, `${spec.id} ${name}`);
  };
  return { train: split('train'), test: split('test'), source, isSample };
}
