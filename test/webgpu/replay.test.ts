/**
 * Recorded WebGPU programs (backends/webgpu/replay.ts): the first run of an input signature (or
 * the session build, when every dim is known) records the dispatches; later runs replay them. Each
 * run is checked against the CPU backend (rtol 1e-3 / atol 1e-4: f32 on both sides, the GPU sums in
 * another order), across new inputs, dims changes (a new program) and data-dependent graphs (no
 * program: the per-node path).
 */
import { describe, expect, it } from 'vitest';
import { InferenceSession, Tensor } from '../../src/node.js';
import { acquireGpu } from '../../backends/webgpu/device.js';
import type { HybridExecutor } from '../../src/engine/hybrid-executor.js';
import { toHostTensor } from '../../src/api/tensor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { seededRandom } from '../../src/cli/run.js';
import { feedShapedReshape, tinyCnn } from './replay-models.js';

const gpuAvailable = await acquireGpu().then(() => true, () => false);

function input(dims: number[], seed: number): Tensor {
  const r = seededRandom(seed);
  return new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1), dims);
}

async function same(gpu: InferenceSession, cpu: InferenceSession, feeds: Record<string, Tensor>): Promise<void> {
  const [a, b] = [await gpu.run(feeds), await cpu.run(feeds)];
  for (const k of Object.keys(b)) expect(compareTensors(toHostTensor(a[k]!), toHostTensor(b[k]!), 1e-3, 1e-4).reason, k).toBeUndefined();
}

const ex = (s: InferenceSession) => s.plan.executor as HybridExecutor;

describe.skipIf(!gpuAvailable)('webgpu replay', () => {
  it('records at build (static dims) and replays with new data', async () => {
    const model = tinyCnn(2);
    const gpu = await InferenceSession.create(model, { backends: ['webgpu'] });
    const cpu = await InferenceSession.create(model, { backends: ['cpu'] });
    expect(ex(gpu).programCount).toBe(1); // made by the build's dry run
    for (let i = 0; i < 3; i++) {
      await same(gpu, cpu, { x: input([2, 4, 10, 10], 10 + i) });
      expect(ex(gpu).lastPath).toBe('replay');
    }
    expect(ex(gpu).lastDispatches).toBeGreaterThan(3);
  });

  it('symbolic dims: first run records, then replays; new dims make a new program', async () => {
    const model = tinyCnn('N');
    const gpu = await InferenceSession.create(model, { backends: ['webgpu'] });
    const cpu = await InferenceSession.create(model, { backends: ['cpu'] });
    expect(ex(gpu).programCount).toBe(0);
    await same(gpu, cpu, { x: input([1, 4, 10, 10], 1) });
    expect(ex(gpu).lastPath).toBe('record');
    await same(gpu, cpu, { x: input([1, 4, 10, 10], 2) });
    expect(ex(gpu).lastPath).toBe('replay');
    await same(gpu, cpu, { x: input([3, 4, 10, 10], 3) });
    expect(ex(gpu).lastPath).toBe('record');
    await same(gpu, cpu, { x: input([1, 4, 10, 10], 4) });
    expect(ex(gpu).lastPath).toBe('replay');
    await same(gpu, cpu, { x: input([3, 4, 10, 10], 5) });
    expect(ex(gpu).lastPath).toBe('replay');
    expect(ex(gpu).programCount).toBe(2);
    // A subset of outputs is another signature.
    const only = await gpu.run({ x: input([1, 4, 10, 10], 6) }, ['y']);
    expect(Object.keys(only)).toEqual(['y']);
  });

  it('a feed read on the host (data-dependent shape) keeps the per-node path', async () => {
    const model = feedShapedReshape();
    const gpu = await InferenceSession.create(model, { backends: ['webgpu'], minSubgraphSize: 1 });
    const cpu = await InferenceSession.create(model, { backends: ['cpu'] });
    for (const dims of [[3, 4], [4, 3], [3, 4]]) {
      await same(gpu, cpu, { x: input([2, 6], dims[0]!), s: new Tensor('int64', BigInt64Array.from(dims.map(BigInt)), [2]) });
      expect(ex(gpu).lastPath).toBe('plain');
    }
    expect(ex(gpu).programCount).toBe(0);
    expect(ex(gpu).unreplayable.join()).toMatch(/read on the host/);
  });

  it('views share buffers: Reshape / Flatten cost no dispatch', async () => {
    const model = tinyCnn(2);
    const gpu = await InferenceSession.create(model, { backends: ['webgpu'], optimizationLevel: 0 });
    const e = ex(gpu);
    e.replay = false;
    await gpu.run({ x: input([2, 4, 10, 10], 1) });
    const withViews = e.lastDispatches;
    // conv, relu, conv, add, gemm, softmax (+ split-K / transforms where chosen); the Reshape adds none.
    expect(withViews).toBeLessThanOrEqual(12);
    expect(e.lastPath).toBe('plain');
  });
});
