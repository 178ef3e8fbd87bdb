// Node entry: the universal API plus what needs the file system or worker threads.
export * from './index.js';
export { DEBIAN_DIR, defaultCacheDir, loadFashionMnist, loadSample, packageRoot } from './data/node.js';
export type { LoadNodeOptions } from './data/node.js';
export { decodePng, encodePng, writePng } from './report/png.js';
