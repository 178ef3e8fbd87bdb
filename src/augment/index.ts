// The augment capability: random erasing for plain arrays (tfjs-free core), tensors and models.
export {
  applyErase,
  createRandomSource,
  type ErasedPixels,
  type EraseParams,
  type ImageShape,
  type PixelArray,
  RANDOM_ERASING_DEFAULTS,
  type RandomErasingConfig,
  type RandomErasingOptions,
  type RandomSource,
  rectangleCanFit,
  resolveRandomErasingOptions,
  sampleEraseParams,
} from './erasing.js';
export { type EraseStats, RandomEraser } from './random-eraser.js';
export {
  RandomErasing,
  type RandomErasingLayerArgs,
  randomErasing,
  registerRandomErasing,
} from './random-erasing-layer.js';
