/**
 * CPU reference kernels of the INT8 ops (twinfer.QConv / QGemm / QMatMul, src/ir/ops/qfused.ts):
 * exact integer accumulation, then the float epilogue.
 *
 * Exactness without an integer GEMM: the quantized activations (xq - zp, |v| <= 255) and the int8
 * weights (|w| <= 128) are held as float32 integers and multiplied by the float32 SIMD GEMM over K
 * blocks short enough that every partial sum stays below 2^24, where float32 represents integers
 * exactly (K <= 1024 for symmetric int8, 514 for uint8 with a zero point); the blocks are added in
 * float64. Winograd is switched off around these calls (its transforms are not integer). Grouped
 * convolutions too deep for one block take a float64 direct loop (exact, slower, rare).
 *
 * Epilogue, in float32 as every backend does it: y = f32(f32(acc) * f32(x_scale * W_scale[c])) + B[c],
 * then activation, residual Z, post-activation.
 *
 * The quantization of X and the epilogue are WebAssembly SIMD loops (../qgemm-wasm.ts; JS twins
 * where WebAssembly is missing): as JS loops they cost more than the product (PP-OCR det int8 was
 * 3.5x its fp32 time, now ~1.3x). For one-block convolutions X is quantized into, and the
 * accumulators written to, that module's memory, so only one copy in and one out remain.
 */
import { HostTensor } from '../../../src/ir/tensor.js';
import type { Node } from '../../../src/ir/graph.js';
import { forwardGeom, groupAttr, readWindowAttrs } from '../../../src/ir/ops/convgemm-geom.js';
import { qBaseNode, qChannelAxis, quantParams } from '../../../src/ir/ops/qfused.js';
import { quantizeCentered } from '../../../src/quant/int8.js';
import { input, outDims, type CpuKernel, type KernelContext, type KernelRegistry } from '../kernel.js';
import { sgemm } from '../gemm.js';
import { convDirect, convF32, getWinograd, setWinograd, toGeom3 } from '../convgemm-conv.js';
import { addInPlace, applyActivation } from '../epilogue.js';
import { kernelActivationChain } from '../convgemm-act.js';
import { epilogueWasm, quantScratch, quantWasm, type QScratch } from '../qgemm-wasm.js';

const F32_EXACT = 2 ** 24;

/** int8 weights as float32 integers, converted once per weight tensor. */
const floatWeights = new WeakMap<HostTensor, Float32Array>();
function weightsF32(w: HostTensor): Float32Array {
  let f = floatWeights.get(w);
  if (!f) { f = Float32Array.from(w.numbers); floatWeights.set(w, f); }
  return f;
}

/** Longest K block whose partial sums are exact in float32. */
function exactBlock(node: Node): number {
  const { zeroPoint, qmin, qmax } = quantParams(node);
  const bound = Math.max(zeroPoint - qmin, qmax - zeroPoint);
  return Math.max(1, Math.floor(F32_EXACT / (bound * 128)));
}

/** (xq - zp) as float32 integers: the SIMD loop, or its JS twin (src/quant/int8.ts). */
function quantize(x: HostTensor, scale: number, zeroPoint: number, qmin: number, qmax: number): Float32Array {
  const out = new Float32Array(x.size);
  if (x.numbers instanceof Float32Array && quantWasm(x.numbers, scale, qmin - zeroPoint, qmax - zeroPoint, out)) return out;
  return quantizeCentered(x.numbers, scale, zeroPoint, qmin, qmax, out);
}

function withoutWinograd<T>(f: () => T): T {
  const mode = getWinograd();
  setWinograd('off');
  try { return f(); } finally { setWinograd(mode); }
}

/** acc[c-major output] -> y in float32 with scales, bias and the activation chain. */
function epilogue(ctx: KernelContext, acc: Float32Array | Float64Array, channels: number, inner: number, y: HostTensor, scratch?: QScratch): void {
  const node = ctx.node;
  const { scale } = quantParams(node);
  const ws = input(ctx, 2).numbers, b = ctx.inputs[3]?.numbers;
  const z = ctx.inputs[4];
  const out = y.numbers as Float32Array; // float32 or float16 (rounded by the executor)
  const sc = new Float32Array(channels), bias = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    sc[c] = Math.fround(scale * ws[ws.length === 1 ? 0 : c]!);
    if (b) bias[c] = b[c]!;
  }
  const act = node.attrs['activation'] as string | undefined, actP = (node.attrs['activation_params'] as number[] | undefined) ?? [];
  const post = node.attrs['post_activation'] as string | undefined, postP = (node.attrs['post_activation_params'] as number[] | undefined) ?? [];
  // The SIMD epilogue applies what it can of the chain (piecewise-linear activations); the rest,
  // in order, here. With a residual only the activation before it can go into the store.
  const chain = z ? [[act, actP] as const] : [[act, actP] as const, [post, postP] as const];
  let applied = 0;
  const k = kernelActivationChain(chain);
  if (scratch) { scratch.finish(sc, bias, inner, k.act, out); applied = k.applied; }
  else if (acc instanceof Float32Array && epilogueWasm(acc, sc, bias, inner, k.act, out)) applied = k.applied;
  else if (acc instanceof Float32Array) scaleF32(acc, sc, bias, inner, out);
  else scaleF64(acc, sc, bias, inner, out);
  for (let i = applied; i < chain.length; i++) applyActivation(out, chain[i]![0], chain[i]![1]);
  if (z) {
    addInPlace(out, z.numbers);
    applyActivation(out, post, postP);
  }
}

// Two monomorphic loops (one array type each keeps them fast): out = f32(f32(acc) * sc[c]) + bias[c],
// the sum rounded to float32 by the store.
function scaleF32(acc: Float32Array, sc: Float32Array, bias: Float32Array, inner: number, out: Float32Array): void {
  const channels = sc.length, fr = Math.fround;
  for (let i = 0; i < acc.length;) {
    for (let c = 0; c < channels; c++) {
      const s = sc[c]!, bc = bias[c]!, end = i + inner;
      for (; i < end; i++) out[i] = fr(acc[i]! * s) + bc;
    }
  }
}

function scaleF64(acc: Float64Array, sc: Float32Array, bias: Float32Array, inner: number, out: Float32Array): void {
  const channels = sc.length, fr = Math.fround;
  for (let i = 0; i < acc.length;) {
    for (let c = 0; c < channels; c++) {
      const s = sc[c]!, bc = bias[c]!, end = i + inner;
      for (; i < end; i++) out[i] = fr(fr(acc[i]!) * s) + bc;
    }
  }
}

const qConv: CpuKernel = (ctx) => {
  const node = ctx.node, base = qBaseNode(node);
  const x = input(ctx, 0), w = input(ctx, 1);
  const { scale, zeroPoint, qmin, qmax } = quantParams(node);
  const yDims = outDims(ctx);
  const y = new HostTensor(x.dtype, yDims);
  if (y.size === 0) return [y];
  const rank = x.rank - 2;
  const g = toGeom3(forwardGeom(readWindowAttrs(base, rank, w.dims.slice(2)), x.dims.slice(2)));
  const N = x.dims[0]!, C = x.dims[1]!, M = yDims[1]!, group = groupAttr(base);
  const Cg = C / group, KK = w.size / (M * Cg || 1);
  const block = exactBlock(node);
  // One K block (nearly every convolution): X quantized and the accumulators written inside the
  // SIMD module's memory, saving two copies.
  const scratch = Cg * KK <= block && x.numbers instanceof Float32Array
    ? quantScratch(x.numbers, scale, qmin - zeroPoint, qmax - zeroPoint, y.size, M) ?? undefined : undefined;
  const xq = scratch?.xq ?? quantize(x, scale, zeroPoint, qmin, qmax);
  const wf = weightsF32(w);
  const OS = y.size / (N * M);
  let acc: Float32Array | Float64Array;
  if (Cg * KK <= block) {
    const a = scratch?.acc ?? new Float32Array(y.size);
    withoutWinograd(() => convF32({ x: xq, batch: N, channels: C, w: wf, outChannels: M, group, bias: undefined, g, y: a }));
    acc = a;
  } else if (group === 1 && KK <= block) {
    // Input-channel blocks: slices of X and W, partial convolutions summed in float64.
    const cc = Math.floor(block / KK), IS = x.size / (N * C);
    const sum = new Float64Array(y.size);
    for (let c0 = 0; c0 < C; c0 += cc) {
      const n = Math.min(cc, C - c0);
      const xs = new Float32Array(N * n * IS), wsl = new Float32Array(M * n * KK), part = new Float32Array(y.size);
      for (let b = 0; b < N; b++) xs.set(xq.subarray((b * C + c0) * IS, (b * C + c0 + n) * IS), b * n * IS);
      for (let m = 0; m < M; m++) wsl.set(wf.subarray((m * C + c0) * KK, (m * C + c0 + n) * KK), m * n * KK);
      withoutWinograd(() => convF32({ x: xs, batch: N, channels: n, w: wsl, outChannels: M, group: 1, bias: undefined, g, y: part }));
      for (let i = 0; i < sum.length; i++) sum[i] += part[i]!;
    }
    acc = sum;
  } else {
    const sum = new Float64Array(y.size);
    convDirect({ x: Float64Array.from(xq), batch: N, channels: C, w: Float64Array.from(wf), outChannels: M, group, bias: undefined, g, y: sum });
    acc = sum;
  }
  epilogue(ctx, acc, M, OS, y, scratch);
  return [y];
};

/** QGemm and QMatMul: A [..., M, K] (rows folded), W [K, N] or [N, K] (transB). */
const qMatmul: CpuKernel = (ctx) => {
  const node = ctx.node;
  const a = input(ctx, 0), w = input(ctx, 1);
  const { scale, zeroPoint, qmin, qmax } = quantParams(node);
  const y = new HostTensor(a.dtype, outDims(ctx));
  if (y.size === 0) return [y];
  const transB = node.opType === 'QGemm' && node.attrs['transB'] === 1;
  const K = a.dims[a.rank - 1]!, N = w.dims[qChannelAxis(node)]!;
  const rows = a.size / (K || 1);
  const aq = quantize(a, scale, zeroPoint, qmin, qmax);
  const wf = weightsF32(w);
  const [rsB, csB] = transB ? [1, K] : [N, 1];
  const block = exactBlock(node);
  let acc: Float32Array | Float64Array;
  if (K <= block) {
    acc = new Float32Array(y.size);
    sgemm(rows, N, K, aq, 0, K, 1, wf, 0, rsB, csB, acc, 0, N);
  } else {
    const sum = new Float64Array(y.size), part = new Float32Array(y.size);
    for (let k0 = 0; k0 < K; k0 += block) {
      const kb = Math.min(block, K - k0);
      part.fill(0);
      sgemm(rows, N, kb, aq, k0, K, 1, wf, k0 * rsB, rsB, csB, part, 0, N);
      for (let i = 0; i < sum.length; i++) sum[i] += part[i]!;
    }
    acc = sum;
  }
  // Channels run along the last axis: one "outer" block per output row, inner size 1.
  epilogue(ctx, acc, N, 1, y);
  return [y];
};

export const kernels: KernelRegistry = {
  'twinfer.QConv': qConv,
  'twinfer.QGemm': qMatmul,
  'twinfer.QMatMul': qMatmul,
};
