/**
 * Element-wise unary ops on WebGPU: one generated shader per (op, element type, attributes that
 * change the code); alpha/beta-style scalars are parameters, so they never force a recompile.
 */
import type { Node } from '../../../src/ir/graph.js';
import { attrFloat, attrInt, attrString } from '../../../src/ir/graph.js';
import type { GpuKernel, GpuKernelRegistry } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { FLAT_INDEX, bindings, f32Bits, grid, WG } from '../program.js';
import { gpuElemOf, type GpuElem } from '../tensor.js';

/** WGSL helpers some expressions need (emitted only when used). */
const HELPERS: Record<string, string> = {
  erf: `fn erf_(x: f32) -> f32 {
  // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)
  let t = 1.0 / (1.0 + 0.3275911 * abs(x));
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-x * x);
  return select(-y, y, x >= 0.0);
}`,
  softplus: `fn softplus_(x: f32) -> f32 { return select(log(1.0 + exp(x)), x, x > 20.0); }`,
  tanh: `fn tanh_(x: f32) -> f32 { let c = clamp(x, -15.0, 15.0); let e = exp(2.0 * c); return (e - 1.0) / (e + 1.0); }`,
  sigmoid: `fn sigmoid_(x: f32) -> f32 { return select(exp(x) / (1.0 + exp(x)), 1.0 / (1.0 + exp(-x)), x >= 0.0); }`,
  isnan: `fn isnan_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }`,
  isinf: `fn isinf_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }`,
};

interface UnarySpec {
  /** WGSL expression of `x`; `a`, `b` are the float parameters. */
  expr: string;
  helpers?: string[];
  /** Element types accepted (default f32 only). */
  elems?: GpuElem[];
  /** Output element type when it differs from the input's. */
  out?: GpuElem;
  /** Float parameters (a, b) from the node's attributes. */
  params?: (n: Node) => [number, number];
  /** Part of the cache key: attributes that change the code. */
  variant?: (n: Node) => string;
}

const f = (expr: string, helpers?: string[]): UnarySpec => ({ expr, ...(helpers ? { helpers } : {}) });

const SPECS: Record<string, UnarySpec | ((n: Node) => UnarySpec)> = {
  Abs: { expr: 'abs(x)', elems: ['f32', 'i32', 'u32'] },
  Neg: { expr: '-x', elems: ['f32', 'i32'] },
  Sign: { expr: 'sign(x)', elems: ['f32', 'i32'] },
  Exp: f('exp(x)'), Log: f('log(x)'), Sqrt: f('sqrt(x)'), Reciprocal: f('1.0 / x'),
  Floor: f('floor(x)'), Ceil: f('ceil(x)'), Round: f('round(x)'),
  Sin: f('sin(x)'), Cos: f('cos(x)'), Tan: f('tan(x)'), Asin: f('asin(x)'), Acos: f('acos(x)'), Atan: f('atan(x)'),
  Sinh: f('sinh(x)'), Cosh: f('cosh(x)'), Asinh: f('asinh(x)'), Acosh: f('acosh(x)'), Atanh: f('atanh(x)'),
  Tanh: f('tanh_(x)', ['tanh']),
  Sigmoid: f('sigmoid_(x)', ['sigmoid']),
  Relu: { expr: 'max(x, x - x)', elems: ['f32', 'i32'] },
  Erf: f('erf_(x)', ['erf']),
  Softplus: f('softplus_(x)', ['softplus']),
  Softsign: f('x / (1.0 + abs(x))'),
  Mish: f('x * tanh_(softplus_(x))', ['softplus', 'tanh']),
  HardSwish: f('x * clamp(x / 6.0 + 0.5, 0.0, 1.0)'),
  LeakyRelu: { expr: 'select(a * x, x, x >= 0.0)', params: (n) => [attrFloat(n, 'alpha', 0.01), 0] },
  ThresholdedRelu: { expr: 'select(0.0, x, x > a)', params: (n) => [attrFloat(n, 'alpha', 1), 0] },
  Elu: { expr: 'select(a * (exp(x) - 1.0), x, x >= 0.0)', params: (n) => [attrFloat(n, 'alpha', 1), 0] },
  Celu: { expr: 'max(x, 0.0) + min(0.0, a * (exp(x / a) - 1.0))', params: (n) => [attrFloat(n, 'alpha', 1), 0] },
  Selu: { expr: 'select(b * (a * exp(x) - a), b * x, x > 0.0)', params: (n) => [attrFloat(n, 'alpha', 1.67326319217681884765625), attrFloat(n, 'gamma', 1.05070102214813232421875)] },
  HardSigmoid: { expr: 'clamp(a * x + b, 0.0, 1.0)', params: (n) => [attrFloat(n, 'alpha', 0.2), attrFloat(n, 'beta', 0.5)] },
  Gelu: (n) => attrString(n, 'approximate', 'none') === 'tanh'
    ? { expr: '0.5 * x * (1.0 + tanh_(0.7978845608028654 * (x + 0.044715 * x * x * x)))', helpers: ['tanh'], variant: () => 'tanh' }
    : { expr: '0.5 * x * (1.0 + erf_(x * 0.7071067811865476))', helpers: ['erf'], variant: () => 'erf' },
  Not: { expr: 'select(1u, 0u, x != 0u)', elems: ['u32'] },
  IsNaN: { expr: 'select(0u, 1u, isnan_(x))', helpers: ['isnan'], out: 'u32' },
  IsInf: (n) => {
    const pos = attrInt(n, 'detect_positive', 1), neg = attrInt(n, 'detect_negative', 1);
    return { expr: `select(0u, 1u, isinf_(x) && ((x > 0.0 && ${pos === 1}) || (x < 0.0 && ${neg === 1})))`, helpers: ['isinf'], out: 'u32', variant: () => `${pos}${neg}` };
  },
};

function unary(op: string): GpuKernel {
  const specOf = (n: Node): UnarySpec => { const s = SPECS[op]!; return typeof s === 'function' ? s(n) : s; };
  return {
    unsupported(node, inputs) {
      const e = inputs[0] && gpuElemOf(inputs[0].dtype);
      return e && (specOf(node).elems ?? ['f32']).includes(e) ? undefined : `${op} on ${inputs[0]?.dtype} is not implemented on WebGPU`;
    },
    async run(ctx) {
      const x = gin(ctx, 0);
      const spec = specOf(ctx.node);
      const dims = outDims(ctx);
      const y = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, dims);
      const inE = x.elem, outE = spec.out ?? inE;
      const [a, b] = spec.params?.(ctx.node) ?? [0, 0];
      const usesAB = spec.params !== undefined;
      await ctx.gpu.run({
        name: op,
        cacheKey: `unary:${op}:${inE}:${spec.variant?.(ctx.node) ?? ''}`,
        wgsl: () => `${bindings([inE], [outE])}
${(spec.helpers ?? []).map((h) => HELPERS[h]).join('\n')}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= params[0]) { return; }
  ${usesAB ? 'let a = bitcast<f32>(params[1]); let b = bitcast<f32>(params[2]);' : ''}
  let x = in0[i];
  out0[i] = ${spec.expr};
}`,
        inputs: [x], outputs: [y],
        params: [x.size, f32Bits(a), f32Bits(b)],
        workgroups: grid(x.size),
      });
      return [y];
    },
  };
}

/** Identity-like ops: a copy (each value keeps its own buffer, so lifetimes stay simple). */
const copyKernel: GpuKernel = {
  async run(ctx) {
    const x = gin(ctx, 0);
    const y = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, outDims(ctx));
    ctx.gpu.copy(x.buffer, 0, y.buffer, 0, x.bytes);
    const outs: (typeof y | undefined)[] = [y];
    if (ctx.node.opType === 'Dropout' && ctx.node.outputs[1]) {
      const mask = ctx.gpu.alloc('bool', outDims(ctx, 1));
      await ctx.gpu.run({
        name: 'fill1', cacheKey: 'fill:u32:1',
        wgsl: () => `${bindings([], ['u32'])}\n${FLAT_INDEX()}\n@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) { let i = flatIndex(gid, nwg); if (i < params[0]) { out0[i] = 1u; } }`,
        inputs: [], outputs: [mask], params: [mask.size], workgroups: grid(mask.size),
      });
      outs.push(mask);
    }
    return outs;
  },
};

export const kernels: GpuKernelRegistry = {
  ...Object.fromEntries(Object.keys(SPECS).map((op) => [op, unary(op)])),
  Identity: copyKernel,
  Dropout: {
    ...copyKernel,
    hostInputs: [1, 2],
    unsupported(node) {
      return node.inputs[2] ? 'Dropout with training_mode runs on the CPU (random mask)' : undefined;
    },
  },
};
