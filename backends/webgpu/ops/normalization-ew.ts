/**
 * One-thread-per-element programs of the family (BatchNormalization, LRN, Resize, Pad, DepthToSpace,
 * SpaceToDepth), shaped for throughput: 256-thread workgroups, each thread doing 4 elements at a
 * stride of the whole grid (coalesced). On an H100 through Dawn a 64-thread, one-element grid copies
 * at about a quarter of a vec4 copy's bandwidth (workgroup launch rate); this shape closes most of it.
 * The per-element WGSL is the body of `fn one(i: u32)` (it may `return` early).
 */
import type { GpuKernelContext } from '../kernel.js';
import { grid } from '../program.js';

const EW_WG = 256;
const EW_PER = 4;

/** WGSL entry point over params[0] elements calling `one(i)`, after `fn one` defined from `body`. */
export function ewMain(body: string): string {
  return `fn one(i: u32) {
${body}
}
@compute @workgroup_size(${EW_WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * ${EW_WG}u;
  let T = nwg.x * nwg.y * ${EW_WG}u;
  for (var j = 0u; j < ${EW_PER}u; j++) {
    let i = t + j * T;
    if (i >= params[0]) { return; }
    one(i);
  }
}`;
}

/** Workgroups for n elements (params[0] must be n). */
export function ewGrid(ctx: GpuKernelContext, n: number): [number, number, number] {
  return grid(Math.ceil(n / EW_PER), EW_WG, ctx.gpu.ctx.caps.maxComputeWorkgroupsPerDimension);
}
