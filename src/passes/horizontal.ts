/**
 * Horizontal fusion: sibling nodes that read the same input with constant weights become one wider
 * node whose readers take slices through a Split:
 *   MatMul(x, W1) .. MatMul(x, Wk)      -> Split(MatMul(x, [W1 .. Wk]), last axis)
 *   (also FusedMatMul with biases and the same activation, Gemm with the same alpha/beta/trans,
 *    and 1x1 Conv / FusedConv with the same strides, pads and activation -> split on channels)
 * Leaves alone: siblings with residual inputs, different epilogues or attributes, non-float32 or
 * non-constant weights, groups of one.
 */
import type { Node } from '../ir/graph.js';
import { HostTensor } from '../ir/tensor.js';
import type { NameGen, Rule, Rewrite } from './rules.js';
import type { GraphView } from './view.js';

type Kind = 'matmul' | 'gemm' | 'conv';

function kindOf(n: Node, view: GraphView): Kind | undefined {
  const w = view.constant(n.inputs[1] ?? '');
  if (!w || w.dtype !== 'float32' || n.inputs[3]) return undefined;
  const bias = n.inputs[2] ? view.constant(n.inputs[2]) : undefined;
  if (n.inputs[2] && (!bias || bias.dtype !== 'float32')) return undefined;
  const op = n.domain === 'twinfer' ? n.opType.replace(/^Fused/, '') : n.domain === '' ? n.opType : '';
  if (op === 'MatMul' && w.rank === 2 && n.attrs['transB'] !== 1 && (!bias || bias.size === w.dims[1])) return 'matmul';
  if (op === 'Gemm' && w.rank === 2 && (!bias || bias.rank === 1)) return 'gemm';
  if (op === 'Conv' && w.rank === 4 && w.dims[2] === 1 && w.dims[3] === 1 && (n.attrs['group'] ?? 1) === 1) return 'conv';
  return undefined;
}

/** Attributes that must agree for siblings to merge (everything but names, weights, outputs). */
function signature(n: Node, kind: Kind): string {
  const base = n.opType.replace(/^Fused/, '');
  return JSON.stringify([kind, base, Object.entries(n.attrs).sort(([a], [b]) => a.localeCompare(b))]);
}

/** Output columns (channels) of a sibling. */
function width(n: Node, kind: Kind, view: GraphView): number {
  const w = view.constant(n.inputs[1]!)!;
  if (kind === 'conv') return w.dims[0]!;
  if (kind === 'gemm' && n.attrs['transB'] === 1) return w.dims[0]!;
  return w.dims[1]!;
}

function concatWeights(ws: HostTensor[], axis: 0 | 1): HostTensor {
  if (axis === 0) {
    const dims = ws[0]!.dims.slice(); dims[0] = ws.reduce((a, w) => a + w.dims[0]!, 0);
    const out = new Float32Array(ws.reduce((a, w) => a + w.size, 0));
    let off = 0;
    for (const w of ws) { out.set(w.data as Float32Array, off); off += w.size; }
    return new HostTensor('float32', dims, out);
  }
  const K = ws[0]!.dims[0]!, N = ws.reduce((a, w) => a + w.dims[1]!, 0);
  const out = new Float32Array(K * N);
  let col = 0;
  for (const w of ws) {
    const n = w.dims[1]!, d = w.data as Float32Array;
    for (let k = 0; k < K; k++) out.set(d.subarray(k * n, (k + 1) * n), k * N + col);
    col += n;
  }
  return new HostTensor('float32', [K, N], out);
}

export function horizontalRule(names: NameGen): Rule {
  return {
    name: 'horizontal-fusion',
    match(first, view): Rewrite | undefined {
      const kind = kindOf(first, view);
      const x = first.inputs[0];
      if (!kind || !x) return undefined;
      const sig = signature(first, kind);
      const group = view.consumers(x).filter((n) => n.inputs[0] === x && kindOf(n, view) === kind && signature(n, kind) === sig && !n.outputs.some((o) => view.isGraphOutput(o)));
      if (group.length < 2 || group[0] !== first) return undefined;
      const ws = group.map((n) => view.constant(n.inputs[1]!)!);
      if (kind === 'matmul' || (kind === 'gemm' && first.attrs['transB'] !== 1)) {
        if (ws.some((w) => w.dims[0] !== ws[0]!.dims[0])) return undefined;
      } else if (ws.some((w) => w.dims.slice(1).join() !== ws[0]!.dims.slice(1).join())) return undefined;
      const widths = group.map((n) => width(n, kind, view));
      const total = widths.reduce((a, b) => a + b, 0);
      const wAll = concatWeights(ws, kind === 'conv' || (kind === 'gemm' && first.attrs['transB'] === 1) ? 0 : 1);
      const inits = new Map<string, HostTensor>();
      const wName = names.make(`${first.name}_hfused_W`);
      inits.set(wName, wAll);
      const inputs = [x, wName];
      if (group.some((n) => n.inputs[2])) {
        const b = new Float32Array(total);
        let off = 0;
        group.forEach((n, i) => {
          const t = n.inputs[2] ? view.constant(n.inputs[2])! : undefined;
          for (let j = 0; j < widths[i]!; j++) b[off + j] = t ? (t.data as Float32Array)[t.size === 1 ? 0 : j]! : 0;
          off += widths[i]!;
        });
        const bName = names.make(`${first.name}_hfused_B`);
        inits.set(bName, new HostTensor('float32', [total], b));
        inputs.push(bName);
      }
      const wide = names.make(`${first.name}_hfused_out`);
      const merged: Node = { ...first, name: names.make(`${first.name}_hfused`), inputs, outputs: [wide], attrs: { ...first.attrs } };
      const splitName = names.make(`${first.name}_hfused_split`);
      inits.set(splitName, HostTensor.fromNumbers('int64', [widths.length], widths));
      const rank = view.type(first.outputs[0]!)?.shape?.length;
      const split: Node = {
        name: names.make(`${first.name}_hfused_Split`), opType: 'Split', domain: '', inputs: [wide, splitName],
        outputs: group.map((n) => n.outputs[0]!), attrs: { axis: kind === 'conv' ? 1 : rank !== undefined ? rank - 1 : -1 },
      };
      return { remove: group, add: [merged, split], initializers: inits };
    },
  };
}
