/**
 * Epilogue fusion: Conv / ConvTranspose / Gemm / MatMul absorb what follows them into one
 * `twinfer.Fused*` node (see src/ir/ops/fused.ts):
 *   op + Add(per-channel const)          -> op with bias            (Conv B, Gemm C, MatMul bias)
 *   op + act                              -> Fused(activation=act)   act in FUSABLE_ACTIVATIONS,
 *                                                                    SiLU as x*Sigmoid(x)
 *   Fused + Add(z) (z same shape, indep.) -> Fused(Z=z)             the residual
 *   Fused(Z) + act                        -> Fused(post_activation=act)
 *   Fused(act) + Mul/Add(scalar)          -> Fused(post_activation=Affine[s, t])  (y = s*x + t;
 *                                            consecutive scalar Mul/Add compose into one Affine)
 * The INT8 ops (twinfer.QConv / QGemm / QMatMul, inputs X, W, W_scale, B, Z) take the same
 * epilogues: their bias is input 3 and their residual input 4.
 * Leaves alone: outputs read by anything else (or graph outputs), non-constant weights for the
 * bias rules, Clip with non-constant bounds, residuals that broadcast or depend on the op itself.
 */
import type { Node } from '../ir/graph.js';
import type { HostTensor } from '../ir/tensor.js';
import type { NameGen, Rule, Rewrite } from './rules.js';
import type { GraphView } from './view.js';
import { convOutChannels, copyNode, f32, perChannel, perLastAxis, rankOf } from './util.js';
import { Q_BASE } from '../ir/ops/qfused.js';

const BASES: Record<string, string> = { Conv: 'FusedConv', ConvTranspose: 'FusedConvTranspose', Gemm: 'FusedGemm', MatMul: 'FusedMatMul' };
const FUSED = new Set(Object.values(BASES));

/** The anchor's kind ('Conv'...'MatMul') when it is a base op or a fused one. */
function kindOf(n: Node): string | undefined {
  if (n.domain === '' && n.opType in BASES) return n.opType;
  if (n.domain === 'twinfer' && FUSED.has(n.opType)) return n.opType.slice('Fused'.length);
  if (n.domain === 'twinfer' && n.opType in Q_BASE) return Q_BASE[n.opType];
  return undefined;
}

const isQ = (n: Node) => n.domain === 'twinfer' && n.opType in Q_BASE;
/** Bias input: Conv X,W,B | Gemm A,B,C | MatMul A,B,bias; Q ops X,W,W_scale,B. The residual Z follows it. */
const biasIndex = (n: Node) => (isQ(n) ? 3 : 2);
function zIndex(n: Node): number { return biasIndex(n) + 1; }

function toFused(n: Node): Node {
  if (n.domain === 'twinfer') return copyNode(n, {});
  const inputs = n.inputs.slice();
  while (inputs.length < 3) inputs.push('');
  return copyNode(n, { opType: BASES[n.opType]!, domain: 'twinfer', inputs });
}

const stage = (n: Node) => ({
  act: !!n.attrs['activation'],
  z: !!n.inputs[zIndex(n)],
  post: !!n.attrs['post_activation'],
});

/** Activation applied by `next` to `y` (with its parameters), or undefined. */
function activationOf(next: Node, y: string, view: GraphView): { name: string; params: number[] } | undefined {
  if (next.domain !== '' || next.inputs[0] !== y) return undefined;
  const a = (k: string, d: number) => (typeof next.attrs[k] === 'number' ? next.attrs[k] as number : d);
  switch (next.opType) {
    case 'Relu': case 'Sigmoid': case 'Tanh': case 'HardSwish': return { name: next.opType, params: [] };
    case 'LeakyRelu': return { name: 'LeakyRelu', params: [a('alpha', 0.01)] };
    case 'Elu': return { name: 'Elu', params: [a('alpha', 1)] };
    case 'HardSigmoid': return { name: 'HardSigmoid', params: [a('alpha', 0.2), a('beta', 0.5)] };
    case 'Gelu': return { name: 'Gelu', params: [next.attrs['approximate'] === 'tanh' ? 1 : 0] };
    case 'Clip': {
      const lo = next.inputs[1] ? view.scalar(next.inputs[1]) : -Infinity;
      const hi = next.inputs[2] ? view.scalar(next.inputs[2]) : Infinity;
      if (lo === undefined || hi === undefined) return undefined;
      return { name: 'Clip', params: [lo, hi] };
    }
    default: return undefined;
  }
}

/** `y`'s readers form SiLU: Sigmoid(y) -> s and Mul(y, s); returns both nodes. */
function siluOf(y: string, view: GraphView): [Node, Node] | undefined {
  const cs = view.consumers(y);
  if (cs.length !== 2 || view.isGraphOutput(y)) return undefined;
  const sig = cs.find((c) => c.opType === 'Sigmoid' && c.domain === '');
  const mul = cs.find((c) => c.opType === 'Mul' && c.domain === '');
  if (!sig || !mul) return undefined;
  const s = sig.outputs[0]!;
  if (view.soleConsumer(s) !== mul || !mul.inputs.includes(y) || !mul.inputs.includes(s)) return undefined;
  return [sig, mul];
}

/** True when `value` is computed (transitively) from `node`'s output. */
function dependsOn(view: GraphView, value: string, node: Node): boolean {
  const seen = new Set<Node>();
  const stack = [view.producer(value)];
  while (stack.length) {
    const p = stack.pop();
    if (!p || seen.has(p)) continue;
    if (p === node) return true;
    seen.add(p);
    for (const i of p.inputs) if (i) stack.push(view.producer(i));
  }
  return false;
}

export function biasAddRule(names: NameGen): Rule {
  return {
    name: 'fuse-bias',
    match(op, view): Rewrite | undefined {
      const kind = kindOf(op);
      if (!kind) return undefined;
      const st = stage(op);
      if (st.act || st.z || st.post) return undefined;
      const y = op.outputs[0]!;
      const add = view.soleConsumer(y);
      if (!add || add.opType !== 'Add' || add.domain !== '' || add.inputs[0] === add.inputs[1]) return undefined;
      const other = add.inputs[0] === y ? add.inputs[1]! : add.inputs[0]!;
      const w = view.constant(op.inputs[1] ?? '');
      let vec: Float64Array | undefined, old: HostTensor | undefined, N: number;
      if (kind === 'Conv' || kind === 'ConvTranspose') {
        if (!w) return undefined;
        N = convOutChannels(op, w);
        vec = perChannel(view.constant(other), N, rankOf(view, y) ?? w.rank);
      } else {
        const n = view.type(y)?.shape?.at(-1);
        if (typeof n !== 'number') return undefined;
        N = n;
        vec = perLastAxis(view.constant(other), N);
        if (kind === 'Gemm' && typeof op.attrs['beta'] === 'number' && op.attrs['beta'] !== 1 && op.inputs[2]) return undefined;
      }
      if (!vec) return undefined;
      const bi = biasIndex(op);
      if (op.inputs[bi]) {
        old = view.constant(op.inputs[bi]!);
        if (!old || old.dtype !== 'float32' || (old.size !== N && old.size !== 1)) return undefined;
      }
      const bias = new Float64Array(N);
      const beta = kind === 'Gemm' && typeof op.attrs['beta'] === 'number' ? op.attrs['beta'] : 1;
      for (let i = 0; i < N; i++) bias[i] = vec[i]! + (old ? beta * (old.data as Float32Array)[old.size === 1 ? 0 : i]! : 0);
      const bName = names.make(`${op.name}_bias`);
      const base = kind === 'MatMul' ? toFused(op) : copyNode(op, {});
      const inputs = base.inputs.slice();
      while (inputs.length <= bi) inputs.push('');
      inputs[bi] = bName;
      const attrs = { ...base.attrs };
      if (kind === 'Gemm' && !isQ(op)) attrs['beta'] = 1;
      const fused = copyNode(base, { inputs: inputs.slice(0, base.domain === '' && kind !== 'MatMul' ? 3 : inputs.length), outputs: [add.outputs[0]!], attrs });
      return { remove: [op, add], add: [fused], initializers: new Map([[bName, f32(bias, [N])]]) };
    },
  };
}

/** Scalar affine y = s*x + t applied by a Mul/Add with a scalar constant to `y`. */
function scalarAffine(next: Node, y: string, view: GraphView): [number, number] | undefined {
  if (next.domain !== '' || (next.opType !== 'Mul' && next.opType !== 'Add') || next.inputs.length !== 2) return undefined;
  const other = next.inputs[0] === y ? next.inputs[1]! : next.inputs[1] === y ? next.inputs[0]! : undefined;
  const k = other !== undefined && other !== y ? view.scalar(other) : undefined;
  if (k === undefined || view.constant(other!)?.dtype !== 'float32') return undefined;
  return next.opType === 'Mul' ? [k, 0] : [1, k];
}

export const activationRule: Rule = {
  name: 'fuse-activation',
  match(op, view): Rewrite | undefined {
    const kind = kindOf(op);
    if (!kind) return undefined;
    const st = stage(op);
    // A scalar affine after the activation (no residual yet) rides in the post slot.
    if (st.act && !st.z) {
      const y0 = op.outputs[0]!;
      const nx = view.soleConsumer(y0);
      const aff = nx && scalarAffine(nx, y0, view);
      const prevPost = op.attrs['post_activation'];
      if (aff && (!prevPost || prevPost === 'Affine')) {
        const [s0, t0] = prevPost ? (op.attrs['post_activation_params'] as number[]) : [1, 0];
        const f = toFused(op);
        f.attrs['post_activation'] = 'Affine';
        f.attrs['post_activation_params'] = [aff[0] * s0!, aff[0] * t0! + aff[1]];
        f.outputs = [nx!.outputs[0]!];
        return { remove: [op, nx!], add: [f] };
      }
    }
    const slot = !st.z && !st.act ? 'activation' : st.z && !st.post ? 'post_activation' : undefined;
    if (!slot) return undefined;
    const y = op.outputs[0]!;
    const silu = siluOf(y, view);
    if (silu) {
      const f = toFused(op);
      f.attrs[slot] = 'Silu'; f.attrs[`${slot}_params`] = [];
      f.outputs = [silu[1].outputs[0]!];
      return { remove: [op, ...silu], add: [f] };
    }
    const next = view.soleConsumer(y);
    const act = next && activationOf(next, y, view);
    if (!next || !act) return undefined;
    const f = toFused(op);
    f.attrs[slot] = act.name; f.attrs[`${slot}_params`] = act.params;
    f.attrTypes = { ...(f.attrTypes ?? {}), [slot]: 'string', [`${slot}_params`]: 'floats' };
    f.outputs = [next.outputs[0]!];
    return { remove: [op, next], add: [f] };
  },
};

export const residualRule: Rule = {
  name: 'fuse-residual',
  match(op, view): Rewrite | undefined {
    const kind = kindOf(op);
    if (!kind) return undefined;
    const st = stage(op);
    if (st.z || st.post) return undefined;
    const y = op.outputs[0]!;
    const add = view.soleConsumer(y);
    if (!add || add.opType !== 'Add' || add.domain !== '' || add.inputs[0] === add.inputs[1]) return undefined;
    const z = add.inputs[0] === y ? add.inputs[1]! : add.inputs[0]!;
    if (view.constant(z)) return undefined;
    const ty = view.type(y), tz = view.type(z), to = view.type(add.outputs[0]!);
    if (!ty?.shape || !tz?.shape || !to?.shape || ty.dtype !== tz.dtype) return undefined;
    const same = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((d, i) => d === b[i]);
    if (!same(ty.shape, tz.shape) || !same(ty.shape, to.shape)) return undefined;
    if (dependsOn(view, z, op)) return undefined;
    const f = toFused(op);
    while (f.inputs.length < zIndex(op)) f.inputs.push('');
    f.inputs[zIndex(op)] = z;
    f.outputs = [add.outputs[0]!];
    return { remove: [op, add], add: [f] };
  },
};
