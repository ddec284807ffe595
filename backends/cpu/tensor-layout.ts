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

function tile(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  const out = new HostTensor(x.dtype, outDims(ctx));
  const reps = input(ctx, 1).toNumberArray();
  const st = strides(x.dims);
  // Output viewed as [r0, d0, r1, d1, ...]: the repeat dims read with stride 0.
  const d: number[] = [];
  const s: number[] = [];
  for (let k = 0; k < x.rank; k++) { d.push(reps[k]!, x.dims[k]!); s.push(0, st[k]!); }
  stridedCopy(out.data, x.data, d, s, 0);
  return [out];
}

export const kernels: KernelRegistry = {
  Reshape: view, Squeeze: view, Unsqueeze: view, Flatten: view,
  Transpose: transpose, Concat: concat, Split: split, Slice: slice, Expand: expand, Tile: tile,
};
