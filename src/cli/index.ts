// The cli capability (Node only): the `fashion-mnist` program, runnable in-process.

export type { CliIo } from './context.js';
export { createProgram, EXIT, runCli } from './program.js';
