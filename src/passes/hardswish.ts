/**
 * Recognizes HardSwish as Paddle and others export it: x * Clip(x + 3, 0, 6) / 6 -> HardSwish(x)
 * (the /6 may be Mul by 1/6, and may come before the product: x * (Clip(x+3, 0, 6) / 6)).
 * Leaves alone: other constants, intermediates read elsewhere.
 */
import type { Node } from '../ir/graph.js';
import type { NameGen, Rule, Rewrite } from './rules.js';
import { next, near, otherInput, scalarOther } from './match.js';
import type { GraphView } from './view.js';

function isDiv6(n: Node | undefined, v: string, view: GraphView): boolean {
  if (!n) return false;
  if (n.opType === 'Div') return n.inputs[0] === v && near(view.scalar(n.inputs[1] ?? ''), 6);
  return n.opType === 'Mul' && near(scalarOther(view, n, v), 1 / 6);
}

export function hardSwishRule(names: NameGen): Rule {
  return {
    name: 'hardswish',
    match(add, view): Rewrite | undefined {
      if (add.domain !== '' || add.opType !== 'Add') return undefined;
      const x = add.inputs.find((i) => view.scalar(i) === undefined);
      if (!x || !near(scalarOther(view, add, x), 3)) return undefined;
      const clip = next(view, add.outputs[0]!, 'Clip');
      if (!clip || view.scalar(clip.inputs[1] ?? '') !== 0 || view.scalar(clip.inputs[2] ?? '') !== 6) return undefined;
      const c = clip.outputs[0]!;
      let nodes: Node[] | undefined, y: string | undefined;
      const r = view.soleConsumer(c);
      if (r && r.opType === 'Mul' && otherInput(r, c) === x) {
        const d = view.soleConsumer(r.outputs[0]!);
        if (d && isDiv6(d, r.outputs[0]!, view)) { nodes = [add, clip, r, d]; y = d.outputs[0]!; }
      } else if (r && isDiv6(r, c, view)) {
        const m = next(view, r.outputs[0]!, 'Mul');
        if (m && otherInput(m, r.outputs[0]!) === x) { nodes = [add, clip, r, m]; y = m.outputs[0]!; }
      }
      if (!nodes || !y || nodes.slice(0, -1).some((n) => n.outputs.some((o) => view.isGraphOutput(o)))) return undefined;
      return { remove: nodes, add: [{ name: names.make(`${add.name}_HardSwish`), opType: 'HardSwish', domain: '', inputs: [x], outputs: [y], attrs: {} }] };
    },
  };
}
