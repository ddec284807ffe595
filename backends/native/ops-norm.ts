/**
 * CUDA normalization family (native/src/norm.cu): Softmax / LogSoftmax / Hardmax, LayerNormalization,
 * InstanceNormalization, GroupNormalization, BatchNormalization (inference), LRN, MaxPool and
 * AveragePool (1-3 spatial axes), Resize with the host tap tables the CPU and WebGPU share, and
 * QuantizeLinear / DequantizeLinear (per tensor, per axis, blocked) to and from 8/16-bit integers.
 * Float types only for the math (float16 / bfloat16 stored as f32, float64 computed in f32).
 */
import { attrFloat, attrInt, type Node, type ValueType } from '../../src/ir/graph.js';
import { HostTensor, stridesOf } from '../../src/ir/tensor.js';
import { forwardGeom, readWindowAttrs } from '../../src/ir/ops/convgemm-geom.js';
import { resizeAttrs, resizeGeometry } from '../../src/ir/ops/normalization-resize.js';
import { axisTaps } from '../webgpu/ops/normalization-resize-taps.js';
import type { CudaKernel, CudaKernelContext, CudaKernelRegistry } from './kernel.js';
import { din, outDims } from './kernel.js';
import { typeCode, type CudaTensor } from './tensor.js';

const FLOATS = new Set(['float32', 'float16', 'bfloat16', 'float64']);
const normAxis = (a: number, r: number) => (a < 0 ? a + r : a);
const prod = (d: readonly number[], from = 0, to = d.length) => d.slice(from, to).reduce((a, b) => a * b, 1);

function floatOnly(op: string, ...idx: number[]) {
  return (_n: Node, inputs: (ValueType | undefined)[]): string | undefined => {
    for (const i of idx) if (inputs[i] && !FLOATS.has(inputs[i]!.dtype)) return `${op} on ${inputs[i]!.dtype} (float types on CUDA)`;
    return undefined;
  };
}

function softmax(mode: number): CudaKernel {
  return {
    unsupported: floatOnly('Softmax', 0),
    run(ctx) {
      const x = din(ctx, 0);
      const r = x.dims.length;
      const y = ctx.cuda.alloc(x.dims, x.dtype);
      if (!y.size) return [y];
      // opset < 13: the input is coerced to 2-D at `axis` (default 1)
      const legacy = ctx.opset < 13;
      const axis = normAxis(attrInt(ctx.node, 'axis', legacy ? 1 : -1), Math.max(r, 1));
      const [outer, axisDim, inner] = r === 0 ? [1, 1, 1] : legacy ? [prod(x.dims, 0, axis), prod(x.dims, axis), 1] : [prod(x.dims, 0, axis), x.dims[axis]!, prod(x.dims, axis + 1)];
      ctx.cuda.launch('softmax', [outer, axisDim, inner, mode, typeCode(x.dtype)], [], [x, y]);
      return [y];
    },
  };
}

/** Launches `norm` (rows of L) with the scale / bias index map and the optional stats outputs. */
function launchNorm(ctx: CudaKernelContext, x: CudaTensor, rows: number, L: number, map: [number, number, number, number, number], eps: number, scale?: CudaTensor, bias?: CudaTensor, stats?: (CudaTensor | undefined)[]): CudaTensor {
  const y = ctx.cuda.alloc(x.dims, x.dtype);
  const st = stats?.find((t) => t)?.dtype ?? 'float32';
  if (rows * L > 0) ctx.cuda.launch('norm', [rows, L, typeCode(x.dtype), ...map, typeCode(st)], [eps], [x, scale, bias, y, stats?.[0], stats?.[1]]);
  return y;
}

const layerNorm: CudaKernel = {
  unsupported(node, inputs) {
    const f = floatOnly('LayerNormalization', 0, 1, 2)(node, inputs);
    if (f) return f;
    const x = inputs[0]?.shape, s = inputs[1]?.shape, b = inputs[2]?.shape;
    if (!x || !s || x.some((d) => typeof d !== 'number')) return 'input shapes unknown';
    const axis = normAxis(attrInt(node, 'axis', -1), x.length);
    const L = prod(x.slice(axis) as number[]);
    const n = (sh: readonly unknown[]) => prod(sh as number[]);
    if (n(s) !== L || (b && n(b) !== L)) return 'scale / bias that broadcast over the normalized axes (full shape only on CUDA)';
    if (inputs[1]!.dtype !== inputs[0]!.dtype) return 'scale of another type than X';
    return undefined;
  },
  run(ctx) {
    const x = din(ctx, 0);
    const axis = normAxis(attrInt(ctx.node, 'axis', -1), x.dims.length);
    const L = prod(x.dims, axis), rows = prod(x.dims, 0, axis);
    const stats = [1, 2].map((i) => (ctx.node.outputs[i] ? ctx.cuda.alloc(outDims(ctx, i), ctx.outputTypes[i]!.dtype) : undefined));
    const y = launchNorm(ctx, x, rows, L, [1, 0, 1, L, 1], attrFloat(ctx.node, 'epsilon', 1e-5), din(ctx, 1), ctx.inputs[2], stats);
    return [y, ...stats];
  },
};

const instanceNorm: CudaKernel = {
  unsupported: floatOnly('InstanceNormalization', 0, 1, 2),
  run(ctx) {
    const x = din(ctx, 0);
    const C = x.dims[1]!;
    return [launchNorm(ctx, x, x.dims[0]! * C, prod(x.dims, 2), [C, 1, 1, 1, 0], attrFloat(ctx.node, 'epsilon', 1e-5), din(ctx, 1), din(ctx, 2))];
  },
};

const groupNorm: CudaKernel = {
  unsupported: floatOnly('GroupNormalization', 0, 1, 2),
  run(ctx) {
    const x = din(ctx, 0), s = din(ctx, 1);
    const G = attrInt(ctx.node, 'num_groups', 1);
    const C = x.dims[1]!, HW = prod(x.dims, 2), Cg = C / G;
    // opset 21: scale / bias per channel [C]; opset 18: per group [G]
    const map: [number, number, number, number, number] = s.size === C && C !== G ? [G, Cg, HW, Cg, 1] : [G, 1, 1, 1, 0];
    return [launchNorm(ctx, x, x.dims[0]! * G, Cg * HW, map, attrFloat(ctx.node, 'epsilon', 1e-5), s, din(ctx, 2))];
  },
};

const batchNorm: CudaKernel = {
  unsupported(node, inputs) {
    if (attrInt(node, 'training_mode', 0) === 1) return 'BatchNormalization training_mode runs on the CPU';
    const f = floatOnly('BatchNormalization', 0, 1, 2, 3, 4)(node, inputs);
    if (f) return f;
    return [2, 3, 4].some((i) => inputs[i]?.dtype !== inputs[1]?.dtype) ? 'BatchNormalization parameters of mixed types' : undefined;
  },
  run(ctx) {
    const x = din(ctx, 0), s = din(ctx, 1);
    const y = ctx.cuda.alloc(x.dims, x.dtype);
    if (y.size) ctx.cuda.launch('batchnorm', [y.size, x.dims[1] ?? 1, prod(x.dims, 2), typeCode(x.dtype), typeCode(s.dtype)], [attrFloat(ctx.node, 'epsilon', 1e-5)], [x, s, din(ctx, 2), din(ctx, 3), din(ctx, 4), y]);
    return [y];
  },
};

const lrn: CudaKernel = {
  unsupported: floatOnly('LRN', 0),
  run(ctx) {
    const x = din(ctx, 0);
    const y = ctx.cuda.alloc(x.dims, x.dtype);
    const n = ctx.node;
    if (y.size) ctx.cuda.launch('lrn', [x.dims[0]!, x.dims[1]!, prod(x.dims, 2), attrInt(n, 'size', 1), typeCode(x.dtype)], [attrFloat(n, 'alpha', 1e-4), attrFloat(n, 'beta', 0.75), attrFloat(n, 'bias', 1)], [x, y]);
    return [y];
  },
};

function pool(mode: 0 | 1): CudaKernel {
  const op = mode === 0 ? 'MaxPool' : 'AveragePool';
  return {
    unsupported(node, inputs) {
      const r = (inputs[0]?.shape?.length ?? 0) - 2;
      if (r < 1 || r > 3) return `${op} over ${r} spatial axes (1 to 3 on CUDA)`;
      const t = inputs[0]!.dtype;
      return FLOATS.has(t) || (mode === 0 && (t === 'int8' || t === 'uint8')) ? undefined : `${op} on ${t}`;
    },
    packedInputs: [0],
    run(ctx) {
      const xIn = din(ctx, 0);
      const r = xIn.dims.length - 2;
      const g = forwardGeom(readWindowAttrs(ctx.node, r), xIn.dims.slice(2), attrInt(ctx.node, 'ceil_mode', 0) !== 0);
      // A packed input (a float16 convolution's output) is pooled as it is, and stays packed.
      if (xIn.packed && !ctx.node.outputs[1]) {
        const y = ctx.cuda.alloc(outDims(ctx), xIn.dtype, true);
        if (!y.size) return [y];
        const [N, C, H, W] = xIn.dims as [number, number, number, number];
        const geo = [N, C, H, W, g.outSize[0]!, g.outSize[1]!, g.kernel[0]!, g.kernel[1]!, g.strides[0]!, g.strides[1]!, g.padsBegin[0]!, g.padsBegin[1]!, g.padsEnd[0]!, g.padsEnd[1]!, g.dilations[0]!, g.dilations[1]!];
        ctx.cuda.launch('poolNhwcHalf', [...geo, mode, attrInt(ctx.node, 'count_include_pad', 0)], [], [xIn, y]);
        return [y];
      }
      const x = ctx.cuda.plain(xIn);
      const y = ctx.cuda.alloc(outDims(ctx), x.dtype);
      const idx = mode === 0 && ctx.node.outputs[1] ? ctx.cuda.alloc(outDims(ctx, 1), 'int64') : undefined;
      if (!y.size) return idx ? [y, idx] : [y];
      const axes: number[] = [];
      for (let a = 0; a < 3 - r; a++) axes.push(1, 1, 1, 1, 0, 0, 1);
      for (let a = 0; a < r; a++) axes.push(g.inSize[a]!, g.outSize[a]!, g.kernel[a]!, g.strides[a]!, g.padsBegin[a]!, g.padsEnd[a]!, g.dilations[a]!);
      const ints = [x.dims[0]! * x.dims[1]!, mode, attrInt(ctx.node, 'count_include_pad', 0), attrInt(ctx.node, 'storage_order', 0), typeCode(x.dtype), ...axes];
      ctx.cuda.launch('pool', ints, [], [x, y, idx]);
      return idx ? [y, idx] : [y];
    },
  };
}

const resize: CudaKernel = {
  hostInputs: [1, 2, 3],
  unsupported(_n, inputs) {
    const r = inputs[0]?.shape?.length ?? 0;
    if (r > 8) return 'Resize of rank above 8';
    return FLOATS.has(inputs[0]?.dtype ?? '') || ['int8', 'uint8', 'int32'].includes(inputs[0]?.dtype ?? '') ? undefined : `Resize on ${inputs[0]?.dtype}`;
  },
  run(ctx) {
    const x = din(ctx, 0);
    const r = x.dims.length;
    const a = resizeAttrs(ctx.node, r);
    const g = resizeGeometry(a, x.dims, ctx.host(1), ctx.host(2), ctx.host(3));
    const od = outDims(ctx);
    const y = ctx.cuda.alloc(od, x.dtype);
    if (!y.size) return [y];
    const taps = x.dims.map((n, ax) => axisTaps(a, n, od[ax]!, g.scales[ax]!, g.roi[ax]!, g.roi[r + ax]!));
    const os = stridesOf(od), is = stridesOf(x.dims);
    const total = taps.reduce((s, t) => s + t.idx.length, 0);
    const idx = new HostTensor('int32', [total]), w = new HostTensor('float32', [total]);
    const head: number[] = [];
    let off = 0;
    taps.forEach((t, ax) => {
      head.push(os[ax]!, is[ax]!, t.n, off);
      (idx.data as Int32Array).set(t.idx, off);
      (w.data as Float32Array).set(t.w, off);
      off += t.idx.length;
    });
    ctx.cuda.launch('resize', [y.size, r, typeCode(x.dtype), ...head], [a.extrapolationValue], [x, ctx.cuda.upload(idx), ctx.cuda.upload(w), y]);
    return [y];
  },
};

const QTYPES = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32', 'int4', 'uint4', 'int2', 'uint2', 'float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz', 'float4e2m1']);

/** (axisDim, inner, block, axisLen) of the scale's layout against x. */
function quantLayout(node: Node, x: CudaTensor, s: CudaTensor): [number, number, number, number] {
  if (s.size === 1) return [1, 1, 0, 1];
  const axis = normAxis(attrInt(node, 'axis', 1), x.dims.length);
  const block = attrInt(node, 'block_size', 0);
  if (block > 0) return [s.dims[axis]!, prod(x.dims, axis + 1), block, x.dims[axis]!];
  return [x.dims[axis]!, prod(x.dims, axis + 1), 0, x.dims[axis]!];
}

const quantize: CudaKernel = {
  unsupported(_n, inputs, outputs) {
    const o = outputs[0]?.dtype ?? '';
    if (!QTYPES.has(o)) return `QuantizeLinear to ${o} (no CUDA form)`;
    return FLOATS.has(inputs[0]?.dtype ?? '') ? undefined : `QuantizeLinear of ${inputs[0]?.dtype}`;
  },
  run(ctx) {
    const x = din(ctx, 0), s = din(ctx, 1);
    const y = ctx.cuda.alloc(x.dims, ctx.outputTypes[0]!.dtype);
    const l = quantLayout(ctx.node, x, s);
    const sat = attrInt(ctx.node, 'saturate', 1) !== 0 ? 0 : 0x100;
    if (y.size) ctx.cuda.launch('quantize', [y.size, l[0], l[1], typeCode(x.dtype), typeCode(y.dtype) | sat, l[2], l[3]], [], [x, s, ctx.inputs[2], y]);
    return [y];
  },
};

const dequantize: CudaKernel = {
  unsupported(_n, inputs) {
    const t = inputs[0]?.dtype ?? '';
    return QTYPES.has(t) ? undefined : `DequantizeLinear of ${t} (no CUDA form)`;
  },
  run(ctx) {
    const x = din(ctx, 0), s = din(ctx, 1);
    const y = ctx.cuda.alloc(x.dims, ctx.outputTypes[0]!.dtype);
    const l = quantLayout(ctx.node, x, s);
    if (y.size) ctx.cuda.launch('dequantize', [y.size, l[0], l[1], typeCode(x.dtype), typeCode(s.dtype), l[2], l[3]], [], [x, s, ctx.inputs[2], y]);
    return [y];
  },
};

export const NORM_KERNELS: CudaKernelRegistry = {
  Softmax: softmax(0), LogSoftmax: softmax(1), Hardmax: softmax(2),
  LayerNormalization: layerNorm, InstanceNormalization: instanceNorm, GroupNormalization: groupNorm,
  BatchNormalization: batchNorm, LRN: lrn, MaxPool: pool(0), AveragePool: pool(1), Resize: resize,
  QuantizeLinear: quantize, DequantizeLinear: dequantize,
};
