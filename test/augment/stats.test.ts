// The statistics used by the augmentation tests are only as good as these functions; the expected
// values were computed with scipy 1.x (`scipy.stats.chi2.sf`, `kstwobign.sf`, `binomtest`).
import { describe, expect, it } from 'vitest';
import {
  binomialTestP,
  chiSquareGoodnessOfFit,
  chiSquareHomogeneity,
  chiSquareSf,
  kolmogorovSf,
  ksOneSample,
  ksTwoSample,
  mulberry32,
} from './stats.js';

describe('test statistics helpers', () => {
  it('chi-square survival function matches scipy', () => {
    expect(chiSquareSf(3.841458820694124, 1)).toBeCloseTo(0.05, 10);
    expect(chiSquareSf(18.307038053275146, 10)).toBeCloseTo(0.05, 10);
    expect(chiSquareSf(150, 100)).toBeCloseTo(0.0009039320423540184, 10);
    expect(chiSquareSf(0.5, 3)).toBeCloseTo(0.9188914116546758, 10);
    expect(chiSquareSf(1000, 900)).toBeCloseTo(0.010994608942135844, 8);
  });

  it('Kolmogorov survival function matches scipy', () => {
    expect(kolmogorovSf(1.3580986393225505)).toBeCloseTo(0.05, 8);
    expect(kolmogorovSf(0.5)).toBeCloseTo(0.9639452436648751, 8);
    expect(kolmogorovSf(1.9495)).toBeCloseTo(0.0009998019790258981, 8);
  });

  it('binomial test matches scipy', () => {
    expect(binomialTestP(5890, 20000, 0.3)).toBeCloseTo(0.09109634336341352, 6);
    expect(binomialTestP(6000, 20000, 0.3)).toBeCloseTo(1, 6);
    expect(binomialTestP(6200, 20000, 0.3)).toBeCloseTo(0.0020810318192863745, 6);
  });

  it('accepts samples from the same distribution and rejects different ones', () => {
    const rand = mulberry32(1);
    const a = Array.from({ length: 20000 }, () => Math.floor(rand() * 10));
    const b = Array.from({ length: 20000 }, () => Math.floor(rand() * 10));
    const skewed = Array.from({ length: 20000 }, () => Math.floor(rand() ** 1.1 * 10));
    expect(chiSquareHomogeneity(a, b).p).toBeGreaterThan(0.001);
    expect(chiSquareHomogeneity(a, skewed).p).toBeLessThan(1e-6);
    const u = Array.from({ length: 20000 }, () => rand());
    expect(ksOneSample(u, (x) => x).p).toBeGreaterThan(0.001);
    expect(
      ksOneSample(
        u.map((x) => x ** 1.05),
        (x) => x,
      ).p,
    ).toBeLessThan(1e-6);
    expect(
      ksTwoSample(
        u,
        Array.from({ length: 20000 }, () => rand()),
      ).p,
    ).toBeGreaterThan(0.001);
    const counts = new Array(10).fill(0);
    for (const v of a) counts[v]++;
    expect(chiSquareGoodnessOfFit(counts, new Array(10).fill(0.1)).p).toBeGreaterThan(0.001);
  });
});
