/**
 * The int8 tiled GEMM of the WebGPU Q ops:  C[i, j] = sum_k P[i, k] * Q[j, k]  over packed i8x4
 * words (WGSL dot4I8Packed, int32 accumulation). P is the packed weights (rows = output channels,
 * qfused-weights.ts), Q the packed activations, fetched by a caller-given loader (plain rows for
 * Gemm / MatMul, the im2col gather of the channel-packed input for Conv).
 *
 * Same structure as the f32 kernel (convgemm-tile.ts): a workgroup of wx*wy threads computes a
 * (rm*wy) x (rn*wx) tile, each thread an rm x rn block whose rows are rm/4 groups of 4 spaced 4*wy
 * apart (columns likewise), so neighbouring threads read neighbouring vec4s of shared memory.
 * K is walked in blocks of TKW words (4 int8 each) staged k-major in shared memory as vec4<u32>
 * (4 rows / columns of one word). An 8x8 block does 64 dot4I8Packed (256 multiply-adds) per 4
 * vec4 reads. Weight rows are padded to a multiple of TKW words, so P loads are unguarded along k.
 */
import { blockStores } from './convgemm-tile.js';

export interface QTileCfg {
  wx: number;
  wy: number;
  /** K block in u32 words (multiple of 4). */
  tkw: number;
  rm: 4 | 8;
  rn: 4 | 8;
}

export const qTileM = (c: QTileCfg): number => c.rm * c.wy;
export const qTileN = (c: QTileCfg): number => c.rn * c.wx;
export const qCfgKey = (c: QTileCfg): string => `${c.wx}x${c.wy}x${c.tkw}r${c.rm}x${c.rn}`;

/** The K block of every Q kernel: the weights are packed to a multiple of it once, for any tile. */
export const QTKW = 8;

let forced: QTileCfg | undefined;
/** Forces one config on every int8 GEMM recorded afterwards (tests, sweeps); undefined restores the policy. */
export function forceQTile(cfg: QTileCfg | undefined): void { forced = cfg; }

/**
 * A config for an M x N problem: 64x64 tiles of 4x4 blocks where both sides are large, narrower
 * where M (output channels of a group) or N is small, so few rows do not idle most threads.
 * On the H100 (bench/webgpu-int8-gemm.js --sweep at 4096^3) 16x16 threads with 4x4 blocks ran at
 * 72.7 TOPS against 53.9 for 8x8 blocks (the register pressure of 64 i32 accumulators plus
 * unpacked operands costs more than the fewer shared-memory reads save).
 */
export function pickQTile(M: number, N: number): QTileCfg {
  if (forced) return forced;
  const big = M >= 128 && N >= 128 * 16;
  if (big) return { wx: 16, wy: 16, tkw: QTKW, rm: 4, rn: 4 };
  const wy = M <= 16 ? 4 : M <= 32 ? 8 : 16;
  return { wx: 16, wy, tkw: QTKW, rm: 4, rn: N >= 1024 ? 8 : 4 };
}

export interface QGemmParts {
  /** Module-scope WGSL: bindings (P must be `P: array<vec4<u32>>`) and helpers. */
  decls: string;
  /** Statements at the start of main(): params' lets; must define M, N, K4p, zOff, xOff. */
  lets: string;
  /** Per-thread setup; sees t, m0, n0, z (group / batch index). Must define pOff (first word of P's rows for z). */
  setup: string;
  /** Statements at the start of each K block (before a barrier), e.g. k decode tables. */
  pre?: string;
  /** Statements filling Qs for the K block starting at word k0 (element (j, k) at Qs[k * TN/4 + j/4][j%4]). */
  loadQ: string;
  /** Statements storing `acc` (i32) at row m, column n (both in range). */
  store: string;
}

export function qGemmShader(c: QTileCfg, g: QGemmParts): string {
  const TM = qTileM(c), TN = qTileN(c), TKW = c.tkw, threads = c.wx * c.wy;
  const PM = c.rm / 4, PN = c.rn / 4;
  const acc = (p: number, i: number, q: number) => `c${p}${i}${q}`;
  const decl: string[] = [], reads: string[] = [], dots: string[] = [], list: string[] = [];
  for (let p = 0; p < PM; p++) reads.push(`let a${p} = Ps[kk * ${TM / 4}u + ${p * c.wy}u + ty];`);
  for (let q = 0; q < PN; q++) reads.push(`let b${q} = Qs[kk * ${TN / 4}u + ${q * c.wx}u + tx];`);
  for (let p = 0; p < PM; p++) {
    for (let i = 0; i < 4; i++) {
      const ai = `a${p}.${'xyzw'[i]}`;
      for (let q = 0; q < PN; q++) {
        decl.push(`var ${acc(p, i, q)} = vec4<i32>();`);
        dots.push(`${acc(p, i, q)} += vec4<i32>(dot4I8Packed(${ai}, b${q}.x), dot4I8Packed(${ai}, b${q}.y), dot4I8Packed(${ai}, b${q}.z), dot4I8Packed(${ai}, b${q}.w));`);
        list.push(acc(p, i, q));
      }
    }
  }
  // P tile: TM rows x TKW words, vec4 loads along k (rows padded to TKW words: always in range).
  const pCount = (TM * TKW) / 4, pPasses = Math.ceil(pCount / threads);
  const loadP = `for (var ps = 0u; ps < ${pPasses}u; ps++) {
      let e = t + ps * ${threads}u;
      ${pCount % threads === 0 ? '' : `if (e >= ${pCount}u) { break; }`}
      let r = e / ${TKW / 4}u; let kq = (e % ${TKW / 4}u) * 4u; let gr = m0 + r;
      var v = vec4<u32>();
      if (gr < M) { v = P[(pOff + gr * K4p + k0 + kq) / 4u]; }
      let s = kq * ${TM / 4}u + r / 4u; let l = r % 4u;
      Ps[s][l] = v.x; Ps[s + ${TM / 4}u][l] = v.y; Ps[s + ${TM / 2}u][l] = v.z; Ps[s + ${(3 * TM) / 4}u][l] = v.w;
    }`;
  return `${g.decls}
var<workgroup> Ps: array<vec4<u32>, ${(TKW * TM) / 4}>;
var<workgroup> Qs: array<vec4<u32>, ${(TKW * TN) / 4}>;
@compute @workgroup_size(${c.wx}, ${c.wy}, 1)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  ${g.lets}
  let tx = lid.x; let ty = lid.y; let t = ty * ${c.wx}u + tx;
  let m0 = wid.y * ${TM}u; let n0 = (wid.x + xOff) * ${TN}u; let z = wid.z + zOff;
  ${g.setup}
  ${decl.join(' ')}
  for (var k0 = 0u; k0 < K4p; k0 += ${TKW}u) {
    ${g.pre ? `${g.pre}
    workgroupBarrier();` : ''}
    ${loadP}
    ${g.loadQ}
    workgroupBarrier();
    for (var kk = 0u; kk < ${TKW}u; kk++) {
      ${reads.join(' ')}
      ${dots.join('\n      ')}
    }
    workgroupBarrier();
  }
  ${blockStores(c.wx, c.wy, PM, PN, list, 'i32', g.store)}
}`;
}

/** Q loader for plain packed rows: Q[j, k] = X[j * ld + k], ld a multiple of 4 (vec4 loads), words >= KW are 0. */
export function rowsLoadQ(c: QTileCfg, buf: string, ld: string, KW: string): string {
  const TN = qTileN(c), TKW = c.tkw, threads = c.wx * c.wy;
  const count = (TN * TKW) / 4, passes = Math.ceil(count / threads);
  return `for (var ps = 0u; ps < ${passes}u; ps++) {
      let e = t + ps * ${threads}u;
      ${count % threads === 0 ? '' : `if (e >= ${count}u) { break; }`}
      let r = e / ${TKW / 4}u; let kq = (e % ${TKW / 4}u) * 4u; let gr = n0 + r; let gk = k0 + kq;
      var v = vec4<u32>();
      if (gr < N && gk < ${KW}) { v = ${buf}[(gr * ${ld} + gk) / 4u]; }
      let s = kq * ${TN / 4}u + r / 4u; let l = r % 4u;
      Qs[s][l] = v.x; Qs[s + ${TN / 4}u][l] = v.y; Qs[s + ${TN / 2}u][l] = v.z; Qs[s + ${(3 * TN) / 4}u][l] = v.w;
    }`;
}
