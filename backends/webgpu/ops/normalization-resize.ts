/**
 * Resize on WebGPU (semantics: backends/cpu/normalization-resize.ts). Output size and per-axis scales
 * come from the IR's `resizeGeometry`; each axis gets a host-built table of taps (source index,
 * weight) per output index (normalization-resize-taps.ts), appended to the parameters. One thread per
 * output element: nearest gathers one element; linear/cubic sum the product of the axes' taps
 * (identity axes have one tap, so bilinear over H, W reads 4 elements and bicubic 16). Any axis whose
 * coordinate falls outside tf_crop_and_resize's box gives extrapolation_value. When only the last two
 * axes change (feature maps), resizePlanes does the same with compile-time tap counts and no
 * per-axis index loop (about 3x faster on an H100).
 *
 * Parameters: [size, rank, ev, lo, hi, 0, 0, 0], then per axis [out stride, in stride, taps, table
 * offset], then the tables ([index (i32, -1 = extrapolate), weight (f32)] pairs).
 */
import { intRange } from '../../../src/ir/dtype.js';
import { stridesOf } from '../../../src/ir/tensor.js';
import { resizeAttrs, resizeGeometry } from '../../../src/ir/ops/normalization-resize.js';
import type { GpuKernel, GpuKernelContext, GpuKernelRegistry } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { bindings, f32Bits } from '../program.js';
import { ewGrid, ewMain } from './normalization-ew.js';
import type { GpuTensor } from '../tensor.js';
import { axisTaps, type AxisTaps } from './normalization-resize-taps.js';

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
    const taps = x.dims.map((n, ax) => axisTaps(a, n, od[ax]!, g.scales[ax]!, g.roi[ax]!, g.roi[r + ax]!));
    // integer outputs of linear/cubic: truncate and saturate (as numpy's astype in the reference)
    let [lo, hi] = e === 'f32' ? [0, 0] : intRange(y.dtype);
    if (e === 'i32') [lo, hi] = [Math.max(lo, -2147483648), Math.min(hi, 2147483647)];
    if (e === 'u32') hi = Math.min(hi, 4294967295);
    const evBits = e === 'f32' ? f32Bits(a.extrapolationValue) : Math.trunc(a.extrapolationValue) >>> 0;
    // lo / hi sit at params[lo], params[lo + 1] (3 in the generic layout, 6 in the planes one)
    const store = (lo: number) => (e === 'f32' ? 'acc' : `${e}(clamp(trunc(acc), bitcast<f32>(params[${lo}]), bitcast<f32>(params[${lo + 1}])))`);
    const identity = (ax: number) => taps[ax]!.n === 1 && x.dims[ax] === od[ax] && taps[ax]!.idx.every((v, o) => v === o);
    if (r >= 2 && taps.slice(0, r - 2).every((_, ax) => identity(ax))) {
      await resizePlanes(ctx, x, y, taps[r - 2]!, taps[r - 1]!, [evBits, f32Bits(lo), f32Bits(hi)], store(6));
      return [y];
    }
    const os = stridesOf(od), is = stridesOf(x.dims);
    const head: number[] = [];
    const tables: number[] = [];
    let nearestOnly = true;
    taps.forEach((t, ax) => {
      if (t.n > 1) nearestOnly = false;
      head.push(os[ax]!, is[ax]!, t.n, H + 4 * r + tables.length);
      for (let k = 0; k < t.idx.length; k++) tables.push(t.idx[k]! >>> 0, f32Bits(t.w[k]!));
    });
    const params = [y.size, r, evBits, f32Bits(lo), f32Bits(hi), 0, 0, 0, ...head, ...tables];
    await ctx.gpu.run({
      name: 'Resize', cacheKey: `norm-resize:${e}:${nearestOnly ? 'gather' : 'taps'}`,
      wgsl: () => `${bindings([e], [e])}
${ewMain(`  let r = params[1];
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
  out0[i] = ${store(3)};`}`)}`,
      inputs: [x], outputs: [y], params, workgroups: ewGrid(ctx, y.size),
    });
    return [y];
  },
};

/**
 * The common case: only the last two axes resized (NCHW feature maps). Tap counts are compile-time
 * constants (1 nearest, 2 linear, 4 cubic; more with antialias), the H taps weight rows of W taps
 * (separable, like the CPU's plane path), and no per-axis index loop runs.
 * Parameters: [size, OW, OH, W, H, ev, lo, hi, offH, offW], then the H and W tables.
 */
async function resizePlanes(ctx: GpuKernelContext, x: GpuTensor, y: GpuTensor, th: AxisTaps, tw: AxisTaps, evLoHi: number[], store: string): Promise<void> {
  const r = x.dims.length;
  const [h, w] = [x.dims[r - 2]!, x.dims[r - 1]!];
  const [oh, ow] = [y.dims[r - 2]!, y.dims[r - 1]!];
  const e = x.elem;
  const tab = (t: AxisTaps) => Array.from(t.idx, (v, k) => [v >>> 0, f32Bits(t.w[k]!)]).flat();
  const [tabH, tabW] = [tab(th), tab(tw)];
  const P = 10;
  const params = [y.size, ow, oh, w, h, ...evLoHi, P, P + tabH.length, ...tabH, ...tabW];
  const [NH, NW] = [th.n, tw.n];
  await ctx.gpu.run({
    name: 'Resize', cacheKey: `norm-resize-planes:${e}:${NH}x${NW}`,
    wgsl: () => `${bindings([e], [e])}
${ewMain(`  let OW = params[1]; let OH = params[2]; let W = params[3]; let H = params[4];
  let ow = i % OW; let t = i / OW; let oh = t % OH; let plane = t / OH;
  let eh = params[8] + oh * ${2 * NH}u; let ew = params[9] + ow * ${2 * NW}u;
  if (bitcast<i32>(params[eh]) < 0 || bitcast<i32>(params[ew]) < 0) { out0[i] = bitcast<${e}>(params[5]); return; }
  let base = plane * H * W;
${NH === 1 && NW === 1 ? '  out0[i] = in0[base + params[eh] * W + params[ew]];' : `  var acc = 0.0;
  for (var a = 0u; a < ${NH}u; a++) {
    let wh = bitcast<f32>(params[eh + 2u * a + 1u]);
    if (wh == 0.0) { continue; } // exclude_outside zeros (and 0 * inf would be NaN)
    let row = base + params[eh + 2u * a] * W;
    var racc = 0.0;
    for (var b = 0u; b < ${NW}u; b++) {
      let ww = bitcast<f32>(params[ew + 2u * b + 1u]);
      if (ww != 0.0) { racc += ww * f32(in0[row + params[ew + 2u * b]]); }
    }
    acc += wh * racc;
  }
  out0[i] = ${store};`}`)}`,
    inputs: [x], outputs: [y], params, workgroups: ewGrid(ctx, y.size),
  });
}

export const kernels: GpuKernelRegistry = { Resize: resize };
