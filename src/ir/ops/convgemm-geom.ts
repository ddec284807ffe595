/**
 * Window geometry of Conv, ConvTranspose and the pooling ops: output sizes and the begin/end pads
 * that auto_pad implies. One implementation, used by the schemas (output shapes, possibly symbolic)
 * and by the CPU kernels (pads for concrete inputs), so the two can never disagree.
 */
import type { Dim, Node } from '../graph.js';
import { attrInt, attrInts, attrString } from '../graph.js';
import { InferError } from '../schema.js';

export type AutoPad = 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';

/** Attributes shared by Conv, ConvTranspose and pools, normalized to one entry per spatial axis. */
export interface WindowAttrs {
  autoPad: AutoPad;
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Explicit pads (begin..., end...) or undefined when the attribute is absent. */
  pads: number[] | undefined;
}

/** Concrete geometry: everything a kernel needs to walk the windows. */
export interface WindowGeom {
  inSize: number[];
  outSize: number[];
  kernel: number[];
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  padsEnd: number[];
}

export function readAutoPad(node: Node): AutoPad {
  const a = attrString(node, 'auto_pad', 'NOTSET');
  if (a !== 'NOTSET' && a !== 'SAME_UPPER' && a !== 'SAME_LOWER' && a !== 'VALID') {
    throw new InferError(`${node.opType}: unknown auto_pad '${a}'`);
  }
  return a;
}

/** Reads and validates the window attributes for `rank` spatial axes. `kernel` falls back to W's dims. */
export function readWindowAttrs(node: Node, rank: number, kernelFallback?: readonly Dim[]): WindowAttrs {
  const op = node.opType;
  let kernel = attrInts(node, 'kernel_shape');
  if (!kernel) {
    if (!kernelFallback) throw new InferError(`${op}: kernel_shape is required`);
    if (kernelFallback.some((d) => typeof d !== 'number')) throw new InferError(`${op}: kernel size must be static`);
    kernel = kernelFallback as number[];
  }
  const strides = attrInts(node, 'strides') ?? new Array<number>(rank).fill(1);
  const dilations = attrInts(node, 'dilations') ?? new Array<number>(rank).fill(1);
  const pads = attrInts(node, 'pads');
  if (kernel.length !== rank) throw new InferError(`${op}: kernel_shape has ${kernel.length} dims, input has ${rank} spatial dims`);
  if (strides.length !== rank) throw new InferError(`${op}: strides has ${strides.length} entries, expected ${rank}`);
  if (dilations.length !== rank) throw new InferError(`${op}: dilations has ${dilations.length} entries, expected ${rank}`);
  if (pads && pads.length !== 2 * rank) throw new InferError(`${op}: pads has ${pads.length} entries, expected ${2 * rank}`);
  if (kernel.some((k) => k < 1) || strides.some((s) => s < 1) || dilations.some((d) => d < 1)) {
    throw new InferError(`${op}: kernel_shape, strides and dilations must be positive`);
  }
  if (pads && pads.some((p) => p < 0)) throw new InferError(`${op}: pads must be non-negative`);
  return { autoPad: readAutoPad(node), kernel: kernel.slice(), strides: strides.slice(), dilations: dilations.slice(), pads: pads?.slice() };
}

function splitTotal(total: number, autoPad: AutoPad): [number, number] {
  // SAME_UPPER puts the odd pixel at the end, SAME_LOWER at the beginning.
  const half = Math.floor(total / 2);
  return autoPad === 'SAME_UPPER' ? [half, total - half] : [total - half, half];
}

/**
 * Forward window (Conv, MaxPool, AveragePool). `ceilMode` only for pools. Symbolic input sizes give
 * symbolic outputs (the input dim itself when the window preserves size, else a descriptive name).
 */
export function forwardWindowDims(a: WindowAttrs, inSize: readonly Dim[], ceilMode = false): Dim[] {
  return inSize.map((d, i) => {
    const k = (a.kernel[i]! - 1) * a.dilations[i]! + 1;
    const s = a.strides[i]!;
    if (typeof d !== 'number') {
      if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') return s === 1 ? d : `ceil(${d}/${s})`;
      const p = a.autoPad === 'VALID' ? 0 : (a.pads?.[i] ?? 0) + (a.pads?.[i + inSize.length] ?? 0);
      if (s === 1 && p === k - 1) return d;
      const off = p - k + s; // (d + p - k)/s + 1 = (d + p - k + s)/s
      const num = off === 0 ? `${d}` : `${d}${off > 0 ? '+' : '-'}${Math.abs(off)}`;
      return s === 1 ? num : `${ceilMode ? 'ceil' : 'floor'}((${num})/${s})`;
    }
    return forwardOne(a, i, d, inSize.length, ceilMode).out;
  });
}

function forwardOne(a: WindowAttrs, i: number, d: number, rank: number, ceilMode: boolean): { out: number; pb: number; pe: number } {
  const k = (a.kernel[i]! - 1) * a.dilations[i]! + 1;
  const s = a.strides[i]!;
  if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') {
    const out = Math.ceil(d / s);
    const [pb, pe] = splitTotal(Math.max(0, (out - 1) * s + k - d), a.autoPad);
    return { out, pb, pe };
  }
  const pb = a.autoPad === 'VALID' ? 0 : a.pads?.[i] ?? 0;
  const pe = a.autoPad === 'VALID' ? 0 : a.pads?.[i + rank] ?? 0;
  const span = d + pb + pe - k;
  if (span < 0) throw new InferError(`window of size ${k} does not fit in input of size ${d} (pads ${pb}+${pe})`);
  let out = (ceilMode ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // ceil_mode: the last window must start inside the input or its begin padding (PyTorch/ORT rule).
  if (ceilMode && (out - 1) * s >= d + pb) out--;
  return { out, pb, pe };
}

/** Concrete forward geometry for a kernel. */
export function forwardGeom(a: WindowAttrs, inSize: readonly number[], ceilMode = false): WindowGeom {
  const rank = inSize.length;
  const g: WindowGeom = {
    inSize: inSize.slice(), outSize: [], kernel: a.kernel, strides: a.strides, dilations: a.dilations, padsBegin: [], padsEnd: [],
  };
  for (let i = 0; i < rank; i++) {
    const r = forwardOne(a, i, inSize[i]!, rank, ceilMode);
    g.outSize.push(r.out); g.padsBegin.push(r.pb); g.padsEnd.push(r.pe);
  }
  return g;
}

/** ConvTranspose attributes beyond the window ones. */
export interface TransposeAttrs extends WindowAttrs {
  outputPadding: number[];
  /** Explicit spatial output shape, when given. */
  outputShape: number[] | undefined;
}

export function readTransposeAttrs(node: Node, rank: number, kernelFallback: readonly Dim[]): TransposeAttrs {
  const a = readWindowAttrs(node, rank, kernelFallback);
  const outputPadding = attrInts(node, 'output_padding') ?? new Array<number>(rank).fill(0);
  if (outputPadding.length !== rank) throw new InferError(`ConvTranspose: output_padding has ${outputPadding.length} entries, expected ${rank}`);
  let outputShape = attrInts(node, 'output_shape');
  // Some exporters write the full N,C,spatial shape; only the spatial part matters.
  if (outputShape && outputShape.length === rank + 2) outputShape = outputShape.slice(2);
  if (outputShape && outputShape.length !== rank) throw new InferError(`ConvTranspose: output_shape has ${outputShape.length} entries, expected ${rank}`);
  return { ...a, outputPadding: outputPadding.slice(), outputShape: outputShape?.slice() };
}

function transposeOne(a: TransposeAttrs, i: number, d: number, rank: number): { out: number; pb: number; pe: number } {
  const k = (a.kernel[i]! - 1) * a.dilations[i]! + 1;
  const s = a.strides[i]!;
  const full = s * (d - 1) + a.outputPadding[i]! + k;
  if (a.outputShape || a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') {
    const out = a.outputShape ? a.outputShape[i]! : d * s;
    // Spec: total_padding = full - out, split with the odd pixel at the begin unless SAME_UPPER
    // (floor division, as the ONNX reference: a negative total extends the output at the end).
    const [pb, pe] = splitTotal(full - out, a.autoPad === 'SAME_UPPER' ? 'SAME_UPPER' : 'SAME_LOWER');
    return { out, pb, pe };
  }
  const pb = a.autoPad === 'VALID' ? 0 : a.pads?.[i] ?? 0;
  const pe = a.autoPad === 'VALID' ? 0 : a.pads?.[i + rank] ?? 0;
  const out = full - pb - pe;
  if (out < 1) throw new InferError(`ConvTranspose: output size ${out} is not positive`);
  return { out, pb, pe };
}

export function transposeDims(a: TransposeAttrs, inSize: readonly Dim[]): Dim[] {
  return inSize.map((d, i) => {
    if (typeof d === 'number') return transposeOne(a, i, d, inSize.length).out;
    if (a.outputShape) return a.outputShape[i]!;
    const s = a.strides[i]!;
    if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') return s === 1 ? d : `${d}*${s}`;
    return `convT(${d},${s},${a.kernel[i]},${a.dilations[i]})`;
  });
}

/** Concrete ConvTranspose geometry: inSize is X's spatial size, outSize Y's. */
export function transposeGeom(a: TransposeAttrs, inSize: readonly number[]): WindowGeom {
  const rank = inSize.length;
  const g: WindowGeom = {
    inSize: inSize.slice(), outSize: [], kernel: a.kernel, strides: a.strides, dilations: a.dilations, padsBegin: [], padsEnd: [],
  };
  for (let i = 0; i < rank; i++) {
    const r = transposeOne(a, i, inSize[i]!, rank);
    g.outSize.push(r.out); g.padsBegin.push(r.pb); g.padsEnd.push(r.pe);
  }
  return g;
}

export function groupAttr(node: Node): number {
  const g = attrInt(node, 'group', 1);
  if (g < 1) throw new InferError(`${node.opType}: group must be positive`);
  return g;
}
