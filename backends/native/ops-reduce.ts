/**
 * CUDA reductions (native/src/reduce.cu): Reduce* over any set of axes by strides (no transpose),
 * ArgMax / ArgMin, CumSum, TopK; GlobalAveragePool / GlobalMaxPool as reductions over the spatial
 * axes; LpNormalization as a reduction and a division.
 */
import { attrInt } from '../../src/ir/graph.js';
import { stridesOf } from '../../src/ir/tensor.js';
import { resolveReduceAxes } from '../../src/ir/ops/reduction.js';
import type { CudaKernel, CudaKernelContext, CudaKernelRegistry } from './kernel.js';
import { din, outDims } from './kernel.js';
import { launchBinaryT } from './ops-typed.js';
import { typeCode, type CudaTensor } from './tensor.js';

export const REDUCE_OPS = ['Sum', 'Mean', 'Max', 'Min', 'Prod', 'L1', 'L2', 'LogSum', 'LogSumExp', 'SumSquare'] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];
const MAX_AXES = 8;

/** Merges neighbouring axes walked contiguously ((dims, strides) pairs, outer first). */
function merge(dims: number[], strides: number[]): [number[], number[]] {
  const d: number[] = [], s: number[] = [];
  for (let i = 0; i < dims.length; i++) {
    if (dims[i] === 1) continue;
    const k = d.length - 1;
    if (k >= 0 && s[k] === strides[i]! * dims[i]!) { d[k] = d[k]! * dims[i]!; s[k] = strides[i]!; }
    else { d.push(dims[i]!); s.push(strides[i]!); }
  }
  return d.length ? [d, s] : [[1], [0]];
}

/** ints of `reduce` for x of `dims` reduced over `reduced` axes. */
export function reduceInts(op: ReduceOp, xType: number, yType: number, dims: readonly number[], reduced: readonly boolean[]): number[] {
  const st = stridesOf(dims);
  const kd: number[] = [], ks: number[] = [], rd: number[] = [], rs: number[] = [];
  dims.forEach((d, i) => { if (reduced[i]) { rd.push(d); rs.push(st[i]!); } else { kd.push(d); ks.push(st[i]!); } });
  const nOut = kd.reduce((a, b) => a * b, 1);
  // an empty reduced extent keeps a 0 dim (merge drops only 1s)
  const [k2, ks2] = merge(kd, ks);
  const [r2, rs2] = merge(rd, rs);
  if (k2.length > MAX_AXES || r2.length > MAX_AXES) throw new Error(`reduction over more than ${MAX_AXES} separate axes`);
  return [nOut, REDUCE_OPS.indexOf(op), xType, yType, k2.length, ...k2, ...ks2, r2.length, ...r2, ...rs2];
}

export function launchReduce(ctx: CudaKernelContext, op: ReduceOp, x: CudaTensor, reduced: readonly boolean[], y: CudaTensor): void {
  if (y.size) ctx.cuda.launch('reduce', reduceInts(op, typeCode(x.dtype), typeCode(y.dtype), x.dims, reduced), [], [x.size ? x : undefined, y]);
}

function reduceKernel(op: ReduceOp): CudaKernel {
  return {
    hostInputs: [1],
    run(ctx) {
      const x = din(ctx, 0);
      const y = ctx.cuda.alloc(outDims(ctx), ctx.outputTypes[0]!.dtype);
      const raw = ctx.host(1)?.toNumberArray() ?? (ctx.node.attrs['axes'] as number[] | undefined) ?? [];
      const axes = resolveReduceAxes(raw, x.dims.length, attrInt(ctx.node, 'noop_with_empty_axes', 0) === 1);
      const reduced = x.dims.map((_, i) => axes === 'all' || (Array.isArray(axes) && axes.includes(i)));
      launchReduce(ctx, op, x, reduced, y);
      return [y];
    },
  };
}

/** (outer, axisDim, inner) of an axis. */
function lines(dims: readonly number[], axis: number): [number, number, number] {
  const p = (a: number, b: number) => dims.slice(a, b).reduce((x, y) => x * y, 1);
  return [p(0, axis), dims[axis]!, p(axis + 1, dims.length)];
}
const normAxis = (a: number, r: number) => (a < 0 ? a + r : a);

function argKernel(isMin: boolean): CudaKernel {
  return {
    run(ctx) {
      const x = din(ctx, 0);
      const y = ctx.cuda.alloc(outDims(ctx), 'int64');
      const [outer, axisDim, inner] = lines(x.dims, normAxis(attrInt(ctx.node, 'axis', 0), x.dims.length));
      if (y.size) ctx.cuda.launch('argreduce', [outer * inner, typeCode(x.dtype), isMin ? 1 : 0, attrInt(ctx.node, 'select_last_index', 0), axisDim, inner], [], [x, y]);
      return [y];
    },
  };
}

const cumsum: CudaKernel = {
  hostInputs: [1],
  run(ctx) {
    const x = din(ctx, 0);
    const y = ctx.cuda.alloc(x.dims, x.dtype);
    const [outer, axisDim, inner] = lines(x.dims, normAxis(ctx.host(1)!.num(0), x.dims.length));
    if (y.size) ctx.cuda.launch('cumsum', [outer * inner, typeCode(x.dtype), axisDim, inner, attrInt(ctx.node, 'exclusive', 0), attrInt(ctx.node, 'reverse', 0)], [], [x, y]);
    return [y];
  },
};

const topk: CudaKernel = {
  hostInputs: [1],
  run(ctx) {
    const x = din(ctx, 0);
    const axis = normAxis(attrInt(ctx.node, 'axis', -1), x.dims.length);
    const [outer, axisDim, inner] = lines(x.dims, axis);
    const k = ctx.host(1)!.num(0);
    const dims = outDims(ctx);
    const v = ctx.cuda.alloc(dims, x.dtype), i = ctx.cuda.alloc(dims, 'int64');
    if (v.size) ctx.cuda.launch('topk', [outer * inner, typeCode(x.dtype), axisDim, inner, k, attrInt(ctx.node, 'largest', 1)], [], [x, v, i]);
    return [v, i];
  },
};

function globalPool(op: ReduceOp): CudaKernel {
  return {
    run(ctx) {
      const x = din(ctx, 0);
      const y = ctx.cuda.alloc(outDims(ctx), ctx.outputTypes[0]!.dtype);
      launchReduce(ctx, op, x, x.dims.map((_, i) => i >= 2), y);
      return [y];
    },
  };
}

const lpNorm: CudaKernel = {
  unsupported(node) {
    const p = attrInt(node, 'p', 2);
    return p === 1 || p === 2 ? undefined : `LpNormalization with p=${p} (1 or 2)`;
  },
  run(ctx) {
    const x = din(ctx, 0);
    const axis = normAxis(attrInt(ctx.node, 'axis', -1), x.dims.length);
    const nd = x.dims.map((d, i) => (i === axis ? 1 : d));
    const n = ctx.cuda.alloc(nd, x.dtype);
    launchReduce(ctx, attrInt(ctx.node, 'p', 2) === 1 ? 'L1' : 'L2', x, x.dims.map((_, i) => i === axis), n);
    const y = ctx.cuda.alloc(x.dims, x.dtype);
    launchBinaryT(ctx.cuda, 'SafeDiv', x, n, y); // a zero vector stays zero (as the CPU)
    return [y];
  },
};

export const REDUCE_KERNELS: CudaKernelRegistry = {
  ...Object.fromEntries(REDUCE_OPS.map((op) => [`Reduce${op}`, reduceKernel(op)])),
  ArgMax: argKernel(false), ArgMin: argKernel(true), CumSum: cumsum, TopK: topk,
  GlobalAveragePool: globalPool('Mean'), GlobalMaxPool: globalPool('Max'), LpNormalization: lpNorm,
};
