/**
 * The benchmark models of bench/models: each imports, checks and shape-infers in twinfer with the
 * expected symbolic output shape, has the node counts of its exported form, and computes the same
 * outputs on twinfer's CPU backend as on onnxruntime-node's CPU provider.
 *
 * Tolerance rtol 1e-3 / atol 1e-4: both sides compute in float32 but sum in different orders, and
 * onnxruntime first folds BN into Conv and fuses Conv+Relu/Clip(+Add), LayerNorm and bias+GELU, so
 * results differ by a few ulps per layer. Over 50+ layers that stays far inside the bound on
 * logits of O(10) and LayerNorm outputs of O(1) (measured max |diff|: ResNet-50 ~4e-6,
 * MobileNetV2 ~1e-5, BERT ~3e-6), while a wrong kernel moves outputs by far more.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { buildBert, buildMobileNetV2, buildResNet50 } from '../bench/models/index.js';
import { buildGraph } from '../src/api/session.js';
import { CpuExecutor } from '../backends/cpu/executor.js';
import { fromHostTensor, toHostTensor, type Tensor } from '../src/api/tensor.js';
import { compareTensors } from '../src/testing/compare.js';
import { seededRandom } from '../src/cli/run.js';
import { HostTensor } from '../src/ir/tensor.js';
import { pb } from '../src/onnx/proto.js';
import type { Graph } from '../src/ir/graph.js';

const RTOL = 1e-3, ATOL = 1e-4;

/**
 * The exported form as written: default-domain opset and op type -> count, read from the ONNX
 * bytes themselves (not from the importer's normalized graph).
 */
function exportedForm(bytes: Uint8Array): { opset: number | undefined; counts: Record<string, number>; model: ReturnType<typeof pb.ModelProto.decode> } {
  const model = pb.ModelProto.decode(bytes);
  const counts: Record<string, number> = {};
  for (const n of model.graph?.node ?? []) counts[n.opType!] = (counts[n.opType!] ?? 0) + 1;
  const imp = model.opsetImport.find((o) => !o.domain);
  return { opset: imp ? Number(imp.version) : undefined, counts, model };
}

function floatInput(dims: number[], seed: number, lo: number, hi: number): HostTensor {
  const rand = seededRandom(seed);
  const t = new HostTensor('float32', dims);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = lo + (hi - lo) * rand();
  return t;
}

interface Case { feeds: Record<string, HostTensor>; dims: number[] }

/** Runs each case on twinfer's CPU backend and on onnxruntime-node; asserts the outputs match. */
async function crossCheck(bytes: Uint8Array, g: Graph, output: string, cases: Case[]): Promise<void> {
  const mine = new CpuExecutor(g);
  const sess = await ort.InferenceSession.create(bytes);
  try {
    for (const { feeds, dims } of cases) {
      const a = mine.run(new Map(Object.entries(feeds)), [output]).get(output)!;
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(feeds)) {
        const t = fromHostTensor(v);
        ortFeeds[k] = new ort.Tensor(t.type as never, t.data as never, t.dims as number[]);
      }
      const b = toHostTensor((await sess.run(ortFeeds))[output] as unknown as Tensor);
      expect(a.dims).toEqual(dims);
      // Random weights must still give a live network: finite, not collapsed to a constant.
      let lo = Infinity, hi = -Infinity;
      for (const x of b.data as Float32Array) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
      expect(Number.isFinite(lo) && Number.isFinite(hi)).toBe(true);
      expect(hi - lo).toBeGreaterThan(1e-2);
      const c = compareTensors(a, b, RTOL, ATOL);
      expect(c.reason, `dims [${dims}]`).toBeUndefined();
    }
  } finally {
    await sess.release();
  }
}

describe('bench/models', () => {
  it('ResNet-50 v1.5: Conv+BN+Relu form, [batch,1000], matches onnxruntime', async () => {
    const bytes = buildResNet50();
    const form = exportedForm(bytes);
    expect(form.opset).toBe(17);
    // 1 stem + 16 bottlenecks x 3 + 4 downsample projections = 53 convs, each with its BN;
    // Relu: stem + 3 per bottleneck (two inside, one after the residual Add) = 49.
    expect(form.counts).toEqual({
      Conv: 53, BatchNormalization: 53, Relu: 49, Add: 16, MaxPool: 1, GlobalAveragePool: 1, Flatten: 1, Gemm: 1,
    });
    const g = buildGraph(bytes);
    expect(g.outputs.map((o) => [o.name, o.dtype, o.shape])).toEqual([['output', 'float32', ['batch', 1000]]]);
    await crossCheck(bytes, g, 'output', [{ feeds: { input: floatInput([1, 3, 224, 224], 1, -2, 2) }, dims: [1, 1000] }]);
  });

  it('MobileNetV2: Conv+BN+Clip(ReLU6) form, [batch,1000], matches onnxruntime', async () => {
    const bytes = buildMobileNetV2();
    const form = exportedForm(bytes);
    expect(form.opset).toBe(17);
    // 1 stem + 2 (first block, no expansion) + 16 x 3 + 1 final 1x1 = 52 convs; Clip follows every
    // conv except the 17 projections: 35; Add on the 10 stride-1 blocks with in == out.
    expect(form.counts).toEqual({
      Conv: 52, BatchNormalization: 52, Clip: 35, Add: 10, GlobalAveragePool: 1, Flatten: 1, Gemm: 1,
    });
    const depthwise = (form.model.graph?.node ?? []).filter((n) => n.opType === 'Conv'
      && (n.attribute ?? []).some((a) => a.name === 'group' && Number(a.i) > 1));
    expect(depthwise.length).toBe(17);
    const g = buildGraph(bytes);
    expect(g.outputs.map((o) => [o.name, o.dtype, o.shape])).toEqual([['output', 'float32', ['batch', 1000]]]);
    await crossCheck(bytes, g, 'output', [{ feeds: { input: floatInput([1, 3, 224, 224], 2, -2, 2) }, dims: [1, 1000] }]);
  });

  it('BERT encoder: decomposed LayerNorm/GELU form, [batch,seq,768], matches onnxruntime', async () => {
    const layers = 2;
    // A small vocabulary keeps the word table (the bulk of BERT's bytes) out of the test's time.
    const bytes = buildBert({ layers, vocab: 1000 });
    const form = exportedForm(bytes);
    expect(form.opset).toBe(17);
    const per = (n: number, emb: number) => emb + layers * n;
    // Per layer: 8 MatMul (Q, K, V, QK^T, PV, out, FFN x2); 14 Add (6 biases, mask, 2 residuals,
    // GELU +1, eps and beta of 2 LayerNorms); 4 Div (scale, GELU, 2 LayerNorms). The embeddings and
    // mask add Shape, 4 Gather, 3 Unsqueeze, 2 Slice, Cast and a LayerNorm of their own.
    expect(form.counts).toEqual({
      Shape: 1, Gather: 4, Unsqueeze: 3, Slice: 2, Cast: 1,
      Add: per(14, 4), Sub: per(2, 2), Mul: per(4, 2), Pow: per(2, 1), ReduceMean: per(4, 2),
      Sqrt: per(2, 1), Div: per(4, 1), MatMul: per(8, 0), Reshape: per(4, 0), Transpose: per(4, 0),
      Softmax: per(1, 0), Erf: per(1, 0),
    });
    expect(Object.values(form.counts).reduce((a, b) => a + b, 0)).toBe(24 + 50 * layers);
    const g = buildGraph(bytes);
    expect(g.outputs.map((o) => [o.name, o.dtype, o.shape])).toEqual([['last_hidden_state', 'float32', ['batch', 'seq', 768]]]);

    // [1,16] with the last 4 positions padding (so the additive mask really changes the softmax),
    // then [2,7] with a different padding per row: batch and seq are dynamic in one graph.
    const rand = seededRandom(3);
    const bertCase = (batch: number, seq: number, pad: number[]): Case => ({
      feeds: {
        input_ids: HostTensor.fromNumbers('int64', [batch, seq], Array.from({ length: batch * seq }, () => Math.floor(rand() * 1000))),
        attention_mask: HostTensor.fromNumbers('int64', [batch, seq], Array.from({ length: batch * seq }, (_, i) => (i % seq < seq - pad[Math.floor(i / seq)]! ? 1 : 0))),
      },
      dims: [batch, seq, 768],
    });
    await crossCheck(bytes, g, 'last_hidden_state', [bertCase(1, 16, [4]), bertCase(2, 7, [0, 3])]);
  });
});
