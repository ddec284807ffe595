/**
 * WebGPU reduction kernels (Reduce*, ArgMax/ArgMin) against the CPU backend on awkward shapes: both
 * kernel modes (thread per output, workgroup per output), one and several reduced runs, inner and
 * outer axes, integer types, empty reductions, ties. Tolerance rtol 1e-3 / atol 1e-4: both sides
 * are f32 but the GPU sums in a different order (tree vs sequential, float64 on the CPU).
 */
import { describe, expect, it } from 'vitest';
import type { AttrValue } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import type { DType } from '../../src/ir/dtype.js';
import { InferenceSession } from '../../src/node.js';
import { fromHostTensor, toHostTensor } from '../../src/api/tensor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { randomTensor, seededRandom, singleOpModel } from '../helpers/ort-single-op.js';

const rand = seededRandom(7);

/** Runs one node on WebGPU only and on the CPU; every output must match. */
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

const axes = (...a: number[]) => HostTensor.fromNumbers('int64', [a.length], a);
const f32 = (dims: number[], lo = -2, hi = 2) => randomTensor('float32', dims, rand, lo, hi);
const ints = (dtype: DType, dims: number[], lo: number, hi: number) => randomTensor(dtype, dims, rand, lo, hi);

describe('webgpu Reduce*', () => {
  it('workgroup mode over a long inner axis, all ops', async () => {
    const x = f32([3, 1000], 0.5, 1.5);
    for (const op of ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSum', 'ReduceLogSumExp']) {
      await same(op, [x, axes(1)], { keepdims: 1 }, [1]);
    }
    await same('ReduceProd', [f32([2, 300], 0.99, 1.01), axes(-1)], { keepdims: 0 }, [1]);
  });

  it('thread mode, several reduced runs, outer axes', async () => {
    await same('ReduceMax', [f32([2, 3, 4, 5]), axes(1, 3)], { keepdims: 0 }, [1]);
    await same('ReduceLogSumExp', [f32([6, 5, 3], -30, 30), axes(0)], { keepdims: 1 }, [1]);
    await same('ReduceMean', [f32([7, 9, 5]), axes(0, 2)], { keepdims: 1 }, [1]);
    await same('ReduceSum', [f32([130, 70]), axes(0)], { keepdims: 0 }, [1]); // 70 outputs: workgroups read strided
    await same('ReduceMin', [f32([130, 3, 7]), axes(0, 2)], { keepdims: 0 }, [1]); // workgroups, two runs
    await same('ReduceLogSumExp', [f32([3, 400, 2], -50, 50), axes(1)], { keepdims: 0 }, [1]);
  });

  it('default and empty axes (noop), integers', async () => {
    await same('ReduceSum', [f32([4, 5, 6])], { keepdims: 0 });
    await same('ReduceSumSquare', [f32([4, 5]), axes()], { noop_with_empty_axes: 1 }, [1]);
    await same('ReduceSum', [ints('int32', [5, 200], -50, 50), axes(1)], {}, [1]);
    await same('ReduceMean', [ints('int32', [5, 7], -50, 50), axes(1)], {}, [1]);
    await same('ReduceMax', [ints('int32', [300, 3], -1000, 1000), axes(0)], { keepdims: 0 }, [1]);
    await same('ReduceMin', [ints('uint8', [4, 9], 0, 255), axes(1)], {}, [1]);
    await same('ReduceL1', [ints('int64', [3, 4, 5], -9, 9), axes(0, 2)], {}, [1]);
  });

  it('empty reductions give the identity, finished', async () => {
    const x = f32([2, 0, 3]);
    for (const op of ['ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceL2']) {
      await same(op, [x, axes(1)], { keepdims: 1 }, [1]);
    }
  });
});

describe('webgpu ArgMax/ArgMin', () => {
  it('ties, both index rules, both modes', async () => {
    const tied = ints('int32', [3, 500], 0, 5); // many equal maxima
    const tiedF = new HostTensor('float32', tied.dims, Float32Array.from(tied.data as Int32Array));
    for (const last of [0, 1]) {
      await same('ArgMax', [tiedF], { axis: 1, select_last_index: last });
      await same('ArgMin', [tied], { axis: -1, keepdims: 0, select_last_index: last });
      await same('ArgMin', [ints('int32', [300, 4, 3], 0, 4)], { axis: 0, select_last_index: last });
      await same('ArgMax', [f32([5, 7, 3])], { axis: 1, keepdims: 0, select_last_index: last });
    }
  });
});
