/**
 * Element-wise ONNX ops as TensorRT layers: IElementWiseLayer (operands lifted to one rank),
 * IUnaryLayer, IActivationLayer, IParametricReLULayer, ISelectLayer, ICastLayer, IIdentityLayer.
 */
import { attrFloat, attrInt, attrString } from '../../src/ir/graph.js';
import { dtypeFromOnnx } from '../../src/ir/dtype.js';
import { emitActivation } from './map-activation.js';
import { scalarWeight, trtDType, unsupported, type MapContext } from './map-context.js';

type Mapper = (ctx: MapContext) => void;

/** Inputs 0..n-1 lifted to the output's rank. */
function sameRank(ctx: MapContext, n: number): string[] {
  const r = ctx.outType(0).shape.length;
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(ctx.broadcastRank(ctx.input(i), ctx.inType(i).shape, r));
  return out;
}

function binary(op: string): Mapper {
  return (ctx) => {
    const [a, b] = sameRank(ctx, 2);
    ctx.layer('elementwise', [a!, b!], [ctx.output(0)], { op });
  };
}

/** Sum / Max / Min / Mean over any number of inputs: a chain of binary layers. */
function variadic(op: string, mean = false): Mapper {
  return (ctx) => {
    const xs = sameRank(ctx, ctx.nIn);
    if (xs.length === 1 && !mean) { ctx.layer('identity', [xs[0]!], [ctx.output(0)]); return; }
    let acc = xs[0]!;
    for (let i = 1; i < xs.length; i++) {
      const last = i === xs.length - 1 && !mean;
      acc = ctx.layer('elementwise', [acc, xs[i]!], [last ? ctx.output(0) : ctx.tmp(`${op}${i}`)], { op });
    }
    if (mean) {
      const ot = ctx.outType(0);
      const k = scalarWeight(ctx, 1 / xs.length, ot.shape.length, ot.dtype, 'mean_div');
      ctx.layer('elementwise', [acc, k], [ctx.output(0)], { op: 'prod' });
    }
  };
}

function unary(op: string): Mapper {
  return (ctx) => { ctx.layer('unary', [ctx.input(0)], [ctx.output(0)], { op }); };
}

function act(name: string, params: (ctx: MapContext) => number[] = () => []): Mapper {
  return (ctx) => { emitActivation(ctx, ctx.input(0), ctx.inType(0), name, params(ctx), ctx.output(0)); };
}

/** a >= b as not(a < b); a <= b as not(a > b) (TensorRT has no such element-wise op). */
function notOf(op: string): Mapper {
  return (ctx) => {
    const [a, b] = sameRank(ctx, 2);
    const t = ctx.layer('elementwise', [a!, b!], [ctx.tmp(op)], { op });
    ctx.layer('unary', [t], [ctx.output(0)], { op: 'not' });
  };
}

export const elementwiseMappers: Record<string, Mapper> = {
  Add: binary('sum'), Sub: binary('sub'), Mul: binary('prod'), Div: binary('div'), Pow: binary('pow'),
  And: binary('and'), Or: binary('or'), Xor: binary('xor'), Equal: binary('equal'), Greater: binary('greater'), Less: binary('less'),
  GreaterOrEqual: notOf('less'), LessOrEqual: notOf('greater'),
  Max: variadic('max'), Min: variadic('min'), Sum: variadic('sum'), Mean: variadic('sum', true),
  Exp: unary('exp'), Log: unary('log'), Sqrt: unary('sqrt'), Reciprocal: unary('recip'), Abs: unary('abs'), Neg: unary('neg'),
  Sin: unary('sin'), Cos: unary('cos'), Tan: unary('tan'), Sinh: unary('sinh'), Cosh: unary('cosh'), Asin: unary('asin'),
  Acos: unary('acos'), Atan: unary('atan'), Asinh: unary('asinh'), Acosh: unary('acosh'), Atanh: unary('atanh'),
  Ceil: unary('ceil'), Floor: unary('floor'), Erf: unary('erf'), Not: unary('not'), Sign: unary('sign'), Round: unary('round'),
  IsNaN: unary('isnan'),
  Relu: act('Relu'), Sigmoid: act('Sigmoid'), Tanh: act('Tanh'), HardSwish: act('HardSwish'), Softplus: act('Softplus'), Softsign: act('Softsign'),
  LeakyRelu: act('LeakyRelu', (c) => [attrFloat(c.node, 'alpha', 0.01)]),
  Elu: act('Elu', (c) => [attrFloat(c.node, 'alpha', 1)]),
  Selu: act('Selu', (c) => [attrFloat(c.node, 'alpha', 1.67326319217681884765625), attrFloat(c.node, 'gamma', 1.05070102214813232421875)]),
  HardSigmoid: act('HardSigmoid', (c) => [attrFloat(c.node, 'alpha', 0.2), attrFloat(c.node, 'beta', 0.5)]),
  ThresholdedRelu: act('ThresholdedRelu', (c) => [attrFloat(c.node, 'alpha', 1)]),
  Gelu: act('Gelu', (c) => [attrString(c.node, 'approximate', 'none') === 'tanh' ? 1 : 0]),
  Clip: (ctx) => {
    const bound = (i: number, def: number) => {
      if (!ctx.has(i)) return def;
      const c = ctx.constant(i);
      if (!c) unsupported('Clip bounds computed at run time');
      return c.num(0);
    };
    emitActivation(ctx, ctx.input(0), ctx.inType(0), 'Clip', [bound(1, -Infinity), bound(2, Infinity)], ctx.output(0));
  },
  PRelu: (ctx) => {
    const r = ctx.inType(0).shape.length;
    ctx.layer('prelu', [ctx.input(0), ctx.broadcastRank(ctx.input(1), ctx.inType(1).shape, r)], [ctx.output(0)]);
  },
  Where: (ctx) => {
    const xs = sameRank(ctx, 3);
    ctx.layer('select', xs, [ctx.output(0)]);
  },
  Cast: (ctx) => {
    const to = dtypeFromOnnx(attrInt(ctx.node, 'to', 1));
    if (!to) unsupported('Cast to a type twinfer does not know');
    ctx.layer('cast', [ctx.input(0)], [ctx.output(0)], { to: trtDType(to) });
  },
  Identity: (ctx) => { ctx.layer('identity', [ctx.input(0)], [ctx.output(0)]); },
  Dropout: (ctx) => {
    if (ctx.node.outputs[1]) unsupported('Dropout mask output');
    ctx.layer('identity', [ctx.input(0)], [ctx.output(0)]);
  },
};
