/**
 * WebGPU twinfer.QConv / QGemm / QMatMul against the CPU reference (backends/cpu/ops/qfused.ts) on
 * awkward shapes: groups, depthwise, pads, strides, dilations, odd channels, K not a multiple of 4,
 * sizes off the tiles, batch > 1, uint8 with a zero point, bias + activation + residual, float16.
 * Runs on whatever WebGPU adapter is present (lavapipe on CI) and skips when there is none.
 *
 * Tolerance: the integer accumulation must be exact. The float epilogue is y = f32(acc) * mult + B
 * in float32 on both sides (the GPU may fuse the multiply-add: a rounding or two), so the test asks
 * |gpu - cpu| <= 1e-6 |cpu| + mult / 4: an accumulator off by one would move y by a whole `mult`.
 * With sigmoid-like activations, 1e-5 relative more (the WGSL exp differs from Math.exp).
 * float16 outputs are rounded to float16 on both sides: one float16 ULP (2^-10 relative) apart at
 * most, when the f32 values straddle a rounding boundary.
 */
import { describe, expect, it } from 'vitest';
import type { AttrValue } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { InferenceSession } from '../../src/node.js';
import { acquireGpu } from '../../backends/webgpu/device.js';
import { forceQTile } from '../../backends/webgpu/ops/qfused-gemm.js';
import { fromHostTensor, toHostTensor } from '../../src/api/tensor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { randomTensor, seededRandom, singleOpModel } from '../helpers/ort-single-op.js';

const gpu = await acquireGpu().then((g) => g, () => undefined);
const hasDot4 = !!gpu?.caps.dot4I8Packed;

interface QCase {
  op: 'QConv' | 'QGemm' | 'QMatMul';
  x: number[];
  w: number[];
  attrs?: Record<string, AttrValue>;
  bias?: boolean;
  residual?: boolean;
  /** uint8 activations with this zero point. */
  zp?: number;
  xScale?: number;
  dtype?: 'float32' | 'float16';
  /** Values of X: 'random' in [-1, 1], or 'ties' (every x an exact .5 multiple of x_scale). */
  xs?: 'random' | 'ties';
  perTensor?: boolean;
  /** Relative tolerance on top of the accumulator bound. */
  rtol?: number;
}

let seed = 7;

function outChannels(c: QCase): number {
  if (c.op === 'QConv') return c.w[0]!;
  return c.op === 'QGemm' && c.attrs?.['transB'] === 1 ? c.w[0]! : c.w[1]!;
}

async function check(c: QCase): Promise<void> {
  const rand = seededRandom(seed++);
  const dtype = c.dtype ?? 'float32';
  const xScale = Math.fround(c.xScale ?? 0.0123);
  const x = randomTensor(dtype, c.x, rand, -1, 1);
  if (c.xs === 'ties') {
    const d = x.numbers;
    for (let i = 0; i < d.length; i++) d[i] = Math.fround((Math.floor(rand() * 80) - 40 + 0.5) * xScale);
  }
  const wCount = c.w.reduce((a, b) => a * b, 1);
  const w = new HostTensor('int8', c.w, Int8Array.from({ length: wCount }, () => Math.floor(rand() * 255) - 127));
  const M = outChannels(c);
  const wsLen = c.perTensor ? 1 : M;
  const ws = new HostTensor('float32', [wsLen], Float32Array.from({ length: wsLen }, () => 0.001 + 0.01 * rand()));
  const bias = c.bias ? randomTensor('float32', [M], rand) : undefined;
  const attrs: Record<string, AttrValue> = { x_scale: xScale, ...(c.attrs ?? {}) };
  if (c.zp !== undefined) { attrs['x_signed'] = 0; attrs['x_zero_point'] = c.zp; }
  // The output shape from a first CPU run without residual, to make Z.
  const inputs: (HostTensor | undefined)[] = [x, w, ws, bias];
  let model = singleOpModel({ opType: c.op, domain: 'twinfer', attrs, inputs, constInputs: [1, 2, 3] });
  const opts = { optimizationLevel: 0 as const };
  const feeds: Record<string, ReturnType<typeof fromHostTensor>> = { in0: fromHostTensor(x) };
  if (c.residual) {
    const probe = await InferenceSession.create(model, { ...opts, backends: ['cpu'] });
    const y = toHostTensor((await probe.run(feeds))['out0']!);
    const z = randomTensor(dtype, y.dims.slice(), rand);
    inputs[4] = z;
    feeds['in4'] = fromHostTensor(z);
    model = singleOpModel({ opType: c.op, domain: 'twinfer', attrs, inputs, constInputs: [1, 2, 3] });
  }
  const g = await InferenceSession.create(model, { ...opts, backends: ['webgpu'] });
  const cpu = await InferenceSession.create(model, { ...opts, backends: ['cpu'] });
  const want = toHostTensor((await cpu.run(feeds))['out0']!);
  const label = `${c.op} x[${c.x}] w[${c.w}] ${JSON.stringify(c.attrs ?? {})}`;
  for (let run = 0; run < 2; run++) { // the second run uses the cached packed weights
    const got = toHostTensor((await g.run(feeds))['out0']!);
    const minMult = Math.min(...Array.from(ws.numbers, (s) => Math.fround(xScale * s)));
    const f16 = dtype === 'float16';
    // atol below one accumulator step; float16 allows one ULP of the result on top (rtol 2^-10).
    const cmp = compareTensors(got, want, f16 ? 2 ** -10 + 1e-6 : c.rtol ?? 1e-6, minMult / 4);
    expect(cmp.reason, `${label} (run ${run})`).toBeUndefined();
  }
}

const conv = (x: number[], w: number[], attrs: Record<string, AttrValue> = {}, more: Partial<QCase> = {}): QCase => ({ op: 'QConv', x, w, attrs, ...more });

describe.skipIf(!hasDot4)('webgpu int8 kernels match the CPU reference', () => {
  it('QConv: 3x3 pads, strides, dilations, odd channels, batch > 1, sizes off the tiles', async () => {
    await check(conv([2, 5, 11, 9], [7, 5, 3, 3], { pads: [1, 1, 1, 1] }, { bias: true }));
    await check(conv([1, 3, 13, 12], [17, 3, 3, 3], { pads: [0, 1, 2, 1], strides: [2, 2] }));
    await check(conv([2, 8, 10, 10], [33, 8, 3, 3], { pads: [2, 2, 2, 2], dilations: [2, 2] }, { bias: true }));
    await check(conv([1, 6, 9, 7], [5, 6, 2, 3], { strides: [1, 2], pads: [1, 0, 0, 1] }, { bias: true }));
    await check(conv([3, 16, 6, 6], [70, 16, 1, 1], {}, { bias: true })); // 1x1
    await check(conv([1, 9, 7, 7], [4, 9, 5, 5], { pads: [2, 2, 2, 2] }, { perTensor: true, bias: true }));
  });

  it('QConv: groups, depthwise (with multiplier), 1-D and 3-D', async () => {
    await check(conv([2, 12, 8, 8], [9, 4, 3, 3], { group: 3, pads: [1, 1, 1, 1] }, { bias: true }));
    await check(conv([1, 10, 9, 9], [10, 1, 3, 3], { group: 10, pads: [1, 1, 1, 1], strides: [2, 2] }, { bias: true }));
    await check(conv([2, 6, 7, 8], [12, 1, 3, 3], { group: 6, pads: [0, 1, 1, 0], dilations: [2, 1] }));
    await check(conv([2, 5, 17], [6, 5, 3], { pads: [1, 1] }));
    await check(conv([1, 4, 5, 6, 5], [3, 4, 3, 2, 3], { pads: [1, 0, 1, 1, 0, 1] }));
  });

  it('QConv: uint8 with a zero point (padding adds 0), ties, epilogue', async () => {
    await check(conv([2, 5, 8, 8], [6, 5, 3, 3], { pads: [1, 1, 1, 1] }, { zp: 131, bias: true }));
    await check(conv([1, 8, 6, 6], [8, 1, 3, 3], { group: 8, pads: [1, 1, 1, 1] }, { zp: 100 }));
    await check(conv([1, 4, 6, 6], [5, 4, 3, 3], { pads: [1, 1, 1, 1] }, { xs: 'ties', xScale: 0.0123 }));
    await check(conv([1, 4, 6, 6], [4, 1, 3, 3], { group: 4, pads: [1, 1, 1, 1] }, { xs: 'ties', xScale: 0.0917 }));
    await check(conv([2, 6, 7, 7], [8, 6, 3, 3], { pads: [1, 1, 1, 1], activation: 'Relu' }, { bias: true, residual: true }));
    await check(conv([1, 6, 7, 7], [6, 6, 3, 3], { pads: [1, 1, 1, 1], activation: 'LeakyRelu', activation_params: [0.1], post_activation: 'Relu' }, { bias: true, residual: true }));
  });

  it('QGemm / QMatMul: K not a multiple of 4, transB, batch folded, uint8, residual', async () => {
    await check({ op: 'QGemm', x: [5, 37], w: [37, 23], bias: true });
    await check({ op: 'QGemm', x: [70, 19], w: [130, 19], attrs: { transB: 1 }, bias: true, zp: 7 });
    await check({ op: 'QMatMul', x: [2, 3, 33], w: [33, 9] });
    await check({ op: 'QMatMul', x: [4, 64], w: [64, 40], residual: true, attrs: { activation: 'Relu' }, xs: 'ties', xScale: 0.05 });
    await check({ op: 'QGemm', x: [9, 1000], w: [1000, 10], bias: true, attrs: { activation: 'Sigmoid' }, rtol: 1e-5 });
  });

  it('forced 8x8 register blocks (the large-problem tile) on small shapes', async () => {
    forceQTile({ wx: 16, wy: 16, tkw: 8, rm: 8, rn: 8 });
    try {
      // (one case: lavapipe compiles the 64-accumulator shader slowly; the conv store shares the code)
      await check({ op: 'QGemm', x: [150, 45], w: [45, 131], bias: true });
    } finally { forceQTile(undefined); }
  });

  it('float16 activations: outputs rounded to float16', async () => {
    await check(conv([1, 6, 8, 8], [10, 6, 3, 3], { pads: [1, 1, 1, 1], activation: 'Relu' }, { bias: true, residual: true, dtype: 'float16' }));
    await check(conv([1, 6, 8, 8], [6, 1, 3, 3], { group: 6, pads: [1, 1, 1, 1] }, { dtype: 'float16' }));
    await check({ op: 'QMatMul', x: [6, 50], w: [50, 12], dtype: 'float16' });
  });
});
