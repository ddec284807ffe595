/**
 * Test helper: the packed float16 kernels (native/src/nhwc.cu and conv.cu's conv2dNhwcHalf) in plain
 * JavaScript with the same parameter lists and layouts (2-byte halves, NHWC activations, KRSC
 * filters), for the emulated addon (emulator.ts). The convolution rounds as the CUDA one does on
 * its main path: where the epilogue's activations are Identity, Relu or Clip, cuDNN's operation graph
 * (native/src/cudnn_graph.cu) computes conv, bias, activation, residual and post-activation in
 * float and rounds once; otherwise cuDNN's result is stored as half, then the epilogue reads it
 * back and rounds again. (On the GPU a graph cuDNN refuses or that times slower than the legacy
 * calls takes those, which round once or twice: the tests' float16 tolerances cover both.)
 */
import { f16BitsToF32, f32ToF16Bits } from '../../src/ir/lowp.js';
import type { Ptr } from './emulator-typed.js';
// Circular (emulator.ts lists these launchers): read only when a launcher runs, after both loaded.
import { FUNCTION_NAMES } from './emulator.js';

type Fn = (code: number) => (x: number, a: number, b: number) => number;
type Launcher = (i: number[], f: Float32Array, p: (Ptr | undefined)[], fn: Fn) => void;

const half = (p: Ptr) => new Uint16Array(p.buf, p.off);
const f32a = (p: Ptr) => new Float32Array(p.buf, p.off);
const r16 = (x: number) => f16BitsToF32(f32ToF16Bits(x));

function need(k: string, i: number[], f: Float32Array, p: (Ptr | undefined)[], ni: number, nf: number, np: number, required: number[]): void {
  if (i.length !== ni || f.length !== nf || p.length !== np) throw new Error(`${k}: expected ${ni} ints, ${nf} floats, ${np} bindings; got ${i.length}, ${f.length}, ${p.length}`);
  for (const j of required) if (!p[j]) throw new Error(`${k}: binding ${j} is required`);
}

function dims3(k: string, i: number[]): [number, number, number] {
  if (i.some((v) => v < 1)) throw new Error(`${k}: int params must be positive`);
  if (i[0]! > 65535) throw new Error(`${k}: batch above 65535`);
  return [i[0]!, i[1]!, i[2]!];
}

const nchwToNhwcHalf: Launcher = (i, f, p) => {
  need('nchwToNhwcHalf', i, f, p, 3, 0, 2, [0, 1]);
  const [N, C, HW] = dims3('nchwToNhwcHalf', i);
  const x = f32a(p[0]!), y = half(p[1]!);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let s = 0; s < HW; s++) y[(n * HW + s) * C + c] = f32ToF16Bits(x[(n * C + c) * HW + s]!);
};

const nhwcHalfToNchw: Launcher = (i, f, p) => {
  need('nhwcHalfToNchw', i, f, p, 3, 0, 2, [0, 1]);
  const [N, C, HW] = dims3('nhwcHalfToNchw', i);
  const x = half(p[0]!), y = f32a(p[1]!);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let s = 0; s < HW; s++) y[(n * C + c) * HW + s] = f16BitsToF32(x[(n * HW + s) * C + c]!);
};

const poolNhwcHalf: Launcher = (i, f, p) => {
  need('poolNhwcHalf', i, f, p, 18, 0, 2, [0, 1]);
  const [N, C, H, W, P, Q, R, S, sh, sw, pt, pl, pb, pr, dh, dw, mode, countPad] = i as [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number];
  if (mode !== 0 && mode !== 1) throw new Error('poolNhwcHalf: unknown mode');
  const x = half(p[0]!), y = half(p[1]!);
  const inPadded = (o: number, stride: number, p0: number, p1: number, k: number, dil: number, size: number) => {
    let c = 0;
    for (let j = 0; j < k; j++) { const pos = o * stride - p0 + j * dil; if (pos >= -p0 && pos < size + p1) c++; }
    return c;
  };
  for (let b = 0; b < N; b++) for (let pp = 0; pp < P; pp++) for (let q = 0; q < Q; q++) for (let c = 0; c < C; c++) {
    let best = -Infinity, sum = 0, count = 0;
    for (let r = 0; r < R; r++) {
      const h = pp * sh - pt + r * dh;
      if (h < 0 || h >= H) continue;
      for (let s = 0; s < S; s++) {
        const w = q * sw - pl + s * dw;
        if (w < 0 || w >= W) continue;
        const v = f16BitsToF32(x[((b * H + h) * W + w) * C + c]!);
        if (v > best || count === 0) best = v;
        sum = Math.fround(sum + v);
        count++;
      }
    }
    const o = ((b * P + pp) * Q + q) * C + c;
    if (mode === 0) { y[o] = f32ToF16Bits(count ? best : -Infinity); continue; }
    if (countPad) count = inPadded(pp, sh, pt, pb, R, dh, H) * inPadded(q, sw, pl, pr, S, dw, W);
    y[o] = f32ToF16Bits(count > 0 ? sum / count : NaN);
  }
};

const conv2dNhwcHalf: Launcher = (i, f, p, fn) => {
  need('conv2dNhwcHalf', i, f, p, 19, 4, 5, [0, 1, 4]);
  const [N, C, H, W, K, P, Q, R, S, sh, sw, ph, pw, dh, dw, G, act, post, flags] = i as [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number];
  if (!(flags >= 0 && flags <= 3)) throw new Error('conv2dNhwcHalf: flags must be a combination of 1 and 2');
  if (C % G || K % G) throw new Error('conv2dNhwcHalf: channels are not divisible by groups');
  // cuDNN takes one pad per axis: the output must be what those symmetric pads give.
  const outOf = (n: number, k: number, s: number, pad: number, d: number) => Math.floor((n + 2 * pad - (k - 1) * d - 1) / s) + 1;
  if (outOf(H, R, sh, ph, dh) !== P || outOf(W, S, sw, pw, dw) !== Q) throw new Error(`conv2dNhwcHalf: cuDNN's output is not the requested ${P}x${Q} (asymmetric pads take conv2d)`);
  const X = half(p[0]!), Wt = half(p[1]!), B = p[2] ? f32a(p[2]) : undefined, Z = p[3] ? half(p[3]) : undefined, Y = half(p[4]!);
  const fa = fn(act), fp = fn(post);
  const epilogue = B !== undefined || Z !== undefined || act !== 0 || post !== 0;
  const inGraph = (code: number) => ['Identity', 'Relu', 'Clip'].includes(FUNCTION_NAMES[code] ?? '');
  const oneRounding = inGraph(act) && inGraph(post);
  const Cg = C / G, Mg = K / G;
  for (let b = 0; b < N; b++) for (let y = 0; y < P; y++) for (let x = 0; x < Q; x++) for (let k = 0; k < K; k++) {
    const g = Math.floor(k / Mg);
    let acc = 0;
    for (let r = 0; r < R; r++) {
      const h = y * sh - ph + r * dh;
      if (h < 0 || h >= H) continue;
      for (let s = 0; s < S; s++) {
        const w = x * sw - pw + s * dw;
        if (w < 0 || w >= W) continue;
        for (let c = 0; c < Cg; c++) acc += f16BitsToF32(X[((b * H + h) * W + w) * C + g * Cg + c]!) * f16BitsToF32(Wt[((k * R + r) * S + s) * Cg + c]!);
      }
    }
    const yi = ((b * P + y) * Q + x) * K + k;
    let v = oneRounding ? acc : r16(acc);
    // One rounding (the graph) or two (cuDNN's half store above, then this epilogue's).
    if (epilogue) {
      if (B) v = Math.fround(v + B[k]!);
      v = Math.fround(fa(v, f[0]!, f[1]!));
      if (Z) v = Math.fround(v + f16BitsToF32(Z[yi]!));
      v = fp(v, f[2]!, f[3]!);
    }
    Y[yi] = f32ToF16Bits(v);
  }
};

export const NHWC_LAUNCHERS: Record<string, Launcher> = { nchwToNhwcHalf, nhwcHalfToNchw, poolNhwcHalf, conv2dNhwcHalf };
export const NHWC_KERNEL_NAMES = Object.keys(NHWC_LAUNCHERS);
/** Kernels the addon lists only where cuDNN opens (the emulator always has them). */
export const CUDNN_ONLY_KERNELS = ['conv2dNhwcHalf'];
