/**
 * Pools on WebGPU. MaxPool (with its optional Indices output, cheap here) and AveragePool are
 * direct kernels, one thread per output, over geometry normalized to three spatial axes; window
 * taps outside the input are skipped through an unsigned bounds test (negative positions wrap to
 * large values). GlobalAveragePool / GlobalMaxPool reduce each (n, c) plane in one workgroup.
 * Semantics follow the CPU kernels (backends/cpu/convgemm-pool.ts): the first tap in range always
 * starts a max (so NaN handling matches), count_include_pad counts pads but not ceil_mode overhang,
 * an empty window gives -inf / NaN, and the global max propagates NaN.
 */
import { attrInt } from '../../../src/ir/graph.js';
import { forwardGeom, readWindowAttrs } from '../../../src/ir/ops/convgemm-geom.js';
import type { GpuKernel, GpuKernelContext } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { FLAT_INDEX, grid, WG } from '../program.js';
import { gpuElemOf, type GpuTensor } from '../tensor.js';
import { Params } from './convgemm-epilogue.js';
import { geom3, type G3 } from './convgemm-conv.js';

function geomParams(p: Params, total: number, g: G3): Params {
  return p.u('total', total)
    .u('IS', g.i[0] * g.i[1] * g.i[2]).u('ID', g.i[0]).u('IH', g.i[1]).u('IW', g.i[2])
    .u('OS', g.o[0] * g.o[1] * g.o[2]).u('OHW', g.o[1] * g.o[2]).u('OW', g.o[2])
    .u('KD', g.k[0]).u('KH', g.k[1]).u('KW', g.k[2])
    .u('sd', g.s[0]).u('sh', g.s[1]).u('sw', g.s[2]).u('dd', g.d[0]).u('dh', g.d[1]).u('dw', g.d[2])
    .u('pd', g.p[0]).u('ph', g.p[1]).u('pw', g.p[2]);
}

/** Decodes output index yi into (plane, oz, oy, ox) and the window origins (wrapping below 0). */
const WINDOW = `let plane = yi / OS; let pix = yi - plane * OS;
  let oz = pix / OHW; let pxy = pix - oz * OHW;
  let oy = pxy / OW; let ox = pxy - oy * OW;
  let xb = plane * IS;
  let z0 = oz * sd - pd; let y0 = oy * sh - ph; let x0 = ox * sw - pw;`;

function poolSetup(ctx: GpuKernelContext): { x: GpuTensor; g: G3; rank: number } {
  const x = gin(ctx, 0);
  const rank = x.dims.length - 2;
  const ceil = attrInt(ctx.node, 'ceil_mode', 0) !== 0;
  return { x, g: geom3(forwardGeom(readWindowAttrs(ctx.node, rank), x.dims.slice(2), ceil)), rank };
}

function spatialCheck(op: string, inputs: readonly ({ shape?: readonly unknown[] } | undefined)[]): string | undefined {
  const r = (inputs[0]?.shape?.length ?? 0) - 2;
  return r < 1 || r > 3 ? `${op} over ${r} spatial axes is not implemented on WebGPU` : undefined;
}

const maxPool: GpuKernel = {
  unsupported(_node, inputs) {
    return spatialCheck('MaxPool', inputs);
  },
  async run(ctx) {
    const { x, g, rank } = poolSetup(ctx);
    const e = x.elem;
    const yDims = outDims(ctx);
    const y = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, yDims);
    const wantIdx = ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== '';
    const idx = wantIdx ? ctx.gpu.alloc(ctx.outputTypes[1]!.dtype, outDims(ctx, 1)) : undefined;
    // storage_order 1 (column-major indices) reverses the spatial axes' strides.
    const cm = [g.i[1] * g.i[2], g.i[2], 1];
    if (attrInt(ctx.node, 'storage_order', 0) === 1) {
      const dims = g.i.slice(3 - rank);
      cm.fill(1);
      for (let i = 0, acc = 1; i < rank; i++) { cm[3 - rank + i] = acc; acc *= dims[i]!; }
    }
    const p = geomParams(new Params(), y.size, g);
    if (idx) p.u('cz', cm[0]!).u('cy', cm[1]!).u('cx', cm[2]!);
    // An empty window stores -inf (floats) or 0 (what -Infinity becomes in the CPU's integer arrays).
    const empty = e === 'f32' ? 'bitcast<f32>(ninf)' : e === 'i32' ? '0' : '0u';
    await ctx.gpu.run({
      name: 'MaxPool',
      cacheKey: `maxpool:${e}:${idx ? 'idx' : ''}`,
      wgsl: () => `@group(0) @binding(0) var<storage, read> X: array<${e}>;
@group(0) @binding(1) var<storage, read_write> Y: array<${e}>;
${idx ? '@group(0) @binding(2) var<storage, read_write> IDX: array<i32>;' : ''}
@group(0) @binding(${idx ? 3 : 2}) var<storage, read> params: array<u32>;
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let yi = flatIndex(gid, nwg);
  ${p.wgsl}
  if (yi >= total) { return; }
  ${WINDOW}
  var ninf = 0xff800000u; // a var: -inf is not a constant expression
  var best = ${empty};
  var found = false;
  var bz = 0u; var by = 0u; var bx = 0u;
  for (var kz = 0u; kz < KD; kz++) {
    let iz = z0 + kz * dd;
    if (iz >= ID) { continue; }
    for (var ky = 0u; ky < KH; ky++) {
      let iy = y0 + ky * dh;
      if (iy >= IH) { continue; }
      let row = xb + (iz * IH + iy) * IW;
      for (var kx = 0u; kx < KW; kx++) {
        let ix = x0 + kx * dw;
        if (ix >= IW) { continue; }
        let v = X[row + ix];
        if (!found || v > best) { best = v; found = true; bz = iz; by = iy; bx = ix; }
      }
    }
  }
  Y[yi] = best;
  ${idx ? 'IDX[yi] = select(-1, i32(xb + bz * cz + by * cy + bx * cx), found);' : ''}
}`,
      inputs: [x], outputs: idx ? [y, idx] : [y], params: p.values, workgroups: grid(y.size),
    });
    return idx ? [y, idx] : [y];
  },
};

const averagePool: GpuKernel = {
  unsupported(_node, inputs) {
    return spatialCheck('AveragePool', inputs);
  },
  async run(ctx) {
    const { x, g } = poolSetup(ctx);
    const y = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, outDims(ctx));
    const includePad = attrInt(ctx.node, 'count_include_pad', 0) !== 0;
    const p = geomParams(new Params(), y.size, g);
    // Positions counted with count_include_pad: [-pad_begin, size + pad_end) on each axis.
    if (includePad) p.i('lz', -g.p[0]).i('ly', -g.p[1]).i('lx', -g.p[2]).i('hz', g.i[0] + g.q[0]).i('hy', g.i[1] + g.q[1]).i('hx', g.i[2] + g.q[2]);
    const inPad = (a: string) => `(p${a} >= l${a} && p${a} < h${a})`;
    await ctx.gpu.run({
      name: 'AveragePool',
      cacheKey: `avgpool:${includePad ? 'incl' : 'excl'}`,
      wgsl: () => `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<u32>;
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let yi = flatIndex(gid, nwg);
  ${p.wgsl}
  if (yi >= total) { return; }
  ${WINDOW}
  var s = 0.0;
  var count = 0u;
  for (var kz = 0u; kz < KD; kz++) {
    let iz = z0 + kz * dd;
    ${includePad ? 'let pz = bitcast<i32>(iz); let okz = ' + inPad('z') + ';' : ''}
    for (var ky = 0u; ky < KH; ky++) {
      let iy = y0 + ky * dh;
      ${includePad ? 'let py = bitcast<i32>(iy); let oky = okz && ' + inPad('y') + ';' : ''}
      for (var kx = 0u; kx < KW; kx++) {
        let ix = x0 + kx * dw;
        let inside = iz < ID && iy < IH && ix < IW;
        if (inside) { s += X[xb + (iz * IH + iy) * IW + ix]; }
        ${includePad ? 'let px = bitcast<i32>(ix); if (oky && ' + inPad('x') + ') { count++; }' : 'if (inside) { count++; }'}
      }
    }
  }
  var nan = 0x7fc00000u; // a var: NaN is not a constant expression
  Y[yi] = select(bitcast<f32>(nan), s / f32(count), count > 0u);
}`,
      inputs: [x], outputs: [y], params: p.values, workgroups: grid(y.size),
    });
    return [y];
  },
};

const GWG = 64;

function globalPool(isMax: boolean): GpuKernel {
  const op = isMax ? 'GlobalMaxPool' : 'GlobalAveragePool';
  return {
    unsupported(_node, inputs) {
      return inputs[0] && gpuElemOf(inputs[0].dtype) === 'f32' ? undefined : `${op} on ${inputs[0]?.dtype} is not implemented on WebGPU`;
    },
    async run(ctx) {
      const x = gin(ctx, 0);
      const y = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, outDims(ctx));
      const planes = x.dims[0]! * x.dims[1]!;
      if (planes === 0) return [y];
      const S = x.size / planes;
      const max = ctx.gpu.ctx.caps.maxComputeWorkgroupsPerDimension;
      const wy = Math.ceil(planes / max);
      const p = new Params().u('planes', planes).u('S', S);
      const init = isMax ? 'bitcast<f32>(ninf)' : '0.0';
      const combine = isMax ? 'max(a, b)' : 'a + b';
      await ctx.gpu.run({
        name: op,
        cacheKey: `gpool:${isMax ? 'max' : 'avg'}`,
        wgsl: () => `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<u32>;
var<workgroup> part: array<f32, ${GWG}>;
var<workgroup> nans: array<u32, ${GWG}>;
fn combine(a: f32, b: f32) -> f32 { return ${combine}; }
@compute @workgroup_size(${GWG}) fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  ${p.wgsl}
  let plane = wid.x + wid.y * nwg.x;
  let t = lid.x;
  let ok = plane < planes; // uniform per workgroup
  var ninf = 0xff800000u; // a var: -inf is not a constant expression
  var acc = ${init};
  var nan = 0u;
  if (ok) {
    let base = plane * S;
    for (var i = t; i < S; i += ${GWG}u) {
      let v = X[base + i];
      acc = combine(acc, v);
      nan |= u32((bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u);
    }
  }
  part[t] = acc; nans[t] = nan;
  workgroupBarrier();
  for (var s = ${GWG / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { part[t] = combine(part[t], part[t + s]); nans[t] |= nans[t + s]; }
    workgroupBarrier();
  }
  if (t == 0u && ok) {
    var qnan = 0x7fc00000u;
    ${isMax ? 'Y[plane] = select(part[0], bitcast<f32>(qnan), nans[0] != 0u);' : 'Y[plane] = part[0] / f32(S);'}
  }
}`,
        inputs: [x], outputs: [y], params: p.values, workgroups: [Math.ceil(planes / wy), wy, 1],
      });
      return [y];
    },
  };
}

export const poolKernels = {
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalPool(false),
  GlobalMaxPool: globalPool(true),
};
