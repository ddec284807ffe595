/**
 * Integer GEMM and requantization: the exact INT8 reference that the GPU backends' INT8 kernels
 * are checked against. Operands are int16 (int8/uint8 values with their zero point already
 * subtracted, so in [-255, 255]); accumulation is int32 with wraparound (each partial sum is exact
 * in a double before the Int32Array store truncates it, which is exactly int32 arithmetic).
 */

/** Columns of C handled per pass: a tile of 4 C rows (4 KiB) and of B rows stays in L1/L2. */
const NT = 256;

/**
 * C[m, n] += sum_k A[m, k] * B[k, n] for m < M, n < N, k < K.
 * A is row-major with row stride K from aOff; B has row stride ldb from bOff; C row stride ldc from cOff.
 * C is accumulated into (callers pre-fill it with zeros or the bias).
 */
export function igemm(
  M: number, N: number, K: number,
  a: Int16Array, aOff: number,
  b: Int16Array, bOff: number, ldb: number,
  c: Int32Array, cOff: number, ldc: number,
): void {
  for (let n0 = 0; n0 < N; n0 += NT) {
    const n1 = Math.min(N, n0 + NT);
    let m = 0;
    // Four rows of A at once: each loaded B element feeds four multiply-adds.
    for (; m + 4 <= M; m += 4) {
      const a0 = aOff + m * K, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K;
      const c0 = cOff + m * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
      for (let k = 0; k < K; k++) {
        const w0 = a[a0 + k]!, w1 = a[a1 + k]!, w2 = a[a2 + k]!, w3 = a[a3 + k]!;
        if ((w0 | w1 | w2 | w3) === 0) continue;
        const bk = bOff + k * ldb;
        for (let n = n0; n < n1; n++) {
          const v = b[bk + n]!;
          c[c0 + n] += w0 * v;
          c[c1 + n] += w1 * v;
          c[c2 + n] += w2 * v;
          c[c3 + n] += w3 * v;
        }
      }
    }
    for (; m < M; m++) {
      const a0 = aOff + m * K, c0 = cOff + m * ldc;
      for (let k = 0; k < K; k++) {
        const w0 = a[a0 + k]!;
        if (w0 === 0) continue;
        const bk = bOff + k * ldb;
        for (let n = n0; n < n1; n++) c[c0 + n] += w0 * b[bk + n]!;
      }
    }
  }
}

/** Round half to even (numpy rint / np.round), exact for every double. */
export function rint(x: number): number {
  const r = Math.round(x); // half up
  // A tie rounded up to an odd integer goes back down (ToInt32 keeps parity, 2^32 being even).
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
    let v = rint(acc[accOff + i]! * mult + zp);
    if (v < lo) v = lo; else if (v > hi) v = hi;
    out[outOff + i] = v;
  }
}
