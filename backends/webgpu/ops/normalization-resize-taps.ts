/**
 * Per-axis Resize tap tables for the WebGPU kernel, computed on the host in float64 with the CPU
 * kernel's coordinate functions (imported from backends/cpu/normalization-resize.ts, so both backends
 * share one definition of every coordinate transform and rounding mode).
 *
 * Why tables rather than coordinates computed in the shader: nearest rounding, the `isInteger(c)`
 * choice of neighbours and tf_crop_and_resize's extrapolation test all sit on exact boundaries
 * (c = k + 0.5, c = in - 1) that f32 arithmetic in the shader would cross on a last-bit error (WGSL
 * division is only accurate to 2.5 ULP), and antialias widens the taps by 1/scale. The tables are
 * tiny (sum over axes of out * taps) and travel in the dispatch's parameter buffer.
 */
import type { ResizeAttrs } from '../../../src/ir/ops/normalization-resize.js';
import { buildTaps, keepsAxis, nearestIndex, sourceCoord } from '../../cpu/normalization-resize.js';

/** n taps per output index: idx (-1 on the first tap = extrapolate) and weights. */
export interface AxisTaps { n: number; idx: Int32Array; w: Float64Array }

export function axisTaps(a: ResizeAttrs, inLen: number, outLen: number, scale: number, r0: number, r1: number): AxisTaps {
  const keep = keepsAxis(a, inLen, outLen, scale);
  if (a.mode === 'nearest' || keep) {
    // identity axes of linear/cubic are a single tap of weight 1 (the CPU skips them)
    const idx = new Int32Array(outLen);
    for (let o = 0; o < outLen; o++) {
      const c = keep ? o : sourceCoord(a, o, scale, inLen, outLen, r0, r1);
      if (Number.isNaN(c)) { idx[o] = -1; continue; }
      const i = nearestIndex(a.nearestMode, c);
      idx[o] = i < 0 ? 0 : i >= inLen ? inLen - 1 : i;
    }
    return { n: 1, idx, w: new Float64Array(outLen).fill(1) };
  }
  // Linear / cubic: the CPU kernel's tables, with extrapolated outputs marked by idx -1 on the first tap.
  const t = buildTaps(a, inLen, outLen, scale, r0, r1);
  for (let o = 0; o < outLen; o++) if (t.extrap[o]) t.idx[o * t.n] = -1;
  return { n: t.n, idx: t.idx, w: t.w };
}
