/**
 * The rule engine behind the passes: a rule looks at one node (its anchor) through a GraphView
 * and either declines or returns a rewrite — nodes to remove, nodes to add in the anchor's place,
 * new initializers, and values to redirect. The engine applies rewrites until no rule fires.
 */
import type { Graph, Node } from '../ir/graph.js';
import type { HostTensor } from '../ir/tensor.js';
import { GraphView } from './view.js';

export interface Rewrite {
  remove: Node[];
  add?: Node[];
  initializers?: Map<string, HostTensor>;
  /** Every read of key is redirected to value (keys must not be graph outputs). */
  redirect?: Map<string, string>;
}

export interface Rule {
  name: string;
  match(node: Node, view: GraphView): Rewrite | undefined;
}

export interface RuleStats { [rule: string]: number }

/** Unique value / node names for rewrites. */
export class NameGen {
  private readonly used: Set<string>;
  private n = 0;
  constructor(g: Graph) {
    this.used = new Set([...g.initializers.keys(), ...g.inputs.map((i) => i.name), ...g.nodes.flatMap((n) => [n.name, ...n.outputs])]);
  }
  make(hint: string): string {
    let name = hint;
    while (this.used.has(name)) name = `${hint}_${++this.n}`;
    this.used.add(name);
    return name;
  }
}

/**
 * Applies `rules` to `g` (mutating it) until a full sweep fires nothing; returns how often each fired.
 * Each rewrite is applied at once and the view rebuilt, so later matches see the new graph.
 */
export function applyRules(g: Graph, rules: readonly Rule[], maxSweeps = 50): RuleStats {
  const stats: RuleStats = {};
  for (const r of rules) stats[r.name] = 0;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let fired = false;
    let view = new GraphView(g);
    for (let i = 0; i < g.nodes.length; i++) {
      const node = g.nodes[i]!;
      for (const rule of rules) {
        const rw = rule.match(node, view);
        if (!rw) continue;
        applyRewrite(g, node, rw);
        stats[rule.name]!++;
        fired = true;
        view = new GraphView(g);
        i = -1; // restart the sweep over the changed node list
        break;
      }
    }
    if (!fired) break;
  }
  pruneInitializers(g);
  return stats;
}

function applyRewrite(g: Graph, anchor: Node, rw: Rewrite): void {
  const removed = new Set(rw.remove);
  const at = g.nodes.indexOf(anchor);
  const before = g.nodes.slice(0, at).filter((n) => !removed.has(n));
  const after = g.nodes.slice(at).filter((n) => !removed.has(n));
  g.nodes = [...before, ...(rw.add ?? []), ...after];
  for (const [k, v] of rw.initializers ?? []) { g.initializers.set(k, v); g.types.set(k, { dtype: v.dtype, shape: v.dims.slice() }); }
  if (rw.redirect?.size) {
    for (const n of g.nodes) n.inputs = n.inputs.map((i) => rw.redirect!.get(i) ?? i);
  }
  // Added nodes may read values produced later in the list: keep a valid order.
  topoOrder(g);
}

/** Stable topological order (Kahn, preserving the current order among ready nodes). */
export function topoOrder(g: Graph): void {
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const done = new Set<Node>();
  const out: Node[] = [];
  const visit = (n: Node, stack: Set<Node>) => {
    if (done.has(n)) return;
    if (stack.has(n)) throw new Error(`rewrite created a cycle at ${n.name}`);
    stack.add(n);
    for (const i of n.inputs) { const p = i ? producer.get(i) : undefined; if (p) visit(p, stack); }
    stack.delete(n);
    done.add(n);
    out.push(n);
  };
  for (const n of g.nodes) visit(n, new Set());
  g.nodes = out;
}

/** Drops initializers and types nobody reads any more. */
export function pruneInitializers(g: Graph): void {
  const used = new Set<string>([...g.outputs.map((o) => o.name), ...g.inputs.map((i) => i.name)]);
  for (const n of g.nodes) for (const i of n.inputs) if (i) used.add(i);
  for (const k of [...g.initializers.keys()]) if (!used.has(k)) g.initializers.delete(k);
}
