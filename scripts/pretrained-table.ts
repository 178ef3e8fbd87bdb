// Prints, as Markdown ready to paste into docs/cnn.md, what a record of scripts/train-pretrained.ts holds: the
// headline figures, the per-epoch table (epoch, train loss, train acc, test acc, lr, seconds) and the per-class
// precision and recall.
//
//   npx tsx scripts/pretrained-table.ts                              # docs/pretrained-vgg-bn.json
//   npx tsx scripts/pretrained-table.ts docs/pretrained.json         # any other record of the script
import { readFileSync } from 'node:fs';

interface EpochRow {
  epoch: number;
  loss: number;
  acc: number;
  testAccuracy: number | null;
  learningRate: number;
  seconds: number;
  imagesPerSec?: number;
}

interface PretrainedRecord {
  model: string;
  trainableParams: number;
  testAccuracy: number;
  testAccuracyFloat32?: number;
  testImages: number;
  quantize: string;
  weightBytes: number;
  trainSeconds: number;
  wallSeconds: number;
  epochsRun: number;
  backend: string;
  threads?: number;
  gitCommit?: string | null;
  perClass?: { name: string; precision: number; recall: number }[];
  epochs: EpochRow[];
  /** The stages a warm restart continued (`--init-from`), oldest first; `epochs` is the last stage. */
  earlierStages?: {
    checkpoint: string;
    recipe: { learningRate: number; epochs: number };
    epochs: EpochRow[];
  }[];
}

const path = process.argv[2] ?? 'docs/pretrained-vgg-bn.json';
const record = JSON.parse(readFileSync(path, 'utf8')) as PretrainedRecord;
if (!Array.isArray(record.epochs) || typeof record.testAccuracy !== 'number') {
  throw new Error(`${path} is not a record written by scripts/train-pretrained.ts`);
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const minutes = (s: number) => `${int(s)} s (${(s / 60).toFixed(0)} min)`;

const stages = [...(record.earlierStages ?? []).map((s) => s.epochs), record.epochs];
const totalEpochs = stages.reduce((n, s) => n + s.length, 0);
const lines: string[] = [];
lines.push(
  `**${pct(record.testAccuracy)} on the full ${int(record.testImages)}-image test set** as shipped ` +
    `(${record.quantize}, ${int(record.weightBytes)} bytes of weights)` +
    (record.testAccuracyFloat32 === undefined ? '' : `; ${pct(record.testAccuracyFloat32)} in float32`) +
    `. ${int(record.trainableParams)} parameters, ${totalEpochs} epochs` +
    (stages.length > 1 ? ` in ${stages.length} stages (${stages.map((s) => s.length).join(' + ')})` : '') +
    ` on \`${record.backend}\`` +
    (record.threads && record.threads > 1 ? ` with ${record.threads} threads` : '') +
    `; training took ${minutes(record.trainSeconds)}, wall time ${minutes(record.wallSeconds)}` +
    (record.gitCommit ? `, commit \`${record.gitCommit.slice(0, 7)}\`.` : '.'),
);
lines.push('');
const multi = stages.length > 1;
lines.push(`| ${multi ? 'stage | ' : ''}epoch | train loss | train acc | test acc | lr | seconds |`);
lines.push(`| ${multi ? '--- | ' : ''}--- | --- | --- | --- | --- | --- |`);
stages.forEach((epochs, i) => {
  for (const e of epochs) {
    lines.push(
      `| ${multi ? `${i + 1} | ` : ''}${e.epoch} | ${e.loss.toFixed(4)} | ${pct(e.acc)} ` +
        `| ${e.testAccuracy === null ? '—' : pct(e.testAccuracy)} ` +
        `| ${e.learningRate.toExponential(2)} | ${e.seconds.toFixed(0)} |`,
    );
  }
});
if (record.perClass && record.perClass.length > 0) {
  lines.push('');
  lines.push('| class | precision | recall |');
  lines.push('| --- | --- | --- |');
  for (const c of record.perClass)
    lines.push(`| ${c.name} | ${c.precision.toFixed(3)} | ${c.recall.toFixed(3)} |`);
}
console.log(lines.join('\n'));
