/**
 * Schemas of the ops that make values from shapes or attributes: Shape, Size, ConstantOfShape,
 * Constant, Range. Shape inference relies on them, so each computes its output shape statically
 * whenever the input values it needs are constant.
 */
import type { Node, ValueType } from '../graph.js';
import { attrInt } from '../graph.js';
import { InferError, type InferContext, type SchemaRegistry } from '../schema.js';
import { HostTensor } from '../tensor.js';
import { constInts, freshShape, req, staticLength1D } from './tensor-util.js';

/** [start, end) of the dims Shape returns (opset 15 start/end attributes, clamped). */
export function shapeRange(node: Node, rank: number): [number, number] {
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clamp(attrInt(node, 'start', 0));
  const end = clamp(attrInt(node, 'end', rank));
  return [start, Math.max(start, end)];
}

function inferShape(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  if (x.shape === undefined) return [{ dtype: 'int64', shape: [ctx.freshDim('shape')] }];
  const [s, e] = shapeRange(ctx.node, x.shape.length);
  return [{ dtype: 'int64', shape: [e - s] }];
}

/** The tensor a Constant node holds, from whichever value* attribute it has. */
export function constantTensor(node: Node): HostTensor {
  const keys = Object.keys(node.attrs).filter((k) => k === 'value' || k.startsWith('value_') || k === 'sparse_value');
  if (keys.length !== 1) throw new InferError(`Constant: needs exactly one value attribute, has [${keys.join(',')}]`);
  const key = keys[0]!;
  const v = node.attrs[key];
  const bad = () => new InferError(`Constant: attribute ${key} has the wrong type`);
  switch (key) {
    case 'value':
      if (!(v instanceof HostTensor)) throw bad();
      return v;
    case 'value_float': case 'value_int':
      if (typeof v !== 'number') throw bad();
      return HostTensor.scalar(key === 'value_int' ? 'int64' : 'float32', v);
    case 'value_floats': case 'value_ints':
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) throw bad();
      return HostTensor.fromNumbers(key === 'value_ints' ? 'int64' : 'float32', [v.length], v as number[]);
    case 'value_string':
      if (typeof v !== 'string') throw bad();
      return new HostTensor('string', [], [v]);
    case 'value_strings':
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad();
      return new HostTensor('string', [v.length], (v as string[]).slice());
    case 'sparse_value':
      throw new InferError('Constant: sparse_value is not supported (sparse tensors are outside twinfer)');
    default:
      throw new InferError(`Constant: unknown attribute ${key}`);
  }
}

/** Dtype and fill value of ConstantOfShape (default: float32 zero). */
export function constantOfShapeValue(node: Node): HostTensor {
  const v = node.attrs.value;
  if (v === undefined) return HostTensor.scalar('float32', 0);
  if (!(v instanceof HostTensor) || v.size !== 1) throw new InferError('ConstantOfShape: value must be a one-element tensor');
  return v;
}

function inferConstantOfShape(ctx: InferContext): ValueType[] {
  const { dtype } = constantOfShapeValue(ctx.node);
  const t = req(ctx, 0);
  if (t.dtype !== 'int64') throw new InferError(`ConstantOfShape: input must be int64, got ${t.dtype}`);
  const dims = constInts(ctx, 0);
  if (dims) {
    if (dims.some((d) => d < 0 || !Number.isInteger(d))) throw new InferError(`ConstantOfShape: invalid shape [${dims.join(',')}]`);
    return [{ dtype, shape: dims }];
  }
  const len = staticLength1D(t);
  return [{ dtype, shape: len === undefined ? undefined : freshShape(ctx, len, 'constantofshape') }];
}

/** Number of elements Range produces (shared by schema and kernel). */
export function rangeCount(start: number, limit: number, delta: number): number {
  if (delta === 0) throw new InferError('Range: delta must be non-zero');
  return Math.max(Math.ceil((limit - start) / delta), 0);
}

function inferRange(ctx: InferContext): ValueType[] {
  const ts = [req(ctx, 0), req(ctx, 1), req(ctx, 2)];
  const dtype = ts[0]!.dtype;
  if (ts.some((t) => t.dtype !== dtype)) throw new InferError('Range: start, limit and delta must share a dtype');
  if (ts.some((t) => t.shape !== undefined && t.shape.length !== 0)) throw new InferError('Range: inputs must be scalars');
  const v = [ctx.value(0), ctx.value(1), ctx.value(2)];
  if (v.some((x) => x === undefined)) return [{ dtype, shape: [ctx.freshDim('range')] }];
  return [{ dtype, shape: [rangeCount(v[0]!.num(), v[1]!.num(), v[2]!.num())] }];
}

export const schemas: SchemaRegistry = {
  Shape: { inputs: [1, 1], outputs: [1, 1], infer: inferShape },
  Size: { inputs: [1, 1], outputs: [1, 1], infer: (ctx) => (req(ctx, 0), [{ dtype: 'int64', shape: [] }]) },
  ConstantOfShape: { inputs: [1, 1], outputs: [1, 1], infer: inferConstantOfShape },
  Constant: {
    inputs: [0, 0], outputs: [1, 1],
    infer(ctx) { const t = constantTensor(ctx.node); return [{ dtype: t.dtype, shape: t.dims.slice() }]; },
  },
  Range: { inputs: [3, 3], outputs: [1, 1], infer: inferRange },
};
