/**
 * Resize on WebGPU (semantics: backends/cpu/normalization-resize.ts). Output size and per-axis scales
 * come from the IR's `resizeGeometry`; each axis gets a host-built table of taps (source index,
 * weight) per output index (normalization-resize-taps.ts), appended to the parameters. One thread per
 * output element: nearest gathers one element; linear/cubic sum the product of the axes' taps
 * (identity axes have one tap, so bilinear over H, W reads 4 elements and bicubic 16). Any axis whose
 * coordinate falls outside tf_crop_and_resize's box gives extrapolation_value.
 *
 * Parameters: [size, rank, ev, lo, hi, 0, 0, 0], then per axis [out stride, in stride, taps, table
 * offset], then the tables ([index (i32, -1 = extrapolate), weight (f32)] pairs).
 */
import { intRange } from '../../../src/ir/dtype.js';
import { stridesOf } from '../../../src/ir/tensor.js';
import { resizeAttrs, resizeGeometry } from '../../../src/ir/ops/normalization-resize.js';
import type { GpuKernel, GpuKernelRegistry } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { FLAT_INDEX, bindings, f32Bits, grid, WG } from '../program.js';
import { axisTaps } from './normalization-resize-taps.js';

const H = 8;
const MAX_RANK = 8;

const resize: GpuKernel = {
  hostInputs: [1, 2, 3],
  unsupported(_node, inputs) {
    const r = inputs[0]?.shape?.length;
    return r !== undefined && r > MAX_RANK ? `Resize of rank ${r} (more than ${MAX_RANK}) runs on the CPU` : undefined;
  },
  async run(ctx) {
    const x = gin(ctx, 0);
    const r = x.dims.length;
    const a = resizeAttrs(ctx.node, r);
    const g = resizeGeometry(a, x.dims, ctx.host(1), ctx.host(2), ctx.host(3));
    const od = outDims(ctx);
    const y = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, od);
    if (y.size === 0) return [y];
    const e = x.elem;
    const os = stridesOf(od), is = stridesOf(x.dims);
    const head: number[] = [];
    const tables: number[] = [];
    let nearestOnly = true;
    for (let ax = 0; ax < r; ax++) {
      const t = axisTaps(a, x.dims[ax]!, od[ax]!, g.scales[ax]!, g.roi[ax]!, g.roi[r + ax]!);
      if (t.n > 1) nearestOnly = false;
      head.push(os[ax]!, is[ax]!, t.n, H + 4 * r + tables.length);
      for (let k = 0; k < t.idx.length; k++) tables.push(t.idx[k]! >>> 0, f32Bits(t.w[k]!));
    }
    // integer outputs of linear/cubic: truncate and saturate (as numpy's astype in the reference)
    let [lo, hi] = e === 'f32' ? [0, 0] : intRange(y.dtype);
    if (e === 'i32') [lo, hi] = [Math.max(lo, -2147483648), Math.min(hi, 2147483647)];
    if (e === 'u32') hi = Math.min(hi, 4294967295);
    const evBits = e === 'f32' ? f32Bits(a.extrapolationValue) : Math.trunc(a.extrapolationValue) >>> 0;
    const params = [y.size, r, evBits, f32Bits(lo), f32Bits(hi), 0, 0, 0, ...head, ...tables];
    const store = e === 'f32' ? 'acc' : `${e}(clamp(trunc(acc), bitcast<f32>(params[3]), bitcast<f32>(params[4])))`;
    await ctx.gpu.run({
      name: 'Resize', cacheKey: `norm-resize:${e}:${nearestOnly ? 'gather' : 'taps'}`,
      wgsl: () => `${bindings([e], [e])}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= params[0]) { return; }
  let r = params[1];
  var oc: array<u32, ${MAX_RANK}>;
  var rem = i; var tot = 1u; var src = 0u;
  for (var a = 0u; a < r; a++) {
    let q = ${H}u + 4u * a;
    let o = rem / params[q]; rem = rem % params[q];
    oc[a] = o;
    let n = params[q + 2u];
    tot *= n;
    let first = params[q + 3u] + o * n * 2u;
    if (bitcast<i32>(params[first]) < 0) { out0[i] = bitcast<${e}>(params[2]); return; }
    src += params[first] * params[q + 1u];
  }
${nearestOnly ? '  out0[i] = in0[src];' : `  var acc = 0.0;
  for (var t = 0u; t < tot; t++) {
    var tr = t; var s = 0u; var w = 1.0;
    for (var a = r; a > 0u; a--) {
      let q = ${H}u + 4u * (a - 1u);
      let n = params[q + 2u];
      let ent = params[q + 3u] + (oc[a - 1u] * n + tr % n) * 2u;
      tr = tr / n;
      s += params[ent] * params[q + 1u];
      w *= bitcast<f32>(params[ent + 1u]);
    }
    // zero-weight taps are skipped (exclude_outside; and 0 * inf would be NaN)
    if (w != 0.0) { acc += w * f32(in0[s]); }
  }
  out0[i] = ${store};`}
}`,
      inputs: [x], outputs: [y], params, workgroups: grid(y.size),
    });
    return [y];
  },
};

export const kernels: GpuKernelRegistry = { Resize: resize };
