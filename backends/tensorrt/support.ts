/** Whether TensorRT takes a node (its mapper accepts it), and why not: what the partitioner asks. */
import type { Graph, Node } from '../../src/ir/graph.js';
import { trtSupportReport } from './serialize.js';

export type Support = { ok: true } | { ok: false; reason: string };

export function trtSupports(g: Graph, n: Node): Support {
  const r = trtSupportReport(g, [n])[0]!;
  return r.ok ? { ok: true } : { ok: false, reason: r.reason ?? 'not mapped' };
}
