// The real data: the first 1,000 test images against all 60,000 training images (raw pixels, k = 5,
// euclidean, uniform). 856 of them are right with the documented tie rule: measured here and cross-checked
// with a float64 numpy brute force (exact integer distances, ties by training index, 40 vote ties of which
// the nearest-neighbour rule gets 856 right where "lowest label wins", as knn_numpy.py does, gets 860).
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDevKnnWorker } from '../../scripts/dev-knn-worker.js';
import type { FashionMnist } from '../../src/data/index.js';
import { DEBIAN_DIR, loadFashionMnist } from '../../src/data/node.js';
import { KnnClassifier } from '../../src/knn/index.js';
import { knnWorkerPool } from '../../src/knn/worker-pool-node.js';
import { useBackend } from '../helpers/backends.js';

const present = existsSync(`${DEBIAN_DIR}/train-images-idx3-ubyte.gz`);
if (!present) {
  console.warn(`[knn integration] SKIPPED: ${DEBIAN_DIR} is absent (apt-get install dataset-fashion-mnist)`);
}
const SLICE = 1000;
const CORRECT = 856;

describe.skipIf(!present)(`k-NN on the real Fashion-MNIST (${DEBIAN_DIR})`, () => {
  let data: FashionMnist;
  let predicted: Int32Array;
  let worker: Awaited<ReturnType<typeof buildDevKnnWorker>> | undefined;
  afterAll(() => worker?.remove());
  beforeAll(async () => {
    await useBackend('wasm');
    data = await loadFashionMnist({ dir: DEBIAN_DIR });
    // Computed here rather than in the first test so that each test can run on its own.
    const knn = new KnnClassifier({ k: 5 }).fit(data.train.images, data.train.labels);
    predicted = await knn.predict(data.test.images.subarray(0, SLICE * 784));
    await knn.dispose();
  }, 180_000);

  it(`gets exactly ${CORRECT} of the first ${SLICE} test images right (wasm, one thread)`, () => {
    let hits = 0;
    for (let i = 0; i < SLICE; i++) if (predicted[i] === data.test.labels[i]) hits++;
    expect(hits).toBe(CORRECT);
  });

  it('gives the same predictions split across 2 worker threads', async () => {
    worker = await buildDevKnnWorker();
    const knn = new KnnClassifier({ k: 5, search: knnWorkerPool({ workers: 2, workerUrl: worker.url }) });
    try {
      knn.fit(data.train.images, data.train.labels);
      const pred = await knn.predict(data.test.images.subarray(0, SLICE * 784));
      expect(Array.from(pred)).toEqual(Array.from(predicted));
    } finally {
      await knn.dispose();
    }
  }, 120_000);
});
