/**
 * ArgMax / ArgMin on WebGPU (int64 output held as i32). The input is [outer, n, inner] around the
 * axis; each output is one thread, or one workgroup when n is large and the outputs are few. Ties go
 * to the first index, or the last with select_last_index, whatever the order partial results are
 * combined in (the combine compares indices on equal values). NaN handling is not the CPU's
 * sequential one (NaN never wins a comparison here).
 */
import { attrInt } from '../../../src/ir/graph.js';
import { normalizeAxis } from '../../../src/ir/shape-utils.js';
import type { GpuKernel, GpuKernelRegistry } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { FLAT_INDEX, bindings, grid, WG } from '../program.js';
import type { GpuElem } from '../tensor.js';

const WGA = 128;

function shader(isMax: boolean, last: boolean, e: GpuElem, wgMode: boolean): string {
  // Is (bv, bi) better than (av, ai)? An index < 0 marks "no element yet".
  const better = `fn better(av: ${e}, ai: i32, bv: ${e}, bi: i32) -> bool {
  return bi >= 0 && (ai < 0 || bv ${isMax ? '>' : '<'} av || (bv == av && bi ${last ? '>' : '<'} ai));
}`;
  const head = `${bindings([e], ['i32'])}\n${better}`;
  // params: [outSize, n, inner]
  if (!wgMode) {
    return `${head}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = flatIndex(gid, nwg);
  if (o >= params[0]) { return; }
  let n = params[1]; let inner = params[2];
  let base = (o / inner) * n * inner + o % inner;
  var bv = in0[base]; var bi = 0;
  for (var k = 1u; k < n; k++) {
    let v = in0[base + k * inner];
    if (better(bv, bi, v, i32(k))) { bv = v; bi = i32(k); }
  }
  out0[o] = bi;
}`;
  }
  return `${head}
var<workgroup> sv: array<${e}, ${WGA}>;
var<workgroup> si: array<i32, ${WGA}>;
@compute @workgroup_size(${WGA}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let o = wid.x + wid.y * nwg.x;
  if (o >= params[0]) { return; } // uniform: the whole workgroup leaves
  let n = params[1]; let inner = params[2];
  let base = (o / inner) * n * inner + o % inner;
  var bv = in0[base]; var bi = -1;
  for (var k = lid; k < n; k += ${WGA}u) {
    let v = in0[base + k * inner];
    if (better(bv, bi, v, i32(k))) { bv = v; bi = i32(k); }
  }
  sv[lid] = bv; si[lid] = bi;
  workgroupBarrier();
  for (var s = ${WGA / 2}u; s > 0u; s >>= 1u) {
    if (lid < s && better(sv[lid], si[lid], sv[lid + s], si[lid + s])) { sv[lid] = sv[lid + s]; si[lid] = si[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out0[o] = si[0]; }
}`;
}

function argKernel(isMax: boolean): GpuKernel {
  const op = isMax ? 'ArgMax' : 'ArgMin';
  return {
    unsupported(node, inputs) {
      const s = inputs[0]?.shape;
      if (s) {
        const d = s[normalizeAxis(attrInt(node, 'axis', 0), s.length)];
        if (d === 0) return `${op} over an empty axis`;
      }
      return undefined;
    },
    async run(ctx) {
      const x = gin(ctx, 0);
      const y = ctx.gpu.alloc('int64', outDims(ctx));
      if (y.size === 0) return [y];
      const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), x.dims.length);
      const last = attrInt(ctx.node, 'select_last_index', 0) === 1;
      const n = x.dims[axis]!;
      let inner = 1;
      for (let i = axis + 1; i < x.dims.length; i++) inner *= x.dims[i]!;
      // A workgroup per output pays off only for long axes and few outputs (else threads suffice
      // and neighbouring threads read neighbouring memory when inner > 1).
      const wgMode = n >= 256 && (inner === 1 || y.size < 2048);
      await ctx.gpu.run({
        name: op,
        cacheKey: `arg:${isMax ? 'max' : 'min'}:${last ? 'last' : 'first'}:${x.elem}:${wgMode ? 'wg' : 'th'}`,
        wgsl: () => shader(isMax, last, x.elem, wgMode),
        inputs: [x], outputs: [y], params: [y.size, n, inner],
        workgroups: wgMode ? grid(y.size, 1) : grid(y.size),
      });
      return [y];
    },
  };
}

export const kernels: GpuKernelRegistry = { ArgMax: argKernel(true), ArgMin: argKernel(false) };
