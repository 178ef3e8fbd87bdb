// k-nearest neighbours on Fashion-MNIST: fit on the training images, predict the test images, print the accuracy
// and a per-class table. Uses the full data when it can be found (Debian's package, the cache,
// FASHION_MNIST_DIR …) and the embedded 6,000 + 1,000 sample otherwise (marked SAMPLE). Imports only the
// package's public entries.
//
//   npx tsx examples/knn.ts [--k 5] [--weights uniform|distance] [--metric euclidean|cosine] [--workers 2] [--sample]
//
// With --workers N > 1 the search runs on N worker threads (knnWorkerPool); otherwise in this thread on wasm.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { CLASS_NAMES, KnnClassifier } from 'fashion-mnist-tfjs';
import type { KnnMetric, KnnWeights } from 'fashion-mnist-tfjs/knn';
import { confusionMatrix, perClassMetrics } from 'fashion-mnist-tfjs/metrics';
import { knnWorkerPool, loadFashionMnist, loadSample } from 'fashion-mnist-tfjs/node';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const k = Number(arg('k', '5'));
const weights = arg('weights', 'uniform') as KnnWeights;
const metric = arg('metric', 'euclidean') as KnnMetric;
const workers = Number(arg('workers', '1'));

await tf.setBackend('wasm');
const data = args.includes('--sample')
  ? await loadSample()
  : await loadFashionMnist({ fallbackToSample: true });
const tag = data.isSample ? ' [SAMPLE: embedded 6,000/1,000 subset, not the full data set]' : '';
console.log(`data: ${data.source.kind} ${data.source.location}${tag}`);
console.log(
  `train ${data.train.count}, test ${data.test.count}; k=${k}, weights=${weights}, metric=${metric}`,
);

const started = performance.now();
// Options are checked here: a bad --k or --metric is a FashionMnistError BAD_OPTION that says what is allowed.
const search = workers > 1 ? knnWorkerPool({ workers }) : undefined;
const knn = new KnnClassifier({ k, weights, metric, ...(search ? { search } : {}) }).fit(
  data.train.images,
  data.train.labels,
);
const predictions = await knn.predict(data.test.images, {
  onProgress: ({ rowsDone, rows }) => {
    if (process.stderr.isTTY) process.stderr.write(`\rk-NN ${rowsDone}/${rows} test images`);
  },
});
if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
const seconds = (performance.now() - started) / 1000;
await knn.dispose();

const confusion = confusionMatrix(data.test.labels, predictions);
const correct = confusion.reduce((n, row, c) => n + row[c], 0);
console.log(
  `\naccuracy ${((100 * correct) / data.test.count).toFixed(2)} % (${correct}/${data.test.count}) in ${seconds.toFixed(1)} s${tag}`,
);
console.log('\nclass          images  precision  recall  most often mistaken for');
for (const c of perClassMetrics(confusion, CLASS_NAMES)) {
  const row = confusion[c.index];
  let worst = -1;
  for (let p = 0; p < row.length; p++) if (p !== c.index && (worst < 0 || row[p] > row[worst])) worst = p;
  const mistaken = worst >= 0 && row[worst] > 0 ? `${CLASS_NAMES[worst]} (${row[worst]})` : '-';
  console.log(
    `${c.name.padEnd(13)} ${String(c.support).padStart(7)} ${c.precision.toFixed(3).padStart(10)} ${c.recall.toFixed(3).padStart(7)}  ${mistaken}`,
  );
}
