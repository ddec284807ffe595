/**
 * CPU kernels of the reduction family (see src/ir/ops/reduction.ts for the op semantics).
 * Every Reduce* op is one pass of the shared engine (backends/cpu/reduction-core.ts) plus a
 * per-output finishing step; ReduceLogSumExp takes a max pass first for numerical stability.
 * Reductions over an empty set give the identity of the operation (0, 1, -inf for Max and
 * LogSum(Exp), +inf for Min; the type's bounds for integers), as the ONNX spec asks.
 */
import { attrInt } from '../../../src/ir/graph.js';
import { intRange, isInt, type DType, type NumericArray } from '../../../src/ir/dtype.js';
import { HostTensor, sizeOf } from '../../../src/ir/tensor.js';
import { normalizeAxis } from '../../../src/ir/shape-utils.js';
import { resolveReduceAxes } from '../../../src/ir/ops/reduction.js';
import { input, outDims, type CpuKernel, type KernelContext, type KernelRegistry } from '../kernel.js';
import {
  R_ABS, R_EXPSHIFT, R_MAX, R_MIN, R_PROD, R_SQ, R_SUM, collapseRuns, initialValue, reduceInto, type ROp,
} from '../reduction-core.js';

/** How a Reduce* op turns its accumulator into the output value. */
const enum Fin { None, Mean, Sqrt, Log, LogShift }

function reduceKernel(op: ROp, fin: Fin): CpuKernel {
  return (ctx: KernelContext) => {
    const x = input(ctx, 0);
    const dims = outDims(ctx);
    const out = new HostTensor(ctx.outputTypes[0]!.dtype, dims);
    const reduced = reducedAxes(ctx, x.rank);
    const outSize = out.size;
    if (outSize === 0) return [out];
    let n = 1;
    for (let i = 0; i < x.rank; i++) if (reduced[i]) n *= x.dims[i]!;
    const acc = new Float64Array(outSize);
    let shift: Float64Array | undefined;
    if (n > 0) {
      const runs = collapseRuns(x.dims, reduced);
      if (fin === Fin.LogShift) {
        shift = new Float64Array(outSize).fill(-Infinity);
        reduceInto(x.numbers, runs, R_MAX, shift);
      }
      acc.fill(initialValue(op));
      reduceInto(x.numbers, runs, op, acc, shift);
    } else {
      acc.fill(initialValue(op));
    }
    finish(acc, fin, n, shift, out.numbers, out.dtype);
    return [out];
  };
}

/** Per input axis: is it reduced? (axes come from input 1, already validated by inference). */
function reducedAxes(ctx: KernelContext, rank: number): boolean[] {
  const axesT = ctx.inputs[1];
  const raw = axesT ? axesT.toNumberArray() : [];
  const noop = attrInt(ctx.node, 'noop_with_empty_axes', 0) === 1;
  const axes = resolveReduceAxes(raw, rank, noop);
  const flags = new Array<boolean>(rank).fill(axes === 'all');
  if (Array.isArray(axes)) for (const a of axes) flags[a] = true;
  return flags;
}

function finish(acc: Float64Array, fin: Fin, n: number, shift: Float64Array | undefined, y: NumericArray, dtype: DType): void {
  const len = acc.length;
  switch (fin) {
    case Fin.None: break;
    case Fin.Mean: for (let i = 0; i < len; i++) acc[i]! /= n; break;
    case Fin.Sqrt: for (let i = 0; i < len; i++) acc[i] = Math.sqrt(acc[i]!); break;
    case Fin.Log: for (let i = 0; i < len; i++) acc[i] = Math.log(acc[i]!); break;
    case Fin.LogShift:
      for (let i = 0; i < len; i++) {
        const m = shift ? shift[i]! : -Infinity;
        acc[i] = Math.log(acc[i]!) + (Number.isFinite(m) ? m : 0);
      }
      break;
  }
  if (!isInt(dtype) && dtype !== 'bool') { y.set(acc); return; }
  // Integer outputs: ±inf (empty Max/Min) become the type's bounds, fractions truncate toward
  // zero, and the typed array's store wraps overflowing sums like C integer arithmetic would.
  const [lo, hi] = intRange(dtype);
  for (let i = 0; i < len; i++) {
    const v = acc[i]!;
    y[i] = v === -Infinity ? lo : v === Infinity ? hi : v !== v ? 0 : Math.trunc(v);
  }
}

const ARG_MAX = 0;
const ARG_MAX_LAST = 1;
const ARG_MIN = 2;
const ARG_MIN_LAST = 3;

function argKernel(isMax: boolean): CpuKernel {
  return (ctx: KernelContext) => {
    const x = input(ctx, 0);
    const out = new HostTensor('int64', outDims(ctx));
    const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), x.rank);
    const last = attrInt(ctx.node, 'select_last_index', 0) === 1;
    const mode = isMax ? (last ? ARG_MAX_LAST : ARG_MAX) : (last ? ARG_MIN_LAST : ARG_MIN);
    const outer = sizeOf(x.dims.slice(0, axis));
    const n = x.dims[axis]!;
    const inner = sizeOf(x.dims.slice(axis + 1));
    if (out.size === 0) return [out];
    if (n === 0) throw new Error(`${ctx.node.opType}: cannot take the index of an empty axis`);
    const xs = x.numbers;
    const ys = out.numbers as Float64Array;
    if (inner === 1) {
      for (let o = 0; o < outer; o++) ys[o] = argRow(mode, xs, o * n, n);
      return [out];
    }
    // Strided axis: sweep whole inner rows so memory is read in order.
    const best = new Float64Array(inner);
    for (let o = 0; o < outer; o++) {
      const base = o * n * inner;
      const yo = o * inner;
      for (let j = 0; j < inner; j++) { best[j] = xs[base + j]!; ys[yo + j] = 0; }
      for (let k = 1; k < n; k++) argSlice(mode, xs, base + k * inner, inner, best, ys, yo, k);
    }
    return [out];
  };
}

function argRow(mode: number, x: NumericArray, b: number, n: number): number {
  let bi = 0;
  let bv = x[b]!;
  switch (mode) {
    case ARG_MAX: for (let k = 1; k < n; k++) { const v = x[b + k]!; if (v > bv) { bv = v; bi = k; } } break;
    case ARG_MAX_LAST: for (let k = 1; k < n; k++) { const v = x[b + k]!; if (v >= bv) { bv = v; bi = k; } } break;
    case ARG_MIN: for (let k = 1; k < n; k++) { const v = x[b + k]!; if (v < bv) { bv = v; bi = k; } } break;
    default: for (let k = 1; k < n; k++) { const v = x[b + k]!; if (v <= bv) { bv = v; bi = k; } } break;
  }
  return bi;
}

function argSlice(mode: number, x: NumericArray, xb: number, inner: number, best: Float64Array, y: Float64Array, yb: number, k: number): void {
  switch (mode) {
    case ARG_MAX: for (let j = 0; j < inner; j++) { const v = x[xb + j]!; if (v > best[j]!) { best[j] = v; y[yb + j] = k; } } break;
    case ARG_MAX_LAST: for (let j = 0; j < inner; j++) { const v = x[xb + j]!; if (v >= best[j]!) { best[j] = v; y[yb + j] = k; } } break;
    case ARG_MIN: for (let j = 0; j < inner; j++) { const v = x[xb + j]!; if (v < best[j]!) { best[j] = v; y[yb + j] = k; } } break;
    default: for (let j = 0; j < inner; j++) { const v = x[xb + j]!; if (v <= best[j]!) { best[j] = v; y[yb + j] = k; } } break;
  }
}

export const kernels: KernelRegistry = {
  ReduceSum: reduceKernel(R_SUM, Fin.None),
  ReduceMean: reduceKernel(R_SUM, Fin.Mean),
  ReduceMax: reduceKernel(R_MAX, Fin.None),
  ReduceMin: reduceKernel(R_MIN, Fin.None),
  ReduceProd: reduceKernel(R_PROD, Fin.None),
  ReduceL1: reduceKernel(R_ABS, Fin.None),
  ReduceL2: reduceKernel(R_SQ, Fin.Sqrt),
  ReduceSumSquare: reduceKernel(R_SQ, Fin.None),
  ReduceLogSum: reduceKernel(R_SUM, Fin.Log),
  ReduceLogSumExp: reduceKernel(R_EXPSHIFT, Fin.LogShift),
  ArgMax: argKernel(true),
  ArgMin: argKernel(false),
};
