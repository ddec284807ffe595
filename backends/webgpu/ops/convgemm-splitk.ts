/**
 * The second half of split-K GEMMs (convgemm-tile.ts splitK): when the output grid is too small to
 * fill the GPU (few output channels, a 7x7 feature map, a GEMV), K is cut into S slices computed by
 * separate workgroups into S partial slabs laid out like Y. This kernel sums the slabs and applies
 * what the GEMM store would have: alpha, the bias (Gemm's C / MatMul's bias by row and column
 * strides, or a conv's per-channel bias) and the fused epilogue.
 */
import type { GpuKernelContext } from '../kernel.js';
import { FLAT_INDEX, grid, WG } from '../program.js';
import type { GpuTensor } from '../tensor.js';
import { Params, epilogueApply, epilogueDecls, epilogueKey, epilogueParams, type Epilogue } from './convgemm-epilogue.js';

export type SplitBias =
  | { kind: 'rc'; t: GpuTensor; N: number; rs: number; cs: number; beta: number }
  | { kind: 'channel'; t: GpuTensor; OS: number; Mtot: number };

export interface SplitReduce {
  name: string;
  partial: GpuTensor;
  S: number;
  alpha: number;
  bias?: SplitBias;
  z?: GpuTensor;
  epi: Epilogue;
  y: GpuTensor;
}

export async function recordSplitReduce(ctx: GpuKernelContext, r: SplitReduce): Promise<void> {
  const total = r.y.size;
  const p = new Params().u('total', total).u('S', r.S).f('alpha', r.alpha);
  const b = r.bias;
  if (b?.kind === 'rc') p.u('N', b.N).u('crs', b.rs).u('ccs', b.cs).f('beta', b.beta);
  if (b?.kind === 'channel') p.u('OS', b.OS).u('Mtot', b.Mtot);
  epilogueParams(p, r.epi);
  const ins = [r.partial, ...(b ? [b.t] : []), ...(r.z ? [r.z] : [])];
  let i = 1;
  const decls = [
    '@group(0) @binding(0) var<storage, read> P: array<f32>;',
    ...(b ? [`@group(0) @binding(${i++}) var<storage, read> BIAS: array<f32>;`] : []),
    ...(r.z ? [`@group(0) @binding(${i++}) var<storage, read> Z: array<f32>;`] : []),
    `@group(0) @binding(${i++}) var<storage, read_write> Y: array<f32>;`,
    `@group(0) @binding(${i}) var<storage, read> params: array<u32>;`,
  ];
  const biasAdd = !b ? '' : b.kind === 'rc'
    ? 'let m = yi / N; let n = yi - m * N; v += beta * BIAS[m * crs + n * ccs];'
    : 'v += BIAS[(yi / OS) % Mtot];';
  await ctx.gpu.run({
    name: `${r.name}(split-K sum)`,
    cacheKey: `splitk:${b?.kind ?? '-'}:${epilogueKey(r.epi, !!r.z)}`,
    wgsl: () => `${decls.join('\n')}
${epilogueDecls(r.epi)}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let yi = flatIndex(gid, nwg);
  ${p.wgsl}
  if (yi >= total) { return; }
  var v = 0.0;
  for (var s = 0u; s < S; s++) { v += P[s * total + yi]; }
  v *= alpha;
  ${biasAdd}
  ${epilogueApply(r.epi, r.z ? 'Z[yi]' : undefined)}
  Y[yi] = v;
}`,
    inputs: ins, outputs: [r.y], params: p.values, workgroups: grid(total),
  });
}
