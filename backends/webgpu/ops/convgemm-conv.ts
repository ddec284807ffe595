/**
 * Conv and twinfer.FusedConv on WebGPU. Three paths:
 *  - pointwise (1x1 kernel, stride 1, no pads): X is already the GEMM's B matrix per (batch, group),
 *    so the batched GEMM of convgemm-matmul.ts runs on it directly;
 *  - depthwise-like (one input channel per group, 1-D/2-D): a direct window kernel, one thread per
 *    output (a GEMM with K = kh*kw would be almost all overhead);
 *  - everything else: implicit GEMM per group, M = output channels of the group, N = batch*out
 *    pixels, K = in_channels/group * kernel taps, with the im2col gather done in the B tile loads
 *    (each thread decodes its output pixel once, then only the k index per element).
 * Bias, activation, residual and post-activation are applied in the store.
 */
import type { GpuKernel, GpuKernelContext } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { FLAT_INDEX, grid, WG } from '../program.js';
import type { GpuTensor } from '../tensor.js';
import type { HostTensor } from '../../../src/ir/tensor.js';
import { gpuElemOf } from '../tensor.js';
import { forwardGeom, groupAttr, readWindowAttrs, type WindowGeom } from '../../../src/ir/ops/convgemm-geom.js';
import { Params, actSupported, epilogueApply, epilogueDecls, epilogueKey, epilogueParams, readEpilogue, type Epilogue } from './convgemm-epilogue.js';
import { cfgKey, gemmShader, pickConvTile, matrixLoad, splitK, tileChunks, tileM, tileN, type TileCfg } from './convgemm-tile.js';
import { recordSplitReduce } from './convgemm-splitk.js';
import { recordMatmul } from './convgemm-matmul.js';
import { tryWinograd } from './convgemm-winograd.js';
import { tunedConv, tunedPointwise } from '../tuning-conv.js';

/** Window geometry on exactly three spatial axes (leading axes of size 1 for 1-D / 2-D). */
export interface G3 {
  i: [number, number, number]; o: [number, number, number]; k: [number, number, number];
  s: [number, number, number]; d: [number, number, number]; p: [number, number, number];
  /** end pads */
  q: [number, number, number];
}

export function geom3(g: WindowGeom): G3 {
  const r = g.inSize.length;
  if (r < 1 || r > 3) throw new Error(`${r} spatial axes (1 to 3 on WebGPU)`);
  const at = (a: readonly number[], def: number): [number, number, number] => {
    const o: number[] = [];
    for (let i = 0; i < 3; i++) { const j = i - (3 - r); o.push(j < 0 ? def : a[j]!); }
    return o as [number, number, number];
  };
  return { i: at(g.inSize, 1), o: at(g.outSize, 1), k: at(g.kernel, 1), s: at(g.strides, 1), d: at(g.dilations, 1), p: at(g.padsBegin, 0), q: at(g.padsEnd, 0) };
}

export interface ConvJob {
  name: string;
  x: GpuTensor; w: GpuTensor; bias: GpuTensor | undefined; z: GpuTensor | undefined;
  y: GpuTensor; epi: Epilogue;
  batch: number; C: number; Mtot: number; group: number;
  g: G3; spatialRank: number;
  /** Host copy of W when there is one (keys the Winograd weight cache). */
  wHost?: HostTensor | undefined;
}

const prod = (a: readonly number[]) => a.reduce((p, x) => p * x, 1);

/** Bindings X, W, [bias], [Z], Y, params; with W as vec4 when asked. */
function convDecls(job: ConvJob, wVec4 = false): string {
  const d: string[] = [
    '@group(0) @binding(0) var<storage, read> X: array<f32>;',
    `@group(0) @binding(1) var<storage, read> W: array<${wVec4 ? 'vec4<f32>' : 'f32'}>;`,
  ];
  let i = 2;
  if (job.bias) d.push(`@group(0) @binding(${i++}) var<storage, read> BIAS: array<f32>;`);
  if (job.z) d.push(`@group(0) @binding(${i++}) var<storage, read> Z: array<f32>;`);
  d.push(`@group(0) @binding(${i++}) var<storage, read_write> Y: array<f32>;`);
  d.push(`@group(0) @binding(${i}) var<storage, read> params: array<u32>;`);
  d.push(epilogueDecls(job.epi));
  return d.join('\n');
}

const convInputs = (job: ConvJob): GpuTensor[] => [job.x, job.w, ...(job.bias ? [job.bias] : []), ...(job.z ? [job.z] : [])];

/** Statements finishing `var v` (bias already added or not) and storing it at Y[yi]. */
function convStore(job: ConvJob, biasIdx: string): string {
  return `${job.bias ? `v += BIAS[${biasIdx}];` : ''}
      ${epilogueApply(job.epi, job.z ? 'Z[yi]' : undefined)}
      Y[yi] = v;`;
}

/** Implicit-GEMM convolution (any group count, 1 to 3 spatial axes). */
async function implicitGemm(ctx: GpuKernelContext, job: ConvJob, allowSplit = true, tile?: TileCfg): Promise<void> {
  const { g } = job;
  const d3 = g.i[0] !== 1 || g.o[0] !== 1 || g.k[0] !== 1 || g.p[0] !== 0;
  const Cg = job.C / job.group, Mg = job.Mtot / job.group;
  const KS = prod(g.k), OS = prod(g.o), IS = prod(g.i);
  const M = Mg, N = job.batch * OS, K = Cg * KS;
  const cfg = tile ?? pickConvTile(M);
  const vecW = K % 4 === 0;
  const threads = cfg.wx * cfg.wy, TN = tileN(cfg);
  const xT = Math.ceil(N / TN), yT = Math.ceil(M / tileM(cfg));
  const { S, KC } = allowSplit ? splitK(xT * yT * job.group, threads, K, cfg.tk) : { S: 1, KC: K };
  const split = S > 1;
  const partial = split ? ctx.gpu.alloc('float32', [S * job.y.size]) : undefined;
  // The GEMM itself: with split-K it stores raw partial sums (no bias, residual or activations).
  const gj: ConvJob = split ? { ...job, bias: undefined, z: undefined, epi: {} } : job;
  const key = `conv:${cfgKey(cfg)}:${d3 ? '3d' : '2d'}:${vecW ? 4 : 1}:${split ? 'split' : `${job.bias ? 'b' : ''}:${epilogueKey(job.epi, !!job.z)}`}`;
  const max = ctx.gpu.ctx.caps.maxComputeWorkgroupsPerDimension;
  for (const ch of tileChunks(xT, yT, job.group * S, max)) {
    const p = new Params().u('M', M).u('N', N).u('K', K).u('zOff', ch.zOff).u('xOff', ch.xOff)
      .u('C', job.C).u('Cg', Cg).u('Mtot', job.Mtot).u('IS', IS).u('OS', OS).u('KS', KS)
      .u('IH', g.i[1]).u('IW', g.i[2]).u('OW', g.o[2]).u('KW', g.k[2]).u('KHW', g.k[1] * g.k[2])
      .u('sh', g.s[1]).u('sw', g.s[2]).u('dh', g.d[1]).u('dw', g.d[2]).u('ph', g.p[1]).u('pw', g.p[2]);
    if (d3) p.u('ID', g.i[0]).u('OHW', g.o[1] * g.o[2]).u('sd', g.s[0]).u('dd', g.d[0]).u('pd', g.p[0]);
    if (split) p.u('SK', S).u('KC', KC).u('PT', job.y.size);
    epilogueParams(p, gj.epi);
    const wgsl = () => gemmShader(cfg, {
      // kOff/kY/kX(/kZ): the K block's k indices decoded once per workgroup (input offset of the
      // channel and tap, tap offsets per axis), so the gathers below do no integer division.
      decls: `${convDecls(gj, vecW)}
var<workgroup> kOff: array<u32, ${cfg.tk}>;
var<workgroup> kY: array<u32, ${cfg.tk}>;
var<workgroup> kX: array<u32, ${cfg.tk}>;
${d3 ? `var<workgroup> kZ: array<u32, ${cfg.tk}>;` : ''}`,
      lets: p.wgsl,
      split,
      setup: `let aOff = z * M * K;
  let nl = t % ${TN}u;
  let gn = n0 + nl;
  let nOk = gn < N;
  let bi = gn / OS; let pix = gn - bi * OS;
  ${d3 ? 'let oz = pix / OHW; let pxy = pix - oz * OHW; let iz0 = oz * sd - pd;' : 'let pxy = pix;'}
  let oy = pxy / OW; let ox = pxy - oy * OW;
  let iy0 = oy * sh - ph; let ix0 = ox * sw - pw; // may wrap below 0: caught by the unsigned bounds test
  let xb = (bi * C + z * Cg) * IS + ${d3 ? '(iz0 * IH + iy0) * IW' : 'iy0 * IW'} + ix0; // (wrapping) offset of tap 0 of channel 0`,
      pre: `if (t < ${cfg.tk}u) {
      let gk = k0 + t;
      let c = gk / KS; let r = gk - c * KS;
      ${d3 ? 'let kz = r / KHW; let rxy = r - kz * KHW; kZ[t] = kz * dd;' : 'let rxy = r;'}
      let ky = rxy / KW; let kx = rxy - ky * KW;
      kY[t] = ky * dh; kX[t] = kx * dw;
      kOff[t] = c * IS + ${d3 ? 'kz * dd * IH * IW + ' : ''}ky * dh * IW + kx * dw;
    }`,
      loadA: matrixLoad(cfg, { shared: 'As', buf: 'W', kContig: true, vec4: vecW, base: 'aOff', ld: 'K', r0: 'm0', R: 'M' }),
      loadB: `for (var ps = 0u; ps < ${(cfg.tk * TN) / threads}u; ps++) {
      let kl = t / ${TN}u + ps * ${threads / TN}u;
      var v = 0.0;
      if (nOk && k0 + kl < kEnd) {
        ${d3 ? 'let iz = iz0 + kZ[kl];' : ''}
        let iy = iy0 + kY[kl]; let ix = ix0 + kX[kl];
        if (${d3 ? 'iz < ID && ' : ''}iy < IH && ix < IW) { v = X[xb + kOff[kl]]; }
      }
      Bs[kl * ${TN / 4}u + nl / 4u][nl % 4u] = v;
    }`,
      store: `let sb = n / OS; let sp = n - sb * OS;
      let yi = (sb * Mtot + z * M + m) * OS + sp;
      ${split ? 'Y[ks * PT + yi] = acc;' : `var v = acc;
      ${convStore(job, 'z * M + m')}`}`,
    });
    await ctx.gpu.run({ name: job.name, cacheKey: key, wgsl, inputs: convInputs(gj), outputs: [partial ?? job.y], params: p.values, workgroups: ch.wg });
  }
  if (partial) {
    await recordSplitReduce(ctx, {
      name: job.name, partial, S, alpha: 1, epi: job.epi, y: job.y,
      ...(job.bias ? { bias: { kind: 'channel' as const, t: job.bias, OS, Mtot: job.Mtot } } : {}),
      ...(job.z ? { z: job.z } : {}),
    });
    ctx.gpu.release(partial);
  }
}

/** One input channel per group (depthwise, or depthwise with a channel multiplier), 1-D / 2-D. */
/**
 * Depthwise 3x3 (stride 1 or 2, undilated, 2-D) with four outputs along x per thread: each input row
 * segment (4*stride + 2 values) is loaded once for the four windows and the nine weights stay in
 * registers, where the generic kernel below loads nine inputs and nine weights per output. MobileNet's
 * and PP-OCR's depthwise layers are all of this shape.
 */
function depthwise3x3Fits(job: ConvJob): boolean {
  const g = job.g;
  return job.spatialRank <= 2 && g.k[1] === 3 && g.k[2] === 3 && g.d[1] === 1 && g.d[2] === 1 && g.s[1] === g.s[2] && (g.s[1] === 1 || g.s[1] === 2);
}

async function depthwise3x3(ctx: GpuKernelContext, job: ConvJob): Promise<void> {
  const { g } = job;
  const Mg = job.Mtot / job.group, s = g.s[1];
  const OW4 = Math.ceil(g.o[2] / 4);
  const quads = job.batch * job.Mtot * g.o[1] * OW4;
  const p = new Params().u('total', quads).u('Mtot', job.Mtot).u('Mg', Mg).u('C', job.C).u('OH', g.o[1]).u('OW', g.o[2]).u('OW4', OW4)
    .u('IH', g.i[1]).u('IW', g.i[2]).u('ph', g.p[1]).u('pw', g.p[2]);
  epilogueParams(p, job.epi);
  const span = 4 * s + 2; // input columns under four adjacent windows
  const rows: string[] = [];
  for (let ky = 0; ky < 3; ky++) {
    rows.push(`{ let iy = iy0 + ${ky}u; if (iy < IH) {
    let rb = xb + iy * IW;
    var r: array<f32, ${span}>;
    for (var j = 0u; j < ${span}u; j++) { let ix = ix0 + j; r[j] = select(0.0, X[rb + min(ix, IW - 1u)], ix < IW); }
    ${[0, 1, 2, 3].map((q) => `a${q} = fma(r[${q * s}u], w${ky}0, fma(r[${q * s + 1}u], w${ky}1, fma(r[${q * s + 2}u], w${ky}2, a${q})));`).join('\n    ')}
  } }`);
  }
  await ctx.gpu.run({
    name: `${job.name}(depthwise3x3)`,
    cacheKey: `convdw3:s${s}:${job.bias ? 'b' : ''}:${epilogueKey(job.epi, !!job.z)}`,
    wgsl: () => `${convDecls(job)}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let qi = flatIndex(gid, nwg);
  ${p.wgsl}
  if (qi >= total) { return; }
  let row = qi / OW4; let ox0 = (qi - row * OW4) * 4u;
  let plane = row / OH; let oy = row - plane * OH;
  let m = plane % Mtot; let b = plane / Mtot;
  let xb = (b * C + m / Mg) * IH * IW;
  let wb = m * 9u;
  ${[0, 1, 2].map((ky) => [0, 1, 2].map((kx) => `let w${ky}${kx} = W[wb + ${ky * 3 + kx}u];`).join(' ')).join('\n  ')}
  let iy0 = oy * ${s}u - ph; let ix0 = ox0 * ${s}u - pw; // may wrap below 0: caught by the unsigned bounds tests
  var a0 = 0.0; var a1 = 0.0; var a2 = 0.0; var a3 = 0.0;
  ${rows.join('\n  ')}
  let acc = array<f32, 4>(a0, a1, a2, a3);
  for (var q = 0u; q < 4u; q++) {
    let ox = ox0 + q;
    if (ox >= OW) { break; }
    let yi = (plane * OH + oy) * OW + ox;
    var v = acc[q];
    ${job.bias ? 'v += BIAS[m];' : ''}
    ${epilogueApply(job.epi, job.z ? 'Z[yi]' : undefined)}
    Y[yi] = v;
  }
}`,
    inputs: convInputs(job), outputs: [job.y], params: p.values, workgroups: grid(quads),
  });
}

async function depthwise(ctx: GpuKernelContext, job: ConvJob): Promise<void> {
  const { g } = job;
  const Mg = job.Mtot / job.group;
  const OS = g.o[1] * g.o[2];
  const total = job.y.size;
  const p = new Params().u('total', total).u('Mtot', job.Mtot).u('Mg', Mg).u('C', job.C).u('OS', OS).u('OW', g.o[2])
    .u('IH', g.i[1]).u('IW', g.i[2]).u('KH', g.k[1]).u('KW', g.k[2])
    .u('sh', g.s[1]).u('sw', g.s[2]).u('dh', g.d[1]).u('dw', g.d[2]).u('ph', g.p[1]).u('pw', g.p[2]);
  epilogueParams(p, job.epi);
  await ctx.gpu.run({
    name: `${job.name}(depthwise)`,
    cacheKey: `convdw:${job.bias ? 'b' : ''}:${epilogueKey(job.epi, !!job.z)}`,
    wgsl: () => `${convDecls(job)}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let yi = flatIndex(gid, nwg);
  ${p.wgsl}
  if (yi >= total) { return; }
  let plane = yi / OS; let pix = yi - plane * OS;
  let m = plane % Mtot; let b = plane / Mtot;
  let oy = pix / OW; let ox = pix - oy * OW;
  let xb = (b * C + m / Mg) * IH * IW;
  let wb = m * KH * KW;
  let iy0 = oy * sh - ph; let ix0 = ox * sw - pw; // may wrap below 0: caught by the unsigned bounds test
  var v = 0.0;
  for (var ky = 0u; ky < KH; ky++) {
    let iy = iy0 + ky * dh;
    if (iy >= IH) { continue; }
    for (var kx = 0u; kx < KW; kx++) {
      let ix = ix0 + kx * dw;
      if (ix < IW) { v = fma(X[xb + iy * IW + ix], W[wb + ky * KW + kx], v); }
    }
  }
  ${convStore(job, 'm')}
}`,
    inputs: convInputs(job), outputs: [job.y], params: p.values, workgroups: grid(total),
  });
}

/** 1x1, stride 1, no pads: Y[b, g] = W[g] (Mg x Cg) * X[b, g] (Cg x pixels), a batched GEMM. */
async function pointwise(ctx: GpuKernelContext, job: ConvJob, cfg?: TileCfg): Promise<void> {
  const Cg = job.C / job.group, Mg = job.Mtot / job.group, OS = prod(job.g.o);
  const dims: number[] = [], sa: number[] = [], sb: number[] = [], sy: number[] = [], sc: number[] = [];
  const axis = (n: number, a: number, b: number, y: number, c: number) => { if (n > 1) { dims.push(n); sa.push(a); sb.push(b); sy.push(y); sc.push(c); } };
  axis(job.batch, 0, job.C * OS, job.Mtot * OS, 0);
  axis(job.group, Mg * Cg, Cg * OS, Mg * OS, Mg);
  await recordMatmul(ctx, {
    name: `${job.name}(1x1)`, M: Mg, N: OS, K: Cg, a: job.w, transA: false, b: job.x, transB: false,
    batch: dims, sa, sb, sy, sc, alpha: 1,
    ...(job.bias ? { bias: { t: job.bias, rs: 1, cs: 0, beta: 1 } } : {}),
    ...(job.z ? { z: job.z } : {}),
    epi: job.epi, y: job.y,
    ...(cfg ? { cfg } : {}),
  });
}

export async function recordConv(ctx: GpuKernelContext, job: ConvJob): Promise<void> {
  const { g } = job;
  const Cg = job.C / job.group;
  const pointwiseOk = g.k.every((k) => k === 1) && g.s.every((s) => s === 1) && g.p.every((p) => p === 0) && g.q.every((q) => q === 0);
  if (pointwiseOk) return tunedPointwise(ctx, job, (cfg) => pointwise(ctx, job, cfg));
  if (Cg === 1 && job.group > 1 && job.spatialRank <= 2) return depthwise3x3Fits(job) ? depthwise3x3(ctx, job) : depthwise(ctx, job);
  // Winograd / implicit GEMM / split-K: timed at build and cached when tuning is on (tuning-conv.ts).
  return tunedConv(ctx, job, { winograd: (force) => tryWinograd(ctx, job, force), gemm: (split, cfg) => implicitGemm(ctx, job, split ?? true, cfg) });
}

/** What Conv and ConvTranspose (plain or fused) accept on WebGPU: float data, 1-3 spatial axes, known activations. */
export function convUnsupported(op: string): NonNullable<GpuKernel['unsupported']> {
  return (node, inputs) => {
    const x = inputs[0];
    if (!x || gpuElemOf(x.dtype) !== 'f32') return `${op} on ${x?.dtype} is not implemented on WebGPU (float types only)`;
    const r = (x.shape?.length ?? 0) - 2;
    if (r < 1 || r > 3) return `${op} over ${r} spatial axes is not implemented on WebGPU`;
    const e = readEpilogue(node);
    return actSupported(e.act) && actSupported(e.post) ? undefined : `${op}: activation not implemented on WebGPU`;
  };
}

function convKernel(fused: boolean): GpuKernel {
  const op = fused ? 'FusedConv' : 'Conv';
  return {
    unsupported: convUnsupported(op),
    async run(ctx) {
      const x = gin(ctx, 0), w = gin(ctx, 1);
      const yDims = outDims(ctx);
      const y = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, yDims);
      if (y.size === 0) return [y];
      const rank = x.dims.length - 2;
      const geom = forwardGeom(readWindowAttrs(ctx.node, rank, w.dims.slice(2)), x.dims.slice(2));
      await recordConv(ctx, {
        name: op, x, w, bias: ctx.inputs[2], z: fused ? ctx.inputs[3] : undefined, y,
        epi: fused ? readEpilogue(ctx.node) : {},
        batch: x.dims[0]!, C: x.dims[1]!, Mtot: yDims[1]!, group: groupAttr(ctx.node), g: geom3(geom), spatialRank: rank, wHost: ctx.host(1),
      });
      return [y];
    },
  };
}

export const convKernels = {
  Conv: convKernel(false),
  'twinfer.FusedConv': convKernel(true),
};
