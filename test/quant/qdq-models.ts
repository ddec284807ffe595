/**
 * QDQ models built in code for test/quant/qdq.test.ts, in the shapes onnxruntime's quantize_static
 * writes: activations through QuantizeLinear -> DequantizeLinear (per tensor), constant int8 weights
 * through DequantizeLinear (per tensor or per output channel), int32 biases dequantized with scale
 * x_scale * w_scale. Weights and data come from a seeded stream, so models are reproducible.
 */
import { Graph, type AttrValue } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import type { DType } from '../../src/ir/dtype.js';
import { exportModel } from '../../src/onnx/export.js';
import { roundHalfEven } from '../../src/quant/int8.js';
import { seededRandom } from '../helpers/ort-single-op.js';

export type QType = 'int8' | 'uint8';

export class QdqBuilder {
  readonly g = new Graph();
  private readonly rand: () => number;
  private k = 0;

  constructor(seed: number, opset = 17) {
    this.g.opsets = { '': opset };
    this.rand = seededRandom(seed);
  }

  private fresh(hint: string): string { return `${hint}_${this.k++}`; }

  uniform(n: number, lo: number, hi: number): Float32Array {
    return Float32Array.from({ length: n }, () => lo + (hi - lo) * this.rand());
  }

  init(hint: string, t: HostTensor): string {
    const name = this.fresh(hint);
    this.g.initializers.set(name, t);
    return name;
  }

  scalar(dtype: DType, v: number): string { return this.init(`c_${dtype}`, HostTensor.scalar(dtype, v)); }

  input(name: string, dtype: DType, shape: (number | string)[]): string {
    this.g.inputs.push({ name, dtype, shape });
    return name;
  }

  output(name: string): void { this.g.outputs.push({ name }); }

  node(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs = 1, out?: string): string[] {
    const name = this.fresh(opType);
    const outs = Array.from({ length: outputs }, (_, i) => (i === 0 && out ? out : `${name}_out${i}`));
    this.g.nodes.push({ name, opType, domain: '', inputs, outputs: outs, attrs });
    return outs;
  }

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, out?: string): string {
    return this.node(opType, inputs, attrs, 1, out)[0]!;
  }

  /** Q -> DQ of a float tensor with one scale and zero point (returns the DQ output; `q` the Q output). */
  qdq(x: string, scale: number, zp: number, type: QType, out?: string): string {
    const s = this.scalar('float32', scale), z = this.scalar(type, zp);
    const q = this.op('QuantizeLinear', [x, s, z]);
    return this.op('DequantizeLinear', [q, s, z], {}, out);
  }

  /**
   * Symmetric int8 weight quantized along `axis` (perChannel) or per tensor, through DQ; returns the
   * DQ output and the float32 scales.
   */
  weight(dims: number[], axis: number, perChannel: boolean, opts: { std?: number; type?: QType; zp?: number } = {}): { value: string; scales: Float32Array } {
    const n = dims.reduce((a, b) => a * b, 1);
    const std = opts.std ?? 0.3;
    const w = this.uniform(n, -std, std);
    const C = perChannel ? dims[axis]! : 1;
    const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    const chan = (i: number) => (perChannel ? Math.floor(i / inner) % C : 0);
    const amax = new Float64Array(C);
    for (let i = 0; i < n; i++) amax[chan(i)] = Math.max(amax[chan(i)]!, Math.abs(w[i]!));
    const type = opts.type ?? 'int8';
    const zp = opts.zp ?? 0;
    const scales = Float32Array.from(amax, (m) => (m > 0 ? m / 127 : 1));
    const [lo, hi] = type === 'int8' ? [-128, 127] : [0, 255];
    const q = Array.from(w, (v, i) => Math.min(hi, Math.max(lo, roundHalfEven(v / scales[chan(i)]!) + zp)));
    const qt = HostTensor.fromNumbers(type, dims, q);
    const wq = this.init('w_q', qt);
    const sDims = perChannel ? [C] : [];
    const s = this.init('w_scale', HostTensor.fromNumbers('float32', sDims, scales));
    const z = this.init('w_zp', HostTensor.fromNumbers(type, sDims, new Array<number>(C).fill(zp)));
    return { value: this.op('DequantizeLinear', [wq, s, z], perChannel ? { axis } : {}), scales };
  }

  /** int32 bias dequantized with scale x_scale * w_scale (per channel), as onnxruntime writes it. */
  bias(n: number, xScale: number, wScales: Float32Array, range = 0.2): string {
    const s = Float32Array.from({ length: n }, (_, i) => xScale * wScales[wScales.length === 1 ? 0 : i]!);
    const b = this.uniform(n, -range, range);
    const q = HostTensor.fromNumbers('int32', [n], Array.from(b, (v, i) => roundHalfEven(v / s[i]!)));
    const bq = this.init('b_q', q);
    const bs = this.init('b_scale', HostTensor.fromNumbers('float32', [n], s));
    const bz = this.init('b_zp', HostTensor.fromNumbers('int32', [n], new Array<number>(n).fill(0)));
    return this.op('DequantizeLinear', [bq, bs, bz], { axis: 0 });
  }

  bytes(): Uint8Array { return exportModel(this.g); }
}

/** Seeded float32 feed. */
export function feed(dims: number[], seed: number, lo = -1, hi = 1): HostTensor {
  const r = seededRandom(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  return new HostTensor('float32', dims, Float32Array.from({ length: n }, () => lo + (hi - lo) * r()));
}

/**
 * A small CNN: uint8 activations with zero points, per-channel int8 weights, int32 biases:
 * Conv 3x3 (+ Relu removed by the uint8 clamp, as onnxruntime does) -> depthwise 3x3 -> 1x1 conv
 * -> residual Add -> strided 3x3 without bias -> output. Final Q scale: 0.03.
 */
export function cnnU8(): { model: Uint8Array; outScale: number; input: number[] } {
  const b = new QdqBuilder(11);
  const x = b.input('x', 'float32', [2, 3, 9, 11]);
  const xs = 2 / 255;
  const xd = b.qdq(x, xs, 128, 'uint8');
  const w1 = b.weight([8, 3, 3, 3], 0, true);
  const c1 = b.op('Conv', [xd, w1.value, b.bias(8, xs, w1.scales)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  const s1 = 0.012;
  const r1 = b.qdq(c1, s1, 0, 'uint8'); // Relu folded into the clamp at zero point 0
  const w2 = b.weight([8, 1, 3, 3], 0, true, { std: 0.5 });
  const c2 = b.op('Conv', [r1, w2.value, b.bias(8, s1, w2.scales)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 8 });
  const s2 = 0.01;
  const d2 = b.qdq(c2, s2, 120, 'uint8');
  const w3 = b.weight([8, 8, 1, 1], 0, true);
  const c3 = b.op('Conv', [d2, w3.value, b.bias(8, s2, w3.scales)], { kernel_shape: [1, 1] });
  const d3 = b.qdq(c3, 0.008, 128, 'uint8');
  const a = b.op('Add', [d3, r1]);
  const s4 = 0.015;
  const d4 = b.qdq(a, s4, 100, 'uint8');
  const w4 = b.weight([5, 8, 3, 3], 0, true);
  const c4 = b.op('Conv', [d4, w4.value], { kernel_shape: [3, 3], strides: [2, 2], pads: [0, 1, 1, 0] });
  b.qdq(c4, 0.03, 128, 'uint8', 'y');
  b.output('y');
  return { model: b.bytes(), outScale: 0.03, input: [2, 3, 9, 11] };
}

/**
 * int8 symmetric activations, per-tensor weights, onnxruntime's symmetric form of Conv -> Relu
 * (a Q/DQ pair between them), a Conv whose Relu and residual Add follow without Q/DQ (fused into the
 * Q op by epilogue fusion), and a Gemm head. Output `y` after a final Q/DQ (scale 0.02) and `f`, the
 * float output of the fused conv.
 */
export function cnnS8(): { model: Uint8Array; outScale: number; input: number[] } {
  const b = new QdqBuilder(12);
  const x = b.input('x', 'float32', [1, 4, 8, 8]);
  const xs = 1 / 127;
  const xd = b.qdq(x, xs, 0, 'int8');
  const w1 = b.weight([6, 4, 3, 3], 0, false);
  const c1 = b.op('Conv', [xd, w1.value, b.bias(6, xs, w1.scales)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  const d1 = b.qdq(c1, 0.02, 0, 'int8');
  const r1 = b.op('Relu', [d1]);
  const s2 = 0.015;
  const d2 = b.qdq(r1, s2, 0, 'int8');
  const w2 = b.weight([6, 6, 3, 3], 0, false, { std: 0.2 });
  // Conv -> Relu -> Add(residual r1) -> output f: no Q/DQ after the conv.
  const c2 = b.op('Conv', [d2, w2.value, b.bias(6, s2, w2.scales)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  const f = b.op('Add', [b.op('Relu', [c2]), r1], {}, 'f');
  const d3 = b.qdq(f, 0.03, 0, 'int8');
  const g = b.op('Flatten', [b.op('GlobalAveragePool', [d3])]);
  const wg = b.weight([10, 6], 0, false);
  const gd = b.qdq(g, 0.01, 0, 'int8');
  const y = b.op('Gemm', [gd, wg.value, b.bias(10, 0.01, wg.scales)], { transB: 1 });
  b.qdq(y, 0.02, 0, 'int8', 'y');
  b.output('y'); b.output('f');
  return { model: b.bytes(), outScale: 0.02, input: [1, 4, 8, 8] };
}

/**
 * An MLP: MatMul (per-column weights, axis 1) + Add bias + Relu, batched MatMul on a rank-3 input,
 * Gemm without transB with alpha / beta and a float C, Gemm with transB and an int32 C.
 */
export function mlp(): { model: Uint8Array; outScale: number; input: number[] } {
  const b = new QdqBuilder(13);
  const x = b.input('x', 'float32', [2, 3, 16]);
  const xs = 0.01;
  const xd = b.qdq(x, xs, 3, 'uint8');
  const w1 = b.weight([16, 24], 1, true);
  const m1 = b.op('MatMul', [xd, w1.value]);
  const h = b.op('Relu', [b.op('Add', [m1, b.init('b1', new HostTensor('float32', [24], b.uniform(24, -0.1, 0.1)))])]);
  const hd = b.qdq(h, 0.006, 0, 'uint8');
  const flat = b.op('Reshape', [hd, b.init('shape', HostTensor.fromNumbers('int64', [2], [6, 24]))]);
  const fd = b.qdq(flat, 0.006, 0, 'uint8');
  const w2 = b.weight([24, 12], 1, true);
  const g1 = b.op('Gemm', [fd, w2.value, b.init('c2', new HostTensor('float32', [12], b.uniform(12, -0.1, 0.1)))], { alpha: 0.5, beta: 2 });
  const gd = b.qdq(g1, 0.004, 128, 'uint8');
  const w3 = b.weight([7, 12], 0, true);
  const g2 = b.op('Gemm', [gd, w3.value, b.bias(7, 0.004, w3.scales)], { transB: 1 });
  b.qdq(g2, 0.005, 128, 'uint8', 'y');
  b.output('y');
  return { model: b.bytes(), outScale: 0.005, input: [2, 3, 16] };
}

/**
 * Candidates the fold must leave as float ops: uint8 weights with a zero point, int8 weights with a
 * non-zero zero point, a MatMul weight quantized per row (axis 0, not its output columns), a
 * ConvTranspose. Outputs a, b, c, d after a final Q/DQ of scale 0.02.
 */
export function declined(): { model: Uint8Array; outScale: number; input: number[] } {
  const b = new QdqBuilder(14);
  const x = b.input('x', 'float32', [1, 4, 6, 6]);
  const xd = b.qdq(x, 1 / 127, 0, 'int8');
  const wa = b.weight([3, 4, 3, 3], 0, false, { type: 'uint8', zp: 128 });
  b.qdq(b.op('Conv', [xd, wa.value], { kernel_shape: [3, 3] }), 0.02, 0, 'int8', 'a');
  const wb = b.weight([3, 4, 3, 3], 0, true, { zp: 5 });
  b.qdq(b.op('Conv', [xd, wb.value], { kernel_shape: [3, 3] }), 0.02, 0, 'int8', 'b');
  const flat = b.qdq(b.op('Flatten', [xd]), 1 / 127, 0, 'int8');
  const wc = b.weight([144, 5], 0, true);
  b.qdq(b.op('MatMul', [flat, wc.value]), 0.02, 0, 'int8', 'c');
  const wd = b.weight([4, 2, 2, 2], 0, false);
  b.qdq(b.op('ConvTranspose', [xd, wd.value], { kernel_shape: [2, 2], strides: [2, 2] }), 0.02, 0, 'int8', 'd');
  for (const o of ['a', 'b', 'c', 'd']) b.output(o);
  return { model: b.bytes(), outScale: 0.02, input: [1, 4, 6, 6] };
}

/** int8 values of a weight (symmetric, per output channel) for the integer-op models. */
function int8Values(b: QdqBuilder, dims: number[], axis: number): { q: HostTensor; scales: Float32Array } {
  const n = dims.reduce((a, c) => a * c, 1);
  const w = b.uniform(n, -0.3, 0.3);
  const C = dims[axis]!, inner = dims.slice(axis + 1).reduce((a, c) => a * c, 1);
  const amax = new Float64Array(C);
  for (let i = 0; i < n; i++) { const c = Math.floor(i / inner) % C; amax[c] = Math.max(amax[c]!, Math.abs(w[i]!)); }
  const scales = Float32Array.from(amax, (m) => m / 127);
  const q = HostTensor.fromNumbers('int8', dims, Array.from(w, (v, i) => roundHalfEven(v / scales[Math.floor(i / inner) % C]!)));
  return { q, scales };
}

/**
 * onnxruntime's QOperator format: QuantizeLinear(x) -> QLinearConv (per-channel weights, int32 bias,
 * uint8 out) -> QLinearConv (per-tensor weights, uint8 out with a zero point) -> Flatten ->
 * QLinearMatMul (per-column weights, uint8 out) -> DequantizeLinear -> y (step 0.02);
 * the second conv's output is also dequantized to `c` (step 0.03).
 */
export function qoperator(): { model: Uint8Array; input: number[] } {
  const b = new QdqBuilder(15);
  const x = b.input('x', 'float32', [1, 3, 8, 8]);
  const xs = b.scalar('float32', 2 / 255), xz = b.scalar('uint8', 128);
  const xq = b.op('QuantizeLinear', [x, xs, xz]);
  const w1 = int8Values(b, [6, 3, 3, 3], 0);
  const b1 = HostTensor.fromNumbers('int32', [6], Array.from(b.uniform(6, -0.2, 0.2), (v, m) => Math.round(v / ((2 / 255) * w1.scales[m]!))));
  const y1s = b.scalar('float32', 0.012), y1z = b.scalar('uint8', 0);
  const c1 = b.op('QLinearConv', [xq, xs, xz, b.init('w1', w1.q), b.init('w1s', new HostTensor('float32', [6], w1.scales)),
    b.init('w1z', new HostTensor('int8', [6])), y1s, y1z, b.init('b1', b1)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  const w2 = int8Values(b, [4, 6, 3, 3], 0);
  const w2s = Math.max(...w2.scales);
  const w2q = HostTensor.fromNumbers('int8', [4, 6, 3, 3], Array.from(w2.q.numbers, (v, i) => roundHalfEven((v * w2.scales[Math.floor(i / 54)]!) / w2s)));
  const y2s = b.scalar('float32', 0.03), y2z = b.scalar('uint8', 125);
  const c2 = b.op('QLinearConv', [c1, y1s, y1z, b.init('w2', w2q), b.scalar('float32', w2s), b.scalar('int8', 0), y2s, y2z],
    { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  b.op('DequantizeLinear', [c2, y2s, y2z], {}, 'c');
  const flat = b.op('Flatten', [c2]);
  const w3 = int8Values(b, [64, 5], 1);
  const ys = b.scalar('float32', 0.02), yz = b.scalar('uint8', 128);
  const m = b.op('QLinearMatMul', [flat, y2s, y2z, b.init('w3', w3.q), b.init('w3s', new HostTensor('float32', [5], w3.scales)), b.scalar('int8', 0), ys, yz]);
  b.op('DequantizeLinear', [m, ys, yz], {}, 'y');
  b.output('y'); b.output('c');
  return { model: b.bytes(), input: [1, 3, 8, 8] };
}

/**
 * TensorRT / pytorch-quantization style: float weights fake-quantized by Q -> DQ in the graph; and a
 * Q output read by two DQs (one feeding the conv, one a Sigmoid output `s`), a DQ output read by the
 * conv and by a Relu output `r`. Output y after Q/DQ of scale 0.02.
 */
export function fakeQuantShared(): { model: Uint8Array; outScale: number; input: number[] } {
  const b = new QdqBuilder(16);
  const x = b.input('x', 'float32', [1, 3, 7, 7]);
  const xs = b.scalar('float32', 1 / 127), xz = b.scalar('int8', 0);
  const xq = b.op('QuantizeLinear', [x, xs, xz]);
  const xd = b.op('DequantizeLinear', [xq, xs, xz]);
  b.op('Sigmoid', [b.op('DequantizeLinear', [xq, xs, xz])], {}, 's');
  b.op('Relu', [xd], {}, 'r');
  const wf = b.init('wf', new HostTensor('float32', [5, 3, 3, 3], b.uniform(135, -0.4, 0.4)));
  const ws = b.init('ws', new HostTensor('float32', [5], b.uniform(5, 0.002, 0.004)));
  const wz = b.init('wz', new HostTensor('int8', [5]));
  const wd = b.op('DequantizeLinear', [b.op('QuantizeLinear', [wf, ws, wz], { axis: 0 }), ws, wz], { axis: 0 });
  b.qdq(b.op('Conv', [xd, wd], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }), 0.02, 0, 'int8', 'y');
  for (const o of ['y', 's', 'r']) b.output(o);
  return { model: b.bytes(), outScale: 0.02, input: [1, 3, 7, 7] };
}

/** ConvInteger (uint8 x, constant zero point) and MatMulInteger: exact int32 outputs y and z. */
export function integerOps(): { model: Uint8Array } {
  const b = new QdqBuilder(17);
  const x = b.input('x', 'uint8', [1, 3, 6, 6]);
  const a = b.input('a', 'uint8', [4, 20]);
  const w = int8Values(b, [4, 3, 3, 3], 0).q;
  b.op('ConvInteger', [x, b.init('w', w), b.scalar('uint8', 120)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, 'y');
  const m = int8Values(b, [20, 6], 1).q;
  b.op('MatMulInteger', [a, b.init('m', m), b.scalar('uint8', 131)], {}, 'z');
  b.output('y'); b.output('z');
  return { model: b.bytes() };
}
