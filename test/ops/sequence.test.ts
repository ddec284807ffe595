/**
 * LSTM, GRU and NonMaxSuppression against onnxruntime-node on single-op models with seeded random
 * configurations (directions, layouts, sequence_lens, initial states, peepholes, clip,
 * activations, linear_before_reset). Tolerance for the RNNs: rtol 1e-4, atol 1e-5 — twinfer runs
 * the recurrence in float64, onnxruntime in float32, and a few steps of float32 products of
 * length <= 16 plus tanh/sigmoid drift by ~1e-6 relative per step; 1e-4 keeps a wide margin while
 * a wrong gate order, bias or state would be off by 1e-2 or more. NMS indices must match exactly.
 */
import { describe, it } from 'vitest';
import { HostTensor, stridesOf } from '../../src/ir/tensor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { buildGraph } from '../../src/api/session.js';
import { CpuExecutor } from '../../backends/cpu/executor.js';
import { assertClose, compareSingleOp, randomTensor, seededRandom, singleOpModel, type SingleOpSpec } from '../helpers/ort-single-op.js';

const RNN_TOL = { rtol: 1e-4, atol: 1e-5 };
const rand = seededRandom(7031);
const ri = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const f32 = (dims: number[], lo = -1, hi = 1) => randomTensor('float32', dims, rand, lo, hi);

async function check(spec: SingleOpSpec, label: string, tol = RNN_TOL): Promise<void> {
  const r = await compareSingleOp(spec);
  assertClose(r, tol, `${spec.opType} ${label}`);
}

/** Runs a single-op model on twinfer only. */
function runTwinfer(spec: SingleOpSpec): HostTensor[] {
  const feeds = new Map<string, HostTensor>();
  spec.inputs.forEach((t, i) => { if (t) feeds.set(`in${i}`, t); });
  const names = Array.from({ length: spec.outputs ?? 1 }, (_, k) => `out${k}`);
  const got = new CpuExecutor(buildGraph(singleOpModel(spec))).run(feeds, names);
  return names.map((n) => got.get(n)!);
}

function transpose(t: HostTensor, perm: number[]): HostTensor {
  const dims = perm.map((p) => t.dims[p]!);
  const out = new HostTensor(t.dtype, dims);
  const src = stridesOf(t.dims);
  const dst = stridesOf(dims);
  const x = t.numbers; const y = out.numbers;
  for (let i = 0; i < out.size; i++) {
    let r = i; let o = 0;
    for (let k = 0; k < dims.length; k++) { const c = Math.floor(r / dst[k]!); r -= c * dst[k]!; o += c * src[perm[k]!]!; }
    y[i] = x[o]!;
  }
  return out;
}

/**
 * onnxruntime has no batch-major (layout=1) RNNs: check layout=1 against twinfer's own layout=0
 * on transposed data (itself checked against onnxruntime), which isolates the layout indexing.
 */
async function checkRnn(spec: SingleOpSpec, label: string): Promise<void> {
  if (spec.attrs?.layout !== 1) return check(spec, label);
  const swap = (t: HostTensor | undefined) => (t ? transpose(t, [1, 0, 2]) : undefined);
  const ins = spec.inputs.slice();
  for (const i of [0, 5, 6]) if (i < ins.length) ins[i] = swap(ins[i]);
  const seqSpec = { ...spec, attrs: { ...spec.attrs, layout: 0 }, inputs: ins };
  await check(seqSpec, `${label} (as layout 0)`);
  const ref = runTwinfer(seqSpec);
  const got = runTwinfer(spec);
  got.forEach((g, k) => {
    const want = k === 0 ? transpose(ref[0]!, [2, 0, 1, 3]) : transpose(ref[k]!, [1, 0, 2]);
    const c = compareTensors(g, want, 0, 0);
    if (!c.ok) throw new Error(`${spec.opType} ${label} layout 1 output ${k}: ${c.reason}`);
  });
}

/** Activation lists with their alpha/beta values; onnxruntime reads them in order of use. */
const ACT_SETS: { acts: string[]; alpha?: number[]; beta?: number[] }[] = [
  { acts: ['HardSigmoid', 'Tanh', 'Softsign'], alpha: [0.3], beta: [0.4] },
  { acts: ['Sigmoid', 'LeakyRelu', 'ScaledTanh'], alpha: [0.2, 1.5], beta: [0.7] },
  { acts: ['Sigmoid', 'Elu', 'Tanh'] },
  { acts: ['Sigmoid', 'Softplus', 'Relu'] },
  { acts: ['Sigmoid', 'Affine', 'ThresholdedRelu'], alpha: [0.5, 0.1], beta: [0.2] },
];

interface RnnCfg {
  dir: string; numDir: number; layout: number; seq: number; batch: number; inSize: number; H: number;
}

function rnnCfg(): RnnCfg {
  const dir = pick(['forward', 'reverse', 'bidirectional']);
  return { dir, numDir: dir === 'bidirectional' ? 2 : 1, layout: ri(0, 1), seq: ri(1, 5), batch: ri(1, 3), inSize: ri(1, 6), H: ri(1, 6) };
}

function stateDims(c: RnnCfg): number[] {
  return c.layout === 0 ? [c.numDir, c.batch, c.H] : [c.batch, c.numDir, c.H];
}

function seqLens(c: RnnCfg): HostTensor {
  const lens = Array.from({ length: c.batch }, () => ri(1, c.seq));
  lens[ri(0, c.batch - 1)] = c.seq; // onnxruntime's output shape uses the longest length
  return HostTensor.fromNumbers('int32', [c.batch], lens);
}

describe('RNNs vs onnxruntime', () => {
  it('LSTM: directions, layouts, sequence_lens, initial states, peepholes, clip, input_forget', async () => {
    for (let t = 0; t < 14; t++) {
      const c = rnnCfg();
      const G = 4 * c.H;
      const x = f32(c.layout === 0 ? [c.seq, c.batch, c.inSize] : [c.batch, c.seq, c.inSize], -2, 2);
      const inputs = [
        x, f32([c.numDir, G, c.inSize]), f32([c.numDir, G, c.H]),
        rand() < 0.7 ? f32([c.numDir, 2 * G]) : undefined,
        rand() < 0.5 ? seqLens(c) : undefined,
        rand() < 0.6 ? f32(stateDims(c)) : undefined,
        rand() < 0.6 ? f32(stateDims(c)) : undefined,
        rand() < 0.5 ? f32([c.numDir, 3 * c.H]) : undefined,
      ];
      const attrs: SingleOpSpec['attrs'] = { hidden_size: c.H, direction: c.dir, layout: c.layout };
      if (rand() < 0.3) attrs.clip = 0.5 + rand();
      if (rand() < 0.3) attrs.input_forget = 1;
      if (t % 3 === 2) {
        const a = pick(ACT_SETS);
        attrs.activations = c.numDir === 2 ? [...a.acts, ...a.acts] : a.acts;
        if (a.alpha) attrs.activation_alpha = c.numDir === 2 ? [...a.alpha, ...a.alpha] : a.alpha;
        if (a.beta) attrs.activation_beta = c.numDir === 2 ? [...a.beta, ...a.beta] : a.beta;
      }
      await checkRnn({ opType: 'LSTM', opset: 22, attrs, inputs, outputs: 3 },
        `${JSON.stringify(c)} ${JSON.stringify({ ...attrs, hidden_size: undefined })} opt ${inputs.map((i) => (i ? 1 : 0)).join('')}`);
    }
  });

  it('GRU: directions, layouts, sequence_lens, initial state, linear_before_reset, clip', async () => {
    for (let t = 0; t < 14; t++) {
      const c = rnnCfg();
      const G = 3 * c.H;
      const x = f32(c.layout === 0 ? [c.seq, c.batch, c.inSize] : [c.batch, c.seq, c.inSize], -2, 2);
      const inputs = [
        x, f32([c.numDir, G, c.inSize]), f32([c.numDir, G, c.H]),
        rand() < 0.7 ? f32([c.numDir, 2 * G]) : undefined,
        rand() < 0.5 ? seqLens(c) : undefined,
        rand() < 0.6 ? f32(stateDims(c)) : undefined,
      ];
      const attrs: SingleOpSpec['attrs'] = { hidden_size: c.H, direction: c.dir, layout: c.layout, linear_before_reset: ri(0, 1) };
      if (rand() < 0.3) attrs.clip = 0.5 + rand();
      if (t % 3 === 2) {
        const a = pick(ACT_SETS);
        const acts = a.acts.slice(0, 2);
        attrs.activations = c.numDir === 2 ? [...acts, ...acts] : acts;
      }
      await checkRnn({ opType: 'GRU', opset: 22, attrs, inputs, outputs: 2 },
        `${JSON.stringify(c)} ${JSON.stringify({ ...attrs, hidden_size: undefined })} opt ${inputs.map((i) => (i ? 1 : 0)).join('')}`);
    }
  });

  it('opset 7 LSTM / GRU (no layout attribute)', async () => {
    await check({ opType: 'LSTM', opset: 7, attrs: { hidden_size: 3 }, inputs: [f32([4, 2, 3]), f32([1, 12, 3]), f32([1, 12, 3]), f32([1, 24])], outputs: 3 }, 'opset 7');
    await check({ opType: 'GRU', opset: 7, attrs: { hidden_size: 4, direction: 'bidirectional' }, inputs: [f32([3, 2, 5]), f32([2, 12, 5]), f32([2, 12, 4])], outputs: 2 }, 'opset 7');
  });
});

describe('NonMaxSuppression vs onnxruntime', () => {
  it('random boxes: both box formats, thresholds, limits, batches and classes', async () => {
    for (let t = 0; t < 12; t++) {
      const nb = ri(1, 2); const nc = ri(1, 3); const n = ri(1, 40);
      const center = ri(0, 1);
      const boxes = new HostTensor('float32', [nb, n, 4]);
      const bd = boxes.numbers;
      for (let i = 0; i < nb * n; i++) {
        const a = rand() * 10; const b = rand() * 10; const w = 0.5 + rand() * 4; const h = 0.5 + rand() * 4;
        if (center) bd.set([a, b, w, h], i * 4);
        else if (rand() < 0.5) bd.set([a, b, a + h, b + w], i * 4);
        else bd.set([a + h, b + w, a, b], i * 4); // flipped corners
      }
      const scores = f32([nb, nc, n], 0, 1);
      const inputs: (HostTensor | undefined)[] = [
        boxes, scores,
        HostTensor.fromNumbers('int64', [1], [ri(0, 12)]),
        HostTensor.fromNumbers('float32', [1], [rand() * 0.8]),
        rand() < 0.7 ? HostTensor.fromNumbers('float32', [1], [rand() * 0.6]) : undefined,
      ];
      await check({ opType: 'NonMaxSuppression', opset: 11, attrs: { center_point_box: center }, inputs },
        `b${nb} c${nc} n${n} center ${center}`, { rtol: 0, atol: 0 });
    }
  });

  it('optional inputs omitted (no limit means no output)', async () => {
    const boxes = HostTensor.fromNumbers('float32', [1, 2, 4], [0, 0, 1, 1, 0, 0.1, 1, 1.1]);
    const scores = HostTensor.fromNumbers('float32', [1, 1, 2], [0.9, 0.8]);
    await check({ opType: 'NonMaxSuppression', opset: 11, inputs: [boxes, scores] }, 'defaults', { rtol: 0, atol: 0 });
    await check({ opType: 'NonMaxSuppression', opset: 11, inputs: [boxes, scores, HostTensor.fromNumbers('int64', [1], [5])] }, 'no iou', { rtol: 0, atol: 0 });
  });
});
