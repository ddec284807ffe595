/**
 * Winograd F(4x4, 3x3) for float32 3x3 stride-1 undilated convolutions (one group): 36
 * GEMMs of [M x C] x [C x tiles] replace the [M x 9C] x [9C x pixels] im2col GEMM, 2.25x fewer
 * multiply-adds per output pixel after transform overheads (4x before). Tiles are processed in
 * chunks of tile rows so the transformed input of a chunk stays in cache. Transforms run in
 * WebAssembly SIMD (convgemm-winograd-wasm.ts); there is no scalar twin: without SIMD the
 * im2col path runs instead.
 *
 * Accuracy: the transforms scale values by up to ~10 and back, so float32 results differ from
 * direct convolution by a few 1e-6 relative to the output's magnitude, an order of magnitude
 * more than im2col's reordering but far inside what float32 models tolerate.
 */
import type { ConvArgs, Geom3 } from './convgemm-conv.js';
import { arena, gemmCore, strideTable, type Arena } from './gemm.js';

/** G (6x3) of F(4x4, 3x3): U = G g G^T. */
const G = [
  [1 / 4, 0, 0],
  [-1 / 6, -1 / 6, -1 / 6],
  [-1 / 6, 1 / 6, -1 / 6],
  [1 / 24, 1 / 12, 1 / 6],
  [1 / 24, -1 / 12, 1 / 6],
  [0, 0, 1],
];

/** Target tiles per chunk (the GEMMs' N): large enough to amortize per-GEMM costs. */
const CHUNK_TILES = 512;

/** Whether the Winograd path applies and pays off for this convolution. */
export function winogradApplies(ar: Arena, g: Geom3, group: number, C: number, M: number): boolean {
  return ar.wasm !== null && ar.wasm.wino_in !== undefined && group === 1
    && g.kd === 1 && g.id === 1 && g.od === 1 && g.kh === 3 && g.kw === 3
    && g.sh === 1 && g.sw === 1 && g.dh === 1 && g.dw === 1
    && C >= 16 && M >= 8 && g.oh >= 8 && g.ow >= 8;
}

/** U[xi][m][c] = (G w[m][c] G^T)[xi], in float64 then stored as float32. */
function transformWeights(w: Float32Array, M: number, C: number, dst: Float32Array, d0: number): void {
  const t = new Float64Array(18);
  for (let m = 0; m < M; m++) {
    for (let c = 0; c < C; c++) {
      const o = (m * C + c) * 9;
      // t = G g (6x3)
      for (let i = 0; i < 6; i++) {
        const gi = G[i]!;
        for (let b = 0; b < 3; b++) t[i * 3 + b] = gi[0]! * w[o + b]! + gi[1]! * w[o + 3 + b]! + gi[2]! * w[o + 6 + b]!;
      }
      // U = t G^T (6x6)
      for (let i = 0; i < 6; i++) {
        for (let j = 0; j < 6; j++) {
          const gj = G[j]!;
          dst[d0 + ((i * 6 + j) * M + m) * C + c] = t[i * 3]! * gj[0]! + t[i * 3 + 1]! * gj[1]! + t[i * 3 + 2]! * gj[2]!;
        }
      }
    }
  }
}

export function convWinogradF32(a: ConvArgs): void {
  const { x, batch: N, channels: C, w, outChannels: M, bias, g, y } = a;
  const ar = arena();
  const wasm = ar.wasm!;
  const mark = ar.top;
  const { ih, iw, oh, ow, ph, pw } = g;
  const TH = Math.ceil(oh / 4), TW = Math.ceil(ow / 4), tw4 = Math.ceil(TW / 4) * 4;
  const Hp = 4 * TH + 2, Wp = 4 * tw4 + 4, PS = Hp * Wp;
  const OHp = 4 * TH, OWp = 4 * tw4, IS = ih * iw, OS = oh * ow;
  const cty = Math.max(1, Math.min(TH, Math.round(CHUNK_TILES / tw4)));
  const TcMax = cty * tw4;
  const up = ar.alloc(36 * M * C * 4);
  const biasp = ar.alloc(M * 4);
  const xs = ar.alloc(C * IS * 4);
  const xp = ar.alloc(C * PS * 4);
  const t1 = ar.alloc(6 * (4 * tw4 + 8) * 4);
  const vb = ar.alloc(36 * C * TcMax * 4);
  const mb = ar.alloc(36 * M * TcMax * 4);
  const ob = ar.alloc(M * OHp * OWp * 4);
  const ys = ar.alloc(M * OS * 4);
  let f = ar.f32;
  transformWeights(w, M, C, f, up >> 2);
  if (bias) f.set(bias.subarray(0, M), biasp >> 2);
  f.fill(0, xp >> 2, (xp >> 2) + C * PS);
  const aK = strideTable(C, 1), aM = strideTable(M, C);
  const flags = (bias ? 2 : 0) | (a.clipMin !== undefined || a.clipMax !== undefined ? 4 : 0);
  const lo = a.clipMin ?? -Infinity, hi = a.clipMax ?? Infinity;
  for (let n = 0; n < N; n++) {
    f = ar.f32;
    f.set(x.subarray(n * C * IS, (n + 1) * C * IS), xs >> 2);
    for (let c = 0; c < C; c++) wasm.copy2d(xs + c * IS * 4, iw * 4, xp + (c * PS + ph * Wp + pw) * 4, Wp * 4, ih, iw * 4);
    for (let ty0 = 0; ty0 < TH; ty0 += cty) {
      const nty = Math.min(cty, TH - ty0), Tc = nty * tw4;
      wasm.wino_in(xp + 4 * ty0 * Wp * 4, Wp * 4, C, PS * 4, nty, tw4, t1, vb, C * Tc * 4, Tc * 4);
      const bK = strideTable(C, Tc), bN = strideTable(Tc, 1);
      for (let xi = 0; xi < 36; xi++) {
        gemmCore(ar, M, Tc, C, up + xi * M * C * 4, aK, aM, vb + xi * C * Tc * 4, bK, bN, null, (mb >> 2) + xi * M * Tc, Tc);
      }
      wasm.wino_out(mb, M * Tc * 4, Tc * 4, M, nty, tw4, ob + 4 * ty0 * OWp * 4, OWp * 4, OHp * OWp * 4, biasp, flags, lo, hi);
    }
    for (let m = 0; m < M; m++) wasm.copy2d(ob + m * OHp * OWp * 4, OWp * 4, ys + m * OS * 4, ow * 4, oh, ow * 4);
    f = ar.f32;
    y.set(f.subarray(ys >> 2, (ys >> 2) + M * OS), n * M * OS);
  }
  ar.top = mark;
}
