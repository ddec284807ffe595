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

/** Up to this K, TopK keeps a sorted insertion buffer (O(n·K) worst case); above, it sorts. */
const TOPK_INSERT_MAX = 16;

/**
 * TopK along one axis. Ties go to the lower index (the ONNX reference order): elements are
 * scanned in index order and only a strictly better value displaces an earlier one. NaN ranks
 * as +Infinity (numpy's ordering), so it comes first when largest=1 and last otherwise.
 */
function topK(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  const xs = x.numbers;
  const k = input(ctx, 1).num();
  const axis = normAxis(attrInt(ctx.node, 'axis', -1), x.rank);
  const largest = attrInt(ctx.node, 'largest', 1) !== 0;
  const dims = outDims(ctx, 0);
  const values = new HostTensor(x.dtype, dims);
  const indices = new HostTensor('int64', outDims(ctx, 1));
  const vo = values.data as NumericArray;
  const io = indices.data as Float64Array;
  const outer = prod(x.dims, 0, axis);
  const n = x.dims[axis]!;
  const inner = prod(x.dims, axis + 1);
  if (k === 0 || n === 0) return [values, indices];
  // Keys: the values, negated when largest so that "better" is always "smaller key".
  const key = new Float64Array(n);
  const sel = new Int32Array(Math.max(k, 1));
  const selKey = new Float64Array(Math.max(k, 1));
  const order = k > TOPK_INSERT_MAX ? new Uint32Array(n) : null;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      for (let t = 0; t < n; t++) {
        const v = xs[base + t * inner]!;
        const kv = v !== v ? Infinity : v;
        key[t] = largest ? -kv : kv;
      }
      if (order) {
        for (let t = 0; t < n; t++) order[t] = t;
        order.sort((a, b) => (key[a]! - key[b]!) || a - b);
        for (let r = 0; r < k; r++) sel[r] = order[r]!;
      } else {
        let c = 0;
        for (let t = 0; t < n; t++) {
          const kv = key[t]!;
          if (c === k && !(kv < selKey[k - 1]!)) continue;
          let p = c < k ? c++ : k - 1;
          while (p > 0 && kv < selKey[p - 1]!) { selKey[p] = selKey[p - 1]!; sel[p] = sel[p - 1]!; p--; }
          selKey[p] = kv;
          sel[p] = t;
        }
      }
      const ob = o * k * inner + i;
      for (let r = 0; r < k; r++) {
        vo[ob + r * inner] = xs[base + sel[r]! * inner]!;
        io[ob + r * inner] = sel[r]!;
      }
    }
  }
  return [values, indices];
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
