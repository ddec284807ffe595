/**
 * A read-only index over a graph for pattern matching: who produces a value, who consumes it,
 * which values are constants, their inferred types.
 */
import type { Graph, Node, ValueType } from '../ir/graph.js';
import type { HostTensor } from '../ir/tensor.js';

export class GraphView {
  readonly graph: Graph;
  private readonly producers = new Map<string, Node>();
  private readonly consumerMap = new Map<string, Node[]>();
  private readonly outputs: Set<string>;

  constructor(graph: Graph) {
    this.graph = graph;
    for (const n of graph.nodes) {
      for (const o of n.outputs) if (o) this.producers.set(o, n);
      for (const i of new Set(n.inputs)) {
        if (!i) continue;
        const list = this.consumerMap.get(i);
        if (list) list.push(n); else this.consumerMap.set(i, [n]);
      }
    }
    this.outputs = new Set(graph.outputs.map((o) => o.name));
  }

  producer(value: string): Node | undefined { return this.producers.get(value); }
  consumers(value: string): readonly Node[] { return this.consumerMap.get(value) ?? []; }
  /** The value's constant data when it is an initializer. */
  constant(value: string): HostTensor | undefined { return value ? this.graph.initializers.get(value) : undefined; }
  type(value: string): ValueType | undefined { return this.graph.types.get(value); }
  isGraphOutput(value: string): boolean { return this.outputs.has(value); }
  isGraphInput(value: string): boolean { return this.graph.inputs.some((i) => i.name === value); }

  /** The single consumer of `value`, when it has exactly one and is not a graph output. */
  soleConsumer(value: string): Node | undefined {
    const c = this.consumers(value);
    return c.length === 1 && !this.isGraphOutput(value) ? c[0] : undefined;
  }

  /** Scalar (or single-element) constant value, if `value` is one. */
  scalar(value: string): number | undefined {
    const t = this.constant(value);
    return t && t.size === 1 && t.dtype !== 'string' ? t.num(0) : undefined;
  }
}
