// Reads a PNG or JPEG file into RGBA pixels, recognising the format by its bytes (not the file name), so that a
// mislabelled or damaged file gets a message that says what is wrong with it. Sizes are checked before
// decoding: the file's bytes, and the pixels its header declares (a small file can claim a huge image).
import { readFile, stat } from 'node:fs/promises';
import jpeg from 'jpeg-js';
import type { RgbaImage } from '../data/image.js';
import { FashionMnistError } from '../errors.js';
import { decodePng, imageTooLarge, MAX_IMAGE_PIXELS, pngSize } from '../report/png.js';
import { ioError, isErrnoError } from './paths.js';

/** The largest image file `predict` reads: 64 MiB. */
export const MAX_IMAGE_FILE_BYTES = 64 * 1024 * 1024;

/** The format of an image file judged by its first bytes, or null when it is neither PNG nor JPEG. */
export function sniffImage(bytes: Uint8Array): 'png' | 'jpeg' | null {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47)
    return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

/** Width and height from a JPEG's start-of-frame segment, or null when none is found in the bytes. */
export function jpegSize(bytes: Uint8Array): { width: number; height: number } | null {
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC): precision, then height and width.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: (bytes[i + 5] << 8) | bytes[i + 6], width: (bytes[i + 7] << 8) | bytes[i + 8] };
    }
    if (marker === 0xda || length < 2) return null; // image data before any frame header
    i += 2 + length;
  }
  return null;
}

/** Decodes PNG or JPEG bytes to RGBA; `name` is used in messages. */
export function decodeImage(bytes: Uint8Array, name: string): RgbaImage {
  const kind = sniffImage(bytes);
  if (kind === null) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new FashionMnistError(
      'BAD_INPUT',
      `${name}: not a PNG or JPEG image (it starts with [${head || 'nothing: the file is empty'}]). ` +
        'Convert it to PNG or JPEG first.',
      { path: name },
    );
  }
  const size = kind === 'png' ? pngSize(bytes) : jpegSize(bytes);
  if (size !== null && size.width * size.height > MAX_IMAGE_PIXELS) {
    const e = imageTooLarge(name, size.width, size.height, MAX_IMAGE_PIXELS);
    throw new FashionMnistError(e.code, e.message, { path: name });
  }
  try {
    if (kind === 'png') {
      const { data, width, height } = decodePng(bytes);
      return { data, width, height };
    }
    const img = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
      maxMemoryUsageInMB: 1024,
    });
    return { data: img.data, width: img.width, height: img.height };
  } catch (cause) {
    if (cause instanceof FashionMnistError && cause.code === 'TOO_LARGE') throw cause;
    throw new FashionMnistError(
      'BAD_INPUT',
      `${name}: damaged or unsupported ${kind.toUpperCase()} file (${String((cause as Error).message ?? cause)})`,
      { path: name, cause },
    );
  }
}

/**
 * Reads and decodes an image file: a regular file of at most {@link MAX_IMAGE_FILE_BYTES}, PNG or JPEG, of at
 * most `MAX_IMAGE_PIXELS` pixels.
 *
 * @throws FashionMnistError `NOT_FOUND` (no such file), `IO_ERROR` (a directory, a device, no permission),
 * `TOO_LARGE`, `BAD_INPUT` (not an image, damaged).
 */
export async function readImageFile(path: string): Promise<RgbaImage> {
  let bytes: Uint8Array;
  try {
    // stat before opening: opening a FIFO would block until something writes to it.
    const st = await stat(path);
    if (st.isDirectory()) {
      throw new FashionMnistError('IO_ERROR', `${path}: is a directory, not an image file`, { path });
    }
    // A FIFO or a device would block or never end.
    if (!st.isFile()) {
      throw new FashionMnistError('IO_ERROR', `${path}: not a regular file`, { path });
    }
    if (st.size > MAX_IMAGE_FILE_BYTES) {
      throw new FashionMnistError(
        'TOO_LARGE',
        `${path}: ${st.size} bytes, more than the ${MAX_IMAGE_FILE_BYTES / 1024 / 1024} MiB an image file may have`,
        { path },
      );
    }
    bytes = await readFile(path);
  } catch (cause) {
    if (cause instanceof FashionMnistError) throw cause;
    if (isErrnoError(cause) && cause.code === 'ENOENT') {
      throw new FashionMnistError('NOT_FOUND', `${path}: no such file`, { path, cause });
    }
    if (isErrnoError(cause)) throw ioError(cause, `cannot read ${path}`, path);
    throw cause;
  }
  return decodeImage(bytes, path);
}
