/**
 * The CUDA kernels of the first native build, f32 only (keys as in src/ir/ops/index.ts):
 *  - unary element-wise ops (one table of functions shared with the fused epilogues),
 *  - binary ops with broadcasting (Add Sub Mul Div Pow Max Min PRelu),
 *  - Gemm, MatMul, twinfer.FusedGemm, twinfer.FusedMatMul on the tiled SGEMM,
 *  - Conv, twinfer.FusedConv (1-D and 2-D, any groups) as an implicit GEMM with the fused epilogue.
 */
import { attrFloat, attrInt, type Node } from '../../src/ir/graph.js';
import { geluMode } from '../../src/ir/ops/elementwise.js';
import { forwardGeom, groupAttr, readWindowAttrs } from '../../src/ir/ops/convgemm-geom.js';
import type { CudaKernel, CudaKernelContext, CudaKernelRegistry } from './kernel.js';
import { din, outDims } from './kernel.js';
import { MAX_BINARY_RANK, biasStrides, binaryInts, convInts, convShape, fusedFn, gemmInts, gemmShape, matmulShape, type Fn } from './lower.js';

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
      const y = ctx.cuda.alloc(outDims(ctx));
      if (y.size) ctx.cuda.launch(`unary/${fn.name}`, [y.size], [fn.a, fn.b], [x, y]);
      return [y];
    },
  };
}

function binaryKernel(op: string): CudaKernel {
  return {
    unsupported(node, inputs, outputs, have) {
      if (node.inputs.length !== 2) return `${op} with ${node.inputs.length} inputs (2 on CUDA)`;
      if ((outputs[0]?.shape?.length ?? 0) > MAX_BINARY_RANK) return `rank above ${MAX_BINARY_RANK}`;
      if (!inputs[0]?.shape || !inputs[1]?.shape) return 'input ranks unknown';
      return have(`binary/${op}`) ? undefined : `the addon has no kernel binary/${op}`;
    },
    run(ctx) {
      const a = din(ctx, 0), b = din(ctx, 1);
      const dims = outDims(ctx);
      const y = ctx.cuda.alloc(dims);
      if (y.size) ctx.cuda.launch(`binary/${op}`, binaryInts(a.dims, b.dims, dims), [], [a, b, y]);
      return [y];
    },
  };
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
      const y = ctx.cuda.alloc(outDims(ctx));
      if (!y.size) return [y];
      const [act, post] = epilogue(n, fused);
      const alpha = kind === 'Gemm' ? attrFloat(n, 'alpha', 1) : 1;
      const beta = kind === 'Gemm' ? attrFloat(n, 'beta', 1) : 1;
      const ints = gemmInts(s, biasStrides(c?.dims, s.M, s.N), ctx.cuda.fn(act.name), ctx.cuda.fn(post.name));
      ctx.cuda.launch('gemm', ints, [alpha, beta, act.a, act.b, post.a, post.b], [a, b, c, z, y]);
      return [y];
    },
  };
}

function convKernel(fused: boolean): CudaKernel {
  const op = fused ? 'FusedConv' : 'Conv';
  return {
    unsupported(node, inputs, _outputs, have) {
      if (!have('conv2d')) return 'the addon has no conv2d kernel';
      const r = (inputs[0]?.shape?.length ?? 0) - 2;
      if (r !== 1 && r !== 2) return `${op} over ${r} spatial axes (1 or 2 on CUDA)`;
      return epilogueMissing(node, fused, have);
    },
    run(ctx) {
      const x = din(ctx, 0), w = din(ctx, 1);
      const dims = outDims(ctx);
      const y = ctx.cuda.alloc(dims);
      if (!y.size) return [y];
      const geom = forwardGeom(readWindowAttrs(ctx.node, x.dims.length - 2, w.dims.slice(2)), x.dims.slice(2));
      const c = convShape(x.dims, w.dims, geom, groupAttr(ctx.node));
      if (dims[1] !== c.K || dims.slice(2).join() !== geom.outSize.join()) throw new Error(`${op}: output dims [${dims}] disagree with the geometry`);
      const [act, post] = epilogue(ctx.node, fused);
      ctx.cuda.launch('conv2d', convInts(c, ctx.cuda.fn(act.name), ctx.cuda.fn(post.name)), [act.a, act.b, post.a, post.b], [x, w, ctx.inputs[2], fused ? ctx.inputs[3] : undefined, y]);
      return [y];
    },
  };
}

export const CUDA_KERNELS: CudaKernelRegistry = {
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
