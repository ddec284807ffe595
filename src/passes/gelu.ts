/**
 * Recognizes GELU as exporters decompose it:
 *   erf form:  0.5 * x * (1 + Erf(x / sqrt(2)))                          -> Gelu(x)
 *   tanh form: 0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))   -> Gelu(x, approximate=tanh)
 * x / sqrt(2) may be Mul(x, 1/sqrt(2)); the 0.5 may multiply x first or the product last; x^3 may be
 * Pow(x, 3) or x*x*x. Leaves alone: other constants, intermediates read elsewhere.
 */
import type { Node } from '../ir/graph.js';
import type { NameGen, Rule, Rewrite } from './rules.js';
import type { GraphView } from './view.js';
import { next, otherInput, near, scalarOther } from './match.js';

/** From `u` = 1 + f(x) onwards: matches 0.5*x*u in either association. Returns removed nodes and y. */
function outerProduct(view: GraphView, u: string, x: string): { nodes: Node[]; y: string } | undefined {
  const m = next(view, u, 'Mul');
  if (!m) return undefined;
  const o = otherInput(m, u);
  if (o === x) {
    const half = next(view, m.outputs[0]!, 'Mul');
    if (!half || !near(scalarOther(view, half, m.outputs[0]!), 0.5)) return undefined;
    return { nodes: [m, half], y: half.outputs[0]! };
  }
  const hx = o ? view.producer(o) : undefined;
  if (hx && hx.domain === '' && hx.opType === 'Mul' && otherInput(hx, x) !== undefined && near(scalarOther(view, hx, x), 0.5) && view.soleConsumer(o!) === m) {
    return { nodes: [hx, m], y: m.outputs[0]! };
  }
  return undefined;
}

function plusOne(view: GraphView, v: string): Node | undefined {
  const a = next(view, v, 'Add');
  return a && near(scalarOther(view, a, v), 1) ? a : undefined;
}

function erfForm(erf: Node, view: GraphView): { nodes: Node[]; x: string; y: string } | undefined {
  const scaled = view.producer(erf.inputs[0]!);
  if (!scaled || scaled.domain !== '' || view.soleConsumer(erf.inputs[0]!) !== erf) return undefined;
  const x = scaled.inputs[0]!;
  const k = view.scalar(scaled.inputs[1] ?? '');
  const ok = (scaled.opType === 'Div' && near(k, Math.SQRT2)) || (scaled.opType === 'Mul' && near(k, Math.SQRT1_2));
  if (!ok) return undefined;
  const add = plusOne(view, erf.outputs[0]!);
  if (!add) return undefined;
  const outer = outerProduct(view, add.outputs[0]!, x);
  return outer && { nodes: [scaled, erf, add, ...outer.nodes], x, y: outer.y };
}

function tanhForm(tanh: Node, view: GraphView): { nodes: Node[]; x: string; y: string } | undefined {
  const s = view.producer(tanh.inputs[0]!);
  if (!s || s.opType !== 'Mul' || view.soleConsumer(tanh.inputs[0]!) !== tanh) return undefined;
  const r = s.inputs.find((i) => view.scalar(i) === undefined);
  if (!r || !near(scalarOther(view, s, r), Math.sqrt(2 / Math.PI), 1e-3)) return undefined;
  const add = view.producer(r);
  if (!add || add.opType !== 'Add' || view.soleConsumer(r) !== s) return undefined;
  for (const x of add.inputs) {
    const q = otherInput(add, x);
    const qn = q ? view.producer(q) : undefined;
    if (!qn || qn.opType !== 'Mul' || view.soleConsumer(q!) !== add) continue;
    const p = qn.inputs.find((i) => view.scalar(i) === undefined);
    if (!p || !near(scalarOther(view, qn, p), 0.044715, 1e-3)) continue;
    const pn = view.producer(p);
    if (!pn || view.soleConsumer(p) !== qn) continue;
    const cube: Node[] = [];
    if (pn.opType === 'Pow' && pn.inputs[0] === x && view.scalar(pn.inputs[1] ?? '') === 3) cube.push(pn);
    else if (pn.opType === 'Mul') {
      const sqName = pn.inputs.find((i) => i !== x);
      const sq = sqName ? view.producer(sqName) : undefined;
      if (!sq || sq.opType !== 'Mul' || sq.inputs[0] !== x || sq.inputs[1] !== x || !pn.inputs.includes(x) || view.soleConsumer(sqName!) !== pn) continue;
      cube.push(sq, pn);
    } else continue;
    const one = plusOne(view, tanh.outputs[0]!);
    if (!one) return undefined;
    const outer = outerProduct(view, one.outputs[0]!, x);
    return outer && { nodes: [...cube, qn, add, s, tanh, one, ...outer.nodes], x, y: outer.y };
  }
  return undefined;
}

export function geluRule(names: NameGen): Rule {
  return {
    name: 'gelu',
    match(n, view): Rewrite | undefined {
      if (n.domain !== '' || (n.opType !== 'Erf' && n.opType !== 'Tanh')) return undefined;
      const m = n.opType === 'Erf' ? erfForm(n, view) : tanhForm(n, view);
      if (!m || m.nodes.slice(0, -1).some((k) => k.outputs.some((o) => view.isGraphOutput(o)))) return undefined;
      const gelu: Node = {
        name: names.make(`${n.name}_Gelu`), opType: 'Gelu', domain: '', inputs: [m.x], outputs: [m.y],
        attrs: n.opType === 'Tanh' ? { approximate: 'tanh' } : {},
      };
      return { remove: m.nodes, add: [gelu] };
    },
  };
}
