// The one PNG encoder (universal: no zlib, no Buffer, no canvas). It writes the PNG layout itself (signature,
// IHDR, IDAT, IEND, CRCs, filter bytes) and hands the filtered rows to a `deflate` step that returns a zlib
// stream. The default step stores the bytes in uncompressed deflate blocks, which every decoder reads and which
// costs nothing for the tiny images of the HTML report and the SVG grids; Node's `encodePng` (png.ts) passes
// zlib's `deflateSync` instead, for files on disk. One layout, two ways to squeeze it.
import { FashionMnistError } from '../errors.js';
import { badOption, show } from '../internal/validate.js';
import type { RasterImage } from './image-grid.js';

/** PNG colour types for 8-bit gray, RGB and RGBA, the three layouts a RasterImage can have. */
const COLOR_TYPE = { 1: 0, 3: 2, 4: 6 } as const;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  // 5552 is the largest run for which the sums cannot overflow before the modulo (zlib's NMAX).
  for (let start = 0; start < bytes.length; start += 5552) {
    const end = Math.min(bytes.length, start + 5552);
    for (let i = start; i < end; i++) {
      a += bytes[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** A zlib stream of `raw` in stored (uncompressed) deflate blocks of at most 65,535 bytes. */
export function storedZlib(raw: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(raw.length / 65535));
  const out = new Uint8Array(2 + raw.length + 5 * blocks + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  let at = 2;
  for (let b = 0; b < blocks; b++) {
    const start = b * 65535;
    const len = Math.min(65535, raw.length - start);
    out[at++] = b === blocks - 1 ? 1 : 0;
    out[at++] = len & 0xff;
    out[at++] = len >>> 8;
    out[at++] = ~len & 0xff;
    out[at++] = (~len >>> 8) & 0xff;
    out.set(raw.subarray(start, start + len), at);
    at += len;
  }
  new DataView(out.buffer).setUint32(at, adler32(raw));
  return out;
}

/** Checks that `image` is a well-formed {@link RasterImage}; BAD_OPTION / BAD_SHAPE otherwise. */
export function checkRaster(where: string, image: RasterImage): void {
  if (image === null || typeof image !== 'object' || !(image.data instanceof Uint8Array)) {
    throw badOption(
      `${where}: image must be { data: Uint8Array, width, height, channels }, received ${show(image)}`,
    );
  }
  const { width, height, channels } = image;
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    throw badOption(
      `${where}: width and height must be integers >= 1, received ${show(width)}×${show(height)}`,
    );
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw badOption(`${where}: channels must be 1, 3 or 4, received ${show(channels)}`);
  }
  if (image.data.length !== width * height * channels) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `${where}: a ${width}×${height}×${channels} image needs ${width * height * channels} bytes, received ${image.data.length}`,
    );
  }
}

/**
 * Encodes a gray, RGB or RGBA {@link RasterImage} as PNG bytes (8 bits per sample, same colour type, filter
 * 0 on every row). `deflate` turns the filtered rows into a zlib stream (default: stored blocks, no
 * compression).
 */
export function encodePngWith(
  where: string,
  image: RasterImage,
  deflate: (raw: Uint8Array) => Uint8Array = storedZlib,
): Uint8Array {
  checkRaster(where, image);
  const { width, height, channels } = image;
  const stride = width * channels;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++)
    raw.set(image.data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const chunk = (type: string, data: Uint8Array): Uint8Array => {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
    out.set(data, 8);
    view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  const hv = new DataView(ihdr.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = COLOR_TYPE[channels];
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflate(raw)),
    chunk('IEND', new Uint8Array(0)),
  ];
  const png = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    png.set(p, o);
    o += p.length;
  }
  return png;
}

/**
 * Base64 of bytes, for data URIs; works in browsers and Node without `Buffer`.
 *
 * @example
 * ```ts
 * bytesToBase64(new Uint8Array([104, 105])); // 'aGk='
 * ```
 */
export function bytesToBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** A `data:image/png;base64,…` URI of 8-bit grayscale pixels (uncompressed PNG), for HTML and SVG. */
export function grayPngDataUri(where: string, pixels: Uint8Array, width: number, height: number): string {
  const png = encodePngWith(where, { data: pixels, width, height, channels: 1 });
  return `data:image/png;base64,${bytesToBase64(png)}`;
}
