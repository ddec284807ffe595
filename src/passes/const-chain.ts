/**
 * Merges chains of constant arithmetic: `(x * c1) * c2 -> x * (c1*c2)` and
 * `(x + c1) + c2 -> x + (c1+c2)` (constants combined once with the CPU kernels, broadcasting as the
 * ops would). Leaves alone: an inner result read elsewhere, non-float constants (integer overflow
 * rules differ), a combined constant that would broadcast x to a larger shape.
 */
import type { Node, ValueType } from '../ir/graph.js';
import type { Evaluate } from '../ir/infer.js';
import type { NameGen, Rule, Rewrite } from './rules.js';
import type { GraphView } from './view.js';
import { copyNode } from './util.js';

function constSide(n: Node, view: GraphView): { x: string; c: string } | undefined {
  if (n.domain !== '' || n.inputs.length !== 2) return undefined;
  const [a, b] = n.inputs as [string, string];
  if (view.constant(b) && !view.constant(a)) return { x: a, c: b };
  if (view.constant(a) && !view.constant(b)) return { x: b, c: a };
  return undefined;
}

export function constChainRule(names: NameGen, evaluate: Evaluate): Rule {
  return {
    name: 'const-chain',
    match(outer, view): Rewrite | undefined {
      if (outer.domain !== '' || (outer.opType !== 'Mul' && outer.opType !== 'Add')) return undefined;
      const o = constSide(outer, view);
      if (!o) return undefined;
      const inner = view.producer(o.x);
      if (!inner || inner.opType !== outer.opType || view.soleConsumer(o.x) !== outer) return undefined;
      const i = constSide(inner, view);
      if (!i) return undefined;
      const c1 = view.constant(i.c)!, c2 = view.constant(o.c)!;
      if (c1.dtype !== 'float32' || c2.dtype !== 'float32') return undefined;
      const tx = view.type(i.x), ty = view.type(outer.outputs[0]!);
      if (!tx?.shape || !ty?.shape || tx.shape.length !== ty.shape.length || tx.shape.some((d, k) => d !== ty.shape![k])) return undefined;
      let combined;
      try {
        const rank = Math.max(c1.rank, c2.rank);
        const dims = Array.from({ length: rank }, (_, k) => Math.max(c1.dims[k - (rank - c1.rank)] ?? 1, c2.dims[k - (rank - c2.rank)] ?? 1));
        const t: ValueType = { dtype: 'float32', shape: dims };
        combined = evaluate({ ...outer, inputs: ['a', 'b'], outputs: ['y'] }, [c1, c2], [t])[0];
      } catch { return undefined; }
      if (!combined) return undefined;
      const cName = names.make(`${outer.name}_merged`);
      return { remove: [inner, outer], add: [copyNode(outer, { inputs: [i.x, cName] })], initializers: new Map([[cName, combined]]) };
    },
  };
}
