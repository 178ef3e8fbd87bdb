// Runs the CLI in-process with captured output, the way the binary would run it.
import { runCli } from '../../src/cli/program.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(
  args: string[],
  env?: Record<string, string | undefined>,
  tty = false,
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: { write: (s: string) => (stdout += s), isTTY: false },
    stderr: { write: (s: string) => (stderr += s), isTTY: tty, columns: 120 },
    ...(env ? { env } : {}),
  });
  return { code, stdout, stderr };
}

/** A stack trace line, which user errors must never show. */
export const STACK_LINE = /^\s+at .+\(.+:\d+:\d+\)|^\s+at .+:\d+:\d+$/m;
