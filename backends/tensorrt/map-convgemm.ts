/**
 * Conv / ConvTranspose / Gemm / MatMul and their fused forms as TensorRT layers:
 * IConvolutionLayer / IDeconvolutionLayer with kernel and bias weights (1-D convolutions run as
 * 2-D with H = 1), IMatrixMultiplyLayer with constant operands, then the epilogue as activation and
 * element-wise layers (TensorRT fuses them back into the kernel's epilogue when it can).
 */
import type { Dim } from '../../src/ir/graph.js';
import { attrInt, attrInts, attrFloat } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { readWindowAttrs } from '../../src/ir/ops/convgemm-geom.js';
import { emitEpilogue, hasEpilogue } from './map-activation.js';
import { scalarWeight, unsupported, type MapContext } from './map-context.js';
import type { TrtAttr } from './network.js';

/** Window attributes (stride, dilation, padding) in TensorRT's terms for `spatial` axes. */
export function windowAttrs(ctx: MapContext, spatial: number, kernelFallback?: readonly Dim[]): Record<string, TrtAttr> {
  const a = readWindowAttrs(ctx.node, spatial, kernelFallback);
  const out: Record<string, TrtAttr> = { kernel: a.kernel, stride: a.strides, dilation: a.dilations };
  if (a.autoPad === 'SAME_UPPER') out['padMode'] = 'same_upper';
  else if (a.autoPad === 'SAME_LOWER') out['padMode'] = 'same_lower';
  else {
    const p = a.autoPad === 'VALID' ? new Array<number>(2 * spatial).fill(0) : (a.pads ?? new Array<number>(2 * spatial).fill(0));
    out['prePad'] = p.slice(0, spatial);
    out['postPad'] = p.slice(spatial);
  }
  return out;
}

/** Spatial attributes of a 1-D op seen as 2-D (H = 1 in front). */
function lift1d(attrs: Record<string, TrtAttr>): Record<string, TrtAttr> {
  const o: Record<string, TrtAttr> = { ...attrs };
  for (const k of ['kernel', 'stride', 'dilation'] as const) o[k] = [1, ...(attrs[k] as number[])];
  for (const k of ['prePad', 'postPad'] as const) if (attrs[k]) o[k] = [0, ...(attrs[k] as number[])];
  return o;
}

/**
 * Conv-like base layer: returns the tensor it writes. `kernel` is a weight name or a tensor (Q/DQ
 * weights); `kernelDims` its dims.
 */
export function emitConvLayer(ctx: MapContext, kind: 'convolution' | 'deconvolution', kernel: string, kernelDims: number[], bias: string | undefined, out: string): string {
  const x = ctx.input(0);
  const xt = ctx.inType(0);
  const spatial = xt.shape.length - 2;
  if (spatial < 1 || spatial > 3) unsupported(`${spatial}-D ${ctx.node.opType} (TensorRT convolves 2-D and 3-D maps; 1-D is lifted to 2-D)`);
  const group = attrInt(ctx.node, 'group', 1);
  const outMaps = kind === 'convolution' ? kernelDims[0]! : kernelDims[1]! * group;
  let attrs: Record<string, TrtAttr> = { outMaps, groups: group, ...windowAttrs(ctx, spatial, kernelDims.slice(2)) };
  if (kind === 'deconvolution') {
    if (ctx.node.attrs['output_shape'] !== undefined) unsupported('ConvTranspose with output_shape (give pads instead)');
    if (attrs['padMode']) unsupported('ConvTranspose with auto_pad SAME (TensorRT pads deconvolutions explicitly)');
    const op = attrInts(ctx.node, 'output_padding') ?? [];
    if (op.some((v) => v !== 0)) {
      // TensorRT has no output_padding: it is less padding at the end, where there is some.
      const post = (attrs['postPad'] as number[]).map((p, i) => p - (op[i] ?? 0));
      if (post.some((p) => p < 0)) unsupported('ConvTranspose output_padding larger than its end pads');
      attrs['postPad'] = post;
    }
  }
  if (spatial !== 1) return ctx.layer(kind, bias ? [x, kernel, bias] : [x, kernel], [out], attrs);
  // 1-D: [N, C, L] -> [N, C, 1, L], convolve, and back.
  attrs = lift1d(attrs);
  const x4 = ctx.layer('shuffle', [x], [ctx.tmp('as2d')], { reshape: [0, 0, 1, -1] });
  const k4 = ctx.isWeight(kernel) ? ctx.weightAs(kernel, [kernelDims[0]!, kernelDims[1]!, 1, kernelDims[2]!]) : ctx.layer('shuffle', [kernel], [ctx.tmp('kernel2d')], { reshape: [kernelDims[0]!, kernelDims[1]!, 1, kernelDims[2]!] });
  const y4 = ctx.layer(kind, bias ? [x4, k4, bias] : [x4, k4], [ctx.tmp('conv2d')], attrs);
  return ctx.layer('shuffle', [y4], [out], { reshape: [0, 0, -1] });
}

function convNode(kind: 'convolution' | 'deconvolution', fused: boolean) {
  return (ctx: MapContext): void => {
    const w = ctx.constant(1);
    if (!w) unsupported(`${ctx.node.opType} weights computed at run time (TensorRT needs constant kernels)`);
    if (ctx.has(2) && !ctx.constant(2)) unsupported(`${ctx.node.opType} bias computed at run time`);
    const epi = fused && hasEpilogue(ctx, 3);
    const y = emitConvLayer(ctx, kind, ctx.input(1), w.dims.slice(), ctx.has(2) ? ctx.input(2) : undefined, epi ? ctx.tmp('conv') : ctx.output(0));
    if (epi) emitEpilogue(ctx, y, ctx.outType(0), ctx.has(3) ? ctx.input(3) : undefined);
  };
}

/** A matmul of two operands of possibly different ranks (numpy rules); returns the product tensor. */
export function emitMatMul(ctx: MapContext, a: string, aShape: Dim[], b: string, bShape: Dim[], transA: boolean, transB: boolean, out: string): string {
  if (aShape.length === 1 && transA) unsupported('transposed 1-D MatMul operand');
  if (bShape.length === 1 && transB) unsupported('transposed 1-D MatMul operand');
  let opA = aShape.length === 1 ? 'vector' : transA ? 'transpose' : 'none';
  let opB = bShape.length === 1 ? 'vector' : transB ? 'transpose' : 'none';
  const rank = Math.max(aShape.length, bShape.length);
  // TensorRT needs equal ranks (vectors aside): lift the lower-rank matrix with leading 1s.
  if (opA !== 'vector' && opB !== 'vector') {
    if (aShape.length < rank) a = ctx.broadcastRank(a, aShape, rank);
    if (bShape.length < rank) b = ctx.broadcastRank(b, bShape, rank);
  } else if (opA === 'vector' && opB === 'vector') {
    opA = 'vector'; opB = 'vector';
  } else if (opA === 'vector' && bShape.length > 2) {
    unsupported('1-D MatMul operand against a batched matrix');
  } else if (opB === 'vector' && aShape.length > 2) {
    unsupported('1-D MatMul operand against a batched matrix');
  }
  return ctx.layer('matmul', [a, b], [out], { opA, opB });
}

function matmulNode(fused: boolean) {
  return (ctx: MapContext): void => {
    const at = ctx.inType(0), bt = ctx.inType(1);
    const epi = fused && (hasEpilogue(ctx, 3) || ctx.has(2));
    const transA = fused && ctx.node.attrs['transA'] === 1, transB = fused && ctx.node.attrs['transB'] === 1;
    let y = emitMatMul(ctx, ctx.input(0), at.shape, ctx.input(1), bt.shape, transA, transB, epi ? ctx.tmp('matmul') : ctx.output(0));
    if (!epi) return;
    const ot = ctx.outType(0);
    if (ctx.has(2)) {
      const bias = ctx.input(2);
      const hasMore = hasEpilogue(ctx, 3);
      y = ctx.layer('elementwise', [y, ctx.broadcastRank(bias, ctx.inType(2).shape, ot.shape.length)], [hasMore ? ctx.tmp('bias') : ctx.output(0)], { op: 'sum' });
      if (!hasMore) return;
    }
    emitEpilogue(ctx, y, ot, ctx.has(3) ? ctx.input(3) : undefined);
  };
}

function gemmNode(fused: boolean) {
  return (ctx: MapContext): void => {
    const at = ctx.inType(0), bt = ctx.inType(1), ot = ctx.outType(0);
    if (at.shape.length !== 2 || bt.shape.length !== 2) unsupported('Gemm operands must be 2-D');
    const alpha = attrFloat(ctx.node, 'alpha', 1), beta = attrFloat(ctx.node, 'beta', 1);
    const transA = attrInt(ctx.node, 'transA', 0) === 1, transB = attrInt(ctx.node, 'transB', 0) === 1;
    const hasC = ctx.has(2) && beta !== 0;
    const epi = fused && hasEpilogue(ctx, 3);
    const last = (step: 'mm' | 'alpha' | 'c') => !epi && (step === 'c' || (step === 'alpha' && !hasC) || (step === 'mm' && !hasC && alpha === 1));
    let y = emitMatMul(ctx, ctx.input(0), at.shape, ctx.input(1), bt.shape, transA, transB, last('mm') ? ctx.output(0) : ctx.tmp('matmul'));
    if (alpha !== 1) y = ctx.layer('elementwise', [y, scalarWeight(ctx, alpha, 2, ot.dtype, 'alpha')], [last('alpha') ? ctx.output(0) : ctx.tmp('alpha')], { op: 'prod' });
    if (hasC) {
      let c: string;
      const cc = ctx.constant(2);
      if (cc && beta !== 1) {
        // beta folded into a new weight (C is usually the bias vector).
        const data = Float32Array.from(cc.numbers as ArrayLike<number>, (v) => v * beta);
        c = ctx.weight(new HostTensor(cc.dtype, cc.dims, data), 'beta_c');
        c = ctx.broadcastRank(c, cc.dims.slice(), 2);
      } else {
        c = ctx.broadcastRank(ctx.input(2), ctx.inType(2).shape, 2);
        if (beta !== 1) c = ctx.layer('elementwise', [c, scalarWeight(ctx, beta, 2, ot.dtype, 'beta')], [ctx.tmp('beta')], { op: 'prod' });
      }
      y = ctx.layer('elementwise', [y, c], [last('c') ? ctx.output(0) : ctx.tmp('gemm')], { op: 'sum' });
    }
    if (epi) emitEpilogue(ctx, y, ot, ctx.has(3) ? ctx.input(3) : undefined);
  };
}

export const convGemmMappers: Record<string, (ctx: MapContext) => void> = {
  Conv: convNode('convolution', false),
  ConvTranspose: convNode('deconvolution', false),
  'twinfer.FusedConv': convNode('convolution', true),
  'twinfer.FusedConvTranspose': convNode('deconvolution', true),
  MatMul: matmulNode(false),
  'twinfer.FusedMatMul': matmulNode(true),
  Gemm: gemmNode(false),
  'twinfer.FusedGemm': gemmNode(true),
};
