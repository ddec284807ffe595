/**
 * QDQ fold on models quantized by onnxruntime's own quantize_static (test/fixtures/qdq, see its
 * README): the fold must apply where the weights allow it and the outputs must match onnxruntime
 * running the same file. Outputs leave these models through Q -> DQ; the step is that Q's scale
 * (read from the model). Tolerance and why: see qdq.test.ts (one step where a float rounding lands
 * on the other side of a boundary). The classifiers are 50+ layers deep, where a one-step flip in an
 * early layer can move the output further, so for them we require top-1 agreement and print the
 * largest difference in steps.
 * Timing of the folded against the unfolded graph is printed, never asserted.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import type { Graph } from '../../src/ir/graph.js';
import type { HostTensor } from '../../src/ir/tensor.js';
import { buildGraph, optimizeGraph } from '../../src/api/session.js';
import { CpuExecutor, runCpuNode } from '../../backends/cpu/executor.js';
import { optimize, PASSES } from '../../src/passes/index.js';
import { explainQdqFold } from '../../src/passes/qdq-fold.js';
import { fromHostTensor, toHostTensor, type Tensor } from '../../src/api/tensor.js';
import { feed } from './qdq-models.js';

const FIX = 'test/fixtures/qdq';
const read = (name: string) => new Uint8Array(fs.readFileSync(`${FIX}/${name}.onnx`));

async function ortRunner(model: Uint8Array): Promise<{ run(x: HostTensor): Promise<HostTensor>; release(): Promise<void> }> {
  const sess = await ort.InferenceSession.create(model);
  return {
    async run(x) {
      const t = fromHostTensor(x);
      const out = await sess.run({ [sess.inputNames[0]!]: new ort.Tensor('float32', t.data as Float32Array, t.dims as number[]) });
      return toHostTensor(out[sess.outputNames[0]!] as unknown as Tensor);
    },
    release: () => sess.release(),
  };
}

const evaluator = (g: Graph) => (n: Parameters<typeof runCpuNode>[0], i: (HostTensor | undefined)[], t: Parameters<typeof runCpuNode>[3]) => runCpuNode(n, g.opsets[n.domain] ?? g.opset, i, t);

function run(g: Graph, x: HostTensor): HostTensor {
  return new CpuExecutor(g).run(new Map([[g.feedInputs[0]!.name, x]]), [g.outputs[0]!.name]).get(g.outputs[0]!.name)!;
}

/** The scale of the DequantizeLinear producing the first graph output (the grid the output lies on). */
function outputStep(g: Graph): number {
  const dq = g.nodes.find((n) => n.outputs[0] === g.outputs[0]!.name)!;
  expect(dq.opType).toBe('DequantizeLinear');
  return g.initializers.get(dq.inputs[1]!)!.num(0);
}

const count = (g: Graph, op: string) => g.nodes.filter((n) => n.opType === op).length;

function maxSteps(a: HostTensor, b: HostTensor, step: number): number {
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.numbers[i]! - b.numbers[i]!) / step);
  return Math.round(m * 1000) / 1000;
}

function timeIt(g: Graph, x: HostTensor): number {
  run(g, x);
  const t0 = performance.now();
  run(g, x);
  return performance.now() - t0;
}

const argmax = (t: HostTensor) => { const d = t.numbers; let k = 0; for (let i = 1; i < d.length; i++) if (d[i]! > d[k]!) k = i; return k; };

describe('QDQ fold on onnxruntime-quantized fixtures', () => {
  for (const [name, dims, qops] of [
    ['small_cnn.u8pc', [2, 3, 17, 23], 5], ['small_cnn.s8pt', [2, 3, 17, 23], 5],
    ['mlp.u8pc', [3, 64], 3], ['mlp.s8pt', [3, 64], 3],
  ] as const) {
    it(`${name}: every conv / matmul folds; outputs within one step of onnxruntime`, async () => {
      const model = read(name);
      const before = buildGraph(model);
      expect(explainQdqFold(before, evaluator(before))).toEqual([]);
      const { graph } = optimizeGraph(before, 2);
      for (const op of ['Conv', 'Gemm', 'MatMul', 'FusedConv', 'FusedGemm', 'FusedMatMul']) expect(count(graph, op), op).toBe(0);
      expect(graph.nodes.filter((n) => n.domain === 'twinfer' && /^Q(Conv|Gemm|MatMul)$/.test(n.opType)).length).toBe(qops);
      const step = outputStep(graph);
      const ort = await ortRunner(model);
      for (const seed of [1, 2]) {
        const x = feed([...dims], seed);
        const ref = await ort.run(x);
        const got = run(graph, x);
        const steps = maxSteps(got, ref, step);
        console.log(`${name} seed ${seed}: max ${steps} steps of ${step.toPrecision(4)}; Q/DQ nodes ${count(before, 'QuantizeLinear') + count(before, 'DequantizeLinear')} -> ${count(graph, 'QuantizeLinear') + count(graph, 'DequantizeLinear')}`);
        expect(steps).toBeLessThanOrEqual(1.0001);
      }
      await ort.release();
    });
  }

  for (const name of ['cls.s8pt', 'cls.u8pc']) {
    it(`${name} (PP-OCR classifier): top-1 agrees with onnxruntime on seeded inputs`, async () => {
      const model = read(name);
      const before = buildGraph(model);
      const skips = explainQdqFold(before, evaluator(before));
      const { graph } = optimizeGraph(before, 2);
      const nq = graph.nodes.filter((n) => n.domain === 'twinfer' && n.opType.startsWith('Q')).length;
      const reasons = [...new Set(skips.map((s) => s.reason))];
      console.log(`${name}: ${nq} INT8 ops, ${skips.length} left float (${reasons.join('; ') || '-'})`);
      // All 53 convolutions (BatchNormalization stays a float op after them in these fixtures).
      expect(nq).toBeGreaterThanOrEqual(53);
      const step = outputStep(graph);
      const ort = await ortRunner(model);
      for (const seed of [1, 3, 4]) {
        const x = feed([1, 3, 48, 192], seed);
        const ref = await ort.run(x);
        const got = run(graph, x);
        console.log(`${name} seed ${seed}: ort [${Array.from(ref.numbers).map((v) => v.toFixed(4))}] twinfer [${Array.from(got.numbers).map((v) => v.toFixed(4))}], max ${maxSteps(got, ref, step)} steps`);
        expect(argmax(got)).toBe(argmax(ref));
        expect(maxSteps(got, ref, step)).toBeLessThanOrEqual(1.0001);
      }
      await ort.release();
      if (nq === 0) return;
      const x = feed([1, 3, 48, 192], 1);
      const unf = optimize(before, 2, evaluator(before), PASSES.filter((p) => p.name !== 'qdq-fold')).graph;
      console.log(`${name} CPU: folded ${timeIt(graph, x).toFixed(1)} ms, unfolded (float ops on dequantized values) ${timeIt(unf, x).toFixed(1)} ms`);
    });
  }

  it('small_cnn.qop (QOperator with com.microsoft ops): a clear error naming the op', () => {
    expect(() => buildGraph(read('small_cnn.qop'))).toThrow(/QLinearAdd|QLinearGlobalAveragePool|QGemm|com\.microsoft/);
  });
});
