/**
 * Resize on the CPU, following the ONNX reference implementation (onnx/reference/ops/op_resize.py):
 * interpolation is separable, so each resized axis gets a table of taps (source index, weight) per
 * output index, built once from the coordinate transform and the mode's coefficients, and the axes are
 * applied one after another on a float64 buffer. Nearest is a pure gather through per-axis index
 * tables (any dtype, strings included). Fast paths: nearest gathers whole rows and reuses repeated
 * rows; resizing only the last two axes (NCHW feature maps) works plane by plane from the input.
 *
 * Reference details kept on purpose: `output_width` in align_corners and half_pixel_symmetric is the
 * float scale*in, not the integer output size (the conformance data depends on it); neighbours past
 * the edge repeat the edge value; exclude_outside zeroes and
 * renormalizes their weights; antialias widens the linear/cubic kernel by 1/scale when downsampling.
 */
import { INT_TYPES, intRange, type NumericArray, type TensorStorage } from '../../src/ir/dtype.js';
import type { HostTensor } from '../../src/ir/tensor.js';
import { resizeAttrs, resizeGeometry, type ResizeAttrs } from '../../src/ir/ops/normalization-resize.js';
import { input, outDims, type KernelContext } from './kernel.js';
import { newOutput } from './normalization-norms.js';

type Outs = (HostTensor | undefined)[];
// Element access shared by typed arrays and string[] (data movement never inspects values).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Store = { [i: number]: any; length: number };

/**
 * An axis that keeps its size at scale 1 is copied as is. For every mode but two this is what the
 * transform gives anyway; tf_half_pixel_for_nn would otherwise shift by half a pixel (x + 0.5, which
 * ceil-type rounding moves to x + 1: onnxruntime copies such axes too), and tf_crop_and_resize
 * depends on the roi.
 */
export function keepsAxis(a: ResizeAttrs, inLen: number, outLen: number, scale: number): boolean {
  return scale === 1 && inLen === outLen && a.coordMode !== 'tf_crop_and_resize';
}

/** Source coordinate of output index x along one axis; NaN means "extrapolate" (tf_crop_and_resize). */
export function sourceCoord(a: ResizeAttrs, x: number, scale: number, inLen: number, outLen: number, r0: number, r1: number): number {
  // When the scale is out/in (sizes given, or an exact scale) use v * in / out for v / scale and out
  // for scale * in: exact whenever the true coordinate is representable, so floor/ceil/round at exact
  // integers and halves do not flip on a last-bit error.
  const exact = scale === outLen / inLen;
  const outW = exact ? outLen : scale * inLen;
  const div = exact ? (v: number) => (v * inLen) / outLen : (v: number) => v / scale;
  switch (a.coordMode) {
    case 'half_pixel': return div(x + 0.5) - 0.5;
    case 'half_pixel_symmetric': {
      const adj = outLen / outW;
      return (inLen / 2) * (1 - adj) + div(x + 0.5) - 0.5;
    }
    // A length-1 output samples position 0 (the spec and onnxruntime; the reference code uses -0.5,
    // which only differs for cubic).
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

export function nearestIndex(mode: string, c: number): number {
  const f = Math.floor(c);
  const frac = c - f;
  switch (mode) {
    case 'round_prefer_floor': return frac <= 0.5 ? f : f + 1;
    case 'round_prefer_ceil': return frac < 0.5 ? f : f + 1;
    case 'floor': return f;
    default: return Math.ceil(c);
  }
}

export function cubicKernel(x: number, A: number): number {
  x = Math.abs(x);
  if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return 0;
}

/** Interpolation taps of one axis: n per output index; extrap[o] = 1 where the output is extrapolated. */
export interface Taps { n: number; idx: Int32Array; w: Float64Array; extrap: Uint8Array; identity: boolean }

export function buildTaps(a: ResizeAttrs, inLen: number, outLen: number, scale: number, r0: number, r1: number): Taps {
  const s = Math.min(scale, 1);
  let start: number;
  if (a.mode === 'linear') start = a.antialias ? Math.floor(-1 / s) + 1 : 0;
  else start = a.antialias ? Math.floor(-2 / s) + 1 : -1;
  const n = 2 - 2 * start;
  const idx = new Int32Array(outLen * n);
  const w = new Float64Array(outLen * n);
  const extrap = new Uint8Array(outLen);
  let identity = inLen === outLen;
  const keep = keepsAxis(a, inLen, outLen, scale);
  for (let o = 0; o < outLen; o++) {
    const c = keep ? o : sourceCoord(a, o, scale, inLen, outLen, r0, r1);
    if (Number.isNaN(c)) { extrap[o] = 1; identity = false; continue; }
    // Neighbours sit left of c by preference, so ratio = c - base lies in (0, 1].
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
    // Standard linear/cubic weights already sum to 1; antialias and exclude_outside renormalize.
    if (a.antialias || a.excludeOutside) for (let i = 0; i < n; i++) w[o * n + i]! /= sum;
    if (identity) {
      for (let i = 0; i < n; i++) {
        const wi = w[o * n + i]!;
        if (wi !== 0 && (wi !== 1 || idx[o * n + i] !== o)) { identity = false; break; }
      }
    }
  }
  return { n, idx, w, extrap, identity };
}

/** Stores float results into the output storage (integers: truncate and saturate, as astype would). */
function store(dst: NumericArray, src: Float64Array, dtype: string): void {
  if (INT_TYPES.has(dtype as never) || dtype === 'bool') {
    const [lo, hi] = intRange(dtype as never);
    for (let i = 0; i < src.length; i++) {
      const v = Math.trunc(src[i]!);
      dst[i] = v < lo ? lo : v > hi ? hi : v;
    }
  } else dst.set(src);
}

export function resize(ctx: KernelContext): Outs {
  const x = input(ctx, 0);
  const a = resizeAttrs(ctx.node, x.rank);
  const g = resizeGeometry(a, x.dims, ctx.inputs[1], ctx.inputs[2], ctx.inputs[3]);
  const od = outDims(ctx);
  const y = newOutput(ctx);
  if (y.size === 0) return [y];
  const r = x.rank;
  if (a.mode === 'nearest') {
    nearest(a, x, y, g.scales, g.roi, od);
    return [y];
  }
  const taps = x.dims.map((n, ax) => buildTaps(a, n, od[ax]!, g.scales[ax]!, g.roi[ax]!, g.roi[r + ax]!));
  const active = taps.map((t, ax) => (t.identity ? -1 : ax)).filter((ax) => ax >= 0);
  const ys = y.numbers;
  if (r >= 2 && active.every((ax) => ax >= r - 2)) {
    planeLast2(x, ys, taps[r - 2]!, taps[r - 1]!, od, a.extrapolationValue, y.dtype);
    return [y];
  }
  // Separable passes on float64, shrinking axes first (less work for the passes that follow).
  active.sort((p, q) => od[p]! / x.dims[p]! - od[q]! / x.dims[q]!);
  let cur: Float64Array = Float64Array.from(x.numbers as ArrayLike<number>);
  const dims = x.dims.slice();
  for (const ax of active) {
    cur = pass(cur, dims, ax, od[ax]!, taps[ax]!, a.extrapolationValue);
    dims[ax] = od[ax]!;
  }
  store(ys, cur, y.dtype);
  return [y];
}

/** Resizes axis `ax` of `src` (dims) to `outLen` with the given taps. */
function pass(src: Float64Array, dims: number[], ax: number, outLen: number, t: Taps, ev: number): Float64Array {
  let outer = 1;
  for (let i = 0; i < ax; i++) outer *= dims[i]!;
  let inner = 1;
  for (let i = ax + 1; i < dims.length; i++) inner *= dims[i]!;
  const inLen = dims[ax]!;
  const dst = new Float64Array(outer * outLen * inner);
  const n = t.n;
  for (let ob = 0; ob < outer; ob++) {
    const sBase = ob * inLen * inner;
    for (let o = 0; o < outLen; o++) {
      const d0 = (ob * outLen + o) * inner;
      if (t.extrap[o]) { dst.fill(ev, d0, d0 + inner); continue; }
      if (inner === 1) {
        let s = 0;
        for (let i = 0; i < n; i++) s += t.w[o * n + i]! * src[sBase + t.idx[o * n + i]!]!;
        dst[d0] = s;
        continue;
      }
      for (let i = 0; i < n; i++) {
        const wi = t.w[o * n + i]!;
        if (wi === 0) continue;
        const s0 = sBase + t.idx[o * n + i]! * inner;
        for (let k = 0; k < inner; k++) dst[d0 + k]! += wi * src[s0 + k]!;
      }
    }
  }
  return dst;
}

/**
 * Resize of the last two axes only (NCHW feature maps, any tap count), plane by plane: the horizontal
 * pass writes every input row, resized, into a float64 plane buffer, then each output row blends the
 * n buffered rows of its vertical taps. No full-tensor float64 copies.
 */
function planeLast2(x: HostTensor, ys: NumericArray, th: Taps, tw: Taps, od: number[], ev: number, dtype: string): void {
  const r = x.rank;
  const [h, w] = [x.dims[r - 2]!, x.dims[r - 1]!];
  const [oh, ow] = [od[r - 2]!, od[r - 1]!];
  const planes = x.size / (h * w);
  const xs = x.numbers;
  const isInt = INT_TYPES.has(dtype as never);
  const buf = new Float64Array(h * ow);
  const line = new Float64Array(ow);
  const nw = tw.n;
  const nh = th.n;
  const widx = tw.idx;
  const ww = tw.w;
  let anyExtrap = false;
  for (let j = 0; j < ow; j++) if (tw.extrap[j]) anyExtrap = true;
  for (let p = 0; p < planes; p++) {
    const ib = p * h * w;
    for (let row = 0; row < h; row++) {
      const rb = ib + row * w;
      const bb = row * ow;
      if (nw === 2) {
        for (let j = 0; j < ow; j++) buf[bb + j] = ww[2 * j]! * xs[rb + widx[2 * j]!]! + ww[2 * j + 1]! * xs[rb + widx[2 * j + 1]!]!;
      } else {
        for (let j = 0; j < ow; j++) {
          let acc = 0;
          for (let t = j * nw, e = t + nw; t < e; t++) acc += ww[t]! * xs[rb + widx[t]!]!;
          buf[bb + j] = acc;
        }
      }
    }
    for (let i = 0; i < oh; i++) {
      const ob = (p * oh + i) * ow;
      if (th.extrap[i]) {
        line.fill(ev);
      } else if (nh === 2) {
        const w0 = th.w[2 * i]!;
        const w1 = th.w[2 * i + 1]!;
        const r0 = th.idx[2 * i]! * ow;
        const r1 = th.idx[2 * i + 1]! * ow;
        if (!isInt && !anyExtrap) {
          // The common float case writes the output row directly.
          for (let j = 0; j < ow; j++) ys[ob + j] = w0 * buf[r0 + j]! + w1 * buf[r1 + j]!;
          continue;
        }
        for (let j = 0; j < ow; j++) line[j] = w0 * buf[r0 + j]! + w1 * buf[r1 + j]!;
        if (anyExtrap) for (let j = 0; j < ow; j++) if (tw.extrap[j]) line[j] = ev;
      } else {
        line.fill(0);
        for (let t = i * nh, e = t + nh; t < e; t++) {
          const wt = th.w[t]!;
          if (wt === 0) continue;
          const rb = th.idx[t]! * ow;
          for (let j = 0; j < ow; j++) line[j]! += wt * buf[rb + j]!;
        }
        if (anyExtrap) for (let j = 0; j < ow; j++) if (tw.extrap[j]) line[j] = ev;
      }
      if (isInt) store(ys.subarray(ob, ob + ow) as NumericArray, line, dtype);
      else ys.set(line, ob);
    }
  }
}

/** Nearest: gather through per-axis index tables; rows whose source repeats are copied. */
function nearest(a: ResizeAttrs, x: HostTensor, y: HostTensor, scales: number[], roi: number[], od: number[]): void {
  const r = x.rank;
  const inStr = new Array<number>(r);
  let acc = 1;
  for (let ax = r - 1; ax >= 0; ax--) { inStr[ax] = acc; acc *= x.dims[ax]!; }
  // tables[ax][o] = source offset along ax (index * stride), or -1 to extrapolate.
  const tables = x.dims.map((n, ax) => {
    const t = new Int32Array(od[ax]!);
    const keep = keepsAxis(a, n, od[ax]!, scales[ax]!);
    for (let o = 0; o < t.length; o++) {
      const c = keep ? o : sourceCoord(a, o, scales[ax]!, n, od[ax]!, roi[ax]!, roi[r + ax]!);
      if (Number.isNaN(c)) { t[o] = -1; continue; }
      let i = nearestIndex(a.nearestMode, c);
      i = i < 0 ? 0 : i >= n ? n - 1 : i;
      t[o] = i * inStr[ax]!;
    }
    return t;
  });
  const xs = x.data as TensorStorage & Store;
  const ys = y.data as TensorStorage & Store;
  const ev: unknown = Array.isArray(ys) ? '' : a.extrapolationValue;
  if (r === 0) { ys[0] = xs[0]; return; }
  const last = tables[r - 1]!;
  const lastExtrap = last.some((v) => v < 0);
  const rowLen = od[r - 1]!;
  const rows = y.size / rowLen;
  const idx = new Array<number>(r).fill(0);
  let prev = -2;
  for (let rw = 0; rw < rows; rw++) {
    let src = 0;
    for (let ax = 0; ax < r - 1; ax++) {
      const s = tables[ax]![idx[ax]!]!;
      if (s < 0) { src = -1; break; }
      src += s;
    }
    const o = rw * rowLen;
    if (src === prev && rw > 0 && !Array.isArray(ys)) {
      (ys as Float32Array).copyWithin(o, o - rowLen, o);
    } else if (src < 0) {
      for (let k = 0; k < rowLen; k++) ys[o + k] = ev;
    } else if (lastExtrap) {
      for (let k = 0; k < rowLen; k++) {
        const s = last[k]!;
        ys[o + k] = s < 0 ? ev : xs[src + s];
      }
    } else {
      for (let k = 0; k < rowLen; k++) ys[o + k] = xs[src + last[k]!];
    }
    prev = src;
    for (let ax = r - 2; ax >= 0; ax--) {
      if (++idx[ax]! < od[ax]!) break;
      idx[ax] = 0;
    }
  }
}
