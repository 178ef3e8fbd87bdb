// The report capability: pictures and pages people look at rather than read. Universal (no Node built-ins);
// the PNG file writer (png.ts, needs zlib) is exported from the Node entry instead.
export {
  bytesToBase64,
  encodeGrayPng,
  type HtmlReportData,
  type ReportEpoch,
  type ReportExamples,
  renderHtmlReport,
} from './html.js';
export {
  composeImageGrid,
  type GridCell,
  type GridImage,
  type ImageGridOptions,
  type RasterImage,
  type Rgb,
} from './image-grid.js';
export {
  type FashionMnistImage,
  type FashionMnistImageOptions,
  type RgbaImage,
  toFashionMnistImage,
} from './preprocess.js';
export {
  createProgressBar,
  formatDuration,
  type ProgressBar,
  type ProgressBarOptions,
  type ProgressStream,
} from './progress.js';
export {
  CORRECT_COLOR,
  type ConfusionMatrixSvgOptions,
  confusionMatrixSvg,
  type PredictionGridOptions,
  type PredictionsToDraw,
  predictionGridSvg,
  WRONG_COLOR,
} from './svg.js';
