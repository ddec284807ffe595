/**
 * The CUDA kernels (keys as in src/ir/ops/index.ts). This file: the f32 core and the registry,
 *  - unary element-wise ops (one table of functions shared with the fused epilogues; other dtypes
 *    through the typed kernel unaryT),
 *  - binary ops with broadcasting (Add Sub Mul Div Pow Max Min PRelu; other dtypes through binaryT,
 *    Max / Min of N inputs as a chain),
 *  - Gemm, MatMul, twinfer.FusedGemm, twinfer.FusedMatMul on the tiled SGEMM (float32),
 *  - Conv, twinfer.FusedConv (1-D and 2-D, any groups) as an implicit GEMM with the fused epilogue,
 *    or, for float16 with cuDNN, in the packed NHWC form on fp16 tensor cores (tensor.ts).
 * The other families: ops-typed.ts (Cast, comparisons, logic, Where...), ops-movement.ts (layout,
 * gather / scatter), ops-reduce.ts (reductions, CumSum, TopK), ops-norm.ts (softmax, norms,
 * pooling, Resize, quantizers).
 */
import { attrFloat, attrInt, type Node } from '../../src/ir/graph.js';
import { geluMode } from '../../src/ir/ops/elementwise.js';
import { forwardGeom, groupAttr, readTransposeAttrs, readWindowAttrs, transposeGeom } from '../../src/ir/ops/convgemm-geom.js';
import type { CudaKernel, CudaKernelContext, CudaKernelRegistry } from './kernel.js';
import { din, outDims } from './kernel.js';
import { TYPED_KERNELS, launchUnaryT, typedBinaryRun, typedUnaryRun, type TypedBinary } from './ops-typed.js';
import { CudaTensor } from './tensor.js';
import { MOVEMENT_KERNELS } from './ops-movement.js';
import { REDUCE_KERNELS } from './ops-reduce.js';
import { NORM_KERNELS } from './ops-norm.js';
import { Q_KERNELS } from './ops-q.js';
import { MAX_BINARY_RANK, biasStrides, binaryInts, convInts, convShape, fusedFn, gemmInts, gemmShape, matmulShape, type ConvShape, type Fn } from './lower.js';

const SELU_ALPHA = 1.67326319217681884765625;
const SELU_GAMMA = 1.05070102214813232421875;

const plain = (name: string) => (): Fn => ({ name, a: 0, b: 0 });
const withAlpha = (name: string, def: number) => (n: Node): Fn => ({ name, a: attrFloat(n, 'alpha', def), b: 0 });

/** ONNX unary op -> function of the addon's table with its parameters. */
const UNARY: Record<string, (node: Node, ctx?: CudaKernelContext) => Fn> = {
  Identity: plain('Identity'), Relu: plain('Relu'), Sigmoid: plain('Sigmoid'), Tanh: plain('Tanh'), HardSwish: plain('HardSwish'),
  Abs: plain('Abs'), Neg: plain('Neg'), Exp: plain('Exp'), Log: plain('Log'), Sqrt: plain('Sqrt'), Reciprocal: plain('Reciprocal'),
  Floor: plain('Floor'), Ceil: plain('Ceil'), Round: plain('Round'), Sign: plain('Sign'),
  Sin: plain('Sin'), Cos: plain('Cos'), Tan: plain('Tan'), Asin: plain('Asin'), Acos: plain('Acos'), Atan: plain('Atan'),
  Sinh: plain('Sinh'), Cosh: plain('Cosh'), Asinh: plain('Asinh'), Acosh: plain('Acosh'), Atanh: plain('Atanh'),
  Erf: plain('Erf'), Softplus: plain('Softplus'), Softsign: plain('Softsign'), Mish: plain('Mish'),
  LeakyRelu: withAlpha('LeakyRelu', 0.01), Elu: withAlpha('Elu', 1), Celu: withAlpha('Celu', 1), ThresholdedRelu: withAlpha('ThresholdedRelu', 1),
  Selu: (n) => ({ name: 'Selu', a: attrFloat(n, 'alpha', SELU_ALPHA), b: attrFloat(n, 'gamma', SELU_GAMMA) }),
  HardSigmoid: (n) => ({ name: 'HardSigmoid', a: attrFloat(n, 'alpha', 0.2), b: attrFloat(n, 'beta', 0.5) }),
  Gelu: (n) => ({ name: geluMode(n) === 'tanh' ? 'GeluTanh' : 'Gelu', a: 0, b: 0 }),
  // min / max are inputs 1 and 2 (opset 11+; older forms are upgraded at import), read on the host.
  Clip: (_n, ctx) => ({ name: 'Clip', a: ctx?.host(1)?.num(0) ?? -Infinity, b: ctx?.host(2)?.num(0) ?? Infinity }),
};

function unaryKernel(op: string): CudaKernel {
  const f = UNARY[op]!;
  return {
    ...(op === 'Clip' ? { hostInputs: [1, 2] } : {}),
    unsupported(node, _inputs, _outputs, have) {
      const name = op === 'Clip' ? 'Clip' : f(node).name;
      return have(`unary/${name}`) ? undefined : `the addon has no kernel unary/${name}`;
    },
    run(ctx) {
      const fn = f(ctx.node, ctx);
      const x = din(ctx, 0);
      if (x.dtype !== 'float32' || ctx.outputTypes[0]!.dtype !== 'float32') return typedUnaryRun(ctx, fn);
      const y = ctx.cuda.alloc(outDims(ctx));
      if (y.size) ctx.cuda.launch(`unary/${fn.name}`, [y.size], [fn.a, fn.b], [x, y]);
      return [y];
    },
  };
}

function binaryKernel(op: string): CudaKernel {
  const variadic = op === 'Max' || op === 'Min' ? TYPED_KERNELS[op] : undefined;
  return {
    unsupported(node, inputs, outputs, have) {
      if (node.inputs.length !== 2) return variadic ? variadic.unsupported?.(node, inputs, outputs, have) : `${op} with ${node.inputs.length} inputs (2 on CUDA)`;
      if ((outputs[0]?.shape?.length ?? 0) > MAX_BINARY_RANK) return `rank above ${MAX_BINARY_RANK}`;
      if (!inputs[0]?.shape || !inputs[1]?.shape) return 'input ranks unknown';
      const f32 = [...inputs, ...outputs].every((t) => !t || t.dtype === 'float32');
      const k = f32 ? `binary/${op}` : 'binaryT';
      return have(k) ? undefined : `the addon has no kernel ${k}`;
    },
    run(ctx) {
      if (ctx.node.inputs.length !== 2 && variadic) return variadic.run(ctx);
      const a = din(ctx, 0), b = din(ctx, 1);
      if (a.dtype !== 'float32' || b.dtype !== 'float32' || ctx.outputTypes[0]!.dtype !== 'float32') return typedBinaryRun(ctx, op as TypedBinary);
      const dims = outDims(ctx);
      const y = ctx.cuda.alloc(dims);
      if (y.size) ctx.cuda.launch(`binary/${op}`, binaryInts(a.dims, b.dims, dims), [], [a, b, y]);
      return [y];
    },
  };
}

/** float16 / bfloat16 live as f32 on the device: the f32 kernels read them as they are. */
const F32_STORAGE = new Set(['float32', 'float16', 'bfloat16']);

/** Rounds an f32 kernel's output in place to its float16 / bfloat16 type (a typed Cast f32 -> type). */
function roundLowp(ctx: CudaKernelContext, y: CudaTensor): CudaTensor {
  if (y.dtype !== 'float32') launchUnaryT(ctx.cuda, { name: 'Identity', a: 0, b: 0 }, new CudaTensor(y.buffer, 'float32', y.dims, y.byteOffset), y);
  return y;
}

/**
 * The flags parameter of conv2d and gemm (native/src/common.h): 1 = TF32 tensor cores allowed, for
 * float16 operands (float16 values are exact in TF32, so nothing is lost); 2 = a float16 output,
 * rounded in the kernel's own store instead of a second pass.
 */
function lowpFlags(x: CudaTensor, w: CudaTensor, y: CudaTensor): number {
  return (x.dtype === 'float16' && w.dtype === 'float16' ? 1 : 0) | (y.dtype === 'float16' ? 2 : 0);
}

/** The fused epilogue's two activations (identity for plain ops). */
function epilogue(node: Node, fused: boolean): [Fn, Fn] {
  if (!fused) return [fusedFn(undefined, undefined), fusedFn(undefined, undefined)];
  return [fusedFn(node.attrs['activation'], node.attrs['activation_params']), fusedFn(node.attrs['post_activation'], node.attrs['post_activation_params'])];
}

function epilogueMissing(node: Node, fused: boolean, have: (name: string) => boolean): string | undefined {
  for (const f of epilogue(node, fused)) if (!have(f.name)) return `activation ${f.name} is not in the addon's function table`;
  return undefined;
}

function gemmKernel(kind: 'Gemm' | 'MatMul', fused: boolean): CudaKernel {
  const op = `${fused ? 'Fused' : ''}${kind}`;
  return {
    unsupported(node, inputs, _outputs, have) {
      if (!have('gemm')) return 'the addon has no gemm kernel';
      const bad = inputs.find((t) => t && !F32_STORAGE.has(t.dtype));
      if (bad) return `${op} on ${bad.dtype} (float32 and float16 / bfloat16 on CUDA)`;
      const a = inputs[0]?.shape, b = inputs[1]?.shape;
      if (!a || !b) return 'input ranks unknown';
      if (kind === 'MatMul' && Math.max(a.length, b.length) - 2 > 4) return `${op} with more than 4 batch axes`;
      if (kind === 'Gemm' && (inputs[2]?.shape?.length ?? 0) > 2) return 'C of rank above 2';
      if (kind === 'MatMul' && inputs[2] && inputs[2].shape?.length !== 1) return 'bias must be 1-D';
      return epilogueMissing(node, fused, have);
    },
    run(ctx) {
      const n = ctx.node;
      const a = din(ctx, 0), b = din(ctx, 1), c = ctx.inputs[2], z = fused ? ctx.inputs[3] : undefined;
      const tA = attrInt(n, 'transA', 0) === 1, tB = attrInt(n, 'transB', 0) === 1;
      const s = kind === 'Gemm' ? gemmShape(a.dims, b.dims, tA, tB) : matmulShape(a.dims, b.dims, fused && tA, fused && tB);
      const y = ctx.cuda.alloc(outDims(ctx), ctx.outputTypes[0]!.dtype);
      if (!y.size) return [y];
      const [act, post] = epilogue(n, fused);
      const alpha = kind === 'Gemm' ? attrFloat(n, 'alpha', 1) : 1;
      const beta = kind === 'Gemm' ? attrFloat(n, 'beta', 1) : 1;
      const ints = [...gemmInts(s, biasStrides(c?.dims, s.M, s.N), ctx.cuda.fn(act.name), ctx.cuda.fn(post.name)), lowpFlags(a, b, y)];
      ctx.cuda.launch('gemm', ints, [alpha, beta, act.a, act.b, post.a, post.b], [a, b, c, z, y]);
      return [y.dtype === 'bfloat16' ? roundLowp(ctx, y) : y];
    },
  };
}

/**
 * Whether a convolution takes the packed float16 form (cuDNN's fp16 tensor cores on NHWC halves,
 * native/src/conv.cu conv2dNhwcHalf, the convolution and its epilogue one cuDNN operation graph
 * where cuDNN has an engine for it): float16 data, 2 spatial axes, the addon built with cuDNN, and
 * pads cuDNN can express (one per axis: the output must be what the leading pads give on both
 * sides). At every batch: with the operation graphs the packed form is the faster one from batch 1
 * on (ResNet-50 fp16 on an H100, CUDA graph: b1 0.31 ms vs 1.46 on f32 storage; docs/benchmarks.md).
 * TWINFER_CUDA_NHWC=0 keeps every convolution on the f32-storage form.
 */
function takesPacked(ctx: CudaKernelContext, x: CudaTensor, w: CudaTensor, y: CudaTensor, c: ConvShape): boolean {
  if (!ctx.cuda.cuda.kernels.has('conv2dNhwcHalf') || nhwcMode() === '0') return false;
  if (x.dtype !== 'float16' || w.dtype !== 'float16' || y.dtype !== 'float16' || x.dims.length !== 4) return false;
  if (x.dims[0]! > 65535 || c.K > 65535) return false; // the layout conversions' grid
  const outOf = (n: number, k: number, s: number, pad: number, d: number) => Math.floor((n + 2 * pad - (k - 1) * d - 1) / s) + 1;
  return outOf(c.H, c.R, c.sh, c.ph, c.dh) === c.P && outOf(c.W, c.S, c.sw, c.pw, c.dw) === c.Q;
}

function nhwcMode(): string | undefined {
  return typeof process !== 'undefined' ? process.env?.['TWINFER_CUDA_NHWC'] : undefined;
}

function convKernel(fused: boolean): CudaKernel {
  const op = fused ? 'FusedConv' : 'Conv';
  return {
    packedInputs: [0, 3],
    unsupported(node, inputs, _outputs, have) {
      if (!have('conv2d')) return 'the addon has no conv2d kernel';
      const bad = inputs.find((t) => t && !F32_STORAGE.has(t.dtype));
      if (bad) return `${op} on ${bad.dtype} (float32 and float16 / bfloat16 on CUDA)`;
      const r = (inputs[0]?.shape?.length ?? 0) - 2;
      if (r !== 1 && r !== 2) return `${op} over ${r} spatial axes (1 or 2 on CUDA)`;
      return epilogueMissing(node, fused, have);
    },
    run(ctx) {
      const w = din(ctx, 1);
      let x = din(ctx, 0);
      const dims = outDims(ctx);
      const dtype = ctx.outputTypes[0]!.dtype;
      const geom = forwardGeom(readWindowAttrs(ctx.node, x.dims.length - 2, w.dims.slice(2)), x.dims.slice(2));
      const c = convShape(x.dims, w.dims, geom, groupAttr(ctx.node));
      if (dims[1] !== c.K || dims.slice(2).join() !== geom.outSize.join()) throw new Error(`${op}: output dims [${dims}] disagree with the geometry`);
      const [act, post] = epilogue(ctx.node, fused);
      const ints = convInts(c, ctx.cuda.fn(act.name), ctx.cuda.fn(post.name));
      const floats = [act.a, act.b, post.a, post.b];
      let z = fused ? ctx.inputs[3] : undefined;
      const probe = new CudaTensor(-1, dtype, dims);
      if (probe.size && takesPacked(ctx, x, w, probe, c)) {
        // Activations stay packed from here until a kernel needs them plain (the executor converts).
        const y = ctx.cuda.alloc(dims, dtype, true);
        const zp = z && z.dims.join() === dims.join() ? ctx.cuda.pack(z) : undefined;
        if (!z || zp) {
          ctx.cuda.launch('conv2dNhwcHalf', [...ints, 3], floats, [ctx.cuda.pack(x), ctx.cuda.pack(w), ctx.inputs[2], zp, y]);
          return [y];
        }
      }
      x = ctx.cuda.plain(x);
      z = z && ctx.cuda.plain(z);
      const y = ctx.cuda.alloc(dims, dtype);
      if (!y.size) return [y];
      ctx.cuda.launch('conv2d', [...ints, lowpFlags(x, w, y)], floats, [x, w, ctx.inputs[2], z, y]);
      return [y.dtype === 'bfloat16' ? roundLowp(ctx, y) : y];
    },
  };
}

/** ConvTranspose (1 to 3 spatial axes, groups, dilations, output_padding / output_shape) as a direct gather. */
const convTranspose: CudaKernel = {
  unsupported(_node, inputs, _outputs, have) {
    if (!have('convTranspose')) return 'the addon has no convTranspose kernel';
    const r = (inputs[0]?.shape?.length ?? 0) - 2;
    if (r < 1 || r > 3) return `ConvTranspose over ${r} spatial axes (1 to 3 on CUDA)`;
    const bad = inputs.find((t) => t && !F32_STORAGE.has(t.dtype));
    return bad ? `ConvTranspose on ${bad.dtype} (float32 and float16 / bfloat16 on CUDA)` : undefined;
  },
  run(ctx) {
    const x = din(ctx, 0), w = din(ctx, 1);
    const r = x.dims.length - 2;
    const y = ctx.cuda.alloc(outDims(ctx), ctx.outputTypes[0]!.dtype);
    if (!y.size) return [y];
    const g = transposeGeom(readTransposeAttrs(ctx.node, r, w.dims.slice(2)), x.dims.slice(2));
    const axes: number[] = [];
    for (let a = 0; a < 3 - r; a++) axes.push(1, 1, 1, 1, 0, 1);
    for (let a = 0; a < r; a++) axes.push(g.inSize[a]!, g.outSize[a]!, g.kernel[a]!, g.strides[a]!, g.padsBegin[a]!, g.dilations[a]!);
    ctx.cuda.launch('convTranspose', [x.dims[0]!, x.dims[1]!, y.dims[1]!, groupAttr(ctx.node), ...axes], [], [x, w, ctx.inputs[2], y]);
    return [roundLowp(ctx, y)];
  },
};

/**
 * twinfer.FusedConvTranspose: the ConvTranspose gather (bias included), then the epilogue in place as
 * element-wise launches: activation, residual add, post-activation. Not fused into one kernel, but it
 * keeps decoders (PP-OCR det's upsampling) on the GPU, so their runs replay as one CUDA graph.
 */
const fusedConvTranspose: CudaKernel = {
  unsupported(node, inputs, outputs, have) {
    const base = convTranspose.unsupported?.(node, inputs, outputs, have);
    if (base) return base;
    if (inputs[3] && !have('binary/Add')) return 'the addon has no kernel binary/Add';
    for (const f of epilogue(node, true)) if (f.name !== 'Identity' && !have(`unary/${f.name}`)) return `the addon has no kernel unary/${f.name}`;
    return undefined;
  },
  run(ctx) {
    const [y] = convTranspose.run(ctx) as [CudaTensor];
    if (!y.size) return [y];
    const f32 = new CudaTensor(y.buffer, 'float32', y.dims, y.byteOffset);
    const [act, post] = epilogue(ctx.node, true);
    const apply = (f: Fn) => { if (f.name !== 'Identity') ctx.cuda.launch(`unary/${f.name}`, [y.size], [f.a, f.b], [f32, f32]); };
    apply(act);
    const z = ctx.inputs[3];
    if (z) ctx.cuda.launch('binary/Add', binaryInts(y.dims, z.dims, y.dims), [], [f32, z, f32]);
    apply(post);
    return [roundLowp(ctx, y)];
  },
};

export const CUDA_KERNELS: CudaKernelRegistry = {
  ConvTranspose: convTranspose,
  'twinfer.FusedConvTranspose': fusedConvTranspose,
  ...TYPED_KERNELS,
  ...MOVEMENT_KERNELS,
  ...REDUCE_KERNELS,
  ...NORM_KERNELS,
  ...Q_KERNELS,
  ...Object.fromEntries(Object.keys(UNARY).map((op) => [op, unaryKernel(op)])),
  ...Object.fromEntries(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'PRelu'].map((op) => [op, binaryKernel(op)])),
  Gemm: gemmKernel('Gemm', false),
  MatMul: gemmKernel('MatMul', false),
  'twinfer.FusedGemm': gemmKernel('Gemm', true),
  'twinfer.FusedMatMul': gemmKernel('MatMul', true),
  Conv: convKernel(false),
  'twinfer.FusedConv': convKernel(true),
};

export function findCudaKernel(key: string): CudaKernel | undefined {
  return Object.prototype.hasOwnProperty.call(CUDA_KERNELS, key) ? CUDA_KERNELS[key] : undefined;
}
