// Gzip bombs for the size-limit tests, built fast: a gzip file may hold several members (RFC 1952 §2.2), so one
// small member that inflates to 1 MiB of zeros, repeated, gives a ~1 MB file that inflates to 1 GiB.
import { gzipSync } from 'node:zlib';
import { concatBytes } from '../../src/internal/bytes.js';

const MiB = 1024 * 1024;

/**
 * About `mib` MiB of inflated data in ~1 KB of gzip per MiB. `head` (e.g. a valid IDX header) is put in front of
 * the zeros of the first member.
 */
export function gzipBomb(mib: number, head: Uint8Array = new Uint8Array(0)): Uint8Array {
  const zeros = gzipSync(new Uint8Array(MiB), { level: 9 });
  const first = gzipSync(concatBytes([head, new Uint8Array(MiB - head.length)]), { level: 9 });
  return concatBytes([first, ...Array.from({ length: mib - 1 }, () => zeros)]);
}

/** The 16-byte IDX header of uint8 [n, 28, 28] images. */
export function imagesHeader(n: number): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, 0x0803);
  v.setUint32(4, n);
  v.setUint32(8, 28);
  v.setUint32(12, 28);
  return h;
}
