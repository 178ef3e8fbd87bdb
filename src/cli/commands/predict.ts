import { basename, join } from 'node:path';
import { Command, Option } from 'commander';
import { predictCnnTopK, type TopKPrediction } from '../../cnn/evaluate.js';
import { IMAGE_SIZE } from '../../data/catalog.js';
import { writePng } from '../../report/png.js';
import { toFashionMnistImage } from '../../report/preprocess.js';
import { setUpBackend } from '../backend.js';
import { type CliIo, type CommonFlags, commonOptions, intArg, makeOut } from '../context.js';
import { readImageFile } from '../image.js';
import { resolveModel } from '../model.js';

interface PredictFlags extends CommonFlags {
  model?: string;
  top: number;
  invert: 'auto' | 'yes' | 'no';
  savePreprocessed?: string;
}

/** `fashion-mnist predict <images…>`: top classes of PNG/JPEG files of any size. */
export function predictCommand(io: CliIo): Command {
  const cmd = new Command('predict')
    .summary('classify PNG/JPEG images of any size (top-3 classes)')
    .description(
      'Classifies image files with the pretrained CNN (or --model). Each picture is converted the way ' +
        'Fashion-MNIST was made: trim the background (edges within 5 % of the corner colour), resize the ' +
        'longest edge to 28, sharpen, centre on 28×28, and negate when the background is light, because the ' +
        'data set holds light objects on black (a product photo on white becomes one). --invert forces it.',
    )
    .argument('<images...>', 'PNG or JPEG files')
    .option('--model <dir>', 'model directory (default: the pretrained model)')
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
    // Read every image before loading the model, so a bad file is reported at once.
    const inputs: { file: string; pixels: Uint8Array; inverted: boolean }[] = [];
    for (const file of files) {
      const image = await readImageFile(file);
      const invert = flags.invert === 'auto' ? 'auto' : flags.invert === 'yes';
      const { pixels, inverted } = toFashionMnistImage(image, { invert, size: IMAGE_SIZE });
      inputs.push({ file, pixels, inverted });
      if (flags.savePreprocessed) {
        await writePng(join(flags.savePreprocessed, `${basename(file).replace(/\.[^.]*$/, '')}.28x28.png`), {
          data: pixels,
          width: IMAGE_SIZE,
          height: IMAGE_SIZE,
          channels: 1,
        });
      }
    }
    const backend = await setUpBackend(flags.backend);
    const { model, label } = await resolveModel(flags.model);
    let results: TopKPrediction[][];
    try {
      const px = IMAGE_SIZE * IMAGE_SIZE;
      const all = new Uint8Array(inputs.length * px);
      for (const [i, x] of inputs.entries()) all.set(x.pixels, i * px);
      results = await predictCnnTopK(model, all, flags.top);
    } finally {
      model.dispose();
    }
    if (flags.json) {
      out.json({
        command: 'predict',
        model: label,
        backend,
        images: inputs.map((x, i) => ({ file: x.file, inverted: x.inverted, top: results[i] })),
      });
      return;
    }
    inputs.forEach((x, i) => {
      out.say(`${x.file}${x.inverted ? '' : '  (not inverted: dark background)'}`);
      results[i].forEach((p, r) => {
        out.say(`  ${r + 1}. ${p.className.padEnd(12)} ${(p.probability * 100).toFixed(1).padStart(5)} %`);
      });
    });
  });
  return cmd;
}
