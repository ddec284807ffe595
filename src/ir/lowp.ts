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

/** Value of every float16 bit pattern, built on first use (256 KiB): rounding loops decode by lookup. */
let f16Table: Float32Array | undefined;
function f16Values(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32(h);
  }
  return f16Table;
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
    case 'float8e8m0': return e8m0Value(bits);
    default: return decodeNarrow(dtype, bits);
  }
}

/** Cast's `round_mode`, which applies to float8e8m0 only. */
export type E8M0RoundMode = 'up' | 'down' | 'nearest';

/** Encodes a value to the bit pattern of a low-precision float (saturate applies to float8 only). */
export function encodeLowp(dtype: DType, x: number, saturate = true, roundMode: E8M0RoundMode = 'up'): number {
  switch (dtype) {
    case 'float16': return f32ToF16Bits(x);
    case 'bfloat16': return f32ToBf16Bits(x);
    case 'float8e8m0': return e8m0Bits(x, saturate, roundMode);
    default: return encodeNarrow(dtype, x, saturate);
  }
}

/**
 * Rounds a value to the nearest representable value of `dtype` (identity for float32/float64).
 * `saturate` (Cast's attribute) matters only for the float8 types: true clamps out-of-range values
 * and infinities to the largest finite value; false lets them overflow to inf (e5m2) or NaN.
 */
export function roundToDtype(dtype: DType, x: number, saturate = true, roundMode: E8M0RoundMode = 'up'): number {
  switch (dtype) {
    case 'float8e8m0': return e8m0Value(e8m0Bits(x, saturate, roundMode));
    case 'float32': return Math.fround(x);
    case 'float64': return x;
    case 'float16':
      // The bit path rounds through float32 first; a float64 source needs the direct path to
      // avoid double rounding (numpy's double->half conversion rounds once).
      return Math.fround(x) === x || x !== x ? f16Values()[f32ToF16Bits(x)]! : roundGeneric(F16, x, false);
    case 'bfloat16': return bf16BitsToF32(f32ToBf16Bits(x));
    default: {
      const f = narrowFormat(dtype);
      return f.decode[encodeWith(f, x, saturate && f.saturable)]!;
    }
  }
}

/**
 * Rounds every element of `data` in place to `dtype` (no-op for float32/float64). Used by the
 * executor on kernels' low-precision outputs: it does not saturate, so it is idempotent on
 * representable values (a Cast with saturate=0 that produced inf in e5m2 keeps it) and otherwise
 * behaves like IEEE arithmetic in the narrow type (overflow to inf, or NaN where no inf exists).
 */
export function roundArrayToDtype(dtype: DType, data: Float32Array): void {
  if (dtype === 'float32' || dtype === 'float64') return;
  const n = data.length;
  if (dtype === 'float16') {
    const t = f16Values();
    for (let i = 0; i < n; i++) data[i] = t[f32ToF16Bits(data[i]!)]!;
  } else if (dtype === 'bfloat16') {
    for (let i = 0; i < n; i++) data[i] = bf16BitsToF32(f32ToBf16Bits(data[i]!));
  } else if (dtype === 'float8e8m0') {
    // 'nearest' keeps every representable value, 2^-127 (code 0, a float32 subnormal) included.
    for (let i = 0; i < n; i++) data[i] = e8m0Value(e8m0Bits(data[i]!, false, 'nearest'));
  } else {
    const f = narrowFormat(dtype);
    for (let i = 0; i < n; i++) data[i] = f.decode[encodeWith(f, data[i]!, false)]!;
  }
}

// ---- float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz) and float4e2m1 ----
// Semantics follow the ONNX reference implementation (ml_dtypes): round to nearest even;
// "fn" types have no infinity, "fnuz" types have neither infinity nor negative zero and encode
// NaN as 0x80; float4e2m1 has neither infinity nor NaN. With saturate, values beyond the finite
// range (infinities included) clamp to +-max; without it they become inf (e5m2) or NaN.

interface NarrowFormat {
  mbits: number;
  bias: number;
  /** Code of the largest finite magnitude. */
  maxCode: number;
  /** Code of +infinity, or -1 when the type has none. */
  infCode: number;
  /** Code of NaN (for fn types the sign bit is added); -1 when the type has none. */
  nanCode: number;
  /** Unsigned-zero types: no -0 (0x80 is NaN). */
  uz: boolean;
  signBit: number;
  /** Whether the Cast `saturate` attribute applies (float8 only; float4 always saturates). */
  saturable: boolean;
  /** Value of every code. */
  decode: Float32Array | Float64Array;
}

function makeFormat(ebits: number, mbits: number, bias: number, maxCode: number, infCode: number,
  nanCode: number, uz: boolean, saturable: boolean): NarrowFormat {
  const bits = 1 + ebits + mbits;
  const signBit = 1 << (bits - 1);
  const f: NarrowFormat = { mbits, bias, maxCode, infCode, nanCode, uz, signBit, saturable, decode: new Float32Array(1 << bits) };
  for (let code = 0; code < 1 << bits; code++) {
    const mag = code & (signBit - 1);
    const neg = (code & signBit) !== 0;
    let v: number;
    if (uz && code === signBit) v = NaN;
    else if (mag === infCode) v = Infinity;
    else if (mag > maxCode) v = NaN; // e4m3fn 0x7f, e5m2 0x7d..0x7f
    else {
      const e = mag >> mbits;
      const m = mag & ((1 << mbits) - 1);
      v = e === 0 ? m * 2 ** (1 - bias - mbits) : (1 + m / (1 << mbits)) * 2 ** (e - bias);
    }
    f.decode[code] = neg ? -v : v;
  }
  return f;
}

const F8E4M3FN = makeFormat(4, 3, 7, 0x7e, -1, 0x7f, false, true);
const F8E4M3FNUZ = makeFormat(4, 3, 8, 0x7f, -1, 0x80, true, true);
const F8E5M2 = makeFormat(5, 2, 15, 0x7b, 0x7c, 0x7e, false, true);
const F8E5M2FNUZ = makeFormat(5, 2, 16, 0x7f, -1, 0x80, true, true);
const F4E2M1 = makeFormat(2, 1, 1, 0x7, -1, -1, false, false);
/** IEEE half, used only for the direct float64 -> float16 rounding (decode table unused: 2^16 entries). */
const F16: NarrowFormat = { mbits: 10, bias: 15, maxCode: 0x7bff, infCode: 0x7c00, nanCode: 0x7e00, uz: false, signBit: 0x8000, saturable: false, decode: new Float32Array(0) };

function narrowFormat(dtype: DType): NarrowFormat {
  switch (dtype) {
    case 'float8e4m3fn': return F8E4M3FN;
    case 'float8e4m3fnuz': return F8E4M3FNUZ;
    case 'float8e5m2': return F8E5M2;
    case 'float8e5m2fnuz': return F8E5M2FNUZ;
    case 'float4e2m1': return F4E2M1;
    default: throw new Error(`lowp: ${dtype} is not a narrow float type`);
  }
}

const f64 = new Float64Array(1);
const f64hi = new Uint32Array(f64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0; // high word index (endianness)

/** Magnitude code of |a| (a finite, >= 0) rounded to nearest even; may exceed maxCode on overflow. */
function magnitudeCode(f: NarrowFormat, a: number): number {
  if (a === 0) return 0;
  f64[0] = a;
  let e = ((f64hi[HI]! >>> 20) & 0x7ff) - 1023; // floor(log2 a) for normal doubles
  const emin = 1 - f.bias;
  if (e < emin) e = emin; // subnormal range of the target: fixed quantum
  const q = 2 ** (e - f.mbits);
  const v = a / q; // exact: scaling by a power of two
  let m = Math.floor(v);
  const d = v - m;
  if (d > 0.5 || (d === 0.5 && (m & 1) === 1)) m++;
  // Subnormals: code = m. Normals: code = ((e + bias - 1) << mbits) + m, where m in [2^mbits, 2^(mbits+1)]
  // carries into the exponent field by itself.
  return (e + f.bias - 1) * 2 ** f.mbits + m;
}

function encodeWith(f: NarrowFormat, x: number, saturate: boolean): number {
  // float4 has no NaN: ml_dtypes (the reference) maps it to 0b1000, i.e. -0.
  if (x !== x) return f.nanCode >= 0 ? f.nanCode : f.signBit;
  const neg = x < 0 || (x === 0 && 1 / x < 0);
  const a = neg ? -x : x;
  let code: number;
  if (a === Infinity) {
    if (saturate || f.nanCode < 0) code = f.maxCode;
    else if (f.infCode >= 0) code = f.infCode;
    else return f.uz || !neg ? f.nanCode : f.nanCode | f.signBit;
  } else {
    code = magnitudeCode(f, a);
    if (code > f.maxCode) {
      if (saturate || f.nanCode < 0) code = f.maxCode;
      else if (f.infCode >= 0) code = f.infCode;
      else return f.uz || !neg ? f.nanCode : f.nanCode | f.signBit;
    }
  }
  if (!neg) return code;
  if (f.uz && code === 0) return 0; // no negative zero
  return code | f.signBit;
}

function roundGeneric(f: NarrowFormat, x: number, saturate: boolean): number {
  const code = encodeWith(f, x, saturate);
  const mag = code & (f.signBit - 1);
  const s = code & f.signBit ? -1 : 1;
  if (mag === f.infCode) return s * Infinity;
  if (mag > f.infCode && f.infCode >= 0) return NaN;
  const e = mag >> f.mbits;
  const m = mag & ((1 << f.mbits) - 1);
  return s * (e === 0 ? m * 2 ** (1 - f.bias - f.mbits) : (1 + m / (1 << f.mbits)) * 2 ** (e - f.bias));
}

function decodeNarrow(dtype: DType, bits: number): number {
  const f = narrowFormat(dtype);
  return f.decode[bits & (f.decode.length - 1)]!;
}

function encodeNarrow(dtype: DType, x: number, saturate: boolean): number {
  const f = narrowFormat(dtype);
  return encodeWith(f, x, saturate && f.saturable);
}

// ---- float8e8m0: an unsigned power of two 2^(code-127); 0xFF is NaN ----
// Encoding follows onnx.numpy_helper.to_float8e8m0 (the reference): the sign is dropped, the float32
// exponent field is the code, and round_mode decides whether a non-zero mantissa bumps it.

function e8m0Value(code: number): number {
  code &= 0xff;
  return code === 0xff ? NaN : 2 ** (code - 127);
}

function e8m0Bits(x: number, saturate: boolean, mode: E8M0RoundMode): number {
  f32[0] = x;
  const b = u32[0]!;
  let e = (b >>> 23) & 0xff;
  if (e === 0xff) return 0xff; // NaN and infinities
  const m = b & 0x7fffff;
  let up: boolean;
  if (mode === 'nearest') {
    // The reference's rule: guard bit set and (round bit, sticky bits or a non-zero exponent).
    up = (m & 0x400000) !== 0 && ((m & 0x200000) !== 0 || (m & 0x1fffff) !== 0 || e > 0);
  } else if (mode === 'up') {
    up = m !== 0;
  } else if (mode === 'down') {
    up = false;
  } else {
    throw new Error(`float8e8m0: unknown round_mode '${String(mode)}'`);
  }
  if (up && !(saturate && e === 0xfe)) e++;
  return e;
}
