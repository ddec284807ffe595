/**
 * MatMul, Gemm and their fused forms on WebGPU, all through one batched tiled GEMM program
 * (convgemm-tile.ts): per-batch offsets of A, B, Y and the bias come from batch dims and strides
 * (0 on broadcast axes), transA / transB pick the tile loaders, vec4 loads where the contiguous
 * axis is a multiple of 4, and the bias / alpha / beta / fused epilogue are applied in the store.
 * Pointwise (1x1) convolutions use the same program (see convgemm-conv.ts).
 */
import type { GpuKernel, GpuKernelContext } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import type { GpuTensor } from '../tensor.js';
import { gpuElemOf } from '../tensor.js';
import { attrInt } from '../../../src/ir/graph.js';
import { gemmAttrs } from '../../../src/ir/ops/convgemm.js';
import { Params, actSupported, epilogueApply, epilogueDecls, epilogueKey, epilogueParams, readEpilogue, type Epilogue } from './convgemm-epilogue.js';
import { cfgKey, gemmShader, matrixLoad, pickTile, splitK, tileChunks, tileM, tileN, type TileCfg } from './convgemm-tile.js';
import { recordSplitReduce } from './convgemm-splitk.js';

export interface MatmulDesc {
  name: string;
  M: number; N: number; K: number;
  /** A is [M x K] row-major, or [K x M] when transA; B is [K x N], or [N x K] when transB. */
  a: GpuTensor; transA: boolean;
  b: GpuTensor; transB: boolean;
  /** Batch dims (outer first) and per-dim element strides of A, B, Y (row-major [M x N]) and the bias. */
  batch: number[]; sa: number[]; sb: number[]; sy: number[]; sc: number[];
  alpha: number;
  /** Added as beta * bias[cOff + m*rs + n*cs] before the activation. */
  bias?: { t: GpuTensor; rs: number; cs: number; beta: number };
  /** Residual, laid out like Y. */
  z?: GpuTensor;
  epi: Epilogue;
  y: GpuTensor;
  cfg?: TileCfg;
}

export const MAX_BATCH_RANK = 6;

/** Records Y = epilogue(alpha * A*B + beta * bias) for every batch item. */
export async function recordMatmul(ctx: GpuKernelContext, d: MatmulDesc): Promise<void> {
  const { M, N, K, transA, transB } = d;
  const R = d.batch.length;
  if (R > MAX_BATCH_RANK) throw new Error(`${d.name}: ${R} batch axes (at most ${MAX_BATCH_RANK})`);
  const cfg = d.cfg ?? pickTile(M, N);
  const m4 = (x: number) => x % 4 === 0;
  const vecA = (transA ? m4(M) : m4(K)) && d.sa.every(m4);
  const vecB = (transB ? m4(K) : m4(N)) && d.sb.every(m4);
  const batches = d.batch.reduce((p, x) => p * x, 1);
  const xT = Math.ceil(N / tileN(cfg)), yT = Math.ceil(M / tileM(cfg));
  // Split-K for grids too small to fill the GPU (single matrices only: the sum kernel indexes m, n).
  const { S, KC } = R === 0 ? splitK(xT * yT, cfg.wx * cfg.wy, K, cfg.tk) : { S: 1, KC: K };
  const split = S > 1;
  const partial = split ? ctx.gpu.alloc('float32', [S * M * N]) : undefined;
  const hasC = !!d.bias && !split, hasZ = !!d.z && !split;
  const epi: Epilogue = split ? {} : d.epi;
  const ins = [d.a, d.b, ...(hasC ? [d.bias!.t] : []), ...(hasZ ? [d.z!] : [])];
  const key = `mm:${cfgKey(cfg)}:${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}:${vecA ? 4 : 1}${vecB ? 4 : 1}:R${R}:${split ? 'split' : `${hasC ? 'C' : ''}:${epilogueKey(epi, hasZ)}`}`;
  const max = ctx.gpu.ctx.caps.maxComputeWorkgroupsPerDimension;
  for (const ch of tileChunks(xT, yT, batches * S, max)) {
    const p = new Params().u('M', M).u('N', N).u('K', K).u('zOff', ch.zOff).u('xOff', ch.xOff);
    if (split) p.u('SK', S).u('KC', KC).u('PT', M * N);
    for (let i = 0; i < R; i++) p.u(`bd${i}`, d.batch[i]!).u(`sa${i}`, d.sa[i]!).u(`sb${i}`, d.sb[i]!).u(`sy${i}`, d.sy[i]!).u(`sc${i}`, d.sc[i] ?? 0);
    if (!split) p.f('alpha', d.alpha);
    if (hasC) p.f('beta', d.bias!.beta).u('crs', d.bias!.rs).u('ccs', d.bias!.cs);
    epilogueParams(p, epi);
    const wgsl = (): string => {
      const decl = (i: number, name: string, vec: boolean) => `@group(0) @binding(${i}) var<storage, read> ${name}: array<${vec ? 'vec4<f32>' : 'f32'}>;`;
      const decls = [decl(0, 'A', vecA), decl(1, 'B', vecB)];
      let bi = 2;
      if (hasC) decls.push(decl(bi++, 'C', false));
      if (hasZ) decls.push(decl(bi++, 'Z', false));
      decls.push(`@group(0) @binding(${bi++}) var<storage, read_write> Y: array<f32>;`);
      decls.push(`@group(0) @binding(${bi}) var<storage, read> params: array<u32>;`);
      decls.push(epilogueDecls(epi));
      let setup = 'var rem = z; var aOff = 0u; var bOff = 0u; var yOff = 0u; var cOff = 0u;';
      for (let i = R - 1; i >= 0; i--) setup += `\n  { let q = rem % bd${i}; rem = rem / bd${i}; aOff += q * sa${i}; bOff += q * sb${i}; yOff += q * sy${i}; cOff += q * sc${i}; }`;
      return gemmShader(cfg, {
        decls: decls.join('\n'),
        lets: p.wgsl,
        split,
        setup,
        loadA: matrixLoad(cfg, { shared: 'As', buf: 'A', kContig: !transA, vec4: vecA, base: 'aOff', ld: transA ? 'M' : 'K', r0: 'm0', R: 'M' }),
        loadB: matrixLoad(cfg, { shared: 'Bs', buf: 'B', kContig: transB, vec4: vecB, base: 'bOff', ld: transB ? 'K' : 'N', r0: 'n0', R: 'N' }),
        store: split ? 'Y[ks * PT + m * N + n] = acc;' : `let yi = yOff + m * N + n;
      var v = acc * alpha;
      ${hasC ? 'v += beta * C[cOff + m * crs + n * ccs];' : ''}
      ${epilogueApply(epi, hasZ ? 'Z[yi]' : undefined)}
      Y[yi] = v;`,
      });
    };
    await ctx.gpu.run({ name: d.name, cacheKey: key, wgsl, inputs: ins, outputs: [partial ?? d.y], params: p.values, workgroups: ch.wg });
  }
  if (partial) {
    await recordSplitReduce(ctx, {
      name: d.name, partial, S, alpha: d.alpha, epi: d.epi, y: d.y,
      ...(d.bias ? { bias: { kind: 'rc' as const, t: d.bias.t, N, rs: d.bias.rs, cs: d.bias.cs, beta: d.bias.beta } } : {}),
      ...(d.z ? { z: d.z } : {}),
    });
    ctx.gpu.release(partial);
  }
}

/** Row-major strides of the batch dims `dims` of an operand with matrices of `mat` elements (0 where broadcast). */
function batchStrides(dims: readonly number[], mat: number): number[] {
  const s = new Array<number>(dims.length);
  for (let i = dims.length - 1, acc = mat; i >= 0; i--) { s[i] = dims[i] === 1 ? 0 : acc; acc *= dims[i]!; }
  return s;
}

/** The batch structure of numpy matmul, with size-1 axes dropped. */
function matmulBatch(aDims: readonly number[], bDims: readonly number[], M: number, N: number, K: number) {
  const aB = aDims.slice(0, -2), bB = bDims.slice(0, -2);
  const R = Math.max(aB.length, bB.length);
  const aBp = [...new Array<number>(R - aB.length).fill(1), ...aB];
  const bBp = [...new Array<number>(R - bB.length).fill(1), ...bB];
  const outB = aBp.map((x, i) => Math.max(x, bBp[i]!));
  const sa = batchStrides(aBp, M * K), sb = batchStrides(bBp, K * N), sy = batchStrides(outB, M * N);
  const keep = outB.map((x, i) => (x !== 1 ? i : -1)).filter((i) => i >= 0);
  return { batch: keep.map((i) => outB[i]!), sa: keep.map((i) => sa[i]!), sb: keep.map((i) => sb[i]!), sy: keep.map((i) => sy[i]!), bBroadcast: bBp.every((x) => x === 1), count: outB.reduce((p, x) => p * x, 1) };
}

function batchRank(a: readonly number[] | undefined, b: readonly number[] | undefined): number {
  if (!a || !b) return 0;
  const aB = a.slice(0, -2), bB = b.slice(0, -2);
  const R = Math.max(aB.length, bB.length);
  let n = 0;
  for (let i = 0; i < R; i++) {
    const x = aB[aB.length - R + i] ?? 1, y = bB[bB.length - R + i] ?? 1;
    if (Math.max(typeof x === 'number' ? x : 2, typeof y === 'number' ? y : 2) !== 1) n++;
  }
  return n;
}

function f32Only(op: string, dtype: string | undefined): string | undefined {
  return dtype && gpuElemOf(dtype as never) === 'f32' ? undefined : `${op} on ${dtype} is not implemented on WebGPU (float types only)`;
}

function matmulKernel(fused: boolean): GpuKernel {
  const op = fused ? 'FusedMatMul' : 'MatMul';
  return {
    unsupported(node, inputs) {
      const why = f32Only(op, inputs[0]?.dtype);
      if (why) return why;
      const e = readEpilogue(node);
      if (!actSupported(e.act) || !actSupported(e.post)) return `${op}: activation not implemented on WebGPU`;
      const r = batchRank(inputs[0]?.shape as number[] | undefined, inputs[1]?.shape as number[] | undefined);
      return r > MAX_BATCH_RANK ? `${op} with ${r} batch axes (at most ${MAX_BATCH_RANK} on WebGPU)` : undefined;
    },
    async run(ctx) {
      const a = gin(ctx, 0), b = gin(ctx, 1);
      const transA = fused && attrInt(ctx.node, 'transA', 0) === 1 && a.dims.length >= 2;
      const transB = fused && attrInt(ctx.node, 'transB', 0) === 1 && b.dims.length >= 2;
      const y = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, outDims(ctx));
      if (y.size === 0) return [y];
      // Stored dims ([.., M, K] or [.., K, M] when transposed); 1-D operands as a row / a column.
      const ad = a.dims.length === 1 ? [1, a.dims[0]!] : a.dims.slice();
      const bd = b.dims.length === 1 ? [b.dims[0]!, 1] : b.dims.slice();
      const r = ad.length, s = bd.length;
      const M = transA ? ad[r - 1]! : ad[r - 2]!, K = transA ? ad[r - 2]! : ad[r - 1]!;
      const N = transB ? bd[s - 2]! : bd[s - 1]!;
      const bt = matmulBatch(ad, bd, M, N, K);
      const bias = fused ? ctx.inputs[2] : undefined;
      const d: MatmulDesc = {
        name: op, M, N, K, a, transA, b, transB,
        batch: bt.batch, sa: bt.sa, sb: bt.sb, sy: bt.sy, sc: bt.batch.map(() => 0),
        alpha: 1, epi: fused ? readEpilogue(ctx.node) : {}, y,
      };
      if (bias && bias.size > 0) d.bias = { t: bias, rs: 0, cs: bias.size === 1 ? 0 : 1, beta: 1 };
      const z = fused ? ctx.inputs[3] : undefined;
      if (z) d.z = z;
      if (bt.bBroadcast && !transA && bt.count > 1) {
        // B shared by every batch item and A contiguous: one GEMM with the batch folded into M.
        Object.assign(d, { M: M * bt.count, batch: [], sa: [], sb: [], sy: [], sc: [] });
      }
      await recordMatmul(ctx, d);
      return [y];
    },
  };
}

function gemmKernel(fused: boolean): GpuKernel {
  const op = fused ? 'FusedGemm' : 'Gemm';
  return {
    unsupported(node, inputs) {
      const why = f32Only(op, inputs[0]?.dtype);
      if (why) return why;
      const e = readEpilogue(node);
      return actSupported(e.act) && actSupported(e.post) ? undefined : `${op}: activation not implemented on WebGPU`;
    },
    async run(ctx) {
      const a = gin(ctx, 0), b = gin(ctx, 1), c = ctx.inputs[2];
      const { alpha, beta, transA, transB } = gemmAttrs(ctx.node);
      const [M, N] = outDims(ctx) as [number, number];
      const K = transA ? a.dims[0]! : a.dims[1]!;
      const y = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, [M, N]);
      if (y.size === 0) return [y];
      const d: MatmulDesc = {
        name: op, M, N, K, a, transA, b, transB, batch: [], sa: [], sb: [], sy: [], sc: [],
        alpha, epi: fused ? readEpilogue(ctx.node) : {}, y,
      };
      if (c && beta !== 0 && c.size > 0) {
        // Unidirectional broadcast of C to [M, N] through zero strides.
        const cd = [1, 1, ...c.dims].slice(-2) as [number, number];
        d.bias = { t: c, rs: cd[0] === 1 ? 0 : cd[1], cs: cd[1] === 1 ? 0 : 1, beta };
      }
      const z = fused ? ctx.inputs[3] : undefined;
      if (z) d.z = z;
      await recordMatmul(ctx, d);
      return [y];
    },
  };
}

export const matmulKernels = {
  MatMul: matmulKernel(false),
  'twinfer.FusedMatMul': matmulKernel(true),
  Gemm: gemmKernel(false),
  'twinfer.FusedGemm': gemmKernel(true),
};
