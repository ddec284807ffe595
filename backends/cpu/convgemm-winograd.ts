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
import { arena, gemmCore, kBlocks, MC, packA, padPlanes, strideTable, touchPages, type Arena } from './gemm.js';
import { ParJob } from './convgemm-threads.js';

/** Output pixels from which Winograd beats im2col (the weight transform and tile padding cost). */
const MIN_PIXELS = 1024;

/** Target tiles per chunk (the GEMMs' N): large enough to amortize per-GEMM costs. */
const CHUNK_TILES = 512;

/** Whether the Winograd path applies and (unless `force`) pays off for this convolution. */
export function winogradApplies(ar: Arena, g: Geom3, group: number, C: number, M: number, force = false): boolean {
  if (ar.wasm === null || group !== 1 || g.kd !== 1 || g.id !== 1 || g.od !== 1) return false;
  if (g.kh !== 3 || g.kw !== 3 || g.sh !== 1 || g.sw !== 1 || g.dh !== 1 || g.dw !== 1) return false;
  if (force) return true;
  const px = g.oh * g.ow;
  // tiles are computed in groups of 4 along x: reject maps where the padding wastes > 25%
  const tw4 = Math.ceil(Math.ceil(g.ow / 4) / 4) * 4;
  return C >= 16 && M >= 8 && px >= MIN_PIXELS && Math.ceil(g.oh / 4) * tw4 * 16 <= 1.25 * px;
}

/**
 * U[xi][m][c] = (G w[m][c] G^T)[xi] with G the 6x3 matrix of F(4x4, 3x3):
 *   G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1].
 */
function transformWeights(w: Float32Array, M: number, C: number): Float32Array {
  const U = new Float32Array(36 * M * C);
  const MC = M * C;
  const t = new Float64Array(18);
  for (let m = 0; m < M; m++) {
    for (let c = 0; c < C; c++) {
      const o = (m * C + c) * 9;
      // t = G g (6x3), column by column
      for (let b = 0; b < 3; b++) {
        const g0 = w[o + b]!, g1 = w[o + 3 + b]!, g2 = w[o + 6 + b]!;
        t[b] = g0 / 4;
        t[3 + b] = -(g0 + g1 + g2) / 6;
        t[6 + b] = -(g0 - g1 + g2) / 6;
        t[9 + b] = g0 / 24 + g1 / 12 + g2 / 6;
        t[12 + b] = g0 / 24 - g1 / 12 + g2 / 6;
        t[15 + b] = g2;
      }
      // U = t G^T (6x6), row by row
      let d = m * C + c;
      for (let i = 0; i < 6; i++) {
        const a0 = t[3 * i]!, a1 = t[3 * i + 1]!, a2 = t[3 * i + 2]!;
        U[d] = a0 / 4; d += MC;
        U[d] = -(a0 + a1 + a2) / 6; d += MC;
        U[d] = -(a0 - a1 + a2) / 6; d += MC;
        U[d] = a0 / 24 + a1 / 12 + a2 / 6; d += MC;
        U[d] = a0 / 24 - a1 / 12 + a2 / 6; d += MC;
        U[d] = a2; d += MC;
      }
    }
  }
  return U;
}

/**
 * Transformed weights of recent calls, by weight array. A model's weights are the same array
 * every run; the entry keeps a copy of the weights it was made from and is used only when they
 * are still bitwise equal, so a buffer reused for other values can never yield stale weights.
 */
const weightCache = new WeakMap<Float32Array, { copy: Int32Array; U: Float32Array }>();

function transformedWeights(w: Float32Array, M: number, C: number): Float32Array {
  const n = M * C * 9;
  const bits = new Int32Array(w.buffer, w.byteOffset, n);
  const hit = weightCache.get(w);
  if (hit && hit.copy.length === n && hit.U.length === 36 * M * C) {
    const c = hit.copy;
    let same = true;
    for (let i = 0; i < n; i++) if (c[i] !== bits[i]) { same = false; break; }
    if (same) return hit.U;
  }
  const U = transformWeights(w, M, C);
  weightCache.set(w, { copy: bits.slice(), U });
  return U;
}

/** Tile rows per chunk: CHUNK_TILES tiles, or with threads, ~4 chunks per thread (of >= 64 tiles). */
function chunkRows(TH: number, tw4: number, threads: number): number {
  let cty = Math.max(1, Math.min(TH, Math.round(CHUNK_TILES / tw4)));
  if (threads > 1) {
    const nch = Math.min(Math.max(Math.ceil(TH / cty), 4 * threads), Math.max(1, Math.floor((TH * tw4) / 64)));
    cty = Math.ceil(TH / nch);
  }
  return cty;
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
  let threads = ar.threadsFor(4 * M * C * TH * tw4 * 16);
  const cty = chunkRows(TH, tw4, threads);
  if (Math.ceil(TH / cty) < 2) threads = 1;
  const TcMax = cty * tw4;
  const up = ar.alloc(36 * M * C * 4);
  const biasp = ar.alloc(M * 4);
  const xs = ar.alloc(C * IS * 4);
  const xp = ar.alloc(C * PS * 4);
  // per-chunk scratch (one per thread): t1, the transformed input vb, the GEMM results mb (written
  // in place by the kernel: rows padded to 4, tiles to 8, see gemmCore direct)
  const Mp = Math.ceil(M / 4) * 4;
  const al = (n: number): number => (n + 127) & ~63;
  const t1Bytes = al(6 * (4 * tw4 + 8) * 4), vbBytes = al(36 * C * TcMax * 4), mbBytes = al(36 * Mp * (Math.ceil(TcMax / 8) * 8) * 4);
  const slotBytes = t1Bytes + vbBytes + mbBytes;
  const t1 = ar.alloc(slotBytes * threads);
  const vb = t1 + t1Bytes, mb = vb + vbBytes;
  // the transform writes 4x4 tiles in groups of 4: straight into the output when they fit it exactly
  const exact = OHp === oh && OWp === ow;
  const ys = ar.alloc(M * OS * 4);
  const ob = exact ? ys : ar.alloc(M * OHp * OWp * 4);
  let f = ar.f32;
  f.set(transformedWeights(w, M, C), up >> 2);
  ar.flush(up, 36 * M * C);
  if (bias) f.set(bias.subarray(0, M), biasp >> 2);
  const aK = strideTable(C, 1), aM = strideTable(M, C);
  const upk: number[] = [];
  for (let xi = 0; xi < 36; xi++) upk.push(packA(ar, M, C, up + xi * M * C * 4, aK, aM));
  const flags = (bias ? 2 : 0) | (a.act?.flag ?? 0);
  const p0 = a.act?.p0 ?? 0, p1 = a.act?.p1 ?? 0, as = a.act?.s ?? 1, at = a.act?.t ?? 0;
  const job = threads > 1 ? new ParJob(slotBytes) : undefined;
  if (job) {
    // one task per chunk of tile rows: input transform, 36 GEMMs (B read in place), output transform
    const { nkb, kcMax } = kBlocks(C);
    for (let ty0 = 0; ty0 < TH; ty0 += cty) {
      const nty = Math.min(cty, TH - ty0), Tc = nty * tw4, Tcp = Math.ceil(Tc / 8) * 8;
      job.task().call('wino_in', 0b11000000, xp + 4 * ty0 * Wp * 4, Wp * 4, C, PS * 4, nty, tw4, t1, vb, C * Tc * 4, Tc * 4);
      for (let xi = 0; xi < 36; xi++) {
        for (let kb = 0, k0 = 0; kb < nkb; kb++) {
          const kc = Math.min(kcMax, C - k0);
          for (let ic = 0; ic < Mp; ic += MC) {
            job.call('macro', 0b110, upk[xi]! + (Mp * k0 + ic * kc) * 4, vb + (xi * C + k0) * Tc * 4, mb + (xi * Mp + ic) * Tcp * 4,
              Math.min(MC, Mp - ic), Tcp, kc, Tcp * 4, kb > 0 ? 1 : 0, 0, 0, 0, 1, 0, Tc * 4);
          }
          k0 += kc;
        }
      }
      job.call('wino_out', 0b1, mb, Mp * Tcp * 4, Tcp * 4, M, nty, tw4, ob + 4 * ty0 * OWp * 4, OWp * 4, OHp * OWp * 4, biasp, flags, p0, p1, as, at);
    }
  }
  for (let n = 0; n < N; n++) {
    f = ar.f32;
    f.set(x.subarray(n * C * IS, (n + 1) * C * IS), xs >> 2);
    padPlanes(ar, threads, C, xs, IS * 4, iw * 4, ih, iw * 4, xp, PS * 4, (ph * Wp + pw) * 4, Wp * 4);
    if (job) ar.run(job, threads, () => touchPages(y, n * M * OS, M * OS));
    else for (let ty0 = 0; ty0 < TH; ty0 += cty) {
      const nty = Math.min(cty, TH - ty0), Tc = nty * tw4;
      wasm.wino_in(xp + 4 * ty0 * Wp * 4, Wp * 4, C, PS * 4, nty, tw4, t1, vb, C * Tc * 4, Tc * 4);
      const bK = strideTable(C, Tc), bN = strideTable(Tc, 1);
      const Tcp = Math.ceil(Tc / 8) * 8;
      for (let xi = 0; xi < 36; xi++) {
        gemmCore(ar, M, Tc, C, { packed: upk[xi]! }, vb + xi * C * Tc * 4, bK, bN, null, (mb >> 2) + xi * Mp * Tcp, Tcp, { direct: true });
      }
      wasm.wino_out(mb, Mp * Tcp * 4, Tcp * 4, M, nty, tw4, ob + 4 * ty0 * OWp * 4, OWp * 4, OHp * OWp * 4, biasp, flags, p0, p1, as, at);
    }
    if (!exact) for (let m = 0; m < M; m++) wasm.copy2d(ob + m * OHp * OWp * 4, OWp * 4, ys + m * OS * 4, ow * 4, oh, ow * 4);
    f = ar.f32;
    y.set(f.subarray(ys >> 2, (ys >> 2) + M * OS), n * M * OS);
  }
  ar.top = mark;
}
