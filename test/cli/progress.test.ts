import { describe, expect, it } from 'vitest';
import { createProgressBar, formatDuration, type ProgressStream } from '../../src/cli/progress.js';

const BAD_OPTION = expect.objectContaining({ name: 'FashionMnistError', code: 'BAD_OPTION' });

function sink(isTTY: boolean, columns = 100): ProgressStream & { text: string } {
  const s = {
    text: '',
    isTTY,
    columns,
    write(chunk: string) {
      s.text += chunk;
      return true;
    },
  };
  return s;
}

describe('createProgressBar', () => {
  it('draws in place on a TTY with percentage, counts, ETA and fields', () => {
    let t = 0;
    const stream = sink(true);
    const bar = createProgressBar({ total: 10, label: 'k-NN', stream, now: () => t, throttleMs: 0 });
    expect(bar.active).toBe(true);
    t = 1000;
    bar.update(5, { loss: '0.500' });
    expect(stream.text.startsWith('\rk-NN [')).toBe(true);
    expect(stream.text).toContain(' 50% 5/10');
    // 5 units in 1 s: 5 more take 1 s.
    expect(stream.text).toContain('ETA 0:01');
    expect(stream.text).toContain('loss 0.500');
    bar.finish();
    expect(stream.text.endsWith('\n')).toBe(true);
  });

  it('writes nothing when the stream is not a TTY, or when quiet', () => {
    for (const [isTTY, quiet] of [
      [false, false],
      [true, true],
    ] as const) {
      const stream = sink(isTTY);
      const bar = createProgressBar({ total: 3, stream, quiet, throttleMs: 0 });
      expect(bar.active).toBe(false);
      bar.update(1);
      bar.update(3);
      bar.finish('done');
      expect(stream.text).toBe('');
    }
  });

  it('draws on a non-TTY stream when forced', () => {
    const stream = sink(false);
    const bar = createProgressBar({ total: 2, stream, force: true, throttleMs: 0 });
    bar.update(2);
    expect(stream.text).toContain('100% 2/2');
  });

  it('throttles redraws but always draws the last step', () => {
    let t = 0;
    const stream = sink(true);
    const bar = createProgressBar({ total: 100, stream, now: () => t, throttleMs: 100 });
    for (let i = 1; i <= 100; i++) {
      t += 1; // 1 ms per step: only a few redraws may happen
      bar.update(i);
    }
    const draws = stream.text.split('\r').length - 1;
    expect(draws).toBeLessThanOrEqual(3);
    expect(stream.text).toContain('100% 100/100');
  });

  it('fits the terminal width and pads over a longer previous line', () => {
    const stream = sink(true, 40);
    const bar = createProgressBar({ total: 10, label: 'a-long-label', stream, throttleMs: 0 });
    bar.update(1, { field: 'x'.repeat(60) });
    for (const line of stream.text.split('\r').filter(Boolean)) expect(line.length).toBeLessThanOrEqual(39);
    bar.reset('b', 5);
    bar.update(5);
    const last = stream.text.split('\r').pop() ?? '';
    expect(last.startsWith('b')).toBe(true);
    expect(last).toContain('5/5');
  });

  it('rejects bad options with FashionMnistError BAD_OPTION', () => {
    expect(() => createProgressBar({ total: -1 })).toThrow(BAD_OPTION);
    expect(() => createProgressBar({ total: 'x' as unknown as number })).toThrow(BAD_OPTION);
    expect(() => createProgressBar({ quiet: 1 as unknown as boolean })).toThrow(BAD_OPTION);
    expect(() => createProgressBar({ label: 3 as unknown as string })).toThrow(BAD_OPTION);
    expect(() => createProgressBar({ colour: true } as unknown as object)).toThrow(/unknown option 'colour'/);
  });
});

describe('formatDuration', () => {
  it('formats seconds as m:ss or h:mm:ss and unknowns as --:--', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(75)).toBe('1:15');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(Number.NaN)).toBe('--:--');
    expect(formatDuration(-1)).toBe('--:--');
  });
});
