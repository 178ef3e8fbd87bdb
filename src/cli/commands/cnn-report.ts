import type { CnnEvaluation } from '../../cnn/evaluate.js';
import type { Split } from '../../data/split.js';
import type { FashionMnistError } from '../../errors.js';
import { type ReportEpoch, renderHtmlReport } from '../../report/html.js';
import { afterWork, REFERENCES, writeText } from '../context.js';

/**
 * Writes the HTML report of a CNN evaluation (with the training curves when there is a history). The work is
 * done by then, so a failure to write is returned, not thrown: the command still prints its result.
 */
export async function writeCnnReport(
  path: string,
  title: string,
  test: Split,
  ev: CnnEvaluation,
  details: Record<string, string | number | boolean>,
  sample: boolean,
  history?: readonly ReportEpoch[],
): Promise<{ value?: string; error?: FashionMnistError }> {
  const shown = Math.min(40, ev.count);
  const classes = ev.probabilities.length / ev.count;
  const confidences = Array.from(
    { length: shown },
    (_, i) => ev.probabilities[i * classes + ev.predictions[i]],
  );
  const html = renderHtmlReport({
    title: `${title}${sample ? ' (SAMPLE)' : ''}`,
    sample,
    accuracy: ev.accuracy,
    references: REFERENCES.cnn,
    confusion: ev.confusion,
    details,
    history,
    examples: {
      images: test.images.subarray(0, shown * test.height * test.width),
      height: test.height,
      width: test.width,
      labels: test.labels,
      predictions: ev.predictions,
      confidences,
    },
  });
  return afterWork('writing the report', path, () => writeText(path, html));
}
