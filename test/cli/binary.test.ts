// The real binary in a child process: exit codes reach the shell and user errors print no stack trace.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STACK_LINE } from './run.js';

function bin(args: string[], timeout = 60_000) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    timeout,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('fashion-mnist binary', () => {
  it('starts with a shebang so npm can link it as a command', () => {
    expect(readFileSync('src/cli/main.ts', 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('--version prints the package version and exits 0', () => {
    const r = bin(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  });

  it('a user error exits 2 with one message and no stack trace', () => {
    const r = bin(['evaluate', '--model', '/nonexistent/model', '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^fashion-mnist: \/nonexistent\/model: no such model directory/);
    expect(r.stderr).toContain('(BAD_MODEL: ');
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('evaluate --model /nonexistent --json prints a JSON error object on stdout and exits 2', () => {
    const r = bin(['evaluate', '--model', '/nonexistent', '--json']);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(['error']);
    expect(out.error.code).toBe('BAD_MODEL');
    expect(out.error.message).toContain('/nonexistent');
  });

  it('train --epochs 2 --train-size 1280 with stderr in a file leaves two epoch lines there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fmnist-bin-'));
    try {
      const r = bin(
        [
          'train',
          '--sample',
          '--backend',
          'wasm',
          '--epochs',
          '2',
          '--train-size',
          '1280',
          '--test-size',
          '50',
          '--out',
          join(dir, 'model'),
        ],
        300_000,
      );
      expect(r.code, r.stderr).toBe(0);
      const epochs = r.stderr.split('\n').filter((l) => /^epoch \d+\/2 {2}loss /.test(l));
      expect(epochs).toHaveLength(2);
      expect(r.stderr).not.toContain('\r');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('a bad option value exits 2', () => {
    const r = bin(['train', '--epochs', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--epochs must be an integer >= 1, received '0'");
  });
});
