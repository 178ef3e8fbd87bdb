import type { ClassMetrics } from '../../metrics/metrics.js';

/** A plain-text per-class table for the terminal. */
export function perClassTable(rows: readonly ClassMetrics[]): string {
  const lines = ['  class          precision  recall   support'];
  for (const r of rows) {
    lines.push(
      `  ${r.name.padEnd(13)}  ${(r.precision * 100).toFixed(1).padStart(7)} %  ${(r.recall * 100).toFixed(1).padStart(5)} %  ${String(r.support).padStart(7)}`,
    );
  }
  return lines.join('\n');
}
