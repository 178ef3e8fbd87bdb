import { FashionMnistError } from '../errors.js';
import { type DatasetFile, type DatasetSpec, fileSizeLimit } from './catalog.js';
import { decodeOwned, gunzip, type IdxArray, isGzip, sha256Hex } from './idx.js';
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
  /**
   * What happened, when it is worth telling: e.g. that a damaged cached copy was moved aside and is being
   * downloaded again. Absent on ordinary progress.
   */
  note?: string;
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
  /** Inflates gzip bytes, failing with TOO_LARGE past `maxBytes`; defaults to `DecompressionStream`. */
  inflate?: (bytes: Uint8Array, name: string, maxBytes: number) => Promise<Uint8Array> | Uint8Array;
  /** SHA-256 hex; defaults to Web Crypto. */
  sha256?: (bytes: Uint8Array) => Promise<string> | string;
  /** Skip checksum verification (not recommended: the default verifies every file). */
  verify?: boolean;
  onProgress?: ProgressCallback;
  /** Describes a file's location in messages (path or URL). */
  describe(file: DatasetFile): string;
}

/**
 * Inflates (when gzip) and checks one file's content against the catalogue. Sizes are bounded by the catalogue:
 * the stored bytes and the inflated bytes by {@link fileSizeLimit} (TOO_LARGE past it; inflating stops there).
 */
export async function verifiedContent(
  file: DatasetFile,
  bytes: Uint8Array,
  where: string,
  parts: Pick<AssembleParts, 'inflate' | 'sha256' | 'verify'>,
): Promise<Uint8Array> {
  const limit = fileSizeLimit(file);
  if (bytes.length > limit) {
    throw new FashionMnistError(
      'TOO_LARGE',
      `${where}: ${bytes.length} bytes, more than the ${limit} allowed for ${file.name} (${file.bytes} bytes ` +
        `decompressed); the file is not this data set's`,
      { path: where },
    );
  }
  const raw = isGzip(bytes) ? await (parts.inflate ?? gunzip)(bytes, where, limit) : bytes;
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

/**
 * Decodes one file's verified content (which the caller gives up: uint8 data may be a view on it) and checks it
 * against the catalogue: rank, element type, item count and, when the catalogue knows it, the image shape.
 */
export function decodeContent(
  spec: DatasetSpec,
  file: DatasetFile,
  raw: Uint8Array,
  where: string,
): IdxArray {
  const idx = decodeOwned(raw, where, Number.POSITIVE_INFINITY, true);
  const rank = file.role === 'images' ? 3 : 1;
  if (idx.dtype !== 'uint8' || idx.shape.length !== rank) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `${where}: ${file.role} must be uint8 ${file.role === 'images' ? '[N, height, width]' : '[N]'}, received ` +
        `${idx.dtype} [${idx.shape.join(', ')}]`,
      { path: where },
    );
  }
  if (idx.shape[0] !== file.count) {
    throw new FashionMnistError(
      'COUNT_MISMATCH',
      `${where}: holds ${idx.shape[0]} items, the catalogue says ${file.count}`,
      { path: where },
    );
  }
  const want = spec.imageShape;
  if (file.role === 'images' && want && (idx.shape[1] !== want[0] || idx.shape[2] !== want[1])) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `${where}: images of ${idx.shape[1]}×${idx.shape[2]} pixels, but ${spec.id} has ${want[0]}×${want[1]}; the ` +
        `file is damaged or not this data set's`,
      { path: where },
    );
  }
  return idx;
}

/** Reads, verifies and decodes one catalogue file, reporting progress. */
export async function loadFile(
  spec: DatasetSpec,
  file: DatasetFile,
  parts: AssembleParts,
  phase: 'read' | 'download',
  filesDone: number,
): Promise<IdxArray> {
  const files = spec.files.length;
  const where = parts.describe(file);
  const bytes = await parts.read(file, (loaded, total) =>
    parts.onProgress?.({ phase, file: file.name, loaded, total, filesDone, files }),
  );
  parts.onProgress?.({ phase: 'verify', file: file.name, loaded: 0, total: bytes.length, filesDone, files });
  const raw = await verifiedContent(file, bytes, where, parts);
  const idx = decodeContent(spec, file, raw, where);
  parts.onProgress?.({
    phase: 'done',
    file: file.name,
    loaded: raw.length,
    total: raw.length,
    filesDone: filesDone + 1,
    files,
  });
  return idx;
}

/** Builds both splits from the decoded files, checking that they belong together. */
export function buildDataset(
  spec: DatasetSpec,
  decoded: ReadonlyMap<DatasetFile, IdxArray>,
  source: DataSource,
  isSample: boolean,
): FashionMnist {
  const split = (name: 'train' | 'test'): Split => {
    const find = (role: DatasetFile['role']) => {
      const file = spec.files.find((f) => f.split === name && f.role === role);
      const idx = file && decoded.get(file);
      if (!idx) {
        throw new FashionMnistError('NOT_FOUND', `${spec.id}: the catalogue has no ${name} ${role} file`);
      }
      return idx;
    };
    return splitFromIdx(find('images'), find('labels'), `${spec.id} ${name}`);
  };
  const train = split('train');
  const test = split('test');
  if (train.height !== test.height || train.width !== test.width) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `${spec.id}: test images are ${test.height}×${test.width} but training images are ${train.height}×` +
        `${train.width}; both splits must have the same image size (the files do not belong together)`,
    );
  }
  return { train, test, source, isSample };
}

/** Reads, verifies and decodes the files of `spec` into a {@link FashionMnist}. */
export async function assemble(
  spec: DatasetSpec,
  parts: AssembleParts,
  source: DataSource,
  isSample: boolean,
): Promise<FashionMnist> {
  const decoded = new Map<DatasetFile, IdxArray>();
  const phase = source.kind === 'download' ? 'download' : 'read';
  for (const file of spec.files) decoded.set(file, await loadFile(spec, file, parts, phase, decoded.size));
  return buildDataset(spec, decoded, source, isSample);
}
