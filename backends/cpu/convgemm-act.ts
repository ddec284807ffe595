/**
 * Activations the convolution / GEMM kernels apply on their way out (fused by the optimizer):
 * the piecewise-linear ones, which SIMD does in a few min/max/mul per vector. Others (Sigmoid,
 * Tanh, Silu, Gelu, Elu) stay with the fused-op epilogue in backends/cpu/epilogue.ts.
 *
 * The same flag bits drive the wasm kernels (macro, dw*, wino_out) and the JS twins; p0 and p1
 * are the activation's parameters (Clip: min, max; HardSigmoid: alpha, beta; LeakyRelu: alpha),
 * s and t those of a following Affine (y = s*y + t).
 */
import { V128, type WasmFn } from './convgemm-wasm-asm.js';

export const ACT_CLIP = 4;
export const ACT_HARDSWISH = 8;
export const ACT_HARDSIGMOID = 16;
export const ACT_LEAKYRELU = 32;
/** y = s*y + t after the activation (the optimizer's scalar Mul/Add folded into a fused op). */
export const ACT_AFFINE = 64;
export const ACT_MASK = ACT_CLIP | ACT_HARDSWISH | ACT_HARDSIGMOID | ACT_LEAKYRELU | ACT_AFFINE;

/** An activation as kernel flag bits: at most one of the first four, then optionally AFFINE (s, t). */
export interface Activation { flag: number; p0: number; p1: number; s: number; t: number }

/**
 * Maps an ONNX activation (as the fused ops name it) to the kernels' form, or undefined when the
 * kernels cannot apply it. Parameters default as in the ONNX ops.
 */
export function kernelActivation(name: string | undefined, params: readonly number[] = []): Activation | undefined {
  const a = (flag: number, p0 = 0, p1 = 0): Activation => ({ flag, p0, p1, s: 1, t: 0 });
  switch (name) {
    case 'Relu': return a(ACT_CLIP, 0, Infinity);
    case 'Clip': return a(ACT_CLIP, params[0] ?? -Infinity, params[1] ?? Infinity);
    case 'HardSwish': return a(ACT_HARDSWISH);
    case 'HardSigmoid': return a(ACT_HARDSIGMOID, params[0] ?? 0.2, params[1] ?? 0.5);
    case 'LeakyRelu': return a(ACT_LEAKYRELU, params[0] ?? 0.01);
    case 'Affine': return { flag: ACT_AFFINE, p0: 0, p1: 0, s: params[0] ?? 1, t: params[1] ?? 0 };
    default: return undefined;
  }
}

/**
 * The longest prefix of a chain of activations (applied in order) that the kernels can do in one
 * epilogue: one of Relu/Clip/HardSwish/HardSigmoid/LeakyRelu and/or a following Affine. Returns
 * it merged with how many chain entries it covers (skipping empty names).
 */
export function kernelActivationChain(chain: readonly (readonly [string | undefined, readonly number[]])[]): { act: Activation | undefined; applied: number } {
  let act: Activation | undefined;
  let applied = 0;
  for (const [name, params] of chain) {
    if (name === undefined || name === '') { applied++; continue; }
    const k = kernelActivation(name, params);
    if (!k) break;
    if (!act) act = k;
    else if (k.flag === ACT_AFFINE && !(act.flag & ACT_AFFINE)) act = { ...act, flag: act.flag | ACT_AFFINE, s: k.s, t: k.t };
    else break;
    applied++;
  }
  return { act, applied };
}

/** One value through the activation (JS twins and plain loops). */
export function actScalar(v: number, a: Activation): number {
  const f = a.flag;
  if (f & ACT_CLIP) v = v < a.p0 ? a.p0 : v > a.p1 ? a.p1 : v;
  else if (f & ACT_HARDSWISH) { const h = v * (1 / 6) + 0.5; v *= h < 0 ? 0 : h > 1 ? 1 : h; }
  else if (f & ACT_HARDSIGMOID) { const h = a.p0 * v + a.p1; v = h < 0 ? 0 : h > 1 ? 1 : h; }
  else if (f & ACT_LEAKYRELU) v = v >= 0 ? v : a.p0 * v;
  if (f & ACT_AFFINE) v = a.s * v + a.t;
  return v;
}

/** In place over v[from, to). */
export function actInPlace(v: { [i: number]: number; length: number }, a: Activation | undefined, from = 0, to = v.length): void {
  if (!a) return;
  for (let i = from; i < to; i++) v[i] = actScalar(v[i]!, a);
}

/** Per-function wasm state of the activation epilogue: splat constants, built once at entry. */
export class WasmAct {
  readonly p0v: number;
  readonly p1v: number;
  private readonly zero: number;
  private readonly one: number;
  private readonly sixth: number;
  private readonly half: number;
  private readonly t: number;

  private readonly sv: number;
  private readonly tv: number;

  constructor(private readonly f: WasmFn, private readonly flags: number, p0: number, p1: number, s: number, t: number) {
    this.p0v = f.local(V128); this.p1v = f.local(V128); this.sv = f.local(V128); this.tv = f.local(V128);
    f.get(s).fsplat().set(this.sv).get(t).fsplat().set(this.tv);
    this.zero = f.local(V128); this.one = f.local(V128); this.sixth = f.local(V128); this.half = f.local(V128);
    this.t = f.local(V128);
    f.get(p0).fsplat().set(this.p0v).get(p1).fsplat().set(this.p1v);
    f.vzero().set(this.zero);
    for (const [l, c] of [[this.one, 1], [this.sixth, 1 / 6], [this.half, 0.5]] as const) {
      f.op(0x43, ...new Uint8Array(new Float32Array([c]).buffer)).fsplat().set(l);
    }
  }

  /** Emits: apply the activation selected by the flags local to each vector local in `vs`. */
  emit(vs: readonly number[]): void {
    const f = this.f;
    const when = (bit: number, body: () => void): void => {
      f.get(this.flags).i32(bit).op(0x71).if();
      body();
      f.end();
    };
    when(ACT_CLIP, () => { for (const v of vs) f.get(v).get(this.p0v).fmax().get(this.p1v).fmin().set(v); });
    when(ACT_HARDSWISH, () => {
      for (const v of vs) {
        f.get(v).get(this.sixth).fmul().get(this.half).fadd().get(this.zero).fmax().get(this.one).fmin().set(this.t);
        f.get(v).get(this.t).fmul().set(v);
      }
    });
    when(ACT_HARDSIGMOID, () => {
      for (const v of vs) f.get(v).get(this.p0v).fmul().get(this.p1v).fadd().get(this.zero).fmax().get(this.one).fmin().set(v);
    });
    when(ACT_LEAKYRELU, () => {
      for (const v of vs) {
        f.get(v).get(this.zero).fmin().get(this.p0v).fmul().set(this.t);
        f.get(v).get(this.zero).fmax().get(this.t).fadd().set(v);
      }
    });
    when(ACT_AFFINE, () => { for (const v of vs) f.get(v).get(this.sv).fmul().get(this.tv).fadd().set(v); });
  }
}
