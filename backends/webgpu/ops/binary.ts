/**
 * Element-wise binary and ternary ops on WebGPU with numpy broadcasting. The output index is
 * mapped to each input through per-input strides (0 on broadcast axes), passed as parameters; the
 * same-shape case skips the index arithmetic. Variadic Sum/Mean/Max/Min chain binary steps.
 */

import { attrInt } from '../../../src/ir/graph.js';
import { stridesOf } from '../../../src/ir/tensor.js';
import type { GpuKernel, GpuKernelContext, GpuKernelRegistry } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { FLAT_INDEX, bindings, f32Bits, grid, i32Bits, WG } from '../program.js';
import { gpuElemOf, type GpuElem, type GpuTensor } from '../tensor.js';

/** Strides of `dims` broadcast into an output of rank `rank` (0 where the input has size 1). */
function bstrides(dims: readonly number[], rank: number): number[] {
  const s = stridesOf(dims);
  const out = new Array<number>(rank).fill(0);
  for (let i = 0; i < dims.length; i++) out[rank - dims.length + i] = dims[i] === 1 ? 0 : s[i]!;
  return out;
}

const POWF = `fn powf_(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  if (x >= 0.0) { return pow(x, y); }
  let yi = round(y);
  var nanBits = 0x7fc00000u; // a var, so NaN is not a (rejected) constant expression
  if (yi != y) { return bitcast<f32>(nanBits); }
  let r = pow(-x, y);
  return select(r, -r, (i32(yi) & 1) == 1);
}`;
const POWI = `fn powi_(x: i32, y: i32) -> i32 { var r = 1; var b = x; var e = y; if (e < 0) { return select(0, select(-1, 1, (e & 1) == 0), x == -1) + select(0, 1, x == 1); } loop { if (e == 0) { break; } if ((e & 1) == 1) { r = r * b; } b = b * b; e = e >> 1; } return r; }`;
const MODI = `fn modi_(a: i32, b: i32) -> i32 { let r = a % b; return select(r, r + b, r != 0 && ((r < 0) != (b < 0))); }`;

interface BinSpec { expr: (e: GpuElem) => string; out?: GpuElem; elems?: GpuElem[]; helper?: (e: GpuElem) => string }

const CMP = (op: string): BinSpec => ({ expr: () => `select(0u, 1u, a ${op} b)`, out: 'u32', elems: ['f32', 'i32', 'u32'] });
const LOGIC = (expr: string): BinSpec => ({ expr: () => expr, elems: ['u32'] });

const BIN: Record<string, BinSpec> = {
  Add: { expr: () => 'a + b', elems: ['f32', 'i32', 'u32'] },
  Sub: { expr: () => 'a - b', elems: ['f32', 'i32', 'u32'] },
  Mul: { expr: () => 'a * b', elems: ['f32', 'i32', 'u32'] },
  Div: { expr: () => 'a / b', elems: ['f32', 'i32', 'u32'] },
  Max: { expr: () => 'max(a, b)', elems: ['f32', 'i32', 'u32'] },
  Min: { expr: () => 'min(a, b)', elems: ['f32', 'i32', 'u32'] },
  Pow: { expr: (e) => (e === 'f32' ? 'powf_(a, f32(b))' : 'powi_(a, b)'), elems: ['f32', 'i32'], helper: (e) => (e === 'f32' ? POWF : POWI) },
  PRelu: { expr: () => 'select(a * b, a, a >= 0.0)' },
  Equal: CMP('=='), Less: CMP('<'), LessOrEqual: CMP('<='), Greater: CMP('>'), GreaterOrEqual: CMP('>='),
  And: LOGIC('a & b'), Or: LOGIC('a | b'), Xor: LOGIC('a ^ b'),
};

/** Records out = expr(a, b) with broadcasting. */
async function binary(ctx: GpuKernelContext, name: string, expr: string, helper: string, a: GpuTensor, b: GpuTensor, out: GpuTensor, variant: string): Promise<void> {
  const dims = out.dims;
  const rank = dims.length;
  const same = a.size === out.size && b.size === out.size;
  const elemA = a.elem, elemB = b.elem;
  const params = [out.size, rank, ...stridesOf(dims), ...bstrides(a.dims, rank), ...bstrides(b.dims, rank)];
  await ctx.gpu.run({
    name,
    cacheKey: `bin:${name}:${variant}:${elemA},${elemB}->${out.elem}:${same ? 'same' : 'bc'}`,
    wgsl: () => `${bindings([elemA, elemB], [out.elem])}
${helper}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= params[0]) { return; }
  ${same ? 'let ia = i; let ib = i;' : `let r = params[1];
  var rem = i; var ia = 0u; var ib = 0u;
  for (var d = 0u; d < r; d++) {
    let q = rem / params[2u + d]; rem = rem % params[2u + d];
    ia += q * params[2u + r + d]; ib += q * params[2u + 2u * r + d];
  }`}
  let a = in0[ia]; let b = in1[ib];
  out0[i] = ${expr};
}`,
    inputs: [a, b], outputs: [out], params, workgroups: grid(out.size),
  });
}

function binaryKernel(op: string): GpuKernel {
  const spec = BIN[op]!;
  return {
    unsupported(_node, inputs) {
      const e = inputs[0] && gpuElemOf(inputs[0].dtype);
      return e && (spec.elems ?? ['f32']).includes(e) ? undefined : `${op} on ${inputs[0]?.dtype} is not implemented on WebGPU`;
    },
    async run(ctx) {
      const a = gin(ctx, 0), b = gin(ctx, 1);
      const out = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, outDims(ctx));
      let expr = spec.expr(a.elem), helper = spec.helper?.(a.elem) ?? '';
      if (op === 'Pow' && a.elem === 'i32') {
        // int base: exact integer power for an integer exponent, float power otherwise
        [expr, helper] = b.elem === 'f32' ? ['i32(powf_(f32(a), b))', POWF] : ['powi_(a, i32(b))', POWI];
      }
      await binary(ctx, op, expr, helper, a, b, out, '');
      return [out];
    },
  };
}

const modKernel: GpuKernel = {
  unsupported(node, inputs) {
    const e = inputs[0] && gpuElemOf(inputs[0].dtype);
    if (e === 'f32' && attrInt(node, 'fmod', 0) !== 1) return 'Mod on floats needs fmod=1';
    return e ? undefined : `Mod on ${inputs[0]?.dtype} is not implemented on WebGPU`;
  },
  async run(ctx) {
    const a = gin(ctx, 0), b = gin(ctx, 1);
    const out = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, outDims(ctx));
    const fmod = attrInt(ctx.node, 'fmod', 0) === 1 || a.elem !== 'i32'; // unsigned: both rules agree
    await binary(ctx, 'Mod', fmod ? 'a % b' : 'modi_(a, b)', fmod ? '' : MODI, a, b, out, fmod ? 'fmod' : 'py');
    return [out];
  },
};

/** Sum/Mean/Max/Min over any number of inputs, as a chain of broadcasting binary steps. */
function variadic(op: 'Sum' | 'Mean' | 'Max' | 'Min'): GpuKernel {
  const expr = op === 'Max' ? 'max(a, b)' : op === 'Min' ? 'min(a, b)' : 'a + b';
  return {
    unsupported(_n, inputs) {
      const e = inputs[0] && gpuElemOf(inputs[0].dtype);
      const ok = e === 'f32' || ((e === 'i32' || (e === 'u32' && op !== 'Sum')) && op !== 'Mean') || (e === 'u32' && op === 'Sum');
      return ok ? undefined : `${op} on ${inputs[0]?.dtype} is not implemented on WebGPU`;
    },
    async run(ctx) {
      const dims = outDims(ctx);
      const dtype = ctx.outputTypes[0]!.dtype;
      const ins = ctx.inputs.filter((t): t is GpuTensor => !!t);
      let acc = ctx.gpu.alloc(dtype, dims);
      if (ins.length === 1) {
        ctx.gpu.copy(ins[0]!.buffer, 0, acc.buffer, 0, acc.bytes);
      } else {
        await binary(ctx, op, expr, '', ins[0]!, ins[1]!, acc, '');
        for (let k = 2; k < ins.length; k++) {
          const next = ctx.gpu.alloc(dtype, dims);
          await binary(ctx, op, expr, '', acc, ins[k]!, next, '');
          ctx.gpu.release(acc);
          acc = next;
        }
      }
      if (op === 'Mean') {
        const out = ctx.gpu.alloc(dtype, dims);
        await ctx.gpu.run({
          name: 'scale', cacheKey: 'scale:f32',
          wgsl: () => `${bindings(['f32'], ['f32'])}\n${FLAT_INDEX()}\n@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) { let i = flatIndex(gid, nwg); if (i < params[0]) { out0[i] = in0[i] * bitcast<f32>(params[1]); } }`,
          inputs: [acc], outputs: [out], params: [out.size, f32Bits(1 / ins.length)], workgroups: grid(out.size),
        });
        ctx.gpu.release(acc);
        acc = out;
      }
      return [acc];
    },
  };
}

const whereKernel: GpuKernel = {
  async run(ctx) {
    const c = gin(ctx, 0), a = gin(ctx, 1), b = gin(ctx, 2);
    const out = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, outDims(ctx));
    const rank = out.dims.length;
    const e = a.elem;
    await ctx.gpu.run({
      name: 'Where', cacheKey: `where:${e}`,
      wgsl: () => `${bindings(['u32', e, e], [e])}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= params[0]) { return; }
  let r = params[1];
  var rem = i; var ic = 0u; var ia = 0u; var ib = 0u;
  for (var d = 0u; d < r; d++) {
    let q = rem / params[2u + d]; rem = rem % params[2u + d];
    ic += q * params[2u + r + d]; ia += q * params[2u + 2u * r + d]; ib += q * params[2u + 3u * r + d];
  }
  out0[i] = select(in2[ib], in1[ia], in0[ic] != 0u);
}`,
      inputs: [c, a, b], outputs: [out],
      params: [out.size, rank, ...stridesOf(out.dims), ...bstrides(c.dims, rank), ...bstrides(a.dims, rank), ...bstrides(b.dims, rank)],
      workgroups: grid(out.size),
    });
    return [out];
  },
};

/** Clip with bounds from (constant) inputs, read on the host. */
const clipKernel: GpuKernel = {
  hostInputs: [1, 2],
  async run(ctx) {
    const x = gin(ctx, 0);
    const e = x.elem;
    const [tmin, tmax] = e === 'f32' ? [-3.4028234663852886e38, 3.4028234663852886e38] : e === 'i32' ? [-2147483648, 2147483647] : [0, 4294967295];
    const lo = Math.max(ctx.host(1)?.num(0) ?? tmin, tmin);
    const hi = Math.min(ctx.host(2)?.num(0) ?? tmax, tmax);
    const bits = (v: number) => (e === 'f32' ? f32Bits(v) : v >>> 0);
    const out = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, outDims(ctx));
    await ctx.gpu.run({
      name: 'Clip', cacheKey: `clip:${e}`,
      wgsl: () => `${bindings([e], [e])}\n${FLAT_INDEX()}\n@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) { let i = flatIndex(gid, nwg); if (i < params[0]) { out0[i] = min(max(in0[i], bitcast<${e}>(params[1])), bitcast<${e}>(params[2])); } }`,
      inputs: [x], outputs: [out], params: [x.size, bits(lo), bits(hi)], workgroups: grid(x.size),
    });
    return [out];
  },
};

/** Conversion between the GPU element forms, rounding to the target's precision and range. */
function castExpr(from: GpuElem, to: DTypeName): string {
  const toE = gpuElemOf(to as never)!;
  if (to === 'bool') return from === 'f32' ? 'select(0u, 1u, x != 0.0)' : from === 'i32' ? 'select(0u, 1u, x != 0)' : 'select(0u, 1u, x != 0u)';
  if (toE === 'f32') {
    const v = from === 'f32' ? 'x' : 'f32(x)';
    if (to === 'float16') return `f16r_(${v})`;
    if (NARROW[to]) return `f8r_(${v})`;
    if (to === 'bfloat16') return `bitcast<f32>((bitcast<u32>(${v}) + 0x7fffu + ((bitcast<u32>(${v}) >> 16u) & 1u)) & 0xffff0000u)`;
    return v;
  }
  const wrap = (v: string) => {
    switch (to) {
      case 'int8': return `((${v} << 24u) >> 24u)`;
      case 'int16': return `((${v} << 16u) >> 16u)`;
      case 'uint8': return `(${v} & 0xffu)`;
      case 'uint16': return `(${v} & 0xffffu)`;
      case 'int4': return `((${v} << 28u) >> 28u)`;
      case 'uint4': return `(${v} & 0xfu)`;
      case 'int2': return `((${v} << 30u) >> 30u)`;
      case 'uint2': return `(${v} & 0x3u)`;
      default: return v;
    }
  };
  if (toE === 'i32') return wrap(from === 'i32' ? 'x' : from === 'u32' ? 'bitcast<i32>(x)' : 'i32(trunc(x))');
  return wrap(from === 'u32' ? 'x' : from === 'i32' ? 'bitcast<u32>(x)' : 'u32(i32(trunc(x)))');
}
type DTypeName = string;

/**
 * float8 / float4 grids: mantissa bits, smallest normal exponent, largest finite value, and what an
 * overflow becomes without saturation (e5m2 has infinities; the fn/fnuz types only NaN; float4
 * always saturates). Rounding is to nearest even on the grid (the host re-encodes on readback).
 */
const NARROW: Record<string, { mbits: number; emin: number; max: number; noSat: 'inf' | 'nan' | 'max' }> = {
  float8e4m3fn: { mbits: 3, emin: -6, max: 448, noSat: 'nan' },
  float8e4m3fnuz: { mbits: 3, emin: -7, max: 240, noSat: 'nan' },
  float8e5m2: { mbits: 2, emin: -14, max: 57344, noSat: 'inf' },
  float8e5m2fnuz: { mbits: 2, emin: -15, max: 57344, noSat: 'nan' },
  float4e2m1: { mbits: 1, emin: 0, max: 6, noSat: 'max' },
};

/** WGSL rounding to a narrow float grid; parameters 1..4 hold mbits, emin, max, overflow value. */
const F8R = `fn f8r_(x: f32) -> f32 {
  if (x != x) { return x; }
  let a = abs(x);
  if (a == 0.0) { return x; }
  let mbits = bitcast<i32>(params[1]);
  let emin = bitcast<i32>(params[2]);
  let maxv = bitcast<f32>(params[3]);
  let e = max(i32((bitcast<u32>(a) >> 23u) & 0xffu) - 127, emin);
  let q = exp2(f32(e - mbits));
  let r = round(a / q) * q;
  if (r > maxv) { return sign(x) * bitcast<f32>(params[4]); }
  return sign(x) * r;
}`;

/** Rounds to float16 (pack2x16float is indeterminate outside f16's finite range: handled by hand). */
const F16R = `fn f16r_(v: f32) -> f32 {
  var infBits = 0x7f800000u;
  if (abs(v) <= 65504.0) { return unpack2x16float(pack2x16float(vec2f(v, 0.0))).x; }
  if (v != v) { return v; }
  if (abs(v) < 65520.0) { return sign(v) * 65504.0; }
  return sign(v) * bitcast<f32>(infBits);
}`;

function castKernel(like: boolean): GpuKernel {
  return {
    async run(ctx) {
      const x = gin(ctx, 0);
      const to = ctx.outputTypes[0]!.dtype;
      const out = ctx.gpu.alloc(to, outDims(ctx));
      const toE = gpuElemOf(to)!;
      const nf = NARROW[to];
      const sat = attrInt(ctx.node, 'saturate', 1) === 1;
      const ovf = !nf ? 0 : sat || nf.noSat === 'max' ? f32Bits(nf.max) : nf.noSat === 'inf' ? 0x7f800000 : 0x7fc00000;
      await ctx.gpu.run({
        name: like ? 'CastLike' : 'Cast', cacheKey: `cast:${x.elem}->${to}`,
        wgsl: () => `${bindings([x.elem], [toE])}\n${to === 'float16' ? F16R : nf ? F8R : ''}\n${FLAT_INDEX()}\n@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) { let i = flatIndex(gid, nwg); if (i < params[0]) { let x = in0[i]; out0[i] = ${castExpr(x.elem, to)}; } }`,
        inputs: [x], outputs: [out],
        params: nf ? [x.size, i32Bits(nf.mbits), i32Bits(nf.emin), f32Bits(nf.max), ovf] : [x.size],
        workgroups: grid(x.size),
      });
      return [out];
    },
  };
}

export const kernels: GpuKernelRegistry = {
  ...Object.fromEntries(Object.keys(BIN).map((op) => [op, binaryKernel(op)])),
  Mod: modKernel,
  Sum: variadic('Sum'), Mean: variadic('Mean'), Max: variadic('Max'), Min: variadic('Min'),
  Where: whereKernel,
  Clip: clipKernel,
  Cast: castKernel(false),
  CastLike: castKernel(true),
};

