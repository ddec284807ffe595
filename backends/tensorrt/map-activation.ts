/**
 * Activations as TensorRT layers: the fused epilogue names of src/ir/ops/fused.ts and the ONNX
 * activation ops. Most are one IActivationLayer; HardSwish, Silu and Affine have no TensorRT
 * activation and become two layers (x * hard_sigmoid(x), x * sigmoid(x), x * s + t).
 */
import type { Dim } from '../../src/ir/graph.js';
import type { DType } from '../../src/ir/dtype.js';
import { scalarWeight, unsupported, type MapContext } from './map-context.js';

/** Emits `name(params)(x)`; writes to `out` (a fresh name when omitted). Returns the result tensor. */
export function emitActivation(ctx: MapContext, x: string, xType: { dtype: DType; shape: Dim[] }, name: string, params: readonly number[], out?: string): string {
  const o = out ?? ctx.tmp(name.toLowerCase());
  const act = (type: string, attrs: Record<string, number> = {}, into = o) => ctx.layer('activation', [x], [into], { type, ...attrs });
  const rank = xType.shape.length;
  switch (name) {
    case 'Relu': return act('relu');
    case 'Sigmoid': return act('sigmoid');
    case 'Tanh': return act('tanh');
    case 'LeakyRelu': return act('leaky_relu', { alpha: params[0] ?? 0.01 });
    case 'Elu': return act('elu', { alpha: params[0] ?? 1 });
    case 'Clip': return act('clip', { alpha: params[0] ?? -Infinity, beta: params[1] ?? Infinity });
    case 'HardSigmoid': return act('hard_sigmoid', { alpha: params[0] ?? 0.2, beta: params[1] ?? 0.5 });
    case 'Gelu': return act(params[0] === 1 ? 'gelu_tanh' : 'gelu_erf');
    case 'Softplus': return act('softplus', { alpha: 1, beta: 1 });
    case 'Softsign': return act('softsign');
    case 'Selu': return act('selu', { alpha: params[0] ?? 1.67326319217681884765625, beta: params[1] ?? 1.05070102214813232421875 });
    case 'ThresholdedRelu': return act('thresholded_relu', { alpha: params[0] ?? 1 });
    case 'HardSwish': {
      const h = act('hard_sigmoid', { alpha: 1 / 6, beta: 0.5 }, ctx.tmp('hardswish_gate'));
      return ctx.layer('elementwise', [x, h], [o], { op: 'prod' });
    }
    case 'Silu': {
      const s = act('sigmoid', {}, ctx.tmp('silu_gate'));
      return ctx.layer('elementwise', [x, s], [o], { op: 'prod' });
    }
    case 'Affine': {
      const scaled = ctx.layer('elementwise', [x, scalarWeight(ctx, params[0] ?? 1, rank, xType.dtype, 'affine_scale')], [ctx.tmp('affine_mul')], { op: 'prod' });
      return ctx.layer('elementwise', [scaled, scalarWeight(ctx, params[1] ?? 0, rank, xType.dtype, 'affine_shift')], [o], { op: 'sum' });
    }
    default: return unsupported(`activation ${name} has no TensorRT mapping`);
  }
}

/**
 * The fused epilogue `post(act(y) + Z)` after the base layer's output `y`; writes the node's output.
 * `zName` is the residual, absent when the node has none.
 */
export function emitEpilogue(ctx: MapContext, y: string, yType: { dtype: DType; shape: Dim[] }, zName: string | undefined): string {
  const act = ctx.node.attrs['activation'] as string | undefined;
  const actP = (ctx.node.attrs['activation_params'] as number[] | undefined) ?? [];
  const post = ctx.node.attrs['post_activation'] as string | undefined;
  const postP = (ctx.node.attrs['post_activation_params'] as number[] | undefined) ?? [];
  const steps: ((x: string, last: boolean) => string)[] = [];
  if (act) steps.push((x, last) => emitActivation(ctx, x, yType, act, actP, last ? ctx.output(0) : undefined));
  if (zName) steps.push((x, last) => ctx.layer('elementwise', [x, zName], [last ? ctx.output(0) : ctx.tmp('residual')], { op: 'sum' }));
  if (post) steps.push((x, last) => emitActivation(ctx, x, yType, post, postP, last ? ctx.output(0) : undefined));
  let x = y;
  steps.forEach((s, i) => { x = s(x, i === steps.length - 1); });
  if (steps.length === 0 && y !== ctx.output(0)) x = ctx.layer('identity', [y], [ctx.output(0)]);
  return x;
}

/** Whether the node has any epilogue step (then the base layer writes a temporary). */
export function hasEpilogue(ctx: MapContext, zIndex: number): boolean {
  return !!(ctx.node.attrs['activation'] || ctx.node.attrs['post_activation'] || ctx.has(zIndex));
}
