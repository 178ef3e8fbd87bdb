import { describe, expect, it } from 'vitest';
import type { Split } from '../../src/data/split.js';
import { FashionMnistError } from '../../src/errors.js';
import { CORRECT_COLOR, confusionMatrixSvg, predictionGridSvg, WRONG_COLOR } from '../../src/report/svg.js';

const BAD_OPTION = expect.objectContaining({ name: 'FashionMnistError', code: 'BAD_OPTION' });

const split: Split = {
  images: Uint8Array.from({ length: 3 * 784 }, (_, i) => i % 256),
  labels: Uint8Array.from([0, 9, 3]),
  count: 3,
  height: 28,
  width: 28,
};
// Image 0 right (T-shirt/top, 0.9), image 1 wrong (Ankle boot called Sandal, 0.6), image 2 right (Dress, 0.75).
const probabilities = new Float32Array(30);
probabilities[0] = 0.9;
probabilities[10 + 5] = 0.6;
probabilities[20 + 3] = 0.75;
const result = { predictions: Uint8Array.from([0, 5, 3]), probabilities };

const count = (s: string, sub: string) => s.split(sub).length - 1;

describe('predictionGridSvg', () => {
  it('draws each image with its prediction and probability, blue when right and red when wrong', () => {
    const svg = predictionGridSvg(split, result, { columns: 2 });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(count(svg, '<image ')).toBe(3);
    expect(count(svg, 'href="data:image/png;base64,iVBORw0KGgo')).toBe(3); // PNG signature in base64
    expect(svg).toContain(`fill="${CORRECT_COLOR}">T-shirt/top 90 %</text>`);
    expect(svg).toContain(`fill="${WRONG_COLOR}">Sandal 60 %</text>`);
    expect(svg).toContain(`fill="${WRONG_COLOR}">(Ankle boot)</text>`);
    expect(svg).toContain(`fill="${CORRECT_COLOR}">Dress 75 %</text>`);
    expect(svg).toContain('2 of 3 correct (66.7 %)');
    // Two columns: the third image starts a second row, one cell (84 px image + 34 px of text) lower.
    const ys = [...svg.matchAll(/<image x="[\d.]+" y="(\d+)"/g)].map((m) => Number(m[1]));
    expect(ys).toEqual([28, 28, 28 + 118]);
  });

  it('shows chosen indices, escapes text, and validates', () => {
    const svg = predictionGridSvg(split, result, {
      indices: [1],
      classNames: [...'abcde', '<S&S>', ...'ghij'],
      title: 'a "t"',
    });
    expect(count(svg, '<image ')).toBe(1);
    expect(svg).toContain('&lt;S&amp;S&gt; 60 %');
    expect(svg).toContain('a &quot;t&quot;');
    expect(() => predictionGridSvg(split, result, { indices: [3] })).toThrow(BAD_OPTION);
    expect(() => predictionGridSvg(split, result, { indices: [] })).toThrow(BAD_OPTION);
    expect(() => predictionGridSvg(split, result, { indices: 3 as unknown as number[] })).toThrow(BAD_OPTION);
    expect(() => predictionGridSvg(split, result, { columns: 0 })).toThrow(BAD_OPTION);
    expect(() => predictionGridSvg(split, result, { colour: 1 } as never)).toThrow(BAD_OPTION);
    expect(() => predictionGridSvg(split, { predictions: [0, 1, 2, 3], probabilities })).toThrow(
      FashionMnistError,
    );
  });
});

describe('confusionMatrixSvg', () => {
  it('draws a cell per pair with counts, diagonal blue and the rest red', () => {
    const m = [
      [8, 2, 0],
      [1, 9, 0],
      [0, 0, 0],
    ];
    const svg = confusionMatrixSvg(m, { classNames: ['a', 'b', 'c'] });
    expect(count(svg, 'stroke="#dddddd"')).toBe(9);
    expect(count(svg, `fill="${CORRECT_COLOR}"`)).toBe(3);
    expect(count(svg, `fill="${WRONG_COLOR}"`)).toBe(6);
    expect(svg).toContain('accuracy 85.00 % on 20 images');
    expect(svg).toMatch(/>8<\/text>/);
    expect(svg).toMatch(/>2<\/text>/);
    // Empty cells are transparent and unlabeled.
    expect(count(svg, 'fill-opacity="0.000"')).toBe(5);
    expect(() => confusionMatrixSvg([[1, 2]])).toThrow(FashionMnistError);
    expect(() => confusionMatrixSvg(m, { cellSize: 2 })).toThrow(BAD_OPTION);
  });
});
