// Entry `fashion-mnist-tfjs/augment` (universal): random erasing. One core (erasing.ts: options, sampling, the
// pure apply step) under three front ends: RandomEraser (arrays and tensors), the RandomErasing layer, and
// trainCnn's `erasing` option.
export {
  applyErase,
  type ErasedPixels,
  type EraseParams,
  type FillRule,
  type ImageShape,
  type PixelArray,
  type RandomErasingConfig,
  type RandomErasingOptions,
  type RandomSource,
  rectangleCanFit,
  type Seed,
  sampleEraseParams,
} from './erasing.js';
export { type EraseStats, RandomEraser } from './random-eraser.js';
export {
  RandomErasing,
  type RandomErasingLayerArgs,
  randomErasing,
  registerRandomErasing,
} from './random-erasing-layer.js';
