/**
 * Per-tensor statistics for calibration, collected in TensorRT's two passes: pass 1 finds each
 * tensor's absolute maximum over every batch, pass 2 bins |x| into HIST_BINS equal bins over
 * [0, amax]. Non-finite values (NaN, ±Inf) are counted apart and left out of both.
 */

/** Histogram resolution (TensorRT's and pytorch-quantization's default). */
export const HIST_BINS = 2048;

/** Absolute maximum of the finite values of `data` (0 when there are none) and how many were not finite. */
export function absMax(data: ArrayLike<number>): { amax: number; nonFinite: number } {
  let m = 0, bad = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    const a = v < 0 ? -v : v;
    if (a > m) { if (a === Infinity) bad++; else m = a; } else if (a !== a) bad++; // NaN compares false
  }
  return { amax: m, nonFinite: bad };
}

/** One tensor's statistics across batches. */
export class TensorStats {
  /** Absolute maximum of every finite value seen in pass 1. */
  amax = 0;
  /** Values seen (finite, in pass 1). */
  count = 0;
  /** NaN / ±Inf values seen in pass 1. */
  nonFinite = 0;
  /** Pass 2: counts of |x| in HIST_BINS bins of width amax / HIST_BINS (undefined until pass 2 starts). */
  hist: Float64Array | undefined;

  /** Pass 1: widen amax with one batch's values. */
  observeRange(data: ArrayLike<number>): void {
    const r = absMax(data);
    if (r.amax > this.amax) this.amax = r.amax;
    this.nonFinite += r.nonFinite;
    this.count += data.length - r.nonFinite;
  }

  /** Pass 2: add one batch's values to the histogram over [0, amax] (values above amax go to the last bin). */
  observeHistogram(data: ArrayLike<number>): void {
    const h = (this.hist ??= new Float64Array(HIST_BINS));
    const last = HIST_BINS - 1;
    if (this.amax === 0) { // every finite value was 0
      for (let i = 0; i < data.length; i++) if (data[i] === 0) h[0]!++;
      return;
    }
    const inv = HIST_BINS / this.amax;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      const a = v < 0 ? -v : v;
      if (a !== a || a === Infinity) continue; // NaN, ±Inf: left out, as in pass 1
      const b = Math.floor(a * inv);
      h[b > last ? last : b]!++;
    }
  }

  /** Width of one histogram bin. */
  get binWidth(): number { return this.amax / HIST_BINS; }
}
