/**
 * Recognizes LayerNormalization as exporters decompose it:
 *   m = ReduceMean(x, trailing axes); d = x - m; v = ReduceMean(d^2); y = d / sqrt(v + eps) [* g] [+ b]
 *   -> LayerNormalization(x, g, b, axis = first reduced axis, epsilon = eps)
 * d^2 may be Pow(d, 2) or Mul(d, d). Leaves alone: axes that are not the trailing ones, gamma/beta
 * that are not constants of the normalized shape, intermediates read by anything else.
 */
import type { Node } from '../ir/graph.js';
import { HostTensor } from '../ir/tensor.js';
import type { NameGen, Rule, Rewrite } from './rules.js';
import type { GraphView } from './view.js';
import { next, otherInput } from './match.js';

function reducedAxes(n: Node, view: GraphView, rank: number): number[] | undefined {
  if (n.domain !== '' || n.opType !== 'ReduceMean' || n.attrs['keepdims'] === 0) return undefined;
  const axes = n.inputs[1] ? view.constant(n.inputs[1])?.toNumberArray() : undefined;
  if (!axes || axes.length === 0) return undefined;
  const norm = axes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
  return norm.every((a, i) => a === rank - norm.length + i) ? norm : undefined;
}

export function layerNormRule(names: NameGen): Rule {
  return {
    name: 'layernorm',
    match(mean, view): Rewrite | undefined {
      const x = mean.inputs[0] ?? '';
      const rank = view.type(x)?.shape?.length;
      if (rank === undefined || view.type(x)?.dtype !== 'float32') return undefined;
      const axes = reducedAxes(mean, view, rank);
      if (!axes) return undefined;
      const sub = next(view, mean.outputs[0]!, 'Sub');
      if (!sub || sub.inputs[0] !== x || sub.inputs[1] !== mean.outputs[0]) return undefined;
      const d = sub.outputs[0]!;
      const dReaders = view.consumers(d);
      if (dReaders.length !== 2 || view.isGraphOutput(d)) return undefined;
      const sq = dReaders.find((n) => (n.opType === 'Pow' && n.inputs[0] === d && view.scalar(n.inputs[1] ?? '') === 2) || (n.opType === 'Mul' && n.inputs[0] === d && n.inputs[1] === d));
      const div = dReaders.find((n) => n.opType === 'Div' && n.inputs[0] === d);
      if (!sq || !div || sq === div) return undefined;
      const mean2 = next(view, sq.outputs[0]!, 'ReduceMean');
      if (!mean2 || reducedAxes(mean2, view, rank)?.join() !== axes.join()) return undefined;
      const addEps = next(view, mean2.outputs[0]!, 'Add');
      const eps = addEps ? view.scalar(otherInput(addEps, mean2.outputs[0]!) ?? '') : undefined;
      if (!addEps || eps === undefined) return undefined;
      const sqrt = next(view, addEps.outputs[0]!, 'Sqrt');
      if (!sqrt || div.inputs[1] !== sqrt.outputs[0] || view.soleConsumer(sqrt.outputs[0]!) !== div) return undefined;
      const remove = [mean, sub, sq, mean2, addEps, sqrt, div];
      let y = div.outputs[0]!;
      const normShape = (view.type(x)!.shape ?? []).slice(rank - axes.length);
      if (normShape.some((s) => typeof s !== 'number')) return undefined;
      const size = (normShape as number[]).reduce((a, b) => a * b, 1);
      const vecOf = (n: Node, v: string) => {
        const c = view.constant(otherInput(n, v) ?? '');
        return c && c.dtype === 'float32' && c.size === size && c.dims.slice(-axes.length).join() === normShape.join() ? c : undefined;
      };
      let gamma: HostTensor | undefined, beta: HostTensor | undefined;
      const mul = next(view, y, 'Mul');
      if (mul && (gamma = vecOf(mul, y))) { remove.push(mul); y = mul.outputs[0]!; }
      const add = next(view, y, 'Add');
      if (add && (beta = vecOf(add, y))) { remove.push(add); y = add.outputs[0]!; }
      if (remove.slice(0, -1).some((n) => n.outputs.some((o) => view.isGraphOutput(o)))) return undefined;
      const inits = new Map<string, HostTensor>();
      const gName = names.make(`${mean.name}_ln_scale`);
      inits.set(gName, new HostTensor('float32', normShape as number[], gamma ? (gamma.data as Float32Array).slice() : new Float32Array(size).fill(1)));
      const inputs = [x, gName];
      if (beta) { const bName = names.make(`${mean.name}_ln_bias`); inits.set(bName, new HostTensor('float32', normShape as number[], (beta.data as Float32Array).slice())); inputs.push(bName); }
      const ln: Node = {
        name: names.make(`${mean.name}_LayerNorm`), opType: 'LayerNormalization', domain: '', inputs, outputs: [y],
        attrs: { axis: axes[0]!, epsilon: eps }, attrTypes: { axis: 'int', epsilon: 'float' },
      };
      return { remove, add: [ln], initializers: inits };
    },
  };
}

