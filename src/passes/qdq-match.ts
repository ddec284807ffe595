/**
 * Reading QuantizeLinear / DequantizeLinear nodes for the QDQ fold (qdq-fold.ts): their constant
 * scales and zero points (initializers or Constant nodes: the fold runs before constant folding),
 * the layout of those parameters (per tensor or per axis), and whether two nodes share them.
 */
import type { Node } from '../ir/graph.js';
import type { HostTensor } from '../ir/tensor.js';
import { constantTensor } from '../ir/ops/tensor-source.js';
import type { GraphView } from './view.js';

/** Smallest scale accepted: dequantized values (|q - zp| * s, |q - zp| <= 255) stay normal floats. */
const MIN_SCALE = 2 ** -118;

/** A value's constant data: an initializer, or the tensor of the Constant node producing it. */
export function constantOf(view: GraphView, value: string): HostTensor | undefined {
  if (!value) return undefined;
  const init = view.constant(value);
  if (init) return init;
  const p = view.producer(value);
  if (!p || p.opType !== 'Constant' || p.domain !== '') return undefined;
  try { return constantTensor(p); } catch { return undefined; }
}

/** The node producing `value` when it is a default-domain `opType`. */
export function producerOf(view: GraphView, value: string, opType: string): Node | undefined {
  const p = value ? view.producer(value) : undefined;
  return p && p.opType === opType && p.domain === '' ? p : undefined;
}

/** Constant parameters of a QuantizeLinear / DequantizeLinear node. */
export interface QParams {
  node: Node;
  /** float32 scales: one (per tensor) or one per slice along `axis`. */
  scale: Float32Array;
  /** Zero points (zeros when the input is absent), as many as scales. */
  zeroPoint: number[];
  /** The integer type: the DQ input / Q output. */
  qtype: string;
  /** Normalized axis for per-axis parameters; -1 per tensor. */
  axis: number;
}

/**
 * The constant parameters of a Q or DQ node (`rank` = rank of the float/int tensor it converts),
 * or a reason why they cannot be used: non-constant, not float32 scales, blocked layout.
 */
export function qParams(view: GraphView, node: Node, rank: number | undefined): QParams | string {
  const s = constantOf(view, node.inputs[1] ?? '');
  if (!s) return `${node.opType} '${node.name}' has a non-constant scale`;
  if (s.dtype !== 'float32') return `${node.opType} '${node.name}' has a ${s.dtype} scale (float32 needed)`;
  const zName = node.inputs[2] ?? '';
  const z = zName ? constantOf(view, zName) : undefined;
  if (zName && !z) return `${node.opType} '${node.name}' has a non-constant zero point`;
  if (z && z.size !== s.size) return `${node.opType} '${node.name}': zero point and scale sizes differ`;
  const block = node.attrs['block_size'];
  if (typeof block === 'number' && block > 0 && s.size > 1) return `${node.opType} '${node.name}' is block-quantized`;
  const scale = Float32Array.from(s.numbers);
  for (const v of scale) if (!(v >= MIN_SCALE) || !Number.isFinite(v)) return `${node.opType} '${node.name}' has scale ${v} (a finite normal value > 0 needed)`;
  const qtype = node.opType === 'DequantizeLinear'
    ? view.type(node.inputs[0] ?? '')?.dtype
    : view.type(node.outputs[0] ?? '')?.dtype;
  if (!qtype) return `${node.opType} '${node.name}' has an unknown integer type`;
  let axis = -1;
  if (s.size > 1) {
    if (s.rank !== 1) return `${node.opType} '${node.name}' has a scale of rank ${s.rank}`;
    if (rank === undefined) return `${node.opType} '${node.name}': rank unknown`;
    const a = typeof node.attrs['axis'] === 'number' ? node.attrs['axis'] : 1;
    axis = a < 0 ? a + rank : a;
  }
  return { node, scale, zeroPoint: z ? Array.from(z.numbers, Number) : new Array<number>(s.size).fill(0), qtype, axis };
}

/** Per-tensor 8-bit activation parameters: what a Q op's x_scale / x_zero_point / x_signed hold. */
export interface ActQuant { scale: number; zeroPoint: number; signed: 0 | 1 }

/** `p` as per-tensor int8 / uint8 activation parameters, or why not. */
export function actQuant(p: QParams): ActQuant | string {
  if (p.scale.length !== 1) return `${p.node.opType} '${p.node.name}' is per-axis (activations need one scale)`;
  if (p.qtype !== 'int8' && p.qtype !== 'uint8') return `${p.node.opType} '${p.node.name}' uses ${p.qtype} (int8 or uint8 needed)`;
  return { scale: p.scale[0]!, zeroPoint: p.zeroPoint[0]!, signed: p.qtype === 'int8' ? 1 : 0 };
}

export function sameAct(a: ActQuant, b: ActQuant): boolean {
  return a.scale === b.scale && a.zeroPoint === b.zeroPoint && a.signed === b.signed;
}

/** The activation quantization of a twinfer.Q* node's attributes. */
export function actOfQNode(n: Node): ActQuant {
  return {
    scale: n.attrs['x_scale'] as number,
    zeroPoint: typeof n.attrs['x_zero_point'] === 'number' ? n.attrs['x_zero_point'] : 0,
    signed: n.attrs['x_signed'] === 0 ? 0 : 1,
  };
}

/** True when a QuantizeLinear computes x / scale in float32 (no `precision` override) from float32 x. */
export function plainFloat32Quantize(view: GraphView, q: Node): boolean {
  const p = q.attrs['precision'];
  return (p === undefined || p === 0 || p === 1) && view.type(q.inputs[0] ?? '')?.dtype === 'float32';
}

/**
 * True when a DequantizeLinear yields float32: a float32 scale (as qParams requires) and no other
 * output_dtype. Read from the node, not from inferred types, which nodes added by the pass lack.
 */
export function dequantizesToFloat32(view: GraphView, dq: Node): boolean {
  const od = dq.attrs['output_dtype'];
  return (od === undefined || od === 0 || od === 1) && constantOf(view, dq.inputs[1] ?? '')?.dtype === 'float32';
}
