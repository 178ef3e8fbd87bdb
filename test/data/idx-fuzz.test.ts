// A seeded fuzz test of the IDX parser (issue 11, "done when"): a few thousand inputs built from valid files by
// mutating header and data bytes, truncating, appending, drawing dtypes and dimensions at random, wrapping in
// gzip and damaging the gzip. Every call must either return a consistent array or throw a FashionMnistError with
// a parser code; nothing else may escape, and nothing may hang.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeIdx, type IdxArray, type IdxDtype, parseIdx } from '../../src/data/idx.js';
import { FashionMnistError } from '../../src/errors.js';
import { mulberry32 } from '../helpers/rng.js';

const CASES = 3000;
const DTYPES: Record<IdxDtype, { size: number; make: (n: number) => IdxArray['data'] }> = {
  uint8: { size: 1, make: (n) => new Uint8Array(n) },
  int8: { size: 1, make: (n) => new Int8Array(n) },
  int16: { size: 2, make: (n) => new Int16Array(n) },
  int32: { size: 4, make: (n) => new Int32Array(n) },
  float32: { size: 4, make: (n) => new Float32Array(n) },
  float64: { size: 8, make: (n) => new Float64Array(n) },
};
const PARSER_CODES = new Set(['BAD_MAGIC', 'BAD_DTYPE', 'BAD_SHAPE', 'BAD_GZIP', 'TOO_LARGE']);

describe('IDX parser fuzz (seeded)', () => {
  it(`${CASES} hostile inputs: a consistent array or a typed error, every time`, async () => {
    const rand = mulberry32(0x1d8f);
    const int = (n: number) => Math.floor(rand() * n);
    const outcomes = new Map<string, number>();
    const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);

    for (let i = 0; i < CASES; i++) {
      const dtypes = Object.keys(DTYPES) as IdxDtype[];
      const dtype = dtypes[int(dtypes.length)];
      const shape = Array.from({ length: int(5) }, () => int(6));
      const n = shape.reduce((a, b) => a * b, 1);
      const data = DTYPES[dtype].make(n);
      for (let j = 0; j < n; j++) data[j] = int(256) - (dtype === 'uint8' ? 0 : 128);
      const valid = encodeIdx({ dtype, shape, data });
      let bytes = new Uint8Array(valid);
      const mutation = int(9);
      const header = 4 + 4 * shape.length;
      switch (mutation) {
        case 0: // unchanged
          break;
        case 1: // flip data or header bytes anywhere
          for (let k = 1 + int(4); k > 0 && bytes.length > 0; k--) bytes[int(bytes.length)] ^= 1 + int(255);
          break;
        case 2: // flip header bytes
          for (let k = 1 + int(3); k > 0; k--) bytes[int(header)] ^= 1 + int(255);
          break;
        case 3: // truncate
          bytes = bytes.subarray(0, int(bytes.length));
          break;
        case 4: // append
          bytes = new Uint8Array([...bytes, ...Array.from({ length: 1 + int(16) }, () => int(256))]);
          break;
        case 5: // any dtype byte
          bytes[2] = int(256);
          break;
        case 6: // any rank byte
          bytes[3] = int(256);
          break;
        case 7: // any dimension, up to 2^32 − 1
          if (shape.length > 0) new DataView(bytes.buffer).setUint32(4 + 4 * int(shape.length), int(2 ** 32));
          break;
        default: // noise, sometimes with a plausible magic
          bytes = Uint8Array.from({ length: int(80) }, () => int(256));
          if (rand() < 0.5 && bytes.length >= 2) bytes.set([0, 0]);
      }
      let input = bytes;
      const gzipped = rand() < 0.3;
      if (gzipped) {
        input = new Uint8Array(gzipSync(bytes));
        if (rand() < 0.3) {
          if (rand() < 0.5) input = input.subarray(0, 2 + int(input.length - 2));
          else input[2 + int(input.length - 2)] ^= 1 + int(255);
        }
      }
      const maxBytes = rand() < 0.2 ? int(200) : undefined;
      const limitBefore = maxBytes ?? Number.POSITIVE_INFINITY;

      let result: IdxArray | undefined;
      try {
        result = await parseIdx(input, { name: `case-${i}`, maxBytes });
      } catch (e) {
        if (!(e instanceof FashionMnistError) || !PARSER_CODES.has(e.code)) {
          throw new Error(`case ${i} (mutation ${mutation}, gzip ${gzipped}): escaped ${String(e)}`, {
            cause: e,
          });
        }
        expect(e.path).toBe(`case-${i}`);
        count(e.code);
        continue;
      }
      // A result must be self-consistent and within the limit.
      const elements = result.shape.reduce((a, b) => a * b, 1);
      expect(result.data.length, `case ${i}`).toBe(elements);
      expect(4 + 4 * result.shape.length + elements * DTYPES[result.dtype].size).toBeLessThanOrEqual(
        limitBefore,
      );
      if (mutation === 0 && maxBytes === undefined) {
        expect(result.dtype).toBe(dtype);
        expect(result.shape).toEqual(shape);
        expect(Array.from(result.data)).toEqual(Array.from(data));
      }
      count('ok');
    }
    // The generator must reach every outcome, or the test proves little.
    for (const k of ['ok', ...PARSER_CODES])
      expect(outcomes.get(k) ?? 0, `${k} never reached`).toBeGreaterThan(10);
  });
});
