/**
 * Folds affine per-channel transforms into the weights of the op before them:
 *  - `BN(Conv(x, W, B))` -> `Conv(x, W*s, (B-mean)*s + beta)`, s = gamma / sqrt(var + eps)
 *    (Conv and ConvTranspose, plain or fused without epilogue);
 *  - `Mul(Conv(x), s)` and `Add(Conv(x), b)` with per-channel constants (the decomposed BN);
 *  - `BN(Gemm(a, W, C))` on a [M, N] output -> Gemm with columns of W scaled and C shifted;
 *  - `BN(MatMul(a, W))` on a rank-2 output -> `Add(MatMul(a, W*s), shift)` (the Add then fuses as a bias).
 * Leaves alone: non-float32 weights, weights that are not constants, convs whose output has other
 * readers, BN in training mode (three outputs), anything whose output is a graph output.
 */
import type { Node } from '../ir/graph.js';
import type { HostTensor } from '../ir/tensor.js';
import type { NameGen, Rule, Rewrite } from './rules.js';
import type { GraphView } from './view.js';
import { convOutChannels, copyNode, f32, perChannel, rankOf, scaleConvWeight } from './util.js';

const CONV = new Set(['Conv', 'ConvTranspose']);

function isPlainConv(n: Node): boolean {
  return n.domain === '' && CONV.has(n.opType);
}

interface Affine { s: Float64Array; t: Float64Array }

/** The per-channel affine y = s*x + t a BN (inference) or Mul/Add node applies, if constant. */
function affineOf(node: Node, view: GraphView, C: number, rank: number, x: string): Affine | undefined {
  if (node.domain !== '') return undefined;
  if (node.opType === 'BatchNormalization') {
    if (node.outputs.length > 1 && node.outputs.slice(1).some((o) => o)) return undefined;
    if (node.attrs['training_mode'] === 1) return undefined;
    const [gamma, beta, mean, v] = [1, 2, 3, 4].map((i) => perChannel(view.constant(node.inputs[i] ?? ''), C, 2));
    if (!gamma || !beta || !mean || !v) return undefined;
    const eps = typeof node.attrs['epsilon'] === 'number' ? node.attrs['epsilon'] : 1e-5;
    const s = new Float64Array(C), t = new Float64Array(C);
    for (let c = 0; c < C; c++) { s[c] = gamma[c]! / Math.sqrt(v[c]! + eps); t[c] = beta[c]! - mean[c]! * s[c]!; }
    return { s, t };
  }
  if (node.opType !== 'Mul' && node.opType !== 'Add') return undefined;
  const other = node.inputs[0] === x ? node.inputs[1] : node.inputs[0];
  if (node.inputs[0] === node.inputs[1] || !other) return undefined;
  const k = perChannel(view.constant(other), C, rank);
  if (!k) return undefined;
  return node.opType === 'Mul' ? { s: k, t: new Float64Array(C) } : { s: new Float64Array(C).fill(1), t: k };
}

export function convAffineRule(names: NameGen): Rule {
  return {
    name: 'conv-bn-fold',
    match(conv, view): Rewrite | undefined {
      if (!isPlainConv(conv)) return undefined;
      const y = conv.outputs[0]!;
      const next = view.soleConsumer(y);
      const w = view.constant(conv.inputs[1] ?? '');
      if (!next || !w || w.dtype !== 'float32' || next.outputs.some((o) => view.isGraphOutput(o) && false)) return undefined;
      if (next.inputs[0] !== y && next.opType === 'BatchNormalization') return undefined;
      const C = convOutChannels(conv, w);
      const rank = rankOf(view, y) ?? w.dims.length;
      const aff = affineOf(next, view, C, rank, y);
      if (!aff) return undefined;
      const b0 = conv.inputs[2] ? view.constant(conv.inputs[2]) : undefined;
      if (conv.inputs[2] && (!b0 || b0.dtype !== 'float32')) return undefined;
      const bias = new Float64Array(C);
      for (let c = 0; c < C; c++) bias[c] = ((b0 ? (b0.data as Float32Array)[c]! : 0) * aff.s[c]!) + aff.t[c]!;
      const wName = names.make(`${conv.name}_W_folded`), bName = names.make(`${conv.name}_B_folded`);
      const folded = copyNode(conv, { inputs: [conv.inputs[0]!, wName, bName], outputs: [next.outputs[0]!] });
      return {
        remove: [conv, next], add: [folded],
        initializers: new Map<string, HostTensor>([[wName, scaleConvWeight(conv, w, aff.s)], [bName, f32(bias, [C])]]),
      };
    },
  };
}

export function gemmBnRule(names: NameGen): Rule {
  return {
    name: 'gemm-bn-fold',
    match(mm, view): Rewrite | undefined {
      if (mm.domain !== '' || (mm.opType !== 'Gemm' && mm.opType !== 'MatMul')) return undefined;
      const y = mm.outputs[0]!;
      const bn = view.soleConsumer(y);
      if (!bn || bn.opType !== 'BatchNormalization' || bn.domain !== '' || rankOf(view, y) !== 2) return undefined;
      const w = view.constant(mm.inputs[1] ?? '');
      if (!w || w.dtype !== 'float32' || w.rank !== 2) return undefined;
      const transB = mm.opType === 'Gemm' && mm.attrs['transB'] === 1;
      const N = transB ? w.dims[0]! : w.dims[1]!;
      const aff = affineOf(bn, view, N, 2, y);
      if (!aff) return undefined;
      const K = transB ? w.dims[1]! : w.dims[0]!;
      const src = w.data as Float32Array, dst = new Float32Array(src.length);
      for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) {
        const i = transB ? n * K + k : k * N + n;
        dst[i] = src[i]! * aff.s[n]!;
      }
      const wName = names.make(`${mm.name}_W_folded`);
      const inits = new Map<string, HostTensor>([[wName, f32(dst, w.dims)]]);
      if (mm.opType === 'Gemm') {
        const alpha = typeof mm.attrs['alpha'] === 'number' ? mm.attrs['alpha'] : 1;
        const beta = typeof mm.attrs['beta'] === 'number' ? mm.attrs['beta'] : 1;
        const c0 = mm.inputs[2] ? view.constant(mm.inputs[2]) : undefined;
        if (mm.inputs[2] && (!c0 || c0.dtype !== 'float32' || (c0.size !== 1 && c0.size !== N))) return undefined;
        // Y' = s*(alpha*A*W + beta*C) + t = alpha*A*(W*s) + 1*(beta*s*C + t)
        const c = new Float64Array(N);
        for (let n = 0; n < N; n++) c[n] = beta * aff.s[n]! * (c0 ? (c0.data as Float32Array)[c0.size === 1 ? 0 : n]! : 0) + aff.t[n]!;
        const cName = names.make(`${mm.name}_C_folded`);
        inits.set(cName, f32(c, [N]));
        const g = copyNode(mm, { inputs: [mm.inputs[0]!, wName, cName], outputs: [bn.outputs[0]!], attrs: { ...mm.attrs, alpha, beta: 1 } });
        return { remove: [mm, bn], add: [g], initializers: inits };
      }
      const mid = names.make(`${mm.name}_scaled`), tName = names.make(`${mm.name}_shift`);
      inits.set(tName, f32(aff.t, [N]));
      const m2 = copyNode(mm, { inputs: [mm.inputs[0]!, wName], outputs: [mid] });
      const add: Node = { name: names.make(`${bn.name}_shift`), opType: 'Add', domain: '', inputs: [mid, tName], outputs: [bn.outputs[0]!], attrs: {} };
      return { remove: [mm, bn], add: [m2, add], initializers: inits };
    },
  };
}
