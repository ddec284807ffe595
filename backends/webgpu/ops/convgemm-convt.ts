/**
 * ConvTranspose and twinfer.FusedConvTranspose on WebGPU. 1-D and 2-D run as per-phase implicit
 * GEMMs (convgemm-convt-gemm.ts); 3-D on a direct gather kernel, one thread per output element. Output position o receives input position i through tap k when
 * o + pad - k*dilation = i*stride, so per axis the thread keeps the taps whose offset is a
 * non-negative multiple of the stride with i in range, then sums over the group's input channels.
 * Pads may be negative (output_shape larger than the natural size), hence the signed arithmetic.
 */
import type { GpuKernel } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { FLAT_INDEX, grid, WG } from '../program.js';
import { groupAttr, readTransposeAttrs, transposeGeom } from '../../../src/ir/ops/convgemm-geom.js';
import { Params, epilogueApply, epilogueDecls, epilogueKey, epilogueParams, readEpilogue } from './convgemm-epilogue.js';
import { convUnsupported, geom3 } from './convgemm-conv.js';
import { convTGemmApplies, recordConvTGemm } from './convgemm-convt-gemm.js';

function convTransposeKernel(fused: boolean): GpuKernel {
  const op = fused ? 'FusedConvTranspose' : 'ConvTranspose';
  return {
    unsupported: convUnsupported(op),
    async run(ctx) {
      const x = gin(ctx, 0), w = gin(ctx, 1), bias = ctx.inputs[2], z = fused ? ctx.inputs[3] : undefined;
      const yDims = outDims(ctx);
      const y = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, yDims);
      if (y.size === 0) return [y];
      const rank = x.dims.length - 2;
      const g = geom3(transposeGeom(readTransposeAttrs(ctx.node, rank, w.dims.slice(2)), x.dims.slice(2)));
      const epi = fused ? readEpilogue(ctx.node) : {};
      const group = groupAttr(ctx.node);
      const C = x.dims[1]!, Mtot = yDims[1]!, Cg = C / group, Mg = Mtot / group;
      if (convTGemmApplies(g)) {
        await recordConvTGemm(ctx, { name: op, x, w, bias, z, y, epi, batch: x.dims[0]!, C, Mtot, group, g });
        return [y];
      }
      const KS = g.k[0] * g.k[1] * g.k[2];
      const p = new Params().u('total', y.size).u('Mtot', Mtot).u('Mg', Mg).u('C', C).u('Cg', Cg)
        .u('IS', g.i[0] * g.i[1] * g.i[2]).u('ID', g.i[0]).u('IH', g.i[1]).u('IW', g.i[2])
        .u('OS', g.o[0] * g.o[1] * g.o[2]).u('OHW', g.o[1] * g.o[2]).u('OW', g.o[2])
        .u('KS', KS).u('KD', g.k[0]).u('KH', g.k[1]).u('KW', g.k[2])
        .i('sd', g.s[0]).i('sh', g.s[1]).i('sw', g.s[2]).i('dd', g.d[0]).i('dh', g.d[1]).i('dw', g.d[2])
        .i('pd', g.p[0]).i('ph', g.p[1]).i('pw', g.p[2]);
      epilogueParams(p, epi);
      const ins = [x, w, ...(bias ? [bias] : []), ...(z ? [z] : [])];
      let bi = 2;
      const decls = [
        '@group(0) @binding(0) var<storage, read> X: array<f32>;',
        '@group(0) @binding(1) var<storage, read> W: array<f32>;',
        ...(bias ? [`@group(0) @binding(${bi++}) var<storage, read> BIAS: array<f32>;`] : []),
        ...(z ? [`@group(0) @binding(${bi++}) var<storage, read> Z: array<f32>;`] : []),
        `@group(0) @binding(${bi++}) var<storage, read_write> Y: array<f32>;`,
        `@group(0) @binding(${bi}) var<storage, read> params: array<u32>;`,
      ];
      // One axis: for tap k of output position o, input position i (or skip).
      const axis = (o: string, k: string, s: string, d: string, pad: string, n: string, i: string) =>
        `let t${i} = i32(${o}) + ${pad} - i32(${k}) * ${d};
        if (t${i} < 0 || t${i} % ${s} != 0) { continue; }
        let ${i} = u32(t${i} / ${s});
        if (${i} >= ${n}) { continue; }`;
      await ctx.gpu.run({
        name: op,
        cacheKey: `convT:${bias ? 'b' : ''}:${epilogueKey(epi, !!z)}`,
        wgsl: () => `${decls.join('\n')}
${epilogueDecls(epi)}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let yi = flatIndex(gid, nwg);
  ${p.wgsl}
  if (yi >= total) { return; }
  let plane = yi / OS; let pix = yi - plane * OS;
  let m = plane % Mtot; let b = plane / Mtot;
  let grp = m / Mg; let mm = m - grp * Mg;
  let oz = pix / OHW; let pxy = pix - oz * OHW;
  let oy = pxy / OW; let ox = pxy - oy * OW;
  let xb = (b * C + grp * Cg) * IS;
  let wb = (grp * Cg * Mg + mm) * KS;
  let wStep = Mg * KS;
  var v = 0.0;
  for (var kz = 0u; kz < KD; kz++) {
    ${axis('oz', 'kz', 'sd', 'dd', 'pd', 'ID', 'iz')}
    for (var ky = 0u; ky < KH; ky++) {
      ${axis('oy', 'ky', 'sh', 'dh', 'ph', 'IH', 'iy')}
      for (var kx = 0u; kx < KW; kx++) {
        ${axis('ox', 'kx', 'sw', 'dw', 'pw', 'IW', 'ix')}
        var xi = xb + (iz * IH + iy) * IW + ix;
        var wi = wb + (kz * KH + ky) * KW + kx;
        for (var c = 0u; c < Cg; c++) {
          v = fma(X[xi], W[wi], v);
          xi += IS; wi += wStep;
        }
      }
    }
  }
  ${bias ? 'v += BIAS[m];' : ''}
  ${epilogueApply(epi, z ? 'Z[yi]' : undefined)}
  Y[yi] = v;
}`,
        inputs: ins, outputs: [y], params: p.values, workgroups: grid(y.size),
      });
      return [y];
    },
  };
}

export const convTransposeKernels = {
  ConvTranspose: convTransposeKernel(false),
  'twinfer.FusedConvTranspose': convTransposeKernel(true),
};
