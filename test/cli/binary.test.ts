// The real binary in a child process: exit codes reach the shell and user errors print no stack trace.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { STACK_LINE } from './run.js';

function bin(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
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
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('a bad option value exits 2', () => {
    const r = bin(['train', '--epochs', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--epochs must be an integer >= 1, received '0'");
  });
});
