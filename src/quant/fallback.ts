/**
 * The precision fallback chain int8 -> fp16 -> fp32, applied by the planner before partitioning.
 *
 * A node the precision pass made int8 (twinfer.QConv / QGemm / QMatMul) or fp16 (float16 values)
 * that a backend cannot run as it is, is lowered *on that backend* before it falls back to another
 * one: an INT8 op becomes its Fused op with dequantized weights (w = q * W_scale), in fp16 where fp16
 * is allowed (or X is float16 already), else fp32; an fp16 node becomes fp32 with Casts around it.
 * Backends are tried in preference order: the first backend that can run the node in some form of
 * the chain gets that form (the highest precision it can run); if none can, the node is left alone
 * and the partition reports it.
 *
 * Support is asked with probe nodes: the lowered node with temporary value names whose types (and
 * constants) are registered on the graph for the duration of one `supports` call, so a backend's
 * check sees exactly what it would be given.
 */
import type { Graph, Node, ValueType } from '../ir/graph.js';
import { HostTensor } from '../ir/tensor.js';
import { inferGraph } from '../ir/infer.js';
import { roundArrayToDtype } from '../ir/lowp.js';
import { Q_BASE, qChannelAxis } from '../ir/ops/qfused.js';
import type { PartitionBackend } from '../partition/partition.js';
import { dequantizeWeights } from './int8.js';
import { convertToFp16 } from './fp16.js';
import { precisionOfNode, type Precision } from './precision.js';

type Level = Precision;

export interface Lowering { node: string; opType: string; from: Level; to: Level; toOp: string; backend: string; reason: string }

export interface FallbackOptions {
  /** Whether an INT8 op may become fp16 (the session asked for fp16 somewhere); else it goes to fp32. */
  allowFp16: boolean;
  log?: (message: string) => void;
}

const FLOAT = 1, FLOAT16 = 10;



/** The Fused op equivalent of an INT8 op, weights dequantized into `wName` (float32). */
function fusedOf(n: Node, wName: string): Node {
  const attrs = { ...n.attrs };
  delete attrs['x_scale']; delete attrs['x_zero_point']; delete attrs['x_signed'];
  const [x, , , b, z] = n.inputs;
  const inputs = [x!, wName, b ?? '', ...(z ? [z] : [])];
  while (inputs.length > 2 && inputs[inputs.length - 1] === '') inputs.pop();
  const out: Node = { name: n.name, opType: `Fused${Q_BASE[n.opType]!}`, domain: 'twinfer', inputs, outputs: n.outputs.slice(), attrs };
  if (n.attrTypes) {
    const t = { ...n.attrTypes };
    delete t['x_scale']; delete t['x_zero_point']; delete t['x_signed'];
    out.attrTypes = t;
  }
  return out;
}

function dequantized(g: Graph, n: Node): HostTensor {
  return dequantizeWeights(g.initializers.get(n.inputs[1]!)!, g.initializers.get(n.inputs[2]!)!, qChannelAxis(n));
}

function toHalf(t: HostTensor): HostTensor {
  const d = Float32Array.from(t.numbers);
  roundArrayToDtype('float16', d);
  return new HostTensor('float16', t.dims.slice(), d);
}

/**
 * Asks `b` about `node` with its float values of dtype `from` retyped to `to` (temporary names,
 * constants converted), plus `extra` constants. Nothing is left on the graph afterwards.
 */
function probe(g: Graph, b: PartitionBackend, node: Node, extra: Map<string, HostTensor>, from?: string, to?: 'float16' | 'float32'): { ok: boolean; reason?: string } {
  const added: string[] = [];
  const add = (name: string, t: ValueType, c?: HostTensor) => { g.types.set(name, t); if (c) g.initializers.set(name, c); added.push(name); };
  let k = 0;
  const retype = (v: string): string => {
    if (!v) return v;
    const c = extra.get(v) ?? g.initializers.get(v);
    const t = extra.has(v) ? { dtype: c!.dtype, shape: c!.dims.slice() } : g.types.get(v);
    if (!to || !t || t.dtype !== from) { if (extra.has(v)) add(v, t!, c); return v; }
    const name = `__twinfer_probe_${k++}`;
    add(name, { dtype: to, shape: t.shape?.slice() }, c ? (to === 'float16' ? toHalf(c) : new HostTensor('float32', c.dims.slice(), Float32Array.from(c.numbers))) : undefined);
    return name;
  };
  const p: Node = { ...node, inputs: node.inputs.map(retype), outputs: node.outputs.map(retype) };
  try {
    const s = b.supports(p);
    return s.ok ? { ok: true } : { ok: false, reason: s.reason };
  } finally {
    for (const name of added) { g.types.delete(name); g.initializers.delete(name); }
  }
}

function fresh(g: Graph, base: string, taken: Set<string>): string {
  let s = base, i = 1;
  while (g.types.has(s) || g.initializers.has(s) || taken.has(s)) s = `${base}_${i++}`;
  taken.add(s);
  return s;
}

/**
 * Lowers, in place, the nodes whose precision the backend they would run on cannot run; returns
 * what was lowered. `backends` in preference order (the planner's usable list).
 */
export function lowerUnsupportedPrecision(g: Graph, backends: readonly PartitionBackend[], opts: FallbackOptions): Lowering[] {
  const done: Lowering[] = [];
  const toFp16 = new Set<Node>(), toFp32 = new Set<Node>();
  const taken = new Set<string>();
  const replace = new Map<Node, Node>();
  for (const n of g.nodes) {
    const level = precisionOfNode(g, n);
    if (level === 'fp32') continue;
    for (const b of backends) {
      const s = b.supports(n);
      if (s.ok) break;
      let to: Level | undefined;
      if (level === 'int8') {
        const wName = '__twinfer_probe_w';
        const fused = fusedOf(n, wName);
        const w = new Map([[wName, dequantized(g, n)]]);
        const xHalf = g.types.get(n.inputs[0]!)?.dtype === 'float16';
        if ((opts.allowFp16 || xHalf) && probe(g, b, fused, w, 'float32', 'float16').ok) to = 'fp16';
        else if (!xHalf && probe(g, b, fused, w).ok) to = 'fp32';
        if (to) {
          const wq = fresh(g, `${n.inputs[1]}_dq`, taken);
          const f = fusedOf(n, wq);
          g.initializers.set(wq, w.get(wName)!);
          g.types.set(wq, { dtype: 'float32', shape: w.get(wName)!.dims.slice() });
          replace.set(n, f);
          if (to === 'fp16') toFp16.add(f);
          done.push({ node: n.name, opType: n.opType, from: level, to, toOp: f.opType, backend: b.name, reason: s.reason });
        }
      } else if (probe(g, b, n, new Map(), 'float16', 'float32').ok) {
        to = 'fp32';
        toFp32.add(n);
        done.push({ node: n.name, opType: n.opType, from: level, to, toOp: n.opType, backend: b.name, reason: s.reason });
      }
      if (to) break;
    }
  }
  if (done.length === 0) return done;
  g.nodes = g.nodes.map((n) => replace.get(n) ?? n);
  if (toFp16.size) { convertToFp16(g, toFp16); inferGraph(g); }
  if (toFp32.size) { convertToFp32(g, toFp32); inferGraph(g); }
  dropUnread(g);
  if (opts.log) {
    const groups = new Map<string, number>();
    for (const d of done) {
      const key = `${d.opType} -> ${d.toOp} ${d.to} on ${d.backend} (${d.reason})`;
      groups.set(key, (groups.get(key) ?? 0) + 1);
    }
    opts.log(`twinfer: precision lowered where a backend lacks the kernel: ${[...groups].map(([k, c]) => `${k} x${c}`).join('; ')}`);
  }
  return done;
}

/**
 * Turns fp16 `nodes` back into fp32 in place: float16 inputs read through a float32 twin (a constant
 * converted, the float32 value behind a Cast to float16, or a new Cast), float16 outputs written as
 * float32 and cast back to float16 for their readers. Graph inputs and outputs keep their dtypes.
 */
export function convertToFp32(g: Graph, nodes: ReadonlySet<Node>): void {
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const taken = new Set<string>();
  const twins = new Map<string, string>();
  const before = new Map<Node, Node[]>(), after = new Map<Node, Node[]>();
  const madeHalf = new Set<Node>();
  const push = (m: Map<Node, Node[]>, k: Node, v: Node) => (m.get(k) ?? m.set(k, []).get(k)!).push(v);
  const half = (v: string) => g.types.get(v)?.dtype === 'float16';
  for (const n of g.nodes) {
    if (!nodes.has(n)) continue;
    n.inputs = n.inputs.map((v) => {
      if (!v || !half(v)) return v;
      let t = twins.get(v);
      if (t) return t;
      const c = g.initializers.get(v), p = producer.get(v);
      if (c) {
        t = fresh(g, `${v}_fp32`, taken);
        g.initializers.set(t, new HostTensor('float32', c.dims.slice(), Float32Array.from(c.numbers)));
        g.types.set(t, { dtype: 'float32', shape: c.dims.slice() });
      } else if (p && p.opType === 'Cast' && p.attrs['to'] === FLOAT16 && g.types.get(p.inputs[0]!)?.dtype === 'float32') {
        t = p.inputs[0]!; // skip a float32 -> float16 -> float32 round trip: this node runs fp32 now
      } else {
        t = fresh(g, `${v}_fp32`, taken);
        push(before, n, { name: fresh(g, `cast_${t}`, taken), opType: 'Cast', domain: '', inputs: [v], outputs: [t], attrs: { to: FLOAT } });
      }
      twins.set(v, t);
      return t;
    });
    n.outputs = n.outputs.map((o) => {
      if (!o || !half(o)) return o;
      const t = fresh(g, `${o}_fp32`, taken);
      g.types.set(t, { dtype: 'float32', shape: g.types.get(o)?.shape?.slice() });
      twins.set(o, t);
      const cast: Node = { name: fresh(g, `cast_${o}`, taken), opType: 'Cast', domain: '', inputs: [t], outputs: [o], attrs: { to: FLOAT16 } };
      push(after, n, cast);
      madeHalf.add(cast);
      producer.set(o, cast);
      return t;
    });
    if (n.opType === 'Cast' && n.attrs['to'] === FLOAT16) n.attrs = { ...n.attrs, to: FLOAT };
  }
  // A Cast back to float32 of one of the float16 copies made above reads the float32 value itself.
  for (const n of g.nodes) {
    if (nodes.has(n) || n.opType !== 'Cast' || n.attrs['to'] !== FLOAT) continue;
    const p = producer.get(n.inputs[0]!);
    if (p && p.opType === 'Cast' && madeHalf.has(p)) n.inputs = [p.inputs[0]!];
  }
  g.nodes = g.nodes.flatMap((n) => [...(before.get(n) ?? []), n, ...(after.get(n) ?? [])]);
}

/** Removes Casts and constants nothing reads any more (left by the rewrites above). */
function dropUnread(g: Graph): void {
  for (;;) {
    const read = new Set([...g.nodes.flatMap((n) => n.inputs), ...g.outputs.map((o) => o.name)]);
    const keep = g.nodes.filter((n) => n.opType !== 'Cast' || n.outputs.some((o) => read.has(o)));
    if (keep.length === g.nodes.length) {
      for (const k of [...g.initializers.keys()]) if (!read.has(k) && !g.inputs.some((i) => i.name === k)) { g.initializers.delete(k); g.types.delete(k); }
      return;
    }
    g.nodes = keep;
  }
}
