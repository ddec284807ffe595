/**
 * Histogram collection and the three calibrators, against hand-computed distributions and against
 * a straightforward reference implementation of TensorRT's entropy method written out here (P and
 * Q built bin by bin, KL summed directly), which the O(bins x levels) implementation must match.
 */
import { describe, expect, it } from 'vitest';
import { HIST_BINS, TensorStats, absMax } from '../../src/quant/histogram.js';
import { entropyThreshold, percentileThreshold, thresholdOf } from '../../src/quant/calibrators.js';
import { seededRandom } from '../../src/cli/run.js';

/** TensorRT's entropy calibration, as the GTC 2017 slides write it: every candidate built in full. */
function referenceEntropy(h: readonly number[], width: number, amax: number): { bins: number; divergence: number; threshold: number; all: number[] } {
  const n = h.length;
  let best = Infinity, bestI = n;
  const all: number[] = [];
  for (let i = 128; i <= n; i++) {
    const P = h.slice(0, i);
    let outliers = 0;
    for (let j = i; j < n; j++) outliers += h[j]!;
    P[i - 1] += outliers;
    // quantize h[0..i-1] into 128 levels, expand back over the bins where P is non-zero
    const m = Math.floor(i / 128);
    const Q = new Array<number>(i).fill(0);
    for (let l = 0; l < 128; l++) {
      const s = l * m, e = l === 127 ? i : s + m;
      let count = 0, nonZero = 0;
      for (let j = s; j < e; j++) { count += h[j]!; if (P[j] !== 0) nonZero++; }
      for (let j = s; j < e; j++) if (P[j] !== 0) Q[j] = count / nonZero;
    }
    const ps = P.reduce((a, b) => a + b, 0), qs = Q.reduce((a, b) => a + b, 0);
    let kl = 0;
    for (let j = 0; j < i; j++) {
      if (P[j] === 0) continue;
      if (Q[j] === 0) { kl = Infinity; break; }
      const p = P[j]! / ps, q = Q[j]! / qs;
      kl += p * Math.log(p / q);
    }
    all.push(kl);
    if (kl < best) { best = kl; bestI = i; }
  }
  return { bins: bestI, divergence: best, threshold: Math.min((bestI + 0.5) * width, amax), all };
}

function histOf(values: ArrayLike<number>): TensorStats {
  const s = new TensorStats();
  s.observeRange(values);
  s.observeHistogram(values);
  return s;
}

function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

describe('histogram collection', () => {
  it('finds amax over batches and bins |x| over [0, amax], leaving NaN/Inf out', () => {
    expect(absMax([1, -3, NaN, Infinity, -Infinity, 2])).toEqual({ amax: 3, nonFinite: 3 });
    const s = new TensorStats();
    const a = new Float32Array([0, 0.5, -1, NaN]);
    const b = new Float32Array([-2, 4, Infinity]);
    s.observeRange(a); s.observeRange(b);
    expect(s.amax).toBe(4);
    expect(s.count).toBe(5);
    expect(s.nonFinite).toBe(2);
    s.observeHistogram(a); s.observeHistogram(b);
    const h = s.hist!;
    expect(h.length).toBe(HIST_BINS);
    // width 4/2048: |x| = 0, 0.5, 1, 2, 4 -> bins 0, 256, 512, 1024, 2047 (amax itself goes to the last bin)
    const nz = [...h.keys()].filter((k) => h[k]! > 0);
    expect(nz).toEqual([0, 256, 512, 1024, 2047]);
    expect(h.reduce((x, y) => x + y, 0)).toBe(5);
  });

  it('matches a direct binning of random data', () => {
    const rand = seededRandom(3);
    const v = Float32Array.from({ length: 5000 }, () => normal(rand) * 3);
    const s = histOf(v);
    let m = 0;
    for (const x of v) m = Math.max(m, Math.abs(x));
    expect(s.amax).toBe(m);
    const ref = new Array<number>(HIST_BINS).fill(0);
    for (const x of v) ref[Math.min(HIST_BINS - 1, Math.floor(Math.abs(x) / (m / HIST_BINS)))]!++;
    expect(Array.from(s.hist!)).toEqual(ref);
  });

  it('an all-zero tensor has amax 0 and threshold 0 under every calibrator', () => {
    const s = histOf(new Float32Array(10));
    expect(s.amax).toBe(0);
    expect(s.hist![0]).toBe(10);
    for (const algo of ['entropy', 'minmax', 'percentile'] as const) expect(thresholdOf(s, algo)).toBe(0);
  });
});

describe('minmax and percentile', () => {
  it('minmax is the absolute maximum', () => {
    const s = histOf(new Float32Array([0.25, -7.5, 3]));
    expect(thresholdOf(s, 'minmax')).toBe(7.5);
  });

  it('percentile is the upper edge of the bin where the cumulative count reaches p%', () => {
    // one count per bin, width 1 (amax 2048): the k-th bin's upper edge is k + 1
    const h = new Array<number>(2048).fill(1);
    expect(percentileThreshold(h, 1, 50, 2048)).toBe(1024);          // 1024 of 2048 values
    expect(percentileThreshold(h, 1, 99, 2048)).toBe(2028);          // ceil(0.99 * 2048) = 2028 values
    expect(percentileThreshold(h, 1, 99.99, 2048)).toBe(2048);
    expect(percentileThreshold(h, 1, 100, 2048)).toBe(2048);         // 100 -> amax
    // 990 values in bin 9, 10 in bin 2047: 99% stops at bin 9, 99.5% needs the outliers
    const g = new Array<number>(2048).fill(0);
    g[9] = 990; g[2047] = 10;
    expect(percentileThreshold(g, 0.5, 99, 1024)).toBe(5);
    expect(percentileThreshold(g, 0.5, 99.5, 1024)).toBe(1024);
    expect(() => percentileThreshold(g, 1, 0)).toThrow(/percentile must be in \(0, 100\]/);
    expect(() => percentileThreshold(g, 1, 100.5)).toThrow(/percentile/);
  });

  it('percentile on collected data: 99.99 keeps all but the far outlier', () => {
    const v = new Float32Array(100001);
    for (let i = 0; i < 100000; i++) v[i] = (i % 100) / 100; // |x| in [0, 0.99]
    v[100000] = 100;                                          // one outlier
    const s = histOf(v);
    const t = thresholdOf(s, 'percentile', 99.99);
    // the 0.99 values fall in bin floor(0.99 / (100/2048)) = 20: upper edge 21 * 100/2048
    expect(t).toBeCloseTo((21 * 100) / 2048, 12);
    expect(thresholdOf(s, 'percentile', 100)).toBe(100);
  });
});

describe('entropy (TensorRT EntropyCalibrator2 method)', () => {
  it('a uniform histogram is quantized losslessly only at full range: threshold = amax, divergence 0', () => {
    const h = new Array<number>(2048).fill(5);
    const r = entropyThreshold(h, 1 / 2048, 1);
    expect(r.bins).toBe(2048);
    expect(r.divergence).toBeLessThan(1e-12);
    expect(r.threshold).toBe(1);                     // (2048 + 0.5) bins, capped at amax
    const ref = referenceEntropy(h, 1 / 2048, 1);
    expect(ref.bins).toBe(2048);
    expect(ref.all.slice(0, -1).every((d) => d > 1e-6)).toBe(true);
  });

  it('alternating counts in the first 128 bins and one far outlier: clipped at 128 bins, KL in closed form', () => {
    // h = 1,4,1,4,... over bins 0..127 (sum 320) and one value in the last bin.
    // i = 128: Q is h itself (one bin per level), P is h with the outlier folded into bin 127
    //   -> KL = (316/321) ln(320/321) + (5/321) ln((5/321) / (4/320)).
    // 129 <= i < 256 spread bin 127 over two bins (worse); i >= 256 leaves the outlier's bin with
    // an empty level (infinite); i = 2048 averages 1 and 4 within each level (much worse).
    const h = new Array<number>(2048).fill(0);
    for (let j = 0; j < 128; j++) h[j] = j % 2 ? 4 : 1;
    h[2047] = 1;
    const width = 0.01;
    const r = entropyThreshold(h, width, 2048 * width);
    const kl = (316 / 321) * Math.log(320 / 321) + (5 / 321) * Math.log((5 / 321) / (4 / 320));
    expect(r.bins).toBe(128);
    expect(r.divergence).toBeCloseTo(kl, 14);
    expect(r.threshold).toBeCloseTo(128.5 * width, 14);
    const ref = referenceEntropy(h, width, 2048 * width);
    expect(ref.bins).toBe(128);
    expect(ref.divergence).toBeCloseTo(kl, 14);
    expect(ref.all[256 - 128]).toBe(Infinity);
  });

  it('matches the reference implementation on random distributions', () => {
    const rand = seededRandom(11);
    const makers: [string, () => number][] = [
      ['gaussian', () => normal(rand)],
      ['laplace', () => -Math.log(1 - rand()) * (rand() < 0.5 ? -1 : 1)],
      ['relu(gaussian)', () => Math.max(0, normal(rand))],
      ['uniform', () => rand() * 2 - 1],
      ['gaussian with outliers', () => (rand() < 0.001 ? 40 * rand() : normal(rand))],
      ['student-t-ish', () => normal(rand) / Math.sqrt(Math.max(1e-3, -Math.log(1 - rand())))],
    ];
    for (const [name, f] of makers) {
      const v = Float32Array.from({ length: 20000 }, f);
      const s = histOf(v);
      const mine = entropyThreshold(s.hist!, s.binWidth, s.amax);
      const ref = referenceEntropy(Array.from(s.hist!), s.binWidth, s.amax);
      expect(mine.bins, name).toBe(ref.bins);
      expect(mine.threshold, name).toBe(ref.threshold);
      expect(Math.abs(mine.divergence - ref.divergence), name).toBeLessThan(1e-9);
      // the divergence of every candidate agrees, not only the winner's
      expect(thresholdOf(s, 'entropy'), name).toBe(mine.threshold);
    }
  });

  it('clips a dense heavy tail below amax; keeps a lone far outlier (its candidates have empty levels)', () => {
    const rand = seededRandom(5);
    const lap = histOf(Float32Array.from({ length: 50000 }, () => -Math.log(1 - rand())));
    const t = thresholdOf(lap, 'entropy');
    expect(t).toBeLessThan(0.9 * lap.amax);
    expect(t).toBeGreaterThan(0.5 * lap.amax);
    // One value at 100 over N(0,1): every candidate below the outlier's level has Q = 0 where P
    // holds the outlier (infinite divergence), so only the full range is finite, as in NVIDIA's
    // pytorch-quantization. Percentile is the calibrator that drops such outliers.
    const v = Float32Array.from({ length: 20000 }, () => normal(rand));
    v[0] = 100;
    const s = histOf(v);
    expect(thresholdOf(s, 'entropy')).toBe(100);
    expect(thresholdOf(s, 'percentile', 99.99)).toBeLessThan(6);
    expect(thresholdOf(histOf(new Float32Array([1, 1, 1])), 'entropy')).toBeLessThanOrEqual(1);
  });
});
