/**
 * The optimizer's fused ops (domain `twinfer`): a Conv / ConvTranspose / Gemm / MatMul followed by
 * an epilogue applied on the way out:
 *     y = post_activation( activation( op(inputs) [+ bias] ) [+ Z] )
 * Inputs: those of the base op (Conv: X, W, B?; Gemm: A, B, C?; MatMul: A, B, bias?) then the
 * optional residual Z (same shape as the output). Attributes: the base op's, plus `activation`,
 * `activation_params`, `post_activation`, `post_activation_params`; FusedMatMul also takes
 * `transA`/`transB` (swap of the last two axes, from folded Transposes).
 * Activation names are checked here: an unknown one is an error, never silently dropped.
 */
import type { Dim, Node, ValueType } from '../graph.js';
import { InferError, type InferContext, type OpSchema, type SchemaRegistry } from '../schema.js';
import { schemas as convgemm } from './convgemm.js';

/** Activation name -> number of parameters it takes. */
export const FUSABLE_ACTIVATIONS: Readonly<Record<string, number>> = {
  Relu: 0, Sigmoid: 0, Tanh: 0, HardSwish: 0, Silu: 0,
  LeakyRelu: 1, Elu: 1, Gelu: 1 /* 0 exact, 1 tanh */, Clip: 2, HardSigmoid: 2, Affine: 2 /* s*x + t */,
};

export const FUSED_BASE: Readonly<Record<string, string>> = {
  FusedConv: 'Conv', FusedConvTranspose: 'ConvTranspose', FusedGemm: 'Gemm', FusedMatMul: 'MatMul',
};

const EPILOGUE_ATTRS = ['activation', 'activation_params', 'post_activation', 'post_activation_params', 'transA', 'transB'];

export function checkActivation(name: unknown, params: unknown, which: string): void {
  if (name === undefined || name === '') return;
  if (typeof name !== 'string' || !(name in FUSABLE_ACTIVATIONS)) throw new InferError(`unknown fused ${which} '${String(name)}'`);
  const n = Array.isArray(params) ? params.length : 0;
  if (n !== FUSABLE_ACTIVATIONS[name]) throw new InferError(`fused ${which} ${name} takes ${FUSABLE_ACTIVATIONS[name]} parameters, got ${n}`);
}

/** The base op node a fused node wraps (its own attributes only, first `n` inputs). */
export function baseNode(node: Node): Node {
  const opType = FUSED_BASE[node.opType];
  if (!opType) throw new InferError(`${node.opType} is not a fused op`);
  const attrs = { ...node.attrs };
  for (const a of EPILOGUE_ATTRS) delete attrs[a];
  if (opType === 'Gemm') { if (node.attrs['transA'] !== undefined) attrs['transA'] = node.attrs['transA']!; if (node.attrs['transB'] !== undefined) attrs['transB'] = node.attrs['transB']!; }
  const nIn = opType === 'MatMul' ? 2 : 3;
  return { ...node, opType, domain: '', inputs: node.inputs.slice(0, nIn), attrs };
}

function swapLast(t: ValueType | undefined, swap: boolean): ValueType | undefined {
  if (!t || !swap || !t.shape || t.shape.length < 2) return t;
  const s = t.shape.slice();
  [s[s.length - 2], s[s.length - 1]] = [s[s.length - 1]!, s[s.length - 2]!];
  return { dtype: t.dtype, shape: s };
}

function sameDims(a: Dim[] | undefined, b: Dim[] | undefined): boolean {
  if (!a || !b) return true;
  return a.length === b.length && a.every((d, i) => d === b[i] || typeof d !== 'number' || typeof b[i] !== 'number');
}

function fused(base: string, baseInputs: number): OpSchema {
  return {
    inputs: [2, baseInputs + 1],
    outputs: [1, 1],
    infer(ctx: InferContext) {
      const n = ctx.node;
      checkActivation(n.attrs['activation'], n.attrs['activation_params'], 'activation');
      checkActivation(n.attrs['post_activation'], n.attrs['post_activation_params'], 'post_activation');
      const b = baseNode(n);
      let inputs = ctx.inputs.slice(0, baseInputs);
      if (base === 'MatMul') inputs = [swapLast(inputs[0], n.attrs['transA'] === 1), swapLast(inputs[1], n.attrs['transB'] === 1)];
      const out = convgemm[base]!.infer({ ...ctx, node: b, inputs: inputs.slice(0, base === 'MatMul' ? 2 : baseInputs) });
      const y = out[0]!;
      if (base === 'MatMul' && ctx.inputs[2]) {
        const bias = ctx.inputs[2];
        const N = y.shape?.[y.shape.length - 1];
        const bn = bias.shape?.[bias.shape.length - 1];
        if (bias.shape && bias.shape.length !== 1) throw new InferError(`FusedMatMul: bias must be 1-D, got rank ${bias.shape.length}`);
        if (typeof N === 'number' && typeof bn === 'number' && N !== bn) throw new InferError(`FusedMatMul: bias has ${bn} elements, output has ${N} columns`);
      }
      const z = ctx.inputs[baseInputs];
      if (z && (z.dtype !== y.dtype || !sameDims(z.shape, y.shape))) {
        throw new InferError(`${n.opType}: residual Z [${z.shape?.join(',')}] ${z.dtype} must match the output [${y.shape?.join(',')}] ${y.dtype}`);
      }
      return [y];
    },
  };
}

export const schemas: SchemaRegistry = {
  'twinfer.FusedConv': fused('Conv', 3),
  'twinfer.FusedConvTranspose': fused('ConvTranspose', 3),
  'twinfer.FusedGemm': fused('Gemm', 3),
  'twinfer.FusedMatMul': fused('MatMul', 3),
};
