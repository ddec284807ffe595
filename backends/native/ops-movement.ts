/**
 * CUDA data movement (native/src/movement.cu), dtype-agnostic: kernels take the element size.
 * Reshape / Flatten / Squeeze / Unsqueeze are views (no launch). Transpose, Slice, Expand, Tile,
 * Concat, Split, DepthToSpace and SpaceToDepth are strided copies; Pad, the gathers and scatters,
 * Trilu and OneHot have their own kernels. Shape, Size, Range, ConstantOfShape and Constant are
 * values of the dims or of host scalars: computed on the host and uploaded (tiny), or a broadcast
 * copy of one uploaded element (ConstantOfShape).
 */
import { attrInt, attrString, type Node } from '../../src/ir/graph.js';
import { HostTensor, stridesOf } from '../../src/ir/tensor.js';
import { sliceParams } from '../../src/ir/ops/tensor-util.js';
import { transposePerm } from '../../src/ir/ops/tensor.js';
import { fullPads, padMode } from '../../src/ir/ops/normalization-pad.js';
import { constantOfShapeValue, constantTensor, shapeRange } from '../../src/ir/ops/tensor-source.js';
import type { CudaKernel, CudaKernelContext, CudaKernelRegistry } from './kernel.js';
import { din, outDims } from './kernel.js';
import { copyInts, expandInts, tileInts, transposeInts } from './lower-movement.js';
import { CudaTensor, toDeviceArray, typeCode } from './tensor.js';

const normAxis = (a: number, r: number) => (a < 0 ? a + r : a);
const prod = (d: readonly number[], from = 0, to = d.length) => d.slice(from, to).reduce((a, b) => a * b, 1);

/** A binding into t at an element offset (not owned: lives as long as t). */
function at(t: CudaTensor, elems: number, dims: readonly number[] = t.dims): CudaTensor {
  return new CudaTensor(t.buffer, t.dtype, dims, t.byteOffset + elems * t.elemSize);
}

const view = (hostInputs: number[]): CudaKernel => ({ hostInputs, run: (ctx) => [ctx.cuda.view(din(ctx, 0), outDims(ctx))] });

function alloc(ctx: CudaKernelContext, i = 0): CudaTensor {
  return ctx.cuda.alloc(outDims(ctx, i), ctx.outputTypes[i]!.dtype);
}

const transpose: CudaKernel = {
  run(ctx) {
    const x = din(ctx, 0);
    const perm = transposePerm(ctx.node.attrs['perm'] as number[] | undefined, x.dims.length);
    const y = alloc(ctx);
    if (y.size) ctx.cuda.launch('copy', transposeInts(x.elemSize, x.dims, perm), [], [x, y]);
    return [y];
  },
};

const slice: CudaKernel = {
  hostInputs: [1, 2, 3, 4],
  run(ctx) {
    const x = din(ctx, 0);
    const nums = (i: number) => ctx.host(i)?.toNumberArray();
    const p = sliceParams(x.dims, nums(1)!, nums(2)!, nums(3), nums(4));
    const y = alloc(ctx);
    if (!y.size) return [y];
    const st = stridesOf(x.dims);
    let offset = 0;
    for (let k = 0; k < x.dims.length; k++) offset += p[k]!.start * st[k]!;
    ctx.cuda.launch('copy', copyInts(x.elemSize, y.dims, p.map((a, k) => a.step * st[k]!), stridesOf(y.dims)), [], [at(x, offset), y]);
    return [y];
  },
};

const expand: CudaKernel = {
  hostInputs: [1],
  run(ctx) {
    const x = din(ctx, 0);
    const y = alloc(ctx);
    if (y.size) ctx.cuda.launch('copy', expandInts(x.elemSize, x.dims, y.dims), [], [x, y]);
    return [y];
  },
};

const tile: CudaKernel = {
  hostInputs: [1],
  run(ctx) {
    const x = din(ctx, 0);
    const y = alloc(ctx);
    if (y.size) ctx.cuda.launch('copy', tileInts(x.elemSize, x.dims, y.dims), [], [x, y]);
    return [y];
  },
};

/** Copies `part` into (concat) or out of (split) the block at `col` along `axis` of `big`. */
function block(ctx: CudaKernelContext, big: CudaTensor, part: CudaTensor, axis: number, col: number, into: boolean): void {
  if (!part.size) return;
  const bs = stridesOf(big.dims), ps = stridesOf(part.dims);
  const off = col * bs[axis]!;
  if (into) ctx.cuda.launch('copy', copyInts(part.elemSize, part.dims, ps, bs), [], [part, at(big, off)]);
  else ctx.cuda.launch('copy', copyInts(part.elemSize, part.dims, bs, ps), [], [at(big, off), part]);
}

const concat: CudaKernel = {
  run(ctx) {
    const y = alloc(ctx);
    const axis = normAxis(attrInt(ctx.node, 'axis', 0), y.dims.length);
    let col = 0;
    for (const t of ctx.inputs) {
      if (!t) continue;
      block(ctx, y, t, axis, col, true);
      col += t.dims[axis]!;
    }
    return [y];
  },
};

const split: CudaKernel = {
  hostInputs: [1],
  run(ctx) {
    const x = din(ctx, 0);
    const axis = normAxis(attrInt(ctx.node, 'axis', 0), x.dims.length);
    const outs = ctx.node.outputs.map((_, i) => alloc(ctx, i));
    let col = 0;
    for (const o of outs) { block(ctx, x, o, axis, col, false); col += o.dims[axis]!; }
    return outs;
  },
};

const MODES: Record<string, number> = { constant: 0, reflect: 1, edge: 2, wrap: 3 };

/** The low and high 32 bits of one element of `dtype` holding v, as the device stores it. */
function elementBits(dtype: HostTensor['dtype'], v: number): [number, number] {
  const h = HostTensor.scalar(dtype, v);
  const src = toDeviceArray(h);
  const b = new Uint8Array(8);
  b.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
  const w = new Uint32Array(b.buffer);
  return [w[0]!, w[1]!];
}

const pad: CudaKernel = {
  hostInputs: [1, 2, 3],
  unsupported(_n, inputs) { return (inputs[0]?.shape?.length ?? 0) > 12 ? 'Pad of rank above 12' : undefined; },
  run(ctx) {
    const x = din(ctx, 0);
    const r = x.dims.length;
    const pads = fullPads(r, ctx.host(1)!.toNumberArray(), ctx.host(3)?.toNumberArray());
    const y = alloc(ctx);
    if (!y.size) return [y];
    const mode = padMode(ctx.node);
    if (mode !== 'constant' && x.size === 0) throw new Error(`Pad ${mode} of an empty tensor`);
    const v = ctx.host(2)?.size ? ctx.host(2)!.num(0) : 0;
    const [lo, hi] = elementBits(x.dtype, v);
    const rr = Math.max(r, 1);
    const dimsOr1 = (d: readonly number[]) => (r ? d.slice() : [1]);
    ctx.cuda.launch('pad', [y.size, x.elemSize, MODES[mode]!, rr, ...dimsOr1(y.dims), ...dimsOr1(x.dims), ...(r ? pads.slice(0, r) : [0]), lo, hi], [], [x.size ? x : undefined, y]);
    return [y];
  },
};

function idxType(t: CudaTensor): number {
  if (t.dtype !== 'int32' && t.dtype !== 'int64') throw new Error(`indices of type ${t.dtype} (int32 or int64)`);
  return typeCode(t.dtype);
}

const idxCheck = (i: number) => (_n: Node, inputs: ({ dtype: string } | undefined)[]) =>
  inputs[i] && inputs[i]!.dtype !== 'int32' && inputs[i]!.dtype !== 'int64' ? `indices of type ${inputs[i]!.dtype} (int32 or int64 on CUDA)` : undefined;

const gather: CudaKernel = {
  unsupported: idxCheck(1),
  run(ctx) {
    const x = din(ctx, 0), idx = din(ctx, 1);
    const axis = normAxis(attrInt(ctx.node, 'axis', 0), x.dims.length);
    const y = alloc(ctx);
    if (y.size) ctx.cuda.launch('gather', [y.size, x.elemSize, idxType(idx), x.dims[axis]!, Math.max(idx.size, 1), prod(x.dims, axis + 1)], [], [x, idx, y]);
    return [y];
  },
};

const gatherElements: CudaKernel = {
  unsupported: idxCheck(1),
  run(ctx) {
    const x = din(ctx, 0), idx = din(ctx, 1);
    const r = x.dims.length;
    const axis = normAxis(attrInt(ctx.node, 'axis', 0), r);
    const y = alloc(ctx);
    if (y.size) ctx.cuda.launch('gatherElements', [y.size, x.elemSize, idxType(idx), r, axis, x.dims[axis]!, ...idx.dims, ...stridesOf(x.dims)], [], [x, idx, y]);
    return [y];
  },
};

/** GatherND / ScatterND geometry: k index components, slice size, batch handling. */
function ndGeom(dataDims: readonly number[], idxDims: readonly number[], batch: number) {
  const k = idxDims[idxDims.length - 1]!;
  const ds = stridesOf(dataDims);
  return {
    k,
    slice: prod(dataDims, batch + k),
    perBatch: prod(idxDims, batch, idxDims.length - 1),
    batchStride: prod(dataDims, batch),
    dims: dataDims.slice(batch, batch + k),
    strides: ds.slice(batch, batch + k),
    tuples: prod(idxDims, 0, idxDims.length - 1),
  };
}

const gatherND: CudaKernel = {
  unsupported: idxCheck(1),
  run(ctx) {
    const x = din(ctx, 0), idx = din(ctx, 1);
    const g = ndGeom(x.dims, idx.dims, attrInt(ctx.node, 'batch_dims', 0));
    const y = alloc(ctx);
    if (!y.size) return [y];
    if (g.k === 0) throw new Error('GatherND with an empty index tuple');
    ctx.cuda.launch('gatherND', [y.size, x.elemSize, idxType(idx), g.k, g.slice, Math.max(g.perBatch, 1), g.batchStride, ...g.dims, ...g.strides], [], [x, idx, y]);
    return [y];
  },
};

const REDUCTIONS: Record<string, number> = { none: 0, add: 1, mul: 2, max: 3, min: 4 };

/** y = copy of data, then the scatter kernel writes the updates into it. */
function copyOf(ctx: CudaKernelContext, x: CudaTensor): CudaTensor {
  const y = alloc(ctx);
  if (y.size) ctx.cuda.launch('copy', copyInts(x.elemSize, [x.size], [1], [1]), [], [x, y]);
  return y;
}

const scatterND: CudaKernel = {
  unsupported: idxCheck(1),
  run(ctx) {
    const x = din(ctx, 0), idx = din(ctx, 1), upd = din(ctx, 2);
    const y = copyOf(ctx, x);
    const g = ndGeom(x.dims, idx.dims, 0);
    const red = REDUCTIONS[attrString(ctx.node, 'reduction', 'none')];
    if (red === undefined) throw new Error('ScatterND: unknown reduction');
    if (g.tuples && g.slice && g.k) ctx.cuda.launch('scatterND', [g.tuples, g.slice, typeCode(x.dtype), idxType(idx), red, g.k, ...g.dims, ...g.strides], [], [idx, upd, y]);
    return [y];
  },
};

const scatterElements: CudaKernel = {
  unsupported: idxCheck(1),
  run(ctx) {
    const x = din(ctx, 0), idx = din(ctx, 1), upd = din(ctx, 2);
    const y = copyOf(ctx, x);
    const r = x.dims.length;
    const axis = normAxis(attrInt(ctx.node, 'axis', 0), r);
    const red = REDUCTIONS[attrString(ctx.node, 'reduction', 'none')];
    if (red === undefined) throw new Error('ScatterElements: unknown reduction');
    if (idx.size) ctx.cuda.launch('scatterElements', [idx.size, typeCode(x.dtype), idxType(idx), red, r, axis, x.dims[axis]!, ...idx.dims, ...stridesOf(x.dims)], [], [idx, upd, y]);
    return [y];
  },
};

/** DepthToSpace / SpaceToDepth as 6-D transposes of a reshaped input. */
function depthSpace(toSpace: boolean): CudaKernel {
  return {
    unsupported(_n, inputs) { return inputs[0]?.shape?.length !== 4 ? 'input must be 4-D' : undefined; },
    run(ctx) {
      const x = din(ctx, 0);
      const b = attrInt(ctx.node, 'blocksize', 1);
      const [N, C, H, W] = x.dims as [number, number, number, number];
      const y = alloc(ctx);
      if (!y.size) return [y];
      let dims: number[], perm: number[];
      if (toSpace) {
        const crd = attrString(ctx.node, 'mode', 'DCR') === 'CRD';
        const c = C / (b * b);
        dims = crd ? [N, c, b, b, H, W] : [N, b, b, c, H, W];
        perm = crd ? [0, 1, 4, 2, 5, 3] : [0, 3, 4, 1, 5, 2];
      } else {
        dims = [N, C, H / b, b, W / b, b];
        perm = [0, 3, 5, 1, 2, 4];
      }
      ctx.cuda.launch('copy', transposeInts(x.elemSize, dims, perm), [], [x, y]);
      return [y];
    },
  };
}

const trilu: CudaKernel = {
  hostInputs: [1],
  unsupported(_n, inputs) { return (inputs[0]?.shape?.length ?? 0) < 2 ? 'Trilu needs rank >= 2' : undefined; },
  run(ctx) {
    const x = din(ctx, 0);
    const r = x.dims.length;
    const y = alloc(ctx);
    const k = ctx.host(1)?.size ? ctx.host(1)!.num(0) : 0;
    if (y.size) ctx.cuda.launch('trilu', [y.size, x.elemSize, x.dims[r - 2]!, x.dims[r - 1]!, k, attrInt(ctx.node, 'upper', 1)], [], [x, y]);
    return [y];
  },
};

const oneHot: CudaKernel = {
  hostInputs: [1],
  run(ctx) {
    const idx = din(ctx, 0), values = din(ctx, 2);
    const y = alloc(ctx);
    if (!y.size) return [y];
    const axis = normAxis(attrInt(ctx.node, 'axis', -1), y.dims.length);
    const depth = y.dims[axis]!;
    ctx.cuda.launch('oneHot', [y.size, y.elemSize, typeCode(idx.dtype), depth, prod(y.dims, axis + 1)], [], [idx, values, y]);
    return [y];
  },
};

/** Values known on the host (shapes, scalars): uploaded. */
function hostValue(hostInputs: number[], value: (ctx: CudaKernelContext) => HostTensor): CudaKernel {
  return { hostInputs, run: (ctx) => [ctx.cuda.upload(value(ctx))] };
}

const shape = hostValue([], (ctx) => {
  const d = din(ctx, 0).dims;
  const [s, e] = shapeRange(ctx.node, d.length);
  const v = d.slice(s, Math.max(s, e));
  return HostTensor.fromNumbers('int64', [v.length], v);
});

const size = hostValue([], (ctx) => HostTensor.scalar('int64', din(ctx, 0).size));

const range = hostValue([0, 1, 2], (ctx) => {
  const [s, , d] = [0, 1, 2].map((i) => ctx.host(i)!.num(0)) as [number, number, number];
  const dims = outDims(ctx);
  const t = new HostTensor(ctx.outputTypes[0]!.dtype, dims);
  const o = t.data as Float64Array;
  for (let i = 0; i < o.length; i++) o[i] = s + i * d;
  return t;
});

const constant = hostValue([], (ctx) => constantTensor(ctx.node));

/** One uploaded element broadcast over the output by a copy with stride 0. */
const constantOfShape: CudaKernel = {
  hostInputs: [0],
  run(ctx) {
    const v = constantOfShapeValue(ctx.node);
    const y = alloc(ctx);
    if (!y.size) return [y];
    const one = ctx.cuda.upload(new HostTensor(v.dtype, [1], v.data));
    ctx.cuda.launch('copy', copyInts(y.elemSize, [y.size], [0], [1]), [], [one, y]);
    return [y];
  },
};

export const MOVEMENT_KERNELS: CudaKernelRegistry = {
  Reshape: view([1]), Squeeze: view([1]), Unsqueeze: view([1]), Flatten: view([]),
  Transpose: transpose, Slice: slice, Expand: expand, Tile: tile, Concat: concat, Split: split, Pad: pad,
  Gather: gather, GatherElements: gatherElements, GatherND: gatherND, ScatterND: scatterND, ScatterElements: scatterElements,
  DepthToSpace: depthSpace(true), SpaceToDepth: depthSpace(false), Trilu: trilu, OneHot: oneHot,
  Shape: shape, Size: size, Range: range, Constant: constant, ConstantOfShape: constantOfShape,
};

