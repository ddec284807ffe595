/**
 * CPU kernels of the index-driven ops: Gather, GatherElements, GatherND, ScatterElements,
 * ScatterND, OneHot, NonZero. Indices arrive as numbers (int64 is a Float64Array), may be
 * negative (counted from the end) and are bounds-checked once, before any data moves.
 */
import type { NumericArray, TensorStorage } from '../../src/ir/dtype.js';
import { attrInt, attrString } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { input, outDims, type KernelContext, type KernelRegistry } from './kernel.js';
import { copyBlock, copyRun, fillBlock, movable, strides, type MoveArray, type Movable } from './tensor-copy.js';

function prod(dims: readonly number[], from = 0, to = dims.length): number {
  let n = 1;
  for (let k = from; k < to; k++) n *= dims[k]!;
  return n;
}

/** Index v into an axis of size n, negative counted from the end; throws when out of range. */
function fixIndex(v: number, n: number, op: string): number {
  const i = v < 0 ? v + n : v;
  if (!(i >= 0 && i < n) || !Number.isInteger(i)) throw new Error(`${op}: index ${v} out of range [-${n}, ${n - 1}]`);
  return i;
}

function gather(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  const idx = input(ctx, 1).numbers;
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), x.rank);
  const out = new HostTensor(x.dtype, outDims(ctx));
  const outer = prod(x.dims, 0, axis);
  const n = x.dims[axis]!;
  const inner = prod(x.dims, axis + 1);
  const m = idx.length;
  const fixed = new Int32Array(m);
  for (let j = 0; j < m; j++) fixed[j] = fixIndex(idx[j]!, n, 'Gather');
  const d = movable(out.data);
  const s = movable(x.data);
  for (let o = 0; o < outer; o++) {
    const ob = o * m;
    const ib = o * n;
    if (inner === 1) pick(d, ob, s, ib, fixed);
    else for (let j = 0; j < m; j++) copyRun(d, (ob + j) * inner, s, (ib + fixed[j]!) * inner, inner);
  }
  return [out];
}

/** d[dOff + j] = s[sOff + at[j]] for every j. */
function pick(d: Movable, dOff: number, s: Movable, sOff: number, at: Int32Array): void {
  if (Array.isArray(d)) {
    const ss = s as string[];
    for (let j = 0; j < at.length; j++) d[dOff + j] = ss[sOff + at[j]!]!;
  } else {
    const ss = s as MoveArray;
    for (let j = 0; j < at.length; j++) d[dOff + j] = ss[sOff + at[j]!]!;
  }
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/**
 * For GatherElements / ScatterElements: the flat data offset addressed by every element of
 * `idx` (coordinates of the element, with the one along `axis` replaced by its index value).
 */
function elementOffsets(dataDims: readonly number[], idxDims: readonly number[], idx: NumericArray,
  axis: number, op: string): Int32Array {
  const r = dataDims.length;
  const size = idx.length;
  const offs = new Int32Array(size);
  if (size === 0) return offs;
  for (let k = 0; k < r; k++) {
    if (k !== axis && idxDims[k]! > dataDims[k]!) throw new Error(`${op}: indices dim ${k} exceeds data dim`);
  }
  const xs = strides(dataDims);
  const n = dataDims[axis]!;
  const sa = xs[axis]!;
  const last = r - 1;
  const nLast = idxDims[last]!;
  const sLast = last === axis ? 0 : xs[last]!;
  const cnt = new Array<number>(r).fill(0);
  let base = 0;
  for (let i = 0; i < size; i += nLast) {
    for (let j = 0; j < nLast; j++) offs[i + j] = base + j * sLast + fixIndex(idx[i + j]!, n, op) * sa;
    for (let k = last - 1; k >= 0; k--) {
      const st = k === axis ? 0 : xs[k]!;
      base += st;
      if (++cnt[k]! < idxDims[k]!) break;
      base -= st * idxDims[k]!;
      cnt[k] = 0;
    }
  }
  return offs;
}

function gatherElements(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  const idxT = input(ctx, 1);
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), x.rank);
  const offs = elementOffsets(x.dims, idxT.dims, idxT.numbers, axis, 'GatherElements');
  const out = new HostTensor(x.dtype, outDims(ctx));
  pick(movable(out.data), 0, movable(x.data), 0, offs);
  return [out];
}

function gatherND(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  const idxT = input(ctx, 1);
  const idx = idxT.numbers;
  const b = attrInt(ctx.node, 'batch_dims', 0);
  const q = idxT.rank;
  const k = idxT.dims[q - 1]!;
  const out = new HostTensor(x.dtype, outDims(ctx));
  const xs = strides(x.dims);
  const batches = prod(x.dims, 0, b);
  const batchSize = prod(x.dims, b);
  const m = prod(idxT.dims, b, q - 1);
  const slice = prod(x.dims, b + k);
  const d = movable(out.data);
  const s = movable(x.data);
  for (let bb = 0; bb < batches; bb++) {
    for (let j = 0; j < m; j++) {
      const row = bb * m + j;
      let off = bb * batchSize;
      for (let t = 0; t < k; t++) off += fixIndex(idx[row * k + t]!, x.dims[b + t]!, 'GatherND') * xs[b + t]!;
      copyRun(d, row * slice, s, off, slice);
    }
  }
  return [out];
}

type Reduction = 'none' | 'add' | 'mul' | 'max' | 'min';

/** out[offs[i] + t] op= upd[i*block + t] for t < block, in index order (later writes win). */
function scatterApply(out: TensorStorage, upd: TensorStorage, offs: Int32Array, block: number, red: Reduction): void {
  if (red === 'none') {
    const d = movable(out);
    const u = movable(upd);
    if (block === 1 && !Array.isArray(d)) {
      const uu = u as MoveArray;
      for (let i = 0; i < offs.length; i++) d[offs[i]!] = uu[i]!;
    } else for (let i = 0; i < offs.length; i++) copyRun(d, offs[i]!, u, i * block, block);
    return;
  }
  const o = out as NumericArray;
  const u = upd as NumericArray;
  for (let i = 0; i < offs.length; i++) {
    const ob = offs[i]!;
    const ub = i * block;
    switch (red) {
      case 'add': for (let t = 0; t < block; t++) o[ob + t] += u[ub + t]!; break;
      case 'mul': for (let t = 0; t < block; t++) o[ob + t] *= u[ub + t]!; break;
      case 'max': for (let t = 0; t < block; t++) o[ob + t] = Math.max(o[ob + t]!, u[ub + t]!); break;
      case 'min': for (let t = 0; t < block; t++) o[ob + t] = Math.min(o[ob + t]!, u[ub + t]!); break;
    }
  }
}

function copyOf(x: HostTensor): HostTensor {
  const out = new HostTensor(x.dtype, x.dims);
  copyBlock(out.data, 0, x.data, 0, x.size);
  return out;
}

function scatterElements(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  const idxT = input(ctx, 1);
  const upd = input(ctx, 2);
  if (upd.size !== idxT.size) throw new Error('ScatterElements: updates and indices shapes differ');
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), x.rank);
  const offs = elementOffsets(x.dims, idxT.dims, idxT.numbers, axis, 'ScatterElements');
  const out = copyOf(x);
  scatterApply(out.data, upd.data, offs, 1, attrString(ctx.node, 'reduction', 'none') as Reduction);
  return [out];
}

function scatterND(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  const idxT = input(ctx, 1);
  const upd = input(ctx, 2);
  const idx = idxT.numbers;
  const q = idxT.rank;
  const k = idxT.dims[q - 1]!;
  if (k > x.rank) throw new Error(`ScatterND: indices last dim ${k} exceeds data rank ${x.rank}`);
  const m = prod(idxT.dims, 0, q - 1);
  const block = prod(x.dims, k);
  if (upd.size !== m * block) throw new Error('ScatterND: updates shape does not match indices and data');
  const xs = strides(x.dims);
  const offs = new Int32Array(m);
  for (let j = 0; j < m; j++) {
    let off = 0;
    for (let t = 0; t < k; t++) off += fixIndex(idx[j * k + t]!, x.dims[t]!, 'ScatterND') * xs[t]!;
    offs[j] = off;
  }
  const out = copyOf(x);
  scatterApply(out.data, upd.data, offs, block, attrString(ctx.node, 'reduction', 'none') as Reduction);
  return [out];
}

function oneHot(ctx: KernelContext): HostTensor[] {
  const idxT = input(ctx, 0);
  const idx = idxT.numbers;
  const depth = Math.trunc(input(ctx, 1).num());
  const values = input(ctx, 2);
  if (values.size !== 2) throw new Error('OneHot: values must hold [off_value, on_value]');
  const out = new HostTensor(values.dtype, outDims(ctx));
  const axis = normAxis(attrInt(ctx.node, 'axis', -1), idxT.rank + 1);
  const v = movable(values.data);
  const d = movable(out.data);
  const off = values.data[0]!;
  if (off !== 0 && off !== '') fillBlock(out.data, 0, off, out.size);
  const inner = prod(idxT.dims, axis);
  const outer = prod(idxT.dims, 0, axis);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let c = Math.trunc(idx[o * inner + i]!);
      if (c < 0) c += depth;
      if (c >= 0 && c < depth) copyRun(d, (o * depth + c) * inner + i, v, 1, 1);
    }
  }
  return [out];
}

function nonZero(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  // One flag per element first (strings: non-empty), so the loops below stay monomorphic.
  const flags = new Uint8Array(x.size);
  if (Array.isArray(x.data)) {
    const s = x.data;
    for (let i = 0; i < flags.length; i++) flags[i] = s[i] !== '' ? 1 : 0;
  } else {
    const s = x.data;
    for (let i = 0; i < flags.length; i++) flags[i] = s[i] !== 0 ? 1 : 0;
  }
  let count = 0;
  for (let i = 0; i < flags.length; i++) count += flags[i]!;
  // A scalar reports as one coordinate row (onnxruntime's convention).
  const rank = Math.max(x.rank, 1);
  const dims = x.rank === 0 ? [1] : x.dims;
  const out = new HostTensor('int64', [rank, count]);
  const o = out.data as Float64Array;
  // Walk rows of the last dim; outer coordinates change once per row.
  const n = dims[rank - 1]!;
  const rows = n === 0 ? 0 : x.size / n;
  const last = (rank - 1) * count;
  const cnt = new Array<number>(rank - 1).fill(0);
  let j = 0;
  for (let r = 0; r < rows; r++) {
    const b = r * n;
    for (let i = 0; i < n; i++) {
      if (flags[b + i] === 0) continue;
      for (let k = 0; k < rank - 1; k++) o[k * count + j] = cnt[k]!;
      o[last + j] = i;
      j++;
    }
    for (let k = rank - 2; k >= 0; k--) {
      if (++cnt[k]! < dims[k]!) break;
      cnt[k] = 0;
    }
  }
  return [out];
}

export const kernels: KernelRegistry = {
  Gather: gather, GatherElements: gatherElements, GatherND: gatherND,
  ScatterElements: scatterElements, ScatterND: scatterND, OneHot: oneHot, NonZero: nonZero,
};
