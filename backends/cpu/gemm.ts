/**
 * Single-precision GEMM for the CPU backend: C = epilogue(A[MxK] * B[KxN]).
 *
 * Goto/BLIS structure: B is packed in kc x nc blocks of NR-wide panels (or read in place when its
 * rows are contiguous), A in MR-high panels (once per call, or once per weight with packA), and
 * a 4 x 8 register-blocked micro-kernel (convgemm-wasm.ts: WebAssembly SIMD with fused
 * multiply-add where available, ~45-50 GFLOP/s on one core, the 128-bit SIMD peak; a scalar JS
 * twin below, ~4 GFLOP/s, where SIMD is unavailable) writes a padded C block. The kernel applies
 * the per-row bias and fused activations itself; alpha and Gemm's broadcast beta*C are applied
 * as the block is copied out.
 *
 * Operands are described by byte-offset tables into the scratch arena: element (m, k) of A is at
 * aSrc + aK[k] + aM[m], element (k, n) of B at bSrc + bK[k] + bN[n]. A strided matrix is the
 * special case aK[k] = k*cs*4, aM[m] = m*rs*4; convolution's im2col is another (convgemm-conv.ts
 * builds its tables over a padded input), so im2col is fused into B's packing and never stored.
 */
import type { NumericArray } from '../../src/ir/dtype.js';
import { ACCUMULATE, gemmWasm, MR, NR, ROW_BIAS, setGemmFma, type GemmWasm, type GemmWasmExports } from './convgemm-wasm.js';
import { ACT_MASK, actScalar, type Activation } from './convgemm-act.js';
import { cpuThreads, cpuThreadsAvailable, jobBytes, ParJob, prewakeCpuThreads, runJob } from './convgemm-threads.js';

const KC = 256;  // k block: a B panel (KC x NR floats = 8 KiB) stays in L1
export const MC = 256;  // m block: an A block (MC x KC floats = 256 KiB) stays in L2
const NC = 2048; // n block: bounds the packed B block (KC x NC floats = 2 MiB) and the C block

/**
 * Scratch memory shared by every GEMM / convolution call (synchronous use by the calling thread;
 * with worker threads, a shared WebAssembly memory that jobs of convgemm-threads.ts run over).
 */
export class Arena {
  readonly wasm: GemmWasmExports | null;
  /** The module instance (shared: usable by worker threads), null for the JS arena. */
  readonly gw: GemmWasm | null;
  private readonly memory: WebAssembly.Memory | null;
  private buffer: ArrayBuffer | SharedArrayBuffer;
  f32: Float32Array;
  i32: Int32Array;
  top = 0;

  constructor(useWasm: boolean, shared = false) {
    const w = useWasm ? gemmWasm(shared) ?? (shared ? gemmWasm(false) : null) : null;
    this.gw = w;
    this.wasm = w?.exports ?? null;
    this.memory = w?.memory ?? null;
    this.buffer = this.memory ? this.memory.buffer : new ArrayBuffer(1 << 20);
    this.f32 = new Float32Array(this.buffer);
    this.i32 = new Int32Array(this.buffer);
  }

  /** Whether worker threads can run jobs over this arena. */
  get shared(): boolean { return this.gw?.shared === true; }

  /**
   * Threads worth using for `work` multiply-adds (1 where the arena is not shared, threads are
   * off, or the work is too small to repay waking the workers).
   */
  threadsFor(work: number): number {
    if (!this.shared || work < 2 * PAR_MIN_WORK) return 1;
    const n = Math.max(1, Math.min(cpuThreads(), Math.floor(work / PAR_MIN_WORK)));
    if (n > 1) prewakeCpuThreads();
    return n;
  }

  /**
   * Runs a job (convgemm-threads.ts) over this arena on `threads` threads; `meanwhile` runs on
   * this thread while the workers start (see runJob).
   */
  run(job: ParJob, threads: number, meanwhile?: () => void): void {
    const mark = this.top;
    const at = this.alloc(jobBytes(job));
    runJob(this.gw!, new Float64Array(this.buffer), at, job, threads, meanwhile);
    this.top = mark;
  }

  /** Allocates `bytes` (64-byte aligned, plus 64 bytes of slack for vector over-reads); returns a byte offset. */
  alloc(bytes: number): number {
    const p = this.top;
    this.top = p + ((bytes + 127) & ~63);
    if (this.top > this.buffer.byteLength) this.grow(this.top);
    return p;
  }

  private grow(need: number): void {
    if (this.memory) {
      const pages = Math.ceil((need - this.memory.buffer.byteLength) / 65536) + 16;
      this.memory.grow(pages);
      this.buffer = this.memory.buffer;
    } else {
      const nb = new ArrayBuffer(Math.max(need, this.buffer.byteLength * 2));
      new Uint8Array(nb).set(new Uint8Array(this.buffer));
      this.buffer = nb;
    }
    this.f32 = new Float32Array(this.buffer);
    this.i32 = new Int32Array(this.buffer);
  }

  /**
   * Copies n floats of `src` from `off` in (weights, as a rule); with the wasm kernels, denormals
   * become 0 (convgemm-wasm.ts flush_denormals: they slow multiplies ~100x). Returns the offset.
   */
  weights(src: Float32Array, off: number, n: number): number {
    const p = this.alloc(n * 4);
    this.f32.set(src.subarray(off, off + n), p >> 2);
    this.wasm?.flush_denormals(p, n * 4);
    return p;
  }

  /** Flushes denormals in n floats at byte offset p (a no-op for the JS arena). */
  flush(p: number, n: number): void {
    this.wasm?.flush_denormals(p, n * 4);
  }

  /** Copies a table of byte offsets in; returns its offset. */
  table(t: Int32Array): number {
    const p = this.alloc(t.length * 4);
    this.i32.set(t, p >> 2);
    return p;
  }
}

/** Multiply-adds below which a GEMM stays on one thread (~0.1 ms of work at ~40 GFLOP/s). */
const PAR_MIN_WORK = 1 << 21;
/** Most tasks a parallel job is cut into, per thread. */
export const TASKS_PER_THREAD = 8;

let arenaWasm: Arena | undefined;
let arenaShared = false;
let arenaJs: Arena | undefined;
let preferWasm = true;

/**
 * Selects the kernels (for tests and benchmarks): WebAssembly SIMD where available (default) or
 * the scalar JS twins; with SIMD, fused multiply-add (relaxed SIMD) where available (default).
 */
export function setGemmSimd(on: boolean, fma = true): void {
  preferWasm = on;
  setGemmFma(fma);
  arenaWasm = undefined;
}

/** Which kernels run now: 'wasm-fma', 'wasm' or 'js'. */
export function gemmKernelKind(): 'wasm-fma' | 'wasm' | 'js' {
  const w = preferWasm ? gemmWasm() : null;
  return w ? (w.fma ? 'wasm-fma' : 'wasm') : 'js';
}

/** The arena in use; callers reset `top` to what it was when they are done. */
export function arena(): Arena {
  if (preferWasm) {
    // a shared memory once a thread host is installed (src/node-threads.ts)
    const shared = cpuThreadsAvailable();
    if (arenaWasm && arenaShared !== shared) arenaWasm = undefined;
    arenaShared = shared;
    arenaWasm ??= new Arena(true, shared);
    if (arenaWasm.wasm) return arenaWasm;
  }
  arenaJs ??= new Arena(false);
  return arenaJs;
}

/**
 * Zero-padded copies of C planes: plane c (rows of rowBytes, srcRow apart, from src + c*srcPlane)
 * into the zeroed block dst + c*dstPlane at interior offset `inner`, rows dstRow apart; on
 * `threads` threads (tasks of consecutive planes).
 */
export function padPlanes(
  ar: Arena, threads: number, C: number, src: number, srcPlane: number, srcRow: number, rows: number, rowBytes: number,
  dst: number, dstPlane: number, inner: number, dstRow: number,
): void {
  const w = ar.wasm!;
  const args = (c: number): [number, number, number, number, number, number, number, number] =>
    [src + c * srcPlane, srcRow, rows, rowBytes, dst + c * dstPlane, dstPlane, dst + c * dstPlane + inner, dstRow];
  if (threads <= 1 || C < 2) {
    for (let c = 0; c < C; c++) w.pad_plane(...args(c));
    return;
  }
  const job = new ParJob(0);
  const per = Math.ceil(C / Math.min(C, TASKS_PER_THREAD * threads));
  for (let c = 0; c < C; c++) {
    if (c % per === 0) job.task();
    job.call('pad_plane', 0, ...args(c));
  }
  ar.run(job, threads);
}

/** What happens to each result on its way out: y = act(alpha*acc + bias[m] + beta*C[m,n]). */
export interface Epilogue {
  alpha?: number;
  /** Per-row bias (a conv's per-output-channel bias). */
  rowBias?: ArrayLike<number>;
  rowBiasOff?: number;
  /** Gemm's C, broadcast through strides (0 for a broadcast axis). */
  c?: { data: ArrayLike<number>; off: number; rs: number; cs: number; beta: number };
  /** A fused activation (convgemm-act.ts). */
  act?: Activation;
  /**
   * With out = null: let the kernel write its padded tiles straight into the arena block at
   * outOff (the caller guarantees round-up(M, 4) rows and ldo >= round-up(N, 8) there).
   */
  direct?: boolean;
}

/** Row-major padding of a table to `len` entries, repeating the last (pad lanes are never read back). */
function padTable(t: Int32Array, len: number): Int32Array {
  if (t.length >= len) return t;
  const r = new Int32Array(len);
  r.set(t);
  r.fill(t.length > 0 ? t[t.length - 1]! : 0, t.length);
  return r;
}

/** Whether B's tables describe evenly spaced rows (K >= 2) of contiguous columns. */
function directB(bK: Int32Array, bN: Int32Array, N: number): boolean {
  const K = bK.length;
  if (K < 2) return false;
  const sk = strideOf.get(bK), sn = strideOf.get(bN);
  if (sk !== undefined && sn !== undefined) return sk > 0 && sn === 1;
  const s = bK[1]! - bK[0]!;
  if (s <= 0 || (s & 3) !== 0) return false;
  for (let k = 2; k < K; k++) if (bK[k]! - bK[k - 1]! !== s) return false;
  const b0 = bN[0]!;
  for (let n = 1; n < N; n++) if (bN[n]! !== b0 + 4 * n) return false;
  return true;
}

/** In-place B is a wasm-only path (the JS twin keeps the packed layout simple). */
const w0 = (ar: Arena): boolean => ar.wasm !== null;

/** A of gemmCore: a source in the arena with its offset tables, or one packA() already packed. */
export type GemmA = { src: number; k: Int32Array; m: Int32Array } | { packed: number };

export function kBlocks(K: number): { nkb: number; kcMax: number } {
  const nkb = Math.max(1, Math.ceil(K / KC));
  return { nkb, kcMax: Math.ceil(K / nkb) };
}

/**
 * Packs A (M x K, element (m, k) at src + k[k] + m[m]) into MR-row panels per k block, in a new
 * arena allocation; returns its offset, for gemmCore({ packed }) calls that reuse one A.
 */
export function packA(ar: Arena, M: number, K: number, src: number, aK: Int32Array, aM: Int32Array): number {
  const Mp = Math.ceil(M / MR) * MR;
  const { nkb, kcMax } = kBlocks(K);
  const apack = ar.alloc(Mp * Math.max(K, 1) * 4);
  const mark = ar.top;
  const aKp = ar.table(aK), aMp = ar.table(padTable(aM, Mp));
  const w = ar.wasm;
  // block kb holds Mp x kc at apack + Mp*k0 floats
  for (let kb = 0, k0 = 0; kb < nkb && K > 0; kb++) {
    const kc = Math.min(kcMax, K - k0);
    if (w) w.pack4(src, aKp + k0 * 4, aMp, kc, Mp, apack + Mp * k0 * 4);
    else jsPack(ar.f32, ar.i32, src, aKp + k0 * 4, aMp, kc, Mp, apack + Mp * k0 * 4, 4);
    k0 += kc;
  }
  ar.top = mark;
  return apack;
}

/**
 * The blocked GEMM over operands already in the arena (see the header for the table convention).
 * Writes rows m < M, columns n < N of the result to out[outOff + m*ldo + n]; out = null writes
 * into the arena itself (outOff in floats), for callers that post-process there.
 */
export function gemmCore(
  ar: Arena, M: number, N: number, K: number, A: GemmA,
  bSrc: number, bK: Int32Array, bN: Int32Array,
  out: Float32Array | null, outOff: number, ldo: number, ep: Epilogue = {},
): void {
  const threads = K > 0 ? ar.threadsFor(M * N * K) : 1;
  if (threads > 1) { gemmCoreParallel(ar, threads, M, N, K, A, bSrc, bK, bN, out, outOff, ldo, ep); return; }
  const mark = ar.top;
  const Mp = Math.ceil(M / MR) * MR;
  const Np = Math.ceil(N / NR) * NR;
  const { nkb, kcMax } = kBlocks(K);
  const njb = Math.max(1, Math.ceil(Np / NC));
  const ncMax = Math.ceil(Np / njb / NR) * NR;
  // B read in place (no packing) when its rows are evenly spaced and each row's columns contiguous:
  // the micro-kernel then streams rows of the source (pad columns read past a row's end: the
  // arena's allocation slack covers the last row).
  const ldbDirect = w0(ar) && directB(bK, bN, N) ? (K > 1 ? bK[1]! - bK[0]! : 0) || 0 : 0;
  const bKp = ldbDirect ? 0 : ar.table(bK), bNp = ldbDirect ? 0 : ar.table(padTable(bN, Np));
  const apack = 'packed' in A ? A.packed : packA(ar, M, K, A.src, A.k, A.m);
  const bpack = ldbDirect ? 0 : ar.alloc(Math.max(kcMax, 1) * ncMax * 4);
  // direct: the kernel writes straight into the caller's arena block (no C buffer, no copy)
  const direct = out === null && ep.direct === true && (ep.alpha ?? 1) === 1 && !ep.c && K > 0;
  const cbuf = direct ? 0 : ar.alloc(Mp * ncMax * 4);
  // bias and clip run inside the kernel (only alpha and Gemm's C are left to writeOut).
  const inKernel = (ep.alpha ?? 1) === 1 && !ep.c && K > 0;
  const actFlag = inKernel && ep.act ? ep.act.flag : 0;
  const p0 = ep.act?.p0 ?? 0, p1 = ep.act?.p1 ?? 0, as = ep.act?.s ?? 1, at = ep.act?.t ?? 0;
  const hasBias = inKernel && ep.rowBias !== undefined;
  let biasp = 0;
  if (hasBias) {
    biasp = ar.alloc(Mp * 4);
    const rb = ep.rowBias!, rbo = ep.rowBiasOff ?? 0, bf = ar.f32, b0 = biasp >> 2;
    for (let m = 0; m < Mp; m++) bf[b0 + m] = m < M ? rb[rbo + m]! : 0;
  }
  const w = ar.wasm;
  const f32 = ar.f32, i32 = ar.i32;
  for (let jc = 0; jc < N; jc += ncMax) {
    const nc = Math.min(ncMax, N - jc);
    const ncp = Math.ceil(nc / NR) * NR;
    if (K === 0) f32.fill(0, cbuf >> 2, (cbuf >> 2) + Mp * ncp);
    const cb = direct ? (outOff + jc) * 4 : cbuf, ldc = direct ? ldo * 4 : ncp * 4;
    for (let kb = 0, k0 = 0; kb < nkb && K > 0; kb++) {
      const kc = Math.min(kcMax, K - k0);
      const flags = (kb > 0 ? ACCUMULATE : 0) | (kb === 0 && hasBias ? ROW_BIAS : 0) | (kb === nkb - 1 ? actFlag : 0);
      let bp = bpack;
      if (ldbDirect) bp = bSrc + bK[k0]! + bN[jc]!;
      else if (w) w.pack8(bSrc, bKp + k0 * 4, bNp + jc * 4, kc, ncp, bpack);
      else jsPack(f32, i32, bSrc, bKp + k0 * 4, bNp + jc * 4, kc, ncp, bpack, 8);
      for (let ic = 0; ic < Mp; ic += MC) {
        const mcp = Math.min(MC, Mp - ic);
        const ap = apack + (Mp * k0 + ic * kc) * 4;
        const cp = cb + ic * ldc;
        if (w) w.macro(ap, bp, cp, mcp, ncp, kc, ldc, flags, biasp + ic * 4, p0, p1, as, at, ldbDirect);
        else jsMacro(f32, ap, bp, cp, mcp, ncp, kc, ldc, flags, biasp + ic * 4, ep.act, ldbDirect);
      }
      k0 += kc;
    }
    if (!direct) writeOut(f32, cbuf >> 2, ncp, M, nc, jc, out ?? f32, outOff, ldo, inKernel ? {} : ep);
  }
  ar.top = mark;
}

/**
 * gemmCore on several threads (K > 0, shared wasm arena): the padded C is cut into column chunks
 * (then, for few columns, row chunks); each task packs its own columns of B (into the taking
 * thread's scratch) and runs the micro-kernel over its rows, every k block, as gemmCore does for
 * one NC block. C lands in an arena block (or the caller's, with `direct`), then is written out.
 * Each element is summed in the same order as on one thread, so results do not depend on the
 * thread count.
 */
function gemmCoreParallel(
  ar: Arena, threads: number, M: number, N: number, K: number, A: GemmA,
  bSrc: number, bK: Int32Array, bN: Int32Array,
  out: Float32Array | null, outOff: number, ldo: number, ep: Epilogue,
): void {
  const mark = ar.top;
  const Mp = Math.ceil(M / MR) * MR;
  const Np = Math.ceil(N / NR) * NR;
  const { nkb, kcMax } = kBlocks(K);
  const ldbDirect = directB(bK, bN, N) ? bK[1]! - bK[0]! : 0;
  const bKp = ldbDirect ? 0 : ar.table(bK), bNp = ldbDirect ? 0 : ar.table(padTable(bN, Np));
  const apack = 'packed' in A ? A.packed : packA(ar, M, K, A.src, A.k, A.m);
  const direct = out === null && ep.direct === true && (ep.alpha ?? 1) === 1 && !ep.c;
  const cbuf = direct ? 0 : ar.alloc(Mp * Np * 4);
  const cb = direct ? outOff * 4 : cbuf, ldc = direct ? ldo * 4 : Np * 4;
  const inKernel = (ep.alpha ?? 1) === 1 && !ep.c;
  const actFlag = inKernel && ep.act ? ep.act.flag : 0;
  const p0 = ep.act?.p0 ?? 0, p1 = ep.act?.p1 ?? 0, as = ep.act?.s ?? 1, at = ep.act?.t ?? 0;
  const hasBias = inKernel && ep.rowBias !== undefined;
  let biasp = 0;
  if (hasBias) {
    biasp = ar.alloc(Mp * 4);
    const rb = ep.rowBias!, rbo = ep.rowBiasOff ?? 0, bf = ar.f32, b0 = biasp >> 2;
    for (let m = 0; m < Mp; m++) bf[b0 + m] = m < M ? rb[rbo + m]! : 0;
  }
  // tasks: up to TASKS_PER_THREAD per thread (dynamic claiming evens out threads that run slower
  // or get descheduled), each >= PAR_MIN_WORK / 2
  const P = Np / NR, Q = Mp / MR;
  const want = Math.max(threads, Math.min(TASKS_PER_THREAD * threads, Math.floor((2 * M * N * K) / PAR_MIN_WORK)));
  let tn = Math.max(Math.min(P, want), Math.ceil(Np / NC));
  const cw = Math.ceil(P / tn) * NR;
  tn = Math.ceil(Np / cw);
  let tm = Math.min(Q, Math.ceil(want / tn));
  const rh = Math.ceil(Q / tm) * MR;
  tm = Math.ceil(Mp / rh);
  const slotBytes = ldbDirect ? 0 : (Math.max(kcMax, 1) * cw * 4 + 127) & ~63;
  const slots = ldbDirect ? 0 : ar.alloc(slotBytes * threads);
  const job = new ParJob(slotBytes);
  for (let j0 = 0; j0 < Np; j0 += cw) {
    const ncp = Math.min(cw, Np - j0);
    for (let i0 = 0; i0 < Mp; i0 += rh) {
      const i1 = Math.min(Mp, i0 + rh);
      job.task();
      for (let kb = 0, k0 = 0; kb < nkb; kb++) {
        const kc = Math.min(kcMax, K - k0);
        const flags = (kb > 0 ? ACCUMULATE : 0) | (kb === 0 && hasBias ? ROW_BIAS : 0) | (kb === nkb - 1 ? actFlag : 0);
        let bp = slots, rel = 0b10; // macro's bp is the taking thread's scratch
        if (ldbDirect) { bp = bSrc + bK[k0]! + bN[j0]!; rel = 0; }
        else job.call('pack8', 0b100000, bSrc, bKp + k0 * 4, bNp + j0 * 4, kc, ncp, slots);
        for (let ic = i0; ic < i1; ic += MC) {
          const mcp = Math.min(MC, i1 - ic);
          job.call('macro', rel, apack + (Mp * k0 + ic * kc) * 4, bp, cb + ic * ldc + j0 * 4, mcp, ncp, kc, ldc, flags, biasp + ic * 4, p0, p1, as, at, ldbDirect);
        }
        k0 += kc;
      }
    }
  }
  // (only a contiguous output: with ldo > N, the gaps between rows belong to someone else)
  ar.run(job, threads, out && ldo === N ? () => touchPages(out, outOff, M * N) : undefined);
  if (!direct) writeOut(ar.f32, cbuf >> 2, Np, M, N, 0, out ?? ar.f32, outOff, ldo, inKernel ? {} : ep);
  ar.top = mark;
}

/**
 * Writes a zero into every 4 KiB page of out[off, off + n): a freshly allocated output's pages are
 * mapped on first touch, which costs more than the copy into them; done while worker threads
 * compute, that cost leaves the critical path. The caller overwrites every element afterwards.
 */
export function touchPages(out: Float32Array, off: number, n: number): void {
  if (out.buffer instanceof ArrayBuffer === false) return; // the arena itself (shared): mapped already
  for (let i = off, e = off + n; i < e; i += 1024) out[i] = 0;
}

function writeOut(
  src: Float32Array, s0: number, lds: number, M: number, nc: number, jc: number,
  out: Float32Array, outOff: number, ldo: number, ep: Epilogue,
): void {
  const alpha = ep.alpha ?? 1;
  const rb = ep.rowBias, rbo = ep.rowBiasOff ?? 0;
  const c = ep.c && ep.c.beta !== 0 ? ep.c : undefined;
  const act = ep.act;
  const plain = alpha === 1 && !rb && !c && !act;
  if (plain && lds === nc && ldo === nc) { out.set(src.subarray(s0, s0 + M * nc), outOff + jc); return; } // one block copy
  for (let m = 0; m < M; m++) {
    const s = s0 + m * lds;
    const d = outOff + m * ldo + jc;
    if (plain) { out.set(src.subarray(s, s + nc), d); continue; }
    const bias = rb ? rb[rbo + m]! : 0;
    if (c) {
      const cd = c.data, beta = c.beta, cs = c.cs;
      let co = c.off + m * c.rs + jc * cs;
      for (let j = 0; j < nc; j++, co += cs) out[d + j] = alpha * src[s + j]! + bias + beta * cd[co]!;
    } else {
      for (let j = 0; j < nc; j++) out[d + j] = alpha * src[s + j]! + bias;
    }
    if (act) for (let j = 0; j < nc; j++) out[d + j] = actScalar(out[d + j]!, act);
  }
}

// ---------------------------------------------------------------- scalar JS twins of the wasm kernels

function jsPack(
  f32: Float32Array, i32: Int32Array, src: number, kTab: number, jTab: number,
  kc: number, nj: number, dst: number, W: number,
): void {
  let d = dst >> 2;
  const s = src >> 2, kt = kTab >> 2;
  for (let p = 0; p < nj; p += W) {
    const jt = (jTab >> 2) + p;
    for (let k = 0; k < kc; k++) {
      const base = s + (i32[kt + k]! >> 2);
      for (let j = 0; j < W; j++) f32[d + j] = f32[base + (i32[jt + j]! >> 2)]!;
      d += W;
    }
  }
}

/** 4x8 register-blocked micro-kernel loop over a packed block (byte offsets, as the wasm one). */
function jsMacro(
  f: Float32Array, ap0: number, bp0: number, cp0: number, mcp: number, ncp: number, kc: number, ldcBytes: number,
  flags: number, bias: number, act: Activation | undefined, ldbDirect: number,
): void {
  if (ldbDirect !== 0) throw new Error('jsMacro: in-place B is wasm-only');
  const ldc = ldcBytes >> 2;
  const accum = flags & ACCUMULATE;
  for (let jr = 0; jr < ncp; jr += 8) {
    const bp = (bp0 >> 2) + jr * kc;
    for (let ir = 0; ir < mcp; ir += 4) {
      let a = (ap0 >> 2) + ir * kc, b = bp;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c04 = 0, c05 = 0, c06 = 0, c07 = 0;
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0, c14 = 0, c15 = 0, c16 = 0, c17 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c24 = 0, c25 = 0, c26 = 0, c27 = 0;
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0, c34 = 0, c35 = 0, c36 = 0, c37 = 0;
      for (let k = 0; k < kc; k++, a += 4, b += 8) {
        const a0 = f[a]!, a1 = f[a + 1]!, a2 = f[a + 2]!, a3 = f[a + 3]!;
        const b0 = f[b]!, b1 = f[b + 1]!, b2 = f[b + 2]!, b3 = f[b + 3]!;
        const b4 = f[b + 4]!, b5 = f[b + 5]!, b6 = f[b + 6]!, b7 = f[b + 7]!;
        c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3; c04 += a0 * b4; c05 += a0 * b5; c06 += a0 * b6; c07 += a0 * b7;
        c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3; c14 += a1 * b4; c15 += a1 * b5; c16 += a1 * b6; c17 += a1 * b7;
        c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3; c24 += a2 * b4; c25 += a2 * b5; c26 += a2 * b6; c27 += a2 * b7;
        c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3; c34 += a3 * b4; c35 += a3 * b5; c36 += a3 * b6; c37 += a3 * b7;
      }
      let o = (cp0 >> 2) + ir * ldc + jr;
      if (accum) {
        f[o] += c00; f[o + 1] += c01; f[o + 2] += c02; f[o + 3] += c03; f[o + 4] += c04; f[o + 5] += c05; f[o + 6] += c06; f[o + 7] += c07; o += ldc;
        f[o] += c10; f[o + 1] += c11; f[o + 2] += c12; f[o + 3] += c13; f[o + 4] += c14; f[o + 5] += c15; f[o + 6] += c16; f[o + 7] += c17; o += ldc;
        f[o] += c20; f[o + 1] += c21; f[o + 2] += c22; f[o + 3] += c23; f[o + 4] += c24; f[o + 5] += c25; f[o + 6] += c26; f[o + 7] += c27; o += ldc;
        f[o] += c30; f[o + 1] += c31; f[o + 2] += c32; f[o + 3] += c33; f[o + 4] += c34; f[o + 5] += c35; f[o + 6] += c36; f[o + 7] += c37;
      } else {
        f[o] = c00; f[o + 1] = c01; f[o + 2] = c02; f[o + 3] = c03; f[o + 4] = c04; f[o + 5] = c05; f[o + 6] = c06; f[o + 7] = c07; o += ldc;
        f[o] = c10; f[o + 1] = c11; f[o + 2] = c12; f[o + 3] = c13; f[o + 4] = c14; f[o + 5] = c15; f[o + 6] = c16; f[o + 7] = c17; o += ldc;
        f[o] = c20; f[o + 1] = c21; f[o + 2] = c22; f[o + 3] = c23; f[o + 4] = c24; f[o + 5] = c25; f[o + 6] = c26; f[o + 7] = c27; o += ldc;
        f[o] = c30; f[o + 1] = c31; f[o + 2] = c32; f[o + 3] = c33; f[o + 4] = c34; f[o + 5] = c35; f[o + 6] = c36; f[o + 7] = c37;
      }
      if (flags & (ROW_BIAS | ACT_MASK)) {
        // a second pass over the tile keeps the scalar hot loop simple
        for (let i = 0; i < 4; i++) {
          const bv = flags & ROW_BIAS ? f[(bias >> 2) + ir + i]! : 0;
          const row = (cp0 >> 2) + (ir + i) * ldc + jr;
          for (let j = 0; j < 8; j++) {
            const v = f[row + j]! + bv;
            f[row + j] = act && flags & ACT_MASK ? actScalar(v, act) : v;
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------- strided front ends

/** Stride tables made by strideTable, with their stride (read-only: shared between calls). */
const strideOf = new WeakMap<Int32Array, number>();
const strideCache = new Map<string, Int32Array>();

/**
 * Byte-offset table {0, s*4, 2*s*4, ...} of length n. Tables are cached (a model asks for the same
 * few sizes every run) and must not be written to.
 */
export function strideTable(n: number, stride: number): Int32Array {
  const key = `${n},${stride}`;
  let t = strideCache.get(key);
  if (t) return t;
  t = new Int32Array(n);
  for (let i = 0; i < n; i++) t[i] = i * stride * 4;
  if (strideCache.size >= 256) strideCache.clear();
  strideCache.set(key, t);
  strideOf.set(t, stride);
  return t;
}

/** Below this many multiply-adds the packing overhead dominates: plain loops instead. */
const SMALL = 24 * 24 * 24;

/**
 * out[outOff + m*ldo + n] = epilogue(sum_k A[aOff + m*rsA + k*csA] * B[bOff + k*rsB + n*csB]).
 * Strides must be non-negative. Any layout (transposed, broadcast with stride 0) is accepted.
 */
export function sgemm(
  M: number, N: number, K: number,
  A: Float32Array, aOff: number, rsA: number, csA: number,
  B: Float32Array, bOff: number, rsB: number, csB: number,
  out: Float32Array, outOff: number, ldo: number, ep: Epilogue = {},
): void {
  if (M === 0 || N === 0) return;
  if (M === 1 && K * N > SMALL) {
    gemvRow(N, K, A, aOff, csA, B, bOff, rsB, csB, out, outOff, ep);
    return;
  }
  if (M * N * K <= SMALL || N === 1) {
    gemmNaive(M, N, K, A, aOff, rsA, csA, B, bOff, rsB, csB, out, outOff, ldo, ep);
    return;
  }
  const ar = arena();
  ar.threadsFor(M * N * K); // wakes the workers while the operands are copied in
  const mark = ar.top;
  const aSpan = K === 0 ? 0 : (M - 1) * rsA + (K - 1) * csA + 1;
  const bSpan = K === 0 ? 0 : (K - 1) * rsB + (N - 1) * csB + 1;
  // (either may be the weights: both are flushed of denormals)
  const aSrc = ar.weights(A, aOff, aSpan), bSrc = ar.weights(B, bOff, bSpan);
  gemmCore(ar, M, N, K, { src: aSrc, k: strideTable(K, csA), m: strideTable(M, rsA) }, bSrc, strideTable(K, rsB), strideTable(N, csB),
    out, outOff, ldo, ep);
  ar.top = mark;
}

/**
 * M = 1: out[n] = sum_k a[k] * B[k, n], walking B in its storage order: rows of B (axpy) when
 * they are contiguous, else dot products along k (B transposed, as in Gemm transB=1 heads).
 */
function gemvRow(
  N: number, K: number, A: Float32Array, aOff: number, csA: number,
  B: Float32Array, bOff: number, rsB: number, csB: number, out: Float32Array, outOff: number, ep: Epilogue,
): void {
  const acc = new Float64Array(N);
  if (rsB === 1 && csB !== 1) {
    for (let n = 0; n < N; n++) {
      let s0 = 0, s1 = 0, k = 0, ai = aOff, bi = bOff + n * csB;
      for (; k + 1 < K; k += 2, ai += 2 * csA, bi += 2) { s0 += A[ai]! * B[bi]!; s1 += A[ai + csA]! * B[bi + 1]!; }
      if (k < K) s0 += A[ai]! * B[bi]!;
      acc[n] = s0 + s1;
    }
  } else {
    for (let k = 0; k < K; k++) {
      const a = A[aOff + k * csA]!;
      if (a === 0) continue;
      let bi = bOff + k * rsB;
      for (let n = 0; n < N; n++, bi += csB) acc[n] += a * B[bi]!;
    }
  }
  const one = new Float32Array(acc);
  writeOut(one, 0, N, 1, N, 0, out, outOff, N, ep);
}

/**
 * Plain triple loop for small or skinny products and for every storage type (float64, ints:
 * accumulates in float64, and integer outputs wrap by the typed array's store).
 */
export function gemmNaive(
  M: number, N: number, K: number,
  A: NumericArray, aOff: number, rsA: number, csA: number,
  B: NumericArray, bOff: number, rsB: number, csB: number,
  out: NumericArray, outOff: number, ldo: number, ep: Epilogue = {},
): void {
  const alpha = ep.alpha ?? 1;
  const rb = ep.rowBias, rbo = ep.rowBiasOff ?? 0;
  const c = ep.c;
  const act = ep.act;
  for (let m = 0; m < M; m++) {
    const bias = rb ? rb[rbo + m]! : 0;
    for (let n = 0; n < N; n++) {
      let s = 0;
      let ai = aOff + m * rsA, bi = bOff + n * csB;
      for (let k = 0; k < K; k++, ai += csA, bi += rsB) s += A[ai]! * B[bi]!;
      let v = alpha * s + bias;
      if (c && c.beta !== 0) v += c.beta * c.data[c.off + m * c.rs + n * c.cs]!;
      out[outOff + m * ldo + n] = act ? actScalar(v, act) : v;
    }
  }
}
