// The main job in one command (`npm run demo`): load Fashion-MNIST, classify test images with k-nearest
// neighbours and with the pretrained CNN, and print the accuracies next to the published ones. Runs on the full
// data set when it is installed, otherwise on the embedded sample (and says so). Imports only the package's
// public entries, as your program would.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { evaluateCnn, isFashionMnistError, KnnClassifier, subset } from 'fashion-mnist-tfjs';
// The Node versions of the two loaders read from disk (the data set, the model files in the package).
import { loadFashionMnist, loadPretrained } from 'fashion-mnist-tfjs/node';

/** Test images for k-NN: enough for a stable figure, few enough to finish in seconds on two cores. */
const KNN_TEST = 1000;
const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);

const started = performance.now();
// wasm is the fastest backend that installs everywhere; the pure-JS cpu backend is the fallback.
if (!(await tf.setBackend('wasm'))) await tf.setBackend('cpu');
await tf.ready();

const data = await loadFashionMnist({ fallbackToSample: true });
const tag = data.isSample ? 'SAMPLE ' : '';
console.log(
  data.isSample
    ? `SAMPLE: the full data set was not found, so this runs on the embedded sample (${data.train.count} training / ${data.test.count} test images).\n` +
        '        Its accuracies are NOT comparable with published figures. Get the full set: apt-get install dataset-fashion-mnist'
    : `Fashion-MNIST from ${data.source.kind} (${data.source.location}): ${data.train.count} training / ${data.test.count} test images`,
);
console.log(`backend: ${tf.getBackend()}\n`);

// k-NN, k = 5, raw pixels, on the first test images; progress on stderr when it is a terminal.
const test = subset(data.test, 0, Math.min(KNN_TEST, data.test.count));
const knn = new KnnClassifier({ k: 5 }).fit(data.train.images, data.train.labels);
let t0 = performance.now();
const knnAccuracy = await knn.score(test.images, test.labels, {
  onProgress: ({ rowsDone, rows }) => {
    if (process.stderr.isTTY) process.stderr.write(`\rk-NN ${rowsDone}/${rows} test images`);
  },
});
if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
knn.dispose();
console.log(
  `${tag}k-NN (k = 5) on ${test.count} test images: ${(knnAccuracy * 100).toFixed(2)} %` +
    `   (${seconds(t0)} s; reference 85.77 %, benchmark 86.0 %, on all 10,000)`,
);

// The pretrained CNN shipped with the package.
try {
  const model = await loadPretrained();
  t0 = performance.now();
  const ev = await evaluateCnn(model, data.test);
  model.dispose();
  console.log(
    `${tag}CNN (pretrained) on ${ev.count} test images: ${(ev.accuracy * 100).toFixed(2)} %` +
      `   (${seconds(t0)} s; reference 92.32 %, benchmark 91.6 %)`,
  );
} catch (e) {
  if (!isFashionMnistError(e)) throw e;
  console.log(`CNN: the pretrained model is not available (${e.code}: ${e.message.split('\n')[0]})`);
  console.log('     train one with: npx fashion-mnist train --out my-model');
}
console.log(`\ndone in ${seconds(started)} s. More: npx fashion-mnist --help`);
