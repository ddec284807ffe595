/**
 * Per-axis Resize tap tables for the WebGPU kernel, computed on the host in float64 with the CPU
 * kernel's formulas (backends/cpu/normalization-resize.ts; these functions mirror its private
 * keepsAxis / sourceCoord / nearestIndex / cubicKernel / buildTaps and must stay in step with them).
 *
 * Why tables rather than coordinates computed in the shader: nearest rounding, the `isInteger(c)`
 * choice of neighbours and tf_crop_and_resize's extrapolation test all sit on exact boundaries
 * (c = k + 0.5, c = in - 1) that f32 arithmetic in the shader would cross on a last-bit error (WGSL
 * division is only accurate to 2.5 ULP), and antialias widens the taps by 1/scale. The tables are
 * tiny (sum over axes of out * taps) and travel in the dispatch's parameter buffer.
 */
import type { ResizeAttrs } from '../../../src/ir/ops/normalization-resize.js';

function keepsAxis(a: ResizeAttrs, inLen: number, outLen: number, scale: number): boolean {
  return scale === 1 && inLen === outLen && a.coordMode !== 'tf_crop_and_resize';
}

/** Source coordinate of output index x along one axis; NaN means "extrapolate" (tf_crop_and_resize). */
function sourceCoord(a: ResizeAttrs, x: number, scale: number, inLen: number, outLen: number, r0: number, r1: number): number {
  const exact = scale === outLen / inLen;
  const outW = exact ? outLen : scale * inLen;
  const div = exact ? (v: number) => (v * inLen) / outLen : (v: number) => v / scale;
  switch (a.coordMode) {
    case 'half_pixel': return div(x + 0.5) - 0.5;
    case 'half_pixel_symmetric': return (inLen / 2) * (1 - outLen / outW) + div(x + 0.5) - 0.5;
    case 'pytorch_half_pixel': return outLen > 1 ? div(x + 0.5) - 0.5 : 0;
    case 'align_corners': return outW === 1 ? 0 : (x * (inLen - 1)) / (outW - 1);
    case 'asymmetric': return div(x);
    case 'tf_half_pixel_for_nn': return div(x + 0.5);
    case 'tf_crop_and_resize': {
      const c = outLen > 1
        ? r0 * (inLen - 1) + (x * (r1 - r0) * (inLen - 1)) / (outLen - 1)
        : 0.5 * (r0 + r1) * (inLen - 1);
      return c < 0 || c > inLen - 1 ? NaN : c;
    }
    default: throw new Error(`Resize: unknown coordinate_transformation_mode ${a.coordMode}`);
  }
}

function nearestIndex(mode: string, c: number): number {
  const f = Math.floor(c);
  const frac = c - f;
  switch (mode) {
    case 'round_prefer_floor': return frac <= 0.5 ? f : f + 1;
    case 'round_prefer_ceil': return frac < 0.5 ? f : f + 1;
    case 'floor': return f;
    default: return Math.ceil(c);
  }
}

function cubicKernel(x: number, A: number): number {
  x = Math.abs(x);
  if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return 0;
}

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
