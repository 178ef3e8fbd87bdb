#!/usr/bin/env node
// The `fashion-mnist` binary (package.json "bin", built to dist/cli.js). No top-level await, so that the same
// entry also builds as CommonJS alongside the library's other entries.
import { runCli } from './program.js';

runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
