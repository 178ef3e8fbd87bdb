// The main job in one command (`npm run demo`): load Fashion-MNIST, classify test images with k-nearest
// neighbours and, when the pretrained model is present, with the CNN, and print the accuracies next to the
// published ones. Runs on the full data set when it is installed, otherwise on the embedded sample (and says so).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { hasModel } from '../src/cnn/io-node.js';
import { pretrainedModelDir } from '../src/cnn/pretrained-node.js';
import { evaluateCnn, KnnClassifier, loadFashionMnist, loadPretrained, subset } from '../src/node.js';
import { createProgressBar } from '../src/report/progress.js';

/** Test images for k-NN: enough for a stable figure, few enough to finish in seconds on two cores. */
const KNN_TEST = 1000;

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

// k-NN, k = 5, raw pixels, on the first test images.
const test = subset(data.test, 0, Math.min(KNN_TEST, data.test.count));
const knn = new KnnClassifier({ k: 5 }).fit(data.train.images, data.train.labels);
const bar = createProgressBar({ total: test.count, label: 'k-NN' });
let t0 = performance.now();
const knnAccuracy = await knn.score(test.images, test.labels, { onProgress: (p) => bar.update(p.rowsDone) });
bar.finish();
knn.dispose();
console.log(
  `${tag}k-NN (k = 5) on ${test.count} test images: ${(knnAccuracy * 100).toFixed(2)} %` +
    `   (${((performance.now() - t0) / 1000).toFixed(1)} s; reference 85.77 %, benchmark 86.0 %, on all 10,000)`,
);

// The pretrained CNN, when this checkout has it.
const modelDir = pretrainedModelDir();
if (await hasModel(modelDir)) {
  const model = await loadPretrained();
  t0 = performance.now();
  const ev = await evaluateCnn(model, data.test);
  model.dispose();
  console.log(
    `${tag}CNN (pretrained) on ${ev.count} test images: ${(ev.accuracy * 100).toFixed(2)} %` +
      `   (${((performance.now() - t0) / 1000).toFixed(1)} s; reference 92.32 %, benchmark 91.6 %)`,
  );
} else {
  console.log(
    `CNN: no pretrained model in ${modelDir}; train one with: npx fashion-mnist train --out my-model`,
  );
}
console.log(
  `\ndone in ${((performance.now() - started) / 1000).toFixed(1)} s. More: npx fashion-mnist --help`,
);
