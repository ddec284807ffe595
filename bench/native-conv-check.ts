/**
 * The CUDA conv tactics on awkward shapes, against the CPU backend (issue 6): each case is one Conv
 * (or FusedConv after the optimizer) at float32 and float16, on the tactic the environment forces
 * (TWINFER_CONV_TACTIC=own: the implicit GEMM, on TF32 tensor cores for float16; =cudnn; unset: the
 * timed choice). float32 must agree within rtol 1e-3 / atol 1e-4 (TF32_ALLOWED=1 in the environment:
 * 5e-3 relative to the output's largest value, TF32's 10-bit mantissa); float16 within 2e-3 of the
 * largest value (float16 rounding of both sides, f32 sums in another order). Exits 1 on a failure.
 *   TWINFER_CONV_TACTIC=own node dist/bench/native-conv-check.js
 */
import '../src/node.js';
import { Graph } from '../src/ir/graph.js';
import { HostTensor } from '../src/ir/tensor.js';
import { exportModel } from '../src/onnx/export.js';
import { InferenceSession } from '../src/api/session.js';
import { fromHostTensor, toHostTensor } from '../src/api/tensor.js';
import { seededRandom } from '../src/cli/run.js';

interface ConvCase { x: number[]; w: number[]; bias?: boolean; attrs?: Record<string, number[] | number>; relu?: boolean; residual?: boolean }
const CASES: ConvCase[] = [
  { x: [1, 3, 11, 13], w: [8, 3, 3, 3], attrs: { pads: [1, 1, 1, 1] } },
  { x: [2, 5, 17, 15], w: [7, 5, 3, 3], bias: true, attrs: { strides: [2, 2], dilations: [2, 1], pads: [0, 1, 2, 1] } },
  { x: [2, 4, 9, 9], w: [6, 2, 3, 3], bias: true, attrs: { group: 2, pads: [1, 0, 1, 0] } },
  { x: [1, 8, 10, 10], w: [8, 1, 3, 3], attrs: { group: 8, pads: [1, 1, 1, 1], strides: [2, 2] } },
  { x: [2, 70, 7, 7], w: [66, 70, 1, 1], bias: true },
  { x: [1, 300, 7, 7], w: [20, 300, 3, 3], bias: true, relu: true, residual: true, attrs: { pads: [1, 1, 1, 1] } },
  { x: [1, 256, 14, 14], w: [256, 256, 3, 3], bias: true, relu: true, attrs: { pads: [1, 1, 1, 1] } },
  { x: [1, 1024, 14, 14], w: [2048, 1024, 1, 1], bias: true, attrs: { strides: [2, 2] } },
  { x: [4, 64, 56, 56], w: [256, 64, 1, 1], bias: true, relu: true, residual: true },
  { x: [2, 3, 224, 224], w: [64, 3, 7, 7], bias: true, relu: true, attrs: { strides: [2, 2], pads: [3, 3, 3, 3] } },
  { x: [3, 33, 17, 19], w: [65, 33, 3, 3], bias: true, attrs: { pads: [1, 1, 1, 1] } },
];

function model(c: ConvCase): { bytes: Uint8Array; x: HostTensor; z?: HostTensor } {
  const rand = seededRandom(c.x.reduce((a, b) => a * 31 + b, 7));
  const t = (dims: number[], s = 1) => new HostTensor('float32', dims, Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => (rand() * 2 - 1) * s));
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs.push({ name: 'x', dtype: 'float32', shape: c.x });
  const fanIn = c.w.slice(1).reduce((a, b) => a * b, 1);
  g.initializers.set('w', t(c.w, Math.sqrt(3 / fanIn)));
  const ins = ['x', 'w'];
  if (c.bias) { g.initializers.set('b', t([c.w[0]!], 0.1)); ins.push('b'); }
  g.nodes.push({ name: 'conv', opType: 'Conv', domain: '', inputs: ins, outputs: ['c'], attrs: c.attrs ?? {} });
  let y = 'c';
  if (c.relu) { g.nodes.push({ name: 'relu', opType: 'Relu', domain: '', inputs: [y], outputs: ['r'], attrs: {} }); y = 'r'; }
  let z: HostTensor | undefined;
  if (c.residual) {
    // The output dims for a residual input: run the conv once on the CPU.
    g.inputs.push({ name: 'z', dtype: 'float32', shape: undefined as unknown as number[] });
    g.nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: [y, 'z'], outputs: ['s'], attrs: {} });
    y = 's';
  }
  g.outputs = [{ name: y }];
  const x = t(c.x);
  if (c.residual) {
    const [N, , H, W] = c.x as [number, number, number, number];
    const M = c.w[0]!;
    const s = (c.attrs?.['strides'] as number[] | undefined)?.[0] ?? 1;
    const dims = [N, M, Math.floor((H - 1) / s) + 1, Math.floor((W - 1) / s) + 1];
    g.inputs[1]!.shape = dims;
    z = t(dims);
  }
  return { bytes: exportModel(g), x, ...(z ? { z } : {}) };
}

let failed = 0;
const tf32 = process.env['TWINFER_TF32'] === '1';
console.log(`conv tactic ${process.env['TWINFER_CONV_TACTIC'] ?? 'timed'}${tf32 ? ', TF32 for float32' : ''}`);
for (const c of CASES) {
  const { bytes, x, z } = model(c);
  const feeds = { x: fromHostTensor(x), ...(z ? { z: fromHostTensor(z) } : {}) };
  for (const precision of ['fp32', 'fp16'] as const) {
    const cuda = await InferenceSession.create(bytes, { backends: ['cuda'], precision, minSubgraphSize: 1 });
    const cpu = await InferenceSession.create(bytes, { backends: ['cpu'], precision });
    const a = toHostTensor((await cuda.run(feeds))[cuda.outputNames[0]!]!).data as Float32Array;
    const b = toHostTensor((await cpu.run(feeds))[cpu.outputNames[0]!]!).data as Float32Array;
    let maxRef = 0, maxDiff = 0, bad = 0;
    for (let i = 0; i < b.length; i++) maxRef = Math.max(maxRef, Math.abs(b[i]!));
    for (let i = 0; i < b.length; i++) {
      const d = Math.abs(a[i]! - b[i]!);
      maxDiff = Math.max(maxDiff, d);
      const ok = precision === 'fp16' ? d <= 2e-3 * maxRef : tf32 ? d <= 5e-3 * maxRef : d <= 1e-4 + 1e-3 * Math.abs(b[i]!);
      if (!ok || Number.isNaN(a[i]!)) bad++;
    }
    if (bad) failed++;
    console.log(`${bad ? 'FAIL' : 'ok  '} ${precision} x[${c.x}] w[${c.w}] ${JSON.stringify(c.attrs ?? {})}${c.relu ? ' relu' : ''}${c.residual ? ' +z' : ''}: max|diff| ${maxDiff.toExponential(2)} (max|y| ${maxRef.toFixed(2)}), ${bad} outside`);
  }
}
console.log(failed ? `${failed} checks failed` : 'all conv checks passed');
process.exit(failed ? 1 : 0);
