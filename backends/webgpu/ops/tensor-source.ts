/**
 * WebGPU value-making ops. Shape, Size, Constant and Range are computed on the host (from dims,
 * attributes or host inputs; Range with the CPU's step-by-step rounding) and uploaded: they are
 * tiny. ConstantOfShape fills on the GPU. Values that int64 cannot hold in 32 bits are rejected.
 */
import type { NumericArray } from '../../../src/ir/dtype.js';
import { HostTensor } from '../../../src/ir/tensor.js';
import { roundToDtype } from '../../../src/ir/lowp.js';
import { constantOfShapeValue, constantTensor, shapeRange } from '../../../src/ir/ops/tensor-source.js';
import type { GpuKernel, GpuKernelRegistry } from '../kernel.js';
import { outDims } from '../kernel.js';
import { gpuElemOf } from '../tensor.js';
import { allocOut, elemBits, fill, fits32 } from './tensor-common.js';

/** Uploads a host-computed value and keeps the host copy with it (host readers need no readback). */
function withHost(ctx: Parameters<GpuKernel['run']>[0], t: HostTensor) {
  const g = ctx.gpu.upload(t);
  g.host = t;
  return g;
}

const shape: GpuKernel = {
  dimsOnlyInputs: [0],
  async run(ctx) {
    const dims = ctx.dims(0)!;
    const [s, e] = shapeRange(ctx.node, dims.length);
    return [withHost(ctx, HostTensor.fromNumbers('int64', [e - s], dims.slice(s, e)))];
  },
};

const size: GpuKernel = {
  dimsOnlyInputs: [0],
  async run(ctx) { return [withHost(ctx, HostTensor.scalar('int64', ctx.dims(0)!.reduce((a, b) => a * b, 1)))]; },
};

const constant: GpuKernel = {
  unsupported(node) {
    let t: HostTensor;
    try { t = constantTensor(node); } catch (e) { return (e as Error).message; }
    if (!gpuElemOf(t.dtype)) return `Constant of ${t.dtype} has no WebGPU form`;
    return fits32(t.dtype, t.data as NumericArray) ? undefined : `Constant ${t.dtype} values beyond 32 bits run on the CPU`;
  },
  async run(ctx) { return [withHost(ctx, constantTensor(ctx.node))]; },
};

const constantOfShape: GpuKernel = {
  hostInputs: [0],
  unsupported(node) {
    let v: HostTensor;
    try { v = constantOfShapeValue(node); } catch (e) { return (e as Error).message; }
    return fits32(v.dtype, v.data as NumericArray) ? undefined : `ConstantOfShape ${v.dtype} value beyond 32 bits runs on the CPU`;
  },
  async run(ctx) {
    const v = constantOfShapeValue(ctx.node);
    const out = allocOut(ctx, 0, outDims(ctx));
    if (out.size > 0) await fill(ctx, out, elemBits(gpuElemOf(v.dtype)!, v.num(0)));
    return [out];
  },
};

/** Range accumulates start + delta step by step in the output type, as the CPU kernel does. */
const range: GpuKernel = {
  hostInputs: [0, 1, 2],
  async run(ctx) {
    const start = ctx.host(0)!;
    const delta = ctx.host(2)!.num();
    const out = new HostTensor(start.dtype, outDims(ctx));
    const o = out.data as NumericArray;
    const dt = start.dtype;
    const round = dt === 'float64' || !(o instanceof Float32Array) ? null : dt;
    let v = start.num();
    for (let i = 0; i < o.length; i++) {
      o[i] = v;
      v = round ? roundToDtype(round, v + delta) : v + delta;
    }
    // host inputs are only known now: fail loudly rather than clamp silently
    if (!fits32(dt, o)) throw new Error(`Range: ${dt} values beyond 32 bits cannot live on WebGPU`);
    return [withHost(ctx, out)];
  },
};

export const kernels: GpuKernelRegistry = {
  Shape: shape, Size: size, Constant: constant, ConstantOfShape: constantOfShape, Range: range,
};
