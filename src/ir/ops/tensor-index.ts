/**
 * Schemas of the tensor ops driven by index or position data: Gather*, Scatter*, OneHot,
 * NonZero, TopK, CumSum, Trilu.
 */
import type { Dim, ValueType } from '../graph.js';
import { attrInt, attrString } from '../graph.js';
import { InferError, type InferContext, type SchemaRegistry } from '../schema.js';
import { normalizeAxis } from '../shape-utils.js';
import { constInts, int64Tensor, req } from './tensor-util.js';

const INDEX_TYPES = new Set(['int32', 'int64']);

function checkIndices(ctx: InferContext, i: number): ValueType {
  const t = req(ctx, i);
  if (!INDEX_TYPES.has(t.dtype)) throw new InferError(`${ctx.node.opType}: indices must be int32 or int64, got ${t.dtype}`);
  return t;
}

function inferGather(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  const idx = checkIndices(ctx, 1);
  if (x.shape === undefined || idx.shape === undefined) return [{ dtype: x.dtype, shape: undefined }];
  const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), x.shape.length);
  return [{ dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] }];
}

function inferGatherElements(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  const idx = checkIndices(ctx, 1);
  if (x.shape !== undefined && idx.shape !== undefined) {
    if (x.shape.length !== idx.shape.length) throw new InferError('GatherElements: data and indices ranks differ');
    normalizeAxis(attrInt(ctx.node, 'axis', 0), x.shape.length);
  }
  return [{ dtype: x.dtype, shape: idx.shape?.slice() }];
}

function inferGatherND(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  const idx = checkIndices(ctx, 1);
  const b = attrInt(ctx.node, 'batch_dims', 0);
  if (x.shape === undefined || idx.shape === undefined) return [{ dtype: x.dtype, shape: undefined }];
  const q = idx.shape.length;
  const r = x.shape.length;
  if (q < 1 || b < 0 || b >= Math.min(q, r)) throw new InferError(`GatherND: invalid batch_dims ${b} for ranks ${r}, ${q}`);
  for (let i = 0; i < b; i++) {
    const a = x.shape[i]!, c = idx.shape[i]!;
    if (typeof a === 'number' && typeof c === 'number' && a !== c) throw new InferError(`GatherND: batch dim ${i} differs (${a} vs ${c})`);
  }
  const k = idx.shape[q - 1]!;
  if (typeof k !== 'number') return [{ dtype: x.dtype, shape: undefined }];
  if (k < 1 || k > r - b) throw new InferError(`GatherND: indices last dim ${k} out of range for data rank ${r}`);
  return [{ dtype: x.dtype, shape: [...idx.shape.slice(0, q - 1), ...x.shape.slice(b + k)] }];
}

const REDUCTIONS = new Set(['none', 'add', 'mul', 'max', 'min']);

function inferScatter(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  const idx = checkIndices(ctx, 1);
  const upd = req(ctx, 2);
  if (upd.dtype !== x.dtype) throw new InferError(`${ctx.node.opType}: updates dtype ${upd.dtype} differs from data ${x.dtype}`);
  const red = attrString(ctx.node, 'reduction', 'none');
  if (!REDUCTIONS.has(red)) throw new InferError(`${ctx.node.opType}: unknown reduction '${red}'`);
  if (red !== 'none' && x.dtype === 'string') throw new InferError(`${ctx.node.opType}: reduction ${red} on strings`);
  if (ctx.node.opType !== 'ScatterND' && x.shape !== undefined) {
    normalizeAxis(attrInt(ctx.node, 'axis', 0), x.shape.length);
    if (idx.shape !== undefined && idx.shape.length !== x.shape.length) {
      throw new InferError(`${ctx.node.opType}: data and indices ranks differ`);
    }
  }
  return [{ dtype: x.dtype, shape: x.shape?.slice() }];
}

function inferOneHot(ctx: InferContext): ValueType[] {
  const idx = req(ctx, 0);
  req(ctx, 1);
  const values = req(ctx, 2);
  if (idx.shape === undefined) return [{ dtype: values.dtype, shape: undefined }];
  const depthV = constInts(ctx, 1);
  let depth: Dim;
  if (depthV) {
    if (depthV.length !== 1) throw new InferError('OneHot: depth must have one element');
    depth = Math.trunc(depthV[0]!);
    if (depth < 1) throw new InferError(`OneHot: depth ${depthV[0]} must be positive`);
  } else depth = ctx.freshDim('onehot');
  const rank = idx.shape.length + 1;
  const axis = normalizeAxis(attrInt(ctx.node, 'axis', -1), rank);
  const shape = idx.shape.slice();
  shape.splice(axis, 0, depth);
  return [{ dtype: values.dtype, shape }];
}

function inferNonZero(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  // The count is data-dependent even at run time: the kernel determines it. A scalar gives one
  // coordinate row, as in onnxruntime.
  const rows = x.shape === undefined ? ctx.freshDim('nonzero_rank') : Math.max(x.shape.length, 1);
  return [{ dtype: 'int64', shape: [rows, ctx.freshDim('nonzero')] }];
}

function inferTopK(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  req(ctx, 1);
  if (x.dtype === 'string' || x.dtype === 'bool') throw new InferError(`TopK: unsupported dtype ${x.dtype}`);
  if (x.shape === undefined) return [{ dtype: x.dtype, shape: undefined }, { dtype: 'int64', shape: undefined }];
  const axis = normalizeAxis(attrInt(ctx.node, 'axis', -1), x.shape.length);
  const kv = constInts(ctx, 1);
  let k: Dim;
  if (kv) {
    if (kv.length !== 1) throw new InferError('TopK: K must have one element');
    k = kv[0]!;
    const d = x.shape[axis]!;
    if (k < 0 || (typeof d === 'number' && k > d)) throw new InferError(`TopK: K=${k} out of range for axis of ${d}`);
  } else k = ctx.freshDim('topk');
  const shape = x.shape.slice();
  shape[axis] = k;
  return [{ dtype: x.dtype, shape }, { dtype: 'int64', shape: shape.slice() }];
}

function inferCumSum(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  const axisT = req(ctx, 1);
  if (!INDEX_TYPES.has(axisT.dtype)) throw new InferError('CumSum: axis must be int32 or int64');
  if (x.dtype === 'string' || x.dtype === 'bool') throw new InferError(`CumSum: unsupported dtype ${x.dtype}`);
  const axis = constInts(ctx, 1);
  if (axis && x.shape !== undefined) {
    if (axis.length !== 1) throw new InferError('CumSum: axis must be a scalar');
    normalizeAxis(axis[0]!, x.shape.length);
  }
  return [{ dtype: x.dtype, shape: x.shape?.slice() }];
}

function inferTrilu(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  if (x.shape !== undefined && x.shape.length < 2) throw new InferError('Trilu: input rank must be >= 2');
  return [{ dtype: x.dtype, shape: x.shape?.slice() }];
}

export const schemas: SchemaRegistry = {
  Gather: { inputs: [2, 2], outputs: [1, 1], infer: inferGather },
  GatherElements: { inputs: [2, 2], outputs: [1, 1], infer: inferGatherElements },
  GatherND: { inputs: [2, 2], outputs: [1, 1], infer: inferGatherND },
  ScatterElements: { inputs: [3, 3], outputs: [1, 1], infer: inferScatter },
  // Scatter (opset 9-10) is ScatterElements under its old name.
  Scatter: {
    inputs: [3, 3], outputs: [1, 1], infer: inferScatter,
    upgrade(node) { node.opType = 'ScatterElements'; },
  },
  ScatterND: { inputs: [3, 3], outputs: [1, 1], infer: inferScatter },
  OneHot: { inputs: [3, 3], outputs: [1, 1], infer: inferOneHot },
  NonZero: { inputs: [1, 1], outputs: [1, 1], infer: inferNonZero },
  TopK: {
    inputs: [2, 2], outputs: [2, 2], infer: inferTopK,
    upgrade(node, ctx) {
      if (ctx.opset >= 10) return;
      // TopK-1: k was an attribute; K became a 1-D int64 input in opset 10.
      const k = node.attrs.k;
      if (typeof k !== 'number') throw new Error('TopK-1: attribute k is required');
      node.inputs[1] = ctx.constant(int64Tensor([k]), `${node.name || 'TopK'}_k`);
      delete node.attrs.k;
    },
  },
  CumSum: { inputs: [2, 2], outputs: [1, 1], infer: inferCumSum },
  Trilu: { inputs: [1, 2], outputs: [1, 1], infer: inferTrilu },
};
