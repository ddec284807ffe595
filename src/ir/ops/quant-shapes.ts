/**
 * Shape helpers of the quantization family: where the scale / zero point of QuantizeLinear and
 * DequantizeLinear apply (per tensor, per axis, blocked), the output shape and pads of the integer
 * convolutions (QLinearConv, ConvInteger) and the numpy matmul shape of the integer matmuls.
 * The pad resolution is shared with the CPU kernels so that SAME_* padding is computed in one place.
 */
import { attrInt, attrInts, attrString, type Dim, type Node } from '../graph.js';
import { InferError } from '../schema.js';
import { broadcastDims } from '../shape-utils.js';

// ---- scale / zero-point layouts ----

export type QuantMode = 'tensor' | 'axis' | 'block';

/**
 * Classifies a scale (or zero point) shape against the input shape, as the ONNX reference does:
 * one element = per tensor (whatever its rank); else block_size > 0 = blocked (same rank, the axis
 * dim is ceil(dim / block_size)); else a 1-D tensor of dims[axis] elements = per axis.
 * Dims that are symbolic are not checked. Throws InferError when the shapes do not fit.
 */
export function quantMode(
  xShape: readonly Dim[], pShape: readonly Dim[], axis: number, blockSize: number, what: string,
): QuantMode {
  if (pShape.length === 0 || pShape.every((d) => d === 1)) return 'tensor';
  if (blockSize < 0) throw new InferError(`block_size must be >= 0, got ${blockSize}`);
  const rank = xShape.length;
  if (axis < -rank || axis >= rank) throw new InferError(`axis ${axis} out of range for rank ${rank}`);
  const ax = axis < 0 ? axis + rank : axis;
  if (blockSize > 0) {
    if (pShape.length !== rank) {
      throw new InferError(`blocked quantization: ${what} must have the rank of the input (${rank}), got [${pShape.join(',')}]`);
    }
    for (let i = 0; i < rank; i++) {
      const xd = xShape[i]!, pd = pShape[i]!;
      if (typeof xd !== 'number' || typeof pd !== 'number') continue;
      const want = i === ax ? Math.ceil(xd / blockSize) : xd;
      if (pd !== want) {
        throw new InferError(`blocked quantization: ${what} shape [${pShape.join(',')}] does not fit input [${xShape.join(',')}] with axis ${ax}, block_size ${blockSize}`);
      }
    }
    return 'block';
  }
  if (pShape.length !== 1) throw new InferError(`${what} must be a scalar or 1-D (per-axis) without block_size, got [${pShape.join(',')}]`);
  const xd = xShape[ax]!, pd = pShape[0]!;
  if (typeof xd === 'number' && typeof pd === 'number' && xd !== pd) {
    throw new InferError(`per-axis ${what} has ${pd} elements, input dim ${ax} is ${xd}`);
  }
  return 'axis';
}

// ---- integer convolutions ----

export interface ConvGeometry {
  /** Spatial kernel dims. */
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** [begin..., end...] as in ONNX. */
  pads: number[];
  group: number;
}

/**
 * Reads and validates the conv attributes of `node` for weights of dims `wShape` and, when the
 * input's spatial dims are known, resolves auto_pad into explicit pads. Spatial input dims that are
 * symbolic leave SAME_* pads at 0 (only the output shape, computed elsewhere, needs them then).
 */
export function convGeometry(node: Node, wShape: readonly Dim[], xSpatial?: readonly Dim[]): ConvGeometry {
  const nsp = wShape.length - 2;
  if (nsp < 1) throw new InferError(`weights must have rank >= 3, got ${wShape.length}`);
  const kAttr = attrInts(node, 'kernel_shape');
  const kernel = kAttr ?? wShape.slice(2).map((d) => {
    if (typeof d !== 'number') throw new InferError('kernel_shape is needed when the weight dims are symbolic');
    return d;
  });
  if (kernel.length !== nsp) throw new InferError(`kernel_shape has ${kernel.length} dims, weights have ${nsp} spatial dims`);
  for (let i = 0; i < nsp; i++) {
    const wd = wShape[i + 2]!;
    if (typeof wd === 'number' && wd !== kernel[i]) throw new InferError(`kernel_shape [${kernel.join(',')}] does not match weights [${wShape.join(',')}]`);
  }
  const strides = attrInts(node, 'strides', new Array<number>(nsp).fill(1));
  const dilations = attrInts(node, 'dilations', new Array<number>(nsp).fill(1));
  const group = attrInt(node, 'group', 1);
  if (strides.length !== nsp || strides.some((s) => s < 1)) throw new InferError(`invalid strides [${strides.join(',')}]`);
  if (dilations.length !== nsp || dilations.some((s) => s < 1)) throw new InferError(`invalid dilations [${dilations.join(',')}]`);
  if (group < 1) throw new InferError(`invalid group ${group}`);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  let pads: number[];
  if (autoPad === 'NOTSET') {
    pads = attrInts(node, 'pads', new Array<number>(2 * nsp).fill(0));
    if (pads.length !== 2 * nsp || pads.some((p) => p < 0)) throw new InferError(`invalid pads [${pads.join(',')}]`);
  } else if (autoPad === 'VALID') {
    pads = new Array<number>(2 * nsp).fill(0);
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    pads = new Array<number>(2 * nsp).fill(0);
    for (let i = 0; i < nsp; i++) {
      const inD = xSpatial?.[i];
      if (typeof inD !== 'number') continue;
      const out = Math.ceil(inD / strides[i]!);
      const total = Math.max(0, (out - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - inD);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + nsp] = total - pads[i]!;
    }
  } else {
    throw new InferError(`unknown auto_pad '${autoPad}'`);
  }
  return { kernel, strides, dilations, pads, group };
}

/** Output shape [N, M, spatial...] of an integer convolution (QLinearConv / ConvInteger). */
export function convOutputShape(
  node: Node, xShape: readonly Dim[], wShape: readonly Dim[], freshDim: (hint: string) => string,
): Dim[] {
  if (xShape.length !== wShape.length) throw new InferError(`input rank ${xShape.length} differs from weight rank ${wShape.length}`);
  const nsp = wShape.length - 2;
  const g = convGeometry(node, wShape, xShape.slice(2));
  const c = xShape[1]!, wc = wShape[1]!, m = wShape[0]!;
  if (typeof c === 'number' && typeof wc === 'number' && c !== wc * g.group) {
    throw new InferError(`input has ${c} channels, weights expect ${wc} x group ${g.group}`);
  }
  if (typeof m === 'number' && m % g.group !== 0) throw new InferError(`output channels ${m} not divisible by group ${g.group}`);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const out: Dim[] = [xShape[0]!, m];
  for (let i = 0; i < nsp; i++) {
    const inD = xShape[i + 2]!;
    if (typeof inD !== 'number') { out.push(freshDim('conv_out')); continue; }
    let o: number;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') o = Math.ceil(inD / g.strides[i]!);
    else {
      const span = (g.kernel[i]! - 1) * g.dilations[i]! + 1;
      o = Math.floor((inD + g.pads[i]! + g.pads[i + nsp]! - span) / g.strides[i]!) + 1;
    }
    if (o < 1) throw new InferError(`convolution output dim ${i} would be ${o} (input ${inD}, kernel ${g.kernel[i]})`);
    out.push(o);
  }
  return out;
}

// ---- integer matmuls ----

/** numpy matmul output shape (1-D operands are promoted then their added dim removed). */
export function matmulShape(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  if (a.length === 0 || b.length === 0) throw new InferError('matmul operands must have rank >= 1');
  const a2 = a.length === 1 ? [1, a[0]!] : a.slice();
  const b2 = b.length === 1 ? [b[0]!, 1] : b.slice();
  const ka = a2[a2.length - 1]!, kb = b2[b2.length - 2]!;
  if (typeof ka === 'number' && typeof kb === 'number' && ka !== kb) {
    throw new InferError(`matmul inner dims differ: [${a.join(',')}] x [${b.join(',')}]`);
  }
  const batch = broadcastDims(a2.slice(0, -2), b2.slice(0, -2));
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]!);
  if (b.length > 1) out.push(b2[b2.length - 1]!);
  return out;
}
