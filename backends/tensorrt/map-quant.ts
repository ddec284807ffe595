/**
 * INT8 as explicit quantization: IQuantizeLayer / IDequantizeLayer pairs carrying the scales, which
 * TensorRT 10 and 11 both fuse into int8 kernels (11 removed the implicit IInt8Calibrator path).
 *  - twinfer.QConv / QGemm / QMatMul (the quantization design of issue 4): X goes through
 *    Q(x_scale) -> DQ(x_scale); the int8 weight W is a constant through DQ(W_scale) along its
 *    output-channel axis; the float op follows, then bias and the fused epilogue.
 *  - ONNX QuantizeLinear / DequantizeLinear (QDQ models): one layer each, per tensor or per axis.
 * TensorRT quantizes symmetrically to int8: a nonzero zero point or uint8 is reported unsupported.
 */
import { attrInt } from '../../src/ir/graph.js';
import type { DType } from '../../src/ir/dtype.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { qChannelAxis, quantParams } from '../../src/ir/ops/qfused.js';
import { emitEpilogue, hasEpilogue } from './map-activation.js';
import { emitConvLayer, emitMatMul } from './map-convgemm.js';
import { trtDType, unsupported, type MapContext } from './map-context.js';

type Mapper = (ctx: MapContext) => void;

const floatOf = (d: DType): 'float32' | 'float16' => (d === 'float16' ? 'float16' : 'float32');

/** A scale weight: 0-D for one value (per tensor), 1-D otherwise, in the float type it meets. */
function scaleWeight(ctx: MapContext, values: ArrayLike<number>, dtype: 'float32' | 'float16', what: string): string {
  const n = values.length;
  return ctx.weight(HostTensor.fromNumbers(dtype, n === 1 ? [] : [n], values), what);
}

/** x -> Q -> DQ with one scale; returns the dequantized tensor. */
export function emitQdq(ctx: MapContext, x: string, scale: number, dtype: 'float32' | 'float16'): string {
  const s = scaleWeight(ctx, [scale], dtype, 'x_scale');
  const q = ctx.layer('quantize', [x, s], [ctx.tmp('xq')], { axis: -1, to: 'int8' });
  return ctx.layer('dequantize', [q, s], [ctx.tmp('xdq')], { axis: -1, to: trtDType(dtype) });
}

/** The int8 weight W (input 1) through DQ with W_scale (input 2) along `axis`. */
function dequantizedWeight(ctx: MapContext, axis: number, dtype: 'float32' | 'float16'): string {
  const w = ctx.constant(1), ws = ctx.constant(2);
  if (!w || !ws) unsupported(`${ctx.node.opType} W and W_scale must be constants`);
  const s = scaleWeight(ctx, ws.numbers as Float32Array, dtype, 'w_scale');
  return ctx.layer('dequantize', [ctx.input(1), s], [ctx.tmp('wdq')], { axis: ws.size === 1 ? -1 : axis, to: trtDType(dtype) });
}

/** Activation quantization of a Q op, as TensorRT can take it. */
function xScale(ctx: MapContext): number {
  const q = quantParams(ctx.node);
  if (q.zeroPoint !== 0) unsupported(`x_zero_point ${q.zeroPoint} (TensorRT quantizes symmetrically)`);
  if (q.qmin !== -128) unsupported('uint8 activations (TensorRT quantizes to int8)');
  return q.scale;
}

/** Bias input 3 as a weight in the activation's float type (converted when X is float16). */
function biasIn(ctx: MapContext, dtype: 'float32' | 'float16'): string | undefined {
  if (!ctx.has(3)) return undefined;
  const b = ctx.constant(3);
  if (!b) unsupported(`${ctx.node.opType} bias computed at run time`);
  return b.dtype === dtype ? ctx.input(3) : ctx.weight(new HostTensor(dtype, b.dims, Float32Array.from(b.numbers as ArrayLike<number>)), 'bias');
}

const qconv: Mapper = (ctx) => {
  const dt = floatOf(ctx.inType(0).dtype);
  const x = emitQdq(ctx, ctx.input(0), xScale(ctx), dt);
  const w = dequantizedWeight(ctx, 0, dt);
  const epi = hasEpilogue(ctx, 4);
  const sub: MapContext = { ...ctx, input: (i) => (i === 0 ? x : ctx.input(i)) };
  const y = emitConvLayer(sub, 'convolution', w, ctx.inType(1).shape as number[], biasIn(ctx, dt), epi ? ctx.tmp('qconv') : ctx.output(0));
  if (epi) emitEpilogue(ctx, y, ctx.outType(0), ctx.has(4) ? ctx.input(4) : undefined);
};

function qmatmul(gemm: boolean): Mapper {
  return (ctx) => {
    const xt = ctx.inType(0), wt = ctx.inType(1), ot = ctx.outType(0);
    const dt = floatOf(xt.dtype);
    const x = emitQdq(ctx, ctx.input(0), xScale(ctx), dt);
    const w = dequantizedWeight(ctx, qChannelAxis(ctx.node), dt);
    const transB = gemm && attrInt(ctx.node, 'transB', 0) === 1;
    const bias = biasIn(ctx, dt);
    const more = hasEpilogue(ctx, 4);
    let y = emitMatMul(ctx, x, xt.shape, w, wt.shape, false, transB, bias || more ? ctx.tmp('qmatmul') : ctx.output(0));
    if (bias) y = ctx.layer('elementwise', [y, ctx.broadcastRank(bias, [ctx.inType(3).shape[0]!], ot.shape.length)], [more ? ctx.tmp('bias') : ctx.output(0)], { op: 'sum' });
    if (more) emitEpilogue(ctx, y, ot, ctx.has(4) ? ctx.input(4) : undefined);
  };
}

/** Per-tensor or per-axis scale of an ONNX Q/DQ node (input 1), and its zero point (input 2) checked to be 0. */
function onnxScale(ctx: MapContext, dtype: 'float32' | 'float16'): { scale: string; axis: number } {
  const s = ctx.constant(1);
  if (!s) unsupported(`${ctx.node.opType} scale computed at run time`);
  if (attrInt(ctx.node, 'block_size', 0) > 0) unsupported('blocked quantization');
  if (ctx.has(2)) {
    const z = ctx.constant(2);
    if (!z) unsupported(`${ctx.node.opType} zero point computed at run time`);
    if (z.dtype !== 'int8') unsupported(`${z.dtype} quantization (TensorRT quantizes to int8)`);
    if (z.toNumberArray().some((v) => v !== 0)) unsupported('nonzero zero point (TensorRT quantizes symmetrically)');
  }
  const r = ctx.inType(0).shape.length;
  let axis = attrInt(ctx.node, 'axis', 1);
  if (axis < 0) axis += r;
  return { scale: scaleWeight(ctx, s.numbers as Float32Array, dtype, 'scale'), axis: s.size === 1 ? -1 : axis };
}

export const quantMappers: Record<string, Mapper> = {
  'twinfer.QConv': qconv,
  'twinfer.QGemm': qmatmul(true),
  'twinfer.QMatMul': qmatmul(false),
  QuantizeLinear: (ctx) => {
    if (ctx.outType(0).dtype !== 'int8') unsupported(`QuantizeLinear to ${ctx.outType(0).dtype} (TensorRT quantizes to int8 here)`);
    const { scale, axis } = onnxScale(ctx, floatOf(ctx.inType(0).dtype));
    ctx.layer('quantize', [ctx.input(0), scale], [ctx.output(0)], { axis, to: 'int8' });
  },
  DequantizeLinear: (ctx) => {
    if (ctx.inType(0).dtype !== 'int8') unsupported(`DequantizeLinear of ${ctx.inType(0).dtype} (TensorRT dequantizes int8 here)`);
    const out = floatOf(ctx.outType(0).dtype);
    const { scale, axis } = onnxScale(ctx, out);
    ctx.layer('dequantize', [ctx.input(0), scale], [ctx.output(0)], { axis, to: trtDType(out) });
  },
};
