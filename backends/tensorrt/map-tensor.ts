/**
 * Data movement and shape ops as TensorRT layers: IShuffleLayer (Reshape, Flatten, Squeeze,
 * Unsqueeze, Transpose: reshape dims come from twinfer's inferred output shape), ISliceLayer (Slice,
 * Split, Pad through its fill / reflect / clamp modes), IConcatenationLayer, IGatherLayer,
 * IShapeLayer.
 */
import type { Dim } from '../../src/ir/graph.js';
import { attrInt, attrInts, attrString } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { reshapeDims, unsupported, type MapContext } from './map-context.js';

type Mapper = (ctx: MapContext) => void;

const axisOf = (a: number, rank: number) => (a < 0 ? a + rank : a);

/** Any op whose output is its input's data under another shape. */
const reshapeLike: Mapper = (ctx) => {
  const from = ctx.inType(0).shape, to = ctx.outType(0).shape;
  ctx.layer('shuffle', [ctx.input(0)], [ctx.output(0)], { reshape: reshapeDims(from, to) });
};

function constInts(ctx: MapContext, i: number, what: string): number[] | undefined {
  if (!ctx.has(i)) return undefined;
  const c = ctx.constant(i);
  if (!c) unsupported(`${ctx.node.opType} ${what} computed at run time`);
  return c.toNumberArray();
}

/** start / size / stride of a slice along each axis; -1 size keeps the input's extent (unsliced axes). */
interface SliceSpec { start: number[]; size: number[]; stride: number[] }

function fullSpec(shape: readonly Dim[]): SliceSpec {
  return { start: shape.map(() => 0), size: shape.map(() => -1), stride: shape.map(() => 1) };
}

const sliceMapper: Mapper = (ctx) => {
  const shape = ctx.inType(0).shape, out = ctx.outType(0).shape;
  const starts = constInts(ctx, 1, 'starts')!, ends = constInts(ctx, 2, 'ends')!;
  const axes = constInts(ctx, 3, 'axes') ?? starts.map((_, i) => i);
  const steps = constInts(ctx, 4, 'steps') ?? starts.map(() => 1);
  const spec = fullSpec(shape);
  axes.forEach((a0, k) => {
    const a = axisOf(a0, shape.length);
    const d = shape[a], o = out[a];
    if (typeof d !== 'number' || typeof o !== 'number') unsupported(`Slice along axis ${a}, whose size is known only at run time`);
    const step = steps[k]!;
    let s = starts[k]!;
    if (s < 0) s += d;
    s = step > 0 ? Math.min(Math.max(s, 0), d) : Math.min(Math.max(s, -1), d - 1);
    spec.start[a] = s; spec.size[a] = o; spec.stride[a] = step;
  });
  ctx.layer('slice', [ctx.input(0)], [ctx.output(0)], { ...spec, mode: 'strict' });
};

const splitMapper: Mapper = (ctx) => {
  const shape = ctx.inType(0).shape;
  const a = axisOf(attrInt(ctx.node, 'axis', 0), shape.length);
  let start = 0;
  ctx.node.outputs.forEach((o, k) => {
    const d = ctx.outType(k).shape[a];
    if (typeof d !== 'number') unsupported(`Split along axis ${a}, whose size is known only at run time`);
    if (o) {
      const spec = fullSpec(shape);
      spec.start[a] = start; spec.size[a] = d;
      ctx.layer('slice', [ctx.input(0)], [ctx.output(k)], { ...spec, mode: 'strict' });
    }
    start += d;
  });
};

const padMapper: Mapper = (ctx) => {
  const shape = ctx.inType(0).shape, out = ctx.outType(0).shape;
  const mode = attrString(ctx.node, 'mode', 'constant');
  const pads = constInts(ctx, 1, 'pads')!;
  const axes = (constInts(ctx, 3, 'axes') ?? shape.map((_, i) => i)).map((a) => axisOf(a, shape.length));
  const spec = fullSpec(shape);
  axes.forEach((a, k) => {
    const b = pads[k]!, e = pads[k + axes.length]!;
    if (b === 0 && e === 0) return;
    const o = out[a];
    if (typeof o !== 'number') unsupported(`Pad along axis ${a}, whose size is known only at run time`);
    spec.start[a] = -b; spec.size[a] = o;
  });
  const trtMode = mode === 'constant' ? 'fill' : mode === 'reflect' ? 'reflect' : mode === 'edge' ? 'clamp' : mode === 'wrap' ? 'wrap' : unsupported(`Pad mode ${mode}`);
  const inputs = [ctx.input(0)];
  if (trtMode === 'fill' && ctx.has(2)) {
    const v = ctx.constant(2);
    if (!v) unsupported('Pad value computed at run time');
    if (v.num(0) !== 0) inputs.push(ctx.weight(v.reshape([]), 'pad_value'));
  }
  ctx.layer('slice', inputs, [ctx.output(0)], { ...spec, mode: trtMode });
};

const gatherMapper: Mapper = (ctx) => {
  const shape = ctx.inType(0).shape;
  const a = axisOf(attrInt(ctx.node, 'axis', 0), shape.length);
  let idx = ctx.input(1);
  const c = ctx.constant(1);
  if (c && c.toNumberArray().some((v) => v < 0)) {
    // TensorRT's gather takes no negative indices: fold them against a static axis.
    const d = shape[a];
    if (typeof d !== 'number') unsupported('negative Gather indices on an axis known only at run time');
    const fixed = c.toNumberArray().map((v) => (v < 0 ? v + d : v));
    idx = ctx.weight(HostTensor.fromNumbers('int32', c.dims, fixed), 'indices');
  } else if (c && c.dtype === 'int64') {
    idx = ctx.weight(HostTensor.fromNumbers('int32', c.dims, c.toNumberArray()), 'indices');
  }
  ctx.layer('gather', [ctx.input(0), idx], [ctx.output(0)], { axis: a });
};

const softmaxMapper = (log: boolean): Mapper => (ctx) => {
  const r = ctx.inType(0).shape.length;
  const a = axisOf(attrInt(ctx.node, 'axis', -1), r);
  const s = ctx.layer('softmax', [ctx.input(0)], [log ? ctx.tmp('softmax') : ctx.output(0)], { axes: 2 ** a });
  if (log) ctx.layer('unary', [s], [ctx.output(0)], { op: 'log' });
};

export const tensorMappers: Record<string, Mapper> = {
  Reshape: reshapeLike, Flatten: reshapeLike, Squeeze: reshapeLike, Unsqueeze: reshapeLike,
  Transpose: (ctx) => {
    const r = ctx.inType(0).shape.length;
    const perm = attrInts(ctx.node, 'perm') ?? [...Array(r).keys()].reverse();
    ctx.layer('shuffle', [ctx.input(0)], [ctx.output(0)], { first: perm });
  },
  Concat: (ctx) => {
    const r = ctx.outType(0).shape.length;
    const ins: string[] = [];
    for (let i = 0; i < ctx.nIn; i++) if (ctx.has(i)) ins.push(ctx.input(i));
    ctx.layer('concatenation', ins, [ctx.output(0)], { axis: axisOf(attrInt(ctx.node, 'axis', 0), r) });
  },
  Slice: sliceMapper,
  Split: splitMapper,
  Pad: padMapper,
  Gather: gatherMapper,
  Shape: (ctx) => {
    const r = ctx.inType(0).shape.length;
    const s = axisOf(attrInt(ctx.node, 'start', 0), r), e = attrInt(ctx.node, 'end');
    if (s !== 0 || (e !== undefined && axisOf(e, r) < r)) unsupported('Shape with start / end');
    ctx.layer('shape', [ctx.input(0)], [ctx.output(0)]);
  },
  Softmax: softmaxMapper(false),
  LogSoftmax: softmaxMapper(true),
};
