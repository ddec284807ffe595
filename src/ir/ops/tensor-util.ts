/**
 * Helpers shared by the tensor-family schemas (and, for the parameter resolvers, by their CPU
 * kernels, so that start offsets and split sizes are resolved by one function on both sides).
 */
import type { Dim, Node, ValueType } from '../graph.js';
import { InferError, type InferContext, type UpgradeContext } from '../schema.js';
import { HostTensor } from '../tensor.js';

/** Values of constant input i as numbers; undefined when the input is absent or not constant. */
export function constInts(ctx: InferContext, i: number): number[] | undefined {
  if (ctx.inputs[i] === undefined) return undefined;
  return ctx.value(i)?.toNumberArray();
}

/** Type of a required input, with a clear error when it is missing. */
export function req(ctx: InferContext, i: number): ValueType {
  const t = ctx.inputs[i];
  if (t === undefined) throw new InferError(`${ctx.node.opType}: input ${i} is required`);
  return t;
}

/** Product of dims as a dim: a number when all are known, else `coef*a*b` with sorted names. */
export function productDim(dims: readonly Dim[]): Dim {
  let n = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') n *= d;
    else syms.push(d);
  }
  if (syms.length === 0 || n === 0) return n;
  syms.sort();
  return n === 1 ? syms.join('*') : `${n}*${syms.join('*')}`;
}

/** Sum of dims as a dim: a number when all are known, else `a+b+3`. */
export function sumDim(dims: readonly Dim[]): Dim {
  let n = 0;
  const syms: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') n += d;
    else syms.push(d);
  }
  if (syms.length === 0) return n;
  return n === 0 && syms.length === 1 ? syms[0]! : [...syms, ...(n ? [String(n)] : [])].join('+');
}

/** Normalizes an axis list against `rank`, rejecting out-of-range and repeated axes. */
export function normalizeAxes(axes: readonly number[], rank: number, op: string): number[] {
  const out = axes.map((a) => {
    if (!Number.isInteger(a) || a < -rank || a >= rank) throw new InferError(`${op}: axis ${a} out of range for rank ${rank}`);
    return a < 0 ? a + rank : a;
  });
  if (new Set(out).size !== out.length) throw new InferError(`${op}: repeated axis in [${axes.join(',')}]`);
  return out;
}

/** A shape of `rank` fresh symbolic dims (rank known, sizes data-dependent). */
export function freshShape(ctx: InferContext, rank: number, hint: string): Dim[] {
  return Array.from({ length: rank }, () => ctx.freshDim(hint));
}

/** Length of a 1-D input whose length is known statically (e.g. a shape tensor), else undefined. */
export function staticLength1D(t: ValueType | undefined): number | undefined {
  const s = t?.shape;
  if (s === undefined || s.length !== 1 || typeof s[0] !== 'number') return undefined;
  return s[0];
}

export function int64Tensor(values: readonly number[], dims: readonly number[] = [values.length]): HostTensor {
  return HostTensor.fromNumbers('int64', dims, values);
}

/** Upgrade helper: moves an ints attribute to a constant int64 input at `index` (padding with ''). */
export function attrToInput(node: Node, ctx: UpgradeContext, attr: string, index: number): void {
  const v = node.attrs[attr];
  if (v === undefined) return;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) throw new Error(`${node.opType}: attribute ${attr} must be ints`);
  const name = ctx.constant(int64Tensor(v as number[]), `${node.name || node.opType}_${attr}`);
  while (node.inputs.length < index) node.inputs.push('');
  node.inputs[index] = name;
  delete node.attrs[attr];
}

// ---- Slice parameters (shared by the schema and the kernel) ----

export interface SliceAxis {
  /** First element taken, already clamped. */
  start: number;
  step: number;
  /** Number of elements taken. */
  size: number;
}

/**
 * Resolves Slice starts/ends/steps for one axis of size `dim` per the ONNX spec: negative
 * values count from the end, then starts clamp to [0, dim] (step > 0) or [0, dim-1] (step < 0)
 * and ends to [0, dim] or [-1, dim-1]. INT64_MAX/MIN arrive as +-2^63 in float64 and clamp.
 */
export function sliceAxis(dim: number, start: number, end: number, step: number): SliceAxis {
  if (step === 0 || !Number.isFinite(step)) throw new InferError('Slice: step must be a non-zero integer');
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = Math.min(Math.max(start, 0), dim);
    end = Math.min(Math.max(end, 0), dim);
  } else {
    start = Math.min(Math.max(start, 0), dim - 1);
    end = Math.min(Math.max(end, -1), dim - 1);
  }
  const size = Math.max(0, Math.ceil((end - start) / step));
  return { start, step, size };
}

/**
 * Per-axis slice parameters for a tensor of `dims`, from the Slice inputs' values (axes and
 * steps optional). Axes not named are taken whole.
 */
export function sliceParams(dims: readonly number[], starts: readonly number[], ends: readonly number[],
  axes: readonly number[] | undefined, steps: readonly number[] | undefined): SliceAxis[] {
  const rank = dims.length;
  const out: SliceAxis[] = dims.map((d) => ({ start: 0, step: 1, size: d }));
  checkSliceLengths(starts, ends, axes, steps);
  const ax = normalizeAxes(axes ?? starts.map((_, i) => i), rank, 'Slice');
  for (let i = 0; i < ax.length; i++) {
    out[ax[i]!] = sliceAxis(dims[ax[i]!]!, starts[i]!, ends[i]!, steps ? steps[i]! : 1);
  }
  return out;
}

export function checkSliceLengths(starts: readonly number[], ends: readonly number[],
  axes: readonly number[] | undefined, steps: readonly number[] | undefined): void {
  const n = starts.length;
  if (ends.length !== n || (axes && axes.length !== n) || (steps && steps.length !== n)) {
    throw new InferError('Slice: starts, ends, axes and steps must have the same length');
  }
}

// ---- Split sizes (shared by the schema and the kernel) ----

/**
 * Sizes of the Split outputs along the axis of size `dim`: from the `split` input when given,
 * else `num_outputs` chunks of ceil(dim / n) with a smaller last one (opset 18), else equal parts
 * (which must divide `dim`).
 */
export function splitSizes(dim: number, split: readonly number[] | undefined, numOutputs: number | undefined,
  nOut: number): number[] {
  if (split) {
    if (split.length !== nOut) throw new InferError(`Split: ${split.length} split sizes for ${nOut} outputs`);
    if (split.some((s) => s < 0)) throw new InferError('Split: negative split size');
    const total = split.reduce((a, b) => a + b, 0);
    if (total !== dim) throw new InferError(`Split: split sizes sum to ${total}, axis has ${dim}`);
    return split.slice();
  }
  if (numOutputs !== undefined) {
    if (numOutputs !== nOut) throw new InferError(`Split: num_outputs=${numOutputs} but node has ${nOut} outputs`);
    const chunk = Math.ceil(dim / numOutputs);
    return Array.from({ length: nOut }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
  }
  if (dim % nOut !== 0) throw new InferError(`Split: axis of ${dim} does not split into ${nOut} equal parts`);
  return new Array<number>(nOut).fill(dim / nOut);
}
