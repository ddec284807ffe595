/**
 * INT8 arithmetic shared by the quantization passes and the reference kernels: ONNX's rounding
 * (half to even), symmetric per-output-channel weight quantization, activation quantization.
 * Browser-safe.
 */
import { HostTensor } from '../ir/tensor.js';

/** Round half to even, as ONNX QuantizeLinear (and IEEE rint) does. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface QuantizedWeights {
  /** int8 values, the weight's layout. */
  q: Int8Array;
  /** One float32 scale per slice along `axis`: w ~= q * scale. */
  scales: Float32Array;
}

/**
 * Symmetric quantization of a float weight along `axis` (its output channels): scale = max|w| / 127
 * per slice (1 for an all-zero slice, so dequantization stays exact), q = clamp(rne(w / scale), -127, 127).
 * [-127, 127] rather than [-128, 127] keeps the range symmetric, as TensorRT does.
 */
export function quantizeWeightsPerChannel(w: HostTensor, axis: number): QuantizedWeights {
  if (axis < 0 || axis >= w.rank) throw new Error(`weight axis ${axis} is outside rank ${w.rank}`);
  const data = w.numbers;
  const C = w.dims[axis]!;
  const inner = w.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = w.size / (C * inner || 1);
  const amax = new Float64Array(C);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < C; c++) {
      const base = (o * C + c) * inner;
      let m = amax[c]!;
      for (let i = 0; i < inner; i++) { const v = Math.abs(data[base + i]!); if (v > m) m = v; }
      amax[c] = m;
    }
  }
  const scales = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const m = amax[c]!;
    if (!Number.isFinite(m)) throw new Error(`weight channel ${c} holds a non-finite value`);
    scales[c] = m > 0 ? m / 127 : 1;
  }
  const q = new Int8Array(w.size);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < C; c++) {
      const base = (o * C + c) * inner, s = scales[c]!;
      for (let i = 0; i < inner; i++) q[base + i] = Math.max(-127, Math.min(127, roundHalfEven(data[base + i]! / s)));
    }
  }
  return { q, scales };
}

/** The W and W_scale initializers of a Q op from a float weight (see src/ir/ops/qfused.ts). */
export function int8Weights(w: HostTensor, axis: number): { w: HostTensor; scale: HostTensor } {
  const { q, scales } = quantizeWeightsPerChannel(w, axis);
  return { w: new HostTensor('int8', w.dims.slice(), q), scale: new HostTensor('float32', [scales.length], scales) };
}

/** Dequantizes int8 weights quantized along `axis` back to float32 (the fp16/fp32 fallback of a Q op). */
export function dequantizeWeights(w: HostTensor, scale: HostTensor, axis: number): HostTensor {
  const C = w.dims[axis]!;
  const inner = w.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const s = scale.numbers, q = w.numbers;
  const out = new Float32Array(w.size);
  for (let i = 0; i < out.length; i++) {
    const c = s.length === 1 ? 0 : Math.floor(i / inner) % C;
    out[i] = q[i]! * s[c]!;
  }
  return new HostTensor('float32', w.dims.slice(), out);
}

/** 1.5 * 2^52: (q + RNE) - RNE rounds a double |q| < 2^51 to an integer, half to even (the FPU's own rounding). */
const RNE = 6755399441055744;

/**
 * Quantizes activations for integer compute: returns (clamp(rne(x / scale) + zp, qmin, qmax) - zp)
 * as float32 integers (|v| <= 255), ready for an exact float GEMM on bounded K blocks. NaN gives 0
 * (the zero point). `scale` should be a float32 value (quantParams rounds it).
 */
export function quantizeCentered(x: ArrayLike<number>, scale: number, zeroPoint: number, qmin: number, qmax: number, out = new Float32Array(x.length)): Float32Array {
  // Clamping the quotient first (one past the range) keeps it where the RNE trick is exact and
  // sends infinities to the range ends; it changes nothing that the final clamp would not.
  const lo = qmin - zeroPoint - 1, hi = qmax - zeroPoint + 1, n = x.length;
  for (let i = 0; i < n; i++) {
    // x / scale, not x * (1/scale): the reference divides, and the two round differently at .5 ties.
    let q = x[i]! / scale;
    q = q < lo ? lo : q > hi ? hi : q;
    let v = q + RNE - RNE + zeroPoint;
    v = v < qmin ? qmin : v > qmax ? qmax : v;
    out[i] = v === v ? v - zeroPoint : 0;
  }
  return out;
}
