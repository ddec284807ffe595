/**
 * Pooling, reductions, normalizations and Resize as TensorRT layers: IPoolingLayer, IReduceLayer,
 * INormalizationLayer (LayerNormalization, InstanceNormalization, GroupNormalization), IScaleLayer
 * (BatchNormalization, folded to scale / shift on the host), IResizeLayer.
 */
import { attrFloat, attrInt, attrString } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { windowAttrs } from './map-convgemm.js';
import { unsupported, type MapContext } from './map-context.js';

type Mapper = (ctx: MapContext) => void;

const axisOf = (a: number, rank: number) => (a < 0 ? a + rank : a);
const mask = (axes: number[]) => axes.reduce((m, a) => m + 2 ** a, 0);

function pool(type: 'max' | 'average'): Mapper {
  return (ctx) => {
    const r = ctx.inType(0).shape.length;
    if (r !== 4 && r !== 5) unsupported(`${r - 2}-D pooling (TensorRT pools 2-D and 3-D maps)`);
    if (ctx.node.outputs[1]) unsupported('MaxPool Indices output');
    const w = windowAttrs(ctx, r - 2);
    if ((w['dilation'] as number[]).some((d) => d !== 1)) unsupported('dilated pooling');
    delete w['dilation'];
    const attrs = { type, window: w['kernel']!, ...w, roundUp: ceilMode(ctx, w), excludePadding: attrInt(ctx.node, 'count_include_pad', 0) ? 0 : 1 };
    delete (attrs as Record<string, unknown>)['kernel'];
    ctx.layer('pooling', [ctx.input(0)], [ctx.output(0)], attrs);
  };
}

/**
 * TensorRT's round-up padding mode is ceil((I + pads - K) / S) + 1 per axis, without ONNX's (and
 * PyTorch's) rule that the last window must start inside the input or its begin padding. Where
 * the rule drops a window, the floor formula gives ONNX's size: pick, per layer, the rounding that
 * gives twinfer's inferred output size on every axis.
 */
function ceilMode(ctx: MapContext, w: Record<string, unknown>): number {
  if (!attrInt(ctx.node, 'ceil_mode', 0)) return 0;
  if (w['padMode']) return 1;
  const inS = ctx.inType(0).shape.slice(2), outS = ctx.outType(0).shape.slice(2);
  const k = w['kernel'] as number[], s = w['stride'] as number[], pre = w['prePad'] as number[], post = w['postPad'] as number[];
  let needUp = false, needDown = false;
  inS.forEach((d, i) => {
    const o = outS[i];
    if (typeof d !== 'number' || typeof o !== 'number') { needUp = true; return; }
    const span = d + pre[i]! + post[i]! - k[i]!;
    const down = Math.floor(span / s[i]!) + 1, up = Math.ceil(span / s[i]!) + 1;
    if (o === up && o !== down) needUp = true;
    else if (o === down && o !== up) needDown = true;
    else if (o !== up && o !== down) unsupported(`pooling output size ${o} on axis ${i + 2} is neither TensorRT's rounded-up nor rounded-down size`);
  });
  if (needUp && needDown) unsupported('ceil_mode pooling whose axes need different rounding (ONNX drops a window TensorRT keeps on one axis only)');
  return needDown ? 0 : 1;
}

/** GlobalAveragePool / GlobalMaxPool: a reduction over the spatial axes that keeps them (as 1). */
function globalPool(op: 'avg' | 'max'): Mapper {
  return (ctx) => {
    const r = ctx.inType(0).shape.length;
    ctx.layer('reduce', [ctx.input(0)], [ctx.output(0)], { op, axes: mask([...Array(r).keys()].slice(2)), keepDims: 1 });
  };
}

function reduce(op: 'sum' | 'prod' | 'max' | 'min' | 'avg'): Mapper {
  return (ctx) => {
    const r = ctx.inType(0).shape.length;
    let axes: number[];
    if (ctx.has(1)) {
      const c = ctx.constant(1);
      if (!c) unsupported(`${ctx.node.opType} axes computed at run time`);
      axes = c.toNumberArray().map((a) => axisOf(a, r));
    } else axes = [];
    if (axes.length === 0) {
      if (attrInt(ctx.node, 'noop_with_empty_axes', 0)) { ctx.layer('identity', [ctx.input(0)], [ctx.output(0)]); return; }
      axes = [...Array(r).keys()];
    }
    ctx.layer('reduce', [ctx.input(0)], [ctx.output(0)], { op, axes: mask(axes), keepDims: attrInt(ctx.node, 'keepdims', 1) });
  };
}

/** Scale / bias of a normalization as weights of the input's rank, laid along `axes` (per channel: [1, C, 1...]). */
function affineWeight(ctx: MapContext, i: number, rank: number, channelAxis: number | undefined, what: string): string {
  const c = ctx.constant(i);
  if (!c) unsupported(`${ctx.node.opType} ${what} computed at run time`);
  if (channelAxis !== undefined) {
    const dims = new Array<number>(rank).fill(1);
    dims[channelAxis] = c.size;
    return ctx.weightAs(ctx.input(i), dims);
  }
  return ctx.broadcastRank(ctx.input(i), c.dims.slice(), rank);
}

const layerNorm: Mapper = (ctx) => {
  if (ctx.node.outputs[1] || ctx.node.outputs[2]) unsupported('LayerNormalization Mean / InvStdDev outputs');
  const r = ctx.inType(0).shape.length;
  const a = axisOf(attrInt(ctx.node, 'axis', -1), r);
  const scale = affineWeight(ctx, 1, r, undefined, 'scale');
  const bias = ctx.has(2) ? affineWeight(ctx, 2, r, undefined, 'bias') : ctx.weight(HostTensor.fromNumbers(ctx.inType(1).dtype, new Array<number>(r).fill(1), [0]), 'zero_bias');
  ctx.layer('normalization', [ctx.input(0), scale, bias], [ctx.output(0)], { axes: mask([...Array(r).keys()].slice(a)), epsilon: attrFloat(ctx.node, 'epsilon', 1e-5) });
};

function channelNorm(groups: (ctx: MapContext) => number): Mapper {
  return (ctx) => {
    const r = ctx.inType(0).shape.length;
    const scale = affineWeight(ctx, 1, r, 1, 'scale');
    const bias = affineWeight(ctx, 2, r, 1, 'bias');
    ctx.layer('normalization', [ctx.input(0), scale, bias], [ctx.output(0)], { axes: mask([...Array(r).keys()].slice(2)), epsilon: attrFloat(ctx.node, 'epsilon', 1e-5), groups: groups(ctx) });
  };
}

const batchNorm: Mapper = (ctx) => {
  if (attrInt(ctx.node, 'training_mode', 0)) unsupported('BatchNormalization in training mode');
  const p = [1, 2, 3, 4].map((i) => ctx.constant(i));
  if (p.some((t) => !t)) unsupported('BatchNormalization parameters computed at run time');
  const [g, b, m, v] = p.map((t) => t!.numbers);
  const eps = attrFloat(ctx.node, 'epsilon', 1e-5);
  const C = g!.length;
  const scale = new Float32Array(C), shift = new Float32Array(C);
  for (let c = 0; c < C; c++) { scale[c] = g![c]! / Math.sqrt(v![c]! + eps); shift[c] = b![c]! - m![c]! * scale[c]!; }
  const dt = ctx.inType(0).dtype === 'float16' ? 'float16' : 'float32';
  ctx.layer('scale', [ctx.input(0), ctx.weight(new HostTensor(dt, [C], shift), 'bn_shift'), ctx.weight(new HostTensor(dt, [C], scale), 'bn_scale')], [ctx.output(0)], { mode: 'channel', channelAxis: 1 });
};

const resize: Mapper = (ctx) => {
  const n = ctx.node;
  if (attrInt(n, 'antialias', 0)) unsupported('Resize with antialias');
  if (n.attrs['axes'] !== undefined) unsupported('Resize with axes');
  if (attrString(n, 'keep_aspect_ratio_policy', 'stretch') !== 'stretch') unsupported('Resize keep_aspect_ratio_policy other than stretch');
  const mode = attrString(n, 'mode', 'nearest');
  const coord = attrString(n, 'coordinate_transformation_mode', 'half_pixel');
  const out = ctx.outType(0).shape;
  const attrs: Record<string, number | string | number[]> = { mode: mode === 'nearest' ? 'nearest' : mode === 'linear' ? 'linear' : 'cubic' };
  if (coord === 'half_pixel' || coord === 'align_corners' || coord === 'asymmetric') attrs['coordinate'] = coord;
  else if (coord === 'pytorch_half_pixel') {
    // Equal to half_pixel unless an output extent is 1.
    if (out.slice(2).some((d) => typeof d !== 'number' || d === 1)) unsupported('Resize pytorch_half_pixel where an output extent may be 1');
    attrs['coordinate'] = 'half_pixel';
  } else unsupported(`Resize coordinate_transformation_mode ${coord}`);
  if (mode === 'nearest') {
    const nm = attrString(n, 'nearest_mode', 'round_prefer_floor');
    attrs['nearestRounding'] = nm === 'round_prefer_floor' ? 'half_down' : nm === 'round_prefer_ceil' ? 'half_up' : nm;
  }
  if (mode === 'cubic') { attrs['cubicCoeff'] = attrFloat(n, 'cubic_coeff_a', -0.75); attrs['excludeOutside'] = attrInt(n, 'exclude_outside', 0); }
  const scales = ctx.has(2) ? ctx.constant(2) : undefined;
  if (ctx.has(2) && !scales) unsupported('Resize scales computed at run time');
  if (scales && scales.size > 0) attrs['scales'] = scales.toNumberArray();
  else if (ctx.has(3)) {
    const sizes = ctx.constant(3);
    if (sizes) attrs['outDims'] = sizes.toNumberArray();
    else if (out.every((d) => typeof d === 'number')) attrs['outDims'] = out as number[];
    else unsupported('Resize sizes computed at run time');
  } else unsupported('Resize with neither scales nor sizes');
  ctx.layer('resize', [ctx.input(0)], [ctx.output(0)], attrs);
};

export const nnMappers: Record<string, Mapper> = {
  MaxPool: pool('max'), AveragePool: pool('average'),
  GlobalAveragePool: globalPool('avg'), GlobalMaxPool: globalPool('max'),
  ReduceSum: reduce('sum'), ReduceMean: reduce('avg'), ReduceMax: reduce('max'), ReduceMin: reduce('min'), ReduceProd: reduce('prod'),
  LayerNormalization: layerNorm,
  InstanceNormalization: channelNorm(() => 1),
  GroupNormalization: channelNorm((ctx) => attrInt(ctx.node, 'num_groups', 1)),
  BatchNormalization: batchNorm,
  Resize: resize,
};
