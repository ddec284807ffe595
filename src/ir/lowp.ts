/**
 * Bit-exact codecs for the float types narrower than float32. Values of these types are stored
 * rounded in Float32Array (see dtype.ts); these functions convert between that form and the bit
 * patterns ONNX stores, and round a float32 result to the type (round-to-nearest-even).
 */
import type { DType } from './dtype.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> IEEE binary16 bits, round to nearest even, overflow to inf, NaN kept. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && (m & 1))) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (m & 1))) {
    m++;
    if (m === 0x400) { m = 0; e++; if (e >= 0x1f) return sign | 0x7c00; }
  }
  return sign | (e << 10) | m;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** float32 -> bfloat16 bits, round to nearest even. */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff)) return ((b >>> 16) | 0x40) & 0xffff;
  const rounded = b + 0x7fff + ((b >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/**
 * Decodes the bit pattern of a low-precision float to its value.
 * Float8 / float4 variants follow the ONNX spec (onnx.numpy_helper semantics).
 */
export function decodeLowp(dtype: DType, bits: number): number {
  switch (dtype) {
    case 'float16': return f16BitsToF32(bits);
    case 'bfloat16': return bf16BitsToF32(bits);
    default: return decodeNarrow(dtype, bits);
  }
}

/** Encodes a value to the bit pattern of a low-precision float (saturate applies to float8 only). */
export function encodeLowp(dtype: DType, x: number, saturate = true): number {
  switch (dtype) {
    case 'float16': return f32ToF16Bits(x);
    case 'bfloat16': return f32ToBf16Bits(x);
    default: return encodeNarrow(dtype, x, saturate);
  }
}

/** Rounds a value to the nearest representable value of `dtype` (identity for float32/float64). */
export function roundToDtype(dtype: DType, x: number, saturate = true): number {
  switch (dtype) {
    case 'float32': return Math.fround(x);
    case 'float64': return x;
    default: return decodeLowp(dtype, encodeLowp(dtype, x, saturate));
  }
}

/** Rounds every element of `data` in place to `dtype`. No-op for float32/float64. */
export function roundArrayToDtype(dtype: DType, data: Float32Array): void {
  if (dtype === 'float32' || dtype === 'float64') return;
  for (let i = 0; i < data.length; i++) data[i] = roundToDtype(dtype, data[i]!);
}

// ---- float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz) and float4e2m1 ----
// TODO(owner: elementwise/cast work): implement per the ONNX spec.
function decodeNarrow(dtype: DType, _bits: number): number {
  throw new Error(`decodeLowp: ${dtype} not implemented`);
}
function encodeNarrow(dtype: DType, _x: number, _saturate: boolean): number {
  throw new Error(`encodeLowp: ${dtype} not implemented`);
}
