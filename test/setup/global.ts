// Once per test run: build what the sources need at run time (the k-NN and CNN worker thread scripts), so that code run
// from src/ starts worker threads exactly as the built package does.
// @ts-expect-error -- a plain .mjs build script without type declarations
import { buildDevWorker } from '../../scripts/build-dev-worker.mjs';

export default async function setup(): Promise<void> {
  await buildDevWorker();
}
