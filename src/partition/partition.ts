/**
 * Partitioning, the Paddle-TRT subgraph idea for every backend: each backend says per node whether it
 * can run it (and why not); connected islands of supported nodes with at least `minSubgraphSize`
 * nodes go to that backend; everything else is offered to the next backend in the preference list.
 * The last backend takes whatever is left that it supports; nodes nobody supports are reported.
 */
import type { Graph, Node } from '../ir/graph.js';

export type Support = { ok: true } | { ok: false; reason: string };

export interface PartitionBackend {
  name: string;
  supports(node: Node): Support;
}

export interface Partition {
  /** Backend name per node. */
  assignment: Map<Node, string>;
  /** Islands in the order found: backend and node count. */
  islands: { backend: string; nodes: number }[];
  /** Nodes no backend in the list supports, with the first backend's reason. */
  unassigned: { node: Node; reason: string }[];
  /** Per op type: nodes that did not run on the first backend, and the first reason seen. */
  fallbacks: Map<string, { nodes: number; reason: string }>;
}

export function partition(g: Graph, backends: readonly PartitionBackend[], minSubgraphSize: number): Partition {
  const assignment = new Map<Node, string>();
  const islands: Partition['islands'] = [];
  const firstReason = new Map<Node, string>();
  let remaining = g.nodes.slice();
  backends.forEach((b, bi) => {
    const last = bi === backends.length - 1;
    const ok = new Set<Node>();
    for (const n of remaining) {
      const s = b.supports(n);
      if (s.ok) ok.add(n);
      else if (!firstReason.has(n)) firstReason.set(n, s.reason);
    }
    for (const comp of components(g, ok)) {
      if (comp.length >= minSubgraphSize || last) {
        for (const n of comp) assignment.set(n, b.name);
        islands.push({ backend: b.name, nodes: comp.length });
      } else if (!firstReason.has(comp[0]!)) {
        for (const n of comp) firstReason.set(n, `island of ${comp.length} node(s) is smaller than minSubgraphSize ${minSubgraphSize}`);
      }
    }
    remaining = remaining.filter((n) => !assignment.has(n));
  });
  const fallbacks = new Map<string, { nodes: number; reason: string }>();
  const first = backends[0]?.name;
  for (const n of g.nodes) {
    if (assignment.get(n) === first) continue;
    const key = n.domain ? `${n.domain}.${n.opType}` : n.opType;
    const f = fallbacks.get(key);
    const reason = firstReason.get(n) ?? `island too small for ${first}`;
    fallbacks.set(key, { nodes: (f?.nodes ?? 0) + 1, reason: f?.reason ?? reason });
  }
  const unassigned = remaining.map((node) => ({ node, reason: firstReason.get(node) ?? 'unsupported' }));
  return { assignment, islands, unassigned, fallbacks };
}

/** Connected components of `nodes`, linked where one reads a value the other produces. */
function components(g: Graph, nodes: Set<Node>): Node[][] {
  const parent = new Map<Node, Node>();
  const find = (n: Node): Node => { let r = n; while (parent.get(r) !== r) r = parent.get(r)!; parent.set(n, r); return r; };
  for (const n of nodes) parent.set(n, n);
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o && nodes.has(n)) producer.set(o, n);
  for (const n of nodes) {
    for (const i of n.inputs) {
      const p = i ? producer.get(i) : undefined;
      if (p) parent.set(find(p), find(n));
    }
  }
  const groups = new Map<Node, Node[]>();
  for (const n of g.nodes) {
    if (!nodes.has(n)) continue;
    const r = find(n);
    const list = groups.get(r);
    if (list) list.push(n); else groups.set(r, [n]);
  }
  return [...groups.values()];
}
