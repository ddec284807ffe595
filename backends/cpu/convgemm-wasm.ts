/**
 * The SIMD inner loops of the CPU backend's GEMM and depthwise convolution, as WebAssembly
 * (128-bit SIMD, ~8x the throughput of scalar JS on the same loops), assembled at load time by
 * convgemm-wasm-asm.ts. Every pointer argument is a byte offset into the shared memory; the
 * JS side (gemm.ts, convgemm-conv.ts) lays out data and calls these per block, never per element.
 * When WebAssembly SIMD is unavailable, gemm.ts runs JS twins of the same functions.
 *
 * Layouts (MR = 4, NR = 8):
 *  - packed A block: panels of MR rows; panel p holds kc steps of MR floats (k-major).
 *  - packed B block: panels of NR columns; panel q holds kc steps of NR floats.
 *  - C block: row-major with row stride ldc bytes; mc, nc padded up to MR, NR (pad rows/columns
 *    of A and B are garbage and so are the matching C pad entries, which callers never read).
 */
import { assemble, F32, I32, V128, WasmFn } from './convgemm-wasm-asm.js';
import { buildWinogradFns } from './convgemm-winograd-wasm.js';
import { WasmAct } from './convgemm-act.js';

export const MR = 4;
export const NR = 8;

export type DepthwiseFn = (inp: number, rowStep: number, out: number, oh: number, ow8: number, outRow: number,
  w: number, kh: number, kw: number, kyStep: number, kxStep: number, bias: number,
  flags: number, p0: number, p1: number, s: number, t: number) => void;

/** Function signatures of the module (all arguments are i32, pointers in bytes). */
export interface GemmWasmExports {
  /**
   * C[mcp x ncp] = Apack[mcp x kc] * Bpack[kc x ncp], then by `flags`: ACCUMULATE adds the old C,
   * ROW_BIAS adds bias[row] (f32 at bias + 4*row), ACT_* bits apply an activation (params p0, p1,
   * then an Affine s, t). ldb = 0: B is packed; else B is read in place, rows ldb bytes apart.
   */
  macro(ap: number, bp: number, cp: number, mcp: number, ncp: number, kc: number, ldc: number,
    flags: number, bias: number, p0: number, p1: number, s: number, t: number, ldb: number): void;
  /**
   * Packs panels of width 4 (pack4) or 8 (pack8): for panel p, step k, lane j:
   * dst[...] = src[kTab[k] + jTab[p*W + j]] (tables hold byte offsets); nj is a multiple of W.
   */
  pack4(src: number, kTab: number, jTab: number, kc: number, nj: number, dst: number): void;
  pack8(src: number, kTab: number, jTab: number, kc: number, nj: number, dst: number): void;
  /**
   * Depthwise 2-D window kernels `dw{sx}k{kw}` (column stride sx = 1 or 2; k0 loops over any kw,
   * the others are unrolled for that kw), 8 output columns at a time, for one channel:
   * out[oy][ox] = bias + sum_{ky,kx} w[ky*kw+kx] * in[oy*rowStep + ky*kyStep + ox*sx*4 + kx*kxStep].
   * `in` is already padded; ow8 is the output width rounded up to 8 (out rows are outRow bytes);
   * flags: ACT_* bits of an activation with parameters p0, p1 (s, t: its Affine).
   */
  [dw: `dw${number}k${number}`]: DepthwiseFn;
  /** Winograd F(4x4, 3x3) transforms, see convgemm-winograd-wasm.ts. */
  wino_in(src: number, srcRow: number, C: number, srcPlane: number, nty: number, tw4: number,
    t1: number, dst: number, dstXi: number, dstC: number): void;
  wino_out(mbuf: number, mXi: number, mRow: number, M: number, nty: number, tw4: number,
    out: number, outRow: number, outPlane: number, bias: number, flags: number, p0: number, p1: number, s: number, t: number): void;
  /** ConvTranspose 2x stride-2 interleave (+ bias, activation), see buildInterleave2. */
  ct_il2(r0: number, r1: number, rows: number, n: number, inRow: number, outRow: number, out: number,
    bias: number, flags: number, p0: number, p1: number, s: number, t: number): void;
  /** Zeroes planeBytes at plane, then copies rows as copy2d (into the plane's interior at dst). */
  pad_plane(src: number, srcRow: number, rows: number, rowBytes: number, plane: number, planeBytes: number, dst: number, dstRow: number): void;
  /** Float32 denormals in n bytes at p (whole vectors) become 0. */
  flush_denormals(p: number, n: number): void;
  /** Copies `rows` rows of rowBytes bytes from src (stride srcRow) to dst (stride dstRow). */
  copy2d(src: number, srcRow: number, dst: number, dstRow: number, rows: number, rowBytes: number): void;
}

/** macro() flags (the activation bits are convgemm-act.ts's ACT_*). */
export const ACCUMULATE = 1;
export const ROW_BIAS = 2;

function buildMacro(fma: boolean): WasmFn {
  const f = new WasmFn('macro', [I32, I32, I32, I32, I32, I32, I32, I32, I32, F32, F32, F32, F32, I32]);
  const [ap0, bp0, cp0, mcp, ncp, kc, ldc, flags, bias0, p0, p1, ps, pt, ldb] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  const jr = f.local(I32), ir = f.local(I32), a = f.local(I32), bpan = f.local(I32), cj = f.local(I32);
  const c = f.local(I32), k = f.local(I32), pa = f.local(I32), pb = f.local(I32), bias = f.local(I32);
  const aStride = f.local(I32), bStride = f.local(I32), bStep = f.local(I32);
  const acc: number[] = [];
  for (let i = 0; i < MR * 2; i++) acc.push(f.local(V128));
  const b0 = f.local(V128), b1 = f.local(V128), av = f.local(V128);
  const flag = (bit: number): WasmFn => f.get(flags).i32(bit).op(0x71); // i32.and
  const act = new WasmAct(f, flags, p0, p1, ps, pt);

  f.get(kc).i32(MR * 4).mul().set(aStride);
  // packed B (ldb = 0): panels of kc x NR floats; direct B: rows ldb bytes apart, panels side by side
  f.get(ldb).eqz().if();
  f.get(kc).i32(NR * 4).mul().set(bStride).i32(NR * 4).set(bStep);
  f.else();
  f.i32(NR * 4).set(bStride).get(ldb).set(bStep);
  f.end();
  f.i32(0).set(jr).get(bp0).set(bpan).get(cp0).set(cj);
  f.forLt(jr, ncp, NR, () => {
    f.i32(0).set(ir).get(ap0).set(a).get(cj).set(c).get(bias0).set(bias);
    f.forLt(ir, mcp, MR, () => {
      for (const r of acc) f.vzero().set(r);
      f.get(kc).set(k).get(a).set(pa).get(bpan).set(pb);
      // k loop: one B row (2 vectors) against MR broadcast A values.
      f.block().loop();
      f.get(k).eqz().brIf(1);
      f.get(pb).vload(0).set(b0).get(pb).vload(16).set(b1);
      for (let i = 0; i < MR; i++) {
        f.get(pa).vloadSplat(4 * i).set(av);
        for (let j = 0; j < 2; j++) {
          const r = acc[2 * i + j]!;
          if (fma) f.get(av).get(j === 0 ? b0 : b1).get(r).fmadd().set(r);
          else f.get(r).get(av).get(j === 0 ? b0 : b1).fmul().fadd().set(r);
        }
      }
      f.inc(pa, MR * 4).incBy(pb, bStep).inc(k, -1);
      f.br(0).end().end();
      // epilogue of the tile (rows at c + i*ldc): + C, + row bias, clip; then store
      flag(ACCUMULATE).if();
      for (let i = 0; i < MR; i++) {
        for (let j = 0; j < 2; j++) {
          f.get(c).get(ldc).i32(i).mul().add().vload(16 * j).get(acc[2 * i + j]!).fadd().set(acc[2 * i + j]!);
        }
      }
      f.end();
      flag(ROW_BIAS).if();
      for (let i = 0; i < MR; i++) {
        f.get(bias).vloadSplat(4 * i).set(av);
        for (let j = 0; j < 2; j++) f.get(acc[2 * i + j]!).get(av).fadd().set(acc[2 * i + j]!);
      }
      f.end();
      act.emit(acc);
      for (let i = 0; i < MR; i++) {
        if (i > 0) f.incBy(c, ldc);
        f.get(c).get(acc[2 * i]!).vstore(0);
        f.get(c).get(acc[2 * i + 1]!).vstore(16);
      }
      // c went down MR-1 rows; move to the next tile row block.
      f.get(c).get(ldc).add().set(c);
      f.incBy(a, aStride).inc(bias, MR * 4);
    });
    f.incBy(bpan, bStride).inc(cj, NR * 4);
  });
  return f;
}

function buildPack(W: 4 | 8): WasmFn {
  const f = new WasmFn(`pack${W}`, [I32, I32, I32, I32, I32, I32]);
  const [src, kTab, jTab, kc, nj, dst] = [0, 1, 2, 3, 4, 5];
  const p = f.local(I32), jt = f.local(I32), base = f.local(I32), k = f.local(I32), kt = f.local(I32), ko = f.local(I32);
  const mode = f.local(I32);
  const o: number[] = [];
  for (let j = 0; j < W; j++) o.push(f.local(I32));
  const even = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
  /** Pushes 1 when jTab[j] = jTab[0] + step*j for every lane j. */
  const evenly = (step: number): void => {
    for (let j = 1; j < W; j++) f.get(jt).i32load(4 * j).get(o[0]!).sub().i32(step * j).eq();
    for (let j = 2; j < W; j++) f.op(0x71); // i32.and
  };
  f.i32(0).set(p).get(jTab).set(jt);
  f.forLt(p, nj, W, () => {
    // panel kinds: 1 = contiguous (vector copies), 2 = every other element (stride-2 convs:
    // two vectors and an even-lane shuffle per 4 lanes), 0 = any (scalar gather)
    f.get(jt).i32load(0).set(o[0]!);
    evenly(4);
    f.if().i32(1).set(mode).else();
    evenly(8);
    f.if().i32(2).set(mode).else().i32(0).set(mode).end();
    f.end();
    f.get(src).get(o[0]!).add().set(base);
    f.i32(0).set(k).get(kTab).set(kt);
    f.get(mode).i32(1).eq().if();
    f.forLt(k, kc, 1, () => {
      f.get(kt).i32load(0).get(base).add().set(ko);
      for (let v = 0; v < W / 4; v++) f.get(dst).get(ko).vload(16 * v).vstore(16 * v);
      f.inc(kt, 4).inc(dst, W * 4);
    });
    f.else().get(mode).i32(2).eq().if();
    f.forLt(k, kc, 1, () => {
      f.get(kt).i32load(0).get(base).add().set(ko);
      for (let v = 0; v < W / 4; v++) f.get(dst).get(ko).vload(32 * v).get(ko).vload(32 * v + 16).shuffle(even).vstore(16 * v);
      f.inc(kt, 4).inc(dst, W * 4);
    });
    f.else();
    for (let j = 0; j < W; j++) f.get(jt).i32load(4 * j).get(src).add().set(o[j]!);
    f.forLt(k, kc, 1, () => {
      f.get(kt).i32load(0).set(ko);
      for (let j = 0; j < W; j++) f.get(dst).get(o[j]!).get(ko).add().f32load(0).f32store(4 * j);
      f.inc(kt, 4).inc(dst, W * 4);
    });
    f.end().end();
    f.inc(jt, W * 4);
  });
  return f;
}

/** Kernel widths the depthwise kernels are unrolled for (others use the generic kw loop). */
export const DW_UNROLLED = [3, 5, 7];

function buildDepthwise(stride: 1 | 2, fma: boolean, kwU: number): WasmFn {
  const f = new WasmFn(`dw${stride}k${kwU}`, [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, F32, F32, F32, F32]);
  const [inp, rowStep, out, oh, ow8, outRow, w, kh, kw, kyStep, kxStep, bias, flags, p0, p1, ps, pt] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
  const act = new WasmAct(f, flags, p0, p1, ps, pt);
  const oy = f.local(I32), ox = f.local(I32), rowIn = f.local(I32), rowOut = f.local(I32);
  const pi = f.local(I32), po = f.local(I32), ky = f.local(I32), kx = f.local(I32);
  const pky = f.local(I32), pk = f.local(I32), pw = f.local(I32);
  const acc0 = f.local(V128), acc1 = f.local(V128), wv = f.local(V128), vb = f.local(V128);
  const even = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27]; // lanes 0,2 of a and b
  /** One tap: both accumulators += w[pw + wOff] * in(pk). */
  const tap = (wOff: number): void => {
    f.get(pw).vloadSplat(wOff).set(wv);
    for (let v = 0; v < 2; v++) {
      const acc = v === 0 ? acc0 : acc1;
      if (stride === 1) f.get(pk).vload(16 * v);
      else f.get(pk).vload(32 * v).get(pk).vload(32 * v + 16).shuffle(even);
      if (fma) f.get(wv).get(acc).fmadd().set(acc);
      else f.get(wv).fmul().get(acc).fadd().set(acc);
    }
    f.incBy(pk, kxStep);
  };
  f.get(bias).vloadSplat(0).set(vb);
  f.i32(0).set(oy).get(inp).set(rowIn).get(out).set(rowOut);
  f.forLt(oy, oh, 1, () => {
    f.i32(0).set(ox).get(rowIn).set(pi).get(rowOut).set(po);
    f.forLt(ox, ow8, 8, () => {
      f.get(vb).set(acc0).get(vb).set(acc1).get(w).set(pw).get(pi).set(pky).i32(0).set(ky);
      f.forLt(ky, kh, 1, () => {
        f.get(pky).set(pk);
        if (kwU > 0) {
          for (let t = 0; t < kwU; t++) tap(4 * t);
          f.inc(pw, 4 * kwU);
        } else {
          f.i32(0).set(kx);
          f.forLt(kx, kw, 1, () => { tap(0); f.inc(pw, 4); });
        }
        f.incBy(pky, kyStep);
      });
      act.emit([acc0, acc1]);
      f.get(po).get(acc0).vstore(0).get(po).get(acc1).vstore(16);
      f.inc(po, 32).inc(pi, 32 * stride);
    });
    f.incBy(rowIn, rowStep).incBy(rowOut, outRow);
  });
  return f;
}

/**
 * ConvTranspose with a 2-wide kernel and stride 2 (upsampling heads): interleaves two rows of the
 * GEMM result, kernel columns kx = 0 and 1, into one output row, with the bias and activation:
 * for r < rows, i < n (a multiple of 4): out[r*outRow + (2i + kx)*4] = act(src_kx[r*inRow + 4i] + bias).
 */
function buildInterleave2(): WasmFn {
  const f = new WasmFn('ct_il2', [I32, I32, I32, I32, I32, I32, I32, I32, I32, F32, F32, F32, F32]);
  const [r0, r1, rows, n, inRow, outRow, out, bias, flags, p0, p1, ps, pt] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const act = new WasmAct(f, flags, p0, p1, ps, pt);
  const r = f.local(I32), i = f.local(I32), a = f.local(I32), b = f.local(I32), o = f.local(I32), nb = f.local(I32);
  const va = f.local(V128), vb = f.local(V128), lo = f.local(V128), hi = f.local(V128), vbias = f.local(V128);
  const lanes = (...fl: number[]): number[] => fl.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
  f.get(bias).vloadSplat(0).set(vbias);
  f.get(n).i32(2).shl().set(nb); // bytes of a source row
  f.i32(0).set(r);
  f.forLt(r, rows, 1, () => {
    f.get(r0).set(a).get(r1).set(b).get(out).set(o).i32(0).set(i);
    f.forLt(i, nb, 16, () => {
      f.get(a).vload(0).set(va).get(b).vload(0).set(vb);
      f.get(va).get(vb).shuffle(lanes(0, 4, 1, 5)).get(vbias).fadd().set(lo);
      f.get(va).get(vb).shuffle(lanes(2, 6, 3, 7)).get(vbias).fadd().set(hi);
      act.emit([lo, hi]);
      f.get(o).get(lo).vstore(0).get(o).get(hi).vstore(16);
      f.inc(a, 16).inc(b, 16).inc(o, 32);
    });
    f.incBy(r0, inRow).incBy(r1, inRow).incBy(out, outRow);
  });
  return f;
}

/**
 * pad_plane(src, srcRow, rows, rowBytes, plane, planeBytes, dst, dstRow): zeroes `planeBytes` at
 * `plane`, then copies rows as copy2d does to dst (the interior of the plane): a zero-padded copy.
 */
function buildPadPlane(): WasmFn {
  const f = new WasmFn('pad_plane', [I32, I32, I32, I32, I32, I32, I32, I32]);
  const [src, srcRow, rows, rowBytes, plane, planeBytes, dst, dstRow] = [0, 1, 2, 3, 4, 5, 6, 7];
  const r = f.local(I32), i = f.local(I32), v16 = f.local(I32);
  f.get(plane).i32(0).get(planeBytes).memfill();
  f.get(rowBytes).i32(-16).op(0x71).set(v16);
  f.i32(0).set(r);
  f.forLt(r, rows, 1, () => {
    f.i32(0).set(i);
    f.forLt(i, v16, 16, () => { f.get(dst).get(i).add().get(src).get(i).add().vload(0).vstore(0); });
    f.forLt(i, rowBytes, 4, () => { f.get(dst).get(i).add().get(src).get(i).add().f32load(0).f32store(0); });
    f.incBy(src, srcRow).incBy(dst, dstRow);
  });
  return f;
}

/**
 * flush_denormals(p, n): float32 denormals (|x| < 2^-126, not 0) in the n bytes at p (rounded up
 * to whole vectors) become 0. x86 handles a denormal operand of a multiply in microcode (~100x
 * slower) and WebAssembly cannot set flush-to-zero; trained weights do hold some (PP-OCR rec's
 * squeeze-excite convolutions: 22% of one weight tensor), so weights are flushed on their way
 * into the arena, as the CPU's denormals-are-zero mode of native runtimes does.
 */
function buildFlushDenormals(): WasmFn {
  const f = new WasmFn('flush_denormals', [I32, I32]);
  const [p, n] = [0, 1];
  const i = f.local(I32), v = f.local(V128), abs = f.local(V128), absMask = f.local(V128), maxDenormal = f.local(V128);
  f.i32(0x7fffffff).isplat().set(absMask).i32(0x007fffff).isplat().set(maxDenormal);
  f.i32(0).set(i);
  f.forLt(i, n, 16, () => {
    f.get(p).get(i).add().vload(0).set(v);
    f.get(v).get(absMask).vand().set(abs);
    // keep lanes whose magnitude bits exceed the largest denormal (NaN and infinities included) or are 0 (+-0)
    f.get(p).get(i).add().get(v);
    f.get(abs).get(maxDenormal).igtS().get(abs).vzero().ieq().vor();
    f.vand().vstore(0);
  });
  return f;
}

function buildCopy2d(): WasmFn {
  // Rows are short (tens to hundreds of floats): a vector loop beats memory.copy's call overhead.
  const f = new WasmFn('copy2d', [I32, I32, I32, I32, I32, I32]);
  const [src, srcRow, dst, dstRow, rows, rowBytes] = [0, 1, 2, 3, 4, 5];
  const r = f.local(I32), i = f.local(I32), v16 = f.local(I32);
  f.get(rowBytes).i32(-16).op(0x71).set(v16); // whole vectors
  f.i32(0).set(r);
  f.forLt(r, rows, 1, () => {
    f.i32(0).set(i);
    f.forLt(i, v16, 16, () => { f.get(dst).get(i).add().get(src).get(i).add().vload(0).vstore(0); });
    f.forLt(i, rowBytes, 4, () => { f.get(dst).get(i).add().get(src).get(i).add().f32load(0).f32store(0); });
    f.incBy(src, srcRow).incBy(dst, dstRow);
  });
  return f;
}

/** Largest memory (pages of 64 KiB): offsets are i32 byte addresses, kept non-negative (2 GiB). */
const MAX_PAGES = 32768;

function buildModule(fma: boolean, shared: boolean): Uint8Array<ArrayBuffer> {
  const dws: WasmFn[] = [];
  for (const stride of [1, 2] as const) for (const k of [0, ...DW_UNROLLED]) dws.push(buildDepthwise(stride, fma, k));
  return assemble([buildMacro(fma), buildPack(4), buildPack(8), ...dws, buildCopy2d(), ...buildWinogradFns(), buildInterleave2(), buildPadPlane(), buildFlushDenormals()], shared ? MAX_PAGES : undefined);
}

/**
 * The exports worker threads may be asked to call (convgemm-threads.ts names them by index in
 * this list).
 */
export const WASM_FN_NAMES: readonly string[] = [
  'macro', 'pack4', 'pack8', 'copy2d', 'wino_in', 'wino_out', 'ct_il2', 'pad_plane', 'flush_denormals',
  ...[1, 2].flatMap((s) => [0, ...DW_UNROLLED].map((k) => `dw${s}k${k}`)),
];

/**
 * Node 20 (V8 11.3) has relaxed SIMD, whose fused multiply-add speeds the GEMM up by ~25%, behind
 * a flag that later versions (and browsers) turn on by default. Where the FMA module does not
 * validate under Node, turn that one wasm feature flag on (it only widens what the validator
 * accepts); elsewhere fall back to separate multiply and add. process.getBuiltinModule (Node
 * >= 20.16) keeps this free of import statements, so browser bundles never see a Node built-in.
 */
function nodeV8(): { setFlagsFromString(flags: string): void } | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return proc?.getBuiltinModule?.('node:v8') as { setFlagsFromString(flags: string): void } | undefined;
  } catch {
    return undefined;
  }
}

function fmaModule(shared: boolean): Uint8Array<ArrayBuffer> | null {
  const bytes = buildModule(true, shared);
  if (WebAssembly.validate(bytes)) return bytes;
  const v8 = nodeV8();
  if (!v8) return null;
  try {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return null;
  }
  return WebAssembly.validate(bytes) ? bytes : null;
}

/** One instantiation of the kernels over its memory (shared: usable by worker threads too). */
export interface GemmWasm {
  exports: GemmWasmExports;
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  fma: boolean;
  shared: boolean;
}

const cached: [GemmWasm | null | undefined, GemmWasm | null | undefined] = [undefined, undefined];
let allowFma = true;

/** Disables the fused multiply-add kernels (tests compare both; call before the first GEMM). */
export function setGemmFma(on: boolean): void {
  if (allowFma !== on) cached[0] = cached[1] = undefined;
  allowFma = on;
}

/**
 * The instantiated module, or null where WebAssembly SIMD is unavailable (or, with `shared`,
 * where shared memories are: no SharedArrayBuffer, as in browsers without cross-origin isolation).
 */
export function gemmWasm(shared = false): GemmWasm | null {
  const slot = shared ? 1 : 0;
  const hit = cached[slot];
  if (hit !== undefined) return hit;
  cached[slot] = null;
  try {
    if (typeof WebAssembly !== 'object') return null;
    if (shared && typeof SharedArrayBuffer !== 'function') return null;
    let bytes = allowFma ? fmaModule(shared) : null;
    const fma = bytes !== null;
    if (!bytes) {
      bytes = buildModule(false, shared);
      if (!WebAssembly.validate(bytes)) return null;
    }
    const memory = new WebAssembly.Memory(shared ? { initial: 256, maximum: MAX_PAGES, shared: true } : { initial: 256, maximum: MAX_PAGES });
    const module = new WebAssembly.Module(bytes);
    const inst = new WebAssembly.Instance(module, { env: { mem: memory } });
    cached[slot] = { exports: inst.exports as unknown as GemmWasmExports, memory, module, fma, shared };
  } catch {
    cached[slot] = null;
  }
  return cached[slot];
}
