/**
 * Unary element-wise kernels. Each op has its own loop (no shared loop calling a per-element
 * callback) so V8 inlines the math into a monomorphic loop. Low-precision floats are computed in
 * float64 and rounded by the executor; integer results wrap through the typed array store.
 */
import { attrFloat, attrInt } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import type { NumericArray } from '../../src/ir/dtype.js';
import { geluMode } from '../../src/ir/ops/elementwise.js';
import { input, outDims, type CpuKernel, type KernelContext, type KernelRegistry } from './kernel.js';
import { erf, roundHalfEven, softplus } from './elementwise-math.js';

type Loop = (x: NumericArray, y: NumericArray, n: number, ctx: KernelContext) => void;

/** Allocates the output like the input (schema type and dims) and runs the op's loop. */
function unary(loop: Loop): CpuKernel {
  return (ctx) => {
    const x = input(ctx, 0);
    const out = new HostTensor(ctx.outputTypes[0]!.dtype, outDims(ctx));
    loop(x.numbers, out.numbers, x.size, ctx);
    return [out];
  };
}

const SQRT1_2 = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const SELU_ALPHA = 1.67326319217681884765625;
const SELU_GAMMA = 1.05070102214813232421875;

export const unaryKernels: KernelRegistry = {
  Abs: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.abs(x[i]!); }),
  Neg: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = -x[i]!; }),
  Exp: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.exp(x[i]!); }),
  Log: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.log(x[i]!); }),
  Sqrt: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.sqrt(x[i]!); }),
  Reciprocal: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = 1 / x[i]!; }),
  Floor: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.floor(x[i]!); }),
  Ceil: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.ceil(x[i]!); }),
  Round: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = roundHalfEven(x[i]!); }),
  Sign: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.sign(x[i]!); }),
  Sin: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.sin(x[i]!); }),
  Cos: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.cos(x[i]!); }),
  Tan: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.tan(x[i]!); }),
  Asin: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.asin(x[i]!); }),
  Acos: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.acos(x[i]!); }),
  Atan: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.atan(x[i]!); }),
  Sinh: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.sinh(x[i]!); }),
  Cosh: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.cosh(x[i]!); }),
  Tanh: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]!); }),
  Asinh: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.asinh(x[i]!); }),
  Acosh: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.acosh(x[i]!); }),
  Atanh: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.atanh(x[i]!); }),
  Erf: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = erf(x[i]!); }),
  // 1/(1+e^-v) saturates correctly at both ends in float64 (e^-v = inf gives 0); no branch.
  Sigmoid: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = 1 / (1 + Math.exp(-x[i]!)); }),
  // Branch-free: +(v > 0) * v (+0 clears -0); only -inf and NaN (r is NaN) take the slow path.
  Relu: unary((x, y, n) => {
    for (let i = 0; i < n; i++) { const v = x[i]!; const r = +(v > 0) * v; y[i] = r === r ? r + 0 : v === v ? 0 : v; }
  }),
  LeakyRelu: unary((x, y, n, ctx) => {
    const alpha = attrFloat(ctx.node, 'alpha', 0.01);
    for (let i = 0; i < n; i++) { const v = x[i]!; const m = +(v < 0); y[i] = v * (m * alpha + (1 - m)); }
  }),
  ThresholdedRelu: unary((x, y, n, ctx) => {
    const alpha = attrFloat(ctx.node, 'alpha', 1);
    for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = v > alpha ? v : 0; }
  }),
  Elu: unary((x, y, n, ctx) => {
    const alpha = attrFloat(ctx.node, 'alpha', 1);
    for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = v >= 0 ? v : alpha * Math.expm1(v); }
  }),
  Selu: unary((x, y, n, ctx) => {
    const alpha = attrFloat(ctx.node, 'alpha', SELU_ALPHA);
    const gamma = attrFloat(ctx.node, 'gamma', SELU_GAMMA);
    for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = v > 0 ? gamma * v : gamma * alpha * Math.expm1(v); }
  }),
  Celu: unary((x, y, n, ctx) => {
    const alpha = attrFloat(ctx.node, 'alpha', 1);
    for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = v > 0 ? v : alpha * Math.expm1(v / alpha); }
  }),
  HardSigmoid: unary((x, y, n, ctx) => {
    const alpha = attrFloat(ctx.node, 'alpha', 0.2);
    const beta = attrFloat(ctx.node, 'beta', 0.5);
    for (let i = 0; i < n; i++) { const v = alpha * x[i]! + beta; y[i] = v < 0 ? 0 : v > 1 ? 1 : v; }
  }),
  HardSwish: unary((x, y, n) => {
    for (let i = 0; i < n; i++) { const v = x[i]!; const h = v / 6 + 0.5; y[i] = h <= 0 ? 0 : h >= 1 ? v : v * h; }
  }),
  Softplus: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = softplus(x[i]!); }),
  Softsign: unary((x, y, n) => { for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = v / (1 + Math.abs(v)); } }),
  Mish: unary((x, y, n) => { for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = v * Math.tanh(softplus(v)); } }),
  Gelu: unary((x, y, n, ctx) => {
    if (geluMode(ctx.node) === 'tanh') {
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        y[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
      }
    } else {
      for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = 0.5 * v * (1 + erf(v * SQRT1_2)); }
    }
  }),
  Not: unary((x, y, n) => { for (let i = 0; i < n; i++) y[i] = x[i]! ^ 1; }),
  BitwiseNot: (ctx) => {
    const x = input(ctx, 0);
    const out = new HostTensor(x.dtype, outDims(ctx));
    const xs = x.numbers;
    const ys = out.numbers;
    const n = x.size;
    if (x.dtype === 'uint64') {
      // 2^64 - 1 - v is not exact in float64; int64/uint64 are exact only below 2^53 anyway.
      for (let i = 0; i < n; i++) ys[i] = 18446744073709551615 - xs[i]!;
    } else if (x.dtype === 'int64') {
      for (let i = 0; i < n; i++) ys[i] = -xs[i]! - 1;
    } else {
      // ~v as int32; the typed array store wraps it to the element type.
      for (let i = 0; i < n; i++) ys[i] = ~xs[i]!;
    }
    return [out];
  },
  IsNaN: unary((x, y, n) => { for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = +(v !== v); } }),
  IsInf: unary((x, y, n, ctx) => {
    const pos = attrInt(ctx.node, 'detect_positive', 1) !== 0;
    const neg = attrInt(ctx.node, 'detect_negative', 1) !== 0;
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      y[i] = (pos && v === Infinity) || (neg && v === -Infinity) ? 1 : 0;
    }
  }),
};
