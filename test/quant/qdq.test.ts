/**
 * QDQ fold (src/passes/qdq-fold.ts): explicitly quantized models run their Conv / Gemm / MatMul as
 * twinfer.QConv / QGemm / QMatMul. Reference: onnxruntime-node running the same model bytes (its own
 * QDQ -> QLinear* fusion, i.e. an independent INT8 implementation).
 *
 * Tolerance: outputs that leave the model through a final Q -> DQ lie on the grid of that Q's scale
 * (`step`). Both sides compute the same integer accumulators; the float parts (scale products,
 * requantization) round differently, so a value within a few float32 ulps of a rounding boundary can
 * land one step apart. We require |a - b| <= 1 step everywhere (and print how many differ). Float
 * outputs without a final Q: the accumulators are exact on both sides and only the float epilogue
 * differs (a K-term float32 sum in onnxruntime, one multiply-add here): rtol 1e-5 of max |y|.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import type { Graph } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { buildGraph, optimizeGraph } from '../../src/api/session.js';
import { CpuExecutor, runCpuNode } from '../../backends/cpu/executor.js';
import { optimize, PASSES } from '../../src/passes/index.js';
import { explainQdqFold } from '../../src/passes/qdq-fold.js';
import { GraphView } from '../../src/passes/view.js';
import { fromHostTensor, toHostTensor, type Tensor } from '../../src/api/tensor.js';
import { cnnS8, cnnU8, declined, fakeQuantShared, feed, integerOps, mlp, qoperator } from './qdq-models.js';


/** `optimize: false` runs onnxruntime without graph optimizations: the QDQ model's float semantics. */
async function runOrt(model: Uint8Array, feeds: Map<string, HostTensor>, optimize = true): Promise<Map<string, HostTensor>> {
  const sess = await ort.InferenceSession.create(model, optimize ? {} : { graphOptimizationLevel: 'disabled' });
  const f: Record<string, ort.Tensor> = {};
  for (const [k, v] of feeds) { const t = fromHostTensor(v); f[k] = new ort.Tensor(t.type as never, t.data as never, t.dims as number[]); }
  const out = await sess.run(f);
  await sess.release();
  return new Map(Object.entries(out).map(([k, v]) => [k, toHostTensor(v as unknown as Tensor)]));
}

function evaluator(g: Graph) {
  return (n: Parameters<typeof runCpuNode>[0], i: (HostTensor | undefined)[], t: Parameters<typeof runCpuNode>[3]) => runCpuNode(n, g.opsets[n.domain] ?? g.opset, i, t);
}

function unfolded(g: Graph): Graph {
  return optimize(g, 2, evaluator(g), PASSES.filter((p) => p.name !== 'qdq-fold')).graph;
}

function runTwinfer(g: Graph, feeds: Map<string, HostTensor>): Map<string, HostTensor> {
  return new CpuExecutor(g).run(feeds, g.outputs.map((o) => o.name));
}

function count(g: Graph, op: string): number {
  return g.nodes.filter((n) => (n.domain ? `${n.domain}.${n.opType}` : n.opType) === op).length;
}

/** No float Conv / Gemm / MatMul left, and no Q op reads DQ(Q(..)) or a non-constant weight. */
function expectFolded(g: Graph, qops: number): void {
  for (const op of ['Conv', 'Gemm', 'MatMul', 'twinfer.FusedConv', 'twinfer.FusedGemm', 'twinfer.FusedMatMul']) expect(count(g, op), op).toBe(0);
  const view = new GraphView(g);
  const q = g.nodes.filter((n) => n.domain === 'twinfer' && /^Q(Conv|Gemm|MatMul)$/.test(n.opType));
  expect(q.length).toBe(qops);
  for (const n of q) {
    expect(g.initializers.get(n.inputs[1]!)?.dtype, `${n.name} W`).toBe('int8');
    const p = view.producer(n.inputs[0]!);
    const pair = p?.opType === 'DequantizeLinear' && view.producer(p.inputs[0]!)?.opType === 'QuantizeLinear';
    expect(pair, `${n.name} still reads a Q/DQ pair`).toBe(false);
  }
}

/** |a - b| <= step (+ float slack) everywhere; returns how many elements differ. */
function expectWithinStep(a: HostTensor, b: HostTensor, step: number, label: string): number {
  expect(a.dims).toEqual(b.dims);
  const x = a.numbers, y = b.numbers;
  let diff = 0, worst = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    if (d > 0) diff++;
    worst = Math.max(worst, d);
  }
  expect(worst, `${label}: max |diff| ${worst} vs step ${step}`).toBeLessThanOrEqual(step * 1.0001);
  // The comparison means something only if the outputs are not saturated to a few values.
  expect(new Set(y).size, `${label}: distinct values`).toBeGreaterThanOrEqual(Math.min(8, y.length / 2));
  return diff;
}

function expectCloseFloat(a: HostTensor, b: HostTensor, label: string): void {
  const y = b.numbers;
  let m = 0;
  for (const v of y) m = Math.max(m, Math.abs(v));
  const x = a.numbers;
  for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!), `${label}[${i}]`).toBeLessThanOrEqual(1e-5 * m);
}

describe('QDQ fold on models built in code', () => {
  it('uint8 activations with zero points, per-channel weights, int32 biases (CNN)', async () => {
    const { model, outScale, input } = cnnU8();
    const before = buildGraph(model);
    const { graph } = optimizeGraph(before, 2);
    expectFolded(graph, 4);
    // Every Q/DQ pair fed a conv: only the residual Add's inputs keep theirs (one each, plus the output's).
    expect(count(before, 'QuantizeLinear')).toBe(6);
    expect(count(graph, 'QuantizeLinear')).toBe(3);
    const feeds = new Map([['x', feed(input, 1, -1.2, 1.2)]]);
    const ref = await runOrt(model, feeds);
    const got = runTwinfer(graph, feeds);
    const diff = expectWithinStep(got.get('y')!, ref.get('y')!, outScale, 'y');
    console.log(`cnn-u8: ${diff} of ${ref.get('y')!.size} outputs one step (${outScale}) from onnxruntime`);
    // The unfolded graph (float ops on dequantized values) agrees too.
    expectWithinStep(runTwinfer(unfolded(before), feeds).get('y')!, got.get('y')!, outScale, 'unfolded');
  });

  it('int8 symmetric activations, per-tensor weights; Relu and residual fused into the Q op', async () => {
    const { model, outScale, input } = cnnS8();
    const { graph } = optimizeGraph(buildGraph(model), 2);
    expectFolded(graph, 3);
    const fused = graph.nodes.find((n) => n.outputs[0] === 'f')!;
    expect(fused.opType).toBe('QConv');
    expect(fused.attrs['activation']).toBe('Relu');
    expect(fused.inputs[4]).toBeTruthy();
    const feeds = new Map([['x', feed(input, 2)]]);
    const ref = await runOrt(model, feeds);
    const got = runTwinfer(graph, feeds);
    const diff = expectWithinStep(got.get('y')!, ref.get('y')!, outScale, 'y');
    expectCloseFloat(got.get('f')!, ref.get('f')!, 'f');
    console.log(`cnn-s8: ${diff} of ${ref.get('y')!.size} outputs one step (${outScale}) from onnxruntime`);
  });

  it('MLP: MatMul (batched, per-column), Gemm with alpha / beta, Gemm transB with int32 C', async () => {
    const { model, outScale, input } = mlp();
    const { graph } = optimizeGraph(buildGraph(model), 2);
    expectFolded(graph, 3);
    // MatMul -> Add(bias) -> Relu: bias and activation fused into the QMatMul.
    expect(count(graph, 'Add') + count(graph, 'Relu')).toBe(0);
    const mm = graph.nodes.find((n) => n.opType === 'QMatMul')!;
    expect(mm.attrs['activation']).toBe('Relu');
    expect(graph.initializers.get(mm.inputs[3]!)?.dims).toEqual([24]);
    const feeds = new Map([['x', feed(input, 3)]]);
    const ref = await runOrt(model, feeds);
    const diff = expectWithinStep(runTwinfer(graph, feeds).get('y')!, ref.get('y')!, outScale, 'y');
    console.log(`mlp: ${diff} of ${ref.get('y')!.size} outputs one step (${outScale}) from onnxruntime`);
  });
});

describe('QDQ fold: what stays, and the other quantized forms', () => {
  it('leaves uint8 / non-zero-point / wrong-axis weights and ConvTranspose as float ops, and says why', async () => {
    const { model, outScale, input } = declined();
    const before = buildGraph(model);
    const why = explainQdqFold(before, evaluator(before)).map((s) => `${s.opType}: ${s.reason}`).sort();
    expect(why).toEqual([
      'Conv: the weight has a non-zero zero point',
      'Conv: the weight is uint8 (int8 with zero point 0 needed)',
      'ConvTranspose: ConvTranspose has no INT8 op',
      'MatMul: the weight is quantized per axis 0, not along its output channels (axis 1)',
    ]);
    const { graph } = optimizeGraph(before, 2);
    expect(graph.nodes.filter((n) => n.domain === 'twinfer' && n.opType.startsWith('Q'))).toEqual([]);
    const feeds = new Map([['x', feed(input, 4)]]);
    // onnxruntime 1.30 fuses the per-row MatMul weight into a QLinearMatMul it then rejects: run it unoptimized.
    const ref = await runOrt(model, feeds, false);
    const got = runTwinfer(graph, feeds);
    for (const o of ['a', 'b', 'c', 'd']) expectWithinStep(got.get(o)!, ref.get(o)!, outScale, o);
  });

  it('QOperator format: QLinearConv / QLinearMatMul become Q ops, and the Q/DQ between them disappear', async () => {
    const { model, input } = qoperator();
    const { graph } = optimizeGraph(buildGraph(model), 2);
    for (const op of ['QLinearConv', 'QLinearMatMul']) expect(count(graph, op), op).toBe(0);
    expect(count(graph, 'twinfer.QConv')).toBe(2);
    expect(count(graph, 'twinfer.QMatMul')).toBe(1);
    // The first conv quantizes x itself; the second reads the first's float output directly.
    const [c1, c2] = graph.nodes.filter((n) => n.opType === 'QConv');
    expect(c1!.inputs[0]).toBe('x');
    expect(c2!.inputs[0]).toBe(c1!.outputs[0]);
    const feeds = new Map([['x', feed(input, 5)]]);
    const ref = await runOrt(model, feeds);
    const got = runTwinfer(graph, feeds);
    const dy = expectWithinStep(got.get('y')!, ref.get('y')!, 0.02, 'y');
    const dc = expectWithinStep(got.get('c')!, ref.get('c')!, 0.03, 'c');
    console.log(`qoperator: y ${dy} of ${ref.get('y')!.size}, c ${dc} of ${ref.get('c')!.size} one step from onnxruntime`);
  });

  it('fake-quantized float weights fold; Q and DQ outputs with other readers keep them', async () => {
    const { model, outScale, input } = fakeQuantShared();
    const before = buildGraph(model);
    const { graph } = optimizeGraph(before, 2);
    expectFolded(graph, 1);
    const conv = graph.nodes.find((n) => n.opType === 'QConv')!;
    expect(conv.inputs[0]).toBe('x');
    expect(conv.attrs['x_scale']).toBe(Math.fround(1 / 127));
    // The activation Q stays (the Sigmoid's DQ reads it), one DQ per other reader: 1 Q + 2 DQ, plus the output's pair.
    expect(count(graph, 'QuantizeLinear')).toBe(2);
    expect(count(graph, 'DequantizeLinear')).toBe(3);
    const feeds = new Map([['x', feed(input, 6)]]);
    const ref = await runOrt(model, feeds);
    const got = runTwinfer(graph, feeds);
    expectWithinStep(got.get('y')!, ref.get('y')!, outScale, 'y');
    // r = Relu(DQ(Q(x))) is exact; s = Sigmoid(...) within float32 exp differences.
    expect(Array.from(got.get('r')!.numbers)).toEqual(Array.from(ref.get('r')!.numbers));
    expectCloseFloat(got.get('s')!, ref.get('s')!, 's');
  });

  it('ConvInteger / MatMulInteger with constant zero points: exact int32 results', async () => {
    const { model } = integerOps();
    const before = buildGraph(model);
    const { graph } = optimizeGraph(before, 2);
    expect(count(graph, 'twinfer.QConv')).toBe(1);
    expect(count(graph, 'twinfer.QMatMul')).toBe(1);
    const r = (dims: number[], seed: number) => { const f = feed(dims, seed, 0, 256); return new HostTensor('uint8', dims, Uint8Array.from(f.numbers, Math.floor)); };
    const feeds = new Map([['x', r([1, 3, 6, 6], 7)], ['a', r([4, 20], 8)]]);
    const got = runTwinfer(graph, feeds);
    const ref = runTwinfer(unfolded(before), feeds); // the integer reference kernels
    for (const o of ['y', 'z']) {
      expect(got.get(o)!.dtype).toBe('int32');
      expect(Array.from(got.get(o)!.numbers), o).toEqual(Array.from(ref.get(o)!.numbers));
    }
  });
});
