/** Matching helpers for pattern rules: "the sole reader of v is an X", constants near a value. */
import type { Node } from '../ir/graph.js';
import type { GraphView } from './view.js';

/** The sole reader of `v` when it is `opType` in the default domain. */
export function next(view: GraphView, v: string, opType: string): Node | undefined {
  const n = view.soleConsumer(v);
  return n && n.domain === '' && n.opType === opType ? n : undefined;
}

/** The producer of `v` when it is `opType` in the default domain and `v` has no other reader. */
export function prev(view: GraphView, v: string, opType: string): Node | undefined {
  const p = view.producer(v);
  return p && p.domain === '' && p.opType === opType && view.soleConsumer(v) ? p : undefined;
}

/** For a binary node with `v` as one input, the other input. */
export function otherInput(n: Node, v: string): string | undefined {
  if (n.inputs.length !== 2 || n.inputs[0] === n.inputs[1]) return undefined;
  return n.inputs[0] === v ? n.inputs[1] : n.inputs[1] === v ? n.inputs[0] : undefined;
}

/** The scalar constant on the other side of a binary node from `v`. */
export function scalarOther(view: GraphView, n: Node, v: string): number | undefined {
  const o = otherInput(n, v);
  return o === undefined ? undefined : view.scalar(o);
}

export const near = (a: number | undefined, b: number, rel = 1e-4): boolean => a !== undefined && Math.abs(a - b) <= rel * Math.abs(b);
