/**
 * What a node mapper sees while the serializer turns one twinfer node into TensorRT layers: the
 * node's inputs as tensor or weight names, their types, and calls that emit layers, weights and
 * fresh tensor names. A mapper that meets something TensorRT cannot express throws
 * `TrtUnsupported` with the reason; the serializer reports it against the node.
 */
import type { Dim, Graph, Node, ValueType } from '../../src/ir/graph.js';
import type { DType } from '../../src/ir/dtype.js';
import { HostTensor } from '../../src/ir/tensor.js';
import type { TrtAttr, TrtDType, TrtLayer, TrtLayerKind } from './network.js';

export class TrtUnsupported extends Error {}

export function unsupported(reason: string): never { throw new TrtUnsupported(reason); }

const DTYPES: Partial<Record<DType, TrtDType>> = {
  float32: 'float', float16: 'half', bfloat16: 'bf16', int8: 'int8', uint8: 'uint8', int32: 'int32', int64: 'int64', bool: 'bool',
};

/** twinfer dtype -> TensorRT DataType name; throws TrtUnsupported for types TensorRT lacks (float64, int16, strings...). */
export function trtDType(d: DType): TrtDType {
  const t = DTYPES[d];
  if (!t) unsupported(`TensorRT has no ${d} tensors`);
  return t;
}

export interface MapContext {
  readonly node: Node;
  readonly graph: Graph;
  /** Number of inputs, counting omitted optional ones. */
  readonly nIn: number;
  /** Whether input i is present. */
  has(i: number): boolean;
  /** The tensor (or weight) name feeding input i; throws when it is absent. */
  input(i: number): string;
  /** The constant value of input i (an initializer), if it is one. */
  constant(i: number): HostTensor | undefined;
  /** Input i's type (shape may hold symbolic dims); throws TrtUnsupported when its rank is unknown. */
  inType(i: number): { dtype: DType; shape: Dim[] };
  outType(k: number): { dtype: DType; shape: Dim[] };
  /** Output k's tensor name. */
  output(k: number): string;
  /** A fresh tensor name derived from the node's. */
  tmp(what: string): string;
  /** Appends a layer; returns its (first) output. */
  layer(kind: TrtLayerKind, inputs: string[], outputs: string[], attrs?: Record<string, TrtAttr>): string;
  /** Registers a new weight (made by the mapper: folded BN, quantized kernels, scalars). */
  weight(t: HostTensor, what: string): string;
  /** The same weight data seen with other dims (same element count). */
  weightAs(name: string, dims: number[]): string;
  /** Whether a tensor name is a weight. */
  isWeight(name: string): boolean;
  /**
   * `name` (of rank `from`) made rank `to` by leading 1s, as TensorRT's element-wise layers and
   * friends need equal ranks: free for weights (new dims), a reshape layer otherwise.
   */
  broadcastRank(name: string, shape: Dim[], to: number): string;
  /** Notes for the report (not errors): e.g. precision choices. */
  note(message: string): void;
}

/** Static dims as numbers, -1 for symbolic ones. */
export function trtDims(shape: readonly Dim[]): number[] {
  return shape.map((d) => (typeof d === 'number' ? d : -1));
}

/** Known type helper: throws TrtUnsupported when the rank is unknown. */
export function knownType(t: ValueType | undefined, what: string): { dtype: DType; shape: Dim[] } {
  if (!t) unsupported(`${what} has no inferred type`);
  if (!t.shape) unsupported(`${what} has an unknown rank (TensorRT needs ranks at build time)`);
  return { dtype: t.dtype, shape: t.shape };
}

/**
 * Reshape dims for IShuffleLayer from `from` to `to`: numbers stay, a symbolic dim equal to the
 * input's at the same index becomes 0 (copy), one other unknown becomes -1. Throws when two
 * dims are unknown and neither lines up with the input.
 */
export function reshapeDims(from: readonly Dim[], to: readonly Dim[]): number[] {
  let wild = 0;
  const dims = to.map((d, i) => {
    if (typeof d === 'number') return d;
    if (from[i] === d) return 0;
    wild++;
    return -1;
  });
  // 0 would copy the input's dim: a literal 0-sized dim cannot be said with zeroIsPlaceholder on.
  if (to.some((d) => d === 0)) unsupported('reshape to a 0-sized dimension');
  if (wild > 1) unsupported(`reshape to [${to.join(',')}] from [${from.join(',')}] has more than one dimension known only at run time`);
  return dims;
}

export function makeLayer(node: Node, name: string, kind: TrtLayerKind, inputs: string[], outputs: string[], attrs: Record<string, TrtAttr> = {}): TrtLayer {
  return { node: node.name, name, kind, inputs, outputs, attrs };
}

/** A rank-`rank` float constant holding one value (dims all 1), in the dtype of the tensor it meets. */
export function scalarWeight(ctx: MapContext, value: number, rank: number, dtype: DType, what: string): string {
  return ctx.weight(HostTensor.fromNumbers(dtype === 'float16' ? 'float16' : 'float32', new Array<number>(rank).fill(1), [value]), what);
}
