import { Command } from 'commander';
import { FASHION_MNIST } from '../../data/catalog.js';
import { DEBIAN_DIR } from '../../data/node.js';
import { SAMPLE } from '../../data/sample-catalog.js';
import {
  type CliIo,
  type CommonFlags,
  type DataFlags,
  dataOptions,
  HOW_TO_GET,
  loadData,
  makeOut,
  outputOptions,
} from '../context.js';

/** `fashion-mnist data`: where the data set was found, its checksums, and how to get it. */
export function dataCommand(io: CliIo): Command {
  const cmd = new Command('data')
    .summary('where the data set was found, its checksums, how to get it')
    .description(
      'Finds and loads Fashion-MNIST the way every command does (--data-dir, FASHION_MNIST_DIR, the cache, ' +
        `Debian's ${DEBIAN_DIR}, a download), verifies every file by the SHA-256 of its decompressed content, ` +
        'and prints where it was found. Exits with code 2 and instructions when it is nowhere.',
    );
  dataOptions(outputOptions(cmd)).action(async (flags: CommonFlags & DataFlags) => {
    const out = makeOut(io, flags);
    const data = await loadData(out, flags);
    const spec = data.isSample ? SAMPLE : FASHION_MNIST;
    if (flags.json) {
      out.json({
        command: 'data',
        source: data.source,
        isSample: data.isSample,
        train: data.train.count,
        test: data.test.count,
        imageSize: [data.train.height, data.train.width],
        files: spec.files.map((f) => ({
          name: f.name,
          sha256: f.sha256,
          bytes: f.bytes,
          count: f.count,
          verified: true,
        })),
      });
      return;
    }
    out.say(
      `Fashion-MNIST${data.isSample ? ' SAMPLE' : ''} found (${data.source.kind}): ${data.source.location}`,
    );
    out.say(
      `  ${data.train.count} training + ${data.test.count} test images, ${data.train.height}×${data.train.width} grayscale`,
    );
    out.say('  files, SHA-256 of the decompressed content (all verified):');
    for (const f of spec.files) out.say(`    ${f.name.padEnd(28)} ${f.sha256}`);
    if (data.isSample) {
      out.say('');
      out.say('This is the small sample shipped in the package, not the full data set.');
      for (const line of HOW_TO_GET) out.say(line);
    }
  });
  cmd.addHelpText('after', `\n${HOW_TO_GET.join('\n')}`);
  return cmd;
}
