/**
 * CPU kernels of the quantization family. The element-wise (de)quantizers live in
 * ../quant-linear.ts, the integer matmuls in ../quant-matmul.ts, the integer convolution in
 * ../quant-conv.ts over the int GEMM of ../quant-gemm.ts; this file wires them up.
 */
import { intRange } from '../../../src/ir/dtype.js';
import { convGeometry } from '../../../src/ir/ops/quant-shapes.js';
import { HostTensor } from '../../../src/ir/tensor.js';
import { input, outDims, type KernelContext, type KernelRegistry } from '../kernel.js';
import { intConv, type IntConvProblem } from '../quant-conv.js';
import { requantize } from '../quant-gemm.js';
import { dequantizeLinear, dynamicQuantizeLinear, quantizeLinear } from '../quant-linear.js';
import { matMulInteger, qlinearMatMul } from '../quant-matmul.js';

function scalarOf(t: HostTensor | undefined, what: string): number {
  if (!t) return 0;
  if (t.size !== 1) throw new Error(`${what} must be a scalar, got [${t.dims.join(',')}]`);
  return t.num(0);
}

function convProblem(ctx: KernelContext, ix: number, ixz: number, iw: number, iwz: number, ib: number): IntConvProblem {
  const x = input(ctx, ix), w = input(ctx, iw), wz = ctx.inputs[iwz];
  const out: IntConvProblem = {
    x: x.numbers, xDims: x.dims, xZero: scalarOf(ctx.inputs[ixz], 'x_zero_point'),
    w: w.numbers, wDims: w.dims, wZero: wz?.numbers,
    outDims: outDims(ctx), geom: convGeometry(ctx.node, w.dims, x.dims.slice(2)),
  };
  const b = ib >= 0 ? ctx.inputs[ib] : undefined;
  if (b) out.bias = b.numbers;
  return out;
}

function convInteger(ctx: KernelContext): HostTensor[] {
  const p = convProblem(ctx, 0, 2, 1, 3, -1);
  const out = new HostTensor('int32', p.outDims);
  const od = out.data as Int32Array;
  intConv(p, (n, acc) => od.set(acc, n * acc.length));
  return [out];
}

function qlinearConv(ctx: KernelContext): HostTensor[] {
  const p = convProblem(ctx, 0, 2, 3, 5, 8);
  const M = p.wDims[0]!;
  const xs = scalarOf(input(ctx, 1), 'x_scale'), ys = scalarOf(input(ctx, 6), 'y_scale');
  const ws = input(ctx, 4).numbers;
  if (ws.length !== 1 && ws.length !== M) throw new Error(`w_scale has ${ws.length} elements, expected 1 or ${M}`);
  // float32 arithmetic of the reference: x_scale * w_scale / y_scale.
  const mult = new Float64Array(M);
  for (let m = 0; m < M; m++) mult[m] = Math.fround(Math.fround(xs * ws[ws.length === 1 ? 0 : m]!) / ys);
  const yz = scalarOf(ctx.inputs[7], 'y_zero_point');
  const out = new HostTensor(ctx.outputTypes[0]!.dtype, p.outDims);
  const [lo, hi] = intRange(out.dtype);
  const od = out.data as Int8Array | Uint8Array;
  const P = out.size / (p.outDims[0]! * M);
  intConv(p, (n, acc) => {
    for (let m = 0; m < M; m++) requantize(acc, m * P, P, mult[m]!, yz, lo, hi, od, (n * M + m) * P);
  });
  return [out];
}

export const kernels: KernelRegistry = {
  QuantizeLinear: quantizeLinear,
  DequantizeLinear: dequantizeLinear,
  DynamicQuantizeLinear: dynamicQuantizeLinear,
  MatMulInteger: matMulInteger,
  QLinearMatMul: qlinearMatMul,
  ConvInteger: convInteger,
  QLinearConv: qlinearConv,
};
