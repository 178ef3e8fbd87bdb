import { Command } from 'commander';
import { evaluateCnn } from '../../cnn/evaluate.js';
import { setUpBackend } from '../backend.js';
import {
  type CliIo,
  type DataCommandFlags,
  dataAction,
  errorJson,
  percent,
  sharedOption,
} from '../context.js';
import { MODEL_FLAG_HELP, resolveModel } from '../model.js';
import { checkOutputFile } from '../paths.js';
import { writeCnnReport } from './cnn-report.js';
import { perClassTable } from './tables.js';

interface EvaluateFlags extends DataCommandFlags {
  model?: string;
  batchSize: number;
}

/** `fashion-mnist evaluate`: a saved (or the pretrained) CNN on the test set. */
export function evaluateCommand(io: CliIo): Command {
  const cmd = new Command('evaluate')
    .summary('score a saved or the pretrained CNN on the test set')
    .description(
      'Loads a model directory (model.json + weights, as written by `fashion-mnist train`) or, without --model, ' +
        'the pretrained model shipped in the package, and reports accuracy, loss, per-class precision/recall ' +
        'and the confusion matrix on the test images.',
    )
    .option('--model <dir|name>', MODEL_FLAG_HELP)
    .addOption(sharedOption('test-size', 'evaluate the first N test images only (default: all)'))
    .addOption(sharedOption('batch-size', 'images per forward pass', 500))
    .addOption(sharedOption('report', 'write a self-contained HTML report'));
  return dataAction(io, cmd, async (flags: EvaluateFlags, out, load) => {
    const report = flags.report === undefined ? undefined : checkOutputFile('--report', flags.report);
    const backend = await setUpBackend(flags.backend);
    const { model, label } = await resolveModel(flags.model);
    try {
      const { data, test } = await load();
      const t0 = performance.now();
      const ev = await evaluateCnn(model, test, { batchSize: flags.batchSize });
      const seconds = (performance.now() - t0) / 1000;
      let written: Awaited<ReturnType<typeof writeCnnReport>> = {};
      if (report) {
        written = await writeCnnReport(
          report,
          'CNN evaluation on Fashion-MNIST',
          test,
          ev,
          {
            model: label,
            data: `${data.source.kind}: ${data.source.location}`,
            'test images': test.count,
            loss: ev.loss.toFixed(4),
            backend,
            'wall time': `${seconds.toFixed(1)} s`,
          },
          data.isSample,
        );
      }
      if (flags.json) {
        out.json({
          command: 'evaluate',
          model: label,
          accuracy: ev.accuracy,
          loss: ev.loss,
          test: ev.count,
          backend,
          seconds,
          isSample: data.isSample,
          source: data.source,
          perClass: ev.perClass,
          confusion: ev.confusion,
          report: written.value,
          ...(written.error ? { error: errorJson(written.error) } : {}),
        });
      } else {
        out.say(
          `${data.isSample ? 'SAMPLE ' : ''}CNN accuracy (${label}): ${percent(ev.accuracy)} on ${ev.count} test images, loss ${ev.loss.toFixed(4)}`,
        );
        out.say(perClassTable(ev.perClass));
        if (written.value) out.say(`report: ${written.value}`);
      }
      if (written.error) out.fail(written.error);
    } finally {
      model.dispose();
    }
  });
}
