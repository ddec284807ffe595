/**
 * Tensor-family schemas: layout ops (reshape-like, transpose, concat/split, slice, expand, tile)
 * live here; index ops (gather/scatter/topk...) in tensor-index.ts; ops that make values from
 * shapes or attributes (Shape, Size, Constant, Range...) in tensor-source.ts.
 */
import type { Dim, ValueType } from '../graph.js';
import { attrInt, attrInts } from '../graph.js';
import { InferError, type InferContext, type SchemaRegistry } from '../schema.js';
import { broadcastDims, normalizeAxis } from '../shape-utils.js';
import {
  attrToInput, checkSliceLengths, constInts, freshShape, normalizeAxes, productDim, req, sliceAxis,
  splitSizes, staticLength1D, sumDim,
} from './tensor-util.js';
import { schemas as indexSchemas } from './tensor-index.js';
import { schemas as sourceSchemas } from './tensor-source.js';

// ---- Reshape ----

/** Input dims as a multiset of symbolic names plus the product of the known ones. */
function splitKnown(dims: readonly Dim[]): { n: number; syms: string[] } {
  let n = 1;
  const syms: string[] = [];
  for (const d of dims) typeof d === 'number' ? (n *= d) : syms.push(d);
  return { n, syms };
}

/**
 * The -1 dim of a Reshape: total / product(other output dims). With symbolic dims it is found
 * when the output's symbols are a sub-multiset of the input's (e.g. [N,3,4] -> [N,-1] gives 12);
 * otherwise it is a fresh dim.
 */
function inferMinusOne(ctx: InferContext, inDims: readonly Dim[], outDims: readonly Dim[]): Dim {
  const a = splitKnown(inDims);
  const b = splitKnown(outDims);
  const rest = a.syms.slice();
  for (const s of b.syms) {
    const k = rest.indexOf(s);
    if (k < 0) return ctx.freshDim('reshape');
    rest.splice(k, 1);
  }
  if (b.n === 0) {
    if (a.n === 0 && rest.length === 0) throw new InferError('Reshape: cannot infer -1 when other dims hold 0');
    return ctx.freshDim('reshape');
  }
  if (a.n % b.n !== 0) {
    if (rest.length === 0) throw new InferError(`Reshape: cannot reshape [${inDims.join(',')}] to [${outDims.join(',')}]`);
    return ctx.freshDim('reshape');
  }
  return productDim([a.n / b.n, ...rest]);
}

function inferReshape(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  const shape = constInts(ctx, 1);
  if (!shape) {
    const len = staticLength1D(ctx.inputs[1]);
    return [{ dtype: x.dtype, shape: len === undefined ? undefined : freshShape(ctx, len, 'reshape') }];
  }
  const allowzero = attrInt(ctx.node, 'allowzero', 0) !== 0;
  const out: Dim[] = [];
  let neg = -1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === -1) {
      if (neg >= 0) throw new InferError('Reshape: more than one -1 in shape');
      neg = i;
      out.push(0);
    } else if (d < -1 || !Number.isInteger(d)) {
      throw new InferError(`Reshape: invalid dim ${d} in shape`);
    } else if (d === 0 && !allowzero) {
      if (x.shape === undefined) out.push(ctx.freshDim('reshape'));
      else if (i >= x.shape.length) throw new InferError(`Reshape: shape[${i}]=0 copies a dim the input does not have`);
      else out.push(x.shape[i]!);
    } else out.push(d);
  }
  if (allowzero && neg >= 0 && shape.includes(0)) throw new InferError('Reshape: allowzero with both 0 and -1');
  if (x.shape === undefined) {
    if (neg >= 0) out[neg] = ctx.freshDim('reshape');
    return [{ dtype: x.dtype, shape: out }];
  }
  if (neg >= 0) {
    const others = out.filter((_, i) => i !== neg);
    out[neg] = inferMinusOne(ctx, x.shape, others);
  } else {
    const a = productDim(x.shape);
    const b = productDim(out);
    if (typeof a === 'number' && typeof b === 'number' && a !== b) {
      throw new InferError(`Reshape: cannot reshape [${x.shape.join(',')}] (${a} elements) to [${out.join(',')}]`);
    }
  }
  return [{ dtype: x.dtype, shape: out }];
}

// ---- Squeeze / Unsqueeze / Flatten ----

function inferSqueeze(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  const hasAxes = ctx.inputs[1] !== undefined;
  const axes = constInts(ctx, 1);
  if (x.shape === undefined || (hasAxes && !axes)) return [{ dtype: x.dtype, shape: undefined }];
  const rank = x.shape.length;
  if (!axes || axes.length === 0) {
    // No axes (or an empty list, as onnxruntime reads it): drop every dim of size 1; a symbolic
    // dim could be 1, so the rank is then unknown.
    if (x.shape.some((d) => typeof d !== 'number')) return [{ dtype: x.dtype, shape: undefined }];
    return [{ dtype: x.dtype, shape: x.shape.filter((d) => d !== 1) }];
  }
  const ax = new Set(normalizeAxes(axes, rank, 'Squeeze'));
  for (const a of ax) {
    const d = x.shape[a]!;
    if (typeof d === 'number' && d !== 1) throw new InferError(`Squeeze: dim ${a} has size ${d}, not 1`);
  }
  return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !ax.has(i)) }];
}

function inferUnsqueeze(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  const axes = constInts(ctx, 1);
  if (!axes || x.shape === undefined) {
    const len = staticLength1D(ctx.inputs[1]);
    const shape = x.shape !== undefined && len !== undefined ? freshShape(ctx, x.shape.length + len, 'unsqueeze') : undefined;
    return [{ dtype: x.dtype, shape }];
  }
  const rank = x.shape.length + axes.length;
  const ax = new Set(normalizeAxes(axes, rank, 'Unsqueeze'));
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(ax.has(i) ? 1 : x.shape[j++]!);
  return [{ dtype: x.dtype, shape: out }];
}

function inferFlatten(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  if (x.shape === undefined) return [{ dtype: x.dtype, shape: [ctx.freshDim('flatten'), ctx.freshDim('flatten')] }];
  const rank = x.shape.length;
  let axis = attrInt(ctx.node, 'axis', 1);
  if (axis < -rank || axis > rank) throw new InferError(`Flatten: axis ${axis} out of range for rank ${rank}`);
  if (axis < 0) axis += rank;
  return [{ dtype: x.dtype, shape: [productDim(x.shape.slice(0, axis)), productDim(x.shape.slice(axis))] }];
}

// ---- Transpose ----

/** The Transpose permutation (default: reversed axes), validated. */
export function transposePerm(perm: number[] | undefined, rank: number): number[] {
  if (!perm) return Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (perm.length !== rank) throw new InferError(`Transpose: perm has ${perm.length} entries for rank ${rank}`);
  const p = normalizeAxes(perm, rank, 'Transpose');
  return p;
}

function inferTranspose(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  const perm = attrInts(ctx.node, 'perm');
  if (x.shape === undefined) return [{ dtype: x.dtype, shape: perm ? freshShape(ctx, perm.length, 'transpose') : undefined }];
  const p = transposePerm(perm, x.shape.length);
  const shape = x.shape;
  return [{ dtype: x.dtype, shape: p.map((a) => shape[a]!) }];
}

// ---- Concat / Split ----

function inferConcat(ctx: InferContext): ValueType[] {
  const ins = ctx.inputs.filter((t): t is ValueType => t !== undefined);
  if (ins.length === 0) throw new InferError('Concat: needs at least one input');
  const dtype = ins[0]!.dtype;
  if (ins.some((t) => t.dtype !== dtype)) throw new InferError('Concat: inputs have different dtypes');
  const axisAttr = attrInt(ctx.node, 'axis');
  if (axisAttr === undefined) throw new InferError('Concat: attribute axis is required');
  const known = ins.filter((t) => t.shape !== undefined);
  if (known.length === 0) return [{ dtype, shape: undefined }];
  const rank = known[0]!.shape!.length;
  if (known.some((t) => t.shape!.length !== rank)) throw new InferError('Concat: inputs have different ranks');
  const axis = normalizeAxis(axisAttr, rank);
  const out: Dim[] = known[0]!.shape!.slice();
  for (let d = 0; d < rank; d++) {
    if (d === axis) continue;
    for (const t of known) {
      const v = t.shape![d]!;
      if (typeof v === 'number') {
        if (typeof out[d] === 'number' && out[d] !== v) throw new InferError(`Concat: inputs differ in dim ${d}`);
        out[d] = v;
      }
    }
  }
  out[axis] = known.length === ins.length ? sumDim(known.map((t) => t.shape![axis]!)) : ctx.freshDim('concat');
  return [{ dtype, shape: out }];
}

function inferSplit(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  const nOut = ctx.node.outputs.length;
  const split = constInts(ctx, 1);
  const numOutputs = attrInt(ctx.node, 'num_outputs');
  if (x.shape === undefined) return ctx.node.outputs.map(() => ({ dtype: x.dtype, shape: undefined }));
  const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), x.shape.length);
  const dim = x.shape[axis]!;
  let sizes: Dim[];
  if (ctx.inputs[1] !== undefined && !split) sizes = ctx.node.outputs.map(() => ctx.freshDim('split'));
  else if (split && typeof dim !== 'number') {
    if (split.length !== nOut) throw new InferError(`Split: ${split.length} split sizes for ${nOut} outputs`);
    sizes = split;
  } else if (typeof dim !== 'number') sizes = ctx.node.outputs.map(() => ctx.freshDim('split'));
  else sizes = splitSizes(dim, split, numOutputs, nOut);
  return sizes.map((s) => {
    const shape = x.shape!.slice();
    shape[axis] = s;
    return { dtype: x.dtype, shape };
  });
}

// ---- Slice ----

function inferSlice(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  if (x.shape === undefined) return [{ dtype: x.dtype, shape: undefined }];
  const rank = x.shape.length;
  const starts = constInts(ctx, 1);
  const ends = constInts(ctx, 2);
  const axes = constInts(ctx, 3);
  const steps = constInts(ctx, 4);
  const missing = (i: number) => ctx.inputs[i] !== undefined && ctx.value(i) === undefined;
  if (!starts || !ends || missing(3) || missing(4)) {
    // Axes known: only those dims change; otherwise every dim may.
    if (axes && !missing(3)) {
      const ax = new Set(normalizeAxes(axes, rank, 'Slice'));
      return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (ax.has(i) ? ctx.freshDim('slice') : d)) }];
    }
    return [{ dtype: x.dtype, shape: freshShape(ctx, rank, 'slice') }];
  }
  checkSliceLengths(starts, ends, axes, steps);
  const ax = normalizeAxes(axes ?? starts.map((_, i) => i), rank, 'Slice');
  const out: Dim[] = x.shape.slice();
  for (let i = 0; i < ax.length; i++) {
    const d = x.shape[ax[i]!]!;
    const st = steps ? steps[i]! : 1;
    if (typeof d === 'number') out[ax[i]!] = sliceAxis(d, starts[i]!, ends[i]!, st).size;
    else if (st === 1 && starts[i] === 0 && ends[i]! >= 2 ** 31 - 1) out[ax[i]!] = d; // whole axis
    else out[ax[i]!] = ctx.freshDim('slice');
  }
  return [{ dtype: x.dtype, shape: out }];
}

// ---- Expand / Tile ----

function inferExpand(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  const shape = constInts(ctx, 1);
  if (!shape) {
    const len = staticLength1D(ctx.inputs[1]);
    if (len === undefined || x.shape === undefined) return [{ dtype: x.dtype, shape: undefined }];
    return [{ dtype: x.dtype, shape: broadcastDims(x.shape, freshShape(ctx, len, 'expand')) }];
  }
  if (shape.some((d) => d < 0 || !Number.isInteger(d))) throw new InferError(`Expand: invalid shape [${shape.join(',')}]`);
  if (x.shape === undefined) return [{ dtype: x.dtype, shape: undefined }];
  return [{ dtype: x.dtype, shape: broadcastDims(x.shape, shape) }];
}

function inferTile(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  const reps = constInts(ctx, 1);
  if (x.shape === undefined) return [{ dtype: x.dtype, shape: undefined }];
  if (!reps) return [{ dtype: x.dtype, shape: freshShape(ctx, x.shape.length, 'tile') }];
  if (reps.length !== x.shape.length) throw new InferError(`Tile: ${reps.length} repeats for rank ${x.shape.length}`);
  if (reps.some((r) => r < 0 || !Number.isInteger(r))) throw new InferError('Tile: repeats must be non-negative');
  return [{ dtype: x.dtype, shape: x.shape.map((d, i) => productDim([d, reps[i]!])) }];
}

export const schemas: SchemaRegistry = {
  Reshape: {
    inputs: [2, 2], outputs: [1, 1], infer: inferReshape,
    upgrade(node, ctx) { if (ctx.opset < 5) { attrToInput(node, ctx, 'shape', 1); delete node.attrs.consumed_inputs; } },
  },
  Squeeze: {
    inputs: [1, 2], outputs: [1, 1], infer: inferSqueeze,
    upgrade(node, ctx) { if (ctx.opset < 13) attrToInput(node, ctx, 'axes', 1); },
  },
  Unsqueeze: {
    inputs: [2, 2], outputs: [1, 1], infer: inferUnsqueeze,
    upgrade(node, ctx) { if (ctx.opset < 13) attrToInput(node, ctx, 'axes', 1); },
  },
  Flatten: { inputs: [1, 1], outputs: [1, 1], infer: inferFlatten },
  Transpose: { inputs: [1, 1], outputs: [1, 1], infer: inferTranspose },
  Concat: {
    inputs: [1, Infinity], outputs: [1, 1], infer: inferConcat,
    // Concat-1 had a default axis of 1; make it explicit.
    upgrade(node, ctx) { if (ctx.opset < 4 && node.attrs.axis === undefined) node.attrs.axis = 1; },
  },
  Split: {
    inputs: [1, 2], outputs: [1, Infinity], infer: inferSplit,
    upgrade(node, ctx) { if (ctx.opset < 13) attrToInput(node, ctx, 'split', 1); },
  },
  Slice: {
    inputs: [3, 5], outputs: [1, 1], infer: inferSlice,
    upgrade(node, ctx) {
      if (ctx.opset >= 10) return;
      // Slice-1: starts/ends/axes were attributes.
      if (node.attrs.starts === undefined || node.attrs.ends === undefined) throw new Error('Slice-1: starts and ends are required');
      attrToInput(node, ctx, 'starts', 1);
      attrToInput(node, ctx, 'ends', 2);
      attrToInput(node, ctx, 'axes', 3);
    },
  },
  Expand: { inputs: [2, 2], outputs: [1, 1], infer: inferExpand },
  Tile: { inputs: [2, 2], outputs: [1, 1], infer: inferTile },
  ...indexSchemas,
  ...sourceSchemas,
};
