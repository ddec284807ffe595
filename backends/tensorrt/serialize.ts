/**
 * twinfer's optimized graph (or one TensorRT island of it) -> the network description of
 * network.ts plus its weight buffers. Each node goes through the mapper of its op (map.ts); a node
 * no mapper can express is reported with the reason, never dropped.
 *
 * Precision: the network is *strongly typed* (TensorRT 11's only mode, and 10's recommended one):
 * tensor types come from the graph. A graph the precision pass annotated brings its own Cast nodes,
 * float16 initializers and Q ops (twinfer.QConv...), which map one for one. `precision: 'fp16'` on
 * an unannotated graph makes the whole network half: float inputs are cast on entry, outputs cast
 * back, float weights stored as half (what the kFP16 builder flag did on TensorRT 10 and what 11
 * asks of the network itself). INT8 from a CalibrationTable goes through int8.ts first.
 */
import type { Dim, Graph, Node } from '../../src/ir/graph.js';
import type { DType } from '../../src/ir/dtype.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { schemaKey } from '../../src/ir/ops/index.js';
import { TwinferError } from '../../src/errors.js';
import { findTrtMapper } from './map.js';
import { TrtUnsupported, knownType, makeLayer, trtDType, trtDims, unsupported, type MapContext } from './map-context.js';
import { weightBytes } from './weights.js';
import { TRT_NETWORK_FORMAT, TRT_NETWORK_VERSION, type TrtAttr, type TrtLayer, type TrtLayerKind, type TrtNetwork, type TrtProfileDims, type TrtTensorDecl, type TrtWeight } from './network.js';

/** One optimization profile: ranges of symbolic dims by name, and/or of whole inputs. */
export interface TrtProfileSpec {
  /** min / opt / max of a symbolic dimension by its name, e.g. { batch: [1, 8, 32] }. */
  dims?: Record<string, [number, number, number]>;
  /** Per input, overriding `dims`. */
  inputs?: Record<string, TrtProfileDims>;
}

export interface TrtSerializeOptions {
  /** The nodes to map (a TensorRT island, in graph order); default every node. */
  nodes?: readonly Node[];
  /** Optimization profiles (default one: symbolic dims 1). */
  profiles?: readonly TrtProfileSpec[];
  /** 'fp16': the whole network in half precision (see the file comment). Default 'fp32' (the graph's own types). */
  precision?: 'fp32' | 'fp16';
}

export interface TrtNodeReport {
  node: string;
  opType: string;
  ok: boolean;
  /** Layers emitted (when ok). */
  layers: number;
  reason?: string;
}

export interface SerializedNetwork {
  network: TrtNetwork;
  /** Weight bytes, indexed by `network.weights[i].buffer`. */
  buffers: ArrayBufferView[];
  /** The description as the JSON text the addon reads. */
  json: string;
  report: TrtNodeReport[];
  /** Remarks that are not errors (defaulted profile dims, precision choices). */
  notes: string[];
}

const HALF = '__half';

/** Accumulates layers and weights; one per network. */
class NetBuilder {
  readonly layers: TrtLayer[] = [];
  readonly weights: TrtWeight[] = [];
  readonly buffers: ArrayBufferView[] = [];
  readonly notes: string[] = [];
  private readonly weightIndex = new Map<string, number>();
  private readonly used = new Set<string>();
  /** Value name -> the tensor that holds it in the network (a graph input's half cast, in fp16). */
  readonly alias = new Map<string, string>();
  constructor(readonly graph: Graph, readonly fp16: boolean, readonly outputs: ReadonlySet<string>) {}

  unique(base: string): string {
    let n = base;
    for (let k = 1; this.used.has(n) || this.graph.types.has(n) || this.graph.initializers.has(n); k++) n = `${base}_${k}`;
    this.used.add(n);
    return n;
  }

  /** Storage type of a weight: float32 data becomes half in the fp16 network. */
  private storeAs(t: HostTensor): DType { return this.fp16 && t.dtype === 'float32' ? 'float16' : t.dtype; }

  addWeight(name: string, t: HostTensor): string {
    if (this.weightIndex.has(name)) return name;
    const { dtype, data } = weightBytes(t, this.storeAs(t));
    this.buffers.push(data);
    this.weightIndex.set(name, this.weights.length);
    this.weights.push({ name, dtype, dims: t.dims.slice(), buffer: this.buffers.length - 1 });
    this.used.add(name);
    return name;
  }

  weightAs(name: string, dims: number[]): string {
    const w = this.weights[this.weightIndex.get(name)!];
    if (!w) throw new Error(`weightAs: '${name}' is not a weight`);
    if (dims.reduce((a, b) => a * b, 1) !== w.dims.reduce((a, b) => a * b, 1)) throw new Error(`weightAs: ${name} [${w.dims}] cannot be seen as [${dims}]`);
    if (dims.length === w.dims.length && dims.every((d, i) => d === w.dims[i])) return name;
    const alias = this.unique(`${name}[${dims.join('x')}]`);
    this.weightIndex.set(alias, this.weights.length);
    this.weights.push({ ...w, name: alias, dims: dims.slice() });
    return alias;
  }

  isWeight(name: string): boolean { return this.weightIndex.has(name); }
  hasWeight(name: string): boolean { return this.weightIndex.has(name); }
}

/** Maps one node into `b`; layers land in b.layers only when the whole node maps. Returns the count or throws TrtUnsupported. */
function mapNode(b: NetBuilder, node: Node): number {
  const g = b.graph;
  const key = schemaKey(node.domain, node.opType);
  const mapper = findTrtMapper(key);
  if (!mapper) unsupported(`no TensorRT mapping for ${key}`);
  const layers: TrtLayer[] = [];
  const pendingWeights: [string, HostTensor][] = [];
  let k = 0;
  const halfOut = new Map<string, string>();
  const inputName = (i: number): string => {
    const v = node.inputs[i];
    if (!v) throw new Error(`${node.opType}: input ${i} is absent`);
    const c = g.initializers.get(v);
    if (c) { if (!b.hasWeight(v)) pendingWeights.push([v, c]); return v; }
    return b.alias.get(v) ?? v;
  };
  const ctx: MapContext = {
    node, graph: g, nIn: node.inputs.length,
    has: (i) => !!node.inputs[i],
    input: inputName,
    constant: (i) => (node.inputs[i] ? g.initializers.get(node.inputs[i]!) : undefined),
    inType: (i) => knownType(node.inputs[i] ? g.types.get(node.inputs[i]!) ?? typeOfConst(g, node.inputs[i]!) : undefined, `${node.opType} input ${i}`),
    outType: (o) => knownType(node.outputs[o] ? g.types.get(node.outputs[o]!) : undefined, `${node.opType} output ${o}`),
    output: (o) => {
      const v = node.outputs[o];
      if (!v) throw new Error(`${node.opType}: output ${o} is absent`);
      // In the fp16 network a float output is computed in half, then cast back under its own name.
      if (b.fp16 && b.outputs.has(v) && g.types.get(v)?.dtype === 'float32') {
        if (!halfOut.has(v)) halfOut.set(v, b.unique(`${v}${HALF}`));
        return halfOut.get(v)!;
      }
      return v;
    },
    tmp: (what) => b.unique(`${node.name}/${what}`),
    layer: (kind: TrtLayerKind, inputs: string[], outputs: string[], attrs: Record<string, TrtAttr> = {}) => {
      layers.push(makeLayer(node, b.unique(`${node.name}/${kind}${k++ ? `_${k - 1}` : ''}`), kind, inputs, outputs, attrs));
      return outputs[0]!;
    },
    weight: (t, what) => {
      const name = b.unique(`${node.name}/${what}`);
      pendingWeights.push([name, t]);
      return name;
    },
    weightAs: (name, dims) => {
      const p = pendingWeights.find(([n]) => n === name);
      if (p && !b.hasWeight(name)) b.addWeight(name, p[1]);
      return b.weightAs(name, dims);
    },
    isWeight: (name) => b.isWeight(name) || pendingWeights.some(([n]) => n === name),
    broadcastRank: (name, shape, to) => {
      if (shape.length >= to) return name;
      const dims = [...new Array<Dim>(to - shape.length).fill(1), ...shape];
      if (ctx.isWeight(name)) return ctx.weightAs(name, dims as number[]);
      return ctx.layer('shuffle', [name], [ctx.tmp('rank')], { reshape: rankDims(shape, to) });
    },
    note: (m) => { b.notes.push(`${node.name}: ${m}`); },
  };
  mapper(ctx);
  for (const [name, t] of pendingWeights) b.addWeight(name, t);
  for (const [v, half] of halfOut) layers.push(makeLayer(node, b.unique(`${node.name}/cast_out`), 'cast', [half], [v], { to: 'float' }));
  b.layers.push(...layers);
  return layers.length;
}

/** A constant's type (initializers have no entry in graph.types in some graphs). */
function typeOfConst(g: Graph, v: string) {
  const c = g.initializers.get(v);
  return c ? { dtype: c.dtype, shape: c.dims.slice() as Dim[] } : undefined;
}

/** Reshape dims that put `to - rank` leading 1s before `shape` (one run-time dim at most). */
function rankDims(shape: readonly Dim[], to: number): number[] {
  const lead = new Array<number>(to - shape.length).fill(1);
  const rest = shape.map((d) => (typeof d === 'number' ? d : -1));
  if (rest.filter((d) => d === -1).length > 1) unsupported(`lifting a tensor of shape [${shape.join(',')}] to rank ${to} with more than one dimension known only at run time`);
  return [...lead, ...rest];
}

/** Whether each node maps, in isolation, and why not: what the partitioner and `twinfer devices` use. */
export function trtSupportReport(g: Graph, nodes: readonly Node[] = g.nodes): TrtNodeReport[] {
  return nodes.map((n) => {
    const b = new NetBuilder(g, false, new Set());
    try {
      return { node: n.name, opType: n.opType, ok: true, layers: mapNode(b, n) };
    } catch (e) {
      const reason = e instanceof TrtUnsupported ? e.message : `mapping failed: ${(e as Error).message}`;
      return { node: n.name, opType: n.opType, ok: false, layers: 0, reason };
    }
  });
}

/** Serializes a graph (or the island `opts.nodes`) into a network description. Throws UNSUPPORTED_OP naming the first node that does not map. */
export function serializeNetwork(g: Graph, opts: TrtSerializeOptions = {}): SerializedNetwork {
  const nodes = opts.nodes ?? g.nodes;
  const inside = new Set(nodes);
  const produced = new Set(nodes.flatMap((n) => n.outputs.filter(Boolean)));
  const graphOutputs = new Set(g.outputs.map((o) => o.name));
  // Island outputs: produced here and used outside it, or graph outputs.
  const outputs: string[] = [];
  for (const n of nodes) for (const o of n.outputs) if (o && (graphOutputs.has(o) || g.nodes.some((m) => !inside.has(m) && m.inputs.includes(o)))) outputs.push(o);
  const inputs: string[] = [];
  for (const n of nodes) for (const v of n.inputs) if (v && !produced.has(v) && !g.initializers.has(v) && !inputs.includes(v)) inputs.push(v);
  const fp16 = opts.precision === 'fp16';
  const b = new NetBuilder(g, fp16, new Set(outputs));
  const decls: TrtTensorDecl[] = inputs.map((v) => {
    const t = knownTypeOrThrow(g, v);
    const decl = { name: v, dtype: trtDType(t.dtype), dims: trtDims(t.shape) };
    if (fp16 && t.dtype === 'float32') {
      const half = b.unique(`${v}${HALF}`);
      b.layers.push({ node: '', name: b.unique(`${v}/cast_in`), kind: 'cast', inputs: [v], outputs: [half], attrs: { to: 'half' } });
      b.alias.set(v, half);
    }
    return decl;
  });
  const report: TrtNodeReport[] = [];
  for (const n of nodes) {
    try {
      report.push({ node: n.name, opType: n.opType, ok: true, layers: mapNode(b, n) });
    } catch (e) {
      const reason = e instanceof TrtUnsupported ? e.message : `mapping failed: ${(e as Error).message}`;
      throw new TwinferError('UNSUPPORTED_OP', `TensorRT: ${n.opType} '${n.name}': ${reason}`, { node: n.name, opType: n.opType });
    }
  }
  const profiles = makeProfiles(g, decls, opts.profiles ?? [{}], b.notes);
  const network: TrtNetwork = {
    format: TRT_NETWORK_FORMAT, version: TRT_NETWORK_VERSION, name: g.name,
    inputs: decls, outputs, weights: b.weights, layers: b.layers, profiles,
  };
  if (fp16) b.notes.push('precision fp16: the whole network runs in half (float inputs cast on entry, outputs cast back)');
  return { network, buffers: b.buffers, json: JSON.stringify(network), report, notes: b.notes };
}

function knownTypeOrThrow(g: Graph, v: string) {
  try {
    return knownType(g.types.get(v), `value '${v}'`);
  } catch (e) {
    throw new TwinferError('UNSUPPORTED', `TensorRT: ${(e as Error).message}`);
  }
}

/** min / opt / max per dynamic input and profile. Static inputs need none; a dim without a range gets 1 (with a note). */
function makeProfiles(g: Graph, decls: TrtTensorDecl[], specs: readonly TrtProfileSpec[], notes: string[]): Record<string, TrtProfileDims>[] {
  const dynamic = decls.filter((d) => d.dims.includes(-1));
  if (dynamic.length === 0) return [];
  return specs.map((spec, p) => {
    const out: Record<string, TrtProfileDims> = {};
    for (const d of dynamic) {
      const given = spec.inputs?.[d.name];
      if (given) {
        for (const k of ['min', 'opt', 'max'] as const) {
          if (given[k].length !== d.dims.length) throw new TwinferError('INVALID_ARGUMENT', `TensorRT profile ${p}: ${k} of '${d.name}' has rank ${given[k].length}, the input has ${d.dims.length}`);
        }
        out[d.name] = { min: given.min.slice(), opt: given.opt.slice(), max: given.max.slice() };
        continue;
      }
      const shape = g.types.get(d.name)!.shape!;
      const pick = (i: 0 | 1 | 2) => shape.map((s) => {
        if (typeof s === 'number') return s;
        const r = spec.dims?.[s];
        if (!r) { if (i === 0) notes.push(`profile ${p}: dim '${s}' of input '${d.name}' has no range; min = opt = max = 1`); return 1; }
        return r[i];
      });
      const pr = { min: pick(0), opt: pick(1), max: pick(2) };
      if (pr.min.some((v, i) => v > pr.opt[i]! || pr.opt[i]! > pr.max[i]!)) throw new TwinferError('INVALID_ARGUMENT', `TensorRT profile ${p}: '${d.name}' needs min <= opt <= max, got [${pr.min}] [${pr.opt}] [${pr.max}]`);
      out[d.name] = pr;
    }
    return out;
  });
}
