/**
 * WebGPU Transpose. The permutation is first reduced (size-1 axes dropped, input axes that stay
 * adjacent and in order merged): the identity is a buffer copy; [1,0] and [0,2,1] — the last-two-
 * axes swap, NCHW<->NHWC ([N, C, HW] <-> [N, HW, C]) and every other "batched matrix transpose" —
 * go through a 16x16 tile in workgroup memory, so both the reads and the writes are coalesced;
 * anything else is a strided gather.
 */
import { attrInts } from '../../../src/ir/graph.js';
import { stridesOf } from '../../../src/ir/tensor.js';
import { transposePerm } from '../../../src/ir/ops/tensor.js';
import type { GpuKernel, GpuKernelRegistry } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { bindings } from '../program.js';
import { allocOut, copyInto, stridedCopy } from './tensor-common.js';

const T = 16;

/** The permutation on merged axes: dims of the reduced input and the reduced perm. */
export function reducePerm(dims: readonly number[], perm: readonly number[]): { dims: number[]; perm: number[] } {
  const keep = perm.filter((a) => dims[a] !== 1);
  // groups of output axes whose input axes are consecutive
  const groups: number[][] = [];
  for (const a of keep) {
    const g = groups[groups.length - 1];
    if (g && g[g.length - 1]! + 1 === a) g.push(a); else groups.push([a]);
  }
  // number the groups by their input order
  const order = groups.map((g, i) => [g[0]!, i] as const).sort((p, q) => p[0] - q[0]);
  const rank = new Array<number>(groups.length);
  order.forEach(([, gi], r) => { rank[gi] = r; });
  const rdims = new Array<number>(groups.length);
  groups.forEach((g, gi) => { rdims[rank[gi]!] = g.reduce((n, a) => n * dims[a]!, 1); });
  return { dims: rdims, perm: groups.map((_, gi) => rank[gi]!) };
}

const transpose: GpuKernel = {
  async run(ctx) {
    const x = gin(ctx, 0);
    const perm = transposePerm(attrInts(ctx.node, 'perm'), x.dims.length);
    const out = allocOut(ctx, 0, outDims(ctx));
    if (out.size === 0) return [out];
    const red = reducePerm(x.dims, perm);
    const p = red.perm.join(',');
    if (red.perm.every((a, i) => a === i)) { copyInto(ctx, x, out); return [out]; }
    const [B, R, C] = p === '1,0' ? [1, red.dims[0]!, red.dims[1]!] : p === '0,2,1' ? [red.dims[0]!, red.dims[1]!, red.dims[2]!] : [0, 0, 0];
    const max = ctx.gpu.ctx.caps.maxComputeWorkgroupsPerDimension;
    if (B > 0 && B <= max && Math.ceil(R / T) <= max && Math.ceil(C / T) <= max) {
      await ctx.gpu.run({
        name: 'Transpose2D', cacheKey: 'tensor:transpose-tiled',
        // [B, R, C] -> [B, C, R]; the tile has one extra column so the column reads avoid bank conflicts.
        wgsl: () => `${bindings(['u32'], ['u32'])}
var<workgroup> tile: array<array<u32, ${T + 1}>, ${T}>;
@compute @workgroup_size(${T}, ${T}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let R = params[0]; let C = params[1];
  let base = wid.z * R * C;
  let r0 = wid.y * ${T}u; let c0 = wid.x * ${T}u;
  let r = r0 + lid.y; let c = c0 + lid.x;
  if (r < R && c < C) { tile[lid.y][lid.x] = in0[base + r * C + c]; }
  workgroupBarrier();
  let oc = c0 + lid.y; let orow = r0 + lid.x;
  if (oc < C && orow < R) { out0[base + oc * R + orow] = tile[lid.x][lid.y]; }
}`,
        inputs: [x], outputs: [out], params: [R, C],
        workgroups: [Math.ceil(C / T), Math.ceil(R / T), B],
      });
      return [out];
    }
    const st = stridesOf(x.dims);
    await stridedCopy(ctx, x, out, perm.map((a) => st[a]!), 0);
    return [out];
  },
};

export const kernels: GpuKernelRegistry = { Transpose: transpose };
