import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEBIAN_DIR, loadFashionMnist } from '../../src/data/node.js';

const present = existsSync(`${DEBIAN_DIR}/train-images-idx3-ubyte.gz`);
if (!present) {
  console.warn(
    `\n[integration] SKIPPED: the full Fashion-MNIST is not installed at ${DEBIAN_DIR} (apt-get install dataset-fashion-mnist)\n`,
  );
}

describe.skipIf(!present)('full Fashion-MNIST from Debian (integration)', () => {
  it('has the official counts, label order and pixel means', async () => {
    const data = await loadFashionMnist({ dir: DEBIAN_DIR });
    expect(data.isSample).toBe(false);
    expect([data.train.count, data.test.count]).toEqual([60000, 10000]);
    expect(data.train.images.length).toBe(60000 * 784);
    // Well-known first labels of each split, plus a hash of the whole label order.
    expect(Array.from(data.train.labels.subarray(0, 10))).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    expect(Array.from(data.test.labels.subarray(0, 10))).toEqual([9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    const hash = (b: Uint8Array) => createHash('sha256').update(b).digest('hex').slice(0, 16);
    expect(hash(data.train.labels)).toBe('657fbd221bfc9f41');
    expect(hash(data.test.labels)).toBe('3d0e6c6ea990b53b');
    for (const split of [data.train, data.test]) {
      const perClass = Array.from({ length: 10 }, (_, c) => split.labels.filter((l) => l === c).length);
      expect(perClass).toEqual(Array(10).fill(split.count / 10));
    }
    const mean = (a: Uint8Array) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(data.train.images)).toBeCloseTo(72.94, 2);
    expect(mean(data.test.images)).toBeCloseTo(73.15, 2);
  });
});
