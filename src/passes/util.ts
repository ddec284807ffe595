/** Small helpers shared by the passes: reading constants as per-channel vectors, copying nodes. */
import type { Node } from '../ir/graph.js';
import { HostTensor } from '../ir/tensor.js';
import type { GraphView } from './view.js';

/**
 * The length-C vector a constant broadcasts to along axis 1 of a rank-`rank` tensor, when it is
 * per-channel (shape [C,1,..,1] aligned to axis 1, [1,C,1..], or a scalar); undefined otherwise.
 * Only float32 constants are folded into weights.
 */
export function perChannel(t: HostTensor | undefined, C: number, rank: number): Float64Array | undefined {
  if (!t || t.dtype !== 'float32') return undefined;
  const d = t.data as Float32Array;
  if (t.size === 1) return new Float64Array(C).fill(d[0]!);
  if (t.size !== C) return undefined;
  // Right-aligned broadcast: the C must sit at axis 1 of the rank-`rank` output.
  const dims = t.dims;
  if (dims.length > rank) return undefined;
  const axis = rank - dims.length + dims.findIndex((x) => x === C);
  if (axis !== 1 || dims.filter((x) => x !== 1).length !== 1) return undefined;
  return Float64Array.from(d);
}

/** The per-column (last axis) vector of a constant broadcast over a [..., N] tensor. */
export function perLastAxis(t: HostTensor | undefined, N: number): Float64Array | undefined {
  if (!t || t.dtype !== 'float32') return undefined;
  const d = t.data as Float32Array;
  if (t.size === 1) return new Float64Array(N).fill(d[0]!);
  if (t.size !== N || t.dims[t.dims.length - 1] !== N) return undefined;
  return Float64Array.from(d);
}

export function f32(values: ArrayLike<number>, dims: readonly number[]): HostTensor {
  return new HostTensor('float32', dims, Float32Array.from(values));
}

export function copyNode(n: Node, changes: Partial<Node>): Node {
  return { ...n, inputs: n.inputs.slice(), outputs: n.outputs.slice(), attrs: { ...n.attrs }, ...(n.attrTypes ? { attrTypes: { ...n.attrTypes } } : {}), ...changes };
}

/** Static rank of a value, if known. */
export function rankOf(view: GraphView, v: string): number | undefined {
  return view.type(v)?.shape?.length;
}

/** Channel count (axis 1) of a conv output from its weight: M for Conv, (M/g)*g for ConvTranspose. */
export function convOutChannels(node: Node, w: HostTensor): number {
  if (node.opType === 'ConvTranspose' || node.opType === 'FusedConvTranspose') {
    const g = typeof node.attrs['group'] === 'number' ? node.attrs['group'] : 1;
    return w.dims[1]! * g;
  }
  return w.dims[0]!;
}

/** Scales a conv weight per output channel: W'[m] = W[m] * s[m] (ConvTranspose layout handled). */
export function scaleConvWeight(node: Node, w: HostTensor, s: Float64Array): HostTensor {
  const src = w.data as Float32Array;
  const out = new Float32Array(src.length);
  if (node.opType === 'ConvTranspose' || node.opType === 'FusedConvTranspose') {
    const g = typeof node.attrs['group'] === 'number' ? node.attrs['group'] : 1;
    const [C, Mg] = [w.dims[0]!, w.dims[1]!];
    const inner = src.length / (C * Mg);
    for (let c = 0; c < C; c++) {
      const grp = Math.floor(c / (C / g));
      for (let j = 0; j < Mg; j++) {
        const k = s[grp * Mg + j]!, base = (c * Mg + j) * inner;
        for (let i = 0; i < inner; i++) out[base + i] = src[base + i]! * k;
      }
    }
  } else {
    const M = w.dims[0]!, inner = src.length / M;
    for (let m = 0; m < M; m++) { const k = s[m]!; for (let i = 0; i < inner; i++) out[m * inner + i] = src[m * inner + i]! * k; }
  }
  return new HostTensor('float32', w.dims, out);
}
