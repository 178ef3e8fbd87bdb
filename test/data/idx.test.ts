import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  encodeIdx,
  type IdxDtype,
  isGzip,
  PARSE_IDX_MAX_BYTES,
  parseIdx,
  parseIdxBytes,
  sha256Hex,
} from '../../src/data/idx.js';
import { FashionMnistError } from '../../src/errors.js';

const samples: Record<IdxDtype, number[]> = {
  uint8: [0, 1, 127, 255, 3, 9],
  int8: [-128, -1, 0, 1, 127, 5],
  int16: [-32768, -2, 0, 300, 32767, 7],
  int32: [-2147483648, -70000, 0, 70000, 2147483647, 11],
  float32: [-1.5, 0, 0.25, 3.5e10, -7.125, 1],
  float64: [-1e300, Math.PI, 0, 1e-300, 2 ** 60, -0.5],
};

async function expectCode(p: Promise<unknown> | (() => unknown), code: string) {
  try {
    if (typeof p === 'function') p();
    else await p;
  } catch (e) {
    expect(e).toBeInstanceOf(FashionMnistError);
    expect((e as FashionMnistError).code).toBe(code);
    return e as FashionMnistError;
  }
  throw new Error(`expected a FashionMnistError ${code}`);
}

describe('IDX round trip', () => {
  for (const dtype of Object.keys(samples) as IdxDtype[]) {
    for (const shape of [[6], [2, 3], [1, 2, 3], [3, 1, 2, 1]]) {
      it(`${dtype} rank ${shape.length}, raw and gzip`, async () => {
        const Ctor = {
          uint8: Uint8Array,
          int8: Int8Array,
          int16: Int16Array,
          int32: Int32Array,
          float32: Float32Array,
          float64: Float64Array,
        }[dtype];
        const data = Ctor.from(samples[dtype]);
        const bytes = encodeIdx({ dtype, shape, data });
        expect(bytes[2]).toBe({ uint8: 8, int8: 9, int16: 11, int32: 12, float32: 13, float64: 14 }[dtype]);
        expect(bytes[3]).toBe(shape.length);
        for (const input of [bytes, new Uint8Array(gzipSync(bytes))]) {
          const out = await parseIdx(input, 'x');
          expect(out.dtype).toBe(dtype);
          expect(out.shape).toEqual(shape);
          expect(out.data).toBeInstanceOf(Ctor);
          expect(Array.from(out.data)).toEqual(Array.from(data));
        }
      });
    }
  }

  it('reads big-endian values as the format defines', () => {
    const bytes = new Uint8Array([0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe]);
    expect(Array.from(parseIdxBytes(bytes).data)).toEqual([258, -2]);
  });

  it('handles rank 0 (a scalar) and empty arrays', async () => {
    expect((await parseIdx(new Uint8Array([0, 0, 8, 0, 42]))).data[0]).toBe(42);
    const empty = encodeIdx({ dtype: 'uint8', shape: [0, 28, 28], data: new Uint8Array(0) });
    expect((await parseIdx(empty)).shape).toEqual([0, 28, 28]);
  });

  it('detects gzip by magic bytes', () => {
    expect(isGzip(new Uint8Array(gzipSync(new Uint8Array([1]))))).toBe(true);
    expect(isGzip(new Uint8Array([0, 0, 8, 1]))).toBe(false);
  });
});

describe('IDX bad input', () => {
  it('wrong magic names the bytes', async () => {
    const e = await expectCode(parseIdx(new TextEncoder().encode('<html>'), 'page.html'), 'BAD_MAGIC');
    expect(e.message).toContain('page.html');
    expect(e.message).toContain('3c 68 74 6d');
  });
  it('too short for a magic number', async () => {
    await expectCode(parseIdx(new Uint8Array([0]), 'x'), 'BAD_MAGIC');
  });
  it('unknown dtype lists the known ones', async () => {
    const e = await expectCode(parseIdx(new Uint8Array([0, 0, 0x0a, 1, 0, 0, 0, 0])), 'BAD_DTYPE');
    expect(e.message).toContain('0x0a');
    expect(e.message).toContain('0x08 (uint8)');
  });
  it('header dimensions that do not match the byte length', async () => {
    const good = encodeIdx({ dtype: 'int16', shape: [2, 2], data: new Int16Array(4) });
    const e = await expectCode(parseIdx(good.subarray(0, good.length - 1), 'cut.idx'), 'BAD_SHAPE');
    expect(e.message).toMatch(/int16\[2, 2\] = 20 bytes .* 19 bytes/);
    await expectCode(parseIdx(new Uint8Array([...good, 0])), 'BAD_SHAPE');
  });
  it('a header cut inside its dimensions', async () => {
    await expectCode(parseIdx(new Uint8Array([0, 0, 8, 3, 0, 0, 0, 1])), 'BAD_SHAPE');
  });
  it('truncated gzip', async () => {
    const gz = new Uint8Array(
      gzipSync(encodeIdx({ dtype: 'uint8', shape: [1000], data: new Uint8Array(1000).fill(7) })),
    );
    const e = await expectCode(parseIdx(gz.subarray(0, gz.length - 10), 'a.gz'), 'BAD_GZIP');
    expect(e.message).toContain('a.gz');
  });
  it('corrupt gzip', async () => {
    const gz = new Uint8Array(
      gzipSync(encodeIdx({ dtype: 'uint8', shape: [64], data: new Uint8Array(64).fill(1) })),
    );
    gz[12] ^= 0xff;
    gz[13] ^= 0xff;
    await expectCode(parseIdx(gz, 'b.gz'), 'BAD_GZIP');
  });
  it('encodeIdx rejects data that does not fill the shape', () => {
    expect(() => encodeIdx({ dtype: 'uint8', shape: [2, 2], data: new Uint8Array(3) })).toThrow(
      expect.objectContaining({ code: 'BAD_SHAPE' }),
    );
    expect(() => encodeIdx({ dtype: 'uint8', shape: [-1], data: new Uint8Array(0) })).toThrow(
      expect.objectContaining({ code: 'BAD_SHAPE' }),
    );
    expect(() => encodeIdx({ dtype: 'uint9' as IdxDtype, shape: [1], data: new Uint8Array(1) })).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT' }),
    );
  });
});

describe('parseIdx limits and options', () => {
  const bytes = encodeIdx({ dtype: 'int16', shape: [10], data: new Int16Array(10) }); // 28 bytes
  it('maxBytes refuses a larger file, raw or gzip, with TOO_LARGE', async () => {
    expect((await parseIdx(bytes, { maxBytes: 28 })).shape).toEqual([10]);
    await expectCode(parseIdx(bytes, { maxBytes: 27, name: 'a.idx' }), 'TOO_LARGE');
    const e = await expectCode(
      parseIdx(new Uint8Array(gzipSync(bytes)), { maxBytes: 27, name: 'a.gz' }),
      'TOO_LARGE',
    );
    expect(e.path).toBe('a.gz');
    expect(e.message).toContain("'maxBytes'");
  });
  it('the default limit is PARSE_IDX_MAX_BYTES (256 MiB): a header declaring more is refused before inflating', async () => {
    expect(PARSE_IDX_MAX_BYTES).toBe(256 * 1024 * 1024);
    const header = new Uint8Array([0, 0, 8, 1, 0x10, 0, 0, 1]); // uint8 [2^28 + 1]
    await expectCode(parseIdx(new Uint8Array(gzipSync(header)), 'big.gz'), 'TOO_LARGE');
  });
  it('gzip data that goes on past what its header declares is BAD_SHAPE', async () => {
    await expectCode(
      parseIdx(new Uint8Array(gzipSync(new Uint8Array([...bytes, 0]))), 'long.gz'),
      'BAD_SHAPE',
    );
  });
  it('bad options and input are typed', async () => {
    await expectCode(parseIdx(bytes, { maxBytes: -1 }), 'BAD_OPTION');
    await expectCode(parseIdx(bytes, { maxbytes: 5 } as never), 'BAD_OPTION');
    await expectCode(parseIdx([0, 0, 8, 0] as never), 'BAD_INPUT');
  });
});

describe('sha256Hex', () => {
  it('matches the standard test vector', async () => {
    expect(await sha256Hex(new TextEncoder().encode('abc'))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});

describe('decoded data is a plain copy', () => {
  it('even from a Node Buffer, whose slice() would be a view', async () => {
    const bytes = Buffer.from(encodeIdx({ dtype: 'uint8', shape: [3], data: Uint8Array.from([1, 2, 3]) }));
    const out = parseIdxBytes(bytes);
    expect(Buffer.isBuffer(out.data)).toBe(false);
    out.data[0] = 99;
    expect(bytes[8]).toBe(1);
  });
});
