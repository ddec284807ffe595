/** Fused epilogues on the CPU: activations applied in place, residual and bias adds. */
import type { NumericArray } from '../../src/ir/dtype.js';

function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse for a reference; use the series/continued-fraction pair.
  const ax = Math.abs(x);
  if (ax < 2) {
    let sum = x, term = x;
    const x2 = x * x;
    for (let n = 1; n < 60; n++) { term *= -x2 / n; const t = term / (2 * n + 1); sum += t; if (Math.abs(t) < 1e-17 * Math.abs(sum)) break; }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz) for |x| >= 2.
  let f = ax, c = ax, d = 0;
  for (let n = 1; n < 100; n++) {
    const an = n / 2;
    d = ax + an * d; d = 1 / d;
    c = ax + an / c;
    const delta = c * d; f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x > 0 ? 1 - erfc : erfc - 1;
}

export function applyActivation(y: NumericArray, act: string | undefined, p: readonly number[]): void {
  if (!act) return;
  const n = y.length;
  switch (act) {
    // Branch-free forms: data-dependent branches mispredict on real activations (about 4x slower).
    case 'Relu': for (let i = 0; i < n; i++) { const v = y[i]!; y[i] = (v + Math.abs(v)) * 0.5; } return;
    case 'Clip': { const lo = p[0]!, hi = p[1]!; for (let i = 0; i < n; i++) y[i] = Math.min(Math.max(y[i]!, lo), hi); return; }
    case 'LeakyRelu': { const a = p[0]!; for (let i = 0; i < n; i++) { const v = y[i]!; y[i] = v >= 0 ? v : a * v; } return; }
    case 'Elu': { const a = p[0]!; for (let i = 0; i < n; i++) { const v = y[i]!; y[i] = v >= 0 ? v : a * (Math.exp(v) - 1); } return; }
    case 'Sigmoid': for (let i = 0; i < n; i++) y[i] = 1 / (1 + Math.exp(-y[i]!)); return;
    case 'Affine': { const a = p[0]!, b = p[1]!; for (let i = 0; i < n; i++) y[i] = a * y[i]! + b; return; }
    case 'Tanh': for (let i = 0; i < n; i++) y[i] = Math.tanh(y[i]!); return;
    case 'Silu': for (let i = 0; i < n; i++) { const v = y[i]!; y[i] = v / (1 + Math.exp(-v)); } return;
    case 'HardSigmoid': { const a = p[0]!, b = p[1]!; for (let i = 0; i < n; i++) { const v = a * y[i]! + b; y[i] = v < 0 ? 0 : v > 1 ? 1 : v; } return; }
    case 'HardSwish': for (let i = 0; i < n; i++) { const v = y[i]!, h = v / 6 + 0.5; y[i] = v * (h < 0 ? 0 : h > 1 ? 1 : h); } return;
    case 'Gelu':
      if (p[0] === 1) {
        const k = Math.sqrt(2 / Math.PI);
        for (let i = 0; i < n; i++) { const v = y[i]!; y[i] = 0.5 * v * (1 + Math.tanh(k * (v + 0.044715 * v * v * v))); }
      } else {
        for (let i = 0; i < n; i++) { const v = y[i]!; y[i] = 0.5 * v * (1 + erf(v / Math.SQRT2)); }
      }
      return;
    default: throw new Error(`unknown fused activation '${act}'`);
  }
}

export function addInPlace(y: NumericArray, z: ArrayLike<number>): void {
  if (z.length !== y.length) throw new Error(`residual has ${z.length} elements, output ${y.length}`);
  for (let i = 0; i < y.length; i++) y[i]! += z[i]!;
}

/** y[..., n] += bias[n] over the last axis. */
export function addLastAxis(y: NumericArray, bias: ArrayLike<number>): void {
  const N = bias.length;
  if (N === 0) return;
  for (let i = 0; i < y.length; i += N) for (let j = 0; j < N; j++) y[i + j]! += bias[j]!;
}
