/**
 * Constant folding: a node whose inputs are all constants is evaluated once and its outputs
 * become initializers (`f(const...) -> const`). Shape and Size of a statically known shape fold
 * too (`Shape(x: [1,3,224,224]) -> [1,3,224,224]`), so the shape arithmetic after them folds in turn.
 * Leaves alone: nodes that produce graph outputs, nodes without inputs other than Constant, and
 * folds that would grow the model (output larger than 1M elements and larger than its inputs).
 */
import type { Node, ValueType } from '../ir/graph.js';
import type { HostTensor } from '../ir/tensor.js';
import { isStatic } from '../ir/schema.js';
import { propagateFromShape, type Evaluate } from '../ir/infer.js';
import type { Rule } from './rules.js';

const MAX_GROWTH_ELEMENTS = 1 << 20;

export function constantFoldingRule(evaluate: Evaluate): Rule {
  return {
    name: 'constant-folding',
    match(node, view) {
      if (node.domain !== '' || node.outputs.some((o) => o && view.isGraphOutput(o))) return undefined;
      if (node.opType === 'Shape' || node.opType === 'Size') {
        const v = propagateFromShape(node, view.type(node.inputs[0] ?? ''));
        return v ? { remove: [node], initializers: new Map([[node.outputs[0]!, v]]) } : undefined;
      }
      if (node.inputs.length === 0 && node.opType !== 'Constant') return undefined;
      const inputs = node.inputs.map((i) => (i ? view.constant(i) : undefined));
      if (node.inputs.some((i, k) => i && !inputs[k])) return undefined;
      const types = node.outputs.map((o) => view.type(o));
      if (types.some((t) => !t || !isStatic(t.shape))) return undefined;
      const inSize = inputs.reduce((a, t) => a + (t?.size ?? 0), 0);
      const outSize = (types as ValueType[]).reduce((a, t) => a + (t.shape as number[]).reduce((x, y) => x * y, 1), 0);
      if (outSize > MAX_GROWTH_ELEMENTS && outSize > inSize) return undefined;
      let outs: (HostTensor | undefined)[];
      try { outs = evaluate(node, inputs, types as ValueType[]); } catch { return undefined; }
      const inits = new Map<string, HostTensor>();
      node.outputs.forEach((o, k) => { if (o && outs[k]) inits.set(o, outs[k]!); });
      return { remove: [node], initializers: inits };
    },
  };
}
