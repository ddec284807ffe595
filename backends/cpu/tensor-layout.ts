/**
 * CPU kernels of the layout ops. Reshape-like ops return a view sharing the input's storage
 * (tensors are immutable once produced); the others are one `stridedCopy` or block copies.
 */
import { attrInt, attrInts } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { transposePerm } from '../../src/ir/ops/tensor.js';
import { sliceParams, splitSizes } from '../../src/ir/ops/tensor-util.js';
import { input, outDims, type KernelContext, type KernelRegistry } from './kernel.js';
import { copyRun, movable, stridedCopy, strides } from './tensor-copy.js';

/** Same storage, the dims inference decided (Reshape, Squeeze, Unsqueeze, Flatten). */
function view(ctx: KernelContext): HostTensor[] {
  return [input(ctx, 0).reshape(outDims(ctx))];
}

function transpose(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  const perm = transposePerm(attrInts(ctx.node, 'perm'), x.rank);
  const out = new HostTensor(x.dtype, outDims(ctx));
  const st = strides(x.dims);
  stridedCopy(out.data, x.data, out.dims, perm.map((p) => st[p]!), 0);
  return [out];
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function concat(ctx: KernelContext): HostTensor[] {
  const dims = outDims(ctx);
  const ins = ctx.inputs.filter((t): t is HostTensor => t !== undefined);
  const out = new HostTensor(ins[0]!.dtype, dims);
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), dims.length);
  let outer = 1;
  for (let k = 0; k < axis; k++) outer *= dims[k]!;
  const rowOut = outer === 0 ? 0 : out.size / outer;
  const d = movable(out.data);
  let at = 0;
  for (const t of ins) {
    const row = outer === 0 ? 0 : t.size / outer;
    if (row === 0) continue;
    const s = movable(t.data);
    for (let o = 0; o < outer; o++) copyRun(d, o * rowOut + at, s, o * row, row);
    at += row;
  }
  return [out];
}

function split(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), x.rank);
  const nOut = ctx.node.outputs.length;
  const sizes = splitSizes(x.dims[axis]!, ctx.inputs[1]?.toNumberArray(), attrInt(ctx.node, 'num_outputs'), nOut);
  let outer = 1;
  for (let k = 0; k < axis; k++) outer *= x.dims[k]!;
  let inner = 1;
  for (let k = axis + 1; k < x.rank; k++) inner *= x.dims[k]!;
  const rowIn = x.dims[axis]! * inner;
  const src = movable(x.data);
  let at = 0;
  return sizes.map((s, i) => {
    const out = new HostTensor(x.dtype, outDims(ctx, i));
    const row = s * inner;
    const d = movable(out.data);
    for (let o = 0; o < outer; o++) copyRun(d, o * row, src, o * rowIn + at, row);
    at += row;
    return out;
  });
}

function slice(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  const p = sliceParams(x.dims, input(ctx, 1).toNumberArray(), input(ctx, 2).toNumberArray(),
    ctx.inputs[3]?.toNumberArray(), ctx.inputs[4]?.toNumberArray());
  const out = new HostTensor(x.dtype, outDims(ctx));
  const st = strides(x.dims);
  let offset = 0;
  for (let k = 0; k < x.rank; k++) offset += p[k]!.start * st[k]!;
  stridedCopy(out.data, x.data, out.dims, p.map((a, k) => a.step * st[k]!), offset);
  return [out];
}

function expand(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  const dims = outDims(ctx);
  const out = new HostTensor(x.dtype, dims);
  const st = strides(x.dims);
  const lead = dims.length - x.rank;
  // Broadcast dims (input 1, or absent on the left) read with stride 0.
  const s = dims.map((d, k) => (k < lead || x.dims[k - lead] !== d ? 0 : st[k - lead]!));
  stridedCopy(out.data, x.data, dims, s, 0);
  return [out];
}

/**
 * Tile: copy each input row once into its slot of the first tile, then replicate whole blocks
 * with copyWithin from the innermost axis outwards (every copy is one large memmove).
 */
function tile(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  const out = new HostTensor(x.dtype, outDims(ctx));
  if (out.size === 0) return [out];
  if (x.rank === 0) { copyRun(movable(out.data), 0, movable(x.data), 0, 1); return [out]; }
  const reps = input(ctx, 1).toNumberArray();
  const r = x.rank;
  const os = strides(out.dims);
  const d = movable(out.data);
  const s = movable(x.data);
  const within = (to: number, from: number, n: number) => { (d as Int32Array).copyWithin(to, from, from + n); };
  // Rows of the last axis, each repeated along that axis.
  const n = x.dims[r - 1]!;
  forEachIndex(x.dims, r - 1, os, (off, row) => {
    copyRun(d, off, s, row * n, n);
    for (let t = 1; t < reps[r - 1]!; t++) within(off + t * n, off, n);
  });
  // Then axis k: the block of one repetition (dims[k] * os[k], filled already) repeats reps[k] times.
  for (let k = r - 2; k >= 0; k--) {
    const blk = x.dims[k]! * os[k]!;
    forEachIndex(x.dims, k, os, (off) => {
      for (let t = 1; t < reps[k]!; t++) within(off + t * blk, off, blk);
    });
  }
  return [out];
}

/** Calls fn(Σ i_j * st_j, linear index) for every index of dims[0..m) (row-major). */
function forEachIndex(dims: readonly number[], m: number, st: readonly number[], fn: (off: number, i: number) => void): void {
  let count = 1;
  for (let k = 0; k < m; k++) count *= dims[k]!;
  const idx = new Array<number>(m).fill(0);
  let off = 0;
  for (let i = 0; i < count; i++) {
    fn(off, i);
    for (let k = m - 1; k >= 0; k--) {
      off += st[k]!;
      if (++idx[k]! < dims[k]!) break;
      off -= st[k]! * dims[k]!;
      idx[k] = 0;
    }
  }
}

export const kernels: KernelRegistry = {
  Reshape: view, Squeeze: view, Unsqueeze: view, Flatten: view,
  Transpose: transpose, Concat: concat, Split: split, Slice: slice, Expand: expand, Tile: tile,
};
