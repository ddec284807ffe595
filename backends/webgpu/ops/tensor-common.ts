/**
 * Shared pieces of the WebGPU tensor (data movement) kernels. Every element is 4 bytes on the GPU,
 * so moving data never needs its type: shaders bind data as array<u32> (the bits of an f32, i32 or
 * u32) and one pipeline serves every element type; only kernels that compute on values (scatter
 * reductions, CumSum, TopK, OneHot's indices) key their cache on the element type.
 */
import type { DType } from '../../../src/ir/dtype.js';
import { stridesOf } from '../../../src/ir/tensor.js';
import type { GpuKernelContext } from '../kernel.js';
import { FLAT_INDEX, bindings, grid, WG, f32Bits } from '../program.js';
import type { GpuElem, GpuTensor } from '../tensor.js';

export function prod(dims: readonly number[], from = 0, to = dims.length): number {
  let n = 1;
  for (let k = from; k < to; k++) n *= dims[k]!;
  return n;
}

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** The bits of a host number as the GPU holds it in element type `e` (for params). */
export function elemBits(e: GpuElem, v: number): number {
  if (e === 'f32') return f32Bits(v);
  if (e === 'i32') return Math.max(-2147483648, Math.min(2147483647, Math.trunc(v))) >>> 0;
  return Math.max(0, Math.min(4294967295, Math.trunc(v))) >>> 0;
}

/** Whether int64/uint64 values fit the GPU's 32-bit form (other dtypes always do). */
export function fits32(dtype: DType, values: ArrayLike<number>): boolean {
  if (dtype !== 'int64' && dtype !== 'uint64') return true;
  const lo = dtype === 'int64' ? -2147483648 : 0, hi = dtype === 'int64' ? 2147483647 : 4294967295;
  for (let i = 0; i < values.length; i++) { const v = values[i]!; if (v < lo || v > hi) return false; }
  return true;
}

/** A new output of node output `i` with its inferred dims. */
export function allocOut(ctx: GpuKernelContext, i: number, dims: readonly number[]): GpuTensor {
  return ctx.gpu.alloc(ctx.outputTypes[i]!.dtype, dims);
}

/** A whole-tensor copy into a fresh buffer (each value owns its buffer, so lifetimes stay simple). */
export function copyInto(ctx: GpuKernelContext, x: GpuTensor, out: GpuTensor, srcElem = 0, dstElem = 0, elems = out.size): void {
  ctx.gpu.copy(x.buffer, srcElem * 4, out.buffer, dstElem * 4, elems * 4);
}

/** WGSL: an index into an axis of n, negative counted from the end, clamped so a bad index cannot write out of the tensor. */
export const FIX_INDEX = `fn fixIndex(v: i32, n: u32) -> u32 { let w = select(v, v + i32(n), v < 0); return u32(clamp(w, 0, i32(n) - 1)); }`;

export const MAIN_1D = `@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u)`;

/**
 * Merges output axes that walk the source contiguously (stride[d] == stride[d+1] * dims[d+1]) and
 * drops size-1 axes: Expand's broadcast runs and Transpose's untouched groups become one axis,
 * so the per-element index loop is as short as it can be.
 */
export function coalesce(dims: readonly number[], strides: readonly number[]): { dims: number[]; strides: number[] } {
  const d: number[] = [], s: number[] = [];
  for (let k = 0; k < dims.length; k++) {
    if (dims[k] === 1) continue;
    const last = d.length - 1;
    if (last >= 0 && s[last] === strides[k]! * dims[k]!) { d[last]! *= dims[k]!; s[last] = strides[k]!; continue; }
    d.push(dims[k]!); s.push(strides[k]!);
  }
  return { dims: d, strides: s };
}

/**
 * out[i] = x[offset + Σ q_d * stride_d] over the output coordinates q (strides signed: Slice's
 * negative steps; 0 on Expand's broadcast axes). With `mods` (Tile), q_d is first taken modulo
 * mods[d]. One shader for every element type and rank.
 */
export async function stridedCopy(ctx: GpuKernelContext, x: GpuTensor, out: GpuTensor, strides: readonly number[], offset: number, mods?: readonly number[]): Promise<void> {
  if (out.size === 0) return;
  let dims = out.dims as number[], st = strides as number[];
  if (!mods) ({ dims, strides: st } = coalesce(dims, st));
  if (!mods && dims.length === 1 && st[0] === 1) { copyInto(ctx, x, out, offset, 0); return; }
  if (!mods && dims.length === 0) { copyInto(ctx, x, out, offset, 0, 1); return; }
  const r = dims.length;
  const tile = !!mods;
  await ctx.gpu.run({
    name: tile ? 'Tile' : 'StridedCopy',
    cacheKey: `tensor:strided:${tile ? 'mod' : ''}`,
    wgsl: () => `${bindings(['u32'], ['u32'])}
${FLAT_INDEX()}
${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= params[0]) { return; }
  let r = params[1];
  var rem = i; var src = bitcast<i32>(params[2]);
  for (var d = 0u; d < r; d++) {
    let os = params[3u + d];
    var q = rem / os; rem = rem - q * os;
    ${tile ? 'q = q % params[3u + 2u * r + d];' : ''}
    src += i32(q) * bitcast<i32>(params[3u + r + d]);
  }
  out0[i] = in0[u32(src)];
}`,
    inputs: [x], outputs: [out],
    params: [out.size, r, offset >>> 0, ...stridesOf(dims), ...st.map((s) => s >>> 0), ...(mods ?? [])],
    workgroups: grid(out.size),
  });
}

/** Fills a tensor with one 4-byte pattern. */
export async function fill(ctx: GpuKernelContext, out: GpuTensor, bits: number): Promise<void> {
  await ctx.gpu.run({
    name: 'Fill', cacheKey: 'tensor:fill',
    wgsl: () => `${bindings([], ['u32'])}\n${FLAT_INDEX()}\n${MAIN_1D} { let i = flatIndex(gid, nwg); if (i < params[0]) { out0[i] = params[1]; } }`,
    inputs: [], outputs: [out], params: [out.size, bits >>> 0], workgroups: grid(out.size),
  });
}
