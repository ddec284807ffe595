/**
 * Graph -> ONNX ModelProto bytes. Tests build models in code this way and hand the same bytes to
 * twinfer and to onnxruntime-node. Attribute types come from node.attrTypes when known; otherwise a
 * number is an INT unless the attribute name is one ONNX defines as a float.
 */
import type { onnx } from 'onnx-proto';
import { pb } from './proto.js';
import type { AttrType, AttrValue, Graph, Node, ValueInfo } from '../ir/graph.js';
import { onnxCodeOf } from '../ir/dtype.js';
import { HostTensor } from '../ir/tensor.js';
import { tensorToProto } from './tensor-proto.js';

/** ONNX attribute names whose type is FLOAT / FLOATS (for nodes built in code without attrTypes). */
const FLOAT_ATTRS = new Set([
  'alpha', 'beta', 'gamma', 'epsilon', 'momentum', 'lambd', 'bias', 'ratio', 'min', 'max', 'value_float',
  'cubic_coeff_a', 'extrapolation_value', 'spatial_scale', 'scale', 'threshold', 'iou_threshold',
  'score_threshold', 'clip', 'p_float', 'size_float',
]);
const FLOATS_ATTRS = new Set(['scales', 'activation_alpha', 'activation_beta', 'value_floats', 'offset', 'activation_params', 'post_activation_params']);

export interface ExportOptions {
  /** Opset of the default domain (default: the graph's). */
  opset?: number;
  irVersion?: number;
  producer?: string;
}

export function exportModel(g: Graph, opts: ExportOptions = {}): Uint8Array {
  const opsets = { ...g.opsets, ...(opts.opset !== undefined ? { '': opts.opset } : {}) };
  const m = new pb.ModelProto({
    irVersion: opts.irVersion ?? 8,
    producerName: opts.producer ?? 'twinfer',
    opsetImport: Object.entries(opsets).map(([domain, version]) => new pb.OperatorSetIdProto({ domain, version })),
    graph: graphToProto(g),
  });
  return pb.ModelProto.encode(m).finish();
}

function valueInfoToProto(v: ValueInfo): onnx.ValueInfoProto {
  const vi = new pb.ValueInfoProto({ name: v.name });
  if (v.dtype) {
    const tt = new pb.TypeProto.Tensor({ elemType: onnxCodeOf(v.dtype) });
    if (v.shape) {
      tt.shape = new pb.TensorShapeProto({
        dim: v.shape.map((d) => new pb.TensorShapeProto.Dimension(typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
      });
    }
    vi.type = new pb.TypeProto({ tensorType: tt });
  }
  return vi;
}

function graphToProto(g: Graph): onnx.GraphProto {
  return new pb.GraphProto({
    name: g.name,
    input: g.inputs.map(valueInfoToProto),
    output: g.outputs.map(valueInfoToProto),
    initializer: [...g.initializers].map(([name, t]) => tensorToProto(t, name)),
    node: g.nodes.map(nodeToProto),
  });
}

function nodeToProto(n: Node): onnx.NodeProto {
  return new pb.NodeProto({
    name: n.name,
    opType: n.opType,
    domain: n.domain,
    input: n.inputs,
    output: n.outputs,
    attribute: Object.entries(n.attrs).map(([name, v]) => attrToProto(name, v, n.attrTypes?.[name])),
  });
}

const AT = pb.AttributeProto.AttributeType;
const enc = new TextEncoder();

function attrToProto(name: string, v: AttrValue, type?: AttrType): onnx.AttributeProto {
  const a = new pb.AttributeProto({ name });
  const t = type ?? guessType(name, v);
  switch (t) {
    case 'float': a.type = AT.FLOAT; a.f = v as number; break;
    case 'int': a.type = AT.INT; a.i = v as number; break;
    case 'string': a.type = AT.STRING; a.s = enc.encode(v as string); break;
    case 'tensor': a.type = AT.TENSOR; a.t = tensorToProto(v as HostTensor); break;
    case 'floats': a.type = AT.FLOATS; a.floats = v as number[]; break;
    case 'ints': a.type = AT.INTS; a.ints = v as number[]; break;
    case 'strings': a.type = AT.STRINGS; a.strings = (v as string[]).map((s) => enc.encode(s)); break;
    case 'tensors': a.type = AT.TENSORS; a.tensors = (v as HostTensor[]).map((x) => tensorToProto(x)); break;
    default: throw new Error(`export: attribute '${name}' of type ${t} is not supported`);
  }
  return a;
}

function guessType(name: string, v: AttrValue): AttrType {
  if (typeof v === 'number') return FLOAT_ATTRS.has(name) || !Number.isInteger(v) ? 'float' : 'int';
  if (typeof v === 'string') return 'string';
  if (v instanceof HostTensor) return 'tensor';
  if (Array.isArray(v)) {
    if (v.length && v[0] instanceof HostTensor) return 'tensors';
    if (v.length && typeof v[0] === 'string') return 'strings';
    return FLOATS_ATTRS.has(name) || (v as number[]).some((x) => !Number.isInteger(x)) ? 'floats' : 'ints';
  }
  return 'graph';
}
