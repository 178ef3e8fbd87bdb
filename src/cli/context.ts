// What every command shares: where output goes, the common flags, number parsing that fails with a message a
// user can act on, data loading with a progress bar, and writing the HTML report.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { FashionMnist, LoadProgress } from '../data/assemble.js';
import { FASHION_MNIST } from '../data/catalog.js';
import { DEBIAN_DIR, defaultCacheDir, loadFashionMnist, loadSample } from '../data/node.js';
import { type Split, subset } from '../data/split.js';
import { FashionMnistError } from '../errors.js';
import { BACKEND_CHOICES, type BackendChoice } from './backend.js';
import { ioError, isErrnoError, withIoErrors } from './paths.js';
import { createProgressBar, type ProgressBar, type ProgressStream } from './progress.js';

/**
 * Streams and environment of one CLI run; tests pass their own to run the CLI in-process.
 *
 * @example
 * ```ts
 * let out = '';
 * const io: CliIo = { stdout: { write: (s) => (out += s) }, stderr: process.stderr };
 * await runCli(['data', '--sample', '--json'], io);
 * ```
 */
export interface CliIo {
  stdout: ProgressStream;
  stderr: ProgressStream;
  /** Environment variables (default `process.env`). */
  env?: Record<string, string | undefined>;
}

/** Flags every command has (`backend` only on the commands that run TensorFlow.js). */
export interface CommonFlags {
  backend?: BackendChoice;
  quiet?: boolean;
  json?: boolean;
}

/**
 * Errors that a command has already put into its `--json` result (a write that failed after the work was done):
 * runCli exits 2 for them without printing a second JSON object.
 */
export const REPORTED_IN_JSON = new WeakSet<object>();

/** Flags of the commands that read the data set. */
export interface DataFlags {
  dataDir?: string;
  sample?: boolean;
  download: boolean;
}

/** Output helpers bound to one command's flags. */
export interface Out {
  readonly io: CliIo;
  readonly flags: CommonFlags;
  /** A result line for people on stdout; replaced by the one object of `--json`, kept with `--quiet`. */
  say(line?: string): void;
  /** A message on stderr (what is happening, SAMPLE warnings), even with `--json`; silenced by `--quiet`. */
  warn(line: string): void;
  /** The single JSON result of `--json`. */
  json(value: unknown): void;
  /** A progress bar on stderr, drawn only on a TTY and without `--quiet`. */
  bar(label: string, total: number): ProgressBar;
  /**
   * Ends a step: on a terminal the bar's last state becomes `message`; elsewhere (a pipe, a CI log) `message`
   * is one line on stderr, so scripts see each epoch and phase. Nothing with `--quiet`.
   */
  done(bar: ProgressBar, message: string): void;
  /**
   * Ends a command whose work is done but whose output could not be written: with `--json` the error is
   * already in the printed object, so it is marked as reported; throws it, for exit code 2.
   */
  fail(error: FashionMnistError): never;
}

export function makeOut(io: CliIo, flags: CommonFlags): Out {
  return {
    io,
    flags,
    say(line = '') {
      if (!flags.json) io.stdout.write(`${line}\n`);
    },
    warn(line) {
      if (!flags.quiet) io.stderr.write(`${line}\n`);
    },
    json(value) {
      io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    bar(label, total) {
      return createProgressBar({ label, total, stream: io.stderr, quiet: Boolean(flags.quiet) });
    },
    done(bar, message) {
      if (bar.active) bar.finish(message);
      else if (!flags.quiet) io.stderr.write(`${message}\n`);
    },
    fail(error) {
      if (flags.json) REPORTED_IN_JSON.add(error);
      throw error;
    },
  };
}

/** `{ code, message }` of an error, for the `error` field of a `--json` result. */
export function errorJson(e: FashionMnistError): { code: string; message: string } {
  return { code: e.code, message: e.message };
}

/**
 * Runs a write that comes after the work (a report, a picture): a failure is returned as a typed error instead
 * of thrown, so that the command still prints its result before exiting with code 2.
 */
export async function afterWork<T>(
  what: string,
  path: string,
  write: () => Promise<T>,
): Promise<{ value?: T; error?: FashionMnistError }> {
  try {
    return { value: await withIoErrors(what, path, write) };
  } catch (e) {
    if (e instanceof FashionMnistError) return { error: e };
    throw e;
  }
}

/**
 * An option that is another name for `target` (the attribute of the option it stands for), hidden from the
 * help: torchvision's reference scripts call `--out` `--output-dir`, `--data-dir` `--data-path`, and so on.
 */
export class AliasOption extends Option {
  constructor(
    flags: string,
    private readonly target: string,
  ) {
    super(flags);
    this.hideHelp();
  }

  override attributeName(): string {
    return this.target;
  }
}

/** Adds `--quiet` and `--json`, which every command has. */
export function outputOptions(cmd: Command): Command {
  return cmd
    .option(
      '-q, --quiet',
      'no progress bars or messages, only results and errors (without it, a pipe gets one line per step)',
    )
    .option(
      '--json',
      'print one JSON object with the results, or { "error": { code, message } } (for scripts)',
    );
}

/** Adds `--backend`, for the commands that run TensorFlow.js. */
export function backendOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--backend <name>', 'TensorFlow.js backend; auto picks the fastest installed')
      .choices(BACKEND_CHOICES)
      .default('auto'),
  );
}

/** Adds `--backend`, `--quiet` and `--json` to a command that runs TensorFlow.js. */
export function commonOptions(cmd: Command): Command {
  return outputOptions(backendOption(cmd));
}

/** Adds the options that say where the data set is. */
export function dataOptions(cmd: Command): Command {
  return cmd
    .option(
      '--data-dir <dir>',
      'directory with the four Fashion-MNIST .gz files (default: the usual search; alias --data-path)',
    )
    .addOption(new AliasOption('--data-path <dir>', 'dataDir'))
    .option('--sample', 'use the small sample shipped in the package (results are marked SAMPLE)')
    .option('--no-download', 'do not download when no local copy is found');
}

/** A parser for an integer option within bounds, for commander. */
export function intArg(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
      throw new InvalidArgumentError(`${name} must be an integer ${range}, received '${value}'.`);
    }
    return n;
  };
}

/** A parser for a number option within bounds, for commander. */
export function numArg(name: string, min = -Infinity, max = Infinity) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      const range =
        min === -Infinity && max === Infinity
          ? ''
          : max === Infinity
            ? ` >= ${min}`
            : min === -Infinity
              ? ` <= ${max}`
              : ` from ${min} to ${max}`;
      throw new InvalidArgumentError(`${name} must be a number${range}, received '${value}'.`);
    }
    return n;
  };
}

/** Options that several commands take, each with the same flag and parser; the help text is the command's. */
const SHARED_OPTIONS = {
  'train-size': { flags: '--train-size <n>', parse: intArg('--train-size', 1) },
  'test-size': { flags: '--test-size <n>', parse: intArg('--test-size', 1) },
  'batch-size': { flags: '-b, --batch-size <n>', parse: intArg('--batch-size', 1) },
  report: { flags: '--report <file>', parse: undefined },
} as const;

/**
 * One of the options several commands share (`--train-size`, `--test-size`, `--batch-size`, `--report`), with
 * this command's help text and default, for `cmd.addOption`.
 *
 * @example
 * ```ts
 * cmd.addOption(sharedOption('batch-size', 'images per forward pass', 500));
 * ```
 */
export function sharedOption(name: keyof typeof SHARED_OPTIONS, help: string, defaultValue?: number): Option {
  const { flags, parse } = SHARED_OPTIONS[name];
  const option = new Option(flags, help);
  if (parse) option.argParser(parse);
  return defaultValue === undefined ? option : option.default(defaultValue);
}

/** Flags of the commands that load the data set and work on its first N images. */
export interface DataCommandFlags extends CommonFlags, DataFlags {
  trainSize?: number;
  testSize?: number;
  report?: string;
}

/** The data set as the flags say, with its first `--train-size` training and `--test-size` test images. */
export interface LoadedData {
  data: FashionMnist;
  train: Split;
  test: Split;
}

/**
 * Adds the data and common options to a command and makes `action` its action, called with the parsed flags,
 * output helpers bound to them, and a loader that each command calls when its own checks have passed.
 *
 * @example
 * ```ts
 * return dataAction(io, cmd, async (flags: EvaluateFlags, out, load) => {
 *   const { data, test } = await load();
 *   out.say(`${test.count} test images from ${data.source.kind}`);
 * });
 * ```
 */
export function dataAction<F extends DataCommandFlags>(
  io: CliIo,
  cmd: Command,
  action: (flags: F, out: Out, load: () => Promise<LoadedData>) => Promise<void>,
): Command {
  return dataOptions(commonOptions(cmd)).action(async (flags: F) => {
    const out = makeOut(io, flags);
    const load = async (): Promise<LoadedData> => {
      const data = await loadData(out, flags);
      return {
        data,
        train: firstImages(data.train, flags.trainSize),
        test: firstImages(data.test, flags.testSize),
      };
    };
    await action(flags, out, load);
  });
}

/** The first `n` images of a split, or all of them when `n` is not given or larger. */
export function firstImages(split: Split, n: number | undefined): Split {
  return subset(split, 0, Math.min(n ?? split.count, split.count));
}

const PHASE: Record<LoadProgress['phase'], string> = {
  read: 'reading',
  download: 'downloading',
  verify: 'verifying',
  done: 'loaded',
};

/** How to get the full data set, for `fashion-mnist data`, its help and every "not found" message. */
export const HOW_TO_GET: readonly string[] = [
  'How to get the full data set (any one of these):',
  `  apt-get install dataset-fashion-mnist     Debian/Ubuntu; installs into ${DEBIAN_DIR}`,
  '  export FASHION_MNIST_DIR=/path/to/files    a directory with the four .gz files',
  '  fashion-mnist data                         downloads into the cache when online',
  `  (cache: ${defaultCacheDir()}; mirrors: ${FASHION_MNIST.mirrors.join(', ')})`,
  'Or try any command on the small sample shipped in the package with --sample.',
];

/** Loads the data set as the flags say, with a progress bar over the files. */
export async function loadData(out: Out, flags: DataFlags): Promise<FashionMnist> {
  const bar = out.bar('data', 4);
  const onProgress = (p: LoadProgress) => {
    bar.update(p.filesDone, { [PHASE[p.phase]]: p.file });
  };
  const env = out.io.env ?? process.env;
  const saved = process.env.FASHION_MNIST_DIR;
  // The loader reads FASHION_MNIST_DIR from process.env; an in-process run with its own env must see that one.
  if (out.io.env) {
    if (env.FASHION_MNIST_DIR === undefined) delete process.env.FASHION_MNIST_DIR;
    else process.env.FASHION_MNIST_DIR = env.FASHION_MNIST_DIR;
  }
  try {
    const data = flags.sample
      ? await loadSample({ onProgress })
      : await loadFashionMnist({ dir: flags.dataDir, download: flags.download, onProgress });
    out.done(
      bar,
      `data: ${data.train.count} training + ${data.test.count} test images (${data.source.kind})`,
    );
    if (data.isSample) {
      out.warn(
        'SAMPLE: using the small embedded sample (6,000 training / 1,000 test images); results are not comparable with published figures.',
      );
    }
    return data;
  } catch (e) {
    // Every way a missing data set can be reported should end with how to get it.
    if (e instanceof FashionMnistError && e.code === 'NOT_FOUND' && !e.message.includes('apt-get')) {
      throw new FashionMnistError('NOT_FOUND', `${e.message}\n${HOW_TO_GET.join('\n')}`, {
        path: e.path,
        cause: e,
      });
    }
    // A file the loader could not read (a directory in a .gz file's place, no permission): the user's to fix.
    if (isErrnoError(e)) throw ioError(e, 'reading the data set', flags.dataDir);
    throw e;
  } finally {
    if (out.io.env) {
      if (saved === undefined) delete process.env.FASHION_MNIST_DIR;
      else process.env.FASHION_MNIST_DIR = saved;
    }
  }
}

/** Writes a text file, creating its directory; returns the absolute path. A system error is `IO_ERROR`. */
export async function writeText(path: string, text: string): Promise<string> {
  const abs = resolve(path);
  return withIoErrors('writing the file', abs, async () => {
    await mkdir(dirname(abs), { recursive: true });
    await writeFile(abs, text);
    return abs;
  });
}

/** Formats a 0..1 fraction as a percentage with two decimals. */
export function percent(x: number): string {
  return `${(x * 100).toFixed(2)} %`;
}

/** The published accuracies users compare with (the reference study, then the Fashion-MNIST benchmark). */
export const REFERENCES = Object.freeze({
  knn: [
    { label: 'reference k-NN (k = 5)', accuracy: 0.8577 },
    { label: 'Fashion-MNIST benchmark', accuracy: 0.86 },
  ],
  cnn: [
    { label: 'reference CNN (50 epochs, random erasing)', accuracy: 0.9232 },
    { label: 'Fashion-MNIST benchmark', accuracy: 0.916 },
  ],
});
