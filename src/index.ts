// Universal entry: everything here must bundle for a browser (no Node built-ins).

export * from './augment/index.js';
export * from './cnn/index.js';
export * from './data/index.js';
export * from './errors.js';
export * from './knn/index.js';
export * from './report/index.js';
