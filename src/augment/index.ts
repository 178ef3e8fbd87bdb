// Entry `fashion-mnist-tfjs/augment` (universal): random erasing. One core (erasing.ts: options, sampling, the
// pure apply step) under three front ends: RandomEraser (arrays and tensors), the RandomErasing layer, and
// trainCnn's `erasing` option. Crop-and-flip (crop-flip.ts) has one front end, trainCnn's `cropFlip` option;
// its options type is public here (defaults are in its doc comment, as for every *_DEFAULTS), its core is not.
export type { CropFlipOptions } from './crop-flip.js';
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
