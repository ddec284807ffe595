/**
 * ConvTranspose (1-D / 2-D) as implicit GEMMs, one per output phase. Output row oy receives input
 * row iy through tap ky when oy + pad - ky*dilation = iy*stride; for the rows of one phase
 * py = oy mod stride the valid taps are always the same, and iy = oy div stride + dy(ky) with a
 * fixed offset dy. So each phase (py, px) is a plain stride-1 correlation over a sub-kernel:
 *   M = output channels of the group, N = batch * phase pixels, K = in channels/group * phase taps,
 * run on the tiled GEMM (convgemm-tile.ts) with the phase's taps in the params, decoded per K block
 * into workgroup memory like the forward conv. No multiply is spent on taps that do not land.
 */
import type { GpuKernelContext } from '../kernel.js';
import type { GpuTensor } from '../tensor.js';
import { Params, epilogueApply, epilogueDecls, epilogueKey, epilogueParams, type Epilogue } from './convgemm-epilogue.js';
import type { G3 } from './convgemm-conv.js';
import { cfgKey, gemmShader, tileChunks, tileM, tileN, type TileCfg } from './convgemm-tile.js';

export interface ConvTJob {
  name: string;
  x: GpuTensor; w: GpuTensor; bias: GpuTensor | undefined; z: GpuTensor | undefined;
  y: GpuTensor; epi: Epilogue;
  batch: number; C: number; Mtot: number; group: number;
  g: G3;
}

/** Taps of one axis for output phase p: kernel index k and input offset d (iy = j + d). */
function phaseTaps(p: number, k: number, s: number, dil: number, pad: number): { k: number[]; d: number[] } {
  const ks: number[] = [], ds: number[] = [];
  for (let t = 0; t < k; t++) {
    const off = p + pad - t * dil;
    if (((off % s) + s) % s === 0) { ks.push(t); ds.push(off / s); }
  }
  return { k: ks, d: ds };
}

/** Whether the phase GEMMs apply (1-D / 2-D; 3-D stays on the direct kernel). */
export function convTGemmApplies(g: G3): boolean {
  return g.i[0] === 1 && g.o[0] === 1 && g.k[0] === 1 && g.p[0] === 0;
}

export async function recordConvTGemm(ctx: GpuKernelContext, job: ConvTJob): Promise<void> {
  const { g } = job;
  const Cg = job.C / job.group, Mg = job.Mtot / job.group;
  const [IH, IW, OH, OW, KH, KW, sh, sw] = [g.i[1], g.i[2], g.o[1], g.o[2], g.k[1], g.k[2], g.s[1], g.s[2]];
  const M = Mg;
  const cfg: TileCfg = { wx: 16, wy: M <= 16 ? 4 : M <= 32 ? 8 : 16, tk: 16 };
  const threads = cfg.wx * cfg.wy, TN = tileN(cfg), TM = tileM(cfg), TK = cfg.tk;
  const key = `convTgemm:${cfgKey(cfg)}:${job.bias ? 'b' : ''}:${epilogueKey(job.epi, !!job.z)}`;
  const ins = [job.x, job.w, ...(job.bias ? [job.bias] : []), ...(job.z ? [job.z] : [])];
  const max = ctx.gpu.ctx.caps.maxComputeWorkgroupsPerDimension;
  for (let py = 0; py < Math.min(sh, OH); py++) {
    for (let px = 0; px < Math.min(sw, OW); px++) {
      const ty = phaseTaps(py, KH, sh, g.d[1], g.p[1]), tx = phaseTaps(px, KW, sw, g.d[2], g.p[2]);
      const OHp = Math.ceil((OH - py) / sh), OWp = Math.ceil((OW - px) / sw);
      const N = job.batch * OHp * OWp, K = Cg * ty.k.length * tx.k.length;
      for (const ch of tileChunks(Math.ceil(N / TN), Math.ceil(M / TM), job.group, max)) {
        const p = new Params().u('M', M).u('N', N).u('K', K).u('zOff', ch.zOff).u('xOff', ch.xOff)
          .u('C', job.C).u('Cg', Cg).u('Mtot', job.Mtot).u('IS', IH * IW).u('IH', IH).u('IW', IW)
          .u('OH', OH).u('OW', OW).u('OSp', OHp * OWp).u('OWp', OWp).u('sh', sh).u('sw', sw).u('py', py).u('px', px)
          .u('KS', KH * KW).u('KW', KW).u('WC', Mg * KH * KW).u('nty', ty.k.length).u('ntx', tx.k.length);
        epilogueParams(p, job.epi);
        // taps: ky[nty], dy[nty], kx[ntx], dx[ntx] (offsets as wrapping u32)
        p.tail('TAPS', [...ty.k, ...ty.d, ...tx.k, ...tx.d]);
        let bi = 2;
        const decls = [
          '@group(0) @binding(0) var<storage, read> X: array<f32>;',
          '@group(0) @binding(1) var<storage, read> W: array<f32>;',
          ...(job.bias ? [`@group(0) @binding(${bi++}) var<storage, read> BIAS: array<f32>;`] : []),
          ...(job.z ? [`@group(0) @binding(${bi++}) var<storage, read> Z: array<f32>;`] : []),
          `@group(0) @binding(${bi++}) var<storage, read_write> Y: array<f32>;`,
          `@group(0) @binding(${bi}) var<storage, read> params: array<u32>;`,
          epilogueDecls(job.epi),
          `var<workgroup> kX0: array<u32, ${TK}>;`, // input offset of channel c at tap (dy, dx)
          `var<workgroup> kW0: array<u32, ${TK}>;`, // weight offset of channel c at tap (ky, kx)
          `var<workgroup> kDY: array<u32, ${TK}>;`,
          `var<workgroup> kDX: array<u32, ${TK}>;`,
        ];
        const wgsl = () => gemmShader(cfg, {
          decls: decls.join('\n'),
          lets: p.wgsl,
          setup: `let nt = nty * ntx;
  let wBase = z * Cg * WC;
  let nl = t % ${TN}u;
  let gn = n0 + nl;
  let nOk = gn < N;
  let bq = gn / OSp; let rq = gn - bq * OSp; let jy = rq / OWp; let jx = rq - jy * OWp;
  let xb = (bq * C + z * Cg) * IS + jy * IW + jx;`,
          pre: `if (t < ${TK}u) {
      let gk = k0 + t;
      let c = gk / max(nt, 1u); let r = gk - c * nt; let a = r / max(ntx, 1u); let e = r - a * ntx;
      let ky = params[TAPS + a]; let dy = params[TAPS + nty + a];
      let kx = params[TAPS + 2u * nty + e]; let dx = params[TAPS + 2u * nty + ntx + e];
      kDY[t] = dy; kDX[t] = dx;
      kX0[t] = c * IS + dy * IW + dx;
      kW0[t] = c * WC + ky * KW + kx;
    }`,
          loadA: `for (var ps = 0u; ps < ${(TM * TK) / threads}u; ps++) {
      let e = t + ps * ${threads}u;
      let m = e % ${TM}u; let kl = e / ${TM}u;
      let gm = m0 + m;
      var v = 0.0;
      if (gm < M && k0 + kl < kEnd) { v = W[wBase + gm * KS + kW0[kl]]; }
      As[kl * ${TM / 4}u + m / 4u][m % 4u] = v;
    }`,
          loadB: `for (var ps = 0u; ps < ${(TK * TN) / threads}u; ps++) {
      let kl = t / ${TN}u + ps * ${threads / TN}u;
      var v = 0.0;
      if (nOk && k0 + kl < kEnd) {
        let iy = jy + kDY[kl]; let ix = jx + kDX[kl]; // wrap below 0: caught by the unsigned test
        if (iy < IH && ix < IW) { v = X[xb + kX0[kl]]; }
      }
      Bs[kl * ${TN / 4}u + nl / 4u][nl % 4u] = v;
    }`,
          store: `let sb = n / OSp; let sr = n - sb * OSp; let sy = sr / OWp; let sx = sr - sy * OWp;
      let yi = ((sb * Mtot + z * M + m) * OH + py + sh * sy) * OW + px + sw * sx;
      var v = acc;
      ${job.bias ? 'v += BIAS[z * M + m];' : ''}
      ${epilogueApply(job.epi, job.z ? 'Z[yi]' : undefined)}
      Y[yi] = v;`,
        });
        await ctx.gpu.run({ name: `${job.name}(phase ${py},${px})`, cacheKey: key, wgsl, inputs: ins, outputs: [job.y], params: p.values, workgroups: ch.wg });
      }
    }
  }
}
