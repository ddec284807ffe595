/**
 * Shape and type inference over a graph: runs each op schema in topological order.
 * With an `evaluate` callback (the CPU kernels), small all-constant subexpressions are computed
 * on the way, so shape arithmetic (Shape -> Gather -> Concat -> Reshape) yields static shapes.
 */
import type { Graph, Node, ValueType } from './graph.js';
import { HostTensor } from './tensor.js';
import { findSchema } from './ops/index.js';
import { InferError, isStatic, type InferContext } from './schema.js';
import { TwinferError } from '../errors.js';

export type Evaluate = (node: Node, inputs: (HostTensor | undefined)[], outputTypes: ValueType[]) => (HostTensor | undefined)[];

/** Constant-propagate only small tensors: shape arithmetic, not weights. */
const MAX_PROPAGATED_ELEMENTS = 4096;

let freshCounter = 0;

/** Runs one node's schema. Throws TwinferError naming the node on failure. */
export function inferNode(
  node: Node,
  opset: number,
  inputs: (ValueType | undefined)[],
  value: (i: number) => HostTensor | undefined,
): ValueType[] {
  const schema = findSchema(node.domain, node.opType);
  if (!schema) throw new TwinferError('UNSUPPORTED_OP', `op ${node.domain ? node.domain + '.' : ''}${node.opType} is not supported`, { node: node.name, opType: node.opType });
  const ctx: InferContext = {
    node, opset, inputs, value,
    freshDim: (hint) => `${hint}_${++freshCounter}`,
  };
  let out: ValueType[];
  try {
    out = schema.infer(ctx);
  } catch (e) {
    const code = e instanceof InferError ? 'SHAPE_MISMATCH' : 'INVALID_MODEL';
    if (e instanceof TwinferError) throw new TwinferError(e.code, e.message.replace(/^[A-Z_]+: /, ''), { node: node.name, opType: node.opType, cause: e });
    throw new TwinferError(code, (e as Error).message ?? String(e), { node: node.name, opType: node.opType, cause: e });
  }
  if (out.length < node.outputs.length) {
    throw new TwinferError('INVALID_MODEL', `schema produced ${out.length} output types for ${node.outputs.length} outputs`, { node: node.name, opType: node.opType });
  }
  return out;
}

/** Value of Shape/Size when the input shape is static even though its data is not constant. */
export function propagateFromShape(node: Node, t: ValueType | undefined): HostTensor | undefined {
  if (node.domain !== '' || !t || !isStatic(t.shape)) return undefined;
  const dims = t.shape;
  if (node.opType === 'Size') return HostTensor.scalar('int64', dims.reduce((a, b) => a * b, 1));
  if (node.opType !== 'Shape') return undefined;
  const r = dims.length;
  const clamp = (x: number) => Math.min(Math.max(x < 0 ? x + r : x, 0), r);
  const start = clamp(typeof node.attrs['start'] === 'number' ? node.attrs['start'] : 0);
  const end = clamp(typeof node.attrs['end'] === 'number' ? node.attrs['end'] : r);
  const vals = dims.slice(start, Math.max(start, end));
  return HostTensor.fromNumbers('int64', [vals.length], vals);
}

/**
 * Infers the type of every value and stores it in graph.types (graph inputs first, declared
 * types are kept for inputs). Nodes must be topologically sorted (see checker).
 * Returns the constant values discovered by propagation.
 */
export function inferGraph(g: Graph, evaluate?: Evaluate): Map<string, HostTensor> {
  const consts = new Map<string, HostTensor>(g.initializers);
  for (const [name, t] of g.initializers) g.types.set(name, { dtype: t.dtype, shape: t.dims.slice() });
  for (const i of g.inputs) {
    if (g.initializers.has(i.name)) continue;
    if (!i.dtype) throw new TwinferError('INVALID_MODEL', `graph input '${i.name}' has no element type`);
    g.types.set(i.name, { dtype: i.dtype, shape: i.shape?.slice() });
  }
  for (const node of g.nodes) {
    const opset = g.opsets[node.domain] ?? g.opset;
    const inTypes = node.inputs.map((n) => (n ? g.types.get(n) : undefined));
    const value = (i: number) => (node.inputs[i] ? consts.get(node.inputs[i]!) : undefined);
    const out = inferNode(node, opset, inTypes, value);
    node.outputs.forEach((o, k) => { if (o) g.types.set(o, out[k]!); });

    const shapeVal = propagateFromShape(node, inTypes[0]);
    if (shapeVal && node.outputs[0]) { consts.set(node.outputs[0], shapeVal); continue; }
    if (!evaluate) continue;
    const allConst = node.inputs.every((n) => !n || consts.has(n));
    const small = out.every((t) => isStatic(t.shape) && t.shape.reduce((a, b) => a * b, 1) <= MAX_PROPAGATED_ELEMENTS);
    if (!allConst || !small || node.inputs.length === 0 && node.opType !== 'Constant') continue;
    try {
      const vals = evaluate(node, node.inputs.map((n) => (n ? consts.get(n) : undefined)), out);
      node.outputs.forEach((o, k) => { const v = vals[k]; if (o && v) consts.set(o, v); });
    } catch {
      // Propagation is an optimization; a failure here surfaces again when the node runs.
    }
  }
  for (const o of g.outputs) {
    const t = g.types.get(o.name);
    if (t) { o.dtype ??= t.dtype; o.shape ??= t.shape?.slice(); }
  }
  return consts;
}
