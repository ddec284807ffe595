/**
 * Integer GEMM and requantization: the exact INT8 reference that the GPU backends' INT8 kernels
 * are checked against. Operands are int16 (int8/uint8 values with their zero point already
 * subtracted, so in [-255, 255]); accumulation is int32 with wraparound (each partial sum is exact
 * in a double before the Int32Array store truncates it, which is exactly int32 arithmetic).
 */

/** Columns of C per pass: the K x NT tile of B (int16) then stays in L2 while every A row block sweeps it. */
const NT = 128;

/**
 * C[m, n] += sum_k A[m, k] * B[k, n] for m < M, n < N, k < K.
 * A is row-major with row stride K from aOff; B has row stride ldb from bOff; C row stride ldc from cOff.
 * C is accumulated into (callers pre-fill it with zeros or the bias).
 * 4x4 blocks of C live in locals across the whole K loop: per k, 4 loads of A and 4 of B feed 16
 * multiply-adds and nothing is stored (small integers, so V8 keeps them in int32 registers).
 */
export function igemm(
  M: number, N: number, K: number,
  a: Int16Array, aOff: number,
  b: Int16Array, bOff: number, ldb: number,
  c: Int32Array, cOff: number, ldc: number,
): void {
  for (let n0 = 0; n0 < N; n0 += NT) {
    const n1 = Math.min(N, n0 + NT);
    const n4 = n0 + ((n1 - n0) & ~3);
    let m = 0;
    for (; m + 4 <= M; m += 4) {
      const a0 = aOff + m * K, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K;
      const c0 = cOff + m * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
      for (let n = n0; n < n4; n += 4) {
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
        let bk = bOff + n;
        for (let k = 0; k < K; k++, bk += ldb) {
          const b0 = b[bk]!, b1 = b[bk + 1]!, b2 = b[bk + 2]!, b3 = b[bk + 3]!;
          const w0 = a[a0 + k]!, w1 = a[a1 + k]!, w2 = a[a2 + k]!, w3 = a[a3 + k]!;
          s00 += w0 * b0; s01 += w0 * b1; s02 += w0 * b2; s03 += w0 * b3;
          s10 += w1 * b0; s11 += w1 * b1; s12 += w1 * b2; s13 += w1 * b3;
          s20 += w2 * b0; s21 += w2 * b1; s22 += w2 * b2; s23 += w2 * b3;
          s30 += w3 * b0; s31 += w3 * b1; s32 += w3 * b2; s33 += w3 * b3;
        }
        c[c0 + n] += s00; c[c0 + n + 1] += s01; c[c0 + n + 2] += s02; c[c0 + n + 3] += s03;
        c[c1 + n] += s10; c[c1 + n + 1] += s11; c[c1 + n + 2] += s12; c[c1 + n + 3] += s13;
        c[c2 + n] += s20; c[c2 + n + 1] += s21; c[c2 + n + 2] += s22; c[c2 + n + 3] += s23;
        c[c3 + n] += s30; c[c3 + n + 1] += s31; c[c3 + n + 2] += s32; c[c3 + n + 3] += s33;
      }
      for (let n = n4; n < n1; n++) {
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        let bk = bOff + n;
        for (let k = 0; k < K; k++, bk += ldb) {
          const v = b[bk]!;
          s0 += a[a0 + k]! * v; s1 += a[a1 + k]! * v; s2 += a[a2 + k]! * v; s3 += a[a3 + k]! * v;
        }
        c[c0 + n] += s0; c[c1 + n] += s1; c[c2 + n] += s2; c[c3 + n] += s3;
      }
    }
    for (; m < M; m++) {
      const a0 = aOff + m * K, c0 = cOff + m * ldc;
      for (let n = n0; n < n4; n += 4) {
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        let bk = bOff + n;
        for (let k = 0; k < K; k++, bk += ldb) {
          const w = a[a0 + k]!;
          s0 += w * b[bk]!; s1 += w * b[bk + 1]!; s2 += w * b[bk + 2]!; s3 += w * b[bk + 3]!;
        }
        c[c0 + n] += s0; c[c0 + n + 1] += s1; c[c0 + n + 2] += s2; c[c0 + n + 3] += s3;
      }
      for (let n = n4; n < n1; n++) {
        let s = 0;
        for (let k = 0, bk = bOff + n; k < K; k++, bk += ldb) s += a[a0 + k]! * b[bk]!;
        c[c0 + n] += s;
      }
    }
  }
}

/** 1.5 * 2^52: adding then subtracting it rounds a double of magnitude < 2^51 to an integer, ties to even. */
export const RINT_MAGIC = 6755399441055744;
/** Magnitudes up to which RINT_MAGIC is exact; hot loops clamp to it first (results saturate anyway). */
export const RINT_SAFE = 1125899906842624; // 2^50

/** Round half to even (numpy rint / np.round), exact for every double. Math.round is slow in V8 and rounds ties up. */
export function rint(x: number): number {
  if (x > -RINT_SAFE && x < RINT_SAFE) return x + RINT_MAGIC - RINT_MAGIC;
  if (!(Math.abs(x) < 4503599627370496)) return x; // |x| >= 2^52 is integral already (or NaN / inf)
  const r = Math.round(x); // ties up; an odd tie result goes back down (ToInt32 keeps parity)
  return r - x === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

/**
 * out[outOff + i] = clamp(rint(acc[accOff + i] * mult + zp), lo, hi) for i < n: the requantization
 * of QLinearConv / QLinearMatMul, computed in double as the ONNX reference does (int32 * float
 * promotes to float64 in numpy).
 */
export function requantize(
  acc: Int32Array, accOff: number, n: number, mult: number, zp: number, lo: number, hi: number,
  out: Int8Array | Uint8Array, outOff: number,
): void {
  for (let i = 0; i < n; i++) {
    let q = acc[accOff + i]! * mult;
    if (q > RINT_SAFE) q = RINT_SAFE; else if (q < -RINT_SAFE) q = -RINT_SAFE;
    let v = q + RINT_MAGIC - RINT_MAGIC + zp;
    if (v < lo) v = lo; else if (v > hi) v = hi;
    out[outOff + i] = v;
  }
}
