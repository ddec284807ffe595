/**
 * WebGPU Trilu, CumSum and TopK. CumSum is one thread per line walking it serially (the CPU's
 * accumulation order, so float results match bit for bit; a parallel scan is a later step).
 * TopK is one workgroup per line: K rounds, each a workgroup arg-best reduction over the elements
 * ranked after the previous pick (ties to the lower index; NaN ranks as +inf, as on the CPU).
 */
import { attrInt } from '../../../src/ir/graph.js';
import type { GpuKernel, GpuKernelRegistry } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { FLAT_INDEX, bindings, grid } from '../program.js';
import { MAIN_1D, allocOut, normAxis, prod } from './tensor-common.js';

const trilu: GpuKernel = {
  hostInputs: [1],
  async run(ctx) {
    const x = gin(ctx, 0);
    const out = allocOut(ctx, 0, outDims(ctx));
    const k = ctx.host(1) ? ctx.host(1)!.num() : 0;
    const upper = attrInt(ctx.node, 'upper', 1) !== 0;
    const r = x.dims.length;
    const rows = x.dims[r - 2]!, cols = x.dims[r - 1]!;
    // k clamped so row + k stays in i32 (|k| beyond the matrix keeps all or nothing anyway)
    const kc = Math.max(-(rows + cols + 1), Math.min(rows + cols + 1, k));
    await ctx.gpu.run({
      name: 'Trilu', cacheKey: 'tensor:trilu',
      wgsl: () => `${bindings(['u32'], ['u32'])}
${FLAT_INDEX()}
${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= params[0]) { return; }
  let cols = params[2];
  let line = i / cols; let col = i32(i - line * cols); let row = i32(line % params[1]);
  let lim = row + bitcast<i32>(params[3]);
  let keep = select(col <= lim, col >= lim, params[4] == 1u);
  out0[i] = select(0u, in0[i], keep);
}`,
      inputs: [x], outputs: [out], params: [out.size, rows, cols, kc >>> 0, upper ? 1 : 0], workgroups: grid(out.size),
    });
    return [out];
  },
};

const cumSum: GpuKernel = {
  hostInputs: [1],
  unsupported(_node, inputs) {
    return inputs[0]?.dtype === 'bool' ? 'CumSum on bool' : undefined;
  },
  async run(ctx) {
    const x = gin(ctx, 0);
    const out = allocOut(ctx, 0, outDims(ctx));
    const axis = normAxis(ctx.host(1)!.num(), x.dims.length);
    const n = x.dims[axis]!, inner = prod(x.dims, axis + 1), lines = prod(x.dims, 0, axis) * inner;
    const flags = (attrInt(ctx.node, 'exclusive', 0) !== 0 ? 1 : 0) | (attrInt(ctx.node, 'reverse', 0) !== 0 ? 2 : 0);
    const e = x.elem;
    if (out.size === 0) return [out];
    await ctx.gpu.run({
      name: 'CumSum', cacheKey: `tensor:cumsum:${e}`,
      wgsl: () => `${bindings([e], [e])}
${FLAT_INDEX()}
${MAIN_1D} {
  let l = flatIndex(gid, nwg);
  if (l >= params[0]) { return; }
  let n = params[1]; let inner = params[2];
  let exclusive = (params[3] & 1u) != 0u; let reverse = (params[3] & 2u) != 0u;
  let o = l / inner; let base = o * n * inner + (l - o * inner);
  var acc = ${e}(0);
  for (var s = 0u; s < n; s++) {
    let at = base + select(s, n - 1u - s, reverse) * inner;
    let v = in0[at];
    if (exclusive) { out0[at] = acc; acc = acc + v; } else { acc = acc + v; out0[at] = acc; }
  }
}`,
      inputs: [x], outputs: [out], params: [lines, n, inner, flags], workgroups: grid(lines),
    });
    return [out];
  },
};

const TOPK_WG = 128;

const topK: GpuKernel = {
  hostInputs: [1],
  async run(ctx) {
    const x = gin(ctx, 0);
    const k = ctx.host(1)!.num();
    const vals = allocOut(ctx, 0, outDims(ctx, 0));
    const inds = allocOut(ctx, 1, outDims(ctx, 1));
    const axis = normAxis(attrInt(ctx.node, 'axis', -1), x.dims.length);
    const largest = attrInt(ctx.node, 'largest', 1) !== 0;
    const n = x.dims[axis]!, inner = prod(x.dims, axis + 1), lines = prod(x.dims, 0, axis) * inner;
    if (k === 0 || n === 0 || lines === 0) return [vals, inds];
    const e = x.elem;
    // NaN tested on its bits (v != v may be folded away by a driver)
    const key = e === 'f32' ? 'select(v, inf, (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u)' : 'v';
    const cmp = largest ? '>' : '<';
    await ctx.gpu.run({
      name: 'TopK', cacheKey: `tensor:topk:${e}:${largest ? 'max' : 'min'}`,
      wgsl: () => `${bindings([e], [e, 'i32'])}
var<workgroup> sk: array<${e}, ${TOPK_WG}>;
var<workgroup> si: array<u32, ${TOPK_WG}>;
const NONE = 0xffffffffu;
/** (ka, ia) ranks before (kb, ib): better key, or the same key at a lower index; NONE ranks last. */
fn better(ka: ${e}, ia: u32, kb: ${e}, ib: u32) -> bool {
  if (ia == NONE) { return false; }
  if (ib == NONE) { return true; }
  return ka ${cmp} kb || (ka == kb && ia < ib);
}
@compute @workgroup_size(${TOPK_WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let line = wid.x + wid.y * nwg.x;
  if (line >= params[0]) { return; }
  let n = params[1]; let inner = params[2]; let k = params[3];
  var infBits = 0x7f800000u;
  let inf = bitcast<f32>(infBits);
  let o = line / inner; let t0 = line - o * inner;
  let base = o * n * inner + t0;
  let obase = o * k * inner + t0;
  var pk = ${e}(0); var pi = NONE;
  for (var r = 0u; r < k; r++) {
    var bk = ${e}(0); var bi = NONE;
    for (var t = lid; t < n; t += ${TOPK_WG}u) {
      let v = in0[base + t * inner];
      let kv = ${key};
      if ((pi == NONE || better(pk, pi, kv, t)) && better(kv, t, bk, bi)) { bk = kv; bi = t; }
    }
    sk[lid] = bk; si[lid] = bi;
    workgroupBarrier();
    for (var s = ${TOPK_WG / 2}u; s > 0u; s >>= 1u) {
      if (lid < s && better(sk[lid + s], si[lid + s], sk[lid], si[lid])) { sk[lid] = sk[lid + s]; si[lid] = si[lid + s]; }
      workgroupBarrier();
    }
    pk = sk[0]; pi = si[0];
    if (lid == 0u) {
      out0[obase + r * inner] = in0[base + pi * inner];
      out1[obase + r * inner] = i32(pi);
    }
    workgroupBarrier();
  }
}`,
      inputs: [x], outputs: [vals, inds], params: [lines, n, inner, k],
      workgroups: grid(lines, 1, ctx.gpu.ctx.caps.maxComputeWorkgroupsPerDimension),
    });
    return [vals, inds];
  },
};

export const kernels: GpuKernelRegistry = { Trilu: trilu, CumSum: cumSum, TopK: topK };
