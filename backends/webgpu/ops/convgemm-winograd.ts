/**
 * Winograd F(2x2, 3x3) for 3x3, stride-1, undilated 2-D convolutions on WebGPU (any pads, groups).
 *
 *  1. weights:  U[xi][m][c] = (G g G^T)[xi]            once per weight tensor (cached, see below)
 *  2. input:    V[xi][c][t] = (B^T d B)[xi]            d: the 4x4 input patch of 2x2 output tile t
 *  3. GEMM:     P[xi][m][t] = sum_c U[xi][m][c] V[xi][c][t]   16 x groups batched GEMMs (convgemm-matmul)
 *  4. output:   Y tile t    = A^T P[.][m][t] A, then bias and the fused epilogue
 * 16 products per 2x2 outputs instead of 36: 2.25x fewer multiplies, paid for with transforms and
 * 4x intermediates, so it is used only where the GEMM dominates (see winogradApplies).
 *
 * The transformed weights are cached by the weight's GPUBuffer, checked against the host tensor it
 * was uploaded from (initializers keep theirs for the session; a pooled buffer reused for other
 * data has a different host tensor or none, and then the transform simply runs again).
 */
import type { GpuKernelContext } from '../kernel.js';
import type { HostTensor } from '../../../src/ir/tensor.js';
import { FLAT_INDEX, grid, WG } from '../program.js';
import { GpuTensor } from '../tensor.js';
import { Params, epilogueApply, epilogueDecls, epilogueKey, epilogueParams } from './convgemm-epilogue.js';
import type { ConvJob } from './convgemm-conv.js';
import { recordMatmul } from './convgemm-matmul.js';

export type WinogradPolicy = 'auto' | 'off' | 'force';
let policy: WinogradPolicy = 'auto';
/** Winograd policy (tests and benchmarks): 'auto' where it pays off, 'off', or 'force' wherever it applies. */
export function setWinogradPolicy(p: WinogradPolicy): void { policy = p; }

/** Whether the convolution has the shape Winograd F(2x2, 3x3) computes. */
function shapeFits(job: ConvJob): boolean {
  const g = job.g;
  return job.spatialRank === 2 && g.k[1] === 3 && g.k[2] === 3 && g.s[1] === 1 && g.s[2] === 1 && g.d[1] === 1 && g.d[2] === 1;
}

/**
 * Where Winograd pays. On an H100 (Dawn/Vulkan) it beat the implicit GEMM on every 3x3 layer tried,
 * from 32->32 at 160x160 (1.5x) to 256->256 at 64x64 (3.2x) and 512->512 at 7x7 (1.3x: the 16
 * batched GEMMs also fill the GPU better); with few channels the transforms would dominate.
 */
export function winogradApplies(job: ConvJob): boolean {
  if (policy === 'off' || !shapeFits(job)) return false;
  if (policy === 'force') return true;
  // With warm GPU clocks on the H100 (bench/webgpu-winograd.js, docs/benchmarks.md), the implicit
  // GEMM won on 64-channel layers at any batch and on small maps at batch 1 (256ch 14x14, 512ch
  // 7x7); Winograd won from 128 channels once batch*H*W is large (1.4x to 2.3x). Until tactics are
  // timed per device at build time, that measured boundary is the rule.
  const pixels = job.batch * prodOut(job);
  return job.C / job.group >= 128 && job.Mtot / job.group >= 128 && pixels >= 700;
}

/** Output pixels per image (product of the output spatial dims). */
function prodOut(job: ConvJob): number {
  return job.g.o.reduce((p, x) => p * x, 1);
}

interface Cached { host: HostTensor; u: GpuTensor }
const cache = new WeakMap<GPUBuffer, Cached>();

const decl = (i: number, name: string, rw = false) => `@group(0) @binding(${i}) var<storage, ${rw ? 'read_write' : 'read'}> ${name}: array<f32>;`;

/** U[xi][m][c] for every output channel m (all groups) and input channel c of its group. */
async function transformWeights(ctx: GpuKernelContext, w: GpuTensor, u: GpuTensor, Mtot: number, Cg: number): Promise<void> {
  const p = new Params().u('total', Mtot * Cg).u('MC', Mtot * Cg);
  await ctx.gpu.run({
    name: 'Winograd(weights)',
    cacheKey: 'wino:wt',
    wgsl: () => `${decl(0, 'W')}
${decl(1, 'U', true)}
@group(0) @binding(2) var<storage, read> params: array<u32>;
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  ${p.wgsl}
  if (i >= total) { return; }
  var g: array<f32, 9>;
  for (var k = 0u; k < 9u; k++) { g[k] = W[i * 9u + k]; }
  // rows: Gg (4x3), G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
  var t: array<f32, 12>;
  for (var c = 0u; c < 3u; c++) {
    let a = g[c]; let b = g[3u + c]; let d = g[6u + c];
    t[c] = a; t[3u + c] = 0.5 * (a + b + d); t[6u + c] = 0.5 * (a - b + d); t[9u + c] = d;
  }
  for (var r = 0u; r < 4u; r++) {
    let a = t[r * 3u]; let b = t[r * 3u + 1u]; let d = t[r * 3u + 2u];
    U[(r * 4u + 0u) * MC + i] = a;
    U[(r * 4u + 1u) * MC + i] = 0.5 * (a + b + d);
    U[(r * 4u + 2u) * MC + i] = 0.5 * (a - b + d);
    U[(r * 4u + 3u) * MC + i] = d;
  }
}`,
    inputs: [w], outputs: [u], params: p.values, workgroups: grid(Mtot * Cg),
  });
}

/** The transformed weights of `job.w`, from the cache when they are still valid. */
async function weights(ctx: GpuKernelContext, job: ConvJob, host: HostTensor | undefined): Promise<{ u: GpuTensor; temp: boolean }> {
  const Cg = job.C / job.group;
  const hit = cache.get(job.w.buffer);
  if (host && hit && hit.host === host) return { u: hit.u, temp: false };
  if (!host) {
    const u = ctx.gpu.alloc('float32', [16, job.Mtot, Cg]);
    await transformWeights(ctx, job.w, u, job.Mtot, Cg);
    return { u, temp: true };
  }
  // Outside the pool: the cache owns it for as long as the weight buffer lives.
  hit?.u.buffer.destroy();
  const bytes = 16 * job.Mtot * Cg * 4;
  const buf = ctx.gpu.device.createBuffer({ size: Math.max(16, bytes), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const u = new GpuTensor(buf, 'float32', [16, job.Mtot, Cg]);
  await transformWeights(ctx, job.w, u, job.Mtot, Cg);
  cache.set(job.w.buffer, { host, u });
  return { u, temp: false };
}

/** Records the convolution through Winograd when it applies; false otherwise. */
export async function tryWinograd(ctx: GpuKernelContext, job: ConvJob): Promise<boolean> {
  if (!winogradApplies(job)) return false;
  const { g } = job;
  const C = job.C, Mtot = job.Mtot, Cg = C / job.group, Mg = Mtot / job.group;
  const [IH, IW, OH, OW] = [g.i[1], g.i[2], g.o[1], g.o[2]];
  const TH = Math.ceil(OH / 2), TW = Math.ceil(OW / 2), T = job.batch * TH * TW;
  // The transformed input and products are 4x the input / output: they must fit one binding.
  if (16 * Math.max(C, Mtot) * T * 4 > ctx.gpu.ctx.caps.maxStorageBufferBindingSize) return false;
  const { u, temp } = await weights(ctx, job, job.wHost);

  // 2. input transform: one thread per (channel, tile)
  const v = ctx.gpu.alloc('float32', [16, C, T]);
  const pi = new Params().u('total', C * T).u('T', T).u('C', C).u('TT', TH * TW).u('TW', TW).u('IH', IH).u('IW', IW).u('ph', g.p[1]).u('pw', g.p[2]).u('CT', C * T);
  await ctx.gpu.run({
    name: 'Winograd(input)',
    cacheKey: 'wino:in',
    wgsl: () => `${decl(0, 'X')}
${decl(1, 'V', true)}
@group(0) @binding(2) var<storage, read> params: array<u32>;
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  ${pi.wgsl}
  if (i >= total) { return; }
  let c = i / T; let t = i - c * T;
  let b = t / TT; let r = t - b * TT; let ty = r / TW; let tx = r - ty * TW;
  let y0 = ty * 2u - ph; let x0 = tx * 2u - pw; // may wrap below 0: caught by the unsigned bounds test
  let xb = (b * C + c) * IH * IW;
  var d: array<f32, 16>;
  for (var a = 0u; a < 4u; a++) {
    let y = y0 + a;
    for (var e = 0u; e < 4u; e++) {
      let x = x0 + e;
      var val = 0.0;
      if (y < IH && x < IW) { val = X[xb + y * IW + x]; }
      d[a * 4u + e] = val;
    }
  }
  // B^T d: B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
  var s: array<f32, 16>;
  for (var e = 0u; e < 4u; e++) {
    s[e] = d[e] - d[8u + e]; s[4u + e] = d[4u + e] + d[8u + e];
    s[8u + e] = d[8u + e] - d[4u + e]; s[12u + e] = d[4u + e] - d[12u + e];
  }
  let o = c * T + t;
  for (var a = 0u; a < 4u; a++) {
    let r0 = s[a * 4u]; let r1 = s[a * 4u + 1u]; let r2 = s[a * 4u + 2u]; let r3 = s[a * 4u + 3u];
    V[(a * 4u + 0u) * CT + o] = r0 - r2;
    V[(a * 4u + 1u) * CT + o] = r1 + r2;
    V[(a * 4u + 2u) * CT + o] = r2 - r1;
    V[(a * 4u + 3u) * CT + o] = r1 - r3;
  }
}`,
    inputs: [job.x], outputs: [v], params: pi.values, workgroups: grid(C * T),
  });

  // 3. 16 x groups GEMMs: P[xi][g] (Mg x T) = U[xi][g] (Mg x Cg) * V[xi][g] (Cg x T)
  const prod = ctx.gpu.alloc('float32', [16, Mtot, T]);
  const dims = [16], sa = [Mtot * Cg], sb = [C * T], sy = [Mtot * T], sc = [0];
  if (job.group > 1) { dims.push(job.group); sa.push(Mg * Cg); sb.push(Cg * T); sy.push(Mg * T); sc.push(0); }
  await recordMatmul(ctx, {
    name: 'Winograd(gemm)', M: Mg, N: T, K: Cg, a: u, transA: false, b: v, transB: false,
    batch: dims, sa, sb, sy, sc, alpha: 1, epi: {}, y: prod,
  });
  ctx.gpu.release(v);
  if (temp) ctx.gpu.release(u);

  // 4. output transform, bias and epilogue: one thread per (output channel, tile)
  const po = new Params().u('total', Mtot * T).u('T', T).u('Mtot', Mtot).u('TT', TH * TW).u('TW', TW).u('OH', OH).u('OW', OW).u('MT', Mtot * T);
  epilogueParams(po, job.epi);
  const ins = [prod, ...(job.bias ? [job.bias] : []), ...(job.z ? [job.z] : [])];
  let bi = 1;
  const decls = [decl(0, 'P'), ...(job.bias ? [decl(bi++, 'BIAS')] : []), ...(job.z ? [decl(bi++, 'Z')] : []), decl(bi++, 'Y', true),
    `@group(0) @binding(${bi}) var<storage, read> params: array<u32>;`];
  await ctx.gpu.run({
    name: `${job.name}(winograd)`,
    cacheKey: `wino:out:${job.bias ? 'b' : ''}:${epilogueKey(job.epi, !!job.z)}`,
    wgsl: () => `${decls.join('\n')}
${epilogueDecls(job.epi)}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  ${po.wgsl}
  if (i >= total) { return; }
  let m = i / T; let t = i - m * T;
  let b = t / TT; let r = t - b * TT; let ty = r / TW; let tx = r - ty * TW;
  var q: array<f32, 16>;
  for (var k = 0u; k < 16u; k++) { q[k] = P[k * MT + i]; }
  // A^T q A with A^T = [1 1 1 0; 0 1 -1 -1]
  var s: array<f32, 8>;
  for (var e = 0u; e < 4u; e++) {
    s[e] = q[e] + q[4u + e] + q[8u + e];
    s[4u + e] = q[4u + e] - q[8u + e] - q[12u + e];
  }
  var out: array<f32, 4>;
  for (var a = 0u; a < 2u; a++) {
    out[a * 2u] = s[a * 4u] + s[a * 4u + 1u] + s[a * 4u + 2u];
    out[a * 2u + 1u] = s[a * 4u + 1u] - s[a * 4u + 2u] - s[a * 4u + 3u];
  }
  for (var a = 0u; a < 2u; a++) {
    let oy = ty * 2u + a;
    if (oy >= OH) { continue; }
    for (var e = 0u; e < 2u; e++) {
      let ox = tx * 2u + e;
      if (ox >= OW) { continue; }
      let yi = ((b * Mtot + m) * OH + oy) * OW + ox;
      var v = out[a * 2u + e];
      ${job.bias ? 'v += BIAS[m];' : ''}
      ${epilogueApply(job.epi, job.z ? 'Z[yi]' : undefined)}
      Y[yi] = v;
    }
  }
}`,
    inputs: ins, outputs: [job.y], params: po.values, workgroups: grid(Mtot * T),
  });
  ctx.gpu.release(prod);
  return true;
}
