/**
 * Removes nodes that compute nothing at inference time, redirecting readers to their input:
 * `Identity(x) -> x`, `Dropout(x) -> x` (no training_mode, mask unused), `Reshape(x) -> x` and
 * `Cast(x) -> x` when shape / dtype already match, `Transpose(x, perm=identity) -> x`; and dead
 * nodes (no output read and none a graph output). Leaves alone a no-op whose output is a graph
 * output (the name must survive).
 */
import { isStatic } from '../ir/schema.js';
import type { Node } from '../ir/graph.js';
import type { Rule } from './rules.js';
import type { GraphView } from './view.js';

function sameStaticShape(view: GraphView, a: string, b: string): boolean {
  const ta = view.type(a), tb = view.type(b);
  return !!ta && !!tb && isStatic(ta.shape) && isStatic(tb.shape) && ta.shape.length === tb.shape.length && ta.shape.every((d, i) => d === tb.shape![i]);
}

function isNoop(node: Node, view: GraphView): boolean {
  if (node.domain !== '') return false;
  const x = node.inputs[0] ?? '', y = node.outputs[0] ?? '';
  switch (node.opType) {
    case 'Identity': return true;
    case 'Dropout': {
      const training = node.inputs[2] ? view.scalar(node.inputs[2]) : 0;
      return training === 0 && (!node.outputs[1] || view.consumers(node.outputs[1]).length === 0 && !view.isGraphOutput(node.outputs[1]));
    }
    case 'Reshape': case 'Squeeze': case 'Unsqueeze': case 'Flatten': return sameStaticShape(view, x, y);
    case 'Cast': return view.type(x)?.dtype === view.type(y)?.dtype && view.type(x) !== undefined;
    case 'Transpose': {
      const perm = node.attrs['perm'];
      return Array.isArray(perm) && (perm as number[]).every((p, i) => p === i);
    }
    default: return false;
  }
}

export const removeNoopsRule: Rule = {
  name: 'remove-noops',
  match(node, view) {
    const x = node.inputs[0], y = node.outputs[0];
    if (!x || !y || view.isGraphOutput(y) || !isNoop(node, view)) return undefined;
    return { remove: [node], redirect: new Map([[y, x]]) };
  },
};

export const deadCodeRule: Rule = {
  name: 'dead-code',
  match(node, view) {
    const live = node.outputs.some((o) => o && (view.consumers(o).length > 0 || view.isGraphOutput(o)));
    return live ? undefined : { remove: [node] };
  },
};
