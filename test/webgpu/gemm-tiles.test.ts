/**
 * The GEMM's larger register blocks (8x4, 4x8, 8x8 per thread; convgemm-tile.ts) against the CPU
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
import { setWinogradPolicy } from '../../backends/webgpu/ops/convgemm-winograd.js';
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
  afterAll(() => { forceTile(undefined); setWinogradPolicy('auto'); });
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
