/**
 * float16 graphs on WebGPU (what the precision pass makes of an fp16 region: float16 values and
 * initializers inside, Cast at the borders) against the CPU backend's float16 emulation.
 *
 * On the GPU a float16 value is an f32 buffer; Cast to float16 and the int8 kernels round their
 * outputs to float16, the other kernels (Conv, Gemm, pools, elementwise) store f32 results that the
 * CPU rounds per node. The two sides then differ where an unrounded f32 and its float16 rounding
 * straddle a later rounding boundary: one float16 ULP of the result (measured: 2^-8 at 4.05, i.e.
 * 2^-10 relative, on `s`; 0.7 ULP on `y`); a sum that cancels (Add of r ~ 4 and x ~ -4) keeps the
 * ULP of its operands. Intermediates stay below 8 here, so: rtol 2e-3 (two ULPs) + atol 4e-3
 * (2^-8, one ULP at [4, 8)).
 */
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { InferenceSession } from '../../src/node.js';
import { exportModel } from '../../src/onnx/export.js';
import { acquireGpu } from '../../backends/webgpu/device.js';
import { fromHostTensor, toHostTensor } from '../../src/api/tensor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { randomTensor, seededRandom } from '../helpers/ort-single-op.js';

const gpuAvailable = await acquireGpu().then(() => true, () => false);

/** x f32 -> Cast f16 -> Conv 3x3 (+B) -> Relu -> Add(x16) -> GlobalAveragePool -> Flatten -> Gemm -> Cast f32. */
function fp16Cnn(rand: () => number, C: number, M: number): Uint8Array {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, C, 9, 9] });
  g.initializers.set('w', randomTensor('float16', [M, C, 3, 3], rand, -0.3, 0.3));
  g.initializers.set('b', randomTensor('float16', [M], rand));
  g.initializers.set('fw', randomTensor('float16', [5, M], rand));
  g.initializers.set('fb', randomTensor('float16', [5], rand));
  const n = (opType: string, inputs: string[], outputs: string[], attrs: Record<string, number | number[]> = {}) =>
    g.nodes.push({ name: outputs[0]!, opType, domain: '', inputs, outputs, attrs });
  n('Cast', ['x'], ['x16'], { to: 10 });
  n('Conv', ['x16', 'w', 'b'], ['c'], { pads: [1, 1, 1, 1] });
  n('Relu', ['c'], ['r']);
  n('Add', ['r', 'x16'], ['s']);
  n('GlobalAveragePool', ['s'], ['p']);
  n('Flatten', ['p'], ['f']);
  n('Gemm', ['f', 'fw', 'fb'], ['y16'], { transB: 1 });
  n('Cast', ['y16'], ['y'], { to: 1 });
  g.outputs = [{ name: 'y' }, { name: 's' }];
  return exportModel(g);
}

describe.skipIf(!gpuAvailable)('webgpu float16 graphs match the CPU emulation', () => {
  it('Cast, Conv, Relu, Add, GlobalAveragePool, Gemm in float16', async () => {
    const rand = seededRandom(3);
    const C = 6;
    const model = fp16Cnn(rand, C, C);
    const x = randomTensor('float32', [2, C, 9, 9], rand, -2, 2);
    const feeds = { x: fromHostTensor(x) };
    for (const opt of [0, 2] as const) {
      // Level 2 fuses Conv + Relu + Add into one FusedConv on float16 values.
      const gpu = await InferenceSession.create(model, { backends: ['webgpu'], optimizationLevel: opt });
      const cpu = await InferenceSession.create(model, { backends: ['cpu'], optimizationLevel: opt });
      const want = await cpu.run(feeds), got = await gpu.run(feeds);
      for (const k of ['y', 's']) {
        const a = toHostTensor(got[k]!), b = toHostTensor(want[k]!);
        expect(a.dtype, k).toBe(k === 'y' ? 'float32' : 'float16');
        const cmp = compareTensors(a, b, 2e-3, 4e-3);
        expect(cmp.reason, `level ${opt} ${k}`).toBeUndefined();
      }
    }
  });
});
