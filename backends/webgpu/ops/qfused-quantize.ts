/**
 * Activation quantization for the WebGPU int8 kernels: ONNX QuantizeLinear
 *     xq = clamp(roundHalfEven(x / x_scale) + x_zero_point, qmin, qmax)
 * then s = xq - off (off = 0 for int8, 128 for uint8: s is a signed byte), packed 4 per u32 for
 * dot4I8Packed by a small kernel that runs once per activation, before the GEMM:
 *  - 'conv':  X NCHW -> [B, group, pixels, Cg4] words, the 4 channels c..c+3 of one pixel in a
 *             word (channels past Cg are 0; their weights are 0), the implicit GEMM's im2col then
 *             fetches 4 reduction steps per load;
 *  - 'rows':  X [R, K] -> [R, K4s] words, K4s = ceil(K / 4) rounded up to 4 (vec4 loads).
 * Quantizing once here rather than in each GEMM tile load: every activation is read by
 * ceil(M / TM) workgroups (and 9 times for a 3x3 kernel), and the packed copy is a quarter of the
 * f32 bytes, so the GEMM's loads shrink 4x and no quotient is computed twice.
 *
 * Exactness: WGSL's round() is round-half-even; the quotient is the f32 division, which lavapipe
 * and NVIDIA compute correctly rounded for these operands (WGSL allows 2.5 ULP: a quotient within
 * a few ULP of a .5 tie could round the other way on a GPU that divides less exactly).
 */
import type { GpuKernelContext } from '../kernel.js';
import { FLAT_INDEX, grid, WG } from '../program.js';
import type { GpuTensor } from '../tensor.js';
import { Params } from './convgemm-epilogue.js';

export interface QuantParams {
  scale: number;
  zeroPoint: number;
  signed: boolean;
}

export const qRange = (q: QuantParams): [number, number] => (q.signed ? [-128, 127] : [0, 255]);
/** off: the value subtracted so that s = xq - off is a signed byte. */
export const qOff = (q: QuantParams): number => (q.signed ? 0 : 128);

/** Adds the quantization parameters (xs, zpf, qlo, qhi, qoff) to a params block. */
export function quantParams(p: Params, q: QuantParams): void {
  const [lo, hi] = qRange(q);
  p.f('xs', q.scale).f('zpf', q.zeroPoint).f('qlo', lo).f('qhi', hi).f('qoff', qOff(q));
}

/**
 * WGSL `quant_(x, xs, zpf, qlo, qhi) -> f32`: xq as an f32 integer, equal to the CPU reference
 * (src/quant/int8.ts quantizeCentered: roundHalfEven of the float64 quotient, i.e. of the exact
 * x / xs). The f32 quotient decides every element but those within 1e-3 of a .5 tie; there the
 * side of the tie is settled exactly in integers: |x| against (2n+1)/2 * xs as 35-bit products of
 * the 24-bit significands (the f32 quotient is not enough: it may itself round onto the tie, and
 * WGSL allows 2.5 ULP of division error). Denormal operands keep the f32 quotient.
 */
export const QUANT_FN = `fn shl64_(v: vec2<u32>, n: u32) -> vec2<u32> {
  if (n == 0u) { return v; }
  return vec2<u32>(v.x << n, (v.y << n) | (v.x >> (32u - n)));
}
fn gt64_(a: vec2<u32>, b: vec2<u32>) -> i32 {
  if (a.y != b.y) { return select(-1, 1, a.y > b.y); }
  if (a.x != b.x) { return select(-1, 1, a.x > b.x); }
  return 0;
}
fn rdiv_(x: f32, s: f32) -> f32 {
  let q = x / s;
  let a = abs(q);
  let fl = floor(a);
  if (abs(a - fl - 0.5) > 1e-3 || a > 1000.0) { return round(q); }
  let ux = bitcast<u32>(x) & 0x7fffffffu; let us = bitcast<u32>(s) & 0x7fffffffu;
  let ex = ux >> 23u; let es = us >> 23u;
  if (ex == 0u || es == 0u || ex == 255u || es == 255u) { return round(q); }
  let mx = (ux & 0x7fffffu) | 0x800000u; let ms = (us & 0x7fffffu) | 0x800000u;
  // |x| = mx 2^(ex-150), s = ms 2^(es-150): compare mx 2^(ex-es+1) with (2 fl + 1) ms.
  let a2 = u32(fl) * 2u + 1u;
  let pl = a2 * (ms & 0xffffu); let ph = a2 * (ms >> 16u);
  let rlo = pl + (ph << 16u);
  var r = vec2<u32>(rlo, (ph >> 16u) + select(0u, 1u, rlo < pl));
  var l = vec2<u32>(mx, 0u);
  let d = i32(ex) - i32(es) + 1;
  if (d > 24 || d < -24) { return round(q); }
  if (d > 0) { l = shl64_(l, u32(d)); } else { r = shl64_(r, u32(-d)); }
  let c = gt64_(l, r);
  var n = fl;
  if (c > 0 || (c == 0 && fract(fl * 0.5) != 0.0)) { n = fl + 1.0; }
  return select(-n, n, x >= 0.0);
}
fn quant_(x: f32, xs: f32, zpf: f32, qlo: f32, qhi: f32) -> f32 {
  return clamp(rdiv_(x, xs) + zpf, qlo, qhi);
}
/** Rounds to float16 (pack2x16float is indeterminate outside f16's finite range: handled by hand). */
fn f16r_(v: f32) -> f32 {
  var infBits = 0x7f800000u; // a var: a constant inf is a WGSL compile error
  if (abs(v) <= 65504.0) { return unpack2x16float(pack2x16float(vec2f(v, 0.0))).x; }
  if (v != v) { return v; }
  if (abs(v) < 65520.0) { return sign(v) * 65504.0; }
  return sign(v) * bitcast<f32>(infBits);
}`;

/** The padding word: s = zp - off in every byte. */
export function padWord(q: QuantParams): number {
  const b = (q.zeroPoint - qOff(q)) & 0xff;
  return (b | (b << 8) | (b << 16) | (b << 24)) >>> 0;
}

export interface PackJob {
  x: GpuTensor;
  layout: 'conv' | 'rows';
  /** conv: batch, channels, groups, pixels per image; rows: R = batch, C = K, group = 1, IS = 1. */
  batch: number; C: number; group: number; IS: number;
  q: QuantParams;
}

/** Words per packed row / pixel. */
export function packedWidth(j: PackJob): number {
  const c4 = Math.ceil(j.C / j.group / 4);
  return j.layout === 'rows' ? Math.ceil(c4 / 4) * 4 : c4;
}

/** Records the quantize-pack kernel; returns the packed tensor (u32 words, caller releases it). */
export async function recordQuantizePack(ctx: GpuKernelContext, j: PackJob): Promise<GpuTensor> {
  const Cg = j.C / j.group, W4 = packedWidth(j);
  const words = j.batch * j.group * j.IS * W4;
  const out = ctx.gpu.alloc('uint32', [words]);
  const p = new Params().u('total', words).u('Cg', Cg).u('C', j.C).u('IS', j.IS).u('W4', W4).u('G', j.group);
  quantParams(p, j.q);
  const conv = j.layout === 'conv';
  // conv: thread order (b, g, word, pixel), pixel fastest: reads of X coalesce, writes stride W4.
  const index = conv
    ? `let pix = i % IS; let r = i / IS; let cw = r % W4; let bg = r / W4; let g = bg % G; let b = bg / G;
  let xb = (b * C + g * Cg) * IS + pix; let cs = IS;
  let o = (bg * IS + pix) * W4 + cw;`
    : `let cw = i % W4; let row = i / W4;
  let xb = row * C; let cs = 1u;
  let o = i;`;
  await ctx.gpu.run({
    name: 'QuantizePack',
    cacheKey: `qpack:${j.layout}`,
    wgsl: () => `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Q: array<u32>;
@group(0) @binding(2) var<storage, read> params: array<u32>;
${QUANT_FN}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  ${p.wgsl}
  if (i >= total) { return; }
  ${index}
  var w = 0u;
  for (var k = 0u; k < 4u; k++) {
    let c = cw * 4u + k;
    if (c < Cg) {
      let s = i32(quant_(X[xb + c * cs], xs, zpf, qlo, qhi) - qoff);
      w |= (u32(s) & 0xffu) << (8u * k);
    }
  }
  Q[o] = w;
}`,
    inputs: [j.x], outputs: [out], params: p.values, workgroups: grid(words),
  });
  return out;
}
