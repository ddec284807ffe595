/**
 * QuantizeLinear / DequantizeLinear (per tensor and per axis) and DynamicQuantizeLinear on WebGPU,
 * following backends/cpu/quant-linear.ts. 8- and 16-bit integers live as i32/u32 on the GPU, so the
 * saturation bounds are parameters. Blocked scales, float8/float4/int4/int2 forms and int32 inputs
 * of QuantizeLinear (the reference divides in float64) stay on the CPU.
 *
 * The parameter index of element i is (i / inner) % A: A = 1 per tensor, A = dims[axis] per axis.
 * x / scale is rounded to the type numpy divides in (float16/bfloat16 when both are) before WGSL's
 * round(), which rounds half to even as the reference does. WGSL allows f32 division 2.5 ULP of
 * error; lavapipe and common GPUs divide exactly for these operands, but a quotient one ULP from a
 * .5 tie could round the other way on a GPU that does not.
 */
import { dtypeFromOnnx, intRange, isFloat, type DType } from '../../../src/ir/dtype.js';
import { attrInt, type Node, type ValueType } from '../../../src/ir/graph.js';
import { quantMode } from '../../../src/ir/ops/quant-shapes.js';
import type { GpuKernel, GpuKernelContext, GpuKernelRegistry } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { FLAT_INDEX, bindings, f32Bits, grid, WG } from '../program.js';
import type { GpuTensor } from '../tensor.js';

// Sub-byte ints live unpacked on the GPU (one i32/u32 per element), so they quantize like int8.
const INTS: ReadonlySet<DType> = new Set<DType>(['int8', 'uint8', 'int16', 'uint16', 'int4', 'uint4', 'int2', 'uint2']);

/** Why the scale layout cannot run here (blocked), or undefined; symbolic shapes are left to run(). */
function layoutProblem(node: Node, x: ValueType | undefined, s: ValueType | undefined): string | undefined {
  if (!x?.shape || !s?.shape) return 'QuantizeLinear/DequantizeLinear need known shapes on WebGPU';
  const mode = quantMode(x.shape, s.shape, attrInt(node, 'axis', 1), attrInt(node, 'block_size', 0), 'scale');
  return mode === 'block' ? 'blocked quantization runs on the CPU' : undefined;
}

/** [inner, A] of the scale layout for concrete dims. */
function paramLayout(node: Node, xDims: readonly number[], sDims: readonly number[]): [number, number] {
  if (quantMode(xDims, sDims, attrInt(node, 'axis', 1), 0, 'scale') === 'tensor') return [1, 1];
  const rank = xDims.length;
  const a = attrInt(node, 'axis', 1);
  const ax = a < 0 ? a + rank : a;
  let inner = 1;
  for (let i = ax + 1; i < rank; i++) inner *= xDims[i]!;
  return [inner, xDims[ax]!];
}

/** WGSL rounding of the quotient to the type numpy computes it in. */
function quotientRounding(x: DType, s: DType, precision: number): [string, string] {
  const t = precision !== 0 ? dtypeFromOnnx(precision) ?? 'float32' : x === s ? x : 'float32';
  // pack2x16float is indeterminate outside f16's finite range: round there by hand (to 65504 or
  // past every integer bound, as IEEE rounding to f16 gives 65504 or inf).
  if (t === 'float16') return ['f16', 'select(select(sign(q) * 1e30, sign(q) * 65504.0, abs(q) < 65520.0), unpack2x16float(pack2x16float(vec2f(q, 0.0))).x, abs(q) <= 65504.0)'];
  if (t === 'bfloat16') return ['bf16', 'bitcast<f32>((bitcast<u32>(q) + 0x7fffu + ((bitcast<u32>(q) >> 16u) & 1u)) & 0xffff0000u)'];
  return ['f32', 'q'];
}

const quantize: GpuKernel = {
  unsupported(node, inputs, outputs) {
    const x = inputs[0], out = outputs[0];
    if (!x || !isFloat(x.dtype)) return `QuantizeLinear of ${x?.dtype} runs on the CPU (float64 quotient)`;
    if (!['float32', 'float16', 'bfloat16'].includes(x.dtype)) return `QuantizeLinear of ${x.dtype} runs on the CPU`;
    if (x.dtype === 'float64' || inputs[1]?.dtype === 'float64') return 'QuantizeLinear in float64 runs on the CPU';
    if (!out || !INTS.has(out.dtype)) return `QuantizeLinear to ${out?.dtype} runs on the CPU`;
    return layoutProblem(node, x, inputs[1]);
  },
  async run(ctx) {
    const x = gin(ctx, 0), s = gin(ctx, 1), z = ctx.inputs[2];
    const outType = ctx.outputTypes[0]!.dtype;
    const y = ctx.gpu.alloc(outType, outDims(ctx));
    const [inner, A] = paramLayout(ctx.node, x.dims, s.dims);
    const [lo, hi] = intRange(outType);
    const oe = y.elem;
    const [qt, round] = quotientRounding(x.dtype, s.dtype, attrInt(ctx.node, 'precision', 0));
    const ins: GpuTensor[] = z ? [x, s, z] : [x, s];
    await ctx.gpu.run({
      name: 'QuantizeLinear',
      cacheKey: `quant:${oe}:${z ? 'zp' : 'nozp'}:${qt}`,
      wgsl: () => `${bindings(ins.map((t) => t.elem), [oe])}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= params[0]) { return; }
  let p = (i / params[1]) % params[2];
  var q = in0[i] / in1[p];
  q = ${round};
  let v = clamp(round(q) ${z ? '+ f32(in2[p])' : ''}, bitcast<f32>(params[3]), bitcast<f32>(params[4]));
  out0[i] = ${oe}(v);
}`,
      inputs: ins, outputs: [y], params: [y.size, inner, A, f32Bits(lo), f32Bits(hi)], workgroups: grid(y.size),
    });
    return [y];
  },
};

const dequantize: GpuKernel = {
  unsupported(node, inputs) {
    const x = inputs[0];
    if (!x || (!INTS.has(x.dtype) && x.dtype !== 'int32')) return `DequantizeLinear of ${x?.dtype} runs on the CPU`;
    return layoutProblem(node, x, inputs[1]);
  },
  async run(ctx) {
    const x = gin(ctx, 0), s = gin(ctx, 1), z = ctx.inputs[2];
    const y = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, outDims(ctx));
    const [inner, A] = paramLayout(ctx.node, x.dims, s.dims);
    const ins: GpuTensor[] = z ? [x, s, z] : [x, s];
    // Integer difference first (exact for 8/16-bit types), one rounding to f32, one product.
    const dx = z ? (x.elem === 'u32' ? 'f32(i32(in0[i]) - i32(in2[p]))' : 'f32(in0[i] - in2[p])') : 'f32(in0[i])';
    await ctx.gpu.run({
      name: 'DequantizeLinear',
      cacheKey: `dequant:${x.elem}:${z ? 'zp' : 'nozp'}`,
      wgsl: () => `${bindings(ins.map((t) => t.elem), ['f32'])}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= params[0]) { return; }
  let p = (i / params[1]) % params[2];
  out0[i] = ${dx} * in1[p];
}`,
      inputs: ins, outputs: [y], params: [y.size, inner, A], workgroups: grid(y.size),
    });
    return [y];
  },
};

const WGD = 256;

/** Min/max tree over `smx`/`smn` (workgroup arrays of WGD), result in element 0. */
const MINMAX_TREE = `smx[lid] = mx; smn[lid] = mn;
  workgroupBarrier();
  for (var s = ${WGD / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { smx[lid] = max(smx[lid], smx[lid + s]); smn[lid] = min(smn[lid], smn[lid + s]); }
    workgroupBarrier();
  }`;

/**
 * DynamicQuantizeLinear in three dispatches, with no readback: G workgroups reduce min/max (0 is
 * always in the range) into 2G partials; one workgroup folds the partials and writes the scale and
 * zero point (as the reference computes them, in f32); then every element is quantized, reading
 * them from GPU memory.
 */
const dynamicQuantize: GpuKernel = {
  unsupported(_node, inputs) {
    return inputs[0]?.dtype === 'float32' ? undefined : `DynamicQuantizeLinear of ${inputs[0]?.dtype} runs on the CPU`;
  },
  async run(ctx: GpuKernelContext) {
    const x = gin(ctx, 0);
    const y = ctx.gpu.alloc('uint8', outDims(ctx, 0));
    const scale = ctx.gpu.alloc(ctx.outputTypes[1]!.dtype, []);
    const zp = ctx.gpu.alloc('uint8', []);
    const groups = Math.max(1, Math.min(256, Math.ceil(x.size / (WGD * 16))));
    const partial = ctx.gpu.alloc('float32', [2 * groups]);
    await ctx.gpu.run({
      name: 'DynamicQuantizeLinear.partial', cacheKey: 'dql:partial',
      wgsl: () => `${bindings(['f32'], ['f32'])}
var<workgroup> smx: array<f32, ${WGD}>;
var<workgroup> smn: array<f32, ${WGD}>;
@compute @workgroup_size(${WGD}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = params[1];
  var mx = 0.0; var mn = 0.0;
  for (var i = wid.x * ${WGD}u + lid; i < params[0]; i += g * ${WGD}u) { let v = in0[i]; mx = max(mx, v); mn = min(mn, v); }
  ${MINMAX_TREE}
  if (lid == 0u) { out0[wid.x] = smx[0]; out0[g + wid.x] = smn[0]; }
}`,
      inputs: [x], outputs: [partial], params: [x.size, groups], workgroups: [groups, 1, 1],
    });
    await ctx.gpu.run({
      name: 'DynamicQuantizeLinear.params', cacheKey: 'dql:params',
      wgsl: () => `${bindings(['f32'], ['f32', 'u32'])}
var<workgroup> smx: array<f32, ${WGD}>;
var<workgroup> smn: array<f32, ${WGD}>;
@compute @workgroup_size(${WGD}) fn main(@builtin(local_invocation_index) lid: u32) {
  let g = params[0];
  var mx = 0.0; var mn = 0.0;
  for (var i = lid; i < g; i += ${WGD}u) { mx = max(mx, in0[i]); mn = min(mn, in0[g + i]); }
  ${MINMAX_TREE}
  if (lid == 0u) {
    let hi = smx[0]; let lo = smn[0];
    let sc = select((hi - lo) / 255.0, 1.0, hi == lo);
    out0[0] = sc;
    out1[0] = u32(round(clamp(0.0 - lo / sc, 0.0, 255.0)));
  }
}`,
      inputs: [partial], outputs: [scale, zp], params: [groups], workgroups: [1, 1, 1],
    });
    ctx.gpu.release(partial);
    await ctx.gpu.run({
      name: 'DynamicQuantizeLinear.quantize', cacheKey: 'dql:quant',
      wgsl: () => `${bindings(['f32', 'f32', 'u32'], ['u32'])}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= params[0]) { return; }
  out0[i] = u32(clamp(round(in0[i] / in1[0]) + f32(in2[0]), 0.0, 255.0));
}`,
      inputs: [x, scale, zp], outputs: [y], params: [x.size], workgroups: grid(x.size),
    });
    return [y, scale, zp];
  },
};

export const kernels: GpuKernelRegistry = {
  QuantizeLinear: quantize,
  DequantizeLinear: dequantize,
  DynamicQuantizeLinear: dynamicQuantize,
};
