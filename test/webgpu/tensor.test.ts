/**
 * WebGPU tensor (data movement) kernels against the CPU backend on awkward shapes: tiles that do
 * not divide the dims, batch > 1, size-1 and empty axes, negative indices and steps, more
 * Concat/Split parts than one dispatch binds, duplicate scatter indices, every element type form
 * (f32, i32 for int32/int64, u32 for bool). Tolerance rtol 1e-3 / atol 1e-4 (f32 on both sides;
 * only CumSum/scatter-add compute, in the CPU's order, so they in fact match exactly).
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

interface Opts { attrs?: Record<string, AttrValue>; consts?: number[]; outputs?: number; opset?: number }

/** Runs one node on WebGPU only (session creation fails if it cannot) and on the CPU; every output must match. */
async function same(opType: string, inputs: (HostTensor | undefined)[], o: Opts = {}): Promise<void> {
  const consts = o.consts ?? [];
  const outputs = o.outputs ?? 1;
  const model = singleOpModel({ opType, attrs: o.attrs ?? {}, inputs, constInputs: consts, outputs, ...(o.opset ? { opset: o.opset } : {}) });
  const feeds: Record<string, ReturnType<typeof fromHostTensor>> = {};
  inputs.forEach((t, i) => { if (t && !consts.includes(i)) feeds[`in${i}`] = fromHostTensor(t); });
  const gpu = await InferenceSession.create(model, { backends: ['webgpu'] });
  const cpu = await InferenceSession.create(model, { backends: ['cpu'] });
  const [a, b] = [await gpu.run(feeds), await cpu.run(feeds)];
  for (let k = 0; k < outputs; k++) {
    const c = compareTensors(toHostTensor(a[`out${k}`]!), toHostTensor(b[`out${k}`]!), 1e-3, 1e-4);
    expect(c.reason, `${opType} output ${k}`).toBeUndefined();
  }
}

const i64 = (...v: number[]) => HostTensor.fromNumbers('int64', [v.length], v);
const f32 = (dims: number[]) => randomTensor('float32', dims, rand, -2, 2);
const ints = (dtype: DType, dims: number[], lo = -100, hi = 100) => randomTensor(dtype, dims, rand, lo, hi);
const idx = (dims: number[], lo: number, hi: number) => randomTensor('int64', dims, rand, lo, hi);

describe('webgpu layout ops', () => {
  it('Reshape, Squeeze, Unsqueeze, Flatten copy every element type', async () => {
    await same('Reshape', [f32([2, 3, 5]), i64(5, -1)]);
    await same('Reshape', [ints('int64', [4, 6]), i64(0, 2, 3)], { consts: [1] });
    await same('Squeeze', [randomTensor('bool', [1, 3, 1, 5], rand), i64(0, -2)]);
    await same('Unsqueeze', [ints('int32', [3, 5]), i64(-1, 0)]);
    await same('Flatten', [f32([2, 3, 4, 5])], { attrs: { axis: -2 } });
  });

  it('Transpose: tiled 2-D and batched, NCHW<->NHWC, general, size-1 axes', async () => {
    await same('Transpose', [f32([37, 53])]);
    await same('Transpose', [f32([3, 17, 40])], { attrs: { perm: [0, 2, 1] } });
    await same('Transpose', [f32([2, 5, 7, 9])], { attrs: { perm: [0, 2, 3, 1] } });
    await same('Transpose', [ints('int64', [2, 7, 9, 5])], { attrs: { perm: [0, 3, 1, 2] } });
    await same('Transpose', [f32([3, 4, 5, 6])], { attrs: { perm: [2, 0, 3, 1] } });
    await same('Transpose', [randomTensor('bool', [1, 3, 1, 4], rand)], { attrs: { perm: [3, 2, 1, 0] } });
    await same('Transpose', [f32([4, 1, 6])], { attrs: { perm: [1, 0, 2] } }); // identity once size-1 dropped
  });

  it('Concat and Split beyond one dispatch of parts, empty parts, uneven num_outputs', async () => {
    const parts = Array.from({ length: 11 }, (_, i) => f32([2, i % 4, 3])); // includes [2, 0, 3]
    await same('Concat', parts, { attrs: { axis: 1 } });
    await same('Concat', [ints('int64', [2, 3]), ints('int64', [5, 3])], { attrs: { axis: -2 } }); // outer 1: copies
    await same('Split', [f32([3, 23, 2]), i64(1, 2, 3, 0, 4, 1, 2, 3, 3, 2, 2)], { attrs: { axis: 1 }, outputs: 11 });
    await same('Split', [ints('int32', [7, 3])], { attrs: { axis: 0, num_outputs: 3 }, outputs: 3 });
    await same('Split', [f32([2, 9, 3])], { attrs: { axis: -2, num_outputs: 4 }, outputs: 4 });
  });

  it('Slice: negative steps, several axes, contiguous channel block', async () => {
    const x = f32([3, 7, 5]);
    await same('Slice', [x, i64(-1, 6, 0), i64(-100, 0, 5), i64(0, 1, 2), i64(-1, -2, 2)]);
    await same('Slice', [x, i64(1), i64(1000), i64(-2)]);
    await same('Slice', [f32([1, 9, 4, 5]), i64(2), i64(7), i64(1)]); // one contiguous run
    await same('Slice', [ints('int64', [6, 4]), i64(5, 3), i64(0, 0), i64(0, 1), i64(-2, -1)]);
  });

  it('Expand and Tile', async () => {
    await same('Expand', [f32([3, 1, 5]), i64(2, 1, 4, 5)]);
    await same('Expand', [ints('int32', [1]), i64(3, 7)]);
    await same('Tile', [f32([2, 3, 5]), i64(2, 1, 3)]);
    await same('Tile', [randomTensor('bool', [3, 1], rand), i64(1, 4)]);
  });
});

describe('webgpu index ops', () => {
  it('Gather, GatherElements, GatherND with negative indices and batch_dims', async () => {
    await same('Gather', [f32([4, 7, 3]), idx([2, 5], -7, 7)], { attrs: { axis: 1 } });
    await same('Gather', [ints('int64', [5, 2]), randomTensor('int32', [3], rand, -5, 5)]);
    await same('Gather', [f32([6]), idx([], -6, 6)]);
    await same('GatherElements', [f32([4, 5]), idx([3, 5], -4, 4)], { attrs: { axis: 0 } });
    await same('GatherElements', [ints('int32', [2, 3, 6]), idx([2, 2, 4], -6, 6)], { attrs: { axis: -1 } });
    await same('GatherND', [f32([2, 3, 4]), idx([2, 5, 1], -3, 3)], { attrs: { batch_dims: 1 } });
    await same('GatherND', [f32([3, 4, 2]), idx([4, 3], 0, 2)]);
  });

  it('ScatterElements and ScatterND: none and every reduction with duplicates', async () => {
    const dupRows = (n: number, k: number, hi: number) => idx([n, k], -hi, hi); // small range: many duplicates
    for (const reduction of ['none', 'add', 'mul', 'max', 'min']) {
      const dup = reduction !== 'none';
      await same('ScatterElements', [f32([5, 6]), dup ? idx([7, 6], -5, 5) : HostTensor.fromNumbers('int64', [1, 6], [0, 1, 2, 3, 4, -1]), f32(dup ? [7, 6] : [1, 6])], { attrs: { axis: 0, reduction } });
      await same('ScatterND', [f32([4, 3, 5]), dup ? dupRows(9, 2, 2) : HostTensor.fromNumbers('int64', [2, 2], [0, 1, -1, 2]), f32(dup ? [9, 5] : [2, 5])], { attrs: { reduction } });
    }
    await same('ScatterElements', [ints('int32', [3, 8]), idx([3, 9], -8, 8), ints('int32', [3, 9])], { attrs: { axis: 1, reduction: 'add' } });
    await same('ScatterND', [ints('int64', [6]), idx([10, 1], -6, 6), ints('int64', [10])], { attrs: { reduction: 'max' } });
  });

  it('OneHot with float indices, negative and out-of-range ones', async () => {
    const ix = new HostTensor('float32', [2, 5], Float32Array.from([0, 1.7, -1, -4, 9, 3, 2, -5, 4, 0]));
    await same('OneHot', [ix, i64(5), HostTensor.fromNumbers('float32', [2], [-1, 3])], { attrs: { axis: 0 } });
    await same('OneHot', [idx([3, 2], -4, 4), HostTensor.fromNumbers('int64', [], [4]), i64(2, 7)]);
  });
});

describe('webgpu value and scan ops', () => {
  it('Shape, Size, ConstantOfShape, Range', async () => {
    await same('Shape', [f32([2, 3, 4, 5])], { attrs: { start: 1, end: -1 } });
    await same('Size', [ints('int32', [3, 7])]);
    await same('ConstantOfShape', [i64(3, 1, 4)], { attrs: { value: HostTensor.fromNumbers('int64', [1], [-7]) } });
    await same('Range', [HostTensor.scalar('float32', 1.5), HostTensor.scalar('float32', -3), HostTensor.scalar('float32', -0.3)]);
    await same('Range', [HostTensor.scalar('int64', 2), HostTensor.scalar('int64', 40), HostTensor.scalar('int64', 3)]);
  });

  it('Constant int64 beyond 32 bits is rejected on WebGPU', async () => {
    const model = singleOpModel({ opType: 'Constant', inputs: [], attrs: { value: HostTensor.fromNumbers('int64', [2], [1, 2 ** 40]) } });
    await expect(InferenceSession.create(model, { backends: ['webgpu'] })).rejects.toThrow(/32 bits/);
    const ok = singleOpModel({ opType: 'Constant', inputs: [], attrs: { value: HostTensor.fromNumbers('int64', [2], [1, -5]) } });
    const s = await InferenceSession.create(ok, { backends: ['webgpu'] });
    expect(Array.from(toHostTensor((await s.run({})).out0!).numbers)).toEqual([1, -5]);
  });

  it('Trilu upper and lower with k, batched non-square', async () => {
    const x = f32([2, 5, 7]);
    for (const k of [-2, 0, 3, 20]) {
      await same('Trilu', [x, HostTensor.scalar('int64', k)], { attrs: { upper: 1 } });
      await same('Trilu', [x, HostTensor.scalar('int64', k)], { attrs: { upper: 0 } });
    }
    await same('Trilu', [ints('int64', [6, 3])]);
  });

  it('CumSum exclusive/reverse over inner and outer axes, int32', async () => {
    const x = f32([3, 40, 5]);
    for (const [exclusive, reverse] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
      await same('CumSum', [x, HostTensor.scalar('int64', 1)], { attrs: { exclusive: exclusive!, reverse: reverse! } });
      await same('CumSum', [x, HostTensor.scalar('int32', -1)], { attrs: { exclusive: exclusive!, reverse: reverse! } });
    }
    await same('CumSum', [ints('int32', [70, 3]), HostTensor.scalar('int64', 0)]);
  });

  it('TopK: ties, NaN, long rows, outer axis, integers', async () => {
    const tied = randomTensor('int32', [4, 300], rand, 0, 6);
    const tf = new HostTensor('float32', tied.dims, Float32Array.from(tied.data as Int32Array));
    (tf.data as Float32Array)[17] = NaN;
    for (const largest of [1, 0]) {
      await same('TopK', [tf, i64(9)], { attrs: { largest }, outputs: 2 });
      await same('TopK', [f32([7, 3, 4]), i64(7)], { attrs: { axis: 0, largest, sorted: 1 }, outputs: 2 });
      await same('TopK', [tied, i64(5)], { attrs: { axis: -1, largest }, outputs: 2 });
    }
  });
});
