/**
 * Test helper: the INT8 kernels of native/src/qconv.cu (qconv, qconvDirect, qgemm) in plain
 * JavaScript with the same parameter lists and data layouts (packed int32 weight words, the
 * [sc, bias, corr] table, the packed activation with s = xq - off and the pad word), for the
 * emulated addon (emulator.ts). The dp4a products are taken byte by byte from the same words, so
 * a packing or correction mistake on the TypeScript side (backends/native/ops-q.ts) shows here.
 */
import { roundToDtype } from '../../src/ir/lowp.js';
import type { Ptr } from './emulator-typed.js';

type Fn = (code: number) => (x: number, a: number, b: number) => number;
type Launcher = (i: number[], f: Float32Array, p: (Ptr | undefined)[], fn: Fn) => void;

const i32 = (p: Ptr) => new Int32Array(p.buf, p.off);
const f32a = (p: Ptr) => new Float32Array(p.buf, p.off);

function need(k: string, i: number[], f: Float32Array, p: unknown[], ni: number, nf: number, np: number): void {
  if (i.length !== ni || f.length !== nf || p.length !== np) throw new Error(`${k}: expected ${ni} ints, ${nf} floats, ${np} bindings; got ${i.length}, ${f.length}, ${p.length}`);
}

interface Quant { scale: number; zp: number; qmin: number; qmax: number; off: number }

function quant(k: string, scale: number, zp: number, qmin: number, qmax: number): Quant {
  if (!((qmin === -128 && qmax === 127) || (qmin === 0 && qmax === 255))) throw new Error(`${k}: [qmin, qmax] must be [-128, 127] or [0, 255]`);
  return { scale, zp, qmin, qmax, off: qmin === 0 ? 128 : 0 };
}

/** xq: rne of the float64 quotient, NaN -> zp (the CUDA routine's result). */
function quantize(x: number, q: Quant): number {
  const v = x / q.scale;
  if (v !== v) return q.zp;
  let r = Math.round(v);
  if (r - v === 0.5 && r % 2 !== 0) r -= 1;
  return Math.min(Math.max(r + q.zp, q.qmin), q.qmax);
}

const sbyte = (w: number, j: number) => ((w << (24 - 8 * j)) >> 24);
function dp4a(a: number, b: number): number {
  let s = 0;
  for (let j = 0; j < 4; j++) s += sbyte(a, j) * sbyte(b, j);
  return s;
}

interface Out { aux: Int32Array; sc: Float32Array; channels: number; z: Float32Array | undefined; y: Float32Array; act: (x: number, a: number, b: number) => number; post: (x: number, a: number, b: number) => number; f: Float32Array; f16: boolean }

function out(p: (Ptr | undefined)[], channels: number, f: Float32Array, fn: Fn, act: number, post: number, f16: number): Out {
  return { aux: i32(p[2]!), sc: f32a(p[2]!), channels, z: p[3] ? f32a(p[3]) : undefined, y: f32a(p[4]!), act: fn(act), post: fn(post), f, f16: f16 !== 0 };
}

function store(o: Out, c: number, i: number, acc: number): void {
  const fr = Math.fround;
  let v = fr(fr(fr(acc) * o.sc[c]!) + o.sc[o.channels + c]!);
  v = fr(o.act(v, o.f[1]!, o.f[2]!));
  if (o.z) v = fr(v + o.z[i]!);
  v = fr(o.post(v, o.f[3]!, o.f[4]!));
  o.y[i] = o.f16 ? roundToDtype('float16', v) : v;
}

function geom(i: number[]) {
  const [N, C, H, W, K, P, Q, R, S, sh, sw, ph, pw, dh, dw, G] = i as [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number];
  if (C % G || K % G) throw new Error('qconv: channels are not divisible by groups');
  return { N, C, H, W, K, P, Q, R, S, sh, sw, ph, pw, dh, dw, G, Cg: C / G, Mg: K / G, Cg4: Math.ceil(C / G / 4) };
}

const qconv: Launcher = (i, f, p, fn) => {
  need('qconv', i, f, p, 22, 5, 5);
  const g = geom(i);
  const q = quant('qconv', f[0]!, i[18]!, i[19]!, i[20]!);
  const o = out(p, g.K, f, fn, i[16]!, i[17]!, i[21]!);
  const X = f32a(p[0]!), Wp = i32(p[1]!);
  // Pack X: words [N][G][H][W][Cg4] of s = xq - off.
  const HW = g.H * g.W;
  const xp = new Int32Array(g.N * g.G * HW * g.Cg4);
  for (let b = 0; b < g.N; b++) for (let grp = 0; grp < g.G; grp++) for (let pix = 0; pix < HW; pix++) for (let cw = 0; cw < g.Cg4; cw++) {
    let w = 0;
    for (let k = 0; k < 4; k++) {
      const c = cw * 4 + k;
      if (c < g.Cg) w |= ((quantize(X[(b * g.C + grp * g.Cg + c) * HW + pix]!, q) - q.off) & 0xff) << (8 * k);
    }
    xp[((b * g.G + grp) * HW + pix) * g.Cg4 + cw] = w;
  }
  const pb = (q.zp - q.off) & 0xff, pad = pb | (pb << 8) | (pb << 16) | (pb << 24);
  const taps = g.R * g.S, KW = taps * g.Cg4;
  for (let b = 0; b < g.N; b++) for (let k = 0; k < g.K; k++) {
    const grp = Math.floor(k / g.Mg);
    for (let pp = 0; pp < g.P; pp++) for (let qq = 0; qq < g.Q; qq++) {
      let acc = 0;
      for (let r = 0; r < g.R; r++) for (let s = 0; s < g.S; s++) {
        const h = pp * g.sh - g.ph + r * g.dh, w = qq * g.sw - g.pw + s * g.dw;
        const inside = h >= 0 && h < g.H && w >= 0 && w < g.W;
        for (let cw = 0; cw < g.Cg4; cw++) {
          const xv = inside ? xp[(((b * g.G + grp) * g.H + h) * g.W + w) * g.Cg4 + cw]! : pad;
          acc += dp4a(Wp[k * KW + (r * g.S + s) * g.Cg4 + cw]!, xv);
        }
      }
      store(o, k, ((b * g.K + k) * g.P + pp) * g.Q + qq, acc + o.aux[2 * g.K + k]!);
    }
  }
};

const qconvDirect: Launcher = (i, f, p, fn) => {
  need('qconvDirect', i, f, p, 22, 5, 5);
  const g = geom(i);
  const q = quant('qconvDirect', f[0]!, i[18]!, i[19]!, i[20]!);
  const o = out(p, g.K, f, fn, i[16]!, i[17]!, i[21]!);
  const X = f32a(p[0]!), Wt = new Int8Array(p[1]!.buf, p[1]!.off);
  for (let b = 0; b < g.N; b++) for (let k = 0; k < g.K; k++) {
    const grp = Math.floor(k / g.Mg);
    for (let pp = 0; pp < g.P; pp++) for (let qq = 0; qq < g.Q; qq++) {
      let acc = 0;
      for (let c = 0; c < g.Cg; c++) for (let r = 0; r < g.R; r++) for (let s = 0; s < g.S; s++) {
        const h = pp * g.sh - g.ph + r * g.dh, w = qq * g.sw - g.pw + s * g.dw;
        if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
        acc += (quantize(X[((b * g.C + grp * g.Cg + c) * g.H + h) * g.W + w]!, q) - q.zp) * Wt[((k * g.Cg + c) * g.R + r) * g.S + s]!;
      }
      store(o, k, ((b * g.K + k) * g.P + pp) * g.Q + qq, acc);
    }
  }
};

const qgemm: Launcher = (i, f, p, fn) => {
  need('qgemm', i, f, p, 9, 5, 5);
  const [rows, N, K] = i as [number, number, number];
  if (K < 1) throw new Error('qgemm: K must be >= 1');
  const q = quant('qgemm', f[0]!, i[5]!, i[6]!, i[7]!);
  const o = out(p, N, f, fn, i[3]!, i[4]!, i[8]!);
  const A = f32a(p[0]!), Wp = i32(p[1]!);
  const K4 = Math.ceil(K / 4);
  const ap = new Int32Array(K4);
  for (let r = 0; r < rows; r++) {
    ap.fill(0);
    for (let k = 0; k < K; k++) ap[k >> 2]! |= ((quantize(A[r * K + k]!, q) - q.off) & 0xff) << (8 * (k & 3));
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let w = 0; w < K4; w++) acc += dp4a(Wp[n * K4 + w]!, ap[w]!);
      store(o, n, r * N + n, acc + o.aux[2 * N + n]!);
    }
  }
};

export const Q_LAUNCHERS: Record<string, Launcher> = { qconv, qconvDirect, qgemm };
export const Q_KERNEL_NAMES = Object.keys(Q_LAUNCHERS);
