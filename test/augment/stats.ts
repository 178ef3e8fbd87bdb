// Goodness-of-fit statistics for the augmentation tests. Written out here (no stats package in the
// project) and checked against scipy in stats.test.ts.

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~15 significant digits). */
export function logGamma(x: number): number {
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0]!;
  const t = z + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(a, x) (series below a + 1, Lentz continued fraction above). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const lnPre = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 10_000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break;
    }
    return 1 - sum * Math.exp(lnPre);
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(lnPre) * h;
}

/** P(X² >= stat) for a chi-square distribution with `df` degrees of freedom. */
export function chiSquareSf(stat: number, df: number): number {
  return gammaQ(df / 2, stat / 2);
}

/** Asymptotic Kolmogorov distribution: P(K >= lambda). */
export function kolmogorovSf(lambda: number): number {
  if (lambda < 0.2) return 1;
  let sum = 0;
  for (let j = 1; j < 200; j++) {
    const term = 2 * (j % 2 === 1 ? 1 : -1) * Math.exp(-2 * j * j * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-18) break;
  }
  return Math.min(1, Math.max(0, sum));
}

/** Exact two-sided binomial test p-value (scipy's "minlike": outcomes no more likely than k). */
export function binomialTestP(k: number, n: number, p: number): number {
  const logPmf = (i: number) =>
    logGamma(n + 1) - logGamma(i + 1) - logGamma(n - i + 1) + i * Math.log(p) + (n - i) * Math.log1p(-p);
  const threshold = logPmf(k) + Math.log1p(1e-7);
  let total = 0;
  for (let i = 0; i <= n; i++) {
    const l = logPmf(i);
    if (l <= threshold) total += Math.exp(l);
  }
  return Math.min(1, total);
}

/** One-sample Kolmogorov–Smirnov test of `sample` against a continuous CDF (Stephens' correction). */
export function ksOneSample(sample: ArrayLike<number>, cdf: (x: number) => number): { d: number; p: number } {
  const xs = Float64Array.from(sample).sort();
  const n = xs.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(xs[i]!);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  }
  const sn = Math.sqrt(n);
  return { d, p: kolmogorovSf((sn + 0.12 + 0.11 / sn) * d) };
}

/** Two-sample Kolmogorov–Smirnov test (asymptotic p-value; conservative for tied data). */
export function ksTwoSample(a: ArrayLike<number>, b: ArrayLike<number>): { d: number; p: number } {
  const xa = Float64Array.from(a).sort();
  const xb = Float64Array.from(b).sort();
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < xa.length && j < xb.length) {
    const v = Math.min(xa[i]!, xb[j]!);
    while (i < xa.length && xa[i] === v) i++;
    while (j < xb.length && xb[j] === v) j++;
    d = Math.max(d, Math.abs(i / xa.length - j / xb.length));
  }
  const ne = Math.sqrt((xa.length * xb.length) / (xa.length + xb.length));
  return { d, p: kolmogorovSf((ne + 0.12 + 0.11 / ne) * d) };
}

/**
 * Pearson chi-square test of homogeneity for two samples of categories (2×k table). Categories whose
 * expected count is below `minExpected` in either sample are pooled into one bin (merged into the
 * smallest remaining bin if still too small), the usual validity condition for the chi-square
 * approximation.
 */
export function chiSquareHomogeneity(
  a: readonly (string | number)[],
  b: readonly (string | number)[],
  minExpected = 5,
): { stat: number; df: number; p: number; bins: number } {
  const counts = new Map<string | number, [number, number]>();
  for (const v of a) {
    const c = counts.get(v) ?? [0, 0];
    c[0]++;
    counts.set(v, c);
  }
  for (const v of b) {
    const c = counts.get(v) ?? [0, 0];
    c[1]++;
    counts.set(v, c);
  }
  const na = a.length;
  const nb = b.length;
  const total = na + nb;
  const fa = na / total;
  const fb = nb / total;
  const bins: [number, number][] = [];
  const rare: [number, number] = [0, 0];
  for (const c of counts.values()) {
    const pooled = c[0] + c[1];
    if (pooled * fa < minExpected || pooled * fb < minExpected) {
      rare[0] += c[0];
      rare[1] += c[1];
    } else bins.push(c);
  }
  if (rare[0] + rare[1] > 0) {
    const pooled = rare[0] + rare[1];
    if ((pooled * fa < minExpected || pooled * fb < minExpected) && bins.length > 0) {
      bins.sort((x, y) => x[0] + x[1] - (y[0] + y[1]));
      bins[0]![0] += rare[0];
      bins[0]![1] += rare[1];
    } else bins.push(rare);
  }
  let stat = 0;
  for (const [ca, cb] of bins) {
    const pooled = ca + cb;
    const ea = pooled * fa;
    const eb = pooled * fb;
    stat += (ca - ea) ** 2 / ea + (cb - eb) ** 2 / eb;
  }
  const df = bins.length - 1;
  return { stat, df, p: df > 0 ? chiSquareSf(stat, df) : 1, bins: bins.length };
}

/** Pearson chi-square goodness-of-fit of observed counts against expected probabilities. */
export function chiSquareGoodnessOfFit(
  observed: ArrayLike<number>,
  probabilities: ArrayLike<number>,
): { stat: number; df: number; p: number } {
  let n = 0;
  for (let i = 0; i < observed.length; i++) n += observed[i]!;
  let stat = 0;
  for (let i = 0; i < observed.length; i++) {
    const e = n * probabilities[i]!;
    stat += (observed[i]! - e) ** 2 / e;
  }
  const df = observed.length - 1;
  return { stat, df, p: chiSquareSf(stat, df) };
}

/** Assigns each value to one of `k` equal-frequency bins of the pooled samples (ties share a bin). */
export function quantileBins(a: ArrayLike<number>, b: ArrayLike<number>, k: number): [number[], number[]] {
  const pooled = Float64Array.from([...Array.from(a), ...Array.from(b)]).sort();
  const edges: number[] = [];
  for (let i = 1; i < k; i++) {
    const edge = pooled[Math.floor((i * pooled.length) / k)]!;
    if (edges.length === 0 || edge > edges[edges.length - 1]!) edges.push(edge);
  }
  const bin = (v: number) => {
    let lo = 0;
    let hi = edges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (v < edges[mid]!) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  return [Array.from(a, bin), Array.from(b, bin)];
}

export { mulberry32 } from '../helpers/rng.js';
