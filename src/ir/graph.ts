/**
 * The graph IR: values (name, dtype, shape with symbolic dims), nodes and initializers.
 * Every op is held in one internal form whatever opset the model was written in (the importer
 * normalizes, see src/onnx/normalize.ts), so schemas and kernels handle one version only.
 */
import type { DType } from './dtype.js';
import { HostTensor } from './tensor.js';

/** A dimension: a known size, or a symbolic name (a model's dim_param, or one made by inference). */
export type Dim = number | string;
/** A shape; `undefined` means the rank is unknown. */
export type Shape = Dim[] | undefined;

export interface ValueType {
  dtype: DType;
  shape: Shape;
}

export interface ValueInfo extends Partial<ValueType> {
  name: string;
}

export type AttrValue = number | string | number[] | string[] | HostTensor | HostTensor[] | Graph;
export type Attrs = Record<string, AttrValue>;

export interface Node {
  name: string;
  opType: string;
  /** '' is the default ONNX domain; 'twinfer' is the optimizer's fused ops. */
  domain: string;
  /** Input value names; '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attrs: Attrs;
  /** ONNX attribute types where known (from import); export infers the rest. */
  attrTypes?: Record<string, AttrType>;
}

export type AttrType = 'float' | 'int' | 'string' | 'tensor' | 'graph' | 'floats' | 'ints' | 'strings' | 'tensors' | 'graphs';

export class Graph {
  name = 'graph';
  inputs: ValueInfo[] = [];
  outputs: ValueInfo[] = [];
  nodes: Node[] = [];
  /** Constant tensors by value name. */
  initializers = new Map<string, HostTensor>();
  /** Known types of every value (inputs, outputs, intermediates), filled by shape inference. */
  types = new Map<string, ValueType>();
  /** Opset version per domain ('' = default ONNX domain). */
  opsets: Record<string, number> = { '': 21 };
  /** Folder of the model file, for external data; undefined when loaded from bytes. */
  modelDir?: string;

  get opset(): number { return this.opsets[''] ?? 21; }

  /** Non-initializer graph inputs: the ones a caller must feed. */
  get feedInputs(): ValueInfo[] {
    return this.inputs.filter((i) => !this.initializers.has(i.name));
  }

  clone(): Graph {
    const g = new Graph();
    g.name = this.name;
    g.inputs = this.inputs.map((v) => ({ ...v, shape: v.shape?.slice() }));
    g.outputs = this.outputs.map((v) => ({ ...v, shape: v.shape?.slice() }));
    g.nodes = this.nodes.map((n) => ({ ...n, inputs: n.inputs.slice(), outputs: n.outputs.slice(), attrs: { ...n.attrs } }));
    g.initializers = new Map(this.initializers);
    g.types = new Map([...this.types].map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape?.slice() }]));
    g.opsets = { ...this.opsets };
    if (this.modelDir !== undefined) g.modelDir = this.modelDir;
    return g;
  }
}

// ---- attribute accessors (throw a plain Error; callers wrap it with the node) ----

export function attrInt(node: Node, name: string, def: number): number;
export function attrInt(node: Node, name: string): number | undefined;
export function attrInt(node: Node, name: string, def?: number): number | undefined {
  const v = node.attrs[name];
  if (v === undefined) return def;
  if (typeof v !== 'number') throw new Error(`attribute ${name} must be an int`);
  return v;
}

export const attrFloat = attrInt;

export function attrInts(node: Node, name: string, def: number[]): number[];
export function attrInts(node: Node, name: string): number[] | undefined;
export function attrInts(node: Node, name: string, def?: number[]): number[] | undefined {
  const v = node.attrs[name];
  if (v === undefined) return def;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) throw new Error(`attribute ${name} must be a list of ints`);
  return v as number[];
}

export const attrFloats = attrInts;

export function attrString(node: Node, name: string, def: string): string;
export function attrString(node: Node, name: string): string | undefined;
export function attrString(node: Node, name: string, def?: string): string | undefined {
  const v = node.attrs[name];
  if (v === undefined) return def;
  if (typeof v !== 'string') throw new Error(`attribute ${name} must be a string`);
  return v;
}

export function attrStrings(node: Node, name: string): string[] | undefined {
  const v = node.attrs[name];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new Error(`attribute ${name} must be a list of strings`);
  return v as string[];
}

export function attrTensor(node: Node, name: string): HostTensor | undefined {
  const v = node.attrs[name];
  if (v === undefined) return undefined;
  if (!(v instanceof HostTensor)) throw new Error(`attribute ${name} must be a tensor`);
  return v;
}
