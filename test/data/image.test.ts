import { beforeAll, describe, expect, it } from 'vitest';
import { type RgbaImage, toFashionMnistImage } from '../../src/data/image.js';
import { loadSample } from '../../src/data/node.js';
import type { Split } from '../../src/data/split.js';
import { FashionMnistError } from '../../src/errors.js';
import { decodePng, encodePng } from '../../src/report/png.js';

const BAD_OPTION = expect.objectContaining({ name: 'FashionMnistError', code: 'BAD_OPTION' });

/** A gray image as RGBA, each pixel repeated `scale`×`scale` times, optionally negated. */
function toRgba(gray: Uint8Array, w: number, h: number, scale = 1, negate = false): RgbaImage {
  const W = w * scale;
  const H = h * scale;
  const data = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const v = gray[Math.floor(y / scale) * w + Math.floor(x / scale)];
      const o = (y * W + x) * 4;
      data[o] = data[o + 1] = data[o + 2] = negate ? 255 - v : v;
      data[o + 3] = 255;
    }
  return { data, width: W, height: H };
}

function bbox(pixels: Uint8Array, size: number, threshold = 0) {
  let left = size;
  let right = -1;
  let top = size;
  let bottom = -1;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++)
      if (pixels[y * size + x] > threshold) {
        left = Math.min(left, x);
        right = Math.max(right, x);
        top = Math.min(top, y);
        bottom = Math.max(bottom, y);
      }
  return { left, right, top, bottom };
}

describe('toFashionMnistImage', () => {
  let test: Split;
  beforeAll(async () => {
    test = (await loadSample()).test;
  });

  it('gives the same 28×28 image for a 2× and a 10× larger dark-on-white copy of a data-set image', () => {
    for (let i = 0; i < 20; i++) {
      const original = test.images.subarray(i * 784, (i + 1) * 784);
      const a = toFashionMnistImage(toRgba(original, 28, 28, 2, true), { sharpen: false });
      const b = toFashionMnistImage(toRgba(original, 28, 28, 10, true), { sharpen: false });
      expect(a.inverted).toBe(true);
      expect(b.inverted).toBe(true);
      let worst = 0;
      for (let p = 0; p < 784; p++) worst = Math.max(worst, Math.abs(a.pixels[p] - b.pixels[p]));
      expect(worst).toBeLessThanOrEqual(1);
    }
  });

  it('passes a data-set image through byte for byte, also after a PNG round trip', () => {
    for (let i = 0; i < 100; i++) {
      const original = test.images.subarray(i * 784, (i + 1) * 784);
      // Written as a gray PNG by the one encoder and read back as RGBA, as `predict` reads a file.
      const png = encodePng({ data: original.slice(), width: 28, height: 28, channels: 1 });
      const out = toFashionMnistImage(decodePng(png));
      expect(out.inverted).toBe(false);
      expect(Buffer.from(out.pixels).equals(Buffer.from(original))).toBe(true);
      // The same image drawn dark on white comes back negated, and still exactly.
      const negated = toFashionMnistImage(toRgba(original, 28, 28, 1, true));
      expect(negated.inverted).toBe(true);
      expect(Buffer.from(negated.pixels).equals(Buffer.from(original))).toBe(true);
    }
  });

  it('leaves a data-set image whose object spans the full height nearly unchanged when processed anyway', () => {
    let checked = 0;
    for (let i = 0; i < test.count && checked < 10; i++) {
      const original = test.images.subarray(i * 784, (i + 1) * 784);
      // Trimming drops background within 5 % of the RGB range: gray values up to 12.
      const box = bbox(original, 28, 12);
      if (box.top !== 0 || box.bottom !== 27) continue;
      const out = toFashionMnistImage(toRgba(original, 28, 28), { sharpen: false, passThrough: false });
      // Only the horizontal centring may move the object, by at most one column, and faint background
      // pixels (<= 12) beside the trimmed box become 0.
      const shifted = [-1, 0, 1].map((dx) => {
        let d = 0;
        for (let y = 0; y < 28; y++)
          for (let x = 0; x < 28; x++) {
            const sx = x - dx;
            d = Math.max(
              d,
              Math.abs(out.pixels[y * 28 + x] - (sx >= 0 && sx < 28 ? original[y * 28 + sx] : 0)),
            );
          }
        return d;
      });
      expect(Math.min(...shifted)).toBeLessThanOrEqual(12);
      checked++;
    }
    expect(checked).toBe(10);
  });

  it('trims the background, scales the longest edge to 28 and centres the object on black', () => {
    // A dark 200×100 rectangle (wide) on a 640×480 white canvas, off centre.
    const W = 640;
    const H = 480;
    const data = new Uint8Array(W * H * 4).fill(255);
    for (let y = 300; y < 400; y++)
      for (let x = 50; x < 250; x++) {
        const o = (y * W + x) * 4;
        data[o] = 20;
        data[o + 1] = 30;
        data[o + 2] = 40;
      }
    const out = toFashionMnistImage({ data, width: W, height: H }, { sharpen: false });
    expect(out.inverted).toBe(true);
    expect(out.crop).toEqual({ left: 50, top: 300, width: 200, height: 100 });
    const box = bbox(out.pixels, 28, 100);
    expect(box).toEqual({ left: 0, right: 27, top: 7, bottom: 20 });
    expect(out.pixels[0]).toBe(0);
    expect(out.pixels[14 * 28 + 14]).toBeGreaterThan(220);
  });

  it('treats transparent pixels as a white backdrop', () => {
    const W = 50;
    const data = new Uint8Array(W * W * 4); // all transparent black
    for (let y = 10; y < 40; y++)
      for (let x = 20; x < 30; x++) {
        const o = (y * W + x) * 4;
        data[o + 3] = 255; // opaque black object
      }
    const out = toFashionMnistImage({ data, width: W, height: W });
    expect(out.inverted).toBe(true);
    expect(out.pixels[14 * 28 + 14]).toBe(255);
    expect(out.pixels[0]).toBe(0);
  });

  it('sharpening raises contrast at edges, as the data set did', () => {
    const original = test.images.subarray(0, 784);
    const plain = toFashionMnistImage(toRgba(original, 28, 28, 2), { sharpen: false }).pixels;
    const sharp = toFashionMnistImage(toRgba(original, 28, 28, 2), { sharpen: true }).pixels;
    const contrast = (p: Uint8Array) => {
      let s = 0;
      for (let y = 0; y < 28; y++)
        for (let x = 1; x < 28; x++) s += Math.abs(p[y * 28 + x] - p[y * 28 + x - 1]);
      return s;
    };
    expect(contrast(sharp)).toBeGreaterThan(contrast(plain) * 1.1);
  });

  it('obeys a forced invert', () => {
    const original = test.images.subarray(0, 784);
    for (const scale of [1, 2]) {
      const kept = toFashionMnistImage(toRgba(original, 28, 28, scale), { invert: false, sharpen: false });
      const negated = toFashionMnistImage(toRgba(original, 28, 28, scale), { invert: true, sharpen: false });
      for (let p = 0; p < 784; p++) expect(kept.pixels[p] + negated.pixels[p]).toBe(255);
    }
  });

  it('reports a blank image and bad arguments clearly', () => {
    const blank = { data: new Uint8Array(10 * 10 * 4).fill(255), width: 10, height: 10 };
    expect(() => toFashionMnistImage(blank)).toThrow(FashionMnistError);
    expect(() => toFashionMnistImage(blank)).toThrow(/single colour/);
    expect(() => toFashionMnistImage({ data: new Uint8Array(12), width: 2, height: 2 })).toThrow(
      expect.objectContaining({ code: 'BAD_SHAPE' }),
    );
    expect(() => toFashionMnistImage(null as unknown as RgbaImage)).toThrow(BAD_OPTION);
    expect(() => toFashionMnistImage(blank, { invert: 'sometimes' as unknown as boolean })).toThrow(
      BAD_OPTION,
    );
    expect(() => toFashionMnistImage(blank, { size: 0 })).toThrow(BAD_OPTION);
    expect(() => toFashionMnistImage(blank, { size: '28' as unknown as number })).toThrow(BAD_OPTION);
    expect(() => toFashionMnistImage(blank, { trim: 'no' as unknown as boolean })).toThrow(BAD_OPTION);
    expect(() => toFashionMnistImage(blank, { rotate: true } as unknown as object)).toThrow(/unknown option/);
  });
});
