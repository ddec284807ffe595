/**
 * The tiled GEMM at the heart of MatMul, Gemm and Conv (implicit GEMM) on WebGPU.
 *
 * One workgroup of wx*wy threads computes a (rm*wy) x (rn*wx) tile of C = A[M x K] * B[K x N], each
 * thread an rm x rn block (4 or 8 each) held in vec4 registers. K is walked in blocks of TK: the
 * workgroup stages an A tile and a B tile in shared memory (both k-major, vec4 along M / N), then
 * every thread accumulates. A thread's rows are rm/4 groups of 4, the groups 4*wy rows apart (and
 * its columns likewise), so neighbouring threads read neighbouring vec4s of shared memory (no bank
 * conflicts) and an 8x8 block does 64 FMAs per 4 vec4 reads instead of 16 per 2.
 *
 * What differs between users is only how tiles are loaded (plain matrices, transposed, vec4, or
 * im2col computed on the fly) and how results are stored (row-major, NCHW, epilogue): callers pass
 * those as WGSL snippets. Loads and stores are bounds-checked, so no size must be a tile multiple.
 */

export interface TileCfg {
  /** Threads along N (tile width 4*wx) and along M (tile height 4*wy). */
  wx: number;
  wy: number;
  /** K block. */
  tk: number;
  /** Rows / columns of C per thread: 4 (default) or 8. */
  rm?: 4 | 8;
  rn?: 4 | 8;
}

export const tileM = (c: TileCfg): number => (c.rm ?? 4) * c.wy;
export const tileN = (c: TileCfg): number => (c.rn ?? 4) * c.wx;
export const cfgKey = (c: TileCfg): string => `${c.wx}x${c.wy}x${c.tk}${(c.rm ?? 4) !== 4 || (c.rn ?? 4) !== 4 ? `r${c.rm ?? 4}x${c.rn ?? 4}` : ''}`;

let forced: TileCfg | undefined;
/**
 * Forces one tile config on every GEMM and implicit-GEMM convolution recorded afterwards (undefined
 * restores the policy). For benchmarks sweeping configs and tests of the larger register blocks;
 * part of pipeline cache keys, so forced and default shaders never mix.
 */
export function forceTile(cfg: TileCfg | undefined): void { forced = cfg; }

/** A config fitting M: narrow tiles for few rows, so small problems do not waste most threads. */
export function pickTile(M: number, N: number): TileCfg {
  if (forced) return forced;
  // Large products: 64x64 tiles of 8x4 per thread, 128 threads, K blocks of 8. The fastest of a
  // 48-config sweep at 4096^3 on an H100 (34.2 TFLOP/s against 29.0 for 16x16x16 4x4; bench/webgpu-gemm.ts --sweep).
  if (M >= 256 && N >= 256) return { wx: 16, wy: 8, tk: 8, rm: 8, rn: 4 };
  const wy = M <= 16 ? 4 : M <= 32 ? 8 : 16;
  const wx = N <= 16 ? 4 : N <= 32 ? 8 : 16;
  return { wx, wy, tk: 16 };
}

/**
 * The implicit-GEMM convolution's config for M output channels (per group): 128x64 tiles of 8x4 per
 * thread from 128 channels up, which measured fastest on ResNet-50 and MobileNetV2 at batch 1 and 32
 * on an H100 (bench/webgpu-vs-ort.ts --tile sweeps: ResNet-50 b32 65.8 -> 60.7 ms, MobileNetV2 b32
 * 32.4 -> 28.2 ms); narrower tiles below, so few channels do not leave most threads idle.
 */
export function pickConvTile(M: number): TileCfg {
  if (forced && forced.wx * forced.wy >= tileN(forced)) return forced; // the im2col loader needs TN <= threads
  if (M >= 128) return { wx: 16, wy: 16, tk: 16, rm: 8, rn: 4 };
  return { wx: 16, wy: M <= 16 ? 4 : M <= 32 ? 8 : 16, tk: 16 };
}

export interface GemmParts {
  /** Module-scope WGSL: bindings and helper functions. */
  decls: string;
  /** Statements at the start of main(): the params' `let`s. Must define M, N, K, zOff and xOff (offsets of chunked dispatches). */
  lets: string;
  /**
   * Split-K: z is (batch, slice) with SK slices of KC (a multiple of TK) along K, and the store
   * writes raw partial sums for a later reduction; the lets must then define SK and KC.
   */
  split?: boolean;
  /** Per-thread setup; sees t (flat thread id), m0, n0 (tile origin), z (batch / group) and ks (K slice). */
  setup: string;
  /**
   * Statements run at the start of each K block, before a barrier and the tile loads (e.g. a decode
   * table of the block's k indices in workgroup memory, declared in decls).
   */
  pre?: string;
  /** Statements filling As (resp. Bs) for the K block starting at k0. */
  loadA: string;
  loadB: string;
  /** Statements storing `acc` (f32) at row m, column n (both in range); K is walked over [kBeg, kEnd). */
  store: string;
}

export function gemmShader(c: TileCfg, p: GemmParts): string {
  const TM = tileM(c), TN = tileN(c), TK = c.tk;
  return `${p.decls}
var<workgroup> As: array<vec4<f32>, ${(TK * TM) / 4}>;
var<workgroup> Bs: array<vec4<f32>, ${(TK * TN) / 4}>;
@compute @workgroup_size(${c.wx}, ${c.wy}, 1)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  ${p.lets}
  let tx = lid.x; let ty = lid.y; let t = ty * ${c.wx}u + tx;
  let m0 = wid.y * ${TM}u; let n0 = (wid.x + xOff) * ${TN}u; let zz = wid.z + zOff;
  ${p.split ? 'let ks = zz % SK; let z = zz / SK; let kBeg = ks * KC; let kEnd = min(K, kBeg + KC);' : 'let ks = 0u; let z = zz; let kBeg = 0u; let kEnd = K;'}
  ${p.setup}
  ${accumulate(c, p)}
}`;
}

/** The accumulator declarations, K loop body and bounds-checked stores of gemmShader. */
function accumulate(c: TileCfg, g: GemmParts): string {
  const TM = tileM(c), TN = tileN(c), TK = c.tk;
  const PM = (c.rm ?? 4) / 4, PN = (c.rn ?? 4) / 4;
  const acc = (p: number, i: number, q: number) => `c${p}${i}${q}`;
  const decl: string[] = [], reads: string[] = [], fmas: string[] = [], list: string[] = [];
  for (let p = 0; p < PM; p++) reads.push(`let a${p} = As[kk * ${TM / 4}u + ${p * c.wy}u + ty];`);
  for (let q = 0; q < PN; q++) reads.push(`let b${q} = Bs[kk * ${TN / 4}u + ${q * c.wx}u + tx];`);
  for (let p = 0; p < PM; p++) {
    for (let i = 0; i < 4; i++) {
      for (let q = 0; q < PN; q++) {
        decl.push(`var ${acc(p, i, q)} = vec4<f32>();`);
        fmas.push(`${acc(p, i, q)} = fma(vec4<f32>(a${p}.${'xyzw'[i]}), b${q}, ${acc(p, i, q)});`);
        list.push(acc(p, i, q));
      }
    }
  }
  return `${decl.join(' ')}
  for (var k0 = kBeg; k0 < kEnd; k0 += ${TK}u) {
    ${g.pre ? `${g.pre}
    workgroupBarrier();` : ''}
    ${g.loadA}
    ${g.loadB}
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK}u; kk++) {
      ${reads.join(' ')}
      ${fmas.join('\n      ')}
    }
    workgroupBarrier();
  }
  ${blockStores(c.wx, c.wy, PM, PN, list, 'f32', g.store)}`;
}

/**
 * The bounds-checked stores of a register-blocked GEMM tile: the accumulators `accs` (vec4 of
 * `elem`, PM x 4 rows by PN vec4 columns, rows and columns in groups of four 4*wy / 4*wx apart, as
 * gemmShader and the int8 qGemmShader lay them out) go through `store`, which sees `acc`, `m`, `n`.
 */
export function blockStores(wx: number, wy: number, PM: number, PN: number, accs: readonly string[], elem: 'f32' | 'i32', store: string): string {
  return `let cs = array<vec4<${elem}>, ${accs.length}>(${accs.join(', ')});
  for (var pm_ = 0u; pm_ < ${PM}u; pm_++) {
    for (var i = 0u; i < 4u; i++) {
      let m = m0 + pm_ * ${4 * wy}u + ty * 4u + i;
      if (m >= M) { break; }
      for (var pn_ = 0u; pn_ < ${PN}u; pn_++) {
        for (var j = 0u; j < 4u; j++) {
          let n = n0 + pn_ * ${4 * wx}u + tx * 4u + j;
          if (n >= N) { break; }
          let acc = cs[(pm_ * 4u + i) * ${PN}u + pn_][j];
          ${store}
        }
      }
    }
  }`;
}

/** One operand's tile: rows r (the M side for A, the N side for B) by TK columns k. */
export interface MatrixLoad {
  shared: 'As' | 'Bs';
  /** Binding name; declared array<vec4<f32>> when vec4, array<f32> otherwise. */
  buf: string;
  /** Element (r, k) at base + r*ld + k (k contiguous) or base + k*ld + r (r contiguous). */
  kContig: boolean;
  /** vec4 loads along the contiguous axis: its extent, ld and base must be multiples of 4. */
  vec4: boolean;
  base: string;
  ld: string;
  /** Tile origin and extent on the r side (WGSL expressions). */
  r0: string;
  R: string;
}

/** WGSL filling one shared tile from a plain (possibly batched, transposed) matrix. */
export function matrixLoad(c: TileCfg, o: MatrixLoad): string {
  const T = o.shared === 'As' ? tileM(c) : tileN(c);
  const TK = c.tk, threads = c.wx * c.wy, T4 = T / 4;
  const count = o.vec4 ? (T * TK) / 4 : T * TK;
  const passes = Math.ceil(count / threads);
  const guard = count % threads === 0 ? '' : `if (e >= ${count}u) { break; }`;
  let body: string;
  if (!o.vec4) {
    const [r, k] = o.kContig ? [`e / ${TK}u`, `e % ${TK}u`] : [`e % ${T}u`, `e / ${T}u`];
    const at = o.kContig ? `${o.base} + gr * ${o.ld} + gk` : `${o.base} + gk * ${o.ld} + gr`;
    body = `let r = ${r}; let k = ${k}; let gr = ${o.r0} + r; let gk = k0 + k;
      var v = 0.0;
      if (gr < ${o.R} && gk < kEnd) { v = ${o.buf}[${at}]; }
      ${o.shared}[k * ${T4}u + r / 4u][r % 4u] = v;`;
  } else if (o.kContig) {
    body = `let r = e / ${TK / 4}u; let k = (e % ${TK / 4}u) * 4u; let gr = ${o.r0} + r; let gk = k0 + k;
      var v = vec4<f32>();
      if (gr < ${o.R} && gk < kEnd) { v = ${o.buf}[(${o.base} + gr * ${o.ld} + gk) / 4u]; }
      let s = k * ${T4}u + r / 4u; let q = r % 4u;
      ${o.shared}[s][q] = v.x; ${o.shared}[s + ${T4}u][q] = v.y; ${o.shared}[s + ${2 * T4}u][q] = v.z; ${o.shared}[s + ${3 * T4}u][q] = v.w;`;
  } else {
    body = `let r = (e % ${T4}u) * 4u; let k = e / ${T4}u; let gr = ${o.r0} + r; let gk = k0 + k;
      var v = vec4<f32>();
      if (gr < ${o.R} && gk < kEnd) { v = ${o.buf}[(${o.base} + gk * ${o.ld} + gr) / 4u]; }
      ${o.shared}[k * ${T4}u + r / 4u] = v;`;
  }
  return `for (var ps = 0u; ps < ${passes}u; ps++) {
      let e = t + ps * ${threads}u;
      ${guard}
      ${body}
    }`;
}

/**
 * Chunks of a (x, y, z) workgroup grid within the per-dimension limit: x and z are split, with
 * xOff / zOff passed to each chunk's parameters (y, the M tiles, is never that large).
 */
export function tileChunks(x: number, y: number, z: number, max: number): { wg: [number, number, number]; xOff: number; zOff: number }[] {
  const out: { wg: [number, number, number]; xOff: number; zOff: number }[] = [];
  if (x === 0 || y === 0 || z === 0) return out;
  for (let zOff = 0; zOff < z; zOff += max) {
    for (let xOff = 0; xOff < x; xOff += max) out.push({ wg: [Math.min(max, x - xOff), y, Math.min(max, z - zOff)], xOff, zOff });
  }
  return out;
}

/**
 * K slices for a grid of `tiles` workgroups of `threads` threads: enough to give the GPU ~256
 * workgroups' worth of 256 threads when the grid
 * is small, each slice at least 128 deep (a multiple of TK); 1 when splitting does not pay.
 * Measured on an H100 (Dawn/Vulkan): a 49-tile conv with K=576 ran 2.1x faster split 4 ways, an
 * 8-tile one with K=4608 13x faster; grids of ~100 tiles or K <= 256 lost a little, so they stay whole.
 */
export function splitK(tiles: number, threads: number, K: number, tk: number): { S: number; KC: number } {
  const TARGET = 256, MIN_DEPTH = 128;
  const work = (tiles * threads) / 256;
  if (work >= 96 || K < 384) return { S: 1, KC: K };
  const want = Math.min(Math.ceil(TARGET / work), Math.floor(K / MIN_DEPTH), 32);
  const KC = Math.ceil(K / want / tk) * tk;
  const S = Math.ceil(K / KC);
  return S > 1 ? { S, KC } : { S: 1, KC: K };
}
