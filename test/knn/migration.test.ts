// Migration from @tensorflow-models/knn-classifier: the same calls through both libraries, on real sample images,
// give the same answers — with the documented mapping (docs/knn.md): metric 'cosine', k = 3, ties 'lowest'.

import * as tf from '@tensorflow/tfjs-core';
import { KNNClassifier } from '@tensorflow-models/knn-classifier';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FashionMnist } from '../../src/data/assemble.js';
import { loadSample } from '../../src/data/node.js';
import { KnnClassifier } from '../../src/knn/index.js';
import { BACKENDS, useBackend } from '../helpers/backends.js';

const TRAIN = 300;
const QUERIES = 200;

let data: FashionMnist;
beforeAll(async () => {
  data = await loadSample();
});

/** A small "embedding" of each image: 7×7 average pooling of the pixels, as float features. */
function embed(images: Uint8Array, i: number): Float32Array {
  const out = new Float32Array(49);
  for (let y = 0; y < 28; y++)
    for (let x = 0; x < 28; x++)
      out[Math.floor(y / 4) * 7 + Math.floor(x / 4)] += images[i * 784 + y * 28 + x] / 16;
  return out;
}

for (const backend of BACKENDS) {
  describe(`@tensorflow-models/knn-classifier and KnnClassifier on ${backend}`, () => {
    let theirs: KNNClassifier;
    let ours: KnnClassifier;
    const examples: Float32Array[] = [];
    const queries: Float32Array[] = [];

    beforeAll(async () => {
      await useBackend(backend);
      theirs = new KNNClassifier();
      ours = new KnnClassifier({ k: 3, metric: 'cosine', ties: 'lowest' });
      // A balanced-ish slice of the sample: the first TRAIN training images, the first QUERIES test images.
      for (let i = 0; i < TRAIN; i++) examples.push(embed(data.train.images, i));
      for (let i = 0; i < QUERIES; i++) queries.push(embed(data.test.images, i));
      for (let i = 0; i < TRAIN; i++) {
        const t = tf.tensor1d(examples[i]);
        theirs.addExample(t, data.train.labels[i]);
        t.dispose();
        ours.addExample(examples[i], data.train.labels[i]);
      }
    });

    afterAll(async () => {
      theirs.dispose();
      await ours.dispose();
    });

    /** Both libraries' predictClass on every query, as comparable records. */
    async function both(k?: number) {
      const a: unknown[] = [];
      const b: unknown[] = [];
      for (const q of queries) {
        const t = tf.tensor1d(q);
        const r = await theirs.predictClass(t, k);
        t.dispose();
        a.push({ label: r.label, confidences: r.confidences });
        const s = await ours.predictClass(q, k === undefined ? undefined : { k });
        // Theirs keys labels as strings (object keys); ours keeps them as given.
        b.push({ label: String(s.label), confidences: Object.fromEntries(s.confidences) });
        expect(s.classIndex).toBe(ours.classes.indexOf(s.label));
      }
      return { a, b };
    }

    it('addExample, getNumClasses, getClassExampleCount ↔ addExample, numClasses, classCounts()', () => {
      expect(ours.numClasses).toBe(theirs.getNumClasses());
      expect(Object.fromEntries(ours.classCounts())).toEqual(theirs.getClassExampleCount());
    });

    it('predictClass gives the same label and confidences for every query (k = 3, 5, 1)', async () => {
      for (const k of [undefined, 5, 1]) {
        const { a, b } = await both(k);
        expect(b).toEqual(a);
      }
    });

    it('after clearClass, the same again; a k above the number of examples lets all of them vote in both', async () => {
      theirs.clearClass(3);
      ours.clearClass(3);
      expect(ours.numClasses).toBe(theirs.getNumClasses());
      expect(Object.fromEntries(ours.classCounts())).toEqual(theirs.getClassExampleCount());
      const { a, b } = await both();
      expect(b).toEqual(a);
      const { a: all, b: allOurs } = await both(10_000);
      expect(allOurs).toEqual(all);
    });

    it('getClassifierDataset / setClassifierDataset ↔ toBytes / fromBytes: a copy predicts the same', async () => {
      const copy = new KNNClassifier();
      copy.setClassifierDataset(theirs.getClassifierDataset());
      const ourCopy = KnnClassifier.fromBytes(ours.toBytes());
      for (const q of queries.slice(0, 50)) {
        const t = tf.tensor1d(q);
        const r = await copy.predictClass(t);
        t.dispose();
        expect(String((await ourCopy.predictClass(q)).label)).toBe(r.label);
      }
      await ourCopy.dispose();
    });

    it('clearAllClasses ↔ clearClass for every class: both are empty and refuse to predict', async () => {
      theirs.clearAllClasses();
      for (const c of [...ours.classes]) ours.clearClass(c);
      expect(theirs.getNumClasses()).toBe(0);
      expect(ours.classCounts().size).toBe(0);
      const t = tf.tensor1d(queries[0]);
      await expect(theirs.predictClass(t)).rejects.toThrow();
      t.dispose();
      await expect(ours.predictClass(queries[0])).rejects.toMatchObject({ code: 'NOT_FITTED' });
    });
  });
}

describe("ties: 'lowest'", () => {
  it('gives a tie in votes to the tied class first in `classes` (scikit-learn), not the nearest one', async () => {
    await useBackend('cpu');
    // Query 0 on a line: neighbours 1 (class 2), 2 (class 0), 3 (class 0), 4 (class 2) tie 2:2.
    const x = Float32Array.from([2, 10, 3, 1, 4]);
    const y = [0, 1, 0, 2, 2];
    const nearest = new KnnClassifier({ k: 4 }).fit(x, y);
    const lowest = new KnnClassifier({ k: 4, ties: 'lowest' }).fit(x, y);
    expect(Array.from(await nearest.predict(Float32Array.from([0])))).toEqual([2]);
    expect(Array.from(await lowest.predict(Float32Array.from([0])))).toEqual([0]);
    expect((await lowest.predictClass(Float32Array.from([0]))).label).toBe(0);
    expect(await lowest.score(Float32Array.from([0]), [0])).toBe(1);
    // String labels: first in sorted order ('bag' < 'boot'), whatever order they were added in.
    const names = new KnnClassifier<string>({ k: 2, ties: 'lowest' }).fit(Float32Array.from([1, -1]), [
      'boot',
      'bag',
    ]);
    expect(await names.predict(Float32Array.from([0]))).toEqual(['bag']);
    expect(() => new KnnClassifier({ ties: 'first' as never })).toThrow(/ties/);
    await Promise.all([nearest.dispose(), lowest.dispose(), names.dispose()]);
  });
});
