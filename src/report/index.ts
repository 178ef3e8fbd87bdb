// Entry `fashion-mnist-tfjs/report` (universal): pictures and pages people look at rather than read: the
// self-contained HTML report, SVG prediction grids and confusion matrices, and raster image grids. The PNG file
// writer (needs zlib) is in `fashion-mnist-tfjs/node`.
export { type HtmlReportData, type ReportEpoch, type ReportExamples, renderHtmlReport } from './html.js';
export {
  composeImageGrid,
  type GridCell,
  type GridImage,
  type ImageGridOptions,
  type RasterImage,
  type Rgb,
} from './image-grid.js';
export {
  type ConfusionMatrixSvgOptions,
  confusionMatrixSvg,
  type PredictionGridOptions,
  type PredictionsToDraw,
  predictionGridSvg,
} from './svg.js';
