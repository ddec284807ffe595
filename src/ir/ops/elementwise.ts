/**
 * Element-wise ops: unary math and activations, logical/bitwise ops, comparisons, numpy-broadcast
 * binary and variadic arithmetic, Where, Clip, Cast/CastLike, Identity and Dropout.
 *
 * Internal form (latest opsets): Clip takes min/max as inputs (Clip-6 attributes are rewritten to
 * constant inputs), Dropout takes ratio/training_mode as inputs and its mask is bool (Dropout-10
 * `ratio` attribute becomes an input, `is_test` is dropped). `consumed_inputs` (opset 1) is dropped.
 * Binary ops written for opset < 7 with `broadcast=1` and an explicit `axis` keep both attributes:
 * B is then aligned at `axis` of A instead of at the trailing dims (see legacyDims), which the
 * importer cannot rewrite without knowing ranks.
 */
import type { Dim, Node, Shape, ValueType } from '../graph.js';
import { attrFloat, attrInt, attrString } from '../graph.js';
import { dtypeFromOnnx, isFloat, isInt, type DType } from '../dtype.js';
import { HostTensor } from '../tensor.js';
import type { E8M0RoundMode } from '../lowp.js';
import { InferError, type InferContext, type OpSchema, type SchemaRegistry, type UpgradeContext } from '../schema.js';
import { broadcastDims } from '../shape-utils.js';

type TypeRule = 'numeric' | 'float' | 'bool' | 'int' | 'any';

function checkType(op: string, dtype: DType, rule: TypeRule, what = 'input'): void {
  const ok = rule === 'any' ? true
    : rule === 'numeric' ? dtype !== 'string' && dtype !== 'bool'
      : rule === 'float' ? isFloat(dtype)
        : rule === 'int' ? isInt(dtype)
          : dtype === 'bool';
  if (!ok) throw new InferError(`${op}: ${what} of type ${dtype} is not supported (expects ${rule})`);
}

function required(ctx: InferContext, i: number): ValueType {
  const t = ctx.inputs[i];
  if (!t) throw new InferError(`${ctx.node.opType}: input ${i} is required`);
  return t;
}

/** Drops the opset-1 `consumed_inputs` attribute (a memory hint with no meaning today). */
function dropConsumed(node: Node): void {
  delete node.attrs['consumed_inputs'];
}

/**
 * For opset < 7 binary ops with broadcast=1 and an explicit axis: B's dims placed at `axis` of A,
 * padded with trailing 1s so numpy broadcasting applies. Returns B's dims unchanged otherwise.
 */
export function legacyDims<T extends Dim>(node: Node, aRank: number | undefined, bDims: readonly T[]): (T | 1)[] {
  const axis = node.attrs['axis'];
  if (node.attrs['broadcast'] !== 1 || typeof axis !== 'number' || aRank === undefined) return bDims.slice();
  const ax = axis < 0 ? axis + aRank : axis;
  const pad = aRank - ax - bDims.length;
  if (ax < 0 || pad < 0) throw new InferError(`legacy broadcast: B of rank ${bDims.length} does not fit at axis ${axis} of rank ${aRank}`);
  return [...bDims, ...new Array<1>(pad).fill(1)];
}

function upgradeLegacyBroadcast(node: Node): void {
  dropConsumed(node);
  // Without an explicit axis the legacy rule (B matches A's trailing dims) is numpy's.
  if (node.attrs['broadcast'] !== 1 || typeof node.attrs['axis'] !== 'number') {
    delete node.attrs['broadcast'];
    delete node.attrs['axis'];
  }
}

function unary(rule: TypeRule, upgrade?: OpSchema['upgrade']): OpSchema {
  return {
    inputs: [1, 1],
    outputs: [1, 1],
    infer(ctx) {
      const x = required(ctx, 0);
      checkType(ctx.node.opType, x.dtype, rule);
      return [{ dtype: x.dtype, shape: x.shape?.slice() }];
    },
    upgrade: upgrade ?? dropConsumed,
  };
}

function predicate(rule: TypeRule): OpSchema {
  return {
    inputs: [1, 1],
    outputs: [1, 1],
    infer(ctx) {
      const x = required(ctx, 0);
      checkType(ctx.node.opType, x.dtype, rule);
      return [{ dtype: 'bool', shape: x.shape?.slice() }];
    },
  };
}

/** Broadcast shape of several inputs (undefined when any rank is unknown). */
function broadcastShapes(shapes: Shape[]): Shape {
  let out: Dim[] = [];
  for (const s of shapes) {
    if (!s) return undefined;
    out = broadcastDims(out, s);
  }
  return out;
}

function binary(rule: TypeRule, out: 'same' | 'bool', sameTypes = true): OpSchema {
  return {
    inputs: [2, 2],
    outputs: [1, 1],
    infer(ctx) {
      const a = required(ctx, 0);
      const b = required(ctx, 1);
      const op = ctx.node.opType;
      checkType(op, a.dtype, rule, 'input A');
      checkType(op, b.dtype, rule, 'input B');
      if (sameTypes && a.dtype !== b.dtype) throw new InferError(`${op}: inputs have different types ${a.dtype} and ${b.dtype}`);
      const bShape = b.shape && legacyDims(ctx.node, a.shape?.length, b.shape);
      return [{ dtype: out === 'bool' ? 'bool' : a.dtype, shape: broadcastShapes([a.shape, bShape]) }];
    },
    upgrade: upgradeLegacyBroadcast,
  };
}

function variadic(rule: TypeRule): OpSchema {
  return {
    inputs: [1, Infinity],
    outputs: [1, 1],
    infer(ctx) {
      const ins = ctx.inputs.map((_, i) => required(ctx, i));
      const op = ctx.node.opType;
      for (const t of ins) {
        checkType(op, t.dtype, rule);
        if (t.dtype !== ins[0]!.dtype) throw new InferError(`${op}: inputs have different types ${ins[0]!.dtype} and ${t.dtype}`);
      }
      return [{ dtype: ins[0]!.dtype, shape: broadcastShapes(ins.map((t) => t.shape)) }];
    },
    upgrade: dropConsumed,
  };
}

function castTarget(node: Node): DType {
  const to = attrInt(node, 'to');
  if (to === undefined) throw new InferError('Cast: attribute `to` is required');
  const dt = dtypeFromOnnx(to);
  if (!dt) throw new InferError(`Cast: target data type ${to} is not supported`);
  return dt;
}

/** Float32 scalar constant (Clip-6 and Dropout-10 attributes were floats). */
function floatConst(ctx: UpgradeContext, v: number, hint: string): string {
  return ctx.constant(HostTensor.scalar('float32', v), hint);
}

const UNARY_NUMERIC = ['Abs', 'Neg', 'Sign', 'Relu', 'Erf'];
const UNARY_FLOAT = [
  'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sin', 'Cos', 'Tan', 'Asin', 'Acos',
  'Atan', 'Sinh', 'Cosh', 'Tanh', 'Asinh', 'Acosh', 'Atanh', 'Sigmoid', 'LeakyRelu', 'ThresholdedRelu',
  'Elu', 'Selu', 'Celu', 'HardSigmoid', 'HardSwish', 'Softplus', 'Softsign', 'Mish',
];

export const schemas: SchemaRegistry = {
  ...Object.fromEntries(UNARY_NUMERIC.map((op) => [op, unary('numeric')])),
  ...Object.fromEntries(UNARY_FLOAT.map((op) => [op, unary('float')])),
  Gelu: {
    ...unary('float'),
    infer(ctx) {
      geluMode(ctx.node);
      return unary('float').infer(ctx);
    },
  },
  Not: unary('bool'),
  BitwiseNot: unary('int'),
  IsNaN: predicate('float'),
  IsInf: predicate('float'),
  Identity: unary('any'),

  Add: binary('numeric', 'same'),
  Sub: binary('numeric', 'same'),
  Mul: binary('numeric', 'same'),
  Div: binary('numeric', 'same'),
  Mod: binary('numeric', 'same'),
  // Pow: exponent may have another numeric type; the result has the base's type.
  Pow: binary('numeric', 'same', false),
  PRelu: {
    inputs: [2, 2],
    outputs: [1, 1],
    infer(ctx) {
      const x = required(ctx, 0);
      const slope = required(ctx, 1);
      checkType('PRelu', x.dtype, 'numeric');
      if (slope.dtype !== x.dtype) throw new InferError(`PRelu: slope type ${slope.dtype} differs from ${x.dtype}`);
      // Slope broadcasts unidirectionally to X: the output has X's shape.
      if (x.shape && slope.shape) {
        const b = broadcastDims(x.shape, slope.shape);
        if (b.length !== x.shape.length || b.some((d, i) => d !== x.shape![i] && typeof x.shape![i] === 'number')) {
          throw new InferError(`PRelu: slope [${slope.shape}] does not broadcast to X [${x.shape}]`);
        }
      }
      return [{ dtype: x.dtype, shape: x.shape?.slice() }];
    },
    upgrade: dropConsumed,
  },
  Equal: binary('any', 'bool'),
  Less: binary('numeric', 'bool'),
  LessOrEqual: binary('numeric', 'bool'),
  Greater: binary('numeric', 'bool'),
  GreaterOrEqual: binary('numeric', 'bool'),
  And: binary('bool', 'bool'),
  Or: binary('bool', 'bool'),
  Xor: binary('bool', 'bool'),
  BitwiseAnd: binary('int', 'same'),
  BitwiseOr: binary('int', 'same'),
  BitwiseXor: binary('int', 'same'),

  Max: variadic('numeric'),
  Min: variadic('numeric'),
  Sum: variadic('numeric'),
  Mean: variadic('float'),

  Where: {
    inputs: [3, 3],
    outputs: [1, 1],
    infer(ctx) {
      const c = required(ctx, 0);
      const x = required(ctx, 1);
      const y = required(ctx, 2);
      if (c.dtype !== 'bool') throw new InferError(`Where: condition must be bool, got ${c.dtype}`);
      if (x.dtype !== y.dtype) throw new InferError(`Where: X is ${x.dtype} but Y is ${y.dtype}`);
      return [{ dtype: x.dtype, shape: broadcastShapes([c.shape, x.shape, y.shape]) }];
    },
  },

  Clip: {
    inputs: [1, 3],
    outputs: [1, 1],
    infer(ctx) {
      const x = required(ctx, 0);
      checkType('Clip', x.dtype, 'numeric');
      for (const i of [1, 2]) {
        const t = ctx.inputs[i];
        if (!t) continue;
        if (t.shape && t.shape.length !== 0 && !(t.shape.length === 1 && t.shape[0] === 1)) {
          throw new InferError(`Clip: ${i === 1 ? 'min' : 'max'} must be a scalar, got shape [${t.shape}]`);
        }
      }
      return [{ dtype: x.dtype, shape: x.shape?.slice() }];
    },
    upgrade(node, ctx) {
      dropConsumed(node);
      if (ctx.opset >= 11) return;
      const min = attrFloat(node, 'min');
      const max = attrFloat(node, 'max');
      delete node.attrs['min'];
      delete node.attrs['max'];
      node.inputs = [node.inputs[0]!,
        min === undefined ? '' : floatConst(ctx, min, 'clip_min'),
        max === undefined ? '' : floatConst(ctx, max, 'clip_max')];
      while (node.inputs.length > 1 && node.inputs[node.inputs.length - 1] === '') node.inputs.pop();
    },
  },

  Cast: {
    inputs: [1, 1],
    outputs: [1, 1],
    infer(ctx) {
      const x = required(ctx, 0);
      castRoundMode(ctx.node);
      return [{ dtype: castTarget(ctx.node), shape: x.shape?.slice() }];
    },
    upgrade(node) {
      // Cast-1 spelled `to` as a string (e.g. "FLOAT").
      const to = node.attrs['to'];
      if (typeof to === 'string') {
        const code = CAST1_NAMES[to.toUpperCase()];
        if (code === undefined) throw new InferError(`Cast: unknown target type '${to}'`);
        node.attrs['to'] = code;
      }
    },
  },
  CastLike: {
    inputs: [2, 2],
    outputs: [1, 1],
    infer(ctx) {
      const x = required(ctx, 0);
      const like = required(ctx, 1);
      castRoundMode(ctx.node);
      return [{ dtype: like.dtype, shape: x.shape?.slice() }];
    },
  },

  Dropout: {
    inputs: [1, 3],
    outputs: [1, 2],
    infer(ctx) {
      const x = required(ctx, 0);
      checkType('Dropout', x.dtype, 'float');
      const r = ctx.inputs[1];
      if (r && !isFloat(r.dtype)) throw new InferError(`Dropout: ratio must be a float, got ${r.dtype}`);
      const t = ctx.inputs[2];
      if (t && t.dtype !== 'bool') throw new InferError(`Dropout: training_mode must be bool, got ${t.dtype}`);
      return [{ dtype: x.dtype, shape: x.shape?.slice() }, { dtype: 'bool', shape: x.shape?.slice() }];
    },
    upgrade(node, ctx) {
      dropConsumed(node);
      delete node.attrs['is_test'];
      if (ctx.opset >= 12) return;
      const ratio = attrFloat(node, 'ratio');
      delete node.attrs['ratio'];
      // Before opset 12 Dropout only ran in inference here; the ratio input keeps the value.
      if (ratio !== undefined) node.inputs = [node.inputs[0]!, floatConst(ctx, ratio, 'dropout_ratio')];
    },
  },
};

/** Cast-1 target names (TensorProto.DataType names). */
const CAST1_NAMES: Record<string, number> = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13,
};

/** Cast's `round_mode` (float8e8m0 targets only), validated. */
export function castRoundMode(node: Node): E8M0RoundMode {
  const m = attrString(node, 'round_mode', 'up');
  if (m !== 'up' && m !== 'down' && m !== 'nearest') throw new InferError(`Cast: round_mode must be 'up', 'down' or 'nearest', got '${m}'`);
  return m;
}

/** Gelu's `approximate` attribute, validated (used by the kernel too). */
export function geluMode(node: Node): 'none' | 'tanh' {
  const a = attrString(node, 'approximate', 'none');
  if (a !== 'none' && a !== 'tanh') throw new InferError(`Gelu: approximate must be 'none' or 'tanh', got '${a}'`);
  return a;
}
