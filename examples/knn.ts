// k-nearest neighbours on Fashion-MNIST: fit on the training images, predict the test images with a progress
// bar, print the accuracy and a per-class table. Uses the full data when it can be found (Debian's package,
// the cache, FASHION_MNIST_DIR …) and the embedded 6,000 + 1,000 sample otherwise (marked SAMPLE).
//
//   npx tsx examples/knn.ts [--k 5] [--weights uniform|distance] [--metric euclidean|cosine] [--workers N] [--sample]
//
// --workers 0 runs in this thread on the wasm backend (KnnClassifier, the universal API); N ≥ 1 splits the
// test images across N worker threads (the search strategy knnWorkerPool, Node only). Default: one worker per
// core.
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { buildDevKnnWorker } from '../scripts/dev-knn-worker.js';
import { KnnClassifier, type KnnMetric, type KnnWeights } from '../src/knn/index.js';
import { CLASS_NAMES, knnWorkerPool, loadFashionMnist, loadSample } from '../src/node.js';
import { createProgressBar, type ProgressBar } from '../src/report/progress.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const k = Number(arg('k', '5'));
const weights = arg('weights', 'uniform') as KnnWeights;
const metric = arg('metric', 'euclidean') as KnnMetric;
const cores = availableParallelism();
const workers = Number(arg('workers', String(cores > 1 ? cores : 0)));

const data = args.includes('--sample')
  ? await loadSample()
  : await loadFashionMnist({ fallbackToSample: true });
const tag = data.isSample ? ' [SAMPLE: embedded 6,000/1,000 subset, not the full data set]' : '';
console.log(`data: ${data.source.kind} ${data.source.location}${tag}`);
console.log(
  `train ${data.train.count}, test ${data.test.count}; k=${k}, weights=${weights}, metric=${metric}`,
);

const options = { k, weights, metric };
const started = performance.now();
let knn: KnnClassifier;
// Run from the sources, the worker threads need a built worker script (the package has dist/knn-worker.js).
const worker = workers > 0 ? await buildDevKnnWorker() : undefined;
if (worker !== undefined) {
  const search = knnWorkerPool({ workers, workerUrl: worker.url });
  knn = new KnnClassifier({ ...options, search }).fit(data.train.images, data.train.labels);
  console.log(`engine: ${workers} worker thread(s), wasm backend in each`);
} else {
  await tf.setBackend('wasm');
  await tf.ready();
  knn = new KnnClassifier(options).fit(data.train.images, data.train.labels);
  console.log(`engine: this thread, ${tf.getBackend()} backend`);
}

// The bar draws on stderr only when it is a terminal, so piped output stays clean.
// The total (number of chunks) is known at the first report.
let bar: ProgressBar | undefined;
const pred = await knn.predict(data.test.images, {
  onProgress: ({ done, total, rowsDone, rows }) => {
    bar ??= createProgressBar({ label: 'k-NN', total });
    bar.update(done, { images: `${rowsDone}/${rows}` });
  },
});
bar?.finish();
const seconds = (performance.now() - started) / 1000;
await knn.dispose();
worker?.remove();

const classes = CLASS_NAMES.length;
const confusion = new Int32Array(classes * classes);
for (let i = 0; i < data.test.count; i++) confusion[data.test.labels[i] * classes + pred[i]]++;
let correct = 0;
for (let c = 0; c < classes; c++) correct += confusion[c * classes + c];
console.log(
  `\naccuracy ${((100 * correct) / data.test.count).toFixed(2)} % (${correct}/${data.test.count}) in ${seconds.toFixed(1)} s${tag}`,
);
console.log('\nclass          images  correct  accuracy  most often mistaken for');
for (let c = 0; c < classes; c++) {
  let total = 0;
  let worst = -1;
  for (let p = 0; p < classes; p++) {
    total += confusion[c * classes + p];
    if (p !== c && (worst < 0 || confusion[c * classes + p] > confusion[c * classes + worst])) worst = p;
  }
  const hit = confusion[c * classes + c];
  const pct = total === 0 ? '-' : `${((100 * hit) / total).toFixed(1)} %`;
  const mistaken =
    worst >= 0 && confusion[c * classes + worst] > 0
      ? `${CLASS_NAMES[worst]} (${confusion[c * classes + worst]})`
      : '-';
  console.log(
    `${CLASS_NAMES[c].padEnd(13)} ${String(total).padStart(7)} ${String(hit).padStart(8)} ${pct.padStart(9)}  ${mistaken}`,
  );
}
