/**
 * CUDA kernels of the dtype-aware element-wise family (native/src/typed.cu): unary functions and
 * binary ops on non-float32 types, Cast / CastLike, Not / IsNaN / IsInf, comparisons and logic
 * (to bool), Mod, Where, the variadic Sum / Mean / Max / Min, Identity and Dropout (views).
 */
import { attrInt, type Node } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import type { CudaKernel, CudaKernelContext, CudaKernelRegistry, CudaRunner } from './kernel.js';
import { din, outDims } from './kernel.js';
import { MAX_BINARY_RANK, binaryInts, broadcastStrides, type Fn } from './lower.js';
import { typeCode, type CudaTensor } from './tensor.js';

/** TWINFER_TYPED_BINARY of native/src/functions.h, in code order (test/native checks the header). */
export const TYPED_BINARY = ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'PRelu', 'Mod', 'FMod', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'SafeDiv'] as const;
export type TypedBinary = (typeof TYPED_BINARY)[number];

/** Store-type flag of native/src/dtype.cuh: no saturation (float8 Cast with saturate = 0). */
export const NO_SATURATE = 0x100;

/** y = fn(x) in y's type (Cast when fn is Identity). */
export function launchUnaryT(r: CudaRunner, fn: Fn, x: CudaTensor, y: CudaTensor, saturate = true): void {
  if (y.size) r.launch('unaryT', [y.size, r.fn(fn.name), typeCode(x.dtype), typeCode(y.dtype) | (saturate ? 0 : NO_SATURATE)], [fn.a, fn.b], [x, y]);
}

/** y = a op b with broadcasting, any device types. */
export function launchBinaryT(r: CudaRunner, op: TypedBinary, a: CudaTensor, b: CudaTensor, y: CudaTensor): void {
  if (!y.size) return;
  const bi = binaryInts(a.dims, b.dims, y.dims);
  r.launch('binaryT', [bi[0]!, TYPED_BINARY.indexOf(op), typeCode(a.dtype), typeCode(b.dtype), typeCode(y.dtype), ...bi.slice(1)], [], [a, b, y]);
}

/** Broadcast output dims of several operands (NumPy rules). */
export function broadcastDims(all: readonly (readonly number[])[]): number[] {
  const r = Math.max(...all.map((d) => d.length));
  const out = new Array<number>(r).fill(1);
  for (const d of all) d.forEach((n, i) => { const k = i + r - d.length; if (n !== 1) out[k] = n; });
  return out;
}

/** ints of `where` after dropping size-1 axes and merging contiguous neighbours of all three operands. */
export function whereInts(elemSize: number, c: readonly number[], x: readonly number[], y: readonly number[], out: readonly number[]): number[] {
  const r = out.length;
  const s = [broadcastStrides(c, r), broadcastStrides(x, r), broadcastStrides(y, r)];
  const d: number[] = [], st: number[][] = [[], [], []];
  for (let i = 0; i < r; i++) {
    const n = out[i]!;
    if (n === 1) continue;
    const k = d.length - 1;
    if (k >= 0 && s.every((a, j) => st[j]![k] === a[i]! * n)) { d[k] = d[k]! * n; s.forEach((a, j) => { st[j]![k] = a[i]!; }); }
    else { d.push(n); s.forEach((a, j) => st[j]!.push(a[i]!)); }
  }
  if (d.length === 0) { d.push(1); st.forEach((a) => a.push(0)); }
  if (d.length > MAX_BINARY_RANK) throw new Error(`Where of rank ${d.length} after merging (at most ${MAX_BINARY_RANK})`);
  return [out.reduce((a, b) => a * b, 1), elemSize, d.length, ...d, ...st[0]!, ...st[1]!, ...st[2]!];
}

function binaryT(op: TypedBinary, attrOp?: (n: Node) => TypedBinary): CudaKernel {
  return {
    unsupported(node, inputs, outputs, have) {
      if (node.inputs.length !== 2) return `${node.opType} with ${node.inputs.length} inputs (2 on CUDA)`;
      if ((outputs[0]?.shape?.length ?? 0) > MAX_BINARY_RANK) return `rank above ${MAX_BINARY_RANK}`;
      if (!inputs[0]?.shape || !inputs[1]?.shape) return 'input ranks unknown';
      return have('binaryT') ? undefined : 'the addon has no kernel binaryT';
    },
    run(ctx) {
      const a = din(ctx, 0), b = din(ctx, 1);
      const y = ctx.cuda.alloc(outDims(ctx), ctx.outputTypes[0]!.dtype);
      launchBinaryT(ctx.cuda, attrOp ? attrOp(ctx.node) : op, a, b, y);
      return [y];
    },
  };
}

function unaryT(fn: (n: Node) => Fn): CudaKernel {
  return {
    unsupported(node, _i, _o, have) { return have('unaryT') && have(fn(node).name) ? undefined : `the addon has no unaryT ${fn(node).name}`; },
    run(ctx) {
      const x = din(ctx, 0);
      const y = ctx.cuda.alloc(outDims(ctx), ctx.outputTypes[0]!.dtype);
      launchUnaryT(ctx.cuda, fn(ctx.node), x, y);
      return [y];
    },
  };
}

/** Cast / CastLike: a view when the type does not change. */
const cast: CudaKernel = {
  run(ctx) {
    const x = din(ctx, 0);
    const dt = ctx.outputTypes[0]!.dtype;
    if (dt === x.dtype) return [ctx.cuda.view(x, x.dims)];
    const y = ctx.cuda.alloc(x.dims, dt);
    launchUnaryT(ctx.cuda, { name: 'Identity', a: 0, b: 0 }, x, y, attrInt(ctx.node, 'saturate', 1) !== 0);
    return [y];
  },
};

const identity: CudaKernel = { run: (ctx) => [ctx.cuda.view(din(ctx, 0), outDims(ctx))] };

/** Dropout at inference: Y = X (a view), the mask all true. */
const dropout: CudaKernel = {
  hostInputs: [1, 2],
  unsupported(node) {
    return node.inputs[2] ? 'Dropout with a training_mode input runs on the CPU (random mask)' : undefined;
  },
  run(ctx) {
    const x = din(ctx, 0);
    const outs: CudaTensor[] = [ctx.cuda.view(x, x.dims)];
    if (ctx.node.outputs[1]) {
      const h = new HostTensor('bool', x.dims);
      (h.data as Uint8Array).fill(1);
      outs.push(ctx.cuda.upload(h));
    }
    return outs;
  },
};

const where: CudaKernel = {
  unsupported(_n, inputs, outputs) {
    if (!inputs.every((t) => t?.shape)) return 'input ranks unknown';
    return (outputs[0]?.shape?.length ?? 0) > 12 ? 'Where of rank above 12' : undefined;
  },
  run(ctx) {
    const c = din(ctx, 0), x = din(ctx, 1), y = din(ctx, 2);
    const dims = outDims(ctx);
    const out = ctx.cuda.alloc(dims, x.dtype);
    if (out.size) ctx.cuda.launch('where', whereInts(x.elemSize, c.dims, x.dims, y.dims, dims), [], [c, x, y, out]);
    return [out];
  },
};

/** Sum / Mean / Max / Min of N inputs: a chain of binary launches (Mean then scales by 1/N). */
function variadic(op: 'Sum' | 'Mean' | 'Max' | 'Min'): CudaKernel {
  const bop: TypedBinary = op === 'Sum' || op === 'Mean' ? 'Add' : op;
  return {
    run(ctx) {
      const ins = ctx.inputs.filter((t): t is CudaTensor => !!t);
      const dt = ctx.outputTypes[0]!.dtype;
      if (ins.length === 1) return [ctx.cuda.view(ins[0]!, ins[0]!.dims)];
      let acc = ins[0]!;
      for (let k = 1; k < ins.length; k++) {
        const dims = broadcastDims([acc.dims, ins[k]!.dims]);
        const y = ctx.cuda.alloc(dims, dt);
        launchBinaryT(ctx.cuda, bop, acc, ins[k]!, y);
        acc = y;
      }
      if (op === 'Mean') {
        const y = ctx.cuda.alloc(acc.dims, dt);
        launchUnaryT(ctx.cuda, { name: 'Affine', a: 1 / ins.length, b: 0 }, acc, y);
        acc = y;
      }
      return [acc];
    },
  };
}


export const TYPED_KERNELS: CudaKernelRegistry = {
  Cast: cast, CastLike: cast, Identity: identity, Dropout: dropout, Where: where,
  Not: unaryT(() => ({ name: 'Not', a: 0, b: 0 })),
  IsNaN: unaryT(() => ({ name: 'IsNaN', a: 0, b: 0 })),
  IsInf: unaryT((n) => ({ name: 'IsInf', a: attrInt(n, 'detect_positive', 1), b: attrInt(n, 'detect_negative', 1) })),
  Mod: binaryT('Mod', (n) => (attrInt(n, 'fmod', 0) === 1 ? 'FMod' : 'Mod')),
  ...Object.fromEntries((['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Xor'] as const).map((op) => [op, binaryT(op)])),
  Sum: variadic('Sum'), Mean: variadic('Mean'), Max: variadic('Max'), Min: variadic('Min'),
};

/** Typed variants of the f32 unary / binary kernels of ops.ts (used when a type is not float32). */
export function typedUnaryRun(ctx: CudaKernelContext, fn: Fn): CudaTensor[] {
  const x = din(ctx, 0);
  const y = ctx.cuda.alloc(outDims(ctx), ctx.outputTypes[0]!.dtype);
  launchUnaryT(ctx.cuda, fn, x, y);
  return [y];
}

export function typedBinaryRun(ctx: CudaKernelContext, op: TypedBinary): CudaTensor[] {
  const a = din(ctx, 0), b = din(ctx, 1);
  const y = ctx.cuda.alloc(outDims(ctx), ctx.outputTypes[0]!.dtype);
  launchBinaryT(ctx.cuda, op, a, b, y);
  return [y];
}

