/**
 * Post-training INT8 (implicit quantization with a CalibrationTable, as TensorRT's INT8 flag does):
 * Conv / Gemm / MatMul and their twinfer.Fused forms become twinfer.QConv / QGemm / QMatMul when
 * their weight is a float32 constant and the table has the tensor feeding X. Weights are quantized
 * per output channel (symmetric, src/quant/int8.ts); X uses the table's scale with zero point 0.
 * Gemm's alpha / beta fold into W_scale and the bias. Everything else is left alone, with the
 * reason a candidate was skipped.
 */
import type { Graph, Node } from '../ir/graph.js';
import { HostTensor } from '../ir/tensor.js';
import { Q_OF } from '../ir/ops/qfused.js';
import type { CalibrationTable } from './table.js';
import { int8Weights } from './int8.js';

export interface Int8Skip { node: string; opType: string; reason: string }

/** `base`, or `base_1`, `base_2`, ...: the first name no constant or typed value of `g` uses. */
export function freshName(g: Graph, base: string): string {
  let name = base, i = 1;
  while (g.initializers.has(name) || g.types.has(name)) name = `${base}_${i++}`;
  return name;
}

/** Whether op type `t` (default or twinfer domain) is an INT8 candidate. */
export function int8Candidate(n: Node): boolean {
  return (n.domain === '' || n.domain === 'twinfer') && n.opType in Q_OF && (n.domain === 'twinfer') === n.opType.startsWith('Fused');
}

/**
 * Rewrites one candidate node in place into its Q form; returns undefined on success, else why not.
 * `g.types` must be current (inferred).
 */
export function quantizeNode(g: Graph, n: Node, table: CalibrationTable): string | undefined {
  const x = n.inputs[0]!, wName = n.inputs[1]!;
  const w = g.initializers.get(wName);
  if (!w) return 'the weight is not a constant';
  if (w.dtype !== 'float32') return `the weight is ${w.dtype}`;
  const xType = g.types.get(x);
  if (xType?.dtype !== 'float32' && xType?.dtype !== 'float16') return `X is ${xType?.dtype ?? 'of unknown type'}`;
  const entry = table.get(x);
  if (!entry) return `the calibration table has no entry for '${x}'`;
  if (!(entry.scale > 0)) return `'${x}' has a zero range in the table`;
  const base = n.opType.replace(/^Fused/, '') as 'Conv' | 'Gemm' | 'MatMul';
  const attrs: Record<string, unknown> = { ...n.attrs };
  let weight = w, bias: HostTensor | undefined, biasName = '', residual = '';
  let axis: number;
  let scaleMul = 1;
  if (base === 'Conv') {
    axis = 0;
    biasName = n.inputs[2] ?? '';
    residual = n.inputs[3] ?? '';
  } else if (base === 'Gemm') {
    if ((n.attrs['transA'] ?? 0) !== 0) return 'Gemm with transA (X transposed)';
    if (xType.shape && xType.shape.length !== 2) return 'Gemm A is not 2-D';
    const transB = n.attrs['transB'] === 1;
    axis = transB ? 0 : 1;
    const N = w.dims[axis]!;
    const alpha = typeof n.attrs['alpha'] === 'number' ? n.attrs['alpha'] : 1;
    const beta = typeof n.attrs['beta'] === 'number' ? n.attrs['beta'] : 1;
    delete attrs['alpha']; delete attrs['beta']; delete attrs['transA'];
    scaleMul = alpha;
    const cName = n.inputs[2] ?? '';
    if (cName) {
      const c = g.initializers.get(cName);
      if (!c || c.dtype !== 'float32') return 'Gemm C is not a float32 constant';
      if (c.size !== N && c.size !== 1) return `Gemm C [${c.dims.join(',')}] is not a per-column bias`;
      if (c.dims.length === 2 && c.dims[0] !== 1) return `Gemm C [${c.dims.join(',')}] is not a per-column bias`;
      const v = new Float32Array(N);
      for (let j = 0; j < N; j++) v[j] = beta * c.numbers[c.size === 1 ? 0 : j]!;
      bias = new HostTensor('float32', [N], v);
    }
    residual = n.inputs[3] ?? '';
  } else {
    if (w.rank !== 2) return `the MatMul weight has rank ${w.rank} (2 needed)`;
    if (n.attrs['transA'] === 1) return 'MatMul with transA';
    if (n.attrs['transB'] === 1) {
      // Store W as [K, N]: the INT8 op has no transB for MatMul.
      const [N, K] = w.dims as [number, number];
      const t = new Float32Array(w.size), s = w.numbers;
      for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) t[k * N + j] = s[j * K + k]!;
      weight = new HostTensor('float32', [K, N], t);
    }
    delete attrs['transA']; delete attrs['transB'];
    axis = 1;
    biasName = n.inputs[2] ?? '';
    if (biasName) {
      const b = g.initializers.get(biasName);
      if (!b || b.dtype !== 'float32' || b.rank !== 1) return 'the MatMul bias is not a 1-D float32 constant';
    }
    residual = n.inputs[3] ?? '';
  }
  const q = int8Weights(weight, axis);
  if (scaleMul !== 1) {
    const s = q.scale.numbers;
    for (let i = 0; i < s.length; i++) s[i] = Math.fround(s[i]! * scaleMul);
  }
  const wq = freshName(g, `${wName}_int8`), ws = freshName(g, `${wName}_int8_scale`);
  g.initializers.set(wq, q.w); g.types.set(wq, { dtype: 'int8', shape: q.w.dims.slice() });
  g.initializers.set(ws, q.scale); g.types.set(ws, { dtype: 'float32', shape: q.scale.dims.slice() });
  if (bias) {
    biasName = freshName(g, `${n.name || wName}_bias`);
    g.initializers.set(biasName, bias); g.types.set(biasName, { dtype: 'float32', shape: bias.dims.slice() });
  }
  for (const k of Object.keys(attrs)) if (attrs[k] === undefined) delete attrs[k];
  n.opType = Q_OF[n.opType]!;
  n.domain = 'twinfer';
  n.inputs = [x, wq, ws, biasName, ...(residual ? [residual] : [])];
  while (n.inputs.length > 3 && n.inputs[n.inputs.length - 1] === '') n.inputs.pop();
  n.attrs = { ...(attrs as Node['attrs']), x_scale: entry.scale, x_zero_point: 0, x_signed: 1 };
  if (n.attrTypes) n.attrTypes = { ...n.attrTypes, x_scale: 'float', x_zero_point: 'int', x_signed: 'int' };
  return undefined;
}
