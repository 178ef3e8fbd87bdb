// Datasets as data: the loader walks these tables instead of hard-coding file names.

/**
 * One IDX file of a dataset: where it is named, what it holds and how to verify it.
 * @example
 * ```ts
 * const labels = FASHION_MNIST.files.find((f) => f.split === 'test' && f.role === 'labels');
 * console.log(labels?.name, labels?.count); // 't10k-labels-idx1-ubyte.gz' 10000
 * ```
 */
export interface DatasetFile {
  /** Which array of the split this file fills. */
  readonly role: 'images' | 'labels';
  /** Which split it belongs to. */
  readonly split: 'train' | 'test';
  /** File name on the mirrors (gzip-compressed). */
  readonly name: string;
  /** SHA-256 of the *decompressed* IDX content (gzip headers differ between copies; content does not). */
  readonly sha256: string;
  /** Length of the decompressed content in bytes. */
  readonly bytes: number;
  /** Number of items (images or labels) the file holds. */
  readonly count: number;
}

/**
 * A dataset as a table of files plus the places it can be downloaded from.
 * @example
 * ```ts
 * // MNIST is laid out the same way: describe its files and load it with the same loader.
 * const MNIST: DatasetSpec = { id: 'mnist', mirrors: ['https://example.org/mnist/'], files: fourDatasetFileRows };
 * const mnist = await loadFashionMnist({ dataset: MNIST });
 * ```
 */
export interface DatasetSpec {
  /** Short identifier, used in messages and cache paths. */
  readonly id: string;
  /** Base URLs that serve every file of {@link DatasetSpec.files} by name, tried in order. */
  readonly mirrors: readonly string[];
  /** The four IDX files. */
  readonly files: readonly DatasetFile[];
  /**
   * `[height, width]` of every image, when known: files whose images have another shape are refused with
   * `BAD_SHAPE` even when checksums are not verified. Whatever it says, both splits must have the same shape.
   */
  readonly imageShape?: readonly [number, number];
}

/**
 * Largest file accepted for a catalogue entry, in bytes, compressed or not, and the most its gzip data may
 * inflate to: its decompressed size plus 1 % plus 64 KiB. Gzip never grows data by more than a few bytes per
 * 64 KiB block plus its header, so a real copy always fits; a body, a file or an inflation beyond it stops at
 * once with `TOO_LARGE`, so memory stays bounded. (A copy just a little too long reaches the checksum and is
 * reported as `CHECKSUM_MISMATCH`.)
 */
export function fileSizeLimit(file: DatasetFile): number {
  return file.bytes + Math.ceil(file.bytes / 100) + 65_536;
}

/**
 * The complete, official Fashion-MNIST (60,000 training and 10,000 test images).
 * Checksums were computed from Debian's `dataset-fashion-mnist` and agree with the decompressed MD5s
 * published by Zalando Research.
 *
 * @example
 * ```ts
 * for (const f of FASHION_MNIST.files) console.log(f.name, f.sha256);
 * ```
 */
export const FASHION_MNIST: DatasetSpec = Object.freeze({
  id: 'fashion-mnist',
  imageShape: Object.freeze([28, 28]) as readonly [number, number],
  mirrors: Object.freeze([
    'https://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
    'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/',
  ]),
  files: Object.freeze([
    {
      role: 'images',
      split: 'train',
      name: 'train-images-idx3-ubyte.gz',
      sha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
      bytes: 47040016,
      count: 60000,
    },
    {
      role: 'labels',
      split: 'train',
      name: 'train-labels-idx1-ubyte.gz',
      sha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
      bytes: 60008,
      count: 60000,
    },
    {
      role: 'images',
      split: 'test',
      name: 't10k-images-idx3-ubyte.gz',
      sha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
      bytes: 7840016,
      count: 10000,
    },
    {
      role: 'labels',
      split: 'test',
      name: 't10k-labels-idx1-ubyte.gz',
      sha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
      bytes: 10008,
      count: 10000,
    },
  ] as const satisfies readonly DatasetFile[]),
});

/**
 * The ten class names, indexed by label.
 *
 * @example
 * ```ts
 * CLASS_NAMES[9]; // 'Ankle boot'
 * ```
 */
export const CLASS_NAMES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

/**
 * Number of classes in Fashion-MNIST.
 * @example
 * ```ts
 * const ys = tf.oneHot(labels, NUM_CLASSES);
 * ```
 */
export const NUM_CLASSES = 10;
/**
 * Image height and width in pixels.
 * @example
 * ```ts
 * const pixels = new Uint8Array(IMAGE_SIZE * IMAGE_SIZE); // one 28×28 image
 * ```
 */
export const IMAGE_SIZE = 28;
