/**
 * Kernel variants the policies pick only on some shapes, forced here on awkward ones so every
 * variant is checked on every adapter: Winograd F(2x2) and F(4x4) (convgemm-winograd.ts), and the
 * GEMM's larger register blocks (8x4, 4x8, 8x8 per thread; convgemm-tile.ts) against the CPU
 * backend. The policy picks them only where they measured faster, so they are forced here on
 * awkward sizes (not tile multiples, K not a multiple of TK, batches, transposes, vec4 and scalar
 * loads) and on implicit-GEMM convolutions, so every variant is checked on every adapter.
 * Tolerance rtol 1e-3 / atol 1e-4: both sides are f32, summed in different orders.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { AttrValue } from '../../src/ir/graph.js';
import { InferenceSession } from '../../src/node.js';
import { acquireGpu } from '../../backends/webgpu/device.js';
import { forceTile, type TileCfg } from '../../backends/webgpu/ops/convgemm-tile.js';
import { setWinogradPolicy, setWinogradTile } from '../../backends/webgpu/ops/convgemm-winograd.js';
import { fromHostTensor, toHostTensor } from '../../src/api/tensor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { randomTensor, seededRandom, singleOpModel } from '../helpers/ort-single-op.js';

const gpuAvailable = await acquireGpu().then(() => true, () => false);

async function check(op: string, dims: number[][], attrs: Record<string, AttrValue> = {}, constInputs: number[] = [], domain = ''): Promise<void> {
  const rand = seededRandom(dims.flat().reduce((a, b) => a * 31 + b, 7));
  const inputs = dims.map((d) => randomTensor('float32', d, rand));
  const model = singleOpModel({ opType: op, domain, attrs, inputs, outputs: 1, constInputs });
  const feeds = Object.fromEntries(inputs.flatMap((t, i) => (constInputs.includes(i) ? [] : [[`in${i}`, fromHostTensor(t)]])));
  const gpu = await InferenceSession.create(model, { optimizationLevel: 0, backends: ['webgpu'] });
  const cpu = await InferenceSession.create(model, { optimizationLevel: 0, backends: ['cpu'] });
  const [a, r] = [await gpu.run(feeds), await cpu.run(feeds)];
  for (const k of Object.keys(r)) {
    const cmp = compareTensors(toHostTensor(a[k]!), toHostTensor(r[k]!), 1e-3, 1e-4);
    expect(cmp.reason, `${op} ${JSON.stringify(dims)}`).toBeUndefined();
  }
}

const CFGS: TileCfg[] = [
  { wx: 16, wy: 16, tk: 16, rm: 8, rn: 8 },
  { wx: 16, wy: 8, tk: 8, rm: 8, rn: 4 },
  { wx: 8, wy: 16, tk: 16, rm: 4, rn: 8 },
];

describe.skipIf(!gpuAvailable)('webgpu GEMM register blocks match the CPU backend', () => {
  afterAll(() => { forceTile(undefined); setWinogradPolicy('auto'); setWinogradTile(2); });
  for (const cfg of CFGS) {
    it(`${cfg.rm}x${cfg.rn} per thread, ${cfg.wx}x${cfg.wy} threads, TK ${cfg.tk}`, async () => {
      forceTile(cfg);
      setWinogradPolicy('off');
      await check('MatMul', [[3, 137, 29], [29, 203]]);
      await check('MatMul', [[2, 70, 64], [2, 64, 132]]);
      await check('Gemm', [[33, 57], [141, 57], [141]], { transB: 1 }, [1, 2]);
      await check('Gemm', [[57, 33], [57, 141]], { transA: 1 });
      await check('Conv', [[2, 13, 11, 9], [70, 13, 3, 3], [70]], { pads: [1, 0, 2, 1], strides: [1, 2] }, [1, 2]);
      await check('Conv', [[1, 64, 14, 14], [136, 64, 1, 1]], {}, [1]);
      forceTile(undefined);
    });
  }
});

describe.skipIf(!gpuAvailable)('webgpu Winograd F(2x2,3x3) and F(4x4,3x3) match the CPU backend', () => {
  afterAll(() => { setWinogradPolicy('auto'); setWinogradTile(2); });
  for (const m of [2, 4] as const) {
    it(`F(${m}x${m}, 3x3): pads, odd sizes, groups, batch, bias, fused epilogue, residual`, async () => {
      setWinogradPolicy('force');
      setWinogradTile(m);
      await check('Conv', [[2, 5, 13, 11], [7, 5, 3, 3], [7]], { pads: [1, 1, 1, 1] }, [1, 2]);
      await check('Conv', [[1, 8, 9, 10], [6, 4, 3, 3]], { pads: [0, 2, 1, 0], group: 2 }, [1]);
      await check('FusedConv', [[1, 16, 7, 7], [16, 16, 3, 3], [16], [1, 16, 7, 7]], { pads: [1, 1, 1, 1], activation: 'Relu', activation_params: [], post_activation: 'Clip', post_activation_params: [0, 0.6] }, [1, 2], 'twinfer');
      await check('Conv', [[1, 3, 4, 17], [4, 3, 3, 3]], {}, [1]);
    });
  }
});

describe.skipIf(!gpuAvailable)('webgpu depthwise 3x3 (four outputs per thread) matches the CPU backend', () => {
  it('strides 1 and 2, asymmetric pads, odd widths, channel multiplier, batch, fused epilogue and residual', async () => {
    await check('Conv', [[2, 6, 9, 11], [6, 1, 3, 3], [6]], { group: 6, pads: [1, 1, 1, 1] }, [1, 2]);
    await check('Conv', [[1, 5, 10, 13], [10, 1, 3, 3]], { group: 5, pads: [0, 1, 2, 0], strides: [2, 2] }, [1]);
    await check('Conv', [[1, 4, 7, 5], [4, 1, 3, 3]], { group: 4, strides: [2, 2] }, [1]);
    await check('FusedConv', [[1, 8, 7, 9], [8, 1, 3, 3], [8], [1, 8, 7, 9]], { group: 8, pads: [1, 1, 1, 1], activation: 'Clip', activation_params: [0, 6], post_activation: 'Relu', post_activation_params: [] }, [1, 2], 'twinfer');
  });
});
