/**
 * INT8 compute ops (domain `twinfer`): the Fused ops with the product done in integers.
 *     xq  = clamp(roundHalfEven(x / x_scale) + x_zero_point, qmin, qmax)      (ONNX QuantizeLinear)
 *     acc = sum over the reduction of (xq - x_zero_point) * W                 (int32; padding adds 0)
 *     y   = post_activation(activation(acc * (x_scale * W_scale[c]) + B[c]) + Z)   (float32)
 * Inputs: X (float32 / float16 activation), W (int8, zero point 0: the base op's weight layout),
 * W_scale (float32, [channels] per output channel or [1]), B (float32 bias [channels], optional),
 * Z (residual shaped like the output, optional). The output has X's dtype.
 *  - twinfer.QConv: Conv attributes; W [M, C/group, k...]; channels = M.
 *  - twinfer.QGemm: A [M, K] (no transA), W [K, N] or [N, K] with transB; channels = N. Gemm's alpha
 *    and beta are folded into W_scale and B when a Gemm is quantized, so there are none here.
 *  - twinfer.QMatMul: A [..., M, K], W [K, N] (rank 2); channels = N.
 * Attributes besides the base op's and the epilogue's (fused.ts): x_scale (float > 0), x_zero_point
 * (int, default 0), x_signed (1: int8 [-128, 127], the default; 0: uint8 [0, 255]).
 * They come from a CalibrationTable (symmetric, zero point 0) or a QDQ model's own Q/DQ pairs.
 */
import type { Node, ValueType } from '../graph.js';
import { InferError, type InferContext, type OpSchema, type SchemaRegistry } from '../schema.js';
import { schemas as convgemm } from './convgemm.js';
import { checkActivation } from './fused.js';

export const Q_BASE: Readonly<Record<string, 'Conv' | 'Gemm' | 'MatMul'>> = { QConv: 'Conv', QGemm: 'Gemm', QMatMul: 'MatMul' };
/** Fused (or plain) op type -> its INT8 form. */
export const Q_OF: Readonly<Record<string, string>> = { Conv: 'QConv', FusedConv: 'QConv', Gemm: 'QGemm', FusedGemm: 'QGemm', MatMul: 'QMatMul', FusedMatMul: 'QMatMul' };

const Q_ATTRS = ['x_scale', 'x_zero_point', 'x_signed', 'activation', 'activation_params', 'post_activation', 'post_activation_params'];

export interface QuantParams { scale: number; zeroPoint: number; qmin: number; qmax: number }

/** The activation quantization of a Q node, checked. */
export function quantParams(node: Node): QuantParams {
  const scale = node.attrs['x_scale'];
  if (typeof scale !== 'number' || !(Math.fround(scale) > 0) || !Number.isFinite(Math.fround(scale))) throw new InferError(`${node.opType}: x_scale must be a finite number > 0, got ${String(scale)}`);
  const signed = node.attrs['x_signed'] ?? 1;
  if (signed !== 0 && signed !== 1) throw new InferError(`${node.opType}: x_signed must be 0 or 1, got ${String(signed)}`);
  const [qmin, qmax] = signed === 1 ? [-128, 127] : [0, 255];
  const zeroPoint = node.attrs['x_zero_point'] ?? 0;
  if (typeof zeroPoint !== 'number' || !Number.isInteger(zeroPoint) || zeroPoint < qmin || zeroPoint > qmax) {
    throw new InferError(`${node.opType}: x_zero_point ${String(zeroPoint)} is outside [${qmin}, ${qmax}]`);
  }
  // ONNX float attributes are float32: a model written out and read back must quantize alike.
  return { scale: Math.fround(scale), zeroPoint, qmin, qmax };
}

/** The base op's node (its own attributes, X and W only), for inference and kernels. */
export function qBaseNode(node: Node): Node {
  const opType = Q_BASE[node.opType];
  if (!opType) throw new InferError(`${node.opType} is not an INT8 op`);
  const attrs = { ...node.attrs };
  for (const a of Q_ATTRS) delete attrs[a];
  return { ...node, opType, domain: '', inputs: node.inputs.slice(0, 2), attrs };
}

/** Index of the output-channel axis of W (the axis W_scale runs along). */
export function qChannelAxis(node: Node): number {
  if (node.opType === 'QConv') return 0;
  if (node.opType === 'QGemm') return node.attrs['transB'] === 1 ? 0 : 1;
  return 1;
}

function qOp(base: 'Conv' | 'Gemm' | 'MatMul'): OpSchema {
  return {
    inputs: [3, 5],
    outputs: [1, 1],
    infer(ctx: InferContext): ValueType[] {
      const n = ctx.node;
      quantParams(n);
      checkActivation(n.attrs['activation'], n.attrs['activation_params'], 'activation');
      checkActivation(n.attrs['post_activation'], n.attrs['post_activation_params'], 'post_activation');
      const [x, w, ws, b, z] = ctx.inputs;
      if (!x || !w || !ws) throw new InferError(`${n.opType}: X, W and W_scale are required`);
      if (x.dtype !== 'float32' && x.dtype !== 'float16') throw new InferError(`${n.opType}: X must be float32 or float16, got ${x.dtype}`);
      if (w.dtype !== 'int8') throw new InferError(`${n.opType}: W must be int8, got ${w.dtype}`);
      if (ws.dtype !== 'float32') throw new InferError(`${n.opType}: W_scale must be float32, got ${ws.dtype}`);
      if (base === 'Gemm' && (n.attrs['transA'] ?? 0) !== 0) throw new InferError('QGemm: transA is not supported (A is the activation)');
      if (base === 'Gemm' && (n.attrs['alpha'] !== undefined || n.attrs['beta'] !== undefined)) throw new InferError('QGemm: alpha and beta are folded into W_scale and B');
      if (base !== 'Conv' && w.shape && w.shape.length !== 2) throw new InferError(`${n.opType}: W must be 2-D, got rank ${w.shape.length}`);
      const axis = qChannelAxis(n);
      const channels = w.shape?.[axis];
      const checkVec = (t: ValueType | undefined, what: string, allowOne: boolean) => {
        if (!t?.shape) return;
        if (t.shape.length !== 1) throw new InferError(`${n.opType}: ${what} must be 1-D, got rank ${t.shape.length}`);
        const len = t.shape[0];
        if (typeof len === 'number' && typeof channels === 'number' && len !== channels && !(allowOne && len === 1)) {
          throw new InferError(`${n.opType}: ${what} has ${len} elements, W has ${channels} output channels`);
        }
      };
      checkVec(ws, 'W_scale', true);
      if (b) {
        if (b.dtype !== 'float32') throw new InferError(`${n.opType}: B must be float32, got ${b.dtype}`);
        checkVec(b, 'B', false);
      }
      const y = convgemm[base]!.infer({ ...ctx, node: qBaseNode(n), inputs: [x, { dtype: x.dtype, shape: w.shape }] })[0]!;
      if (z && (z.dtype !== x.dtype || (z.shape && y.shape && (z.shape.length !== y.shape.length || z.shape.some((d, i) => typeof d === 'number' && typeof y.shape![i] === 'number' && d !== y.shape![i]))))) {
        throw new InferError(`${n.opType}: residual Z [${z.shape?.join(',')}] ${z.dtype} must match the output [${y.shape?.join(',')}] ${x.dtype}`);
      }
      return [{ dtype: x.dtype, shape: y.shape }];
    },
  };
}

export const schemas: SchemaRegistry = {
  'twinfer.QConv': qOp('Conv'),
  'twinfer.QGemm': qOp('Gemm'),
  'twinfer.QMatMul': qOp('MatMul'),
};
