// PNG encoding round trips through pngjs's decoder for gray, RGB and RGBA rasters.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RasterImage } from '../../src/report/image-grid.js';
import { decodePng, encodePng, writePng } from '../../src/report/png.js';

function toRgba(image: RasterImage): number[] {
  const out: number[] = [];
  for (let i = 0; i < image.width * image.height; i++) {
    const px = Array.from(image.data.subarray(i * image.channels, (i + 1) * image.channels));
    if (image.channels === 1) out.push(px[0]!, px[0]!, px[0]!, 255);
    else if (image.channels === 3) out.push(...px, 255);
    else out.push(...px);
  }
  return out;
}

describe('encodePng / decodePng / writePng', () => {
  it.each([1, 3, 4] as const)('round-trips a %s-channel raster', (channels) => {
    const width = 7;
    const height = 5;
    const data = Uint8Array.from({ length: width * height * channels }, (_, i) => (i * 37) % 256);
    const image: RasterImage = { data, width, height, channels };
    const bytes = encodePng(image);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    expect(bytes[25]).toBe({ 1: 0, 3: 2, 4: 6 }[channels]); // IHDR colour type
    const back = decodePng(bytes);
    expect([back.width, back.height]).toEqual([width, height]);
    expect(Array.from(back.data)).toEqual(toRgba(image));
  });

  it('writes a file, creating directories', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'png-'));
    try {
      const image: RasterImage = { data: new Uint8Array([0, 255, 0]), width: 1, height: 1, channels: 3 };
      const path = join(dir, 'a', 'b.png');
      await writePng(path, image);
      expect(Array.from(decodePng(await readFile(path)).data)).toEqual([0, 255, 0, 255]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects malformed rasters', () => {
    expect(() => encodePng({ data: new Uint8Array(5), width: 2, height: 1, channels: 3 })).toThrow(
      /needs 6 bytes/,
    );
    expect(() => encodePng({ data: new Uint8Array(4), width: 2, height: 1, channels: 2 as 3 })).toThrow(
      expect.objectContaining({ code: 'BAD_OPTION' }),
    );
    expect(() =>
      encodePng({ data: [1, 2, 3] as unknown as Uint8Array, width: 1, height: 1, channels: 3 }),
    ).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => decodePng('png' as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ code: 'BAD_OPTION' }),
    );
    expect(() => decodePng(new Uint8Array([1, 2, 3]))).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT' }),
    );
  });
});
