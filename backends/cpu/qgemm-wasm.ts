/**
 * WebAssembly SIMD loops around the INT8 reference kernels (backends/cpu/ops/qfused.ts): the
 * activation quantization and the per-channel float epilogue, the two elementwise passes that cost
 * more than the integer product itself when written as JS loops (measured on PP-OCR det:
 * ~20 ns / element for the quantizer in JS, ~1-2 in SIMD). Same arithmetic as the JS twins:
 *  - quant: v = clamp(rne(x / scale), lo, hi), NaN -> 0, with rne of the exact quotient (the
 *    reference's definition): the float32 quotient decides unless it is exactly a .5 tie, where
 *    the float64 one does (the float64 quotient of two float32 values cannot land on a tie that
 *    the exact one misses: within the clamped range they are 2^-33 apart at least). lo, hi are
 *    qmin - zp, qmax - zp: the zero point cancels out.
 *  - epi: y = f32(f32(acc) * sc[c]) + bias[c] (two float32 roundings, as every backend does), then
 *    one of the kernels' piecewise-linear activations (convgemm-act.ts), per channel of `inner`
 *    contiguous values.
 * The module owns its memory; callers copy in and out with TypedArray.set (cheap next to the loop).
 */
import { assemble, F32, I32, V128, WasmFn } from './convgemm-wasm-asm.js';
import { WasmAct, type Activation } from './convgemm-act.js';

interface QExports {
  quant(src: number, dst: number, bytes: number, scale: number, lo: number, hi: number): void;
  epi(data: number, inner: number, channels: number, sc: number, bias: number, flags: number, p0: number, p1: number, s: number, t: number): void;
}

function buildQuant(): WasmFn {
  const f = new WasmFn('quant', [I32, I32, I32, F32, F32, F32]);
  const [src, dst, bytes, scale, lo, hi] = [0, 1, 2, 3, 4, 5];
  const sv = f.local(V128), s64 = f.local(V128), lov = f.local(V128), hiv = f.local(V128), half = f.local(V128);
  const x = f.local(V128), q = f.local(V128), a = f.local(V128), i = f.local(I32);
  const simd = (o: number, ...rest: number[]) => f.op(0xfd, ...(o > 127 ? [(o & 0x7f) | 0x80, o >> 7] : [o]), ...rest);
  f.get(scale).fsplat().set(sv);
  f.get(scale).op(0xbb); simd(0x14); f.set(s64); // f64x2.splat(f64.promote_f32(scale))
  f.get(lo).fsplat().set(lov).get(hi).fsplat().set(hiv);
  f.op(0x43, ...new Uint8Array(new Float32Array([0.5]).buffer)).fsplat().set(half);
  f.i32(0).set(i);
  f.forLt(i, bytes, 16, () => {
    f.get(src).get(i).add().vload().set(x);
    // The float32 quotient rounds to the exact quotient's integer unless it landed on a .5 tie
    // (rounding is monotonic and n + 0.5 is a float32 for |q| < 2^22): only then the float64 one.
    f.get(x).get(sv); simd(0xe7); f.tee(q); simd(0x6a); f.set(a); // f32x4.div, f32x4.nearest
    f.get(q).get(a).fsub(); simd(0xe0); f.get(half); simd(0x41); simd(0x53); // any_true(|q - a| == 0.5)
    f.if();
    // Low two lanes, then the high two moved down, each divided and rounded in float64.
    f.get(x); simd(0x5f); f.get(s64); simd(0xf3); simd(0x94); simd(0x5e); f.set(a);
    f.get(x).get(x).shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]);
    simd(0x5f); f.get(s64); simd(0xf3); simd(0x94); simd(0x5e);
    f.set(q).get(a).get(q).shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]).set(a);
    f.end();
    // NaN -> 0 (the zero point), then the range.
    f.get(a).get(a).get(a); simd(0x41); f.vand().get(lov).fmax().get(hiv).fmin().set(a);
    f.get(dst).get(i).add().get(a).vstore();
  });
  return f;
}

function buildEpi(): WasmFn {
  const f = new WasmFn('epi', [I32, I32, I32, I32, I32, I32, F32, F32, F32, F32]);
  const [data, inner, channels, sc, bias, flags, p0, p1, s, t] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const act = new WasmAct(f, flags, p0, p1, s, t);
  const c = f.local(I32), p = f.local(I32), end = f.local(I32), end4 = f.local(I32), sv = f.local(V128), bv = f.local(V128), v = f.local(V128);
  const simd = (o: number, ...rest: number[]) => f.op(0xfd, ...(o > 127 ? [(o & 0x7f) | 0x80, o >> 7] : [o]), ...rest);
  f.get(data).set(p);
  f.i32(0).set(c);
  f.forLt(c, channels, 1, () => {
    f.get(sc).get(c).i32(2).shl().add().vloadSplat().set(sv);
    f.get(bias).get(c).i32(2).shl().add().vloadSplat().set(bv);
    f.get(p).get(inner).i32(2).shl().add().set(end);
    f.get(end).i32(-16).add().set(end4);
    // Whole vectors, then the tail one value at a time (splat, the same vector code, lane 0).
    f.block().loop();
    f.get(end4).get(p).ltS().brIf(1);
    f.get(p).vload().get(sv).fmul().get(bv).fadd().set(v);
    act.emit([v]);
    f.get(p).get(v).vstore();
    f.inc(p, 16).br(0).end().end();
    f.block().loop();
    f.get(p).get(end).geS().brIf(1);
    f.get(p).vloadSplat().get(sv).fmul().get(bv).fadd().set(v);
    act.emit([v]);
    f.get(p).get(v); simd(0x1f, 0); f.f32store();
    f.inc(p, 4).br(0).end().end();
  });
  return f;
}

let mod: { x: QExports; mem: WebAssembly.Memory } | null | undefined;
let enabled = true;

/** Switches the SIMD loops off (tests compare them with the JS twins, as without WebAssembly). */
export function setQSimd(on: boolean): void { enabled = on; }

function instance(): { x: QExports; mem: WebAssembly.Memory } | null {
  if (!enabled) return null;
  if (mod !== undefined) return mod;
  mod = null;
  try {
    if (typeof WebAssembly !== 'object') return null;
    const bytes = assemble([buildQuant(), buildEpi()]);
    if (!WebAssembly.validate(bytes)) return null;
    const mem = new WebAssembly.Memory({ initial: 16, maximum: 65536 });
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem } });
    mod = { x: inst.exports as unknown as QExports, mem };
  } catch {
    mod = null;
  }
  return mod;
}

/** Whether the SIMD loops are available (else callers use their JS twins). */
export function qWasmAvailable(): boolean {
  return instance() !== null;
}

function reserve(m: { mem: WebAssembly.Memory }, bytes: number): void {
  const have = m.mem.buffer.byteLength;
  if (bytes > have) m.mem.grow(Math.ceil((bytes - have) / 65536));
}

/**
 * quantizeCentered (src/quant/int8.ts) in SIMD: out[i] = clamp(rne(x[i] / scale), lo, hi), NaN -> 0.
 * `scale` must be a float32 value. Returns false where WebAssembly SIMD is unavailable.
 */
export function quantWasm(x: Float32Array, scale: number, lo: number, hi: number, out: Float32Array): boolean {
  const m = instance();
  if (!m) return false;
  const CH = 1 << 20; // 4 MiB chunks keep the module's memory small
  reserve(m, CH * 4);
  const view = new Float32Array(m.mem.buffer, 0, CH);
  for (let o = 0; o < x.length; o += CH) {
    const n = Math.min(CH, x.length - o);
    view.set(x.subarray(o, o + n));
    m.x.quant(0, 0, Math.ceil(n / 4) * 16, scale, lo, hi);
    out.set(view.subarray(0, n), o);
  }
  return true;
}

/**
 * The float epilogue in SIMD over acc laid out [outer][channels][inner] (float32 integers):
 * out = act(f32(acc * sc[c]) + bias[c]). Returns false where WebAssembly SIMD is unavailable.
 */
export function epilogueWasm(acc: Float32Array, sc: Float32Array, bias: Float32Array, inner: number, act: Activation | undefined, out: Float32Array): boolean {
  const m = instance();
  if (!m) return false;
  const channels = sc.length, plane = channels * inner;
  if (plane === 0) return true;
  // Whole [channels][inner] planes per call, as many as fit in ~4 MiB (at least one).
  const per = Math.max(1, Math.floor((1 << 20) / plane));
  const head = channels * 8;
  reserve(m, head + per * plane * 4);
  const buf = m.mem.buffer;
  new Float32Array(buf, 0, channels).set(sc);
  new Float32Array(buf, channels * 4, channels).set(bias);
  const view = new Float32Array(buf, head, per * plane);
  const a = act ?? { flag: 0, p0: 0, p1: 0, s: 1, t: 0 };
  for (let o = 0; o < acc.length; o += per * plane) {
    const n = Math.min(per * plane, acc.length - o);
    view.set(acc.subarray(o, o + n));
    for (let q = 0; q < n; q += plane) m.x.epi(head + q * 4, inner, channels, 0, channels * 4, a.flag, a.p0, a.p1, a.s, a.t);
    out.set(view.subarray(0, n), o);
  }
  return true;
}

/** Views of one convolution's buffers inside the module's memory (see quantScratch). */
export interface QScratch {
  /** The quantized activations, (xq - zp) as float32 integers. */
  xq: Float32Array;
  /** Where the caller's product writes the accumulators, [outer][channels][inner]. */
  acc: Float32Array;
  /** The epilogue in place over `acc`, then copied to `out`. */
  finish(sc: Float32Array, bias: Float32Array, inner: number, act: Activation | undefined, out: Float32Array): void;
}

/** The most a scratch may take of the module's memory (which never shrinks). */
const SCRATCH_MAX = 64 << 20;
const align16 = (n: number) => (n + 15) & ~15;

/**
 * quantWasm and epilogueWasm without the copies between them: X is quantized into the module's
 * memory and the product's accumulators are written there too, so one copy in and one out remain.
 * The views stay valid until the next call into this module. Null where WebAssembly SIMD is
 * unavailable or the buffers would take more than SCRATCH_MAX (callers then use the copying forms).
 */
export function quantScratch(x: Float32Array, scale: number, lo: number, hi: number, accLen: number, channels: number): QScratch | null {
  const m = instance();
  if (!m) return null;
  const head = align16(channels * 8), xOff = head, accOff = xOff + align16(x.length * 4);
  const total = accOff + align16(accLen * 4);
  if (total > SCRATCH_MAX) return null;
  reserve(m, total);
  const buf = m.mem.buffer;
  const xq = new Float32Array(buf, xOff, x.length);
  xq.set(x);
  m.x.quant(xOff, xOff, align16(x.length * 4), scale, lo, hi);
  const acc = new Float32Array(buf, accOff, accLen);
  return {
    xq,
    acc,
    finish(sc, bias, inner, act, out) {
      const plane = sc.length * inner;
      new Float32Array(buf, 0, sc.length).set(sc);
      new Float32Array(buf, sc.length * 4, sc.length).set(bias);
      const a = act ?? { flag: 0, p0: 0, p1: 0, s: 1, t: 0 };
      for (let q = 0; q < accLen; q += plane) m.x.epi(accOff + q * 4, inner, sc.length, 0, sc.length * 4, a.flag, a.p0, a.p1, a.s, a.t);
      out.set(acc);
    },
  };
}
