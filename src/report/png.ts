// Node-only PNG files: encoding with zlib's deflate (through the one PNG encoder in png-encode.ts), decoding with
// pngjs, writing to disk. Exported from src/node.ts, never from a universal entry; the HTML report and the SVG
// pictures use the same encoder with uncompressed blocks instead.

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { deflateSync } from 'node:zlib';
import pngjs from 'pngjs';
import { FashionMnistError } from '../errors.js';
import { badOption, checkNumber, mergeOptions, show } from '../internal/validate.js';
import type { RasterImage } from './image-grid.js';
import { encodePngWith } from './png-encode.js';

/**
 * The largest image, in pixels (width × height), that {@link decodePng} and the CLI's JPEG reader decode:
 * 50 megapixels (e.g. 8660 × 5773). A PNG's size is read from its header before anything is inflated, so a
 * small file that claims a huge image (a "PNG bomb") is refused at once, with `TOO_LARGE`.
 */
export const MAX_IMAGE_PIXELS = 50_000_000;

/**
 * Encodes a gray, RGB or RGBA {@link RasterImage} as PNG bytes (8 bits per sample, same colour type,
 * deflate-compressed).
 *
 * @throws FashionMnistError `BAD_OPTION` for a malformed raster, `BAD_SHAPE` when `data` has the wrong length.
 * @example
 * ```ts
 * const bytes = encodePng(composeImageGrid(images, { columns: 8, scale: 3 }));
 * ```
 */
export function encodePng(image: RasterImage): Uint8Array {
  return encodePngWith('encodePng', image, (raw) => {
    const z = deflateSync(raw);
    return new Uint8Array(z.buffer, z.byteOffset, z.byteLength);
  });
}

/** Options of {@link decodePng}. */
export interface DecodePngOptions {
  /** Largest width × height accepted: an integer >= 1 (default 50,000,000, i.e. 50 megapixels). */
  maxPixels?: number;
}

const DECODE_DEFAULTS: Readonly<DecodePngOptions> = Object.freeze({ maxPixels: MAX_IMAGE_PIXELS });

/** Width and height from a PNG's IHDR chunk, or null when the bytes do not start like a PNG. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } | null {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 24 || sig.some((b, i) => bytes[i] !== b)) return null;
  // Bytes 12..15 name the first chunk, which must be IHDR; width and height follow as big-endian uint32.
  if (String.fromCharCode(bytes[12], bytes[13], bytes[14], bytes[15]) !== 'IHDR') return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** The TOO_LARGE error for an image of `width × height` above `max` pixels; `name` is the file, for messages. */
export function imageTooLarge(name: string, width: number, height: number, max: number): FashionMnistError {
  return new FashionMnistError(
    'TOO_LARGE',
    `${name}: the image is ${width}×${height} (${((width * height) / 1e6).toFixed(1)} megapixels), more than ` +
      `the ${(max / 1e6).toFixed(0)} megapixels allowed; scale it down first (Fashion-MNIST images are 28×28)`,
  );
}

/**
 * Decodes PNG bytes into an RGBA {@link RasterImage} (any PNG pngjs reads; 16-bit samples are scaled
 * to 8 bits). The size is checked from the header before decoding.
 *
 * @throws FashionMnistError `TOO_LARGE` for more than `maxPixels` pixels, `BAD_INPUT` for bytes that are not a
 * readable PNG, `BAD_OPTION` for bad arguments.
 * @example
 * ```ts
 * const { width, height, data } = decodePng(await readFile('grid.png'));
 * ```
 */
export function decodePng(bytes: Uint8Array, options?: DecodePngOptions): RasterImage {
  if (!(bytes instanceof Uint8Array)) {
    throw badOption(`decodePng: bytes must be a Uint8Array, received ${show(bytes)}`);
  }
  const o = mergeOptions('decodePng', DECODE_DEFAULTS, options);
  const max = checkNumber('decodePng', 'maxPixels', o.maxPixels, { integer: true, min: 1 });
  const size = pngSize(bytes);
  if (size !== null && size.width * size.height > max) {
    throw imageTooLarge('decodePng', size.width, size.height, max);
  }
  let png: pngjs.PNG;
  try {
    png = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (cause) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `decodePng: not a readable PNG (${(cause as Error).message ?? cause})`,
      { cause },
    );
  }
  return {
    data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength),
    width: png.width,
    height: png.height,
    channels: 4,
  };
}

/**
 * Encodes a {@link RasterImage} as PNG and writes it to `path`, creating missing directories.
 *
 * @throws FashionMnistError `IO_ERROR` when the file cannot be written (the cause has the system error).
 * @example
 * ```ts
 * await writePng('docs/images/random-erasing.png', composeImageGrid(cells, { columns: 10, scale: 3 }));
 * ```
 */
export async function writePng(path: string, image: RasterImage): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) {
    throw badOption(`writePng: path must be a non-empty string, received ${show(path)}`);
  }
  const bytes = encodePng(image);
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new FashionMnistError('IO_ERROR', `writePng: cannot write ${path} (${code})`, { path, cause });
  }
}
