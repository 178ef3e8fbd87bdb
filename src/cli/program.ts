// The `fashion-mnist` command line: one commander program, runnable in-process (tests, embedding) with its own
// streams, that turns every failure into an exit code and a message instead of a stack trace.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { packageRoot } from '../data/node.js';
import { ERROR_CODES, FashionMnistError } from '../errors.js';
import { dataCommand } from './commands/data.js';
import { erasePreviewCommand } from './commands/erase-preview.js';
import { evaluateCommand } from './commands/evaluate.js';
import { knnCommand } from './commands/knn.js';
import { predictCommand } from './commands/predict.js';
import { trainCommand } from './commands/train.js';
import { type CliIo, REPORTED_IN_JSON } from './context.js';
import { ioError, isErrnoError } from './paths.js';

/**
 * Exit codes of the `fashion-mnist` binary: `0` success; `1` an unexpected failure (a bug: please report it, the
 * stack trace is printed); `2` a problem the user can fix (a bad option value, a missing data set or model, an
 * unreadable image), explained in one message without a stack trace.
 *
 * @example
 * ```ts
 * const code = await runCli(['data', '--json']);
 * if (code === EXIT.USER_ERROR) console.error('see the message above');
 * ```
 */
export const EXIT = Object.freeze({ OK: 0, UNEXPECTED: 1, USER_ERROR: 2 });

function version(): string {
  try {
    return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version as string;
  } catch {
    return 'unknown';
  }
}

/**
 * Builds the `fashion-mnist` command tree writing to `io`. Commander errors are thrown (not exited) so that
 * {@link runCli} decides the exit code.
 *
 * @example
 * ```ts
 * const program = createProgram({ stdout: process.stdout, stderr: process.stderr });
 * console.log(program.commands.map((c) => c.name())); // ['data', 'knn', 'train', …]
 * ```
 */
export function createProgram(io: CliIo): Command {
  const program = new Command('fashion-mnist')
    .description(
      'Fashion-MNIST with TensorFlow.js: k-nearest neighbours, the reference CNN with random erasing, a ' +
        'pretrained model, and pictures of the results. Run `fashion-mnist <command> --help` for details.',
    )
    .version(version(), '-V, --version')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
    });
  for (const make of [
    dataCommand,
    knnCommand,
    trainCommand,
    evaluateCommand,
    predictCommand,
    erasePreviewCommand,
  ]) {
    program.addCommand(
      make(io)
        .exitOverride()
        .showHelpAfterError('(add --help for usage)')
        .configureOutput({
          writeOut: (s) => void io.stdout.write(s),
          writeErr: (s) => void io.stderr.write(s),
        }),
    );
  }
  program.addHelpText(
    'after',
    '\nExit codes: 0 success, 2 a problem you can fix (message says what), 1 an unexpected error (a bug).\n' +
      'With --json, a failure prints { "error": { "code", "message" } } on stdout, with the same exit code.\n' +
      "Data: the full data set is found via --data-dir, FASHION_MNIST_DIR, the cache, Debian's " +
      'dataset-fashion-mnist, or a download; --sample uses the small sample shipped in the package.',
  );
  return program;
}

/** Whether `--json` was asked for (before a `--` that ends the options), so that failures print JSON too. */
function wantsJson(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).includes('--json');
}

/**
 * Runs the CLI with `args` (without `node` and the script name) and returns the exit code instead of exiting, so
 * that tests run it in-process. A `FashionMnistError` (or a file-system error, typed as `IO_ERROR`) is a problem
 * the user can fix: one line on `io.stderr`, the message and what to do, and 2. A usage error found by commander
 * is 2 as well. Anything else is a bug: its stack, "unexpected error; please report it", and 1. With `--json`,
 * every failure also prints `{ "error": { "code", "message" } }` on stdout.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(process.argv.slice(2));
 * ```
 */
export async function runCli(
  args: readonly string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const json = wantsJson(args);
  const jsonError = (code: string, message: string) => {
    try {
      io.stdout.write(`${JSON.stringify({ error: { code, message } }, null, 2)}\n`);
    } catch {
      // stdout itself is what failed; the message on stderr has to do.
    }
  };
  const program = createProgram(io);
  try {
    if (args.length === 0) {
      program.outputHelp();
      return EXIT.USER_ERROR;
    }
    await program.parseAsync([...args], { from: 'user' });
    return EXIT.OK;
  } catch (caught) {
    if (caught instanceof CommanderError) {
      // Commander has already printed its message (and the hint to use --help).
      if (caught.exitCode === 0) return EXIT.OK;
      if (json) jsonError('BAD_OPTION', caught.message.replace(/^error: /, ''));
      return EXIT.USER_ERROR;
    }
    const e = isErrnoError(caught) ? ioError(caught, 'file system error') : caught;
    if (e instanceof FashionMnistError) {
      io.stderr.write(`fashion-mnist: ${e.message} (${e.code}: ${ERROR_CODES[e.code].todo})\n`);
      if (json && !REPORTED_IN_JSON.has(e)) jsonError(e.code, e.message);
      return EXIT.USER_ERROR;
    }
    const err = e as Error;
    io.stderr.write(
      `fashion-mnist: unexpected error; please report it with the command you ran.\n${err?.stack ?? String(e)}\n`,
    );
    if (json) jsonError('UNEXPECTED', String(err?.message ?? e));
    return EXIT.UNEXPECTED;
  }
}
