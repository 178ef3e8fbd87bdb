// Which k-NN setting is best on the full Fashion-MNIST test set? One 10-neighbour search per feature space
// (raw pixels with euclidean, raw pixels with cosine, per-pixel standardised with euclidean), then every
// k ≤ 10 and both weightings are voted from those lists (a k-list is the prefix of the 10-list, as neighbours
// are sorted by distance, then index). Run: npx tsx bench/knn-settings.ts [--workers 2] [--validation] [--rows N]
//
// --validation picks on held-out training data instead of the test set: fit on the first 50,000 training
// images, score on the last 10,000 (choosing settings on the test set flatters the winner).
//
// Votes here use the float32 distances kneighbors returns; the classifier weighs with float64 distances, so a
// `weights: 'distance'` figure can differ in a near-tie. Re-check the winner with KnnClassifier.score.

import { buildDevKnnWorker } from '../scripts/dev-knn-worker.js';
import { DEBIAN_DIR } from '../src/data/node.js';
import { KnnClassifier, knnWorkerPool, loadFashionMnist, subset } from '../src/node.js';

const args = process.argv.slice(2);
if (args.includes('--help')) {
  console.log(`usage: npx tsx bench/knn-settings.ts [--workers N] [--validation] [--rows N]
Accuracy of every k ≤ 10, both weightings, three feature spaces. --rows scores only the first N held-out rows.`);
  process.exit(0);
}
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const workers = Number(flag('--workers') ?? 2);
const K = 10;
const data = await loadFashionMnist({ dir: process.env.FASHION_MNIST_DIR ?? DEBIAN_DIR });
const validation = args.includes('--validation');
const split = validation ? { train: subset(data.train, 0, 50_000), test: subset(data.train, 50_000) } : data;
const rowsFlag = flag('--rows');
const train = split.train;
const test = rowsFlag === undefined ? split.test : subset(split.test, 0, Number(rowsFlag));
console.log(
  validation
    ? 'validation: fit on train[0, 50000), score on train[50000, 60000)'
    : 'fit on train, score on test',
);
const D = 784;

/** Per-pixel z-scores with the training set's mean and standard deviation (constant pixels stay 0). */
function standardise(x: Uint8Array, mean: Float64Array, std: Float64Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const p = i % D;
    out[i] = std[p] > 0 ? (x[i] - mean[p]) / std[p] : 0;
  }
  return out;
}
const mean = new Float64Array(D);
const sq = new Float64Array(D);
for (let i = 0; i < train.images.length; i++) {
  mean[i % D] += train.images[i];
  sq[i % D] += train.images[i] * train.images[i];
}
const std = new Float64Array(D);
for (let p = 0; p < D; p++) {
  mean[p] /= train.count;
  std[p] = Math.sqrt(Math.max(sq[p] / train.count - mean[p] * mean[p], 0));
}

const spaces = [
  { name: 'raw pixels, euclidean', metric: 'euclidean' as const, xTrain: train.images, xTest: test.images },
  { name: 'raw pixels, cosine', metric: 'cosine' as const, xTrain: train.images, xTest: test.images },
  {
    name: 'standardised pixels, euclidean',
    metric: 'euclidean' as const,
    xTrain: standardise(train.images, mean, std),
    xTest: standardise(test.images, mean, std),
  },
];

// Run from the sources, the worker threads need a built worker script (the package has dist/knn-worker.js).
const worker = await buildDevKnnWorker();
const search = knnWorkerPool({ workers, workerUrl: worker.url });
for (const space of spaces) {
  const t = performance.now();
  const knn = new KnnClassifier({ k: K, metric: space.metric, search }).fit(space.xTrain, train.labels);
  const { indices, distances } = await knn.kneighbors(space.xTest);
  await knn.dispose();
  const seconds = (performance.now() - t) / 1000;
  const line: string[] = [];
  for (const weights of ['uniform', 'distance'] as const) {
    for (let k = 1; k <= K; k++) {
      let hits = 0;
      const votes = new Float64Array(10);
      for (let r = 0; r < test.count; r++) {
        votes.fill(0);
        let zero = false;
        for (let t2 = 0; t2 < k; t2++) if (distances[r * K + t2] === 0) zero = true;
        for (let t2 = 0; t2 < k; t2++) {
          const c = train.labels[indices[r * K + t2]];
          const d = distances[r * K + t2];
          votes[c] += weights === 'uniform' ? 1 : zero ? (d === 0 ? 1 : 0) : 1 / d;
        }
        const top = Math.max(...votes);
        let pred = -1;
        for (let t2 = 0; t2 < k && pred < 0; t2++) {
          const c = train.labels[indices[r * K + t2]];
          if (votes[c] === top) pred = c;
        }
        if (pred === test.labels[r]) hits++;
      }
      line.push(`${weights} k=${k}: ${(hits / test.count).toFixed(4)}`);
    }
  }
  console.log(`${space.name} (search ${seconds.toFixed(1)} s)`);
  for (let i = 0; i < line.length; i += 5) console.log(`  ${line.slice(i, i + 5).join('  ')}`);
}
worker.remove();
