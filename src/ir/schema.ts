/**
 * Op schemas: the single place where output types and shapes are computed.
 * Used at build time on symbolic shapes and, by the executor, at run time on concrete shapes
 * (with every input value known), so kernels never compute shapes themselves.
 */
import type { Dim, Node, Shape, ValueType } from './graph.js';
import type { HostTensor } from './tensor.js';

export interface InferContext {
  node: Node;
  /** Opset of the node's domain (ops are normalized, so rarely needed). */
  opset: number;
  /** Types of the inputs; undefined for an omitted optional input. */
  inputs: (ValueType | undefined)[];
  /** The value of input i when it is a constant (always, at run time); undefined otherwise. */
  value(i: number): HostTensor | undefined;
  /** A fresh symbolic dim name for a size inference cannot know (data-dependent). */
  freshDim(hint: string): string;
}

export interface OpSchema {
  /** Inputs: min and max count (max Infinity for variadic). */
  inputs: [number, number];
  /** Outputs: min and max count. */
  outputs: [number, number];
  /** Output types, one per node output (including omitted optional outputs: return their type anyway). */
  infer(ctx: InferContext): ValueType[];
  /** Optional: normalizes older-opset forms of this op (see UpgradeFn). */
  upgrade?: UpgradeFn;
}

export type SchemaRegistry = Record<string, OpSchema>;

/** Error thrown by inference for an invalid node; the caller adds node name and op type. */
export class InferError extends Error {}

export function knownShape(t: ValueType | undefined): t is ValueType & { shape: Dim[] } {
  return t !== undefined && t.shape !== undefined;
}

export function isStatic(shape: Shape): shape is number[] {
  return shape !== undefined && shape.every((d) => typeof d === 'number');
}

export interface UpgradeContext {
  /** The model's opset version for the node's domain. */
  opset: number;
  /** Adds a constant initializer and returns its value name (for attributes later opsets made inputs). */
  constant(t: HostTensor, hint: string): string;
}

/**
 * Rewrites a node written for an older opset into the internal (latest) form, in place:
 * attributes that became inputs become constant inputs, renamed/retired ops are mapped
 * (e.g. Upsample -> Resize), changed defaults are made explicit. Called once by the importer.
 */
export type UpgradeFn = (node: Node, ctx: UpgradeContext) => void;
