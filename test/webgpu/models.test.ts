/**
 * Real models on WebGPU (Dawn; lavapipe in CI) against twinfer's CPU backend: the three PP-OCR
 * models and the standard architectures (ResNet-50 v1.5, MobileNetV2, a 2-layer BERT at a dynamic
 * sequence length). Every node must run on WebGPU (strict backend list). Tolerance rtol 1e-3 /
 * atol 1e-4: float32 on both sides, the GPU sums in a different order (and Winograd/split-K regroup).
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { InferenceSession } from '../../src/node.js';
import { fromHostTensor, toHostTensor } from '../../src/api/tensor.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { ppocrInput, ppocrModels } from '../../src/testing/ppocr.js';
import { buildBert, buildMobileNetV2, buildResNet50 } from '../../bench/models/index.js';
import { seededRandom } from '../../src/cli/run.js';

async function agree(model: Uint8Array | string, feeds: Record<string, HostTensor>): Promise<void> {
  const gpu = await InferenceSession.create(model, { backends: ['webgpu'] });
  const cpu = await InferenceSession.create(model, { backends: ['cpu'] });
  const f = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, fromHostTensor(v)]));
  const [a, b] = [await gpu.run(f), await cpu.run(f)];
  for (const name of gpu.outputNames) {
    const c = compareTensors(toHostTensor(a[name]!), toHostTensor(b[name]!), 1e-3, 1e-4);
    expect(c.reason, name).toBeUndefined();
  }
}

describe('real models on WebGPU match the CPU backend', () => {
  for (const m of ppocrModels(320)) {
    it(`PP-OCR ${m.name} ${m.dims.join('x')}`, async () => {
      await agree(new Uint8Array(fs.readFileSync(m.file)), { x: ppocrInput(m.dims, 3) });
    });
  }
  it('ResNet-50 v1.5 (1x3x224x224)', async () => {
    await agree(buildResNet50(), { input: ppocrInput([1, 3, 224, 224], 4) });
  });
  it('MobileNetV2 (2x3x224x224)', async () => {
    await agree(buildMobileNetV2(), { input: ppocrInput([2, 3, 224, 224], 5) });
  });
  it('BERT, 2 layers, sequence length 11', async () => {
    const rand = seededRandom(9);
    const ids = HostTensor.fromNumbers('int64', [2, 11], Array.from({ length: 22 }, () => Math.floor(rand() * 1000)));
    const mask = HostTensor.fromNumbers('int64', [2, 11], Array.from({ length: 22 }, (_, i) => (i % 11 < 9 ? 1 : 0)));
    await agree(buildBert({ layers: 2, vocab: 1000 }), { input_ids: ids, attention_mask: mask });
  });
});
