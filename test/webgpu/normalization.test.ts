/**
 * WebGPU kernels of the normalization family against the CPU backend, on awkward shapes: rows that
 * are not multiples of the workgroup, rows longer than one workgroup pass, non-last axes (strided
 * rows), batch > 1, odd channel counts, legacy (opset < 13) softmax, broadcast LayerNorm scales,
 * every Resize mode family and Pad mode with negative pads. Each case is one single-node model run
 * with backends ['webgpu'] (strict: creation fails if the node cannot run there) and ['cpu'].
 * Tolerance rtol 1e-3 / atol 1e-4: both sides are f32 at the output but the GPU sums in another
 * order (tree reductions, Welford) while the CPU accumulates in float64.
 */
import { describe, expect, it } from 'vitest';
import { randomTensor, seededRandom, singleOpModel, type SingleOpSpec } from '../helpers/ort-single-op.js';
import { InferenceSession, type Tensor } from '../../src/node.js';
import { fromHostTensor, toHostTensor } from '../../src/api/tensor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { HostTensor } from '../../src/ir/tensor.js';
import type { DType } from '../../src/ir/dtype.js';

const rand = seededRandom(7);
const f32 = (dims: number[], lo = -2, hi = 2): HostTensor => randomTensor('float32', dims, rand, lo, hi);
const ints = (dtype: DType, dims: number[], v: number[]): HostTensor => HostTensor.fromNumbers(dtype, dims, v);

/** Runs spec on WebGPU and on the CPU and compares every output. */
async function same(spec: SingleOpSpec, label = spec.opType): Promise<void> {
  const model = singleOpModel(spec);
  const feeds: Record<string, Tensor> = {};
  spec.inputs.forEach((t, i) => { if (t && !spec.constInputs?.includes(i)) feeds[`in${i}`] = fromHostTensor(t); });
  const gpu = await InferenceSession.create(model, { backends: ['webgpu'] });
  const cpu = await InferenceSession.create(model, { backends: ['cpu'] });
  const [a, b] = [await gpu.run(feeds), await cpu.run(feeds)];
  for (let k = 0; k < (spec.outputs ?? 1); k++) {
    const cmp = compareTensors(toHostTensor(a[`out${k}`]!), toHostTensor(b[`out${k}`]!), 1e-3, 1e-4);
    expect(cmp.reason, `${label} output ${k}`).toBeUndefined();
  }
}

describe('webgpu normalization: softmax family', () => {
  it('Softmax / LogSoftmax / Hardmax over every axis, long rows, legacy coerce_2d', async () => {
    // rows of 9+ elements take a workgroup each; rows of <= 8 and short strided rows over many
    // columns (here axis 1 of [2, 21, 32, 40]) one thread each
    const x = f32([3, 19, 23], -4, 4);
    for (const op of ['Softmax', 'LogSoftmax', 'Hardmax']) {
      for (const axis of [0, 1, -1]) await same({ opType: op, attrs: { axis }, inputs: [x] }, `${op} axis ${axis}`);
      await same({ opType: op, attrs: { axis: 1 }, inputs: [f32([2, 21, 32, 40], -4, 4)] }, `${op} strided columns`);
    }
    // d > 512 takes the 256-thread variant; 1031 is not a multiple of it
    await same({ opType: 'Softmax', attrs: { axis: 1 }, inputs: [f32([2, 1031], -20, 20)] }, 'Softmax long row');
    await same({ opType: 'LogSoftmax', inputs: [f32([3, 700], -50, 50)] }, 'LogSoftmax long row');
    // opset 11: flatten from axis 1, normalize over 5*7 elements
    await same({ opType: 'Softmax', attrs: { axis: 1 }, inputs: [x], opset: 11 }, 'Softmax coerce_2d');
    await same({ opType: 'Hardmax', attrs: { axis: 1 }, inputs: [x], opset: 11 }, 'Hardmax coerce_2d');
    // ties: the first maximum wins, also when it sits in another thread's stride
    const t = new Float32Array(2 * 130).fill(1);
    t[70] = 3; t[129] = 3; t[130 + 5] = 2; t[130 + 64 + 5] = 2;
    await same({ opType: 'Hardmax', inputs: [new HostTensor('float32', [2, 130], t)] }, 'Hardmax ties');
    await same({ opType: 'Hardmax', inputs: [new HostTensor('float32', [52, 5], t)] }, 'Hardmax ties, thread per row');
    // more workgroups (of 8 rows of 9) than one grid dimension holds (65535)
    await same({ opType: 'Softmax', inputs: [f32([530001, 9])] }, 'Softmax 530001 rows');
  });
});

describe('webgpu normalization: statistics', () => {
  it('LayerNormalization with broadcast scale, optional bias and the Mean / InvStdDev outputs', async () => {
    const x = f32([2, 3, 5]);
    await same({ opType: 'LayerNormalization', inputs: [x, f32([5]), f32([5])], outputs: 3 }, 'LN last axis');
    await same({ opType: 'LayerNormalization', attrs: { axis: 1, epsilon: 1e-3 }, inputs: [x, f32([5]), f32([1, 5])], outputs: 3 }, 'LN axis 1 broadcast');
    await same({ opType: 'LayerNormalization', attrs: { axis: 0 }, inputs: [x, f32([3, 5])] }, 'LN axis 0 no bias');
    await same({ opType: 'LayerNormalization', inputs: [f32([3, 777], 3, 5), f32([777]), f32([777])] }, 'LN long row');
  });

  it('InstanceNormalization, GroupNormalization (both scale layouts), BatchNormalization', async () => {
    const x = f32([2, 6, 3, 5]);
    await same({ opType: 'InstanceNormalization', attrs: { epsilon: 1e-2 }, inputs: [x, f32([6]), f32([6])] });
    await same({ opType: 'GroupNormalization', attrs: { num_groups: 3 }, inputs: [x, f32([6]), f32([6])], opset: 21 }, 'GN per channel');
    await same({ opType: 'GroupNormalization', attrs: { num_groups: 3 }, inputs: [x, f32([3]), f32([3])], opset: 18 }, 'GN per group');
    const bn = (dims: number[]) => {
      const c = dims[1] ?? 1;
      return [f32(dims), f32([c]), f32([c]), f32([c]), f32([c], 0.5, 2)];
    };
    await same({ opType: 'BatchNormalization', inputs: bn([2, 3, 4, 5]), constInputs: [1, 2, 3, 4] }, 'BN 4d');
    await same({ opType: 'BatchNormalization', attrs: { epsilon: 1e-2 }, inputs: bn([7, 3]) }, 'BN 2d');
  });

  it('LpNormalization (zero vectors stay zero), MeanVarianceNormalization, LRN', async () => {
    const x = f32([3, 4, 5]);
    x.numbers.fill(0, 0, 5); // a zero row along the last axis
    await same({ opType: 'LpNormalization', attrs: { p: 2, axis: -1 }, inputs: [x] }, 'Lp2 last');
    await same({ opType: 'LpNormalization', attrs: { p: 1, axis: 1 }, inputs: [x] }, 'Lp1 axis 1');
    const y = f32([2, 3, 4, 5]);
    await same({ opType: 'MeanVarianceNormalization', inputs: [y] }, 'MVN default axes');
    await same({ opType: 'MeanVarianceNormalization', attrs: { axes: [1, 3] }, inputs: [y] }, 'MVN axes 1,3');
    await same({ opType: 'LRN', attrs: { size: 3, alpha: 1e-3, beta: 0.75, bias: 2 }, inputs: [f32([2, 5, 3, 3])] }, 'LRN 3');
    await same({ opType: 'LRN', attrs: { size: 4 }, inputs: [f32([1, 7, 2, 3])] }, 'LRN 4');
  });
});

describe('webgpu normalization: few long rows (split into chunks: partial statistics, then the write)', () => {
  it('every statistic across chunk boundaries, with a last partial chunk', async () => {
    await same({ opType: 'Softmax', inputs: [f32([3, 10000], -8, 8)] }, 'Softmax split');
    await same({ opType: 'LogSoftmax', inputs: [f32([2, 8200], -8, 8)] }, 'LogSoftmax split');
    const t = new Float32Array(2 * 9000).fill(-1);
    t[5000] = 4; t[8999] = 4; t[9000 + 4100] = 3; t[9000 + 8191] = 3; // ties in different chunks
    await same({ opType: 'Hardmax', inputs: [new HostTensor('float32', [2, 9000], t)] }, 'Hardmax split ties');
    await same({ opType: 'LayerNormalization', inputs: [f32([2, 8200], 1, 3), f32([8200]), f32([8200])], outputs: 3 }, 'LN split + stats');
    await same({ opType: 'GroupNormalization', attrs: { num_groups: 2 }, inputs: [f32([1, 4, 64, 130]), f32([4]), f32([4])] }, 'GN split');
    await same({ opType: 'InstanceNormalization', inputs: [f32([1, 3, 100, 90]), f32([3]), f32([3])] }, 'IN split');
    await same({ opType: 'LpNormalization', attrs: { p: 1 }, inputs: [f32([2, 9000])] }, 'Lp split');
    await same({ opType: 'MeanVarianceNormalization', inputs: [f32([2, 3, 64, 64])] }, 'MVN split, general addressing');
  });
});

describe('webgpu normalization: Resize', () => {
  const x = f32([2, 3, 7, 9]);
  const sizes = (v: number[]) => ints('int64', [v.length], v);
  const scales = (v: number[]) => HostTensor.fromNumbers('float32', [v.length], v);
  const resize = (attrs: SingleOpSpec['attrs'], inputs: SingleOpSpec['inputs'], label: string) =>
    same({ opType: 'Resize', attrs, inputs, constInputs: [1, 2, 3] }, label);

  it('nearest (every nearest_mode), linear, cubic; scales and sizes', async () => {
    for (const nm of ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']) {
      await resize({ mode: 'nearest', nearest_mode: nm }, [x, undefined, undefined, sizes([2, 3, 11, 5])], `nearest ${nm}`);
    }
    await resize({ mode: 'nearest', coordinate_transformation_mode: 'asymmetric' }, [x, undefined, scales([1, 1, 3, 0.5])], 'nearest scales');
    await resize({ mode: 'linear' }, [x, undefined, undefined, sizes([2, 3, 4, 5])], 'linear down');
    await resize({ mode: 'linear', coordinate_transformation_mode: 'align_corners' }, [x, undefined, scales([1, 1, 2.5, 1.5])], 'linear align');
    await resize({ mode: 'cubic', coordinate_transformation_mode: 'pytorch_half_pixel' }, [x, undefined, undefined, sizes([2, 3, 13, 4])], 'cubic');
    await resize({ mode: 'cubic', exclude_outside: 1, cubic_coeff_a: -0.5 }, [x, undefined, scales([1, 1, 0.6, 1.7])], 'cubic exclude');
    await resize({ mode: 'linear', antialias: 1 }, [x, undefined, undefined, sizes([2, 3, 3, 4])], 'linear antialias');
    // every axis resized (3-D), and axes given out of order
    await resize({ mode: 'linear', coordinate_transformation_mode: 'half_pixel_symmetric' }, [f32([3, 4, 5]), undefined, undefined, sizes([5, 3, 7])], 'linear 3d');
    await resize({ mode: 'cubic', axes: [3, 2] }, [x, undefined, undefined, sizes([6, 8])], 'cubic axes');
    await resize({ mode: 'nearest', nearest_mode: 'ceil' }, [f32([3, 4, 5]), undefined, undefined, sizes([5, 4, 3])], 'nearest 3d (leading axis)');
  });

  it('tf_crop_and_resize with extrapolation, and integer data', async () => {
    const roi = HostTensor.fromNumbers('float32', [8], [0, 0, 0.4, -0.2, 1, 1, 1.3, 0.9]);
    await resize({ mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', extrapolation_value: 7.5 },
      [x, roi, undefined, sizes([2, 3, 5, 6])], 'tf_crop linear');
    await resize({ mode: 'nearest', coordinate_transformation_mode: 'tf_crop_and_resize' },
      [x, roi, undefined, sizes([2, 3, 5, 6])], 'tf_crop nearest');
    const xi = randomTensor('int32', [1, 2, 3, 4], rand, -100, 100);
    await resize({ mode: 'nearest' }, [xi, undefined, scales([1, 1, 2, 1.5])], 'nearest int32');
    const xu = randomTensor('uint8', [1, 1, 4, 5], rand, 0, 255);
    await resize({ mode: 'cubic' }, [xu, undefined, undefined, sizes([1, 1, 7, 3])], 'cubic uint8 (saturating)');
  });
});

describe('webgpu normalization: data movement', () => {
  it('Pad in every mode with negative pads, axes and integer constants', async () => {
    const x = f32([2, 3, 4]);
    const pads = (v: number[]) => ints('int64', [v.length], v);
    for (const mode of ['constant', 'reflect', 'edge', 'wrap']) {
      await same({ opType: 'Pad', attrs: { mode }, inputs: [x, pads([1, -1, 2, 0, 2, 5]), HostTensor.scalar('float32', 1.5)], constInputs: [1, 2] }, `Pad ${mode}`);
      await same({ opType: 'Pad', attrs: { mode }, inputs: [x, pads([3, 1]), undefined, ints('int64', [1], [-2])], constInputs: [1, 2, 3] }, `Pad ${mode} axes`);
    }
    const xi = randomTensor('int32', [3, 5], rand, -9, 9);
    await same({ opType: 'Pad', inputs: [xi, pads([0, 2, 1, 1]), ints('int32', [], [-4])], constInputs: [1, 2] }, 'Pad int32');
  });

  it('DepthToSpace (DCR, CRD) and SpaceToDepth', async () => {
    const x = f32([2, 8, 3, 5]);
    await same({ opType: 'DepthToSpace', attrs: { blocksize: 2 }, inputs: [x] }, 'D2S DCR');
    await same({ opType: 'DepthToSpace', attrs: { blocksize: 2, mode: 'CRD' }, inputs: [x] }, 'D2S CRD');
    await same({ opType: 'SpaceToDepth', attrs: { blocksize: 3 }, inputs: [f32([2, 3, 6, 9])] }, 'S2D');
  });
});
