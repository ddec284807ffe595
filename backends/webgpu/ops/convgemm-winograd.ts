/**
 * Winograd F(m x m, 3x3), m = 2 (default) or 4, for 3x3, stride-1, undilated 2-D convolutions on
 * WebGPU (any pads, groups). With a = m + 2:
 *  1. weights:  U[xi][m][c] = (G g G^T)[xi]            once per weight tensor (cached, see below)
 *  2. input:    V[xi][c][t] = (B^T d B)[xi]            d: the a x a input patch of output tile t
 *  3. GEMM:     P[xi][m][t] = sum_c U[xi][m][c] V[xi][c][t]   a*a x groups batched GEMMs (convgemm-matmul)
 *  4. output:   Y tile t    = A^T P[.][m][t] A, then bias and the fused epilogue
 * F(2x2): 16 products per 4 outputs instead of 36 (2.25x fewer multiplies), intermediates 4x the
 * tensors; F(4x4): 36 per 16 (4x fewer), intermediates 2.25x, slightly less accurate (fp32 error
 * ~1e-6 relative on these layers). The transforms are unrolled from the matrices in
 * convgemm-winograd-mats.ts. Used only where the GEMM dominates (see winogradApplies).
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
import { F2, F4, sandwich, type WinogradMats } from './convgemm-winograd-mats.js';

export type WinogradPolicy = 'auto' | 'off' | 'force';
let policy: WinogradPolicy = 'auto';
/** Winograd policy (tests and benchmarks): 'auto' where it pays off, 'off', or 'force' wherever it applies. */
export function setWinogradPolicy(p: WinogradPolicy): void { policy = p; }
export function winogradPolicy(): WinogradPolicy { return policy; }
// F(2x2) by default: on the H100 F(4x4) measured slower on every ResNet-50 layer (its transforms,
// one thread per tile with 36 gathers and 36 strided stores, cost more than the 1.8x fewer GEMM
// multiplies save: 6.30 vs 4.09 ms over the 13 layers at batch 32; docs/benchmarks.md).
let tile: 2 | 4 = 2;
/** Output tile edge of the Winograd variant used (benchmarks and tests): 2 (default) or 4. */
export function setWinogradTile(m: 2 | 4): void { tile = m; }

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

/**
 * Whether Winograd can run this convolution at all (shape, and the transformed tensors within one
 * binding): the candidate set of the tactic timing (tuning-conv.ts), policy aside.
 */
export function winogradFits(job: ConvJob, maxBinding: number): boolean {
  if (policy === 'off' || !shapeFits(job)) return false;
  const m = tile, g = job.g;
  const T = job.batch * Math.ceil(g.o[1] / m) * Math.ceil(g.o[2] / m);
  return (m + 2) ** 2 * Math.max(job.C, job.Mtot) * T * 4 <= maxBinding;
}

/** Output pixels per image (product of the output spatial dims). */
function prodOut(job: ConvJob): number {
  return job.g.o.reduce((p, x) => p * x, 1);
}

interface Cached { host: HostTensor; u: GpuTensor; m: number }
const cache = new WeakMap<GPUBuffer, Cached>();

const decl = (i: number, name: string, rw = false) => `@group(0) @binding(${i}) var<storage, ${rw ? 'read_write' : 'read'}> ${name}: array<f32>;`;

/** U[xi][m][c] for every output channel m (all groups) and input channel c of its group. */
async function transformWeights(ctx: GpuKernelContext, w: GpuTensor, u: GpuTensor, Mtot: number, Cg: number, mats: WinogradMats): Promise<void> {
  const p = new Params().u('total', Mtot * Cg).u('MC', Mtot * Cg);
  const a = mats.m + 2;
  const t = sandwich(mats.G, 3, (i, j) => `g${i * 3 + j}`, 't');
  const stores: string[] = [];
  for (let i = 0; i < a; i++) for (let j = 0; j < a; j++) stores.push(`U[${i * a + j}u * MC + i] = ${t.out(i, j)};`);
  await ctx.gpu.run({
    name: 'Winograd(weights)',
    cacheKey: `wino${mats.m}:wt`,
    wgsl: () => `${decl(0, 'W')}
${decl(1, 'U', true)}
@group(0) @binding(2) var<storage, read> params: array<u32>;
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  ${p.wgsl}
  if (i >= total) { return; }
  ${Array.from({ length: 9 }, (_, k) => `let g${k} = W[i * 9u + ${k}u];`).join(' ')}
  ${t.code}
  ${stores.join('\n  ')}
}`,
    inputs: [w], outputs: [u], params: p.values, workgroups: grid(Mtot * Cg),
  });
}

/** The transformed weights of `job.w`, from the cache when they are still valid. */
async function weights(ctx: GpuKernelContext, job: ConvJob, host: HostTensor | undefined, mats: WinogradMats): Promise<{ u: GpuTensor; temp: boolean }> {
  const Cg = job.C / job.group;
  const A2 = (mats.m + 2) ** 2;
  const hit = cache.get(job.w.buffer);
  if (host && hit && hit.host === host && hit.m === mats.m) return { u: hit.u, temp: false };
  if (!host) {
    const u = ctx.gpu.alloc('float32', [A2, job.Mtot, Cg]);
    await transformWeights(ctx, job.w, u, job.Mtot, Cg, mats);
    return { u, temp: true };
  }
  // Outside the pool: the cache owns it for as long as the weight buffer lives.
  hit?.u.buffer.destroy();
  const bytes = A2 * job.Mtot * Cg * 4;
  const buf = ctx.gpu.device.createBuffer({ size: Math.max(16, bytes), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const u = new GpuTensor(buf, 'float32', [A2, job.Mtot, Cg]);
  await transformWeights(ctx, job.w, u, job.Mtot, Cg, mats);
  cache.set(job.w.buffer, { host, u, m: mats.m });
  return { u, temp: false };
}

/** Records the convolution through Winograd when it applies; false otherwise. */
export async function tryWinograd(ctx: GpuKernelContext, job: ConvJob, force = false): Promise<boolean> {
  if (!(force ? policy !== 'off' && shapeFits(job) : winogradApplies(job))) return false;
  const { g } = job;
  const mats = tile === 4 ? F4 : F2;
  const m = mats.m, a = m + 2, A2 = a * a;
  const C = job.C, Mtot = job.Mtot, Cg = C / job.group, Mg = Mtot / job.group;
  const [IH, IW, OH, OW] = [g.i[1], g.i[2], g.o[1], g.o[2]];
  const TH = Math.ceil(OH / m), TW = Math.ceil(OW / m), T = job.batch * TH * TW;
  // The transformed input and products must fit one binding.
  if (A2 * Math.max(C, Mtot) * T * 4 > ctx.gpu.ctx.caps.maxStorageBufferBindingSize) return false;
  const { u, temp } = await weights(ctx, job, job.wHost, mats);

  // 2. input transform: one thread per (channel, tile)
  const v = ctx.gpu.alloc('float32', [A2, C, T]);
  const pi = new Params().u('total', C * T).u('T', T).u('C', C).u('TT', TH * TW).u('TW', TW).u('IH', IH).u('IW', IW).u('ph', g.p[1]).u('pw', g.p[2]).u('CT', C * T);
  const vin = sandwich(mats.BT, a, (r, c) => `d${r}_${c}`, 's');
  const loads: string[] = [];
  for (let r = 0; r < a; r++) {
    for (let c = 0; c < a; c++) loads.push(`var d${r}_${c} = 0.0; { let y = y0 + ${r}u; let x = x0 + ${c}u; if (y < IH && x < IW) { d${r}_${c} = X[xb + y * IW + x]; } }`);
  }
  const vstores: string[] = [];
  for (let r = 0; r < a; r++) for (let c = 0; c < a; c++) vstores.push(`V[${r * a + c}u * CT + o] = ${vin.out(r, c)};`);
  await ctx.gpu.run({
    name: 'Winograd(input)',
    cacheKey: `wino${m}:in`,
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
  let y0 = ty * ${m}u - ph; let x0 = tx * ${m}u - pw; // may wrap below 0: caught by the unsigned bounds test
  let xb = (b * C + c) * IH * IW;
  ${loads.join('\n  ')}
  ${vin.code}
  let o = c * T + t;
  ${vstores.join('\n  ')}
}`,
    inputs: [job.x], outputs: [v], params: pi.values, workgroups: grid(C * T),
  });

  // 3. a*a x groups GEMMs: P[xi][g] (Mg x T) = U[xi][g] (Mg x Cg) * V[xi][g] (Cg x T)
  const prod = ctx.gpu.alloc('float32', [A2, Mtot, T]);
  const dims = [A2], sa = [Mtot * Cg], sb = [C * T], sy = [Mtot * T], sc = [0];
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
  const yout = sandwich(mats.AT, a, (r, c) => `q${r}_${c}`, 's');
  const qloads: string[] = [];
  for (let r = 0; r < a; r++) for (let c = 0; c < a; c++) qloads.push(`let q${r}_${c} = P[${r * a + c}u * MT + i];`);
  const ystores: string[] = [];
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < m; c++) {
      ystores.push(`if (ty * ${m}u + ${r}u < OH && tx * ${m}u + ${c}u < OW) {
    let yi = ((b * Mtot + mo) * OH + ty * ${m}u + ${r}u) * OW + tx * ${m}u + ${c}u;
    var v = ${yout.out(r, c)};
    ${job.bias ? 'v += BIAS[mo];' : ''}
    ${epilogueApply(job.epi, job.z ? 'Z[yi]' : undefined)}
    Y[yi] = v;
  }`);
    }
  }
  await ctx.gpu.run({
    name: `${job.name}(winograd)`,
    cacheKey: `wino${m}:out:${job.bias ? 'b' : ''}:${epilogueKey(job.epi, !!job.z)}`,
    wgsl: () => `${decls.join('\n')}
${epilogueDecls(job.epi)}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  ${po.wgsl}
  if (i >= total) { return; }
  let mo = i / T; let t = i - mo * T;
  let b = t / TT; let r = t - b * TT; let ty = r / TW; let tx = r - ty * TW;
  ${qloads.join('\n  ')}
  ${yout.code}
  ${ystores.join('\n  ')}
}`,
    inputs: ins, outputs: [job.y], params: po.values, workgroups: grid(Mtot * T),
  });
  ctx.gpu.release(prod);
  return true;
}
