/**
 * Activation smoothing before INT8 (src/quant/smooth.ts): the transform changes nothing in float32,
 * the factors travel in JSON tables only, and on a network whose input channels have ranges 1000x
 * apart (what per-tensor INT8 handles worst) smoothing brings the INT8 output closer to fp32.
 * PP-OCR figures: test/quant/accuracy.test.ts and docs/quantization.md.
 */
import { describe, expect, it } from 'vitest';
import '../../src/node.js';
import { Graph } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { exportModel } from '../../src/onnx/export.js';
import { InferenceSession } from '../../src/api/session.js';
import { Tensor, toHostTensor } from '../../src/api/tensor.js';
import { CpuExecutor } from '../../backends/cpu/executor.js';
import { calibrate, type CalibrationProgress } from '../../src/quant/calibrate.js';
import { CalibrationTable } from '../../src/quant/table.js';
import { applySmoothing, smoothingFactors } from '../../src/quant/smooth.js';
import { seededRandom } from '../../src/cli/run.js';

const C = 8;

/** Depthwise 3x3 -> Relu -> pointwise 1x1 (8 -> 16) -> Relu -> GAP -> Flatten -> Gemm (16 -> 5, transB) -> MatMul (5 -> 4). */
function model(): Uint8Array {
  const rand = seededRandom(5);
  const w = (dims: number[], scale: number) => { const n = dims.reduce((a, b) => a * b, 1); return new HostTensor('float32', dims, Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale)); };
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['n', C, 6, 6] });
  g.initializers.set('dw', w([C, 1, 3, 3], 0.5));
  g.initializers.set('pw', w([16, C, 1, 1], 0.4));
  g.initializers.set('fc', w([5, 16], 0.3));
  g.initializers.set('fcb', w([5], 0.1));
  g.initializers.set('mm', w([5, 4], 0.5));
  g.nodes.push({ name: 'dwconv', opType: 'Conv', domain: '', inputs: ['x', 'dw'], outputs: ['a'], attrs: { group: C, pads: [1, 1, 1, 1] } });
  g.nodes.push({ name: 'relu1', opType: 'Relu', domain: '', inputs: ['a'], outputs: ['b'], attrs: {} });
  g.nodes.push({ name: 'pwconv', opType: 'Conv', domain: '', inputs: ['b', 'pw'], outputs: ['c'], attrs: {} });
  g.nodes.push({ name: 'relu2', opType: 'Relu', domain: '', inputs: ['c'], outputs: ['d'], attrs: {} });
  g.nodes.push({ name: 'gap', opType: 'GlobalAveragePool', domain: '', inputs: ['d'], outputs: ['e'], attrs: {} });
  g.nodes.push({ name: 'flat', opType: 'Flatten', domain: '', inputs: ['e'], outputs: ['f'], attrs: { axis: 1 } });
  g.nodes.push({ name: 'fcl', opType: 'Gemm', domain: '', inputs: ['f', 'fc', 'fcb'], outputs: ['h'], attrs: { transB: 1 } });
  g.nodes.push({ name: 'mml', opType: 'MatMul', domain: '', inputs: ['h', 'mm'], outputs: ['y'], attrs: {} });
  g.outputs = [{ name: 'y' }];
  return exportModel(g);
}

/** Input channel c scaled by 10^(3c/7 - 1.5): ranges from 0.03 to 30. */
function batch(seed: number, n = 4): Record<string, Tensor> {
  const rand = seededRandom(seed);
  const d = new Float32Array(n * C * 36);
  for (let i = 0; i < d.length; i++) d[i] = (rand() * 2 - 1) * 10 ** ((3 * (Math.floor(i / 36) % C)) / 7 - 1.5);
  return { x: new Tensor('float32', d, [n, C, 6, 6]) };
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i]! * b[i]!; aa += a[i]! * a[i]!; bb += b[i]! * b[i]!; }
  return ab / Math.sqrt(aa * bb);
}

const cal = [1, 2, 3, 4].map((s) => batch(s));

describe('activation smoothing', () => {
  it('calibrates the smoothed graph in one more pass and keeps a factor per input channel of every INT8 layer', async () => {
    const seen: CalibrationProgress[] = [];
    const t = await calibrate(model(), cal, { algo: 'entropy', smoothing: 0.5, onProgress: (p) => seen.push(p) });
    expect(seen.map((p) => p.pass)).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    expect(seen.every((p) => p.passes === 3)).toBe(true);
    const f = t.smoothing!;
    expect(f.alpha).toBe(0.5);
    const s = await InferenceSession.create(model(), { backends: ['cpu'] });
    // The optimizer fuses the Relus into the convs; names of the optimized graph.
    const layers = s.graph.nodes.filter((n) => /Conv|Gemm|MatMul/.test(n.opType)).map((n) => n.name);
    expect([...f.factors.keys()].sort()).toEqual(layers.sort());
    expect([...f.factors.values()].map((v) => v.length).sort((a, b) => a - b)).toEqual([5, 8, 8, 16]);
    // Depthwise: alpha 1, so s_c is the channel's |x| max: the ranges 0.03 .. 30 of the input.
    const dw = f.factors.get(s.graph.nodes.find((n) => n.attrs['group'] === C)!.name)!;
    expect(dw[C - 1]! / dw[0]!).toBeGreaterThan(300);
  });

  it('changes nothing in float32 (X / s and W * s)', async () => {
    const t = await calibrate(model(), cal, { algo: 'minmax', smoothing: 0.5 });
    const s = await InferenceSession.create(model(), { backends: ['cpu'] });
    const g = s.graph.clone();
    expect(applySmoothing(g, t.smoothing!.factors)).toBe(4);
    expect(g.nodes.filter((n) => n.opType === 'Mul')).toHaveLength(4);
    const feeds = new Map([['x', toHostTensor(batch(9).x)]]);
    const want = new CpuExecutor(s.graph).run(feeds, ['y']).get('y')!.data as Float32Array;
    const got = new CpuExecutor(g).run(feeds, ['y']).get('y')!.data as Float32Array;
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want[i]!)));
  });

  it('brings INT8 closer to fp32 where channel ranges differ 1000x, more so as alpha grows', async () => {
    const x = batch(42, 8);
    const ref = (await (await InferenceSession.create(model(), { backends: ['cpu'] })).run(x)).y!.data as Float32Array;
    const cos: Record<string, number> = {};
    for (const smoothing of [undefined, 0.5, 0.75, 1]) {
      const table = await calibrate(model(), cal, { algo: 'minmax', ...(smoothing !== undefined ? { smoothing } : {}) });
      const s = await InferenceSession.create(model(), { backends: ['cpu'], precision: 'int8', calibrationTable: table });
      expect(s.precisionReport!.counts.int8).toBe(4);
      expect(s.precisionReport!.smoothed).toBe(smoothing !== undefined ? 4 : undefined);
      cos[String(smoothing)] = cosine((await s.run(x)).y!.data as Float32Array, ref);
    }
    // Measured: 1 - cosine 4.4e-4 without, 3.9e-4 at alpha 0.5, 3.1e-4 at 0.75, 2.0e-4 at 1 (the
    // pointwise layer's input keeps the depthwise layer's 1000x channel spread; alpha moves it to W).
    expect(cos['0.5']!).toBeGreaterThan(cos['undefined']!);
    expect(cos['0.75']!).toBeGreaterThan(cos['0.5']!);
    expect(1 - cos['1']!).toBeLessThan(0.6 * (1 - cos['undefined']!));
  });

  it('lives in JSON tables only, read back bit for bit; bad factors are rejected', async () => {
    const t = await calibrate(model(), cal, { algo: 'minmax', smoothing: 0.25 });
    const back = CalibrationTable.parse(t.toJSONString(), 't.json');
    expect(back.sameScales(t)).toBe(true);
    expect(back.smoothing!.alpha).toBe(0.25);
    for (const [k, v] of t.smoothing!.factors) expect(Array.from(back.smoothing!.factors.get(k)!)).toEqual(Array.from(v));
    expect(() => t.toTensorRT()).toThrow(/smoothing factors, which TensorRT's calibration cache format cannot carry/);
    const doc = JSON.parse(t.toJSONString());
    doc.smoothing.nodes[Object.keys(doc.smoothing.nodes)[0]!] = [1, -2];
    expect(() => CalibrationTable.parse(JSON.stringify(doc), 'bad.json')).toThrow(/calibration table 'bad.json'.*factors of .* must be a non-empty list of finite numbers > 0/);
    doc.smoothing = { alpha: 2, nodes: {} };
    expect(() => CalibrationTable.parse(JSON.stringify(doc), 'bad.json')).toThrow(/"smoothing" must be/);
    await expect(calibrate(model(), cal, { smoothing: 1.5 })).rejects.toThrow(/smoothing alpha must be a number in \[0, 1\], got 1.5/);
  });

  it('refuses factors that do not fit the model, naming the layer', async () => {
    const t = await calibrate(model(), cal, { algo: 'minmax', smoothing: 0.5 });
    const [name, f] = [...t.smoothing!.factors].find(([, v]) => v.length === 16)!;
    t.smoothing!.factors.set(name, f.slice(0, 3));
    await expect(InferenceSession.create(model(), { backends: ['cpu'], precision: 'int8', calibrationTable: t })).rejects.toThrow(`3 smoothing factors for '${name}', which has 16 input channels`);
    const s = await InferenceSession.create(model(), { backends: ['cpu'] });
    const relu = s.graph.nodes.find((n) => n.opType === 'GlobalAveragePool')!;
    expect(() => smoothingFactors(s.graph, relu, [1], 0.5)).toThrow(/cannot be smoothed/);
  });
});
