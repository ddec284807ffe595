/**
 * Resize (opset-19 internal form) and Upsample (rewritten to Resize at import).
 *
 * `resizeGeometry` is the single place where Resize's output size and per-axis scales are computed:
 * the schema uses it for shapes, and the CPU kernel for the scales its coordinate transforms need
 * (the kernel takes the output dims from inference, as every kernel does).
 *
 * Upgrades:
 * - Upsample-1 (height_scale/width_scale attrs), Upsample-7 (scales attr) and Upsample-9 / Resize-10
 *   (scales input) become Resize with inputs [X, '', scales], coordinate_transformation_mode=asymmetric
 *   and, for nearest, nearest_mode=floor: the sampling those versions defined (x_in = floor(x_out / scale)).
 * - Resize-11..18 need no rewrite: later opsets only added attributes whose defaults keep the old
 *   behaviour. Opset 11/12 models pass an empty tensor for unused roi/scales; an empty tensor counts
 *   as absent here and in the kernel. tf_half_pixel_for_nn (opsets 11-12 only) stays supported.
 */
import { HostTensor } from '../tensor.js';
import { attrFloat, attrFloats, attrInt, attrInts, attrString, type Dim, type Node } from '../graph.js';
import { InferError, type InferContext, type OpSchema, type SchemaRegistry, type UpgradeContext } from '../schema.js';
import { normalizeAxis } from '../shape-utils.js';

const MODES = new Set(['nearest', 'linear', 'cubic']);
const COORD_MODES = new Set([
  'half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric',
  'tf_crop_and_resize', 'tf_half_pixel_for_nn',
]);
const NEAREST_MODES = new Set(['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']);
const ASPECT_POLICIES = new Set(['stretch', 'not_larger', 'not_smaller']);

/** Resize attributes, validated (throws InferError on unknown values). */
export interface ResizeAttrs {
  mode: 'nearest' | 'linear' | 'cubic';
  coordMode: string;
  nearestMode: string;
  cubicA: number;
  excludeOutside: boolean;
  extrapolationValue: number;
  antialias: boolean;
  keepAspect: 'stretch' | 'not_larger' | 'not_smaller';
  /** Normalized axes, or undefined for all axes (then rank is needed to expand). */
  axes: number[] | undefined;
}

export function resizeAttrs(node: Node, rank: number | undefined): ResizeAttrs {
  let a: ResizeAttrs;
  try {
    a = {
      mode: attrString(node, 'mode', 'nearest') as ResizeAttrs['mode'],
      coordMode: attrString(node, 'coordinate_transformation_mode', 'half_pixel'),
      nearestMode: attrString(node, 'nearest_mode', 'round_prefer_floor'),
      cubicA: attrFloat(node, 'cubic_coeff_a', -0.75),
      excludeOutside: attrInt(node, 'exclude_outside', 0) !== 0,
      extrapolationValue: attrFloat(node, 'extrapolation_value', 0),
      antialias: attrInt(node, 'antialias', 0) !== 0,
      keepAspect: attrString(node, 'keep_aspect_ratio_policy', 'stretch') as ResizeAttrs['keepAspect'],
      axes: attrInts(node, 'axes'),
    };
  } catch (e) {
    throw new InferError(`Resize: ${(e as Error).message}`);
  }
  if (!MODES.has(a.mode)) throw new InferError(`Resize: unknown mode '${a.mode}'`);
  if (!COORD_MODES.has(a.coordMode)) throw new InferError(`Resize: unknown coordinate_transformation_mode '${a.coordMode}'`);
  if (!NEAREST_MODES.has(a.nearestMode)) throw new InferError(`Resize: unknown nearest_mode '${a.nearestMode}'`);
  if (!ASPECT_POLICIES.has(a.keepAspect)) throw new InferError(`Resize: unknown keep_aspect_ratio_policy '${a.keepAspect}'`);
  if (a.axes && rank !== undefined) {
    a.axes = a.axes.map((x) => normalizeAxis(x, rank));
    if (new Set(a.axes).size !== a.axes.length) throw new InferError('Resize: duplicate axes');
  }
  return a;
}

/** A present, non-empty tensor (opset 11/12 pass empty tensors for unused inputs). */
function given(t: HostTensor | undefined): HostTensor | undefined {
  return t && t.size > 0 ? t : undefined;
}

export interface ResizeGeometry {
  outDims: number[];
  /** Per-axis scale used by the coordinate transforms (full rank). */
  scales: number[];
  /** Full-rank roi [starts..., ends...] (only meaningful for tf_crop_and_resize). */
  roi: number[];
}

/**
 * Output size and per-axis scales of a Resize on concrete input dims. Follows the ONNX reference:
 * scales: out = floor(in * scale) (times the roi extent for tf_crop_and_resize, as the spec says);
 * sizes: scale = out / in, or one common scale for keep_aspect_ratio_policy, out = floor(scale*in + 0.5).
 */
export function resizeGeometry(
  attrs: ResizeAttrs, inDims: readonly number[], roiT: HostTensor | undefined,
  scalesT: HostTensor | undefined, sizesT: HostTensor | undefined,
): ResizeGeometry {
  const r = inDims.length;
  const axes = attrs.axes ?? [...Array(r).keys()];
  const scalesV = given(scalesT)?.toNumberArray();
  const sizesV = given(sizesT)?.toNumberArray();
  const roiV = given(roiT)?.toNumberArray();
  const roi = [...new Array<number>(r).fill(0), ...new Array<number>(r).fill(1)];
  if (roiV) {
    if (roiV.length !== 2 * axes.length) throw new InferError(`Resize: roi has ${roiV.length} values, expected ${2 * axes.length}`);
    axes.forEach((ax, i) => { roi[ax] = roiV[i]!; roi[r + ax] = roiV[axes.length + i]!; });
  }
  const scales = new Array<number>(r).fill(1);
  const outDims = inDims.slice();
  if (sizesV) {
    if (scalesV) throw new InferError('Resize: only one of scales and sizes may be given');
    if (sizesV.length !== axes.length) throw new InferError(`Resize: sizes has ${sizesV.length} values, expected ${axes.length}`);
    if (attrs.keepAspect === 'stretch') {
      axes.forEach((ax, i) => { outDims[ax] = sizesV[i]!; scales[ax] = sizesV[i]! / inDims[ax]!; });
    } else {
      let s = attrs.keepAspect === 'not_larger' ? Infinity : -Infinity;
      axes.forEach((ax, i) => {
        const v = sizesV[i]! / inDims[ax]!;
        s = attrs.keepAspect === 'not_larger' ? Math.min(s, v) : Math.max(s, v);
      });
      for (const ax of axes) { scales[ax] = s; outDims[ax] = Math.floor(s * inDims[ax]! + 0.5); }
    }
  } else if (scalesV) {
    if (scalesV.length !== axes.length) throw new InferError(`Resize: scales has ${scalesV.length} values, expected ${axes.length}`);
    axes.forEach((ax, i) => {
      const s = scalesV[i]!;
      if (!(s > 0)) throw new InferError(`Resize: scales must be positive, got ${s}`);
      scales[ax] = s;
      const extent = attrs.coordMode === 'tf_crop_and_resize' ? roi[r + ax]! - roi[ax]! : 1;
      outDims[ax] = Math.floor(inDims[ax]! * extent * s);
    });
  } else {
    throw new InferError('Resize: one of scales and sizes must be given');
  }
  for (const d of outDims) if (!(d >= 0) || !Number.isInteger(d)) throw new InferError(`Resize: invalid output size ${d}`);
  return { outDims, scales, roi };
}

function inferResize(ctx: InferContext): ReturnType<OpSchema['infer']> {
  const x = ctx.inputs[0];
  if (!x) throw new InferError('Resize: input 0 is required');
  const rank = x.shape?.length;
  const attrs = resizeAttrs(ctx.node, rank);
  if (attrs.mode !== 'nearest' && x.dtype === 'string') throw new InferError('Resize: strings support nearest mode only');
  if (!x.shape) return [{ dtype: x.dtype, shape: undefined }];
  const r = x.shape.length;
  const axes = attrs.axes ?? [...Array(r).keys()];
  // Inputs given as '' are undefined; a constant empty tensor (opset 11/12 style) also means "absent".
  const scalesT = ctx.inputs[2] ? ctx.value(2) : undefined;
  const sizesT = ctx.inputs[3] ? ctx.value(3) : undefined;
  const roiT = ctx.inputs[1] ? ctx.value(1) : undefined;
  const scalesKnown = !ctx.inputs[2] || scalesT !== undefined;
  const sizesKnown = !ctx.inputs[3] || sizesT !== undefined;
  const roiKnown = !ctx.inputs[1] || roiT !== undefined || attrs.coordMode !== 'tf_crop_and_resize';
  const fresh = (): Dim[] => x.shape!.map((d, i) => (axes.includes(i) ? ctx.freshDim('resize') : d));
  if (!scalesKnown || !sizesKnown || !roiKnown) {
    // sizes known and stretch: output dims do not depend on the input dims or on an unknown (empty) scales.
    const s = given(sizesT);
    if (s && attrs.keepAspect === 'stretch' && s.size === axes.length) {
      const out = x.shape.slice();
      axes.forEach((ax, i) => { out[ax] = s.num(i); });
      return [{ dtype: x.dtype, shape: out }];
    }
    return [{ dtype: x.dtype, shape: fresh() }];
  }
  if (x.shape.every((d) => typeof d === 'number')) {
    const g = resizeGeometry(attrs, x.shape as number[], roiT, scalesT, sizesT);
    return [{ dtype: x.dtype, shape: g.outDims }];
  }
  // Symbolic input dims: exact where the answer does not depend on them.
  const sizesV = given(sizesT)?.toNumberArray();
  const scalesV = given(scalesT)?.toNumberArray();
  const out = x.shape.slice();
  if (sizesV) {
    if (sizesV.length !== axes.length) throw new InferError(`Resize: sizes has ${sizesV.length} values, expected ${axes.length}`);
    if (attrs.keepAspect !== 'stretch') return [{ dtype: x.dtype, shape: fresh() }];
    axes.forEach((ax, i) => { out[ax] = sizesV[i]!; });
  } else if (scalesV) {
    if (scalesV.length !== axes.length) throw new InferError(`Resize: scales has ${scalesV.length} values, expected ${axes.length}`);
    const tfCrop = attrs.coordMode === 'tf_crop_and_resize';
    const roiV = given(roiT)?.toNumberArray();
    axes.forEach((ax, i) => {
      const d = out[ax]!;
      const s = scalesV[i]!;
      const extent = tfCrop && roiV ? roiV[axes.length + i]! - roiV[i]! : 1;
      if (typeof d === 'number') out[ax] = Math.floor(d * extent * s);
      else if (s === 1 && extent === 1) out[ax] = d;
      else if (Number.isInteger(s) && s > 1 && extent === 1) out[ax] = `${d}*${s}`;
      else out[ax] = ctx.freshDim('resize');
    });
  } else {
    throw new InferError('Resize: one of scales and sizes must be given');
  }
  return [{ dtype: x.dtype, shape: out }];
}

const Resize: OpSchema = {
  inputs: [1, 4],
  outputs: [1, 1],
  infer: inferResize,
  upgrade(node, ctx) {
    if (ctx.opset < 11) {
      // Resize-10: [X, scales], sampled like Upsample.
      node.inputs = [node.inputs[0]!, '', node.inputs[1] ?? ''];
      legacySampling(node);
    }
  },
};

function legacySampling(node: Node): void {
  const mode = attrString(node, 'mode', 'nearest');
  node.attrs['mode'] = mode === 'bilinear' ? 'linear' : mode;
  node.attrs['coordinate_transformation_mode'] = 'asymmetric';
  if (node.attrs['mode'] === 'nearest') node.attrs['nearest_mode'] = 'floor';
}

const Upsample: OpSchema = {
  inputs: [1, 2],
  outputs: [1, 1],
  infer() {
    throw new InferError('Upsample is rewritten to Resize at import (its upgrade did not run)');
  },
  upgrade(node: Node, ctx: UpgradeContext) {
    let scalesName = node.inputs[1] ?? '';
    if (!scalesName) {
      let scales = attrFloats(node, 'scales');
      if (!scales) {
        const h = attrFloat(node, 'height_scale');
        const w = attrFloat(node, 'width_scale');
        if (h === undefined || w === undefined) throw new InferError('Upsample: scales are missing');
        scales = [1, 1, h, w];
      }
      scalesName = ctx.constant(HostTensor.fromNumbers('float32', [scales.length], scales), 'scales');
    }
    for (const a of ['scales', 'height_scale', 'width_scale']) delete node.attrs[a];
    node.opType = 'Resize';
    node.inputs = [node.inputs[0]!, '', scalesName];
    legacySampling(node);
  },
};

export const resizeSchemas: SchemaRegistry = { Resize, Upsample };
