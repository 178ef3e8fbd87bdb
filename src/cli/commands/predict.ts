import { basename, join } from 'node:path';
import { Command, Option } from 'commander';
import { predictCnnTopK, type TopKPrediction } from '../../cnn/evaluate.js';
import { IMAGE_SIZE } from '../../data/catalog.js';
import { toFashionMnistImage } from '../../data/image.js';
import { FashionMnistError } from '../../errors.js';
import { writePng } from '../../report/png.js';
import { setUpBackend } from '../backend.js';
import { type CliIo, type CommonFlags, commonOptions, errorJson, intArg, makeOut } from '../context.js';
import { readImageFile } from '../image.js';
import { MODEL_FLAG_HELP, resolveModel } from '../model.js';
import { checkOutputDir } from '../paths.js';

interface PredictFlags extends CommonFlags {
  model?: string;
  top: number;
  invert: 'auto' | 'yes' | 'no';
  savePreprocessed?: string;
}

/** One file's outcome: its 28×28 image (then its top classes), or why it could not be used. */
interface Input {
  file: string;
  pixels?: Uint8Array;
  inverted?: boolean;
  top?: TopKPrediction[];
  saved?: string;
  error?: FashionMnistError;
}

/** The error of one file as a user error that names the file; a bug (anything untyped) is thrown on. */
function fileError(file: string, e: unknown): FashionMnistError {
  if (!(e instanceof FashionMnistError)) throw e;
  if (e.message.includes(file)) return e;
  return new FashionMnistError(e.code, `${file}: ${e.message}`, { path: file, cause: e });
}

/** `fashion-mnist predict <images…>`: top classes of PNG/JPEG files of any size. */
export function predictCommand(io: CliIo): Command {
  const cmd = new Command('predict')
    .summary('classify PNG/JPEG images of any size (top-3 classes)')
    .description(
      'Classifies image files with the pretrained CNN (or --model). Each picture is converted the way ' +
        'Fashion-MNIST was made: trim the background (edges within 5 % of the corner colour), resize the ' +
        'longest edge to 28, sharpen, centre on 28×28, and negate when the background is light, because the ' +
        'data set holds light objects on black (a product photo on white becomes one). --invert forces it. ' +
        'An image that is already 28×28 grayscale is used as it is. Every file is tried: the results of the ' +
        'good ones are printed, and the command exits with 2 afterwards when any file failed.',
    )
    .argument('<images...>', 'PNG or JPEG files')
    .option('--model <dir|name>', MODEL_FLAG_HELP)
    .option('--top <k>', 'classes to print per image', intArg('--top', 1, 10), 3)
    .addOption(
      new Option('--invert <when>', 'negate intensities: auto (when the background is light), yes, no')
        .choices(['auto', 'yes', 'no'])
        .default('auto'),
    )
    .option(
      '--save-preprocessed <dir>',
      'also write the 28×28 image the model saw, as PNG, into this directory',
    );
  commonOptions(cmd).action(async (files: string[], flags: PredictFlags) => {
    const out = makeOut(io, flags);
    const saveDir =
      flags.savePreprocessed === undefined
        ? undefined
        : checkOutputDir('--save-preprocessed', flags.savePreprocessed);
    // Read every image before loading the model: a bad file is reported, and the others still classified.
    const inputs: Input[] = [];
    for (const file of files) {
      const input: Input = { file };
      inputs.push(input);
      try {
        const image = await readImageFile(file);
        const invert = flags.invert === 'auto' ? 'auto' : flags.invert === 'yes';
        const { pixels, inverted } = toFashionMnistImage(image, { invert, size: IMAGE_SIZE });
        input.pixels = pixels;
        input.inverted = inverted;
      } catch (e) {
        input.error = fileError(file, e);
        continue;
      }
      if (saveDir !== undefined) {
        const path = join(saveDir, `${basename(file).replace(/\.[^.]*$/, '')}.28x28.png`);
        try {
          await writePng(path, { data: input.pixels, width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 });
          input.saved = path;
        } catch (e) {
          input.error = fileError(file, e);
        }
      }
    }
    const usable = inputs.filter((x) => x.pixels !== undefined);
    let model = '';
    let backend = '';
    if (usable.length > 0) {
      backend = await setUpBackend(flags.backend);
      const resolved = await resolveModel(flags.model);
      model = resolved.label;
      try {
        const px = IMAGE_SIZE * IMAGE_SIZE;
        const all = new Uint8Array(usable.length * px);
        for (const [i, x] of usable.entries()) all.set(x.pixels as Uint8Array, i * px);
        const results = await predictCnnTopK(resolved.model, all, flags.top);
        for (const [i, x] of usable.entries()) x.top = results[i];
      } finally {
        resolved.model.dispose();
      }
    }
    const failed = inputs.filter((x) => x.error !== undefined);
    if (flags.json) {
      out.json({
        command: 'predict',
        model: model || undefined,
        backend: backend || undefined,
        images: inputs.map((x) => ({
          file: x.file,
          ...(x.inverted !== undefined ? { inverted: x.inverted } : {}),
          ...(x.top ? { top: x.top } : {}),
          ...(x.saved ? { saved: x.saved } : {}),
          ...(x.error ? { error: errorJson(x.error) } : {}),
        })),
        failed: failed.length,
      });
    } else {
      for (const x of inputs) {
        if (x.top === undefined) continue;
        out.say(`${x.file}${x.inverted ? '' : '  (not inverted: dark background)'}`);
        x.top.forEach((p, r) => {
          out.say(`  ${r + 1}. ${p.className.padEnd(12)} ${(p.probability * 100).toFixed(1).padStart(5)} %`);
        });
      }
    }
    if (failed.length === 0) return;
    // Every file was tried; now say what failed. One file: its own error; several: each, then a summary.
    if (inputs.length === 1) out.fail(failed[0].error as FashionMnistError);
    for (const x of failed) {
      const e = x.error as FashionMnistError;
      io.stderr.write(`fashion-mnist: ${e.message} (${e.code})\n`);
    }
    const first = failed[0].error as FashionMnistError;
    out.fail(
      new FashionMnistError(
        first.code,
        `${failed.length} of ${inputs.length} images could not be used (listed above)` +
          (inputs.some((x) => x.top) ? '; the results that could be computed are printed' : ''),
      ),
    );
  });
  return cmd;
}
