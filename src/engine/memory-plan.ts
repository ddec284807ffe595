/**
 * Memory planning: every activation gets an offset in one arena per device.
 *  1. liveness: each value lives from the step that produces it to its last reader (graph outputs
 *     to the end);
 *  2. sharing: view ops (Reshape, Squeeze, Unsqueeze, Flatten, Identity) alias their input; an
 *     element-wise op whose input dies at it and has the output's size writes in place (a fused
 *     conv/matmul only over its residual input); a Concat
 *     marked by the concat-elimination pass has its inputs placed inside its own buffer;
 *  3. placement: buffers in decreasing size, each at the lowest aligned offset that overlaps no
 *     buffer live at the same time (greedy by size).
 * Reports the arena against the naive sum of all activations and the lower bound, the largest total
 * of bytes live at one step.
 */
import type { Graph, Node } from '../ir/graph.js';
import { onnxElementBytes } from '../ir/dtype.js';
import { isStatic } from '../ir/schema.js';

export const ARENA_ALIGN = 16;

const VIEW_OPS = new Set(['Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity']);
const IN_PLACE_OPS = new Set([
  'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Clip', 'HardSigmoid', 'HardSwish', 'Elu', 'Selu', 'Gelu', 'Erf', 'Exp', 'Log',
  'Sqrt', 'Neg', 'Abs', 'Reciprocal', 'Softplus', 'Mish', 'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Cast',
  'BatchNormalization',
]);
/** Fused ops may write over their residual Z only (each output element reads its own Z element). */
const FUSED_Z_INPUT = 3;

export interface BufferPlan {
  /** Values stored in this buffer (aliases, in-place chains, concat parts) with their byte offset inside it. */
  values: Map<string, number>;
  bytes: number;
  start: number;
  end: number;
  offset: number;
}

export interface MemoryPlan {
  arenaBytes: number;
  naiveBytes: number;
  lowerBoundBytes: number;
  /** Value name -> absolute offset and size in the arena. */
  offsets: Map<string, { offset: number; bytes: number }>;
  buffers: BufferPlan[];
}

const align = (n: number) => Math.ceil(n / ARENA_ALIGN) * ARENA_ALIGN;

function bytesOf(g: Graph, v: string): number | undefined {
  const t = g.types.get(v);
  if (!t || !isStatic(t.shape) || t.dtype === 'string') return undefined;
  return Math.ceil(t.shape.reduce((a, b) => a * b, 1) * onnxElementBytes(t.dtype));
}

/** Plans a graph whose activation shapes are all static (infer it with concrete input dims first). */
export function planMemory(g: Graph): MemoryPlan {
  const steps = g.nodes.length;
  const graphOutputs = new Set(g.outputs.map((o) => o.name));
  const external = new Set([...g.initializers.keys(), ...g.inputs.map((i) => i.name)]);
  const def = new Map<string, number>(), last = new Map<string, number>();
  g.nodes.forEach((n, s) => {
    for (const o of n.outputs) if (o) { def.set(o, s); last.set(o, graphOutputs.has(o) ? steps : s); }
    for (const i of n.inputs) if (i && def.has(i)) last.set(i, Math.max(last.get(i)!, s));
  });
  for (const o of graphOutputs) if (def.has(o)) last.set(o, steps);

  // Union-find over values that share storage, with each value's byte offset inside its root.
  const parent = new Map<string, string>(), rel = new Map<string, number>();
  const find = (v: string): [string, number] => {
    let off = 0, x = v;
    while (parent.has(x)) { off += rel.get(x)!; x = parent.get(x)!; }
    return [x, off];
  };
  const bufBytes = new Map<string, number>(), bufStart = new Map<string, number>(), bufEnd = new Map<string, number>();
  let naive = 0;
  for (const [v, s] of def) {
    const b = bytesOf(g, v);
    if (b === undefined) throw new Error(`memory plan: value '${v}' has no static shape (plan with concrete input dims)`);
    naive += b;
    bufBytes.set(v, b); bufStart.set(v, s); bufEnd.set(v, last.get(v)!);
  }
  const join = (child: string, root: string, offset: number) => {
    const [r, base] = find(root);
    parent.set(child, r); rel.set(child, base + offset);
    bufStart.set(r, Math.min(bufStart.get(r)!, bufStart.get(child)!));
    bufEnd.set(r, Math.max(bufEnd.get(r)!, bufEnd.get(child)!));
    bufBytes.set(r, Math.max(bufBytes.get(r)!, base + offset + bufBytes.get(child)!));
  };
  g.nodes.forEach((n, s) => sharePlan(n, s, { external, def, bufBytes, bufEnd, find, join, parent }));

  const roots = [...def.keys()].filter((v) => !parent.has(v));
  const buffers: BufferPlan[] = roots.map((r) => ({ values: new Map([[r, 0]]), bytes: bufBytes.get(r)!, start: bufStart.get(r)!, end: bufEnd.get(r)!, offset: 0 }));
  const byRoot = new Map(roots.map((r, i) => [r, buffers[i]!]));
  for (const v of def.keys()) if (parent.has(v)) { const [r, off] = find(v); byRoot.get(r)!.values.set(v, off); }

  // Greedy by size.
  const placed: BufferPlan[] = [];
  let arena = 0;
  for (const b of [...buffers].sort((a, c) => c.bytes - a.bytes || a.start - c.start)) {
    const overlapping = placed.filter((p) => p.start <= b.end && b.start <= p.end).sort((a, c) => a.offset - c.offset);
    let offset = 0;
    for (const p of overlapping) {
      if (offset + b.bytes <= p.offset) break;
      offset = Math.max(offset, align(p.offset + p.bytes));
    }
    b.offset = offset;
    placed.push(b);
    arena = Math.max(arena, offset + b.bytes);
  }

  // Lower bound: the most bytes live at any one step, after sharing.
  const live = new Float64Array(steps + 1);
  for (const b of buffers) for (let s = b.start; s <= b.end; s++) live[s]! += b.bytes;
  const lowerBound = live.reduce((a, x) => Math.max(a, x), 0);

  const offsets = new Map<string, { offset: number; bytes: number }>();
  for (const b of buffers) for (const [v, off] of b.values) offsets.set(v, { offset: b.offset + off, bytes: bufBytes.get(v) ?? 0 });
  return { arenaBytes: arena, naiveBytes: naive, lowerBoundBytes: lowerBound, offsets, buffers };
}

interface ShareCtx {
  external: Set<string>;
  /** Last step at which each buffer (by root value) is live. */
  bufEnd: Map<string, number>;
  def: Map<string, number>;
  bufBytes: Map<string, number>;
  parent: Map<string, string>;
  find(v: string): [string, number];
  join(child: string, root: string, offset: number): void;
}

function sharePlan(n: Node, step: number, c: ShareCtx): void {
  const out = n.outputs[0];
  if (!out || !c.def.has(out)) return;
  const inp = n.inputs[0] ?? '';
  const isActivation = (v: string) => !!v && c.def.has(v) && !c.external.has(v);
  if (n.domain === '' && VIEW_OPS.has(n.opType) && isActivation(inp)) {
    c.join(out, inp, 0);
    return;
  }
  if (n.domain === '' && n.opType === 'Concat' && n.attrs['twinfer_inplace'] === 1) {
    let off = 0;
    for (const i of n.inputs) {
      const b = c.bufBytes.get(i)!;
      if (!c.parent.has(i)) c.join(i, out, off);
      off += b;
    }
    return;
  }
  const elementwise = n.domain === '' && IN_PLACE_OPS.has(n.opType);
  const fused = n.domain === 'twinfer' && n.opType.startsWith('Fused');
  if (!elementwise && !fused) return;
  // Reuse the first activation input that dies here and is exactly as large as the output.
  for (const i of fused ? [n.inputs[FUSED_Z_INPUT] ?? ''] : n.inputs) {
    if (!isActivation(i)) continue;
    const [root, off] = c.find(i);
    if (c.bufEnd.get(root) !== step || off !== 0 || c.bufBytes.get(root) !== c.bufBytes.get(out)) continue;
    if (c.find(out)[0] === root) continue;
    c.join(out, root, 0);
    return;
  }
}

/** Throws if two buffers live at the same step overlap in the arena (a planner bug). */
export function checkPlan(plan: MemoryPlan): void {
  const bs = plan.buffers;
  for (let i = 0; i < bs.length; i++) {
    const a = bs[i]!;
    if (a.offset % ARENA_ALIGN !== 0 || a.offset + a.bytes > plan.arenaBytes) throw new Error(`buffer at ${a.offset} (+${a.bytes}) is misaligned or outside the arena`);
    for (let j = i + 1; j < bs.length; j++) {
      const b = bs[j]!;
      const timeOverlap = a.start <= b.end && b.start <= a.end;
      const spaceOverlap = a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
      if (timeOverlap && spaceOverlap && a.bytes > 0 && b.bytes > 0) {
        throw new Error(`buffers [${[...a.values.keys()].join(',')}] and [${[...b.values.keys()].join(',')}] overlap in time and space`);
      }
    }
  }
}
