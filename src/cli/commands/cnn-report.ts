import type { CnnEvaluation } from '../../cnn/evaluate.js';
import type { Split } from '../../data/split.js';
import { type ReportEpoch, renderHtmlReport } from '../../report/html.js';
import { REFERENCES, writeText } from '../context.js';

/** Writes the HTML report of a CNN evaluation (with the training curves when there is a history). */
export async function writeCnnReport(
  path: string,
  title: string,
  test: Split,
  ev: CnnEvaluation,
  details: Record<string, string | number | boolean>,
  sample: boolean,
  history?: readonly ReportEpoch[],
): Promise<string> {
  const shown = Math.min(40, ev.count);
  const classes = ev.probabilities.length / ev.count;
  const confidences = Array.from(
    { length: shown },
    (_, i) => ev.probabilities[i * classes + ev.predictions[i]],
  );
  return writeText(
    path,
    renderHtmlReport({
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
    }),
  );
}
