// Node entry: the universal API plus what needs the file system or worker threads.
export * from './index.js';
