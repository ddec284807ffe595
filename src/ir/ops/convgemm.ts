/**
 * Convolution, matrix-multiply and pooling ops: Conv, ConvTranspose, Gemm, MatMul, Einsum,
 * MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.
 *
 * Internal form is the latest opset of each; the only older form that needs rewriting is
 * Gemm < 7 (the `broadcast` attribute, whose broadcasting became unconditional). Window sizes and
 * auto_pad arithmetic live in convgemm-geom.ts, shared with the CPU kernels.
 */
import type { Dim, Node, ValueType } from '../graph.js';
import { attrFloat, attrInt, attrString } from '../graph.js';
import { isFloat, type DType } from '../dtype.js';
import { InferError, type InferContext, type OpSchema, type SchemaRegistry } from '../schema.js';
import { broadcastDims } from '../shape-utils.js';
import {
  forwardWindowDims, groupAttr, readTransposeAttrs, readWindowAttrs, transposeDims,
} from './convgemm-geom.js';
import { einsumLabelSizes, parseEinsum } from './convgemm-einsum.js';

const GEMM_TYPES: ReadonlySet<DType> = new Set<DType>([
  'float32', 'float64', 'float16', 'bfloat16', 'int32', 'int64', 'uint32', 'uint64',
]);
const POOL_INT_TYPES: ReadonlySet<DType> = new Set<DType>(['int8', 'uint8']);

function req(ctx: InferContext, i: number): ValueType {
  const t = ctx.inputs[i];
  if (!t) throw new InferError(`${ctx.node.opType}: input ${i} is required`);
  return t;
}

function expectFloat(ctx: InferContext, t: ValueType): void {
  if (!isFloat(t.dtype)) throw new InferError(`${ctx.node.opType}: type ${t.dtype} is not supported (expects a float type)`);
}

function sameType(ctx: InferContext, a: ValueType, b: ValueType | undefined, what: string): void {
  if (b && b.dtype !== a.dtype) throw new InferError(`${ctx.node.opType}: ${what} is ${b.dtype}, expected ${a.dtype}`);
}

function dimsEqualOrThrow(op: string, a: Dim, b: Dim, what: string): void {
  if (typeof a === 'number' && typeof b === 'number' && a !== b) throw new InferError(`${op}: ${what} (${a} vs ${b})`);
}

// ---------------------------------------------------------------- Conv / ConvTranspose

const conv: OpSchema = {
  inputs: [2, 3],
  outputs: [1, 1],
  infer(ctx) {
    const x = req(ctx, 0), w = req(ctx, 1), b = ctx.inputs[2];
    expectFloat(ctx, x); sameType(ctx, x, w, 'W'); sameType(ctx, x, b, 'B');
    const op = 'Conv';
    const group = groupAttr(ctx.node);
    if (!x.shape || !w.shape) return [{ dtype: x.dtype, shape: undefined }];
    if (x.shape.length < 3) throw new InferError(`${op}: X must have rank >= 3, got ${x.shape.length}`);
    if (w.shape.length !== x.shape.length) throw new InferError(`${op}: W rank ${w.shape.length} differs from X rank ${x.shape.length}`);
    const rank = x.shape.length - 2;
    const a = readWindowAttrs(ctx.node, rank, w.shape.slice(2));
    const c = x.shape[1]!, m = w.shape[0]!, cg = w.shape[1]!;
    if (typeof c === 'number' && typeof cg === 'number' && c !== cg * group) {
      throw new InferError(`${op}: X has ${c} channels but W expects ${cg} x group ${group}`);
    }
    if (typeof m === 'number' && m % group !== 0) throw new InferError(`${op}: ${m} output channels not divisible by group ${group}`);
    if (b?.shape) {
      if (b.shape.length !== 1) throw new InferError(`${op}: B must be 1-D`);
      dimsEqualOrThrow(op, b.shape[0]!, m, 'B size differs from output channels');
    }
    for (let i = 0; i < rank; i++) dimsEqualOrThrow(op, w.shape[2 + i]!, a.kernel[i]!, 'kernel_shape differs from W');
    return [{ dtype: x.dtype, shape: [x.shape[0]!, m, ...forwardWindowDims(a, x.shape.slice(2))] }];
  },
};

const convTranspose: OpSchema = {
  inputs: [2, 3],
  outputs: [1, 1],
  infer(ctx) {
    const x = req(ctx, 0), w = req(ctx, 1), b = ctx.inputs[2];
    expectFloat(ctx, x); sameType(ctx, x, w, 'W'); sameType(ctx, x, b, 'B');
    const op = 'ConvTranspose';
    const group = groupAttr(ctx.node);
    if (!x.shape || !w.shape) return [{ dtype: x.dtype, shape: undefined }];
    if (x.shape.length < 3) throw new InferError(`${op}: X must have rank >= 3, got ${x.shape.length}`);
    if (w.shape.length !== x.shape.length) throw new InferError(`${op}: W rank ${w.shape.length} differs from X rank ${x.shape.length}`);
    const rank = x.shape.length - 2;
    const a = readTransposeAttrs(ctx.node, rank, w.shape.slice(2));
    dimsEqualOrThrow(op, x.shape[1]!, w.shape[0]!, 'X channels differ from W dim 0');
    const mg = w.shape[1]!;
    const m: Dim = typeof mg === 'number' ? mg * group : group === 1 ? mg : `${mg}*${group}`;
    if (typeof w.shape[0] === 'number' && w.shape[0] % group !== 0) throw new InferError(`${op}: ${w.shape[0]} input channels not divisible by group ${group}`);
    if (b?.shape) {
      if (b.shape.length !== 1) throw new InferError(`${op}: B must be 1-D`);
      dimsEqualOrThrow(op, b.shape[0]!, m, 'B size differs from output channels');
    }
    return [{ dtype: x.dtype, shape: [x.shape[0]!, m, ...transposeDims(a, x.shape.slice(2))] }];
  },
};

// ---------------------------------------------------------------- Gemm / MatMul

const gemm: OpSchema = {
  inputs: [2, 3],
  outputs: [1, 1],
  infer(ctx) {
    const a = req(ctx, 0), b = req(ctx, 1), c = ctx.inputs[2];
    if (!GEMM_TYPES.has(a.dtype)) throw new InferError(`Gemm: type ${a.dtype} is not supported`);
    sameType(ctx, a, b, 'B'); sameType(ctx, a, c, 'C');
    const ta = attrInt(ctx.node, 'transA', 0), tb = attrInt(ctx.node, 'transB', 0);
    if (!a.shape || !b.shape) return [{ dtype: a.dtype, shape: [ctx.freshDim('gemm_m'), ctx.freshDim('gemm_n')] }];
    if (a.shape.length !== 2 || b.shape.length !== 2) throw new InferError(`Gemm: A and B must be 2-D (got ranks ${a.shape.length}, ${b.shape.length})`);
    const [m, ka] = ta ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
    const [kb, n] = tb ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
    dimsEqualOrThrow('Gemm', ka, kb, 'inner dimensions differ');
    if (c?.shape) {
      if (c.shape.length > 2) throw new InferError(`Gemm: C must have rank <= 2`);
      // Unidirectional broadcast of C to [M, N].
      const out = broadcastDims([m, n], c.shape);
      if (out.length !== 2 || (typeof out[0] === 'number' && typeof m === 'number' && out[0] !== m)
        || (typeof out[1] === 'number' && typeof n === 'number' && out[1] !== n)) {
        throw new InferError(`Gemm: C [${c.shape.join(',')}] does not broadcast to [${m},${n}]`);
      }
    }
    return [{ dtype: a.dtype, shape: [m, n] }];
  },
  upgrade(node) {
    // Gemm-1/6 `broadcast`: opset 7 made C's unidirectional broadcasting unconditional.
    delete node.attrs['broadcast'];
  },
};

/** Output dims of numpy matmul, also used by the kernel's batch loop (via outputTypes). */
export function matmulDims(op: string, a: readonly Dim[], b: readonly Dim[]): Dim[] {
  if (a.length === 0 || b.length === 0) throw new InferError(`${op}: operands must have rank >= 1`);
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  dimsEqualOrThrow(op, a2[a2.length - 1]!, b2[b2.length - 2]!, 'inner dimensions differ');
  const batch = broadcastDims(a2.slice(0, -2), b2.slice(0, -2));
  const out = [...batch];
  if (a.length !== 1) out.push(a2[a2.length - 2]!);
  if (b.length !== 1) out.push(b2[b2.length - 1]!);
  return out;
}

const matmul: OpSchema = {
  inputs: [2, 2],
  outputs: [1, 1],
  infer(ctx) {
    const a = req(ctx, 0), b = req(ctx, 1);
    if (!GEMM_TYPES.has(a.dtype)) throw new InferError(`MatMul: type ${a.dtype} is not supported`);
    sameType(ctx, a, b, 'B');
    if (!a.shape || !b.shape) return [{ dtype: a.dtype, shape: undefined }];
    return [{ dtype: a.dtype, shape: matmulDims('MatMul', a.shape, b.shape) }];
  },
};

const einsum: OpSchema = {
  inputs: [1, Infinity],
  outputs: [1, 1],
  infer(ctx) {
    const eq = attrString(ctx.node, 'equation');
    if (eq === undefined) throw new InferError('Einsum: equation is required');
    const ins = ctx.inputs.map((_, i) => req(ctx, i));
    const dtype = ins[0]!.dtype;
    if (dtype === 'string' || dtype === 'bool') throw new InferError(`Einsum: type ${dtype} is not supported`);
    for (const t of ins) sameType(ctx, ins[0]!, t, 'an operand');
    const plan = parseEinsum(eq, ins.map((t) => t.shape?.length));
    if (!plan) return [{ dtype, shape: undefined }];
    const sizes = einsumLabelSizes(plan, ins.map((t) => t.shape!));
    return [{ dtype, shape: plan.output.map((l) => sizes.get(l)!) }];
  },
};

// ---------------------------------------------------------------- pooling

function poolInfer(ctx: InferContext, isMax: boolean): ValueType[] {
  const x = req(ctx, 0);
  const op = ctx.node.opType;
  if (!isFloat(x.dtype) && !(isMax && POOL_INT_TYPES.has(x.dtype))) throw new InferError(`${op}: type ${x.dtype} is not supported`);
  const ceil = attrInt(ctx.node, 'ceil_mode', 0) !== 0;
  if (isMax) {
    const so = attrInt(ctx.node, 'storage_order', 0);
    if (so !== 0 && so !== 1) throw new InferError(`MaxPool: storage_order must be 0 or 1`);
  }
  let shape: Dim[] | undefined;
  if (x.shape) {
    if (x.shape.length < 3) throw new InferError(`${op}: X must have rank >= 3, got ${x.shape.length}`);
    const a = readWindowAttrs(ctx.node, x.shape.length - 2);
    shape = [x.shape[0]!, x.shape[1]!, ...forwardWindowDims(a, x.shape.slice(2), ceil)];
  }
  const out: ValueType[] = [{ dtype: x.dtype, shape }];
  if (isMax) out.push({ dtype: 'int64', shape: shape?.slice() });
  return out;
}

const maxPool: OpSchema = {
  inputs: [1, 1],
  outputs: [1, 2],
  infer: (ctx) => poolInfer(ctx, true),
};

const averagePool: OpSchema = {
  inputs: [1, 1],
  outputs: [1, 1],
  infer: (ctx) => poolInfer(ctx, false),
};

function globalPoolInfer(ctx: InferContext): ValueType[] {
  const x = req(ctx, 0);
  expectFloat(ctx, x);
  if (!x.shape) return [{ dtype: x.dtype, shape: undefined }];
  if (x.shape.length < 2) throw new InferError(`${ctx.node.opType}: X must have rank >= 2`);
  return [{ dtype: x.dtype, shape: [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map(() => 1)] }];
}

const globalPool: OpSchema = { inputs: [1, 1], outputs: [1, 1], infer: globalPoolInfer };

/** Gemm's scalar attributes with their defaults (shared by the kernel). */
export function gemmAttrs(node: Node): { alpha: number; beta: number; transA: boolean; transB: boolean } {
  return {
    alpha: attrFloat(node, 'alpha', 1), beta: attrFloat(node, 'beta', 1),
    transA: attrInt(node, 'transA', 0) !== 0, transB: attrInt(node, 'transB', 0) !== 0,
  };
}

export const schemas: SchemaRegistry = {
  Conv: conv,
  ConvTranspose: convTranspose,
  Gemm: gemm,
  MatMul: matmul,
  Einsum: einsum,
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
};
