/**
 * Reductions: Reduce{Sum,Mean,Max,Min,Prod,L1,L2,SumSquare,LogSum,LogSumExp} and ArgMax/ArgMin.
 *
 * Internal form is opset 18 for every Reduce* op: `axes` is an optional int64 input, attributes
 * `keepdims` (default 1) and `noop_with_empty_axes` (default 0). Older forms (axes as an attribute:
 * ReduceSum before 13, the others before 18) are rewritten by `upgrade`. Empty `axes` means "all
 * axes" unless noop_with_empty_axes=1, in which case nothing is reduced (each output element is the
 * reduction of the single corresponding input element, so e.g. ReduceSumSquare squares).
 */
import type { Dim, Node, ValueType } from '../graph.js';
import { attrInt, attrInts } from '../graph.js';
import { HostTensor } from '../tensor.js';
import { InferError, type InferContext, type OpSchema, type SchemaRegistry, type UpgradeContext } from '../schema.js';
import { normalizeAxis } from '../shape-utils.js';

/** Reads a 0/1 attribute, rejecting other values. */
export function attrFlag(node: Node, name: string, def: 0 | 1): 0 | 1 {
  const v = attrInt(node, name, def);
  if (v !== 0 && v !== 1) throw new InferError(`attribute ${name} must be 0 or 1, got ${v}`);
  return v;
}

/**
 * Normalized, sorted, de-duplicated reduction axes for a tensor of rank `rank`, or `'all'`/`'none'`
 * for empty axes. Throws InferError for out-of-range or repeated axes.
 */
export function resolveReduceAxes(raw: readonly number[], rank: number, noop: boolean): number[] | 'all' | 'none' {
  if (raw.length === 0) return noop ? 'none' : 'all';
  const seen = new Set<number>();
  for (const a of raw) {
    const n = normalizeAxis(a, rank);
    if (seen.has(n)) throw new InferError(`axis ${a} repeated in axes [${raw.join(',')}]`);
    seen.add(n);
  }
  return [...seen].sort((a, b) => a - b);
}

function reduceInfer(ctx: InferContext): ValueType[] {
  const node = ctx.node;
  const x = ctx.inputs[0];
  if (!x) throw new InferError('input data is required');
  if (x.dtype === 'string') throw new InferError('string tensors cannot be reduced');
  if (x.dtype === 'bool' && node.opType !== 'ReduceMax' && node.opType !== 'ReduceMin') {
    throw new InferError(`${node.opType} does not accept bool`);
  }
  const keep = attrFlag(node, 'keepdims', 1) === 1;
  const noop = attrFlag(node, 'noop_with_empty_axes', 0) === 1;
  const axesT = ctx.inputs[1];
  if (axesT && axesT.dtype !== 'int64') throw new InferError(`axes must be int64, got ${axesT.dtype}`);
  let raw: number[] | undefined = [];
  if (axesT) {
    const v = ctx.value(1);
    if (v) {
      if (v.rank > 1) throw new InferError('axes must be a 1-D tensor');
      raw = v.toNumberArray();
    } else if (axesT.shape && axesT.shape.length === 1 && axesT.shape[0] === 0) raw = [];
    else raw = undefined; // axes not known before run time
  }
  const dtype = x.dtype;
  if (!x.shape) return [{ dtype, shape: undefined }];
  const rank = x.shape.length;
  if (raw === undefined) {
    // Unknown axes: with keepdims the rank is known, every dim that is not 1 may become 1.
    if (keep) return [{ dtype, shape: x.shape.map((d) => (d === 1 ? 1 : ctx.freshDim('reduce'))) }];
    const n = axesT?.shape?.length === 1 ? axesT.shape[0] : undefined;
    if (typeof n === 'number' && n > 0) {
      return [{ dtype, shape: Array.from({ length: Math.max(0, rank - n) }, () => ctx.freshDim('reduce')) }];
    }
    return [{ dtype, shape: undefined }];
  }
  const axes = resolveReduceAxes(raw, rank, noop);
  if (axes === 'none') return [{ dtype, shape: x.shape.slice() }];
  const red = new Set(axes === 'all' ? x.shape.map((_, i) => i) : axes);
  const shape: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!red.has(i)) shape.push(d);
    else if (keep) shape.push(1);
  });
  return [{ dtype, shape }];
}

/** Moves an `axes` attribute (older opsets) to a constant int64 input. */
function upgradeFrom(inputSince: number) {
  return (node: Node, ctx: UpgradeContext): void => {
    if (ctx.opset >= inputSince) return;
    const axes = attrInts(node, 'axes');
    delete node.attrs.axes;
    if (axes === undefined) {
      node.inputs.length = Math.min(node.inputs.length, 1);
      return;
    }
    const name = ctx.constant(HostTensor.fromNumbers('int64', [axes.length], axes), `${node.name || node.opType}_axes`);
    node.inputs = [node.inputs[0]!, name];
  };
}

const reduceSchema = (inputSince: number): OpSchema => ({
  inputs: [1, 2],
  outputs: [1, 1],
  infer: reduceInfer,
  upgrade: upgradeFrom(inputSince),
});

function argInfer(ctx: InferContext): ValueType[] {
  const node = ctx.node;
  const x = ctx.inputs[0];
  if (!x) throw new InferError('input data is required');
  if (x.dtype === 'string' || x.dtype === 'bool') throw new InferError(`${node.opType} does not accept ${x.dtype}`);
  const keep = attrFlag(node, 'keepdims', 1) === 1;
  attrFlag(node, 'select_last_index', 0);
  if (!x.shape) return [{ dtype: 'int64', shape: undefined }];
  const axis = normalizeAxis(attrInt(node, 'axis', 0), x.shape.length);
  const shape: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (i !== axis) shape.push(d);
    else if (keep) shape.push(1);
  });
  return [{ dtype: 'int64', shape }];
}

const argSchema: OpSchema = { inputs: [1, 1], outputs: [1, 1], infer: argInfer };

export const schemas: SchemaRegistry = {
  ReduceSum: reduceSchema(13),
  ReduceMean: reduceSchema(18),
  ReduceMax: reduceSchema(18),
  ReduceMin: reduceSchema(18),
  ReduceProd: reduceSchema(18),
  ReduceL1: reduceSchema(18),
  ReduceL2: reduceSchema(18),
  ReduceSumSquare: reduceSchema(18),
  ReduceLogSum: reduceSchema(18),
  ReduceLogSumExp: reduceSchema(18),
  ArgMax: argSchema,
  ArgMin: argSchema,
};
