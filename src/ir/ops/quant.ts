/**
 * Quantization ops: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear and the integer
 * compute ops QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger.
 * Every older opset form is a subset of the latest one (axis defaulted to 1 since it appeared,
 * opset 10 only had per-tensor scales), so no upgrade hook is needed.
 */
import { dtypeFromOnnx, isFloat, type DType } from '../dtype.js';
import { attrInt, type Dim, type ValueType } from '../graph.js';
import { InferError, type InferContext, type OpSchema, type SchemaRegistry } from '../schema.js';
import { convOutputShape, matmulShape, quantMode } from './quant-shapes.js';

/** Types QuantizeLinear may produce (and DequantizeLinear may consume, with int32). */
export const QUANT_TYPES: ReadonlySet<DType> = new Set<DType>([
  'uint8', 'int8', 'uint16', 'int16', 'uint4', 'int4', 'uint2', 'int2',
  'float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz', 'float4e2m1',
]);
const INT8ISH: ReadonlySet<DType> = new Set<DType>(['int8', 'uint8']);

function need(ctx: InferContext, i: number, what: string): ValueType {
  const t = ctx.inputs[i];
  if (!t) throw new InferError(`input ${i} (${what}) is required`);
  return t;
}

/** Reads the output_dtype attribute (0 / absent = unset). */
function outputDtypeAttr(ctx: InferContext): DType | undefined {
  const code = attrInt(ctx.node, 'output_dtype', 0);
  if (code === 0) return undefined;
  const t = dtypeFromOnnx(code);
  if (t === undefined) throw new InferError(`output_dtype ${code} is not a type twinfer supports`);
  return t;
}

/** Checks the scale and zero point layouts against x when the shapes are known. */
function checkLayouts(ctx: InferContext, x: ValueType): void {
  if (!x.shape) return;
  const axis = attrInt(ctx.node, 'axis', 1);
  const block = attrInt(ctx.node, 'block_size', 0);
  const s = ctx.inputs[1], z = ctx.inputs[2];
  if (s?.shape) quantMode(x.shape, s.shape, axis, block, 'scale');
  if (z?.shape) quantMode(x.shape, z.shape, axis, block, 'zero point');
  if (s?.shape && z?.shape && s.shape.length === z.shape.length) {
    for (let i = 0; i < s.shape.length; i++) {
      const a = s.shape[i], b = z.shape[i];
      if (typeof a === 'number' && typeof b === 'number' && a !== b) {
        throw new InferError(`scale [${s.shape.join(',')}] and zero point [${z.shape.join(',')}] shapes differ`);
      }
    }
  }
}

const QuantizeLinear: OpSchema = {
  inputs: [2, 3],
  outputs: [1, 1],
  infer(ctx) {
    const x = need(ctx, 0, 'x');
    const s = need(ctx, 1, 'y_scale');
    if (!isFloat(x.dtype) && x.dtype !== 'int32') throw new InferError(`x must be float or int32, got ${x.dtype}`);
    if (!isFloat(s.dtype) && s.dtype !== 'int32') throw new InferError(`y_scale must be float, got ${s.dtype}`);
    const attr = outputDtypeAttr(ctx);
    const zp = ctx.inputs[2]?.dtype;
    if (attr !== undefined && zp !== undefined && attr !== zp) {
      throw new InferError(`output_dtype ${attr} differs from the zero point type ${zp}`);
    }
    const out = zp ?? attr ?? 'uint8';
    if (!QUANT_TYPES.has(out)) throw new InferError(`QuantizeLinear cannot produce ${out}`);
    const sat = attrInt(ctx.node, 'saturate', 1);
    if (sat !== 0 && sat !== 1) throw new InferError(`saturate must be 0 or 1, got ${sat}`);
    const prec = attrInt(ctx.node, 'precision', 0);
    if (prec !== 0 && !isFloat(dtypeFromOnnx(prec) ?? 'string')) throw new InferError(`precision ${prec} is not a float type`);
    checkLayouts(ctx, x);
    return [{ dtype: out, shape: x.shape?.slice() }];
  },
};

const DequantizeLinear: OpSchema = {
  inputs: [2, 3],
  outputs: [1, 1],
  infer(ctx) {
    const x = need(ctx, 0, 'x');
    const s = need(ctx, 1, 'x_scale');
    if (!QUANT_TYPES.has(x.dtype) && x.dtype !== 'int32') throw new InferError(`cannot dequantize ${x.dtype}`);
    if (!isFloat(s.dtype)) throw new InferError(`x_scale must be float, got ${s.dtype}`);
    const zp = ctx.inputs[2]?.dtype;
    if (zp !== undefined && zp !== x.dtype) throw new InferError(`zero point type ${zp} differs from x type ${x.dtype}`);
    const out = outputDtypeAttr(ctx) ?? s.dtype;
    if (!isFloat(out)) throw new InferError(`output_dtype must be a float type, got ${out}`);
    checkLayouts(ctx, x);
    return [{ dtype: out, shape: x.shape?.slice() }];
  },
};

const DynamicQuantizeLinear: OpSchema = {
  inputs: [1, 1],
  outputs: [3, 3],
  infer(ctx) {
    const x = need(ctx, 0, 'x');
    if (!isFloat(x.dtype)) throw new InferError(`x must be float, got ${x.dtype}`);
    return [
      { dtype: 'uint8', shape: x.shape?.slice() },
      { dtype: x.dtype, shape: [] },
      { dtype: 'uint8', shape: [] },
    ];
  },
};

/** Zero points and scales of the integer ops must hold at most one element per row/column/channel. */
function checkVector(t: ValueType | undefined, len: Dim | undefined, what: string): void {
  if (!t?.shape) return;
  if (t.shape.length > 1 && t.shape.slice(0, -1).some((d) => d !== 1)) {
    // Batched per-row/column parameters ([batch..., len]) are accepted too; their size is checked at run time.
    return;
  }
  const n = t.shape.length === 0 ? 1 : t.shape[t.shape.length - 1]!;
  if (typeof n === 'number' && typeof len === 'number' && n !== 1 && n !== len) {
    throw new InferError(`${what} has ${n} elements, expected 1 or ${len}`);
  }
}

function checkInt8(t: ValueType, what: string): void {
  if (!INT8ISH.has(t.dtype)) throw new InferError(`${what} must be int8 or uint8, got ${t.dtype}`);
}

function checkZeroPoint(ctx: InferContext, i: number, of: ValueType, what: string): void {
  const z = ctx.inputs[i];
  if (z && z.dtype !== of.dtype) throw new InferError(`${what} type ${z.dtype} differs from ${of.dtype}`);
}

const MatMulInteger: OpSchema = {
  inputs: [2, 4],
  outputs: [1, 1],
  infer(ctx) {
    const a = need(ctx, 0, 'A'), b = need(ctx, 1, 'B');
    checkInt8(a, 'A'); checkInt8(b, 'B');
    checkZeroPoint(ctx, 2, a, 'a_zero_point');
    checkZeroPoint(ctx, 3, b, 'b_zero_point');
    if (!a.shape || !b.shape) return [{ dtype: 'int32', shape: undefined }];
    checkVector(ctx.inputs[2], a.shape.length > 1 ? a.shape[a.shape.length - 2] : 1, 'a_zero_point');
    checkVector(ctx.inputs[3], b.shape.length > 1 ? b.shape[b.shape.length - 1] : 1, 'b_zero_point');
    return [{ dtype: 'int32', shape: matmulShape(a.shape, b.shape) }];
  },
};

const QLinearMatMul: OpSchema = {
  inputs: [8, 8],
  outputs: [1, 1],
  infer(ctx) {
    const a = need(ctx, 0, 'a'), b = need(ctx, 3, 'b');
    checkInt8(a, 'a'); checkInt8(b, 'b');
    for (const [i, n] of [[1, 'a_scale'], [4, 'b_scale'], [6, 'y_scale']] as const) {
      const s = need(ctx, i, n);
      if (!isFloat(s.dtype)) throw new InferError(`${n} must be float, got ${s.dtype}`);
    }
    checkZeroPoint(ctx, 2, a, 'a_zero_point');
    checkZeroPoint(ctx, 5, b, 'b_zero_point');
    const out = ctx.inputs[7]?.dtype ?? a.dtype;
    if (!INT8ISH.has(out)) throw new InferError(`y_zero_point must be int8 or uint8, got ${out}`);
    if (!a.shape || !b.shape) return [{ dtype: out, shape: undefined }];
    const rows = a.shape.length > 1 ? a.shape[a.shape.length - 2] : 1;
    const cols = b.shape.length > 1 ? b.shape[b.shape.length - 1] : 1;
    checkVector(ctx.inputs[1], rows, 'a_scale'); checkVector(ctx.inputs[2], rows, 'a_zero_point');
    checkVector(ctx.inputs[4], cols, 'b_scale'); checkVector(ctx.inputs[5], cols, 'b_zero_point');
    checkVector(ctx.inputs[6], rows, 'y_scale'); checkVector(ctx.inputs[7], rows, 'y_zero_point');
    return [{ dtype: out, shape: matmulShape(a.shape, b.shape) }];
  },
};

function convShape(ctx: InferContext, x: ValueType, w: ValueType): Dim[] | undefined {
  if (!x.shape || !w.shape) return undefined;
  if (x.shape.length < 3) throw new InferError(`input must have rank >= 3, got ${x.shape.length}`);
  return convOutputShape(ctx.node, x.shape, w.shape, (h) => ctx.freshDim(h));
}

const ConvInteger: OpSchema = {
  inputs: [2, 4],
  outputs: [1, 1],
  infer(ctx) {
    const x = need(ctx, 0, 'x'), w = need(ctx, 1, 'w');
    checkInt8(x, 'x'); checkInt8(w, 'w');
    checkZeroPoint(ctx, 2, x, 'x_zero_point');
    checkZeroPoint(ctx, 3, w, 'w_zero_point');
    const zx = ctx.inputs[2];
    if (zx?.shape && zx.shape.some((d) => typeof d === 'number' && d !== 1)) throw new InferError('x_zero_point must be a scalar');
    checkVector(ctx.inputs[3], w.shape?.[0], 'w_zero_point');
    return [{ dtype: 'int32', shape: convShape(ctx, x, w) }];
  },
};

const QLinearConv: OpSchema = {
  inputs: [8, 9],
  outputs: [1, 1],
  infer(ctx) {
    const x = need(ctx, 0, 'x'), w = need(ctx, 3, 'w');
    checkInt8(x, 'x'); checkInt8(w, 'w');
    for (const [i, n] of [[1, 'x_scale'], [4, 'w_scale'], [6, 'y_scale']] as const) {
      const s = need(ctx, i, n);
      if (!isFloat(s.dtype)) throw new InferError(`${n} must be float, got ${s.dtype}`);
    }
    checkZeroPoint(ctx, 2, x, 'x_zero_point');
    checkZeroPoint(ctx, 5, w, 'w_zero_point');
    const out = ctx.inputs[7]?.dtype ?? x.dtype;
    if (!INT8ISH.has(out)) throw new InferError(`y_zero_point must be int8 or uint8, got ${out}`);
    const m = w.shape?.[0];
    checkVector(ctx.inputs[4], m, 'w_scale');
    checkVector(ctx.inputs[5], m, 'w_zero_point');
    const bias = ctx.inputs[8];
    if (bias) {
      if (bias.dtype !== 'int32') throw new InferError(`B must be int32, got ${bias.dtype}`);
      if (bias.shape && (bias.shape.length !== 1 || (typeof bias.shape[0] === 'number' && typeof m === 'number' && bias.shape[0] !== m))) {
        throw new InferError(`B must be 1-D of ${m} elements, got [${bias.shape.join(',')}]`);
      }
    }
    return [{ dtype: out, shape: convShape(ctx, x, w) }];
  },
};

export const schemas: SchemaRegistry = {
  QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
  MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv,
};
