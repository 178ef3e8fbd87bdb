// Entry `fashion-mnist-tfjs/data` (universal): the loader by URL, IDX decoding and encoding, the catalogues,
// in-memory splits, and turning your own picture into a Fashion-MNIST image. The loader that reads disk,
// cache, Debian's package or the embedded sample is `loadFashionMnist` of `fashion-mnist-tfjs/node`.

export type { DataSource, FashionMnist, LoadProgress, ProgressCallback } from './assemble.js';
export {
  CLASS_NAMES,
  type DatasetFile,
  type DatasetSpec,
  FASHION_MNIST,
  IMAGE_SIZE,
  NUM_CLASSES,
} from './catalog.js';
export {
  encodeIdx,
  type IdxArray,
  type IdxDataMap,
  type IdxDtype,
  type ParseIdxOptions,
  parseIdx,
} from './idx.js';
export {
  type FashionMnistImage,
  type FashionMnistImageOptions,
  type RgbaImage,
  toFashionMnistImage,
} from './image.js';
export { loadFashionMnist } from './load.js';
export type { LoadFashionMnistOptions } from './options.js';
export { SAMPLE } from './sample-catalog.js';
export {
  type BatchOptions,
  batchIndices,
  type Split,
  splitFromIdx,
  subset,
  type ToTensorsOptions,
  take,
  toTensors,
} from './split.js';
