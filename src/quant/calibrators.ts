/**
 * Calibrators: a tensor's statistics (amax, histogram of |x| over [0, amax]) -> its threshold, the
 * |x| that maps to 127 in symmetric INT8.
 *
 * - minmax: the absolute maximum.
 * - percentile: the upper edge of the histogram bin where the cumulative count reaches p% of all
 *   values (so 100 gives amax).
 * - entropy: TensorRT's method (Migacz, "8-bit Inference with TensorRT", GTC 2017), as
 *   EntropyCalibrator2 uses it. For each candidate i = 128..2048 bins:
 *     P = h[0..i-1], with the outliers sum(h[i..]) folded into P[i-1];
 *     Q = h[0..i-1] (no outliers) merged into 128 levels of floor(i/128) bins (the last level
 *         takes the remainder), then expanded back: each level's count is spread evenly over the
 *         bins of that level where P is non-zero (bins empty in P stay empty);
 *     divergence = KL(P/|P| || Q/|Q|), infinite where Q is 0 and P is not.
 *   The least divergence wins (the smallest i on a tie); threshold = (i + 0.5) * binWidth,
 *   capped at amax.
 */
import { TwinferError } from '../errors.js';
import { HIST_BINS, type TensorStats } from './histogram.js';

export type CalibrationAlgo = 'entropy' | 'minmax' | 'percentile';
export const CALIBRATION_ALGOS: readonly CalibrationAlgo[] = ['entropy', 'minmax', 'percentile'];

/** INT8 levels on the positive side (symmetric quantization: -127..127). */
export const QUANT_LEVELS = 128;
export const DEFAULT_PERCENTILE = 99.99;

export interface EntropyResult {
  /** Bins kept (128..hist.length); the threshold is (bins + 0.5) * binWidth, capped at amax. */
  bins: number;
  /** KL divergence of the winner. */
  divergence: number;
  threshold: number;
}

/**
 * TensorRT's entropy calibration on a histogram of |x| (see the header). Runs in
 * O(hist.length * levels): P's entropy and each level's sums come from prefix sums, so a
 * candidate costs one pass over the 128 levels instead of one over its i bins.
 */
export function entropyThreshold(hist: ArrayLike<number>, binWidth: number, amax = binWidth * hist.length, levels = QUANT_LEVELS): EntropyResult {
  const n = hist.length;
  if (n < levels) throw new TwinferError('INVALID_ARGUMENT', `entropy calibration needs at least ${levels} bins, got ${n}`);
  // prefix[j] = sum h[0..j), hlogh[j] = sum h ln h over h[0..j), nz[j] = #non-zero h in [0..j)
  const prefix = new Float64Array(n + 1), hlogh = new Float64Array(n + 1), nz = new Float64Array(n + 1);
  for (let j = 0; j < n; j++) {
    const h = hist[j]!;
    if (h < 0 || !Number.isFinite(h)) throw new TwinferError('INVALID_ARGUMENT', `histogram bin ${j} holds ${h}`);
    prefix[j + 1] = prefix[j]! + h;
    hlogh[j + 1] = hlogh[j]! + (h > 0 ? h * Math.log(h) : 0);
    nz[j + 1] = nz[j]! + (h > 0 ? 1 : 0);
  }
  const total = prefix[n]!;
  if (total === 0) return { bins: n, divergence: 0, threshold: 0 };
  let best = Infinity, bestI = n;
  for (let i = levels; i <= n; i++) {
    const kept = prefix[i]!;                // |Q| (outliers are not in Q)
    if (kept === 0) continue;               // Q all empty: infinite divergence
    const outliers = total - kept;
    const hLast = hist[i - 1]!;
    const pLast = hLast + outliers;         // P[i-1]
    // sum P ln P over the i bins of P (the last bin changed by the outliers)
    const pLogP = hlogh[i - 1]! + (pLast > 0 ? pLast * Math.log(pLast) : 0);
    const m = Math.floor(i / levels);
    // sum over levels of (P mass in the level) * ln(level count / non-zero P bins in the level)
    let pLogQ = 0;
    let infinite = false;
    for (let l = 0; l < levels; l++) {
      const start = l * m;
      const stop = l === levels - 1 ? i : start + m;
      const count = prefix[stop]! - prefix[start]!;
      let mass = count;
      let nonZero = nz[stop]! - nz[start]!;
      if (l === levels - 1 && outliers > 0) { mass += outliers; if (hLast === 0) nonZero++; }
      if (mass === 0) continue;
      if (count === 0) { infinite = true; break; }
      pLogQ += mass * Math.log(count / nonZero);
    }
    if (infinite) continue;
    // KL = sum p ln(p/q), p = P/total, q = Q/kept
    const kl = (pLogP - pLogQ) / total - Math.log(total) + Math.log(kept);
    if (kl < best) { best = kl; bestI = i; }
  }
  const threshold = Math.min((bestI + 0.5) * binWidth, amax);
  return { bins: bestI, divergence: best === Infinity ? Infinity : Math.max(0, best), threshold };
}

/** Upper edge of the bin where the cumulative count reaches `percentile`% of the total, capped at amax. */
export function percentileThreshold(hist: ArrayLike<number>, binWidth: number, percentile: number, amax = binWidth * hist.length): number {
  checkPercentile(percentile);
  let total = 0;
  for (let j = 0; j < hist.length; j++) total += hist[j]!;
  if (total === 0) return 0;
  const want = (percentile / 100) * total;
  let cum = 0;
  for (let j = 0; j < hist.length; j++) {
    cum += hist[j]!;
    if (cum >= want && hist[j]! > 0) return Math.min((j + 1) * binWidth, amax);
  }
  return amax;
}

export function checkPercentile(p: number): void {
  if (typeof p !== 'number' || !(p > 0 && p <= 100)) throw new TwinferError('INVALID_ARGUMENT', `percentile must be in (0, 100], got ${String(p)}`);
}

export function checkAlgo(algo: string): CalibrationAlgo {
  if (!(CALIBRATION_ALGOS as readonly string[]).includes(algo)) throw new TwinferError('INVALID_ARGUMENT', `calibration algorithm must be one of ${CALIBRATION_ALGOS.join(', ')}, got '${algo}'`);
  return algo as CalibrationAlgo;
}

/** Whether an algorithm needs pass 2 (the histogram). */
export function needsHistogram(algo: CalibrationAlgo): boolean { return algo !== 'minmax'; }

/** A tensor's threshold from its statistics. */
export function thresholdOf(stats: TensorStats, algo: CalibrationAlgo, percentile = DEFAULT_PERCENTILE): number {
  if (algo === 'minmax' || stats.amax === 0) return stats.amax;
  const hist = stats.hist;
  if (!hist || hist.length !== HIST_BINS) throw new TwinferError('RUNTIME', `${algo} calibration needs the pass-2 histogram`);
  return algo === 'entropy'
    ? entropyThreshold(hist, stats.binWidth, stats.amax).threshold
    : percentileThreshold(hist, stats.binWidth, percentile, stats.amax);
}
