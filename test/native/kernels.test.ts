/**
 * The CUDA kernels of the native addon against the CPU backend, on a machine with an NVIDIA GPU
 * (the GPU machine: `npm run build:native`, then this file). Every case runs on backends ['cuda']
 * alone, so a node the backend refused would fail rather than fall back. Where CUDA is not
 * available, the first test checks that acquiring it fails with the reason the probe gave, and
 * the kernel comparisons are skipped (they run on the emulated addon in lowering.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { InferenceSession, Tensor } from '../../src/node.js';
import { acquireCuda, cudaStatus } from '../../backends/native/device.js';
import type { NativeExecutor } from '../../backends/native/executor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { toHostTensor } from '../../src/api/tensor.js';
import { randomTensor, seededRandom } from '../helpers/ort-single-op.js';
import { ALL_CASES, chainModel, checkOnCuda, label } from './cases.js';

const status = cudaStatus();

it(`CUDA is ${status.available ? 'available' : 'unavailable, and acquiring it says why'}`, async () => {
  if (status.available) {
    const cuda = await acquireCuda();
    expect(cuda.caps.device).toMatch(/\(sm_\d+, \d+ SMs, [\d.]+ GiB\)$/);
    expect(cuda.fn.get('Relu')).toBeGreaterThan(0);
  } else {
    expect(status.reason).toBeTruthy();
    await expect(acquireCuda()).rejects.toThrow(`UNSUPPORTED: CUDA: ${status.reason}`);
  }
});

describe.skipIf(!status.available)('CUDA kernels match the CPU backend', () => {
  ALL_CASES.forEach((c, i) => {
    it(label(c), async () => { await checkOnCuda(c, 100 + i); });
  });

  it('large GEMM and conv shapes (many tiles, batch in N)', async () => {
    await checkOnCuda({ op: 'MatMul', inputs: [[300, 513], [513, 257]] }, 1);
    await checkOnCuda({ op: 'Conv', attrs: { pads: [1, 1, 1, 1] }, inputs: [[4, 32, 28, 28], [64, 32, 3, 3], [64]], constInputs: [1, 2] }, 2);
    await checkOnCuda({ op: 'Add', inputs: [[8, 64, 56, 56], [64, 1, 1]] }, 3);
  });

  it('a chain of cuda and cpu nodes, run repeatedly', async () => {
    const model = chainModel();
    const sess = await InferenceSession.create(model, { backends: ['cuda', 'cpu'], minSubgraphSize: 1, optimizationLevel: 0 });
    const cpu = await InferenceSession.create(model, { backends: ['cpu'], optimizationLevel: 0 });
    expect(sess.graph.nodes.map((n) => sess.plan.partition.assignment.get(n))).toEqual(['cuda', 'cuda', 'cpu', 'cuda', 'cuda']);
    const rand = seededRandom(5);
    for (const n of [2, 3, 2]) {
      const feeds = { x: new Tensor('float32', randomTensor('float32', [n, 3, 8, 8], rand).data as Float32Array, [n, 3, 8, 8]), x2: new Tensor('float32', randomTensor('float32', [6], rand).data as Float32Array, [6]) };
      const got = await sess.run(feeds);
      const want = await cpu.run(feeds);
      for (const k of ['y', 'r']) expect(compareTensors(toHostTensor(got[k]!), toHostTensor(want[k]!), 1e-3, 1e-4).reason, k).toBeUndefined();
      expect((sess.plan.executor as NativeExecutor).lastLaunches).toBe(4);
    }
  });
});
