/**
 * ONNX ModelProto bytes -> Graph. Validates what it reads (dims, dtypes, attribute kinds, opsets),
 * then applies each op schema's `upgrade` hook so the rest of twinfer sees one internal form.
 * File access is injected (ExternalReader) so this module runs in browsers too.
 */
import type { onnx } from 'onnx-proto';
import { pb } from './proto.js';
import { Graph, type AttrType, type AttrValue, type Dim, type Node, type ValueInfo } from '../ir/graph.js';
import { dtypeFromOnnx } from '../ir/dtype.js';
import { HostTensor } from '../ir/tensor.js';
import { findSchema } from '../ir/ops/index.js';
import { TwinferError, asTwinferError } from '../errors.js';
import { tensorFromProto, type ExternalReader } from './tensor-proto.js';
import { toNum, type LongLike } from './long.js';

/** Opsets of the default domain twinfer understands. */
export const MIN_OPSET = 1;
export const MAX_OPSET = 28;
/** Domains whose ops twinfer may run. */
const KNOWN_DOMAINS = new Set(['', 'ai.onnx', 'twinfer']);

export interface ImportOptions {
  /** Reader for external data; required when the model has any. */
  readExternal?: ExternalReader;
  /** Folder the model came from (informational). */
  modelDir?: string;
}

export function decodeModelProto(bytes: Uint8Array): onnx.ModelProto {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw new TwinferError('INVALID_MODEL', 'model is empty');
  let m: onnx.ModelProto;
  try {
    m = pb.ModelProto.decode(bytes);
  } catch (e) {
    throw new TwinferError('INVALID_MODEL', `not a valid ONNX model (protobuf decode failed: ${(e as Error).message})`, { cause: e });
  }
  if (!m.graph) throw new TwinferError('INVALID_MODEL', 'not a valid ONNX model: no graph');
  if (!m.irVersion || toNum(m.irVersion as LongLike) <= 0) throw new TwinferError('INVALID_MODEL', 'not a valid ONNX model: no ir_version');
  return m;
}

export function importModel(bytes: Uint8Array, opts: ImportOptions = {}): Graph {
  const m = decodeModelProto(bytes);
  const opsets: Record<string, number> = {};
  for (const o of m.opsetImport ?? []) {
    const dom = o.domain === 'ai.onnx' ? '' : o.domain ?? '';
    opsets[dom] = toNum(o.version as LongLike);
  }
  if (opsets[''] === undefined) opsets[''] = m.opsetImport?.length ? MAX_OPSET : 1;
  const v = opsets['']!;
  if (v > MAX_OPSET) throw new TwinferError('UNSUPPORTED_OPSET', `model uses opset ${v}; twinfer supports opsets ${MIN_OPSET}..${MAX_OPSET}`);
  if (v < MIN_OPSET) throw new TwinferError('INVALID_MODEL', `invalid opset version ${v}`);
  const g = graphFromProto(m.graph!, opts.readExternal);
  g.opsets = opsets;
  if (opts.modelDir !== undefined) g.modelDir = opts.modelDir;
  upgradeGraph(g);
  return g;
}

function valueInfoFromProto(p: onnx.IValueInfoProto, what: string): ValueInfo {
  const name = p.name ?? '';
  if (!name) throw new TwinferError('INVALID_MODEL', `${what} without a name`);
  const vi: ValueInfo = { name };
  const tt = p.type?.tensorType;
  if (p.type && !tt) {
    throw new TwinferError('UNSUPPORTED', `${what} '${name}': only tensor types are supported (sequence, map and optional are not)`);
  }
  if (tt) {
    if (tt.elemType) {
      const dt = dtypeFromOnnx(tt.elemType);
      if (!dt) throw new TwinferError('UNSUPPORTED', `${what} '${name}': element type ${tt.elemType} is not supported`);
      vi.dtype = dt;
    }
    if (tt.shape) {
      vi.shape = (tt.shape.dim ?? []).map((d, i): Dim => {
        if (d.dimParam) return d.dimParam;
        if (d.dimValue !== undefined && d.dimValue !== null) {
          const n = toNum(d.dimValue as LongLike);
          if (!Number.isSafeInteger(n) || n < 0) throw new TwinferError('INVALID_MODEL', `${what} '${name}': invalid dim ${n} at axis ${i}`);
          return n;
        }
        return `${name}_d${i}`;
      });
    }
  }
  return vi;
}

function graphFromProto(gp: onnx.IGraphProto, readExternal?: ExternalReader): Graph {
  const g = new Graph();
  g.name = gp.name || 'graph';
  for (const t of gp.initializer ?? []) {
    if (!t.name) throw new TwinferError('INVALID_MODEL', 'initializer without a name');
    g.initializers.set(t.name, tensorFromProto(t, readExternal));
  }
  if ((gp.sparseInitializer ?? []).length > 0) throw new TwinferError('UNSUPPORTED', 'sparse initializers are not supported');
  g.inputs = (gp.input ?? []).map((p) => valueInfoFromProto(p, 'graph input'));
  g.outputs = (gp.output ?? []).map((p) => valueInfoFromProto(p, 'graph output'));
  for (const p of gp.valueInfo ?? []) {
    const vi = valueInfoFromProto(p, 'value_info');
    if (vi.dtype) g.types.set(vi.name, { dtype: vi.dtype, shape: vi.shape });
  }
  const names = new Set<string>();
  g.nodes = (gp.node ?? []).map((np, idx) => {
    let name = np.name || `${np.opType ?? 'node'}_${idx}`;
    while (names.has(name)) name = `${name}_${idx}`;
    names.add(name);
    const node: Node = {
      name,
      opType: np.opType ?? '',
      domain: np.domain === 'ai.onnx' ? '' : np.domain ?? '',
      inputs: (np.input ?? []).slice(),
      outputs: (np.output ?? []).slice(),
      attrs: {},
      attrTypes: {},
    };
    if (!node.opType) throw new TwinferError('INVALID_MODEL', `node #${idx} has no op_type`, { node: name });
    for (const a of np.attribute ?? []) {
      try {
        const [val, ty] = attrFromProto(a, readExternal);
        node.attrs[a.name ?? ''] = val;
        node.attrTypes![a.name ?? ''] = ty;
      } catch (e) {
        throw asTwinferError(e, 'INVALID_MODEL', { node: name, opType: node.opType });
      }
    }
    return node;
  });
  return g;
}

const AT = pb.AttributeProto.AttributeType;

function attrFromProto(a: onnx.IAttributeProto, readExternal?: ExternalReader): [AttrValue, AttrType] {
  const name = a.name ?? '';
  if (a.refAttrName) throw new TwinferError('UNSUPPORTED', `attribute '${name}' references a function attribute`);
  const dec = new TextDecoder();
  let type = a.type ?? AT.UNDEFINED;
  if (type === AT.UNDEFINED) {
    // Very old models omit the type; infer it from the populated field.
    if (a.floats?.length) type = AT.FLOATS; else if (a.ints?.length) type = AT.INTS;
    else if (a.strings?.length) type = AT.STRINGS; else if (a.t) type = AT.TENSOR;
    else if (a.s?.length) type = AT.STRING; else if (a.f) type = AT.FLOAT; else type = AT.INT;
  }
  switch (type) {
    case AT.FLOAT: return [a.f ?? 0, 'float'];
    case AT.INT: return [toNum(a.i as LongLike), 'int'];
    case AT.STRING: return [dec.decode(a.s ?? new Uint8Array()), 'string'];
    case AT.TENSOR:
      if (!a.t) throw new TwinferError('INVALID_MODEL', `attribute '${name}' has no tensor`);
      return [tensorFromProto(a.t, readExternal), 'tensor'];
    case AT.FLOATS: return [(a.floats ?? []).slice(), 'floats'];
    case AT.INTS: return [(a.ints ?? []).map((x) => toNum(x as LongLike)), 'ints'];
    case AT.STRINGS: return [(a.strings ?? []).map((s) => dec.decode(s)), 'strings'];
    case AT.TENSORS: return [(a.tensors ?? []).map((t) => tensorFromProto(t, readExternal)), 'tensors'];
    case AT.GRAPH: case AT.GRAPHS:
      throw new TwinferError('UNSUPPORTED', `attribute '${name}': subgraphs (control flow) are not supported`);
    default:
      throw new TwinferError('UNSUPPORTED', `attribute '${name}': attribute type ${type} is not supported`);
  }
}

/** Applies every known op's upgrade hook, so all nodes are in the internal (latest) form. */
export function upgradeGraph(g: Graph): void {
  let counter = 0;
  const taken = new Set<string>([...g.initializers.keys(), ...g.inputs.map((i) => i.name), ...g.nodes.flatMap((n) => n.outputs)]);
  for (const node of g.nodes) {
    if (!KNOWN_DOMAINS.has(node.domain)) continue;
    const schema = findSchema(node.domain, node.opType);
    if (!schema?.upgrade) continue;
    const opset = g.opsets[node.domain] ?? g.opset;
    try {
      schema.upgrade(node, {
        opset,
        constant(t: HostTensor, hint: string): string {
          let name = `${node.name}__${hint}`;
          while (taken.has(name)) name = `${node.name}__${hint}_${++counter}`;
          taken.add(name);
          g.initializers.set(name, t);
          return name;
        },
      });
    } catch (e) {
      throw asTwinferError(e, 'INVALID_MODEL', { node: node.name, opType: node.opType });
    }
  }
}
