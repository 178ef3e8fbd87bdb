// Reads a PNG or JPEG file into RGBA pixels, recognising the format by its bytes (not the file name), so that a
// mislabelled or damaged file gets a message that says what is wrong with it.
import { readFile } from 'node:fs/promises';
import jpeg from 'jpeg-js';
import { FashionMnistError } from '../errors.js';
import { decodePng } from '../report/png.js';
import type { RgbaImage } from '../report/preprocess.js';

/** The format of an image file judged by its first bytes, or null when it is neither PNG nor JPEG. */
export function sniffImage(bytes: Uint8Array): 'png' | 'jpeg' | null {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47)
    return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
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
  try {
    if (kind === 'png') {
      const { data, width, height } = decodePng(bytes);
      return { data, width, height };
    }
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
    return { data: img.data, width: img.width, height: img.height };
  } catch (cause) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `${name}: damaged or unsupported ${kind.toUpperCase()} file (${String((cause as Error).message ?? cause)})`,
      { path: name, cause },
    );
  }
}

/** Reads and decodes an image file. */
export async function readImageFile(path: string): Promise<RgbaImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new FashionMnistError(
      'NOT_FOUND',
      code === 'ENOENT'
        ? `${path}: no such file`
        : code === 'EISDIR'
          ? `${path}: is a directory, not an image file`
          : `${path}: cannot read (${code ?? String(cause)})`,
      { path, cause },
    );
  }
  return decodeImage(bytes, path);
}
