/**
 * Test helper: twinfer.QConv / QGemm / QMatMul cases for the CUDA backend (the emulated addon in
 * q-kernels.test.ts, the real one in q-kernels-gpu.test.ts) and the check that runs one on
 * backends ['cuda'] alone (a refused node fails) against the CPU reference (backends/cpu/ops/qfused.ts).
 *
 * Shapes are awkward on purpose: groups, depthwise (the direct kernel), channels not a multiple of 4,
 * 1-D, pads, strides, dilations, sizes off the 64x64 tiles, batch > 1, uint8 with a zero point,
 * activation + residual + post-activation, float16, x exactly on .5 ties of x_scale, NaN and inf.
 *
 * Tolerance: the integer part must be exact and the epilogue does the CPU's roundings
 * (f32(f32(acc) * sc) + bias), so with piecewise-linear activations the outputs are equal; the test
 * allows |d| <= 1e-6 |cpu| + mult / 4 (an accumulator off by one moves y by a whole mult =
 * x_scale * W_scale), plus 1e-5 relative for exp-based activations (CUDA's expf / tanhf vs Math.*)
 * and one float16 ULP (2^-10 relative) for float16 outputs that straddle a rounding boundary.
 */
import type { AttrType, AttrValue } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { InferenceSession, type Tensor } from '../../src/node.js';
import { fromHostTensor, toHostTensor } from '../../src/api/tensor.js';
import { Graph } from '../../src/ir/graph.js';
import { exportModel } from '../../src/onnx/export.js';
import { roundArrayToDtype } from '../../src/ir/lowp.js';
import { seededRandom } from '../../src/cli/run.js';

export interface QCase {
  op: 'QConv' | 'QGemm' | 'QMatMul';
  x: number[];
  w: number[];
  attrs?: Record<string, AttrValue>;
  bias?: boolean;
  residual?: boolean;
  /** uint8 activations with this zero point. */
  zp?: number;
  /** int8 activations with a zero point (x_signed 1). */
  szp?: number;
  xScale?: number;
  dtype?: 'float32' | 'float16';
  /** 'ties': every x an exact .5 multiple of x_scale; 'special': some NaN / +-inf / huge values. */
  xs?: 'random' | 'ties' | 'special';
  perTensor?: boolean;
  rtol?: number;
}

export const Q_CASES: QCase[] = [
  { op: 'QConv', x: [1, 3, 11, 13], w: [8, 3, 3, 3], attrs: { pads: [1, 1, 1, 1] }, bias: true },
  { op: 'QConv', x: [2, 5, 17, 15], w: [70, 5, 3, 3], attrs: { strides: [2, 2], dilations: [2, 1], pads: [0, 1, 2, 1] }, bias: true, xs: 'ties' },
  { op: 'QConv', x: [2, 8, 9, 9], w: [16, 4, 3, 3], attrs: { group: 2, pads: [1, 0, 1, 0] }, bias: true, zp: 131 },
  { op: 'QConv', x: [1, 8, 10, 10], w: [8, 1, 3, 3], attrs: { group: 8, pads: [1, 1, 1, 1], strides: [2, 2] }, bias: true, xs: 'ties' },
  { op: 'QConv', x: [1, 12, 10, 10], w: [24, 1, 3, 3], attrs: { group: 12, pads: [1, 1, 1, 1], activation: 'Clip', activation_params: [0, 6] }, zp: 7 },
  { op: 'QConv', x: [2, 3, 20], w: [9, 3, 4], attrs: { strides: [2], pads: [1, 2] }, bias: true, szp: -5 },
  { op: 'QConv', x: [1, 3, 10, 9], w: [4, 3, 4, 3], attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] } },
  { op: 'QConv', x: [2, 70, 7, 7], w: [66, 70, 1, 1], bias: true, perTensor: true, xs: 'special' },
  { op: 'QConv', x: [1, 6, 8, 8], w: [10, 6, 3, 3], attrs: { pads: [1, 1, 1, 1], activation: 'Relu', post_activation: 'Clip', post_activation_params: [0, 6] }, bias: true, residual: true },
  { op: 'QConv', x: [1, 48, 4, 6], w: [9, 48, 3, 3], attrs: { activation: 'Sigmoid', post_activation: 'Tanh' }, bias: true, residual: true, rtol: 1e-5 },
  { op: 'QConv', x: [1, 6, 9, 9], w: [12, 2, 3, 3], attrs: { group: 3, pads: [1, 1, 1, 1], activation: 'HardSwish' }, dtype: 'float16', bias: true, residual: true },
  { op: 'QConv', x: [1, 300, 7, 7], w: [20, 300, 3, 3], attrs: { pads: [1, 1, 1, 1], activation: 'Relu' }, bias: true, xScale: 0.004 },
  { op: 'QGemm', x: [37, 29], w: [29, 45], bias: true, xs: 'ties' },
  { op: 'QGemm', x: [21, 13], w: [9, 13], attrs: { transB: 1, activation: 'LeakyRelu', activation_params: [0.1] }, bias: true, residual: true, zp: 100 },
  { op: 'QGemm', x: [5, 300], w: [300, 7], perTensor: true, xs: 'special' },
  { op: 'QMatMul', x: [3, 37, 29], w: [29, 70], bias: true },
  { op: 'QMatMul', x: [2, 5, 66], w: [66, 130], attrs: { activation: 'Gelu', activation_params: [1] }, dtype: 'float16', rtol: 1e-5 },
  { op: 'QMatMul', x: [7], w: [7, 3], szp: 3 },
];

// Local twins of test/helpers/ort-single-op.ts's helpers: that module loads onnxruntime-node, which
// bench/native-int8.ts (the GPU machine's run of these cases) does without.
function randomTensor(dtype: 'float32' | 'float16', dims: number[], rand: () => number, lo = -1, hi = 1): HostTensor {
  const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => lo + (hi - lo) * rand());
  if (dtype === 'float16') roundArrayToDtype(dtype, data);
  return new HostTensor(dtype, dims, data);
}

function singleOpModel(spec: { opType: string; attrs: Record<string, AttrValue>; attrTypes: Record<string, AttrType>; inputs: (HostTensor | undefined)[]; constInputs: number[] }): Uint8Array {
  const g = new Graph();
  g.opsets = { '': 21, twinfer: 1 };
  let count = spec.inputs.length;
  while (count > 0 && !spec.inputs[count - 1]) count--;
  const names = spec.inputs.slice(0, count).map((t, i) => (t ? `in${i}` : ''));
  spec.inputs.forEach((t, i) => {
    if (!t) return;
    if (spec.constInputs.includes(i)) g.initializers.set(names[i]!, t);
    else g.inputs.push({ name: names[i]!, dtype: t.dtype, shape: t.dims.slice() });
  });
  g.nodes.push({ name: `${spec.opType}_0`, opType: spec.opType, domain: 'twinfer', inputs: names, outputs: ['out0'], attrs: spec.attrs, attrTypes: spec.attrTypes });
  g.outputs = [{ name: 'out0' }];
  return exportModel(g);
}

export function qLabel(c: QCase): string {
  return `${c.op} x${JSON.stringify(c.x)} w${JSON.stringify(c.w)}${c.attrs ? ` ${JSON.stringify(c.attrs)}` : ''}${c.zp !== undefined ? ` uint8 zp ${c.zp}` : ''}${c.szp !== undefined ? ` int8 zp ${c.szp}` : ''}${c.dtype === 'float16' ? ' f16' : ''}${c.xs && c.xs !== 'random' ? ` ${c.xs}` : ''}`;
}

function outChannels(c: QCase): number {
  if (c.op === 'QConv') return c.w[0]!;
  return c.op === 'QGemm' && c.attrs?.['transB'] === 1 ? c.w[0]! : c.w[1]!;
}

interface Parts { x: HostTensor; w: HostTensor; ws: HostTensor; b: HostTensor | undefined; attrs: Record<string, AttrValue>; mult: number }

/** X, W, W_scale, B and the attributes of a case (deterministic in the seed). */
export function qParts(c: QCase, seed: number): Parts {
  const rand = seededRandom(seed);
  const dtype = c.dtype ?? 'float32';
  const xScale = Math.fround(c.xScale ?? 0.0123);
  const x = randomTensor(dtype, c.x, rand, -1, 1);
  const d = x.numbers;
  if (c.xs === 'ties') for (let i = 0; i < d.length; i++) d[i] = Math.fround((Math.floor(rand() * 80) - 40 + 0.5) * xScale);
  if (c.xs === 'special') {
    const sp = [NaN, Infinity, -Infinity, 1e30, -1e30, 0.5 * xScale, -0.5 * xScale, 1.5 * xScale];
    for (let i = 0; i < d.length; i += 7) d[i] = Math.fround(sp[(i / 7) % sp.length]!);
  }
  const M = outChannels(c);
  const w = new HostTensor('int8', c.w, Int8Array.from({ length: c.w.reduce((a, b) => a * b, 1) }, () => Math.floor(rand() * 255) - 127));
  const nS = c.perTensor ? 1 : M;
  const ws = new HostTensor('float32', [nS], Float32Array.from({ length: nS }, () => 0.002 + rand() * 0.01));
  const b = c.bias ? randomTensor('float32', [M], rand, -0.5, 0.5) : undefined;
  const attrs: Record<string, AttrValue> = { ...c.attrs, x_scale: xScale };
  if (c.zp !== undefined) { attrs['x_zero_point'] = c.zp; attrs['x_signed'] = 0; }
  if (c.szp !== undefined) attrs['x_zero_point'] = c.szp;
  let mult = 0;
  for (const s of ws.numbers) mult = Math.max(mult, Math.fround(xScale * s));
  return { x, w, ws, b, attrs, mult };
}

const ATTR_TYPES = { activation_params: 'floats', post_activation_params: 'floats' } as const;

/** The case's model (with Z fed as in4 when it has a residual) and its feeds. */
export async function qBuild(c: QCase, seed: number): Promise<{ model: Uint8Array; feeds: Record<string, Tensor>; mult: number }> {
  const p = qParts(c, seed);
  const build = (z?: HostTensor) => singleOpModel({ opType: c.op, attrs: p.attrs, attrTypes: ATTR_TYPES, inputs: [p.x, p.w, p.ws, p.b, z], constInputs: [1, 2, 3] });
  const feeds: Record<string, Tensor> = { in0: fromHostTensor(p.x) };
  if (!c.residual) return { model: build(), feeds, mult: p.mult };
  // Z has the output's shape: taken from a CPU run of the model without it.
  const s = await InferenceSession.create(build(), { backends: ['cpu'], optimizationLevel: 0 });
  const dims = [...(await s.run(feeds))['out0']!.dims];
  const z = randomTensor(c.dtype ?? 'float32', dims, seededRandom(seed + 1000), -1, 1);
  return { model: build(z), feeds: { ...feeds, in4: fromHostTensor(z) }, mult: p.mult };
}

/**
 * Runs the case on backends ['cuda'] alone and on the CPU; compares as the header says. Returns
 * what went wrong, undefined when they agree (no vitest here: bench/ scripts use it on the GPU machine).
 */
export async function qMismatch(c: QCase, seed: number): Promise<string | undefined> {
  const built = await qBuild(c, seed);
  const opts = { optimizationLevel: 0 as const, minSubgraphSize: 1 };
  const cuda = await InferenceSession.create(built.model, { ...opts, backends: ['cuda'] });
  if (cuda.plan.backends.join() !== 'cuda') return `planned on ${cuda.plan.backends.join(', ')}`;
  const cpu = await InferenceSession.create(built.model, { ...opts, backends: ['cpu'] });
  const want = toHostTensor((await cpu.run(built.feeds))['out0']!);
  // Twice: the second run replays the recorded program (packed weights already on the device).
  for (let run = 0; run < 2; run++) {
    const got = toHostTensor((await cuda.run(built.feeds))['out0']!);
    if (got.dims.join() !== want.dims.join()) return `dims [${got.dims.join(',')}], want [${want.dims.join(',')}]`;
    const g = got.numbers, w = want.numbers;
    const rtol = 1e-6 + (c.rtol ?? 0) + (c.dtype === 'float16' ? 2 ** -10 : 0);
    let bad = 0, first = '';
    for (let i = 0; i < w.length; i++) {
      const a = g[i]!, b = w[i]!;
      if (Number.isNaN(b) ? !Number.isNaN(a) : !(Math.abs(a - b) <= rtol * Math.abs(b) + built.mult / 4)) {
        if (!bad++) first = `at ${i}: cuda ${a}, cpu ${b}`;
      }
    }
    if (bad) return `run ${run}: ${bad} of ${w.length} differ, first ${first}`;
  }
  return undefined;
}
