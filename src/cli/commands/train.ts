import { existsSync, readdirSync, statSync } from 'node:fs';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Command, InvalidArgumentError, Option } from 'commander';
import { buildCnn } from '../../cnn/build.js';
import { evaluateCnn } from '../../cnn/evaluate.js';
import { loadModel, saveModel } from '../../cnn/io-node.js';
import { type EpochLog, trainCnn } from '../../cnn/train.js';
import { FashionMnistError } from '../../errors.js';
import { badOption } from '../../internal/validate.js';
import { setUpBackend } from '../backend.js';
import {
  AliasOption,
  type CliIo,
  type DataCommandFlags,
  dataAction,
  errorJson,
  intArg,
  numArg,
  percent,
  sharedOption,
} from '../context.js';
import { checkOutputDir, checkOutputFile, withIoErrors } from '../paths.js';
import { formatDuration } from '../progress.js';
import { writeCnnReport } from './cnn-report.js';
import { checkEraseFlags, type EraseFlags, eraseFromFlags, eraseOptions } from './erase-options.js';
import { perClassTable } from './tables.js';

/** trainCnn erases in the split's 0..255 units; this command's --v-l / --v-h are in [0, 1] pixel units. */
function erasingInPixelUnits(o: ReturnType<typeof eraseFromFlags>): ReturnType<typeof eraseFromFlags> {
  return {
    ...o,
    ...(o.v_l !== undefined ? { v_l: o.v_l * 255 } : {}),
    ...(o.v_h !== undefined ? { v_h: o.v_h * 255 } : {}),
  };
}

interface TrainFlags extends DataCommandFlags, EraseFlags {
  epochs: number;
  batchSize: number;
  eraseFraction: number;
  seed?: number;
  lr: number;
  schedule: 'constant' | 'cosine' | 'step';
  validationSplit: number;
  patience?: number;
  out?: string;
  resume?: string;
}

const SCHEDULES = ['constant', 'cosine', 'step'] as const;
/** torchvision's `--lr-scheduler` names for the same schedules. */
const TORCHVISION_SCHEDULES: Record<string, (typeof SCHEDULES)[number]> = {
  constant: 'constant',
  cosine: 'cosine',
  step: 'step',
  steplr: 'step',
  cosineannealinglr: 'cosine',
};

/** `fashion-mnist train`: the reference CNN with random erasing, checkpointed every epoch. */
export function trainCommand(io: CliIo): Command {
  const cmd = new Command('train')
    .summary('train the reference CNN (with random erasing), save it, score it')
    .description(
      'Trains the reference network (2 conv layers, 412,778 parameters; Adam) with random erasing on a ' +
        'fraction of the training images, saves the model after every epoch into --out (so --resume can ' +
        'continue an interrupted run), then evaluates it on the test images. The reference reached 92.32 % ' +
        'after 50 epochs on the full data set.',
    )
    .option(
      '--epochs <n>',
      'epochs in all (with --resume: including those already done)',
      intArg('--epochs', 1),
      10,
    )
    .addOption(sharedOption('batch-size', 'images per batch', 64))
    .option(
      '--erase-fraction <p>',
      'probability that a training image is randomly erased (alias --random-erase)',
      numArg('--erase-fraction', 0, 1),
      0.15,
    )
    .addOption(
      new AliasOption('--random-erase <p>', 'eraseFraction').argParser(numArg('--random-erase', 0, 1)),
    )
    .option('--seed <n>', 'seed of the initial weights, shuffles, erasing and dropout', intArg('--seed', 0))
    .option('--lr <rate>', 'learning rate of Adam', numArg('--lr', 0), 0.001)
    .addOption(
      new Option(
        '--schedule <name>',
        'learning-rate schedule (alias --lr-scheduler, steplr, cosineannealinglr)',
      )
        .choices(SCHEDULES)
        .default('constant'),
    )
    .addOption(
      new AliasOption('--lr-scheduler <name>', 'schedule').argParser((v: string) => {
        const s = TORCHVISION_SCHEDULES[v.toLowerCase()];
        if (s === undefined) {
          throw new InvalidArgumentError(
            `--lr-scheduler must be one of ${Object.keys(TORCHVISION_SCHEDULES).join(', ')}, received '${v}'.`,
          );
        }
        return s;
      }),
    )
    .option(
      '--validation-split <x>',
      'fraction of the training images held out for validation curves',
      numArg('--validation-split', 0, 0.9),
      0.1,
    )
    .option(
      '--patience <n>',
      'stop when validation loss has not improved for N epochs',
      intArg('--patience', 1),
    )
    .option(
      '--out <dir>',
      'model directory, written after every epoch (default: fashion-cnn-model, or the --resume directory; ' +
        'alias --output-dir)',
    )
    .addOption(new AliasOption('--output-dir <dir>', 'out'))
    .option('--resume <dir>', 'continue training the model saved in this directory')
    .addOption(sharedOption('train-size', 'train on the first N training images only'))
    .addOption(sharedOption('test-size', 'evaluate on the first N test images only'))
    .addOption(sharedOption('report', 'write a self-contained HTML report with the training curves'));
  eraseOptions(cmd, 'in [0, 1] pixel units', 0, 1);
  return dataAction(io, cmd, async (flags: TrainFlags, out, load) => {
    const outDir = flags.out ?? flags.resume ?? 'fashion-cnn-model';
    // Fail now rather than after the first epoch: the model directory and the report must be writable, and
    // saving refuses to replace a directory that is not a model.
    checkOutputDir(flags.out === undefined && flags.resume ? '--resume' : '--out', outDir);
    const report = flags.report === undefined ? undefined : checkOutputFile('--report', flags.report);
    checkEraseFlags(flags, 1);
    if (existsSync(outDir)) {
      const entries = statSync(outDir).isDirectory() ? readdirSync(outDir) : null;
      if (entries === null || (entries.length > 0 && !entries.includes('model.json'))) {
        throw new FashionMnistError(
          'BAD_MODEL',
          `--out ${outDir}: exists and is not a model directory; choose a new or empty directory.`,
          { path: outDir },
        );
      }
    }
    const { data, train, test } = await load();
    const backend = await setUpBackend(flags.backend, { training: true });

    let model: tfl.LayersModel;
    let initialEpoch = 0;
    if (flags.resume) {
      model = await loadModel(flags.resume);
      const meta = (model.getUserDefinedMetadata() ?? {}) as { epochsDone?: unknown };
      initialEpoch = typeof meta.epochsDone === 'number' ? meta.epochsDone : 0;
      if (!model.optimizer) {
        throw new FashionMnistError(
          'BAD_MODEL',
          `${flags.resume}: this model was saved without its optimizer state, so training cannot continue ` +
            'where it stopped. Resume from a directory written by `fashion-mnist train --out`.',
          { path: flags.resume },
        );
      }
      if (initialEpoch >= flags.epochs) {
        throw badOption(
          `--epochs must be more than the ${initialEpoch} epochs ${flags.resume} has done already, received ${flags.epochs}`,
        );
      }
      out.warn(`resuming ${flags.resume} after epoch ${initialEpoch}`);
    } else {
      model = buildCnn({ learningRate: flags.lr, ...(flags.seed !== undefined ? { seed: flags.seed } : {}) });
    }
    try {
      out.warn(
        `training on ${backend}: ${train.count} images, epochs ${initialEpoch + 1}..${flags.epochs}, batch ${flags.batchSize}, erasing ${flags.eraseFraction}`,
      );
      const bar = out.bar('epoch', 1);
      const epochs: EpochLog[] = [];
      const history = await trainCnn(model, train, {
        epochs: flags.epochs,
        initialEpoch,
        batchSize: flags.batchSize,
        erasing:
          flags.eraseFraction > 0
            ? { ...erasingInPixelUnits(eraseFromFlags(flags)), p: flags.eraseFraction }
            : false,
        learningRate: flags.lr,
        schedule: flags.schedule,
        validationSplit: flags.validationSplit,
        ...(flags.patience !== undefined ? { patience: flags.patience } : {}),
        ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
        onBatchEnd: (p) => {
          if (p.batch === 0) bar.reset(`epoch ${p.epoch + 1}/${p.epochs}`, p.batches);
          bar.update(p.batch + 1, {
            loss: p.loss.toFixed(3),
            acc: p.acc.toFixed(3),
            'img/s': Math.round(p.imagesPerSec),
            run: `${formatDuration(p.etaSeconds)} left`,
          });
        },
        onEpochEnd: async (e) => {
          out.done(
            bar,
            `epoch ${e.epoch + 1}/${e.epochs}  loss ${e.loss.toFixed(4)}  acc ${e.acc.toFixed(4)}` +
              (e.valLoss !== undefined
                ? `  val_loss ${e.valLoss.toFixed(4)}  val_acc ${e.valAcc?.toFixed(4)}`
                : '') +
              `  ${e.seconds.toFixed(1)} s`,
          );
          epochs.push(e);
          // A checkpoint after every epoch, with the optimizer state, so that --resume loses at most one epoch.
          await withIoErrors(`saving the model after epoch ${e.epoch + 1}`, outDir, () =>
            saveModel(model, outDir, {
              includeOptimizer: true,
              metadata: {
                epochsDone: e.epoch + 1,
                seed: flags.seed ?? null,
                eraseFraction: flags.eraseFraction,
              },
            }),
          );
        },
      });
      const ev = await evaluateCnn(model, test);
      let written: Awaited<ReturnType<typeof writeCnnReport>> = {};
      if (report) {
        written = await writeCnnReport(
          report,
          'CNN training on Fashion-MNIST',
          test,
          ev,
          {
            data: `${data.source.kind}: ${data.source.location}`,
            'training images': train.count,
            'validation split': flags.validationSplit,
            'test images': test.count,
            epochs: `${history.epochs.length} run (${history.stopReason})`,
            'batch size': flags.batchSize,
            'erase fraction': flags.eraseFraction,
            seed: flags.seed ?? 'none',
            backend,
            'training time': `${history.seconds.toFixed(1)} s`,
            model: outDir,
          },
          data.isSample,
          epochs,
        );
      }
      if (flags.json) {
        out.json({
          command: 'train',
          accuracy: ev.accuracy,
          loss: ev.loss,
          test: ev.count,
          train: train.count,
          backend,
          seconds: history.seconds,
          stopReason: history.stopReason,
          epochs: history.epochs,
          isSample: data.isSample,
          source: data.source,
          model: outDir,
          perClass: ev.perClass,
          confusion: ev.confusion,
          report: written.value,
          ...(written.error ? { error: errorJson(written.error) } : {}),
        });
      } else {
        out.say(
          `${data.isSample ? 'SAMPLE ' : ''}CNN test accuracy: ${percent(ev.accuracy)} on ${ev.count} images (loss ${ev.loss.toFixed(4)}); model saved in ${outDir}`,
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
