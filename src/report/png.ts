// Node-only PNG encoding (pngjs needs zlib and Buffer): export from src/node.ts, never from the
// universal entry. Browsers can draw a RasterImage onto a canvas with ImageData instead.

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import pngjs from 'pngjs';
import { FashionMnistError } from '../errors.js';
import { show } from '../internal/validate.js';
import type { RasterImage } from './image-grid.js';

// PNG colour types for 8-bit gray, RGB and RGBA, the three layouts a RasterImage can have.
const COLOR_TYPE = { 1: 0, 3: 2, 4: 6 } as const;

function checkRaster(where: string, image: RasterImage): void {
  if (image === null || typeof image !== 'object' || !(image.data instanceof Uint8Array)) {
    throw new TypeError(
      `${where}: image must be { data: Uint8Array, width, height, channels }, received ${show(image)}`,
    );
  }
  const { width, height, channels } = image;
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    throw new RangeError(
      `${where}: width and height must be integers >= 1, received ${show(width)}×${show(height)}`,
    );
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new RangeError(`${where}: channels must be 1, 3 or 4, received ${show(channels)}`);
  }
  if (image.data.length !== width * height * channels) {
    throw new RangeError(
      `${where}: a ${width}×${height}×${channels} image needs ${width * height * channels} bytes, received ${image.data.length}`,
    );
  }
}

/**
 * Encodes a gray, RGB or RGBA {@link RasterImage} as PNG bytes (8 bits per sample, same colour type).
 *
 * @example
 * ```ts
 * const bytes = encodePng(composeImageGrid(images, { columns: 8, scale: 3 }));
 * ```
 */
export function encodePng(image: RasterImage): Uint8Array {
  checkRaster('encodePng', image);
  const colorType = COLOR_TYPE[image.channels];
  const data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  const png = { width: image.width, height: image.height, data } as unknown as pngjs.PNG;
  const out = pngjs.PNG.sync.write(png, {
    colorType,
    inputColorType: colorType,
    inputHasAlpha: image.channels === 4,
    bitDepth: 8,
  });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Decodes PNG bytes into an RGBA {@link RasterImage} (any PNG pngjs reads; 16-bit samples are scaled
 * to 8 bits). Mostly for tests and for comparing pictures.
 *
 * @example
 * ```ts
 * const { width, height, data } = decodePng(await readFile('grid.png'));
 * ```
 */
export function decodePng(bytes: Uint8Array): RasterImage {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`decodePng: bytes must be a Uint8Array, received ${show(bytes)}`);
  }
  let png: pngjs.PNG;
  try {
    png = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (cause) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `decodePng: not a readable PNG (${(cause as Error).message ?? cause})`,
      {
        cause,
      },
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
 * @example
 * ```ts
 * await writePng('docs/images/random-erasing.png', composeImageGrid(cells, { columns: 10, scale: 3 }));
 * ```
 */
export async function writePng(path: string, image: RasterImage): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`writePng: path must be a non-empty string, received ${show(path)}`);
  }
  const bytes = encodePng(image);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
}
