/**
 * Convolution kernels of the CPU backend (float32 storage fast paths, plus direct loops for other
 * storage types). Spatial axes are normalized to three (D, H, W): 1-D and 2-D convolutions get
 * leading axes of size 1, so one code path covers every rank the ONNX tests use.
 *
 * Float32 Conv picks one of four paths:
 *  - depthwise (one input channel per group, rank <= 2): a direct SIMD window kernel per channel,
 *    no GEMM (a depthwise conv is far too thin for one);
 *  - pointwise (1x1 kernel, stride 1, no pads): a plain GEMM W[M x C] * X[C x HW], no im2col;
 *  - 3x3 stride 1: Winograd F(4x4, 3x3) (convgemm-winograd.ts), where WebAssembly SIMD runs;
 *  - general: im2col fused into the GEMM's B packing over a zero-padded copy of the input
 *    (offset tables, see gemm.ts), so the im2col matrix is never materialized.
 */
import type { NumericArray } from '../../src/ir/dtype.js';
import type { WindowGeom } from '../../src/ir/ops/convgemm-geom.js';
import { arena, gemmCore, packA, padPlanes, sgemm, strideTable, TASKS_PER_THREAD, touchPages, type Arena, type Epilogue } from './gemm.js';
import { DW_UNROLLED } from './convgemm-wasm.js';
import { ACT_CLIP, actInPlace, actScalar, type Activation } from './convgemm-act.js';
import { convWinogradF32, winogradApplies } from './convgemm-winograd.js';
import { ParJob } from './convgemm-threads.js';

/** Window geometry on exactly three spatial axes. */
export interface Geom3 {
  id: number; ih: number; iw: number;
  od: number; oh: number; ow: number;
  kd: number; kh: number; kw: number;
  sd: number; sh: number; sw: number;
  dd: number; dh: number; dw: number;
  /** begin pads */
  pd: number; ph: number; pw: number;
  /** end pads */
  qd: number; qh: number; qw: number;
}

export function toGeom3(g: WindowGeom): Geom3 {
  const r = g.inSize.length;
  if (r < 1 || r > 3) throw new Error(`convolution over ${r} spatial axes is not supported (1 to 3)`);
  const at = (a: readonly number[], i: number, def: number): number => {
    const j = i - (3 - r);
    return j < 0 ? def : a[j]!;
  };
  return {
    id: at(g.inSize, 0, 1), ih: at(g.inSize, 1, 1), iw: at(g.inSize, 2, 1),
    od: at(g.outSize, 0, 1), oh: at(g.outSize, 1, 1), ow: at(g.outSize, 2, 1),
    kd: at(g.kernel, 0, 1), kh: at(g.kernel, 1, 1), kw: at(g.kernel, 2, 1),
    sd: at(g.strides, 0, 1), sh: at(g.strides, 1, 1), sw: at(g.strides, 2, 1),
    dd: at(g.dilations, 0, 1), dh: at(g.dilations, 1, 1), dw: at(g.dilations, 2, 1),
    pd: at(g.padsBegin, 0, 0), ph: at(g.padsBegin, 1, 0), pw: at(g.padsBegin, 2, 0),
    qd: at(g.padsEnd, 0, 0), qh: at(g.padsEnd, 1, 0), qw: at(g.padsEnd, 2, 0),
  };
}

export interface ConvArgs<T extends NumericArray = Float32Array> {
  x: T; batch: number; channels: number;
  w: T; outChannels: number; group: number;
  bias: T | undefined;
  g: Geom3;
  y: T;
  /** A fused activation applied in-kernel (convgemm-act.ts); none by default. */
  act?: Activation;
}

function copy2d(ar: Arena, src: number, srcRow: number, dst: number, dstRow: number, rows: number, rowBytes: number): void {
  if (ar.wasm) { ar.wasm.copy2d(src, srcRow, dst, dstRow, rows, rowBytes); return; }
  const f = ar.f32;
  for (let r = 0; r < rows; r++) f.copyWithin((dst + r * dstRow) >> 2, (src + r * srcRow) >> 2, (src + r * srcRow + rowBytes) >> 2);
}

/** Copies one batch item's C channels into a zero-padded [C][Dp][Hp][Wp] block at `dst`. */
function padInput(ar: Arena, xs: number, dst: number, C: number, g: Geom3, Hp: number, Wp: number, PS: number): void {
  const { id, ih, iw, pd, ph, pw } = g;
  for (let c = 0; c < C; c++) {
    for (let z = 0; z < id; z++) {
      copy2d(ar, xs + (c * id + z) * ih * iw * 4, iw * 4, dst + (c * PS + ((z + pd) * Hp + ph) * Wp + pw) * 4, Wp * 4, ih, iw * 4);
    }
  }
}

let winogradMode: 'auto' | 'off' | 'force' = 'auto';
/**
 * Winograd policy (tests and benchmarks): 'auto' where it pays off, 'off', or 'force' wherever
 * it applies structurally (3x3, stride 1, one group) whatever the size.
 */
export function setWinograd(mode: 'auto' | 'off' | 'force'): void { winogradMode = mode; }
export function getWinograd(): 'auto' | 'off' | 'force' { return winogradMode; }

/** Float32 Conv, any rank <= 3, groups, dilations, strides, pads. */
export function convF32(a: ConvArgs): void {
  const { x, batch: N, channels: C, w, outChannels: M, group, bias, g, y } = a;
  const Cg = C / group, Mg = M / group;
  if (Cg === 1 && g.kd === 1 && g.id === 1 && g.od === 1) { convDepthwiseF32(a); return; }
  const IS = g.id * g.ih * g.iw, OS = g.od * g.oh * g.ow, KK = g.kd * g.kh * g.kw, Kg = Cg * KK;
  const ar = arena();
  if (winogradMode !== 'off' && winogradApplies(ar, g, group, C, M, winogradMode === 'force')) { convWinogradF32(a); return; }
  const mark = ar.top;
  const wp = ar.weights(w, 0, M * Kg);
  const aK = strideTable(Kg, 1), aM = strideTable(Mg, Kg);
  const wpk: number[] = [];
  for (let gi = 0; gi < group; gi++) wpk.push(packA(ar, Mg, Kg, wp + gi * Mg * Kg * 4, aK, aM));
  const ep: Epilogue = { rowBias: bias, rowBiasOff: 0 };
  if (a.act) ep.act = a.act;
  const pointwise = KK === 1 && g.sd === 1 && g.sh === 1 && g.sw === 1
    && g.pd + g.ph + g.pw + g.qd + g.qh + g.qw === 0;
  const xs = ar.alloc(C * IS * 4);
  // 2-D padding runs as zero-and-copy per plane in wasm (on threads for large convolutions)
  const plane2d = ar.wasm !== null && g.id === 1 && g.pd === 0 && g.qd === 0;
  const padThreads = ar.threadsFor(M * OS * Kg); // (also wakes the workers while x is copied in)
  let bK: Int32Array, bN: Int32Array, src = xs, PS = IS;
  if (pointwise) {
    bK = strideTable(Cg, IS);
    bN = strideTable(OS, 1);
  } else {
    const Dp = g.id + g.pd + g.qd, Hp = g.ih + g.ph + g.qh, Wp = g.iw + g.pw + g.qw;
    const padded = Dp * Hp * Wp !== IS;
    PS = Dp * Hp * Wp;
    if (padded) {
      src = ar.alloc(C * PS * 4);
      if (!plane2d) ar.f32.fill(0, src >> 2, (src >> 2) + C * PS);
    }
    [bK, bN] = im2colTables(g, Cg, PS, Hp, Wp);
  }
  for (let n = 0; n < N; n++) {
    ar.f32.set(x.subarray(n * C * IS, (n + 1) * C * IS), xs >> 2);
    if (src !== xs && plane2d) {
      const Wp = g.iw + g.pw + g.qw;
      padPlanes(ar, padThreads, C, xs, IS * 4, g.iw * 4, g.ih, g.iw * 4, src, PS * 4, (g.ph * Wp + g.pw) * 4, Wp * 4);
    } else if (src !== xs) padInput(ar, xs, src, C, g, g.ih + g.ph + g.qh, g.iw + g.pw + g.qw, PS);
    for (let gi = 0; gi < group; gi++) {
      ep.rowBiasOff = gi * Mg;
      gemmCore(ar, Mg, OS, Kg, { packed: wpk[gi]! }, src + gi * Cg * PS * 4, bK, bN, y, (n * M + gi * Mg) * OS, OS, ep);
    }
  }
  ar.top = mark;
}

/** im2col offset tables of recent geometries (the same every run of a model; read-only). */
const im2colCache = new Map<string, [Int32Array, Int32Array]>();

/** B's tables for im2col over a padded input (planes PS apart, rows Wp): bK per (c, kz, ky, kx), bN per output pixel. */
function im2colTables(g: Geom3, Cg: number, PS: number, Hp: number, Wp: number): [Int32Array, Int32Array] {
  const key = `${Cg},${PS},${Hp},${Wp},${g.kd},${g.kh},${g.kw},${g.dd},${g.dh},${g.dw},${g.od},${g.oh},${g.ow},${g.sd},${g.sh},${g.sw}`;
  const hit = im2colCache.get(key);
  if (hit) return hit;
  const bK = new Int32Array(Cg * g.kd * g.kh * g.kw);
  for (let c = 0, k = 0; c < Cg; c++) {
    for (let kz = 0; kz < g.kd; kz++) {
      for (let ky = 0; ky < g.kh; ky++) {
        for (let kx = 0; kx < g.kw; kx++) bK[k++] = (c * PS + (kz * g.dd * Hp + ky * g.dh) * Wp + kx * g.dw) * 4;
      }
    }
  }
  const bN = new Int32Array(g.od * g.oh * g.ow);
  for (let oz = 0, n = 0; oz < g.od; oz++) {
    for (let oy = 0; oy < g.oh; oy++) {
      for (let ox = 0; ox < g.ow; ox++) bN[n++] = ((oz * g.sd * Hp + oy * g.sh) * Wp + ox * g.sw) * 4;
    }
  }
  if (im2colCache.size >= 64) im2colCache.clear();
  im2colCache.set(key, [bK, bN]);
  return [bK, bN];
}

/**
 * Depthwise (one input channel per group, channel multiplier Mg = M / C), 1-D/2-D. Output rows
 * are written contiguously by 8-wide vectors; a vector that runs past a row's end spills into the
 * next row, which is computed afterwards and overwrites it (the last spill lands in slack).
 */
function convDepthwiseF32(a: ConvArgs): void {
  const { x, batch: N, channels: C, w, outChannels: M, bias, g, y, act } = a;
  const Mg = M / C;
  const { ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw } = g;
  const ar = arena();
  const mark = ar.top;
  const simd = ar.wasm !== null && (sw === 1 || sw === 2);
  const dwFn = simd ? ar.wasm![`dw${sw}k${DW_UNROLLED.includes(kw) ? kw : 0}`] : undefined;
  const ow8 = simd ? Math.ceil(ow / 8) * 8 : ow;
  const Hp = Math.max(ih + ph + g.qh, (oh - 1) * sh + (kh - 1) * dh + 1);
  const Wp = Math.max(iw + pw + g.qw, sw * ow8 + (kw - 1) * dw);
  const IS = ih * iw, OS = oh * ow, KK = kh * kw;
  const xs = ar.alloc(C * IS * 4);
  const plane = ar.alloc(Hp * Wp * 4);
  const ys = ar.alloc(M * OS * 4 + 64); // + slack for the last row's 8-wide spill
  const wp = ar.weights(w, 0, M * KK);
  const bp = ar.alloc(M * 4);
  const f = ar.f32;
  f.fill(0, plane >> 2, (plane >> 2) + Hp * Wp);
  if (bias) f.set(bias.subarray(0, M), bp >> 2); else f.fill(0, bp >> 2, (bp >> 2) + M);
  const inner = plane + (ph * Wp + pw) * 4;
  const threads = dwFn ? ar.threadsFor(M * OS * KK) : 1;
  if (threads > 1) {
    depthwiseParallel(ar, a, threads, { xs, wp, bp, Hp, Wp, ow8 });
    ar.top = mark;
    return;
  }
  for (let n = 0; n < N; n++) {
    f.set(x.subarray(n * C * IS, (n + 1) * C * IS), xs >> 2);
    for (let c = 0; c < C; c++) {
      copy2d(ar, xs + c * IS * 4, iw * 4, inner, Wp * 4, ih, iw * 4);
      for (let mm = 0; mm < Mg; mm++) {
        const m = c * Mg + mm;
        const ym = ys + m * OS * 4, wm = wp + m * KK * 4, bm = bp + m * 4;
        if (dwFn) dwFn(plane, sh * Wp * 4, ym, oh, ow8, ow * 4, wm, kh, kw, dh * Wp * 4, dw * 4, bm, act?.flag ?? 0, act?.p0 ?? 0, act?.p1 ?? 0, act?.s ?? 1, act?.t ?? 0);
        else jsDepthwise(f, plane, sh * Wp * 4, ym, oh, ow, ow * 4, wm, kh, kw, dh * Wp * 4, dw * 4, bm, sw);
      }
    }
    const out = f.subarray(ys >> 2, (ys >> 2) + M * OS);
    if (!dwFn) actInPlace(out, act);
    y.set(out, n * M * OS);
  }
  ar.top = mark;
}

/**
 * convDepthwiseF32 on several threads: tasks of consecutive channels, each thread padding its
 * channel into its own plane. Unless rows are whole vectors, channels get separate output blocks
 * (an 8-wide spill past a channel's last row must not land on a neighbour another thread
 * computes), copied out one by one.
 */
function depthwiseParallel(
  ar: Arena, a: ConvArgs, threads: number,
  l: { xs: number; wp: number; bp: number; Hp: number; Wp: number; ow8: number },
): void {
  const { x, batch: N, channels: C, outChannels: M, g, y, act } = a;
  const Mg = M / C;
  const { ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw } = g;
  const { xs, wp, bp, Hp, Wp, ow8 } = l;
  const IS = ih * iw, OS = oh * ow, KK = kh * kw;
  const fn = `dw${sw}k${DW_UNROLLED.includes(kw) ? kw : 0}`;
  const planeBytes = (Hp * Wp * 4 + 127) & ~63;
  const planes = ar.alloc(planeBytes * threads);
  const OSp = ow8 === ow ? OS : (OS + 31) & ~15; // floats per output channel, with room for a spill
  const ys = ar.alloc(M * OSp * 4);
  const f = ar.f32;
  f.fill(0, planes >> 2, (planes + planeBytes * threads) >> 2);
  const inner = planes + (ph * Wp + pw) * 4;
  const tasks = Math.min(C, TASKS_PER_THREAD * threads), per = Math.ceil(C / tasks);
  const job = new ParJob(planeBytes);
  for (let c0 = 0; c0 < C; c0 += per) {
    job.task();
    for (let c = c0; c < Math.min(C, c0 + per); c++) {
      job.call('copy2d', 0b100, xs + c * IS * 4, iw * 4, inner, Wp * 4, ih, iw * 4);
      for (let mm = 0; mm < Mg; mm++) {
        const m = c * Mg + mm;
        job.call(fn, 0b1, planes, sh * Wp * 4, ys + m * OSp * 4, oh, ow8, ow * 4, wp + m * KK * 4, kh, kw, dh * Wp * 4, dw * 4, bp + m * 4,
          act?.flag ?? 0, act?.p0 ?? 0, act?.p1 ?? 0, act?.s ?? 1, act?.t ?? 0);
      }
    }
  }
  for (let n = 0; n < N; n++) {
    ar.f32.set(x.subarray(n * C * IS, (n + 1) * C * IS), xs >> 2);
    ar.run(job, threads, () => touchPages(y, n * M * OS, M * OS));
    const fo = ar.f32, y0 = ys >> 2;
    if (OSp === OS) y.set(fo.subarray(y0, y0 + M * OS), n * M * OS);
    else for (let m = 0; m < M; m++) y.set(fo.subarray(y0 + m * OSp, y0 + m * OSp + OS), (n * M + m) * OS);
  }
}

/** Scalar twin of the wasm depthwise kernels (any column stride sx; writes exactly `ow4` columns). */
function jsDepthwise(
  f: Float32Array, inp: number, rowStep: number, out: number, oh: number, ow4: number, outRow: number,
  w: number, kh: number, kw: number, kyStep: number, kxStep: number, bias: number, sx: number,
): void {
  const b = f[bias >> 2]!;
  const ks = kyStep >> 2, kxs = kxStep >> 2, wi = w >> 2;
  for (let oy = 0; oy < oh; oy++) {
    const rowIn = (inp + oy * rowStep) >> 2;
    const rowOut = (out + oy * outRow) >> 2;
    for (let ox = 0; ox < ow4; ox++) {
      let s = b;
      let p = rowIn + ox * sx, q = wi;
      for (let ky = 0; ky < kh; ky++, p += ks) {
        for (let kx = 0, r = p; kx < kw; kx++, r += kxs) s += f[q++]! * f[r]!;
      }
      f[rowOut + ox] = s;
    }
  }
}

// ---------------------------------------------------------------- ConvTranspose

let colsScratch = new Float32Array(0);

/** Float32 ConvTranspose: per group a GEMM cols = W_g^T X_g, then col2im scatter-add into Y. */
export function convTransposeF32(a: ConvArgs): void {
  const { x, batch: N, channels: C, w, outChannels: M, group, bias, g, y } = a;
  const Cg = C / group, Mg = M / group;
  const IS = g.id * g.ih * g.iw, OS = g.od * g.oh * g.ow, KK = g.kd * g.kh * g.kw;
  const rows = Mg * KK;
  // stride == kernel, no pads or dilation (upsampling heads): the taps tile the output exactly
  const tiled = g.kd === 1 && g.id === 1 && g.sh === g.kh && g.sw === g.kw && g.dh === 1 && g.dw === 1
    && g.ph + g.pw + g.qh + g.qw === 0 && g.oh === g.ih * g.sh && g.ow === g.iw * g.sw;
  if (tiled && g.kw === 2 && g.iw % 4 === 0) {
    const ar = arena();
    if (ar.wasm) { convTransposeUp2(ar, a); return; }
  }
  if (colsScratch.length < rows * IS) colsScratch = new Float32Array(rows * IS);
  const cols = colsScratch;
  for (let n = 0; n < N; n++) {
    for (let gi = 0; gi < group; gi++) {
      sgemm(rows, IS, Cg, w, gi * Cg * rows, 1, rows, x, (n * C + gi * Cg) * IS, IS, 1, cols, 0, IS);
      for (let m = 0; m < Mg; m++) {
        const yb = (n * M + gi * Mg + m) * OS;
        const bv = bias ? bias[gi * Mg + m]! : 0;
        if (tiled) { col2imTiled(cols, m * KK * IS, g, y, yb, bv, a.act); continue; }
        y.fill(bv, yb, yb + OS);
        col2im(cols, m * KK * IS, g, y, yb);
      }
    }
  }
  if (!tiled) actInPlace(y, a.act);
}

/**
 * ConvTranspose whose taps tile the output, kernel width 2 = stride (upsampling heads), in the
 * arena: per group a GEMM cols[(m, ky, kx)][pixel] = W_g^T X_g written in place, then the wasm
 * interleave of the kx = 0 and 1 rows into output rows with bias and activation (both split over
 * threads when worth it).
 */
function convTransposeUp2(ar: Arena, a: ConvArgs): void {
  const { x, batch: N, channels: C, w, outChannels: M, group, bias, g, y, act } = a;
  const Cg = C / group, Mg = M / group;
  const { ih, iw, oh, ow, kh } = g;
  const IS = ih * iw, OS = oh * ow, KK = kh * 2, rows = Mg * KK;
  const mark = ar.top;
  const Mp = Math.ceil(rows / 4) * 4, ISp = Math.ceil(IS / 8) * 8;
  const wsrc = ar.weights(w, 0, C * rows), xs = ar.alloc(C * IS * 4), cols = ar.alloc(Mp * ISp * 4);
  const ys = ar.alloc(M * OS * 4), bp = ar.alloc(M * 4);
  let f = ar.f32;
  if (bias) f.set(bias.subarray(0, M), bp >> 2); else f.fill(0, bp >> 2, (bp >> 2) + M);
  const aK = strideTable(Cg, rows), aM = strideTable(rows, 1), bK = strideTable(Cg, IS), bN = strideTable(IS, 1);
  const flags = act?.flag ?? 0, p0 = act?.p0 ?? 0, p1 = act?.p1 ?? 0, as = act?.s ?? 1, at = act?.t ?? 0;
  const threads = ar.threadsFor(Mg * OS * 16);
  // work units: (m, ky, a band of input rows); bands split rows when there are few channels
  const bands = threads > 1 ? Math.min(ih, Math.ceil((TASKS_PER_THREAD * threads) / (Mg * kh))) : 1, bandRows = Math.ceil(ih / bands);
  const unitsPerTask = Math.ceil((Mg * kh * Math.ceil(ih / bandRows)) / (TASKS_PER_THREAD * threads));
  for (let n = 0; n < N; n++) {
    f = ar.f32;
    f.set(x.subarray(n * C * IS, (n + 1) * C * IS), xs >> 2);
    for (let gi = 0; gi < group; gi++) {
      gemmCore(ar, rows, IS, Cg, { src: wsrc + gi * Cg * rows * 4, k: aK, m: aM }, xs + gi * Cg * IS * 4, bK, bN, null, cols >> 2, ISp, { direct: true });
      // output channel m, kernel row ky: output rows iy*kh + ky from cols rows (m, ky, 0) and (m, ky, 1)
      const job = threads > 1 ? new ParJob(0) : undefined;
      let unit = 0;
      for (let m = 0; m < Mg; m++) {
        const mo = gi * Mg + m;
        for (let ky = 0; ky < kh; ky++) {
          for (let iy = 0; iy < ih; iy += bandRows, unit++) {
            if (job && unit % unitsPerTask === 0) job.task();
            const r0 = cols + ((m * KK + ky * 2) * ISp + iy * iw) * 4;
            const args = [r0, r0 + ISp * 4, Math.min(bandRows, ih - iy), iw, iw * 4, kh * ow * 4, ys + (mo * OS + (iy * kh + ky) * ow) * 4, bp + mo * 4, flags, p0, p1, as, at] as const;
            if (job) job.call('ct_il2', 0, ...args); else ar.wasm!.ct_il2(...args);
          }
        }
      }
      if (job) ar.run(job, threads, gi === 0 ? () => touchPages(y, n * M * OS, M * OS) : undefined);
    }
    f = ar.f32;
    y.set(f.subarray(ys >> 2, (ys >> 2) + M * OS), n * M * OS);
  }
  ar.top = mark;
}

/**
 * col2im when every output pixel gets exactly one tap: a plain interleaving store (no fill or
 * +=) that also adds the bias and applies the activation (Relu inline, others per element).
 */
function col2imTiled(cols: Float32Array, c0: number, g: Geom3, y: Float32Array, yb: number, bias: number, act: Activation | undefined): void {
  const { ih, iw, kh, kw, ow } = g;
  const IS = ih * iw;
  const relu = act !== undefined && act.flag === ACT_CLIP && act.p0 === 0 && act.p1 === Infinity;
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      const r = c0 + (ky * kw + kx) * IS;
      for (let iy = 0; iy < ih; iy++) {
        let yo = yb + (iy * kh + ky) * ow + kx;
        const c = r + iy * iw;
        if (relu) {
          // branch-free: a sign-dependent branch mispredicts on real data (4x slower)
          for (let ix = 0; ix < iw; ix++, yo += kw) { const v = cols[c + ix]! + bias; y[yo] = (v + Math.abs(v)) * 0.5; }
        } else if (act) {
          for (let ix = 0; ix < iw; ix++, yo += kw) y[yo] = actScalar(cols[c + ix]! + bias, act);
        } else {
          for (let ix = 0; ix < iw; ix++, yo += kw) y[yo] = cols[c + ix]! + bias;
        }
      }
    }
  }
}

/** [start, end) of the input indices i in [0, n) whose output i*s + off lands in [0, hi). */
function span(n: number, s: number, off: number, hi: number): [number, number] {
  const start = Math.max(0, Math.ceil(-off / s));
  const end = Math.min(n, Math.floor((hi - 1 - off) / s) + 1);
  return [start, Math.max(start, end)];
}

/** Scatter-adds the KK rows of `cols` (one per kernel tap, IS columns each) of one output channel. */
function col2im(cols: Float32Array, c0: number, g: Geom3, y: Float32Array, yb: number): void {
  const { id, ih, iw, od, oh, ow, sd, sh, sw, dd, dh, dw, pd, ph, pw } = g;
  const IS = id * ih * iw;
  let r = c0;
  for (let kz = 0; kz < g.kd; kz++) {
    const oz0 = kz * dd - pd;
    const [z0, z1] = span(id, sd, oz0, od);
    for (let ky = 0; ky < g.kh; ky++) {
      const oy0 = ky * dh - ph;
      const [y0, y1] = span(ih, sh, oy0, oh);
      for (let kx = 0; kx < g.kw; kx++, r += IS) {
        const ox0 = kx * dw - pw;
        const [x0, x1] = span(iw, sw, ox0, ow);
        const cnt = x1 - x0;
        if (cnt <= 0) continue;
        for (let iz = z0; iz < z1; iz++) {
          const oz = iz * sd + oz0;
          for (let iy = y0; iy < y1; iy++) {
            let yo = yb + (oz * oh + iy * sh + oy0) * ow + ox0 + x0 * sw;
            let co = r + (iz * ih + iy) * iw + x0;
            for (let e = co + cnt; co < e; co++, yo += sw) y[yo] += cols[co]!;
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------- any storage type (float64)

/** Direct Conv loops (float64 and other non-float32 storage). */
export function convDirect(a: ConvArgs<NumericArray>): void {
  const { x, batch: N, channels: C, w, outChannels: M, group, bias, g, y } = a;
  const Cg = C / group, Mg = M / group;
  const IS = g.id * g.ih * g.iw, KK = g.kd * g.kh * g.kw;
  let o = 0;
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) {
      const gi = Math.floor(m / Mg);
      for (let oz = 0; oz < g.od; oz++) {
        for (let oy = 0; oy < g.oh; oy++) {
          for (let ox = 0; ox < g.ow; ox++) {
            let s = bias ? Number(bias[m]) : 0;
            for (let c = 0; c < Cg; c++) {
              const xb = (n * C + gi * Cg + c) * IS;
              const wb = (m * Cg + c) * KK;
              for (let kz = 0; kz < g.kd; kz++) {
                const iz = oz * g.sd - g.pd + kz * g.dd;
                if (iz < 0 || iz >= g.id) continue;
                for (let ky = 0; ky < g.kh; ky++) {
                  const iy = oy * g.sh - g.ph + ky * g.dh;
                  if (iy < 0 || iy >= g.ih) continue;
                  for (let kx = 0; kx < g.kw; kx++) {
                    const ix = ox * g.sw - g.pw + kx * g.dw;
                    if (ix < 0 || ix >= g.iw) continue;
                    s += Number(x[xb + (iz * g.ih + iy) * g.iw + ix]) * Number(w[wb + (kz * g.kh + ky) * g.kw + kx]);
                  }
                }
              }
            }
            y[o++] = a.act ? actScalar(s, a.act) : s;
          }
        }
      }
    }
  }
}

/** Direct ConvTranspose scatter loops (float64 and other non-float32 storage). */
export function convTransposeDirect(a: ConvArgs<NumericArray>): void {
  const { x, batch: N, channels: C, w, outChannels: M, group, bias, g, y } = a;
  const Cg = C / group, Mg = M / group;
  const IS = g.id * g.ih * g.iw, OS = g.od * g.oh * g.ow, KK = g.kd * g.kh * g.kw;
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) y.fill(bias ? bias[m]! : 0, (n * M + m) * OS, (n * M + m + 1) * OS);
    for (let c = 0; c < C; c++) {
      const gi = Math.floor(c / Cg);
      for (let iz = 0; iz < g.id; iz++) {
        for (let iy = 0; iy < g.ih; iy++) {
          for (let ix = 0; ix < g.iw; ix++) {
            const xv = Number(x[(n * C + c) * IS + (iz * g.ih + iy) * g.iw + ix]);
            for (let mm = 0; mm < Mg; mm++) {
              const m = gi * Mg + mm;
              const wb = (c * Mg + mm) * KK;
              for (let kz = 0; kz < g.kd; kz++) {
                const oz = iz * g.sd - g.pd + kz * g.dd;
                if (oz < 0 || oz >= g.od) continue;
                for (let ky = 0; ky < g.kh; ky++) {
                  const oy = iy * g.sh - g.ph + ky * g.dh;
                  if (oy < 0 || oy >= g.oh) continue;
                  for (let kx = 0; kx < g.kw; kx++) {
                    const ox = ix * g.sw - g.pw + kx * g.dw;
                    if (ox < 0 || ox >= g.ow) continue;
                    y[(n * M + m) * OS + (oz * g.oh + oy) * g.ow + ox] += xv * Number(w[wb + (kz * g.kh + ky) * g.kw + kx]);
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  actInPlace(y, a.act);
}
