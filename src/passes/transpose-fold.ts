/**
 * Transpose folding:
 *   Transpose(Transpose(x, p), q)             -> Transpose(x, p∘q)   (removed when the composite is identity)
 *   MatMul(Transpose(a, swap last two), b)    -> FusedMatMul(a, b, transA=1)   (same for b, transB)
 * Leaves alone: inner Transposes read by anything else, perms other than a swap of the last two axes
 * for the MatMul fold.
 */
import type { Node } from '../ir/graph.js';
import type { NameGen, Rule, Rewrite } from './rules.js';
import { copyNode } from './util.js';

const permOf = (n: Node): number[] | undefined => (Array.isArray(n.attrs['perm']) ? (n.attrs['perm'] as number[]) : undefined);

export const transposeChainRule: Rule = {
  name: 'transpose-chain',
  match(outer, view): Rewrite | undefined {
    if (outer.domain !== '' || outer.opType !== 'Transpose') return undefined;
    const inner = view.producer(outer.inputs[0]!);
    if (!inner || inner.domain !== '' || inner.opType !== 'Transpose' || view.soleConsumer(inner.outputs[0]!) !== outer) return undefined;
    const p = permOf(inner), q = permOf(outer);
    if (!p || !q || p.length !== q.length) return undefined;
    const composed = q.map((i) => p[i]!); // out[k] = in[p[q[k]]]
    const y = outer.outputs[0]!;
    if (composed.every((v, i) => v === i)) {
      if (view.isGraphOutput(y)) return undefined;
      return { remove: [inner, outer], redirect: new Map([[y, inner.inputs[0]!]]) };
    }
    return { remove: [inner, outer], add: [copyNode(outer, { inputs: [inner.inputs[0]!], attrs: { perm: composed } })] };
  },
};

function isLastSwap(n: Node | undefined, rank: number | undefined): boolean {
  if (!n || n.domain !== '' || n.opType !== 'Transpose' || rank === undefined || rank < 2) return false;
  const p = permOf(n);
  return !!p && p.length === rank && p.every((v, i) => (i < rank - 2 ? v === i : i === rank - 2 ? v === rank - 1 : v === rank - 2));
}

export function transposeMatMulRule(_names: NameGen): Rule {
  return {
    name: 'transpose-into-matmul',
    match(mm, view): Rewrite | undefined {
      const plain = mm.domain === '' && mm.opType === 'MatMul';
      const fused = mm.domain === 'twinfer' && mm.opType === 'FusedMatMul';
      if (!plain && !fused) return undefined;
      for (const k of [0, 1]) {
        const v = mm.inputs[k]!;
        const t = view.producer(v);
        const flag = k === 0 ? 'transA' : 'transB';
        if (mm.attrs[flag] === 1 || !isLastSwap(t, view.type(v)?.shape?.length) || view.soleConsumer(v) !== mm) continue;
        const inputs = mm.inputs.slice();
        inputs[k] = t!.inputs[0]!;
        const f = copyNode(mm, { opType: 'FusedMatMul', domain: 'twinfer', inputs, attrs: { ...mm.attrs, [flag]: 1 } });
        return { remove: [t!, mm], add: [f] };
      }
      return undefined;
    },
  };
}
