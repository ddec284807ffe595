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
import { cubicKernel, keepsAxis, nearestIndex, sourceCoord } from '../../cpu/normalization-resize.js';

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
  const s = Math.min(scale, 1);
  const start = a.mode === 'linear' ? (a.antialias ? Math.floor(-1 / s) + 1 : 0) : (a.antialias ? Math.floor(-2 / s) + 1 : -1);
  const n = 2 - 2 * start;
  const idx = new Int32Array(outLen * n);
  const w = new Float64Array(outLen * n);
  for (let o = 0; o < outLen; o++) {
    const c = sourceCoord(a, o, scale, inLen, outLen, r0, r1);
    if (Number.isNaN(c)) { idx[o * n] = -1; continue; }
    // neighbours sit left of c by preference, so ratio = c - base lies in (0, 1]
    const base = Number.isInteger(c) ? c - 1 : Math.floor(c);
    const ratio = c - base;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const t = start + i;
      let v: number;
      if (a.mode === 'linear') v = a.antialias ? Math.max(0, 1 - Math.abs((t - ratio) * s)) : (t === 0 ? 1 - ratio : ratio);
      else v = cubicKernel(a.antialias ? s * (t - ratio) : t - ratio, a.cubicA);
      const j = base + t;
      if (a.excludeOutside && (j < 0 || j >= inLen)) v = 0;
      idx[o * n + i] = j < 0 ? 0 : j >= inLen ? inLen - 1 : j;
      w[o * n + i] = v;
      sum += v;
    }
    if (a.antialias || a.excludeOutside) for (let i = 0; i < n; i++) w[o * n + i]! /= sum;
  }
  return { n, idx, w };
}
