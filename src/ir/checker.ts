/**
 * Validates a graph's structure before anything is built: every value defined exactly once,
 * every input defined, no cycles (nodes are returned in topological order), every op known
 * with a legal number of inputs and outputs. Run after import and, in tests, after every pass.
 */
import type { Graph, Node } from './graph.js';
import { findSchema } from './ops/index.js';
import { TwinferError } from '../errors.js';

export interface CheckOptions {
  /** Report unsupported ops as errors (default true); inspect turns this off to list them. */
  requireSupported?: boolean;
}

/** Checks `g` and sorts its nodes topologically in place. Throws TwinferError on the first problem. */
export function checkGraph(g: Graph, opts: CheckOptions = {}): void {
  const producer = new Map<string, Node | 'input' | 'initializer'>();
  for (const name of g.initializers.keys()) producer.set(name, 'initializer');
  for (const i of g.inputs) {
    if (producer.has(i.name) && producer.get(i.name) !== 'initializer') throw new TwinferError('INVALID_MODEL', `graph input '${i.name}' is declared twice`);
    producer.set(i.name, producer.get(i.name) ?? 'input');
  }
  for (const n of g.nodes) {
    for (const o of n.outputs) {
      if (!o) continue;
      if (producer.has(o)) throw new TwinferError('INVALID_MODEL', `value '${o}' is produced more than once`, { node: n.name, opType: n.opType });
      producer.set(o, n);
    }
  }
  for (const n of g.nodes) {
    for (const i of n.inputs) {
      if (i && !producer.has(i)) throw new TwinferError('INVALID_MODEL', `input '${i}' is not defined by any node, initializer or graph input`, { node: n.name, opType: n.opType });
    }
  }
  for (const o of g.outputs) {
    if (!producer.has(o.name)) throw new TwinferError('INVALID_MODEL', `graph output '${o.name}' is not defined`);
  }
  if (opts.requireSupported !== false) {
    for (const n of g.nodes) {
      const s = findSchema(n.domain, n.opType);
      if (!s) throw new TwinferError('UNSUPPORTED_OP', `op ${n.domain ? n.domain + '.' : ''}${n.opType} is not supported by twinfer`, { node: n.name, opType: n.opType });
      const nin = n.inputs.length, nout = n.outputs.length;
      if (nin < s.inputs[0] || nin > s.inputs[1]) throw new TwinferError('INVALID_MODEL', `${nin} inputs given, ${n.opType} takes ${s.inputs[0]}..${s.inputs[1]}`, { node: n.name, opType: n.opType });
      if (nout < s.outputs[0] || nout > s.outputs[1]) throw new TwinferError('INVALID_MODEL', `${nout} outputs given, ${n.opType} takes ${s.outputs[0]}..${s.outputs[1]}`, { node: n.name, opType: n.opType });
    }
  }
  g.nodes = topoSort(g, producer);
}

function topoSort(g: Graph, producer: Map<string, Node | 'input' | 'initializer'>): Node[] {
  const pending = new Map<Node, number>();
  const consumers = new Map<Node, Node[]>();
  for (const n of g.nodes) {
    let deps = 0;
    for (const i of new Set(n.inputs)) {
      const p = i ? producer.get(i) : undefined;
      if (p && typeof p !== 'string') {
        deps++;
        const list = consumers.get(p) ?? [];
        list.push(n);
        consumers.set(p, list);
      }
    }
    pending.set(n, deps);
  }
  const ready = g.nodes.filter((n) => pending.get(n) === 0);
  const order: Node[] = [];
  for (let k = 0; k < ready.length; k++) {
    const n = ready[k]!;
    order.push(n);
    for (const c of consumers.get(n) ?? []) {
      const left = pending.get(c)! - 1;
      pending.set(c, left);
      if (left === 0) ready.push(c);
    }
  }
  if (order.length !== g.nodes.length) {
    const stuck = g.nodes.find((n) => pending.get(n)! > 0)!;
    throw new TwinferError('INVALID_MODEL', 'graph has a cycle', { node: stuck.name, opType: stuck.opType });
  }
  return order;
}
