/**
 * WebGPU misc kernels (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, Einsum) against the
 * CPU backend: per-tensor and per-axis layouts on odd shapes, ties at .5 (round half to even),
 * saturation, Einsum transposes, diagonals, broadcast ellipses and several operands.
 * Tolerance rtol 1e-3 / atol 1e-4: both sides are f32 but Einsum sums in another order on the GPU.
 */
import { describe, expect, it } from 'vitest';
import type { AttrValue } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import type { DType } from '../../src/ir/dtype.js';
import { InferenceSession } from '../../src/node.js';
import { fromHostTensor, toHostTensor } from '../../src/api/tensor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { randomTensor, seededRandom, singleOpModel } from '../helpers/ort-single-op.js';

const rand = seededRandom(11);

async function same(opType: string, inputs: (HostTensor | undefined)[], attrs: Record<string, AttrValue> = {}, constInputs: number[] = [], outputs = 1): Promise<void> {
  const model = singleOpModel({ opType, attrs, inputs, constInputs, outputs });
  const feeds: Record<string, ReturnType<typeof fromHostTensor>> = {};
  inputs.forEach((t, i) => { if (t && !constInputs.includes(i)) feeds[`in${i}`] = fromHostTensor(t); });
  const gpu = await InferenceSession.create(model, { backends: ['webgpu'] });
  const cpu = await InferenceSession.create(model, { backends: ['cpu'] });
  const [a, b] = [await gpu.run(feeds), await cpu.run(feeds)];
  for (let k = 0; k < outputs; k++) {
    const c = compareTensors(toHostTensor(a[`out${k}`]!), toHostTensor(b[`out${k}`]!), 1e-3, 1e-4);
    expect(c.reason, `${opType} output ${k}`).toBeUndefined();
  }
}

const f32 = (dims: number[], lo = -2, hi = 2) => randomTensor('float32', dims, rand, lo, hi);
const t = (dtype: DType, dims: number[], values: number[]) => HostTensor.fromNumbers(dtype, dims, values);

describe('webgpu quantization', () => {
  it('QuantizeLinear per tensor and per axis, ties and saturation', async () => {
    // Multiples of scale/2 hit the .5 ties; the range runs past the type's bounds.
    const ties = t('float32', [3, 17], Array.from({ length: 51 }, (_, i) => (i - 25) * 0.25 * 4.5));
    await same('QuantizeLinear', [ties, t('float32', [], [0.5]), t('uint8', [], [3])]);
    await same('QuantizeLinear', [ties, t('float32', [], [0.5]), t('int8', [], [-2])]);
    await same('QuantizeLinear', [ties, t('float32', [], [0.02])], { output_dtype: 5 }); // int16, no zero point
    const x = f32([2, 5, 7], -300, 300);
    await same('QuantizeLinear', [x, t('float32', [5], [1, 2, 0.5, 3, 0.25]), t('int8', [5], [0, -3, 4, 1, -128])], { axis: 1 });
    await same('QuantizeLinear', [x, t('float32', [7], [1, 2, 0.5, 3, 0.25, 7, 1.5]), t('uint8', [7], [0, 3, 4, 1, 128, 255, 9])], { axis: -1 });
    const h = randomTensor('float16', [4, 9], rand, -20, 20);
    await same('QuantizeLinear', [h, t('float16', [], [0.3]), t('int8', [], [1])]); // quotient rounded to float16
  });

  it('DequantizeLinear per tensor and per axis', async () => {
    await same('DequantizeLinear', [randomTensor('uint8', [3, 4, 5], rand, 0, 255), t('float32', [4], [0.1, 0.5, 2, 0.03]), t('uint8', [4], [128, 0, 255, 7])], { axis: 1 });
    await same('DequantizeLinear', [randomTensor('int8', [7, 3], rand, -128, 127), t('float32', [], [0.07]), t('int8', [], [-5])]);
    await same('DequantizeLinear', [randomTensor('int32', [6], rand, -100000, 100000), t('float32', [], [0.001])]);
    await same('DequantizeLinear', [randomTensor('int16', [2, 3], rand, -30000, 30000), t('float32', [3], [0.5, 1, 2]), t('int16', [3], [-7, 0, 9])], { axis: 1 });
  });

  it('DynamicQuantizeLinear', async () => {
    await same('DynamicQuantizeLinear', [f32([5, 301], -3, 7)], {}, [], 3);
    await same('DynamicQuantizeLinear', [f32([3, 7001], -9, 4)], {}, [], 3); // several partial workgroups
    await same('DynamicQuantizeLinear', [f32([13], 0.5, 2)], {}, [], 3); // all positive: 0 joins the range
  });
});

describe('webgpu Einsum', () => {
  it('matmul-like, transposes, diagonals, sums, broadcasting, three operands, integers', async () => {
    await same('Einsum', [f32([3, 5, 7]), f32([3, 7, 9])], { equation: 'bij,bjk->bik' });
    await same('Einsum', [f32([4, 6])], { equation: 'ij->ji' });
    await same('Einsum', [f32([3, 5, 5])], { equation: 'bii->bi' });
    await same('Einsum', [f32([5, 5])], { equation: 'ii' }); // trace, implicit output
    await same('Einsum', [f32([3, 4, 5])], { equation: 'ijk->j' }); // two summed labels
    await same('Einsum', [f32([2, 1, 3, 4]), f32([5, 4, 2])], { equation: '...ij,...jk->...ik' });
    await same('Einsum', [f32([3, 4]), f32([4, 5]), f32([5, 2])], { equation: 'ij,jk,kl->il' });
    await same('Einsum', [f32([6, 7]), f32([6, 7])], { equation: 'ij,ij->' });
    await same('Einsum', [randomTensor('int32', [3, 4], rand, -9, 9), randomTensor('int32', [4, 2], rand, -9, 9)], { equation: 'ij,jk->ik' });
  });
});
