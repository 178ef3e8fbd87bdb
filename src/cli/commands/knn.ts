import { Command, Option } from 'commander';
import { subset } from '../../data/split.js';
import type { FashionMnistError } from '../../errors.js';
import { badOption } from '../../internal/validate.js';
import { accuracy as accuracyOf, confusionMatrix, perClassMetrics } from '../../metrics/metrics.js';
import { renderHtmlReport } from '../../report/html.js';
import { setUpBackend } from '../backend.js';
import {
  afterWork,
  type CliIo,
  type DataCommandFlags,
  dataAction,
  errorJson,
  intArg,
  percent,
  REFERENCES,
  sharedOption,
  writeText,
} from '../context.js';
import { DEFAULT_KNN_WORKERS, fitKnn } from '../knn-search.js';
import { checkOutputFile } from '../paths.js';
import { perClassTable } from './tables.js';

interface KnnFlags extends DataCommandFlags {
  k: number;
  weights: 'uniform' | 'distance';
  metric: 'euclidean' | 'cosine';
  batchSize?: number;
  workers: number;
}

/** Images shown in the report's grid. */
const GRID = 40;

/** `fashion-mnist knn`: k-nearest neighbours on raw pixels, scored on the test set. */
export function knnCommand(io: CliIo): Command {
  const cmd = new Command('knn')
    .summary('classify the test set with k-nearest neighbours')
    .description(
      'Fits a k-nearest-neighbour classifier on the training images (raw pixels) and scores it on the test ' +
        'images. Exact: the same neighbours on every backend, for every chunk size and number of workers. On ' +
        'the full data set, k = 5 gets 85.67 % (the reference study reports 85.77 %, the benchmark 86.0 %).',
    )
    .option('-k, --k <n>', 'neighbours that vote', intArg('--k', 1), 5)
    .addOption(
      new Option('--weights <w>', 'votes: one each, or weighted by 1/distance')
        .choices(['uniform', 'distance'])
        .default('uniform'),
    )
    .addOption(
      new Option('--metric <m>', 'distance between images')
        .choices(['euclidean', 'cosine'])
        .default('euclidean'),
    )
    .option(
      '-j, --workers <n>',
      'worker threads searching in parallel, each with its own wasm (or, with --backend cpu, cpu) engine; ' +
        '1 searches in this thread (default: the cores, at most 8)',
      intArg('--workers', 1, 64),
      DEFAULT_KNN_WORKERS,
    )
    .addOption(sharedOption('test-size', 'score the first N test images only (default: all)'))
    .addOption(sharedOption('train-size', 'fit on the first N training images only (default: all)'))
    .addOption(
      sharedOption('batch-size', 'query images per matrix product (default: sized from a 128 MiB budget)'),
    )
    .addOption(
      sharedOption('report', 'write a self-contained HTML report (accuracy, confusion matrix, images)'),
    );
  return dataAction(io, cmd, async (flags: KnnFlags, out, load) => {
    // Checked before the work: a bad report path must not cost the search.
    const report = flags.report === undefined ? undefined : checkOutputFile('--report', flags.report);
    const { data, train, test } = await load();
    if (flags.k > train.count) {
      throw badOption(
        `knn: option 'k' must be an integer <= ${train.count} (the number of training images), received ${flags.k}; ` +
          'lower --k or raise --train-size',
      );
    }
    const backend = await setUpBackend(flags.backend);
    // The pool runs wasm or cpu engines in its threads; a native backend (tfjs-node) is already multi-threaded.
    const poolBackend = backend === 'wasm' || backend === 'cpu' ? backend : null;
    const workers = poolBackend === null ? 1 : Math.min(flags.workers, Math.max(1, test.count));
    const where = workers > 1 ? `${workers} workers (${poolBackend})` : backend;
    out.warn(
      `k-NN: k = ${flags.k}, ${flags.weights}, ${flags.metric}; ${train.count} training / ${test.count} test images on ${where}`,
    );
    const t0 = performance.now();
    const knn = await fitKnn(
      {
        k: flags.k,
        weights: flags.weights,
        metric: flags.metric,
        ...(flags.batchSize ? { batchSize: flags.batchSize } : {}),
      },
      workers,
      poolBackend ?? 'wasm',
      train.images,
      train.labels,
    );
    try {
      const fitBar = out.bar('k-NN fit', 1);
      out.done(fitBar, `k-NN: fitted ${train.count} training images on ${where}`);
      const bar = out.bar('k-NN', test.count);
      const predictions = await knn.predict(test.images, { onProgress: (p) => bar.update(p.rowsDone) });
      const seconds = (performance.now() - t0) / 1000;
      out.done(bar, `k-NN: ${test.count} test images in ${seconds.toFixed(1)} s`);
      const confusion = confusionMatrix(test.labels, predictions);
      const perClass = perClassMetrics(confusion);
      const accuracy = accuracyOf(test.labels, predictions);
      const correct = confusion.reduce((n, row, i) => n + row[i], 0);
      let reportPath: string | undefined;
      let reportError: FashionMnistError | undefined;
      if (report) {
        const shown = subset(test, 0, Math.min(GRID, test.count));
        const proba = await knn.predictProba(shown.images);
        const classes = knn.numClasses;
        const confidences = Array.from(
          { length: shown.count },
          (_, i) => proba[i * classes + predictions[i]],
        );
        const html = renderHtmlReport({
          title: `k-NN on Fashion-MNIST${data.isSample ? ' (SAMPLE)' : ''}`,
          sample: data.isSample,
          accuracy,
          references: REFERENCES.knn,
          confusion,
          details: {
            data: `${data.source.kind}: ${data.source.location}`,
            'training images': train.count,
            'test images': test.count,
            k: flags.k,
            weights: flags.weights,
            metric: flags.metric,
            backend: where,
            'wall time': `${seconds.toFixed(1)} s`,
          },
          examples: {
            images: shown.images,
            height: shown.height,
            width: shown.width,
            labels: shown.labels,
            predictions,
            confidences,
          },
        });
        const written = await afterWork('writing the report', report, () => writeText(report, html));
        reportPath = written.value;
        reportError = written.error;
      }
      if (flags.json) {
        out.json({
          command: 'knn',
          accuracy,
          correct,
          test: test.count,
          train: train.count,
          k: flags.k,
          weights: flags.weights,
          metric: flags.metric,
          backend,
          workers,
          seconds,
          isSample: data.isSample,
          source: data.source,
          perClass,
          confusion,
          report: reportPath,
          ...(reportError ? { error: errorJson(reportError) } : {}),
        });
      } else {
        out.say(
          `${data.isSample ? 'SAMPLE ' : ''}k-NN accuracy: ${percent(accuracy)} (${correct}/${test.count})`,
        );
        out.say(perClassTable(perClass));
        if (reportPath) out.say(`report: ${reportPath}`);
      }
      if (reportError) out.fail(reportError);
    } finally {
      await knn.dispose();
    }
  });
}
