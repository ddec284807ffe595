/**
 * The CPU reference of the INT8 ops (twinfer.QConv / QGemm / QMatMul, backends/cpu/ops/qfused.ts)
 * and float16 graphs on the CPU backend, against onnxruntime-node.
 *
 *  1. QConv vs ORT QLinearConv on the same integers. QLinearConv requantizes its output, so our float
 *     output is requantized with the same y_scale / y_zero_point. Tolerance: equal, except where
 *     (acc + bias) * x_scale * w_scale / y_scale lies within 1e-4 of a .5 boundary (QLinearConv rounds
 *     one float32 product, we round two float32 products and a sum, then divide): there one step,
 *     and every such mismatch is checked to be at such a boundary. The count is printed (0 of 4771
 *     in practice).
 *  2. QMatMul / QGemm vs ORT MatMulInteger (exact int32), then y = f32(f32(acc) * f32(x_scale *
 *     W_scale[n])) + B[n] in float32: bit-exact.
 *  3. Activation, residual and saturation vs an ORT float graph on the dequantized inputs
 *     (Conv/MatMul + bias -> activation -> Add Z -> post-activation): |d| <= 1e-5 |ref| + 1e-5 max|ref|
 *     (float32 sums of up to ~1200 products in ORT vs our exact integer sum). The integer part is
 *     pinned by 1 and 2; this checks the epilogue (scales, bias, order of activation, residual and
 *     post-activation, saturation of X). QConv through an InferenceSession (worker threads) gives
 *     the bare executor's bits, and the SIMD quantizer / epilogue equal their JS twins (exact .5
 *     ties, NaN, infinities; activations within float32 rounding).
 *  4. float16: every op of PP-OCR and the standard architectures accepts float16 and gives exactly
 *     round16(its float32 result on the same inputs); a small conv net converted by hand to float16
 *     matches the float32 graph within 4e-3 max|ref| (about 8 roundings to 11 bits on the longest
 *     path, 2^-11 each; measured 2.5e-4), and src/quant/fp16.ts's conversion gives the same bits.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { Graph, type AttrValue, type Node } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import type { DType } from '../../src/ir/dtype.js';
import { roundArrayToDtype } from '../../src/ir/lowp.js';
import { exportModel } from '../../src/onnx/export.js';
import { buildGraph } from '../../src/api/session.js';
import { CpuExecutor } from '../../backends/cpu/executor.js';
import { fromHostTensor, toHostTensor, type Tensor } from '../../src/api/tensor.js';
import { roundHalfEven, quantizeWeightsPerChannel, int8Weights, dequantizeWeights, quantizeCentered } from '../../src/quant/int8.js';
import { epilogueWasm, quantWasm, setQSimd } from '../../backends/cpu/qgemm-wasm.js';
import { kernelActivationChain } from '../../backends/cpu/convgemm-act.js';
import { applyActivation } from '../../backends/cpu/epilogue.js';
import { convertToFp16, fp16Eligible } from '../../src/quant/fp16.js';
import { inferGraph } from '../../src/ir/infer.js';
import { randomTensor, seededRandom, singleOpModel } from '../helpers/ort-single-op.js';

type In = HostTensor | undefined;
const f32 = (dims: readonly number[], v: ArrayLike<number>) => new HostTensor('float32', dims.slice(), Float32Array.from(v));
const scalar = (dtype: DType, v: number) => {
  const t = new HostTensor(dtype, []);
  t.numbers[0] = v;
  return t;
};

function runCpu(g: Graph, feeds: Record<string, HostTensor>, outs: string[]): HostTensor[] {
  const m = new CpuExecutor(g).run(new Map(Object.entries(feeds)), outs);
  return outs.map((o) => m.get(o)!);
}

/** Runs a twinfer Q op (W, W_scale, B as initializers; X and Z fed). */
function runQ(op: string, attrs: Record<string, AttrValue>, inputs: In[]): HostTensor {
  const g = buildGraph(singleOpModel({ opType: op, domain: 'twinfer', attrs, inputs, constInputs: [1, 2, 3] }));
  const feeds: Record<string, HostTensor> = { in0: inputs[0]! };
  if (inputs[4]) feeds['in4'] = inputs[4];
  return runCpu(g, feeds, ['out0'])[0]!;
}

async function runOrt(model: Uint8Array, feeds: Record<string, HostTensor>, out = 'out0'): Promise<HostTensor> {
  const sess = await ort.InferenceSession.create(model);
  const f: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) {
    const t = fromHostTensor(v);
    f[k] = new ort.Tensor(t.type as never, t.data as never, t.dims as number[]);
  }
  const r = await sess.run(f);
  await sess.release();
  return toHostTensor(r[out] as unknown as Tensor);
}

/** A graph of plain nodes; inits become initializers, feeds graph inputs. */
function model(nodes: Omit<Node, 'domain' | 'name'>[], feeds: Record<string, HostTensor>, inits: Record<string, HostTensor>, out = 'out0'): Uint8Array {
  const g = new Graph();
  g.opsets = { '': 21 };
  for (const [k, v] of Object.entries(feeds)) g.inputs.push({ name: k, dtype: v.dtype, shape: v.dims.slice() });
  for (const [k, v] of Object.entries(inits)) g.initializers.set(k, v);
  nodes.forEach((n, i) => g.nodes.push({ ...n, name: `n${i}`, domain: '' }));
  g.outputs = [{ name: out }];
  return exportModel(g);
}

interface Setup {
  rand: () => number;
  xs: number;
  zp: number;
  signed: boolean;
  qmin: number;
  qmax: number;
}

function setup(seed: number, signed: boolean, zp: number, xs = 0.0123): Setup {
  return { rand: seededRandom(seed), xs: Math.fround(xs), zp, signed, qmin: signed ? -128 : 0, qmax: signed ? 127 : 255 };
}

/** Quantized activations in [lo, hi] and their float form x = (q - zp) * x_scale (which quantizes back to q). */
function activations(s: Setup, dims: number[], lo = s.qmin, hi = s.qmax): { q: HostTensor; x: HostTensor } {
  const n = dims.reduce((a, b) => a * b, 1);
  const q = new HostTensor(s.signed ? 'int8' : 'uint8', dims);
  const x = new HostTensor('float32', dims);
  for (let i = 0; i < n; i++) {
    const v = lo + Math.floor(s.rand() * (hi - lo + 1));
    q.numbers[i] = Math.min(s.qmax, Math.max(s.qmin, v));
    x.numbers[i] = Math.fround((v - s.zp) * s.xs);
  }
  return { q, x };
}

function int8Tensor(s: Setup, dims: number[]): HostTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return new HostTensor('int8', dims, Int8Array.from({ length: n }, () => Math.floor(s.rand() * 255) - 127));
}

function qAttrs(s: Setup): Record<string, AttrValue> {
  return { x_scale: s.xs, x_zero_point: s.zp, x_signed: s.signed ? 1 : 0 };
}

// ---------------------------------------------------------------------------------------------
// 1. QConv vs QLinearConv

interface ConvCase {
  name: string;
  x: number[];
  w: number[];
  attrs?: Record<string, AttrValue>;
  signed?: boolean;
  zp?: number;
}

const CONV_CASES: ConvCase[] = [
  { name: '3x3 pad 1', x: [1, 3, 9, 11], w: [8, 3, 3, 3], attrs: { pads: [1, 1, 1, 1] } },
  { name: 'uint8 zp 131, batch 2, stride 2', x: [2, 5, 13, 10], w: [7, 5, 3, 3], attrs: { pads: [1, 1, 1, 1], strides: [2, 2] }, signed: false, zp: 131 },
  { name: 'groups 3, odd channels, asymmetric pads', x: [1, 9, 8, 7], w: [6, 3, 3, 2], attrs: { group: 3, pads: [0, 1, 2, 0] } },
  { name: 'depthwise 5x5 stride 2 pad 2', x: [2, 7, 12, 9], w: [7, 1, 5, 5], attrs: { group: 7, pads: [2, 2, 2, 2], strides: [2, 2] } },
  { name: 'depthwise uint8 zp 100, dilation 2', x: [1, 6, 10, 10], w: [6, 1, 3, 3], attrs: { group: 6, pads: [2, 2, 2, 2], dilations: [2, 2] }, signed: false, zp: 100 },
  { name: 'depthwise channel multiplier 2', x: [1, 5, 7, 8], w: [10, 1, 3, 3], attrs: { group: 5, pads: [1, 1, 1, 1] } },
  { name: 'auto_pad SAME_UPPER stride 2', x: [1, 3, 9, 10], w: [4, 3, 3, 3], attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] } },
  { name: 'dilations 2x3, strides 1x2', x: [1, 4, 11, 13], w: [5, 4, 3, 3], attrs: { dilations: [2, 3], strides: [1, 2], pads: [1, 0, 2, 3] } },
  { name: '1x1', x: [2, 17, 5, 3], w: [19, 17, 1, 1] },
  { name: '1-D', x: [2, 6, 23], w: [6, 3, 4], attrs: { group: 2, pads: [1, 2], strides: [2] } },
  { name: 'int8 zp -5', x: [1, 4, 6, 6], w: [3, 4, 3, 3], attrs: { pads: [1, 1, 1, 1] }, zp: -5 },
  { name: 'deep: C*k*k 1170 > 1024 (channel blocks)', x: [1, 130, 5, 5], w: [9, 130, 3, 3], attrs: { pads: [1, 1, 1, 1] } },
  { name: 'deep uint8: C*k*k 594 > 514, zp 255', x: [1, 66, 4, 5], w: [4, 66, 3, 3], attrs: { pads: [1, 1, 1, 1] }, signed: false, zp: 255 },
  { name: 'deep grouped: Cg*k*k 1170 (float64 direct)', x: [1, 260, 4, 4], w: [6, 130, 3, 3], attrs: { group: 2, pads: [1, 1, 1, 1] } },
];

describe('twinfer.QConv vs onnxruntime QLinearConv', () => {
  let seed = 100;
  let mismatches = 0, total = 0;
  for (const c of CONV_CASES) {
    it(c.name, async () => {
      const s = setup(seed++, c.signed ?? true, c.zp ?? 0);
      const { q, x } = activations(s, c.x);
      const w = int8Tensor(s, c.w);
      const M = c.w[0]!;
      const ws = f32([M], Array.from({ length: M }, () => 0.002 + 0.01 * s.rand()));
      const biasI = new HostTensor('int32', [M], Int32Array.from({ length: M }, () => Math.floor(s.rand() * 4001) - 2000));
      const B = f32([M], Array.from(biasI.numbers, (b, m) => Math.fround(b * Math.fround(s.xs * ws.numbers[m]!))));
      const attrs = c.attrs ?? {};
      const y = runQ('QConv', { ...attrs, ...qAttrs(s) }, [x, w, ws, B]);

      // y_scale so that the outputs fill the int8 / uint8 range.
      let amax = 0;
      for (const v of y.numbers) amax = Math.max(amax, Math.abs(v));
      const ys = Math.fround(amax / 120), yzp = s.signed ? 0 : 128;
      const ydt: DType = s.signed ? 'int8' : 'uint8';
      const inits: Record<string, HostTensor> = {
        xs: scalar('float32', s.xs), xzp: scalar(ydt, s.zp), w, ws, wzp: new HostTensor('int8', [M]),
        ys: scalar('float32', ys), yzp: scalar(ydt, yzp), b: biasI,
      };
      const m = model([{ opType: 'QLinearConv', inputs: ['x', 'xs', 'xzp', 'w', 'ws', 'wzp', 'ys', 'yzp', 'b'], outputs: ['out0'], attrs }], { x: q }, inits);
      const ref = await runOrt(m, { x: q });
      expect(ref.dims).toEqual(y.dims);
      let diff = 0;
      for (let i = 0; i < y.size; i++) {
        const v = y.numbers[i]! / ys;
        const mine = Math.min(s.qmax, Math.max(s.qmin, roundHalfEven(v) + yzp));
        const theirs = ref.numbers[i]!;
        if (mine === theirs) continue;
        diff++;
        // Only one step, and only where the value is at a rounding boundary.
        expect(Math.abs(mine - theirs), `element ${i}`).toBe(1);
        expect(Math.abs(Math.abs(v - Math.trunc(v)) - 0.5), `element ${i}: ${v} is not at a .5 boundary`).toBeLessThan(1e-4 * Math.max(1, Math.abs(v)));
      }
      mismatches += diff; total += y.size;
    });
  }
  it('straddled .5 boundaries are rare', () => {
    console.log(`QConv vs QLinearConv: ${mismatches} of ${total} requantized outputs one step apart (at .5 boundaries)`);
    expect(mismatches).toBeLessThan(total * 1e-3 + 2);
  });
});

describe('QConv in a session (worker threads, the planner)', () => {
  it('gives the same bits as the bare executor', async () => {
    const s = setup(150, false, 3);
    const { x } = activations(s, [1, 64, 24, 24]);
    const w = int8Tensor(s, [64, 64, 3, 3]);
    const ws = f32([64], Array.from({ length: 64 }, () => 0.002 + 0.01 * s.rand()));
    const B = randomTensor('float32', [64], s.rand);
    const attrs = { pads: [1, 1, 1, 1], activation: 'HardSwish', ...qAttrs(s) };
    const want = runQ('QConv', attrs, [x, w, ws, B]); // one thread: no thread host installed yet
    const { InferenceSession } = await import('../../src/node.js'); // installs it
    const m = singleOpModel({ opType: 'QConv', domain: 'twinfer', attrs, inputs: [x, w, ws, B], constInputs: [1, 2, 3] });
    const sess = await InferenceSession.create(m, { backends: ['cpu'], optimizationLevel: 0 });
    const got = toHostTensor((await sess.run({ in0: fromHostTensor(x) }))['out0']!);
    expect(got.numbers.every((v, i) => v === want.numbers[i])).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. QMatMul / QGemm vs MatMulInteger

interface MmCase { name: string; op: 'QMatMul' | 'QGemm'; a: number[]; w: number[]; transB?: boolean; signed?: boolean; zp?: number; perTensor?: boolean; bias?: boolean }

const MM_CASES: MmCase[] = [
  { name: 'QMatMul batched A [2,3,5,7] x [7,9]', op: 'QMatMul', a: [2, 3, 5, 7], w: [7, 9], bias: true },
  { name: 'QMatMul uint8 zp 77, per-tensor scale', op: 'QMatMul', a: [13, 33], w: [33, 17], signed: false, zp: 77, perTensor: true },
  { name: 'QMatMul K 1500 > 1024 (K blocks)', op: 'QMatMul', a: [3, 1500], w: [1500, 5], bias: true },
  { name: 'QMatMul uint8 zp 0, K 600 > 514', op: 'QMatMul', a: [2, 600], w: [600, 6], signed: false, zp: 0 },
  { name: 'QGemm transB', op: 'QGemm', a: [11, 19], w: [10, 19], transB: true, bias: true },
  { name: 'QGemm no transB, 1 row', op: 'QGemm', a: [1, 64], w: [64, 3] },
];

describe('twinfer.QMatMul / QGemm vs onnxruntime MatMulInteger', () => {
  let seed = 200;
  for (const c of MM_CASES) {
    it(c.name, async () => {
      const s = setup(seed++, c.signed ?? true, c.zp ?? 0);
      const { q, x } = activations(s, c.a);
      const w = int8Tensor(s, c.w);
      const N = c.transB ? c.w[0]! : c.w[1]!, K = c.a[c.a.length - 1]!;
      const nws = c.perTensor ? 1 : N;
      const ws = f32([nws], Array.from({ length: nws }, () => 0.002 + 0.01 * s.rand()));
      const B = c.bias ? randomTensor('float32', [N], s.rand) : undefined;
      const y = runQ(c.op, { ...(c.transB ? { transB: 1 } : {}), ...qAttrs(s) }, [x, w, ws, B]);

      // MatMulInteger on [rows, K] x [K, N] (W transposed here for transB).
      let wk = w;
      if (c.transB) {
        wk = new HostTensor('int8', [K, N]);
        for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) wk.numbers[k * N + n] = w.numbers[n * K + k]!;
      }
      const m = model([{ opType: 'MatMulInteger', inputs: ['a', 'w', 'azp'], outputs: ['out0'], attrs: {} }], { a: q },
        { w: wk, azp: scalar(q.dtype, s.zp) });
      const acc = await runOrt(m, { a: q });
      expect(acc.dtype).toBe('int32');
      expect(y.dims).toEqual(acc.dims);
      const want = new Float32Array(y.size);
      for (let i = 0; i < y.size; i++) {
        const n = i % N, sc = Math.fround(s.xs * ws.numbers[nws === 1 ? 0 : n]!);
        want[i] = Math.fround(Math.fround(acc.numbers[i]! * sc) + (B ? B.numbers[n]! : 0));
      }
      expect(Array.from(y.numbers)).toEqual(Array.from(want));
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 3. Epilogues and saturation vs an ORT float graph on the dequantized inputs

const ACT_NODES: Record<string, (i: string, o: string) => Omit<Node, 'domain' | 'name'>> = {
  Relu: (i, o) => ({ opType: 'Relu', inputs: [i], outputs: [o], attrs: {} }),
  LeakyRelu: (i, o) => ({ opType: 'LeakyRelu', inputs: [i], outputs: [o], attrs: { alpha: 0.125 }, attrTypes: { alpha: 'float' } }),
  HardSwish: (i, o) => ({ opType: 'HardSwish', inputs: [i], outputs: [o], attrs: {} }),
  Sigmoid: (i, o) => ({ opType: 'Sigmoid', inputs: [i], outputs: [o], attrs: {} }),
};
const ACT_PARAMS: Record<string, number[]> = { LeakyRelu: [0.125] };

interface EpiCase { name: string; op: 'QConv' | 'QMatMul' | 'QGemm'; x: number[]; w: number[]; attrs?: Record<string, AttrValue>; act?: string; residual?: boolean; post?: string; signed?: boolean; zp?: number }

const EPI_CASES: EpiCase[] = [
  { name: 'QConv + bias + Relu + residual (saturating X)', op: 'QConv', x: [2, 5, 7, 6], w: [6, 5, 3, 3], attrs: { pads: [1, 1, 1, 1] }, act: 'Relu', residual: true },
  { name: 'QConv depthwise + HardSwish, uint8 zp 128', op: 'QConv', x: [1, 8, 9, 9], w: [8, 1, 3, 3], attrs: { group: 8, pads: [1, 1, 1, 1], strides: [2, 2] }, act: 'HardSwish', signed: false, zp: 128 },
  { name: 'QConv + residual + post Relu', op: 'QConv', x: [1, 4, 6, 5], w: [4, 4, 1, 1], residual: true, post: 'Relu' },
  { name: 'QConv deep + LeakyRelu + residual + post Sigmoid', op: 'QConv', x: [1, 140, 4, 3], w: [5, 140, 3, 3], attrs: { pads: [1, 1, 1, 1] }, act: 'LeakyRelu', residual: true, post: 'Sigmoid' },
  { name: 'QConv 3-D, batch 2, strides and asymmetric pads + Relu', op: 'QConv', x: [2, 3, 5, 6, 7], w: [4, 3, 3, 2, 3], attrs: { pads: [1, 0, 1, 1, 1, 0], strides: [1, 2, 1] }, act: 'Relu' },
  { name: 'QConv 1-D grouped dilated + LeakyRelu, batch 3', op: 'QConv', x: [3, 4, 19], w: [6, 2, 5], attrs: { group: 2, pads: [2, 1], dilations: [2] }, act: 'LeakyRelu' },
  { name: 'QMatMul + bias + Sigmoid + residual', op: 'QMatMul', x: [2, 7, 21], w: [21, 11], act: 'Sigmoid', residual: true },
  { name: 'QGemm transB + HardSwish', op: 'QGemm', x: [5, 40], w: [9, 40], attrs: { transB: 1 }, act: 'HardSwish' },
];

describe('Q op epilogues vs onnxruntime float ops on the dequantized inputs', () => {
  let seed = 300;
  for (const c of EPI_CASES) {
    it(c.name, async () => {
      const s = setup(seed++, c.signed ?? true, c.zp ?? 0);
      // Some activations beyond the range (they saturate: the reference gets the clamped value).
      const { q, x } = activations(s, c.x, s.qmin - 40, s.qmax + 40);
      const w = int8Tensor(s, c.w);
      const transB = c.attrs?.['transB'] === 1;
      const M = c.op === 'QConv' || transB ? c.w[0]! : c.w[1]!;
      const ws = f32([M], Array.from({ length: M }, () => 0.002 + 0.01 * s.rand()));
      const B = randomTensor('float32', [M], s.rand);
      const epi: Record<string, AttrValue> = {};
      if (c.act) { epi['activation'] = c.act; if (ACT_PARAMS[c.act]) epi['activation_params'] = ACT_PARAMS[c.act]!; }
      if (c.post) { epi['post_activation'] = c.post; if (ACT_PARAMS[c.post]) epi['post_activation_params'] = ACT_PARAMS[c.post]!; }
      const attrs = { ...(c.attrs ?? {}), ...epi, ...qAttrs(s) };
      const probe = runQ(c.op, attrs, [x, w, ws, B]);
      const z = c.residual ? randomTensor('float32', probe.dims.slice(), s.rand) : undefined;
      const y = z ? runQ(c.op, attrs, [x, w, ws, B, z]) : probe;

      // Reference: dequantized X (of the clamped integers) and W, float ops in ORT.
      const xd = f32(c.x, Array.from(q.numbers, (v) => Math.fround((v - s.zp) * s.xs)));
      const wd = dequantizeWeights(w, ws, c.op === 'QConv' || transB ? 0 : 1);
      const nodes: Omit<Node, 'domain' | 'name'>[] = [];
      if (c.op === 'QConv') nodes.push({ opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['t0'], attrs: c.attrs ?? {} });
      else if (c.op === 'QGemm') nodes.push({ opType: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['t0'], attrs: c.attrs ?? {} });
      else {
        nodes.push({ opType: 'MatMul', inputs: ['x', 'w'], outputs: ['t'], attrs: {} });
        nodes.push({ opType: 'Add', inputs: ['t', 'b'], outputs: ['t0'], attrs: {} });
      }
      let cur = 't0';
      const step = (f: (i: string, o: string) => Omit<Node, 'domain' | 'name'>) => { const o = `t${nodes.length}`; nodes.push(f(cur, o)); cur = o; };
      if (c.act) step(ACT_NODES[c.act]!);
      if (z) step((i, o) => ({ opType: 'Add', inputs: [i, 'z'], outputs: [o], attrs: {} }));
      if (c.post) step(ACT_NODES[c.post]!);
      nodes[nodes.length - 1]!.outputs = ['out0'];
      const feeds: Record<string, HostTensor> = { x: xd, ...(z ? { z } : {}) };
      const ref = await runOrt(model(nodes, feeds, { w: wd, b: B }), feeds);
      expect(y.dims).toEqual(ref.dims);
      let amax = 0;
      for (const v of ref.numbers) amax = Math.max(amax, Math.abs(v));
      for (let i = 0; i < y.size; i++) {
        const d = Math.abs(y.numbers[i]! - ref.numbers[i]!);
        expect(d, `element ${i}: ${y.numbers[i]} vs ${ref.numbers[i]}`).toBeLessThanOrEqual(1e-5 * Math.abs(ref.numbers[i]!) + 1e-5 * amax);
      }
    });
  }

  it('float16 X gives float16 Y = round16(the float32 result)', () => {
    const s = setup(400, true, 0);
    const x16 = randomTensor('float16', [1, 4, 6, 6], s.rand);
    const x32 = f32(x16.dims, x16.numbers);
    const w = int8Tensor(s, [5, 4, 3, 3]);
    const ws = f32([5], [0.01, 0.02, 0.005, 0.03, 0.011]);
    const attrs = { pads: [1, 1, 1, 1], activation: 'Relu', ...qAttrs(s) };
    const y16 = runQ('QConv', attrs, [x16, w, ws]);
    const y32 = runQ('QConv', attrs, [x32, w, ws]);
    expect(y16.dtype).toBe('float16');
    const want = Float32Array.from(y32.numbers);
    roundArrayToDtype('float16', want);
    expect(Array.from(y16.numbers)).toEqual(Array.from(want));
  });
});

// ---------------------------------------------------------------------------------------------
// The SIMD loops against their JS twins

describe('SIMD quantizer and epilogue (backends/cpu/qgemm-wasm.ts)', () => {
  it('quantWasm = quantizeCentered, ties, saturation, NaN and infinities included', () => {
    const s = setup(700, false, 0);
    for (const [zp, qmin, qmax] of [[0, -128, 127], [131, 0, 255], [-7, -128, 127]] as const) {
      const xs = Math.fround(0.0173);
      const x = new Float32Array(1027);
      for (let i = 0; i < x.length; i++) {
        const k = Math.floor(s.rand() * 600) - 300;
        // a third exact .5 ties (as float32 allows), a third near them, a third anywhere
        x[i] = i % 3 === 0 ? (k + 0.5) * xs : i % 3 === 1 ? (k + 0.5) * xs * (1 + (s.rand() - 0.5) * 1e-6) : (s.rand() - 0.5) * 600 * xs;
      }
      x.set([NaN, Infinity, -Infinity, 0, -0, 1e-45, 3e38], 100);
      const want = quantizeCentered(x, xs, zp, qmin, qmax);
      const got = new Float32Array(x.length);
      expect(quantWasm(x, xs, qmin - zp, qmax - zp, got)).toBe(true);
      for (let i = 0; i < x.length; i++) if (got[i] !== want[i]) throw new Error(`zp ${zp} x[${i}] = ${x[i]} (q ${x[i]! / xs}): simd ${got[i]}, js ${want[i]}`);
      // and the JS twin against the definition, one value at a time
      for (let i = 0; i < x.length; i++) {
        const v = Number.isNaN(x[i]!) ? zp : Math.min(qmax, Math.max(qmin, roundHalfEven(x[i]! / xs) + zp));
        expect(want[i]).toBe(v - zp);
      }
    }
  });

  it('QConv / QMatMul without the SIMD loops (the JS twins) give the same bits', () => {
    const s = setup(702, false, 9);
    const cases: [string, Record<string, AttrValue>, number[], number[]][] = [
      ['QConv', { pads: [1, 1, 1, 1], activation: 'Relu' }, [2, 5, 7, 6], [4, 5, 3, 3]],
      ['QConv', { group: 6, strides: [2, 2], activation: 'LeakyRelu', activation_params: [0.1] }, [1, 6, 9, 9], [6, 1, 3, 3]],
      ['QConv', { pads: [1, 1, 1, 1] }, [1, 70, 4, 4], [3, 70, 3, 3]],
      ['QMatMul', { activation: 'Clip', activation_params: [-1, 1] }, [3, 5, 21], [21, 7]],
    ];
    for (const [op, a, xd, wd] of cases) {
      const { x } = activations(s, xd, s.qmin - 20, s.qmax + 20);
      const w = int8Tensor(s, wd);
      const M = op === 'QConv' ? wd[0]! : wd[1]!;
      const ws = f32([M], Array.from({ length: M }, () => 0.002 + 0.01 * s.rand()));
      const B = randomTensor('float32', [M], s.rand);
      const attrs = { ...a, ...qAttrs(s) };
      const simd = runQ(op, attrs, [x, w, ws, B]);
      setQSimd(false);
      try {
        const js = runQ(op, attrs, [x, w, ws, B]);
        expect(js.numbers.every((v, i) => v === simd.numbers[i]), `${op} ${xd}`).toBe(true);
      } finally {
        setQSimd(true);
      }
    }
  });

  it('epilogueWasm = the float32 formula, piecewise-linear activations in the store', () => {
    const s = setup(701, true, 0);
    for (const [inner, channels] of [[37, 5], [4, 3], [1, 9], [64, 2]] as const) {
      const acc = Float32Array.from({ length: 3 * channels * inner }, () => Math.floor(s.rand() * 2e6) - 1e6);
      const sc = Float32Array.from({ length: channels }, () => Math.fround(1e-5 + 1e-4 * s.rand()));
      const bias = Float32Array.from({ length: channels }, () => Math.fround(s.rand() - 0.5));
      const plain = new Float32Array(acc.length);
      for (let i = 0; i < acc.length; i++) {
        const c = Math.floor(i / inner) % channels;
        plain[i] = Math.fround(Math.fround(acc[i]! * sc[c]!) + bias[c]!);
      }
      for (const [name, params] of [[undefined, []], ['Relu', []], ['Clip', [-3, 4]], ['LeakyRelu', [0.1]], ['HardSigmoid', [0.2, 0.5]], ['HardSwish', []]] as const) {
        const out = new Float32Array(acc.length);
        const k = kernelActivationChain([[name, params]]);
        expect(epilogueWasm(acc, sc, bias, inner, k.act, out)).toBe(true);
        const want = Float32Array.from(plain);
        applyActivation(want, name, params);
        // float32 SIMD vs the JS activation in float64: float32 roundings of values the size of
        // the activation's input (HardSigmoid cancels: a*v + b near 0)
        for (let i = 0; i < out.length; i++) expect(Math.abs(out[i]! - want[i]!), `${name} ${i}`).toBeLessThanOrEqual(2 ** -22 * (Math.abs(want[i]!) + Math.abs(plain[i]!)));
        if (!name) expect(out.every((v, i) => v === plain[i])).toBe(true);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Weight quantization and schema checks

describe('int8 weights and Q op schemas', () => {
  it('quantizeWeightsPerChannel: symmetric per channel, all-zero channel scale 1, half-even', () => {
    const w = f32([3, 4], [0.5, -1, 0.25, 0.125, 0, 0, 0, 0, 127, -63.5, 0.5, 1.5]);
    const { q, scales } = quantizeWeightsPerChannel(w, 0);
    expect(Array.from(scales)).toEqual([Math.fround(1 / 127), 1, 1]);
    expect(Array.from(q)).toEqual([64, -127, 32, 16, 0, 0, 0, 0, 127, -64, 0, 2]);
    const along1 = int8Weights(f32([2, 2], [1, -4, -2, 2]), 1);
    expect(along1.w.dtype).toBe('int8');
    expect(Array.from(along1.scale.numbers)).toEqual([Math.fround(2 / 127), Math.fround(4 / 127)]);
    expect(Array.from(along1.w.numbers)).toEqual([64, -127, -127, 64]);
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2]);
  });

  const base = () => {
    const s = setup(500, true, 0);
    return { x: randomTensor('float32', [1, 2, 4, 4], s.rand), w: int8Tensor(s, [3, 2, 3, 3]), ws: f32([3], [0.1, 0.2, 0.3]) };
  };
  const bad: [string, (b: ReturnType<typeof base>) => [string, Record<string, AttrValue>, In[]], RegExp][] = [
    ['W not int8', (b) => ['QConv', { x_scale: 0.1 }, [b.x, f32(b.w.dims, b.w.numbers), b.ws]], /W must be int8/],
    ['W_scale length', (b) => ['QConv', { x_scale: 0.1 }, [b.x, b.w, f32([2], [1, 1])]], /W_scale has 2 elements/],
    ['x_scale 0', (b) => ['QConv', { x_scale: 0 }, [b.x, b.w, b.ws]], /x_scale/],
    ['x_zero_point beyond uint8', (b) => ['QConv', { x_scale: 0.1, x_signed: 0, x_zero_point: 256 }, [b.x, b.w, b.ws]], /x_zero_point/],
    ['x_zero_point beyond int8', (b) => ['QConv', { x_scale: 0.1, x_zero_point: -129 }, [b.x, b.w, b.ws]], /x_zero_point/],
    ['unknown activation', (b) => ['QConv', { x_scale: 0.1, activation: 'Nope' }, [b.x, b.w, b.ws]], /Nope/],
    ['QGemm transA', (b) => ['QGemm', { x_scale: 0.1, transA: 1 }, [f32([4, 3], new Array(12).fill(0)), new HostTensor('int8', [4, 2]), f32([2], [1, 1])]], /transA/],
    ['QGemm alpha', (b) => ['QGemm', { x_scale: 0.1, alpha: 0.5 }, [f32([4, 3], new Array(12).fill(0)), new HostTensor('int8', [3, 2]), f32([2], [1, 1])]], /alpha and beta/],
    ['QMatMul rank-3 W', (b) => ['QMatMul', { x_scale: 0.1 }, [f32([2, 3], new Array(6).fill(0)), new HostTensor('int8', [1, 3, 2]), b.ws]], /2-D/],
  ];
  for (const [name, make, re] of bad) {
    it(`rejects ${name}`, () => {
      const [op, attrs, inputs] = make(base());
      expect(() => runQ(op, attrs, inputs)).toThrow(re);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 4. float16 on the CPU backend

describe('float16 graphs on the CPU backend', () => {
  const r = seededRandom(600);
  const f = (dims: number[], lo = -1, hi = 1) => randomTensor('float32', dims, r, lo, hi);
  const i64 = (v: number[]) => new HostTensor('int64', [v.length], Float64Array.from(v));
  // [op, domain, attrs, inputs, float32 inputs (ONNX types them float32 whatever the data), outputs]
  const OPS: [string, string, Record<string, AttrValue>, In[], number[]?, number?][] = [
    ['Conv', '', { pads: [1, 1, 1, 1] }, [f([1, 3, 8, 8]), f([4, 3, 3, 3]), f([4])]],
    ['Conv', '', { group: 4, pads: [1, 1, 1, 1], strides: [2, 2] }, [f([1, 4, 8, 8]), f([4, 1, 3, 3]), f([4])]],
    ['ConvTranspose', '', { strides: [2, 2] }, [f([1, 3, 4, 4]), f([3, 2, 2, 2]), f([2])]],
    ['FusedConv', 'twinfer', { activation: 'Relu', pads: [1, 1, 1, 1] }, [f([1, 3, 6, 6]), f([4, 3, 3, 3]), f([4]), f([1, 4, 6, 6])]],
    ['FusedGemm', 'twinfer', { activation: 'HardSwish' }, [f([3, 5]), f([5, 4]), f([4])]],
    ['FusedMatMul', 'twinfer', { activation: 'Sigmoid' }, [f([2, 3, 5]), f([5, 4]), f([4])]],
    ['Gemm', '', { transB: 1, alpha: 0.5 }, [f([3, 5]), f([4, 5]), f([4])]],
    ['MatMul', '', {}, [f([2, 3, 5]), f([5, 4])]],
    ['BatchNormalization', '', {}, [f([1, 3, 4, 4]), f([3]), f([3]), f([3]), f([3], 0.5, 2)]],
    ['InstanceNormalization', '', {}, [f([1, 3, 4, 4]), f([3]), f([3])]],
    ['LayerNormalization', '', { axis: -1 }, [f([2, 3, 8]), f([8]), f([8])]],
    ['Add', '', {}, [f([2, 3, 4]), f([4])]],
    ['Sub', '', {}, [f([2, 3, 4]), f([3, 1])]],
    ['Mul', '', {}, [f([2, 3, 4]), f([2, 3, 4])]],
    ['Div', '', {}, [f([2, 3, 4]), f([4], 0.5, 2)]],
    ['Pow', '', {}, [f([2, 3], 0.1, 2), f([1], 0.5, 2)]],
    ['Sqrt', '', {}, [f([2, 3], 0, 2)]],
    ['Exp', '', {}, [f([2, 3])]],
    ['Erf', '', {}, [f([2, 3])]],
    ['Relu', '', {}, [f([2, 3])]],
    ['LeakyRelu', '', {}, [f([2, 3])]],
    ['Sigmoid', '', {}, [f([2, 3])]],
    ['Tanh', '', {}, [f([2, 3])]],
    ['HardSigmoid', '', {}, [f([2, 3], -4, 4)]],
    ['HardSwish', '', {}, [f([2, 3], -4, 4)]],
    ['Clip', '', {}, [f([2, 3]), f([], -0.5, -0.5), f([], 0.5, 0.5)]],
    ['Gelu', '', {}, [f([2, 3])]],
    ['MaxPool', '', { kernel_shape: [2, 2], strides: [2, 2] }, [f([1, 2, 4, 4])]],
    ['AveragePool', '', { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, [f([1, 2, 4, 4])]],
    ['GlobalAveragePool', '', {}, [f([1, 2, 4, 4])]],
    ['Resize', '', { mode: 'nearest' }, [f([1, 2, 3, 3]), undefined, f32([4], [1, 1, 2, 2])], [2]],
    ['Resize', '', { mode: 'linear' }, [f([1, 2, 3, 3]), undefined, undefined, i64([1, 2, 7, 5])]],
    ['Softmax', '', { axis: -1 }, [f([2, 3, 5])]],
    ['Concat', '', { axis: 1 }, [f([2, 3]), f([2, 2])]],
    ['Reshape', '', {}, [f([2, 6]), i64([3, 4])]],
    ['Transpose', '', { perm: [1, 0, 2] }, [f([2, 3, 4])]],
    ['Flatten', '', {}, [f([2, 3, 4])]],
    ['ReduceMean', '', { keepdims: 1 }, [f([2, 3, 4]), i64([2])]],
    ['Slice', '', {}, [f([4, 5]), i64([1]), i64([3]), i64([1])]],
    ['Pad', '', {}, [f([2, 3]), i64([1, 1, 0, 2])]],
    ['Unsqueeze', '', {}, [f([2, 3]), i64([0])]],
    ['Squeeze', '', {}, [f([1, 3]), i64([0])]],
    ['Gather', '', {}, [f([4, 3]), i64([2, 0])]],
    ['Split', '', { axis: 1, num_outputs: 2 }, [f([2, 4])], undefined, 2],
    ['Identity', '', {}, [f([2, 3])]],
    ['Where', '', {}, [new HostTensor('bool', [3], Uint8Array.of(1, 0, 1)), f([3]), f([3])]],
    ['PRelu', '', {}, [f([1, 3, 2, 2]), f([3, 1, 1])]],
    ['Elu', '', {}, [f([2, 3])]],
    ['Selu', '', {}, [f([2, 3])]],
    ['Softplus', '', {}, [f([2, 3])]],
    ['Mish', '', {}, [f([2, 3])]],
    ['Abs', '', {}, [f([2, 3])]],
    ['Reciprocal', '', {}, [f([2, 3], 0.5, 2)]],
    ['Floor', '', {}, [f([2, 3], -3, 3)]],
    ['Round', '', {}, [f([2, 3], -3, 3)]],
    ['Max', '', {}, [f([2, 3]), f([3])]],
    ['Min', '', {}, [f([2, 3]), f([3])]],
    ['Sum', '', {}, [f([2, 3]), f([3]), f([2, 1])]],
    ['ReduceMax', '', { keepdims: 0 }, [f([2, 3, 4]), i64([1])]],
    ['ReduceSum', '', { keepdims: 1 }, [f([2, 3, 4]), i64([2])]],
    ['ReduceL2', '', { keepdims: 1 }, [f([2, 3, 4]), i64([2])]],
    ['GroupNormalization', '', { num_groups: 2 }, [f([1, 4, 3, 3]), f([4]), f([4])]],
    ['LRN', '', { size: 3 }, [f([1, 4, 3, 3])]],
    ['DepthToSpace', '', { blocksize: 2 }, [f([1, 4, 2, 3])]],
    ['SpaceToDepth', '', { blocksize: 2 }, [f([1, 2, 4, 4])]],
    ['Expand', '', {}, [f([3, 1]), i64([2, 3, 4])]],
    ['Tile', '', {}, [f([2, 3]), i64([2, 1])]],
    ['Resize', '', { mode: 'cubic' }, [f([1, 1, 4, 4]), undefined, f32([4], [1, 1, 1.5, 2])], [2]],
    ['Resize', '', { mode: 'linear', coordinate_transformation_mode: 'align_corners' }, [f([1, 2, 3, 4]), undefined, undefined, i64([1, 2, 5, 9])]],
    ['ConvTranspose', '', { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1], group: 2 }, [f([1, 4, 3, 3]), f([4, 1, 3, 3])]],
    ['MaxPool', '', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, [f([1, 2, 7, 7])]],
    ['GlobalMaxPool', '', {}, [f([1, 2, 4, 4])]],
    ['LogSoftmax', '', { axis: 1 }, [f([2, 5])]],
    ['Einsum', '', { equation: 'bij,bjk->bik' }, [f([2, 3, 4]), f([2, 4, 5])]],
    ['CumSum', '', {}, [f([2, 5]), i64([1])]],
    ['Dropout', '', {}, [f([2, 3])]],
    ['Cos', '', {}, [f([2, 3])]],
    ['Sin', '', {}, [f([2, 3])]],
    ['Log', '', {}, [f([2, 3], 0.1, 3)]],
    ['ThresholdedRelu', '', {}, [f([2, 3], -2, 2)]],
    ['Softsign', '', {}, [f([2, 3])]],
    ['Celu', '', {}, [f([2, 3])]],
    ['TopK', '', {}, [f([2, 6]), i64([3])], undefined, 2],
    ['ScatterElements', '', { axis: 1 }, [f([2, 4]), new HostTensor('int64', [2, 2], Float64Array.of(0, 3, 1, 2)), f([2, 2])]],
    ['GatherElements', '', { axis: 1 }, [f([2, 4]), new HostTensor('int64', [2, 2], Float64Array.of(0, 3, 1, 2))]],
    ['Trilu', '', {}, [f([3, 4])]],
    ['MeanVarianceNormalization', '', {}, [f([1, 2, 3, 3])]],
  ];

  const to16 = (t: HostTensor): HostTensor => {
    const d = Float32Array.from(t.numbers);
    roundArrayToDtype('float16', d);
    return new HostTensor('float16', t.dims.slice(), d);
  };
  const runOp = (op: string, domain: string, attrs: Record<string, AttrValue>, inputs: In[], outputs: number): HostTensor[] => {
    const g = buildGraph(singleOpModel({ opType: op, ...(domain ? { domain } : {}), attrs, inputs, outputs }));
    const feeds: Record<string, HostTensor> = {};
    inputs.forEach((t, i) => { if (t) feeds[`in${i}`] = t; });
    return runCpu(g, feeds, Array.from({ length: outputs }, (_, k) => `out${k}`));
  };

  it('every op of PP-OCR and the standard architectures: float16 in, round16(float32 result) out', () => {
    const fails: string[] = [];
    for (const [op, domain, attrs, inputs, keep32, outputs = 1] of OPS) {
      const h = inputs.map((t, i) => (t && t.dtype === 'float32' && !keep32?.includes(i) ? to16(t) : t));
      const asF32 = h.map((t) => (t?.dtype === 'float16' ? f32(t.dims, t.numbers) : t));
      try {
        const a = runOp(op, domain, attrs, h, outputs), b = runOp(op, domain, attrs, asF32, outputs);
        a.forEach((t, k) => {
          if (b[k]!.dtype !== 'float32') { // TopK's indices: the same as in float32
            if (t.dtype !== b[k]!.dtype || t.numbers.some((v, i) => v !== b[k]!.numbers[i])) fails.push(`${op}: output ${k} differs`);
            return;
          }
          const want = to16(b[k]!);
          if (t.dtype !== 'float16') fails.push(`${op}: output ${k} is ${t.dtype}`);
          else if (t.numbers.some((v, i) => v !== want.numbers[i])) fails.push(`${op}: output ${k} differs from round16(float32)`);
        });
      } catch (e) {
        fails.push(`${op}: ${(e as Error).message}`);
      }
    }
    expect(fails).toEqual([]);
  });

  it('a small conv net converted by hand to float16 matches the float32 graph', () => {
    // x -> Conv 3x3 -> BN -> HardSwish -> MaxPool -> depthwise Conv -> Relu -> Resize x2 -> Concat(skip)
    //   -> Conv 1x1 -> Sigmoid -> Mul(x-sized gate) -> GlobalAveragePool -> Flatten -> Gemm -> Softmax
    const x = f([1, 3, 16, 16]);
    const inits: Record<string, HostTensor> = {
      w1: f([8, 3, 3, 3], -0.4, 0.4), b1: f([8]), bns: f([8], 0.5, 1.5), bnb: f([8]), bnm: f([8], -0.2, 0.2), bnv: f([8], 0.5, 2),
      w2: f([8, 1, 3, 3], -0.5, 0.5), b2: f([8]), sc: f32([4], [1, 1, 2, 2]),
      w3: f([6, 16, 1, 1], -0.3, 0.3), b3: f([6]), wg: f([6, 10], -0.5, 0.5), bg: f([10]),
    };
    const nodes: Omit<Node, 'domain' | 'name'>[] = [
      { opType: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { pads: [1, 1, 1, 1] } },
      { opType: 'BatchNormalization', inputs: ['c1', 'bns', 'bnb', 'bnm', 'bnv'], outputs: ['n1'], attrs: {} },
      { opType: 'HardSwish', inputs: ['n1'], outputs: ['h1'], attrs: {} },
      { opType: 'MaxPool', inputs: ['h1'], outputs: ['p1'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
      { opType: 'Conv', inputs: ['p1', 'w2', 'b2'], outputs: ['c2'], attrs: { group: 8, pads: [1, 1, 1, 1] } },
      { opType: 'Relu', inputs: ['c2'], outputs: ['r2'], attrs: {} },
      { opType: 'Resize', inputs: ['r2', '', 'sc'], outputs: ['u2'], attrs: { mode: 'nearest' } },
      { opType: 'Concat', inputs: ['u2', 'h1'], outputs: ['cat'], attrs: { axis: 1 } },
      { opType: 'Conv', inputs: ['cat', 'w3', 'b3'], outputs: ['c3'], attrs: {} },
      { opType: 'Sigmoid', inputs: ['c3'], outputs: ['s3'], attrs: {} },
      { opType: 'Mul', inputs: ['s3', 'c3'], outputs: ['m3'], attrs: {} },
      { opType: 'GlobalAveragePool', inputs: ['m3'], outputs: ['g'], attrs: {} },
      { opType: 'Flatten', inputs: ['g'], outputs: ['fl'], attrs: {} },
      { opType: 'Gemm', inputs: ['fl', 'wg', 'bg'], outputs: ['lo'], attrs: {} },
      { opType: 'Softmax', inputs: ['lo'], outputs: ['out0'], attrs: { axis: -1 } },
    ];
    const g32 = buildGraph(model(nodes, { x }, inits));
    // By hand: float initializers (but Resize's scales) to float16, Casts at the borders.
    const inits16 = Object.fromEntries(Object.entries(inits).map(([k, v]) => [k, k === 'sc' ? v : to16(v)]));
    const nodes16 = nodes.map((n) => ({ ...n, inputs: n.inputs.map((i) => (i === 'x' ? 'x16' : i)), outputs: n.outputs.map((o) => (o === 'out0' ? 'y16' : o)) }));
    nodes16.unshift({ opType: 'Cast', inputs: ['x'], outputs: ['x16'], attrs: { to: 10 } });
    nodes16.push({ opType: 'Cast', inputs: ['y16'], outputs: ['out0'], attrs: { to: 1 } });
    const g16 = buildGraph(model(nodes16, { x }, inits16));
    for (const [k, t] of g16.types) if (k !== 'x' && k !== 'out0' && k !== 'sc' && t.dtype === 'float32') throw new Error(`${k} stayed float32`);
    const y32 = runCpu(g32, { x }, ['out0'])[0]!;
    const y16 = runCpu(g16, { x }, ['out0'])[0]!;
    expect(y16.dtype).toBe('float32');
    let amax = 0, err = 0;
    y32.numbers.forEach((v, i) => { amax = Math.max(amax, Math.abs(v)); err = Math.max(err, Math.abs(v - y16.numbers[i]!)); });
    console.log(`fp16 conv net: max |fp16 - fp32| = ${err.toExponential(2)} (max |y| ${amax.toFixed(3)})`);
    expect(err).toBeGreaterThan(0); // it really ran in float16
    expect(err).toBeLessThanOrEqual(4e-3 * amax);
    // The precision helper's conversion (src/quant/fp16.ts) rounds at the same places: same output.
    const gc = g32.clone();
    convertToFp16(gc, new Set(gc.nodes.filter((n) => fp16Eligible(gc, n))));
    inferGraph(gc);
    const yc = runCpu(gc, { x }, ['out0'])[0]!;
    expect(Array.from(yc.numbers)).toEqual(Array.from(y16.numbers));
  });
});
