/**
 * Small dense helpers for the RNN kernels: a row-times-transposed-matrix product (the shape every
 * RNN product has: activations [M, K] times a weight stored [N, K]) and vector activations.
 * Kept local to the sequence family so it does not depend on the GEMM kernels' file.
 */
import type { NumericArray } from '../../src/ir/dtype.js';

/**
 * C[cOff + m*ldc + n] += sum_k A[aOff + m*lda + k] * B[bOff + n*K + k]  for m < M, n < N.
 * B rows are contiguous, so each output is a dot product of two contiguous vectors; four
 * outputs are computed together so every load of A is used four times.
 */
export function gemmNTAcc(
  M: number, N: number, K: number,
  A: NumericArray, aOff: number, lda: number,
  B: Float32Array | Float64Array, bOff: number,
  C: Float64Array, cOff: number, ldc: number,
): void {
  const N4 = N - (N % 4);
  for (let m = 0; m < M; m++) {
    const a0 = aOff + m * lda;
    const c0 = cOff + m * ldc;
    let n = 0;
    for (; n < N4; n += 4) {
      const b0 = bOff + n * K;
      const b1 = b0 + K;
      const b2 = b1 + K;
      const b3 = b2 + K;
      let s0 = 0; let s1 = 0; let s2 = 0; let s3 = 0;
      for (let k = 0; k < K; k++) {
        const a = A[a0 + k]!;
        s0 += a * B[b0 + k]!;
        s1 += a * B[b1 + k]!;
        s2 += a * B[b2 + k]!;
        s3 += a * B[b3 + k]!;
      }
      C[c0 + n] += s0;
      C[c0 + n + 1] += s1;
      C[c0 + n + 2] += s2;
      C[c0 + n + 3] += s3;
    }
    for (; n < N; n++) {
      const b0 = bOff + n * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += A[a0 + k]! * B[b0 + k]!;
      C[c0 + n] += s;
    }
  }
}

/** An RNN activation with its alpha/beta resolved. */
export interface Act { kind: number; alpha: number; beta: number }

const KINDS: Record<string, number> = {
  sigmoid: 0, tanh: 1, relu: 2, affine: 3, leakyrelu: 4, thresholdedrelu: 5, scaledtanh: 6,
  hardsigmoid: 7, elu: 8, softsign: 9, softplus: 10,
};
const USES_ALPHA = new Set(['affine', 'leakyrelu', 'thresholdedrelu', 'scaledtanh', 'hardsigmoid', 'elu']);
const USES_BETA = new Set(['affine', 'scaledtanh', 'hardsigmoid']);
const DEFAULT_ALPHA: Record<string, number> = { leakyrelu: 0.01, thresholdedrelu: 1, hardsigmoid: 0.2, elu: 1 };
const DEFAULT_BETA: Record<string, number> = { hardsigmoid: 0.5 };

/**
 * Resolves the activation list: activation_alpha/beta values are consumed in order by the
 * activations that take them; missing ones get the op's default (onnxruntime's convention).
 */
export function resolveActs(names: string[], alphas: number[], betas: number[]): Act[] {
  let ai = 0;
  let bi = 0;
  return names.map((name) => {
    const kind = KINDS[name];
    if (kind === undefined) throw new Error(`unsupported activation '${name}'`);
    let alpha = DEFAULT_ALPHA[name] ?? 0;
    let beta = DEFAULT_BETA[name] ?? 0;
    if (USES_ALPHA.has(name) && ai < alphas.length) alpha = alphas[ai++]!;
    if (USES_BETA.has(name) && bi < betas.length) beta = betas[bi++]!;
    return { kind, alpha, beta };
  });
}

/** Applies `act` in place to v[off, off+n). */
export function activate(act: Act, v: Float64Array, off: number, n: number): void {
  const end = off + n;
  const { alpha, beta } = act;
  switch (act.kind) {
    case 0: for (let i = off; i < end; i++) v[i] = 1 / (1 + Math.exp(-v[i]!)); return;
    case 1: for (let i = off; i < end; i++) v[i] = Math.tanh(v[i]!); return;
    case 2: for (let i = off; i < end; i++) v[i] = Math.max(0, v[i]!); return;
    case 3: for (let i = off; i < end; i++) v[i] = alpha * v[i]! + beta; return;
    case 4: for (let i = off; i < end; i++) { const x = v[i]!; v[i] = x >= 0 ? x : alpha * x; } return;
    case 5: for (let i = off; i < end; i++) { const x = v[i]!; v[i] = x > alpha ? x : 0; } return;
    case 6: for (let i = off; i < end; i++) v[i] = alpha * Math.tanh(beta * v[i]!); return;
    case 7: for (let i = off; i < end; i++) v[i] = Math.min(1, Math.max(0, alpha * v[i]! + beta)); return;
    case 8: for (let i = off; i < end; i++) { const x = v[i]!; v[i] = x >= 0 ? x : alpha * (Math.exp(x) - 1); } return;
    case 9: for (let i = off; i < end; i++) { const x = v[i]!; v[i] = x / (1 + Math.abs(x)); } return;
    default:
      for (let i = off; i < end; i++) {
        const x = v[i]!;
        v[i] = x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
      }
  }
}

/** Clamps v[off, off+n) to [-c, c] (the RNN `clip` attribute, applied before gate activations). */
export function clipRange(v: Float64Array, off: number, n: number, c: number): void {
  if (!(c < Infinity)) return;
  const end = off + n;
  for (let i = off; i < end; i++) {
    const x = v[i]!;
    v[i] = x > c ? c : x < -c ? -c : x;
  }
}
