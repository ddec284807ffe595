/**
 * Activations the convolution / GEMM kernels apply on their way out (fused by the optimizer):
 * the piecewise-linear ones, which SIMD does in a few min/max/mul per vector. Others (Sigmoid,
 * Tanh, Silu, Gelu, Elu) stay with the fused-op epilogue in backends/cpu/epilogue.ts.
 *
 * The same flag bits drive the wasm kernels (macro, dw*, wino_out) and the JS twins; p0 and p1
 * are the activation's parameters (Clip: min, max; HardSigmoid: alpha, beta; LeakyRelu: alpha).
 */
import { V128, type WasmFn } from './convgemm-wasm-asm.js';

export const ACT_CLIP = 4;
export const ACT_HARDSWISH = 8;
export const ACT_HARDSIGMOID = 16;
export const ACT_LEAKYRELU = 32;
export const ACT_MASK = ACT_CLIP | ACT_HARDSWISH | ACT_HARDSIGMOID | ACT_LEAKYRELU;

/** An activation as kernel flag bits and two parameters. */
export interface Activation { flag: number; p0: number; p1: number }

/**
 * Maps an ONNX activation (as the fused ops name it) to the kernels' form, or undefined when the
 * kernels cannot apply it. Parameters default as in the ONNX ops.
 */
export function kernelActivation(name: string | undefined, params: readonly number[] = []): Activation | undefined {
  switch (name) {
    case 'Relu': return { flag: ACT_CLIP, p0: 0, p1: Infinity };
    case 'Clip': return { flag: ACT_CLIP, p0: params[0] ?? -Infinity, p1: params[1] ?? Infinity };
    case 'HardSwish': return { flag: ACT_HARDSWISH, p0: 0, p1: 0 };
    case 'HardSigmoid': return { flag: ACT_HARDSIGMOID, p0: params[0] ?? 0.2, p1: params[1] ?? 0.5 };
    case 'LeakyRelu': return { flag: ACT_LEAKYRELU, p0: params[0] ?? 0.01, p1: 0 };
    default: return undefined;
  }
}

/** One value through the activation (JS twins and plain loops). */
export function actScalar(v: number, a: Activation): number {
  switch (a.flag) {
    case ACT_CLIP: return v < a.p0 ? a.p0 : v > a.p1 ? a.p1 : v;
    case ACT_HARDSWISH: { const h = v * (1 / 6) + 0.5; return v * (h < 0 ? 0 : h > 1 ? 1 : h); }
    case ACT_HARDSIGMOID: { const h = a.p0 * v + a.p1; return h < 0 ? 0 : h > 1 ? 1 : h; }
    case ACT_LEAKYRELU: return v >= 0 ? v : a.p0 * v;
    default: return v;
  }
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

  constructor(private readonly f: WasmFn, private readonly flags: number, p0: number, p1: number) {
    this.p0v = f.local(V128); this.p1v = f.local(V128);
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
  }
}
