// A progress bar for long jobs (loading, k-NN chunks, training batches). It writes only to an interactive
// terminal: piped output, CI logs and `--quiet` stay clean, so scripts can parse stdout (`--json`) while people
// still see where a ten-minute job stands. No Node imports: the stream is passed in or looked up at run time.

import {
  badOption,
  checkBoolean,
  checkFunction,
  checkNumber,
  mergeOptions,
  show,
} from '../internal/validate.js';

/**
 * What a progress bar writes to: `process.stderr` or anything with the same `write`, `isTTY` and `columns`.
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const stream: ProgressStream = { write: (s) => lines.push(s), isTTY: true, columns: 80 };
 * ```
 */
export interface ProgressStream {
  write(chunk: string): unknown;
  /** Only a TTY gets a bar; anything else gets nothing. */
  isTTY?: boolean;
  /** Terminal width; the bar shrinks to fit. */
  columns?: number;
}

/**
 * Options of {@link createProgressBar}.
 *
 * @example
 * ```ts
 * const options: ProgressBarOptions = { total: 60000, label: 'loading', quiet: argv.quiet };
 * ```
 */
export interface ProgressBarOptions {
  /** Units of work in all (images, chunks, batches, bytes). */
  total?: number;
  /** Shown before the bar, e.g. `'k-NN'` or `'epoch 3/10'`. */
  label?: string;
  /** Where to draw (default: `process.stderr`, when there is a `process`). */
  stream?: ProgressStream;
  /** Draw nothing at all (the CLI's `--quiet`). */
  quiet?: boolean;
  /** Draw even when the stream is not a TTY (tests, or a user who wants the bar in a log). */
  force?: boolean;
  /** Milliseconds between redraws; updates in between are folded into the next one (default 100). */
  throttleMs?: number;
  /** Clock in milliseconds (default `Date.now`); tests pass a fake one. */
  now?: () => number;
}

/**
 * A live progress bar; see {@link createProgressBar}.
 *
 * @example
 * ```ts
 * const bar: ProgressBar = createProgressBar({ total: 10 });
 * bar.update(5, { loss: '0.31' });
 * bar.finish();
 * ```
 */
export interface ProgressBar {
  /** Whether this bar draws anything (false when quiet or not on a TTY). */
  readonly active: boolean;
  /**
   * Sets how much is done, with optional extra fields shown after the bar (e.g. `{ loss: '0.412' }`).
   * Redraws at most every `throttleMs`.
   */
  update(done: number, fields?: Readonly<Record<string, string | number>>): void;
  /** Changes the label (e.g. a new epoch) and optionally the total, and starts the rate clock again. */
  reset(label: string, total?: number): void;
  /** Draws the final state and moves to a new line; `message` replaces the bar's text when given. */
  finish(message?: string): void;
}

const PROGRESS_DEFAULTS: Readonly<ProgressBarOptions> = Object.freeze({
  total: 1,
  label: '',
  stream: undefined,
  quiet: false,
  force: false,
  throttleMs: 100,
  now: undefined,
});

/**
 * `h:mm:ss` or `m:ss`, the way people read remaining time; `--:--` when unknown (no rate yet).
 *
 * @example
 * ```ts
 * formatDuration(75);   // '1:15'
 * formatDuration(3725); // '1:02:05'
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

function defaultStream(): ProgressStream | undefined {
  const proc = (globalThis as { process?: { stderr?: ProgressStream } }).process;
  return proc?.stderr;
}

/**
 * A one-line progress bar with percentage, rate and ETA, redrawn in place with `\r`. It draws only on a TTY
 * (unless `force`) and never when `quiet`, so the same code serves people at a terminal and scripts reading
 * the output.
 *
 * @throws FashionMnistError `BAD_OPTION` for bad options.
 * @example
 * ```ts
 * const bar = createProgressBar({ total: batches, label: 'epoch 1/10' });
 * for (let b = 0; b < batches; b++) {
 *   // … train one batch …
 *   bar.update(b + 1, { loss: loss.toFixed(3) });
 * }
 * bar.finish();
 * ```
 */
export function createProgressBar(options?: ProgressBarOptions): ProgressBar {
  const o = mergeOptions('createProgressBar', PROGRESS_DEFAULTS, options);
  let total = checkNumber('createProgressBar', 'total', o.total, { min: 0 });
  checkBoolean('createProgressBar', 'quiet', o.quiet);
  checkBoolean('createProgressBar', 'force', o.force);
  const throttle = checkNumber('createProgressBar', 'throttleMs', o.throttleMs, { min: 0 });
  if (typeof o.label !== 'string') {
    throw badOption(`createProgressBar: option 'label' must be a string, received ${show(o.label)}`);
  }
  checkFunction('createProgressBar', 'now', o.now);
  const stream = o.stream ?? defaultStream();
  const now = o.now ?? Date.now;
  const active = !o.quiet && stream !== undefined && (o.force || stream.isTTY === true);
  let label = o.label;
  let started = now();
  let lastDraw = -Infinity;
  let done = 0;
  let fields: Readonly<Record<string, string | number>> = {};
  let lastWidth = 0;

  const line = (): string => {
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const elapsed = (now() - started) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const eta = rate > 0 ? (total - done) / rate : Number.NaN;
    const extra = Object.entries(fields)
      .map(([k, v]) => `${k} ${v}`)
      .join('  ');
    const tail = `${(fraction * 100).toFixed(0).padStart(3)}% ${done}/${total}  ETA ${formatDuration(eta)}${
      extra ? `  ${extra}` : ''
    }`;
    const columns = stream?.columns && stream.columns > 20 ? stream.columns : 100;
    const room = columns - 1 - label.length - tail.length - 4;
    const width = Math.max(0, Math.min(30, room));
    const filled = Math.round(fraction * width);
    const bar = width > 0 ? ` [${'#'.repeat(filled)}${'-'.repeat(width - filled)}]` : '';
    return `${label}${bar} ${tail}`.slice(0, columns - 1);
  };

  const draw = (text: string): void => {
    if (!stream) return;
    const pad = lastWidth > text.length ? ' '.repeat(lastWidth - text.length) : '';
    stream.write(`\r${text}${pad}`);
    lastWidth = text.length;
  };

  return {
    active,
    update(value, extra) {
      done = value;
      if (extra) fields = extra;
      if (!active) return;
      const t = now();
      if (t - lastDraw < throttle && done < total) return;
      lastDraw = t;
      draw(line());
    },
    reset(newLabel, newTotal) {
      label = newLabel;
      if (newTotal !== undefined) total = checkNumber('ProgressBar.reset', 'total', newTotal, { min: 0 });
      done = 0;
      fields = {};
      started = now();
      lastDraw = -Infinity;
    },
    finish(message) {
      if (!active) return;
      draw(message ?? line());
      stream?.write('\n');
      lastWidth = 0;
    },
  };
}
