/**
 * CPU kernels of TopK, CumSum, Trilu and the value-making ops (Shape, Size, ConstantOfShape,
 * Constant, Range).
 */
import type { NumericArray } from '../../src/ir/dtype.js';
import { attrInt } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { roundToDtype } from '../../src/ir/lowp.js';
import { constantOfShapeValue, constantTensor, shapeRange } from '../../src/ir/ops/tensor-source.js';
import { input, outDims, type KernelContext, type KernelRegistry } from './kernel.js';
import { copyRun, fillBlock, movable } from './tensor-copy.js';

function prod(dims: readonly number[], from = 0, to = dims.length): number {
  let n = 1;
  for (let k = from; k < to; k++) n *= dims[k]!;
  return n;
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/**
 * TopK along one axis. Ties go to the lower index (the ONNX reference order). Keys are the
 * values, negated when largest, so "better" is always "smaller key"; NaN ranks as +Infinity
 * (numpy's ordering), so it comes first when largest=1 and last otherwise. Selection keeps the
 * K best in a heap whose root is the worst kept (O(n log K)), then sorts those K.
 */
function topK(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  const xs = x.numbers;
  const k = input(ctx, 1).num();
  const axis = normAxis(attrInt(ctx.node, 'axis', -1), x.rank);
  const largest = attrInt(ctx.node, 'largest', 1) !== 0;
  const values = new HostTensor(x.dtype, outDims(ctx, 0));
  const indices = new HostTensor('int64', outDims(ctx, 1));
  const vo = values.data as NumericArray;
  const io = indices.data as Float64Array;
  const outer = prod(x.dims, 0, axis);
  const n = x.dims[axis]!;
  const inner = prod(x.dims, axis + 1);
  if (k === 0 || n === 0) return [values, indices];
  const key = new Float64Array(n);
  const heap = new Int32Array(k);
  const sign = largest ? -1 : 1;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      for (let t = 0; t < n; t++) {
        const v = xs[base + t * inner]!;
        key[t] = v !== v ? sign * Infinity : sign * v;
      }
      selectBest(key, n, heap, k);
      const ob = o * k * inner + i;
      for (let r = 0; r < k; r++) {
        vo[ob + r * inner] = xs[base + heap[r]! * inner]!;
        io[ob + r * inner] = heap[r]!;
      }
    }
  }
  return [values, indices];
}

/** a ranks after b: larger key, or the same key at a larger index. */
function worse(key: Float64Array, a: number, b: number): boolean {
  const ka = key[a]!, kb = key[b]!;
  return ka > kb || (ka === kb && a > b);
}

/** Writes into out[0..k) the k best positions of key[0..n) (smallest key, then lowest index), in order. */
function selectBest(key: Float64Array, n: number, out: Int32Array, k: number): void {
  // Max-heap on "worse": out[0] is the worst kept element.
  for (let t = 0; t < k; t++) {
    let c = t;
    out[c] = t;
    while (c > 0) {
      const p = (c - 1) >> 1;
      if (!worse(key, out[c]!, out[p]!)) break;
      const tmp = out[p]!; out[p] = out[c]!; out[c] = tmp;
      c = p;
    }
  }
  for (let t = k; t < n; t++) {
    // Scanning in index order, a tie with the root is worse (higher index): strict compare.
    if (!(key[t]! < key[out[0]!]!)) continue;
    out[0] = t;
    siftDown(key, out, 0, k);
  }
  // Heap sort in place: repeatedly move the worst to the end.
  for (let end = k - 1; end > 0; end--) {
    const tmp = out[0]!; out[0] = out[end]!; out[end] = tmp;
    siftDown(key, out, 0, end);
  }
}

function siftDown(key: Float64Array, h: Int32Array, c: number, size: number): void {
  for (;;) {
    const l = 2 * c + 1;
    if (l >= size) return;
    const r = l + 1;
    const w = r < size && worse(key, h[r]!, h[l]!) ? r : l;
    if (!worse(key, h[w]!, h[c]!)) return;
    const tmp = h[w]!; h[w] = h[c]!; h[c] = tmp;
    c = w;
  }
}

function cumSum(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  const xs = x.numbers;
  const axis = normAxis(input(ctx, 1).num(), x.rank);
  const exclusive = attrInt(ctx.node, 'exclusive', 0) !== 0;
  const reverse = attrInt(ctx.node, 'reverse', 0) !== 0;
  const out = new HostTensor(x.dtype, outDims(ctx));
  const o = out.data as NumericArray;
  const outer = prod(x.dims, 0, axis);
  const n = x.dims[axis]!;
  const inner = prod(x.dims, axis + 1);
  // Running sums are read back from the output array, so they accumulate in the storage type
  // (float32 rounding, int32 wraparound) as onnxruntime does.
  if (inner === 1) {
    scanRuns(o, xs, 0, n, outer, reverse);
    // Exclusive = inclusive shifted by one along the scan direction (same rounded partial sums).
    if (exclusive && n > 0) {
      for (let b = 0; b < outer * n; b += n) {
        if (reverse) { o.copyWithin(b, b + 1, b + n); o[b + n - 1] = 0; } else { o.copyWithin(b + 1, b, b + n - 1); o[b] = 0; }
      }
    }
    return [out];
  }
  for (let b = 0; b < outer; b++) {
    const base = b * n * inner;
    for (let s = 0; s < n; s++) {
      const t = reverse ? n - 1 - s : s;
      const prev = reverse ? t + 1 : t - 1;
      const row = base + t * inner;
      const prow = base + prev * inner;
      if (s === 0) {
        if (!exclusive) for (let i = 0; i < inner; i++) o[row + i] = xs[row + i]!;
      } else if (exclusive) {
        for (let i = 0; i < inner; i++) o[row + i] = o[prow + i]! + xs[prow + i]!;
      } else {
        for (let i = 0; i < inner; i++) o[row + i] = o[prow + i]! + xs[row + i]!;
      }
    }
  }
  return [out];
}

/**
 * Inclusive CumSum of `rows` contiguous runs of n elements. The running sums are read back from
 * o (storage-type rounding). A prefix sum is a serial dependency chain, so four runs advance
 * together to overlap their latencies (~4x faster than one run at a time).
 */
function scanRuns(o: NumericArray, x: NumericArray, base: number, n: number, rows: number, reverse: boolean): void {
  const first = reverse ? n - 1 : 0;
  const step = reverse ? -1 : 1;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const b0 = base + r * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n;
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (let s = 0, i = first; s < n; s++, i += step) {
      o[b0 + i] = a0 + x[b0 + i]!; o[b1 + i] = a1 + x[b1 + i]!;
      o[b2 + i] = a2 + x[b2 + i]!; o[b3 + i] = a3 + x[b3 + i]!;
      a0 = o[b0 + i]!; a1 = o[b1 + i]!; a2 = o[b2 + i]!; a3 = o[b3 + i]!;
    }
  }
  for (; r < rows; r++) {
    const b0 = base + r * n;
    let a0 = 0;
    for (let s = 0, i = first; s < n; s++, i += step) { o[b0 + i] = a0 + x[b0 + i]!; a0 = o[b0 + i]!; }
  }
}

function trilu(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  const k = ctx.inputs[1] ? ctx.inputs[1].num() : 0;
  const upper = attrInt(ctx.node, 'upper', 1) !== 0;
  const out = new HostTensor(x.dtype, outDims(ctx));
  const rows = x.dims[x.rank - 2]!;
  const cols = x.dims[x.rank - 1]!;
  const mat = rows * cols;
  const batches = mat === 0 ? 0 : x.size / mat;
  const d = movable(out.data);
  const s = movable(x.data);
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < rows; i++) {
      // upper keeps j >= i + k; lower keeps j <= i + k.
      const from = upper ? Math.min(Math.max(i + k, 0), cols) : 0;
      const to = upper ? cols : Math.min(Math.max(i + k + 1, 0), cols);
      const off = b * mat + i * cols;
      if (to > from) copyRun(d, off + from, s, off + from, to - from);
    }
  }
  return [out];
}

function shape(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  const [s, e] = shapeRange(ctx.node, x.rank);
  return [HostTensor.fromNumbers('int64', [e - s], x.dims.slice(s, e))];
}

function constantOfShape(ctx: KernelContext): HostTensor[] {
  const v = constantOfShapeValue(ctx.node);
  const out = new HostTensor(v.dtype, outDims(ctx));
  const val = v.data[0]!;
  if (val !== 0 && val !== '') fillBlock(out.data, 0, val, out.size);
  return [out];
}

/** Range accumulates start + delta step by step in the output type, as onnxruntime does. */
function range(ctx: KernelContext): HostTensor[] {
  const start = input(ctx, 0);
  const delta = input(ctx, 2).num();
  const out = new HostTensor(start.dtype, outDims(ctx));
  const o = out.data as NumericArray;
  const dt = start.dtype;
  const round = dt === 'float64' || !(o instanceof Float32Array) ? null : dt;
  let v = start.num();
  for (let i = 0; i < o.length; i++) {
    o[i] = v;
    v = round ? roundToDtype(round, v + delta) : v + delta;
  }
  return [out];
}

export const kernels: KernelRegistry = {
  TopK: topK, CumSum: cumSum, Trilu: trilu,
  Shape: shape,
  Size: (ctx) => [HostTensor.scalar('int64', input(ctx, 0).size)],
  ConstantOfShape: constantOfShape,
  Constant: (ctx) => [constantTensor(ctx.node)],
  Range: range,
};
