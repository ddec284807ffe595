/**
 * CPU kernels of the convolution / matrix-multiply / pooling family. Float32 storage (float32 and
 * the low-precision floats) runs on the blocked SIMD GEMM and the depthwise kernel; other storage
 * (float64, integers) on plain loops with float64 accumulation.
 */
import { attrInt, attrString } from '../../../src/ir/graph.js';
import type { NumericArray } from '../../../src/ir/dtype.js';
import { HostTensor } from '../../../src/ir/tensor.js';
import { forwardGeom, groupAttr, readTransposeAttrs, readWindowAttrs, transposeGeom } from '../../../src/ir/ops/convgemm-geom.js';
import { parseEinsum } from '../../../src/ir/ops/convgemm-einsum.js';
import { gemmAttrs } from '../../../src/ir/ops/convgemm.js';
import { input, outDims, type CpuKernel, type KernelContext, type KernelRegistry } from '../kernel.js';
import { gemmNaive, sgemm, type Epilogue } from '../gemm.js';
import { convDirect, convF32, convTransposeDirect, convTransposeF32, toGeom3, type ConvArgs } from '../convgemm-conv.js';
import { averagePool, globalPool, maxPool } from '../convgemm-pool.js';
import { einsum } from '../convgemm-einsum.js';
import { kernelActivationChain, type Activation } from '../convgemm-act.js';

function convLike(ctx: KernelContext, transpose: boolean, act?: Activation): HostTensor[] {
  const x = input(ctx, 0), w = input(ctx, 1), b = ctx.inputs[2];
  const yDims = outDims(ctx);
  const rank = x.rank - 2;
  const geom = transpose
    ? transposeGeom(readTransposeAttrs(ctx.node, rank, w.dims.slice(2)), x.dims.slice(2))
    : forwardGeom(readWindowAttrs(ctx.node, rank, w.dims.slice(2)), x.dims.slice(2));
  const y = new HostTensor(x.dtype, yDims);
  const args: ConvArgs<NumericArray> = {
    x: x.numbers, batch: x.dims[0]!, channels: x.dims[1]!, w: w.numbers, outChannels: yDims[1]!,
    group: groupAttr(ctx.node), bias: b?.numbers, g: toGeom3(geom), y: y.numbers,
  };
  if (act) args.act = act;
  if (y.size === 0) return [y];
  if (args.x instanceof Float32Array && args.w instanceof Float32Array && args.y instanceof Float32Array
    && (args.bias === undefined || args.bias instanceof Float32Array)) {
    if (transpose) convTransposeF32(args as ConvArgs); else convF32(args as ConvArgs);
  } else if (transpose) convTransposeDirect(args);
  else convDirect(args);
  return [y];
}

function gemm(ctx: KernelContext, act?: Activation): HostTensor[] {
  const a = input(ctx, 0), b = input(ctx, 1), c = ctx.inputs[2];
  const { alpha, beta, transA, transB } = gemmAttrs(ctx.node);
  const [M, N] = outDims(ctx) as [number, number];
  const K = transA ? a.dims[0]! : a.dims[1]!;
  const y = new HostTensor(a.dtype, [M, N]);
  const [rsA, csA] = transA ? [1, M] : [K, 1];
  const [rsB, csB] = transB ? [1, K] : [N, 1];
  const ep: Epilogue = { alpha };
  if (act) ep.act = act;
  if (c && beta !== 0 && c.size > 0) {
    // Unidirectional broadcast of C to [M, N] through zero strides.
    const cd = [1, 1, ...c.dims].slice(-2) as [number, number];
    ep.c = { data: c.numbers, off: 0, rs: cd[0] === 1 ? 0 : cd[1], cs: cd[1] === 1 ? 0 : 1, beta };
  }
  const A = a.numbers, B = b.numbers, Y = y.numbers;
  if (A instanceof Float32Array && B instanceof Float32Array && Y instanceof Float32Array) {
    sgemm(M, N, K, A, 0, rsA, csA, B, 0, rsB, csB, Y, 0, N, ep);
  } else gemmNaive(M, N, K, A, 0, rsA, csA, B, 0, rsB, csB, Y, 0, N, ep);
  return [y];
}

/** MatMul, optionally with a bias over the last axis and an activation (the fused form). */
function matmul(ctx: KernelContext, act?: Activation, bias?: HostTensor): HostTensor[] {
  const a = input(ctx, 0), b = input(ctx, 1);
  const yDims = outDims(ctx);
  const y = new HostTensor(a.dtype, yDims);
  const ad = a.rank === 1 ? [1, a.dims[0]!] : a.dims.slice();
  const bd = b.rank === 1 ? [b.dims[0]!, 1] : b.dims.slice();
  const M = ad[ad.length - 2]!, K = ad[ad.length - 1]!, N = bd[bd.length - 1]!;
  if (y.size === 0) return [y];
  const A = a.numbers, B = b.numbers, Y = y.numbers;
  const f32 = A instanceof Float32Array && B instanceof Float32Array && Y instanceof Float32Array;
  const ep: Epilogue = {};
  if (act) ep.act = act;
  if (bias && bias.size > 0) ep.c = { data: bias.numbers, off: 0, rs: 0, cs: bias.size === 1 ? 0 : 1, beta: 1 };
  const run = (m: number, aOff: number, bOff: number, yOff: number): void => {
    if (f32) sgemm(m, N, K, A, aOff, K, 1, B, bOff, N, 1, Y, yOff, N, ep);
    else gemmNaive(m, N, K, A, aOff, K, 1, B, bOff, N, 1, Y, yOff, N, ep);
  };
  // Batch dims, right-aligned and broadcast.
  const aB = ad.slice(0, -2), bB = bd.slice(0, -2);
  const R = Math.max(aB.length, bB.length);
  const aBp = [...new Array<number>(R - aB.length).fill(1), ...aB];
  const bBp = [...new Array<number>(R - bB.length).fill(1), ...bB];
  const outB = aBp.map((d, i) => Math.max(d, bBp[i]!));
  const batches = outB.reduce((p, d) => p * d, 1);
  if (bBp.every((d) => d === 1)) {
    // B shared by every batch: fold the batch into M (A is contiguous [batch*M, K]).
    run(batches * M, 0, 0, 0);
    return [y];
  }
  const aSt = new Array<number>(R), bSt = new Array<number>(R);
  for (let i = R - 1, sa = M * K, sb = K * N; i >= 0; i--) {
    aSt[i] = aBp[i] === 1 ? 0 : sa; sa *= aBp[i]!;
    bSt[i] = bBp[i] === 1 ? 0 : sb; sb *= bBp[i]!;
  }
  const idx = new Array<number>(R).fill(0);
  for (let t = 0; t < batches; t++) {
    let ao = 0, bo = 0;
    for (let i = 0; i < R; i++) { ao += idx[i]! * aSt[i]!; bo += idx[i]! * bSt[i]!; }
    run(M, ao, bo, t * M * N);
    for (let i = R - 1; i >= 0; i--) { if (++idx[i]! < outB[i]!) break; idx[i] = 0; }
  }
  return [y];
}

const einsumKernel: CpuKernel = (ctx) => {
  const ins = ctx.inputs.map((_, i) => input(ctx, i));
  const plan = parseEinsum(attrString(ctx.node, 'equation', ''), ins.map((t) => t.rank))!;
  const y = new HostTensor(ins[0]!.dtype, outDims(ctx));
  einsum(plan, ins.map((t) => ({ data: t.numbers, dims: t.dims })), y.numbers);
  return [y];
};

function pool(ctx: KernelContext, isMax: boolean): (HostTensor | undefined)[] {
  const x = input(ctx, 0);
  const yDims = outDims(ctx);
  const rank = x.rank - 2;
  const ceil = attrInt(ctx.node, 'ceil_mode', 0) !== 0;
  const geom = forwardGeom(readWindowAttrs(ctx.node, rank), x.dims.slice(2), ceil);
  const y = new HostTensor(x.dtype, yDims);
  const args = { x: x.numbers, y: y.numbers, planes: x.dims[0]! * x.dims[1]!, g: toGeom3(geom) };
  if (!isMax) {
    averagePool(args, attrInt(ctx.node, 'count_include_pad', 0) !== 0);
    return [y];
  }
  const wantIdx = ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== '';
  const idx = wantIdx ? new HostTensor('int64', yDims) : undefined;
  maxPool(args, idx?.data as Float64Array | undefined, attrInt(ctx.node, 'storage_order', 0), rank);
  return wantIdx ? [y, idx] : [y];
}

function globalPoolKernel(isMax: boolean): CpuKernel {
  return (ctx) => {
    const x = input(ctx, 0);
    const y = new HostTensor(x.dtype, outDims(ctx));
    const planes = x.dims[0]! * x.dims[1]!;
    globalPool(x.numbers, y.numbers, planes, planes === 0 ? 0 : x.size / planes, isMax);
    return [y];
  };
}

/**
 * For the optimizer's fused ops: runs `base` (Conv, ConvTranspose, Gemm or MatMul; ctx.node is the
 * base op's node) with a chain of activations applied inside the kernels, in order, as far as
 * they can (one of Relu, Clip, HardSwish, HardSigmoid, LeakyRelu, then an Affine: see
 * convgemm-act.ts), and for MatMul its bias over the last axis first. Returns the output and how
 * many chain entries were applied; the caller applies the rest. A fused op
 * `post(act(op(x) + b) [+ Z])` passes [act, post] without Z, [act] with it.
 */
export function runConvGemmFused(
  base: string, ctx: KernelContext, chain: readonly (readonly [string | undefined, readonly number[]])[], matmulBias?: HostTensor,
): { y: HostTensor; applied: number } {
  const { act, applied } = kernelActivationChain(chain);
  switch (base) {
    case 'Conv': return { y: convLike(ctx, false, act)[0]!, applied };
    case 'ConvTranspose': return { y: convLike(ctx, true, act)[0]!, applied };
    case 'Gemm': return { y: gemm(ctx, act)[0]!, applied };
    case 'MatMul': return { y: matmul(ctx, act, matmulBias)[0]!, applied };
    default: throw new Error(`runConvGemmFused: ${base} is not a convolution or matrix product`);
  }
}

export const kernels: KernelRegistry = {
  Conv: (ctx) => convLike(ctx, false),
  ConvTranspose: (ctx) => convLike(ctx, true),
  Gemm: (ctx) => gemm(ctx),
  MatMul: (ctx) => matmul(ctx),
  Einsum: einsumKernel,
  MaxPool: (ctx) => pool(ctx, true),
  AveragePool: (ctx) => pool(ctx, false),
  GlobalAveragePool: globalPoolKernel(false),
  GlobalMaxPool: globalPoolKernel(true),
};
