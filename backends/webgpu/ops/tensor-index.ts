/**
 * WebGPU index-driven reads: Gather, GatherElements, GatherND, OneHot. Indices live on the GPU
 * as i32 (int64 truncated: indices fit); negative ones count from the end. An out-of-range index
 * (an error on the CPU) is clamped, so a bad model cannot read outside its tensor.
 */
import { attrInt } from '../../../src/ir/graph.js';
import { stridesOf } from '../../../src/ir/tensor.js';
import type { GpuKernel, GpuKernelRegistry } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { FLAT_INDEX, bindings, grid } from '../program.js';
import { gpuElemOf } from '../tensor.js';
import { FIX_INDEX, MAIN_1D, allocOut, elemBits, fits32, normAxis, prod } from './tensor-common.js';

const gather: GpuKernel = {
  async run(ctx) {
    const x = gin(ctx, 0), idx = gin(ctx, 1);
    const out = allocOut(ctx, 0, outDims(ctx));
    const axis = normAxis(attrInt(ctx.node, 'axis', 0), x.dims.length);
    const n = x.dims[axis]!, inner = prod(x.dims, axis + 1), m = idx.size;
    await ctx.gpu.run({
      name: 'Gather', cacheKey: 'tensor:gather',
      wgsl: () => `${bindings(['u32', 'i32'], ['u32'])}
${FIX_INDEX}
${FLAT_INDEX()}
${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= params[0]) { return; }
  let m = params[1]; let inner = params[2]; let n = params[3];
  let row = i / inner; let t = i - row * inner;
  let o = row / m; let j = row - o * m;
  out0[i] = in0[(o * n + fixIndex(in1[j], n)) * inner + t];
}`,
      inputs: [x, idx], outputs: [out], params: [out.size, m, inner, n], workgroups: grid(out.size),
    });
    return [out];
  },
};

const gatherElements: GpuKernel = {
  async run(ctx) {
    const x = gin(ctx, 0), idx = gin(ctx, 1);
    const out = allocOut(ctx, 0, outDims(ctx));
    const r = x.dims.length;
    const axis = normAxis(attrInt(ctx.node, 'axis', 0), r);
    const xs = stridesOf(x.dims);
    // params: n, rank, axis, axis size, index strides[r], data strides[r]
    await ctx.gpu.run({
      name: 'GatherElements', cacheKey: 'tensor:gather-elements',
      wgsl: () => `${bindings(['u32', 'i32'], ['u32'])}
${FIX_INDEX}
${FLAT_INDEX()}
${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= params[0]) { return; }
  let r = params[1]; let axis = params[2];
  var rem = i; var off = 0u;
  for (var d = 0u; d < r; d++) {
    let q = rem / params[4u + d]; rem = rem - q * params[4u + d];
    if (d != axis) { off += q * params[4u + r + d]; }
  }
  out0[i] = in0[off + fixIndex(in1[i], params[3]) * params[4u + r + axis]];
}`,
      inputs: [x, idx], outputs: [out], params: [out.size, r, axis, x.dims[axis]!, ...stridesOf(idx.dims), ...xs],
      workgroups: grid(out.size),
    });
    return [out];
  },
};

const gatherND: GpuKernel = {
  async run(ctx) {
    const x = gin(ctx, 0), idx = gin(ctx, 1);
    const out = allocOut(ctx, 0, outDims(ctx));
    const b = attrInt(ctx.node, 'batch_dims', 0);
    const q = idx.dims.length;
    const k = idx.dims[q - 1]!;
    const xs = stridesOf(x.dims);
    const slice = prod(x.dims, b + k);
    const m = prod(idx.dims, b, q - 1);
    const batchSize = prod(x.dims, b);
    // params: n, slice, m, k, batch size, then per indexed axis: its size and stride
    const params = [out.size, slice, m, k, batchSize];
    for (let t = 0; t < k; t++) params.push(x.dims[b + t]!, xs[b + t]!);
    await ctx.gpu.run({
      name: 'GatherND', cacheKey: 'tensor:gathernd',
      wgsl: () => `${bindings(['u32', 'i32'], ['u32'])}
${FIX_INDEX}
${FLAT_INDEX()}
${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= params[0]) { return; }
  let slice = params[1]; let k = params[3];
  let row = i / slice; let t = i - row * slice;
  var off = (row / params[2]) * params[4] + t;
  for (var s = 0u; s < k; s++) { off += fixIndex(in1[row * k + s], params[5u + 2u * s]) * params[6u + 2u * s]; }
  out0[i] = in0[off];
}`,
      inputs: [x, idx], outputs: [out], params, workgroups: grid(out.size),
    });
    return [out];
  },
};

/** OneHot: depth and [off, on] values on the host; indices (any numeric type) on the GPU. */
const oneHot: GpuKernel = {
  hostInputs: [1, 2],
  unsupported(_node, inputs) {
    return inputs[0] && gpuElemOf(inputs[0].dtype) ? undefined : 'OneHot: indices type has no WebGPU form';
  },
  async run(ctx) {
    const idx = gin(ctx, 0);
    const depth = Math.trunc(ctx.host(1)!.num());
    const values = ctx.host(2)!;
    if (values.size !== 2) throw new Error('OneHot: values must hold [off_value, on_value]');
    if (!fits32(values.dtype, values.numbers)) throw new Error(`OneHot: ${values.dtype} values beyond 32 bits cannot live on WebGPU`);
    const out = allocOut(ctx, 0, outDims(ctx));
    const oe = gpuElemOf(values.dtype)!;
    const axis = normAxis(attrInt(ctx.node, 'axis', -1), idx.dims.length + 1);
    const inner = prod(idx.dims, axis);
    const ie = idx.elem;
    const asInt = ie === 'f32' ? 'i32(trunc(v))' : ie === 'u32' ? 'i32(min(v, 2147483647u))' : 'v';
    await ctx.gpu.run({
      name: 'OneHot', cacheKey: `tensor:onehot:${ie}`,
      wgsl: () => `${bindings([ie], ['u32'])}
${FLAT_INDEX()}
${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= params[0]) { return; }
  let depth = params[1]; let inner = params[2];
  let o = i / (depth * inner); let rem = i - o * depth * inner;
  let c = rem / inner; let t = rem - c * inner;
  let v = in0[o * inner + t];
  var ci = ${asInt};
  if (ci < 0) { ci += i32(depth); }
  out0[i] = select(params[3], params[4], ci == i32(c));
}`,
      inputs: [idx], outputs: [out],
      params: [out.size, depth, inner, elemBits(oe, values.num(0)), elemBits(oe, values.num(1))],
      workgroups: grid(out.size),
    });
    return [out];
  },
};

export const kernels: GpuKernelRegistry = {
  Gather: gather, GatherElements: gatherElements, GatherND: gatherND, OneHot: oneHot,
};
