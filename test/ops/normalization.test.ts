/**
 * Normalization-family kernels against onnxruntime-node on single-op models with seeded random shapes
 * and attributes.
 * Tolerances: our kernels accumulate statistics in float64 while onnxruntime uses float32, so float32
 * results agree to a few float32 ulps of the largest intermediate: rtol 1e-5 with atol 1e-5 (outputs are
 * O(1) after normalization). Resize cubic/antialias gets atol 1e-4 (onnxruntime builds its coefficient
 * tables in float32). Data movement (Pad, DepthToSpace, SpaceToDepth, nearest Resize) must match exactly.
 */
import { describe, expect, it } from 'vitest';
import { SCHEMAS } from '../../src/ir/ops/index.js';
import { HostTensor } from '../../src/ir/tensor.js';
import type { DType } from '../../src/ir/dtype.js';
import { assertClose, compareSingleOp, randomTensor, seededRandom, type SingleOpSpec } from '../helpers/ort-single-op.js';

const EXACT = { rtol: 0, atol: 0 };
const F32 = { rtol: 1e-5, atol: 1e-5 };
const rand = seededRandom(1234567);
const ri = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const i64 = (v: number[]) => HostTensor.fromNumbers('int64', [v.length], v);
const f32 = (v: number[]) => HostTensor.fromNumbers('float32', [v.length], v);
const dimsOf = (rank: number, lo = 1, hi = 5) => Array.from({ length: rank }, () => ri(lo, hi));
const rt = (dims: number[], lo = -2, hi = 2, dtype: DType = 'float32') => randomTensor(dtype, dims, rand, lo, hi);

async function check(spec: SingleOpSpec, label: string, tol = F32): Promise<void> {
  const r = await compareSingleOp(spec);
  assertClose(r, tol, `${spec.opType} ${label}`);
}

describe('normalization ops vs onnxruntime', () => {
  it('BatchNormalization (inference; opset 15 and legacy 9)', async () => {
    for (let t = 0; t < 8; t++) {
      const dims = dimsOf(ri(2, 5), 1, 6);
      const c = dims[1]!;
      const inputs = [rt(dims), rt([c]), rt([c]), rt([c]), rt([c], 0.1, 2)];
      const epsilon = pick([1e-5, 1e-3, 0.1]);
      await check({ opType: 'BatchNormalization', opset: 15, attrs: { epsilon }, inputs, constInputs: [1, 2, 3, 4] }, `[${dims}]`);
    }
    const dims = [2, 3, 4, 5];
    await check({ opType: 'BatchNormalization', opset: 9, inputs: [rt(dims), rt([3]), rt([3]), rt([3]), rt([3], 0.1, 2)] }, 'opset 9');
    await check({ opType: 'BatchNormalization', opset: 7, attrs: { spatial: 1 }, inputs: [rt(dims), rt([3]), rt([3]), rt([3]), rt([3], 0.1, 2)] }, 'opset 7 spatial');
    const pd = [3, 4, 5];
    await check({ opType: 'BatchNormalization', opset: 7, attrs: { spatial: 0 }, inputs: [rt(dims), rt(pd), rt(pd), rt(pd), rt(pd, 0.1, 2)] }, 'opset 7 spatial=0');
  });

  it('InstanceNormalization, GroupNormalization', async () => {
    for (let t = 0; t < 6; t++) {
      // Spatial size >= 2: with one element the variance is 0 and onnxruntime's fused x*a + (b - m*a)
      // (a = scale/sqrt(eps), large) loses ~1e-5 where we return bias exactly.
      const dims = [ri(1, 3), ri(1, 4), ...dimsOf(ri(1, 3), 2, 6)];
      const c = dims[1]!;
      await check({ opType: 'InstanceNormalization', attrs: { epsilon: pick([1e-5, 0.01]) }, inputs: [rt(dims), rt([c]), rt([c])] }, `[${dims}]`);
    }
    for (let t = 0; t < 6; t++) {
      const g = ri(1, 3);
      const dims = [ri(1, 3), g * ri(1, 3), ...(rand() < 0.5 ? [ri(4, 8)] : dimsOf(2, 2, 4))];
      const c = dims[1]!;
      // onnxruntime runs GroupNormalization as its function body in float32 with the variance as
      // E[x^2] - E[x]^2, which cancels (we use the centred two-pass form in float64): 1e-3, and
      // groups of at least 4 elements.
      const tol = { rtol: 1e-3, atol: 1e-3 };
      await check({ opType: 'GroupNormalization', opset: 21, attrs: { num_groups: g, epsilon: 1e-5 }, inputs: [rt(dims), rt([c]), rt([c])] }, `21 [${dims}] g=${g}`, tol);
      await check({ opType: 'GroupNormalization', opset: 18, attrs: { num_groups: g, epsilon: 1e-5 }, inputs: [rt(dims), rt([g]), rt([g])] }, `18 [${dims}] g=${g}`, tol);
    }
  });

  it('LayerNormalization: axes, broadcast scale, optional bias and stats', async () => {
    for (let t = 0; t < 10; t++) {
      const rank = ri(1, 4);
      const dims = dimsOf(rank, 1, 7);
      const axis = ri(-rank, rank - 1);
      const a = axis < 0 ? axis + rank : axis;
      const norm = dims.slice(a);
      const sdims = t % 3 === 2 && norm.length > 1 ? [1, ...norm.slice(1)] : norm;
      // Bias omitted by leaving it off the list: onnxruntime 1.30 crashes on a trailing '' input here.
      const bias = t % 2 === 0 ? [rt(norm)] : [];
      await check({
        opType: 'LayerNormalization', opset: 17, attrs: { axis, epsilon: pick([1e-5, 0.1]) },
        inputs: [rt(dims), rt(sdims), ...bias], outputs: 3,
      }, `[${dims}] axis ${axis} scale [${sdims}]`);
    }
    await check({ opType: 'LayerNormalization', opset: 17, inputs: [rt([4, 3, 64]), rt([64]), rt([64])] }, 'Y only');
  });

  it('LpNormalization, MeanVarianceNormalization, LRN', async () => {
    for (let t = 0; t < 6; t++) {
      const rank = ri(1, 4);
      const dims = dimsOf(rank);
      await check({ opType: 'LpNormalization', attrs: { axis: ri(-rank, rank - 1), p: pick([1, 2]) }, inputs: [rt(dims)] }, `[${dims}]`);
    }
    for (const axes of [[0, 2, 3], [1], [2, 3], [0, 1, 2, 3], [-1]]) {
      // No size-1 reductions: there the variance is 0 and onnxruntime divides 0 by 0 (NaN) where the
      // op's function body adds epsilon to the standard deviation (0).
      // Reductions of >= 4 elements; 1e-3 for onnxruntime's float32 E[x^2] - E[x]^2 (see GroupNormalization).
      const dims = dimsOf(4, 4, 6);
      await check({ opType: 'MeanVarianceNormalization', attrs: { axes }, inputs: [rt(dims)] }, `[${dims}] axes ${axes}`, { rtol: 1e-3, atol: 1e-3 });
    }
    for (let t = 0; t < 5; t++) {
      const dims = dimsOf(4, 1, 7); // onnxruntime's LRN is 4-D only
      const attrs = { size: pick([1, 3, 5]), // onnxruntime accepts odd sizes only
        alpha: pick([1e-4, 0.01]), beta: pick([0.75, 0.5]), bias: pick([1, 2]) };
      await check({ opType: 'LRN', attrs, inputs: [rt(dims, -3, 3)] }, `[${dims}] ${JSON.stringify(attrs)}`);
    }
  });

  it('Softmax, LogSoftmax, Hardmax: opset 13 axes and opset 11 coerce-to-2D', async () => {
    for (const opType of ['Softmax', 'LogSoftmax', 'Hardmax']) {
      for (let t = 0; t < 5; t++) {
        const rank = ri(1, 4);
        const dims = dimsOf(rank, 1, 6);
        const x = opType === 'Hardmax' ? rt(dims, -20, 20, 'int32') : rt(dims, -5, 5);
        const xf = new HostTensor('float32', dims, Float32Array.from(x.numbers));
        await check({ opType, opset: 13, attrs: { axis: ri(-rank, rank - 1) }, inputs: [xf] }, `13 [${dims}]`);
        await check({ opType, opset: 11, attrs: { axis: ri(0, rank - 1) }, inputs: [xf] }, `11 [${dims}]`);
      }
      await check({ opType, opset: 11, inputs: [rt([3, 4, 5], -5, 5)] }, '11 default axis');
    }
    await check({ opType: 'Softmax', inputs: [rt([8, 1000], -10, 10)] }, 'last axis wide');
  });

  it('DepthToSpace, SpaceToDepth', async () => {
    for (let t = 0; t < 6; t++) {
      const b = ri(1, 3);
      const dims = [ri(1, 2), b * b * ri(1, 3), ri(1, 4), ri(1, 4)];
      const mode = pick(['DCR', 'CRD']);
      await check({ opType: 'DepthToSpace', attrs: { blocksize: b, mode }, inputs: [rt(dims)] }, `[${dims}] ${mode} b=${b}`, EXACT);
      const sdims = [ri(1, 2), ri(1, 3), b * ri(1, 3), b * ri(1, 3)];
      await check({ opType: 'SpaceToDepth', attrs: { blocksize: b }, inputs: [rt(sdims)] }, `[${sdims}] b=${b}`, EXACT);
    }
  });

  it('Pad: modes, negative pads, axes, dtypes, opset 2 attributes', async () => {
    for (let t = 0; t < 16; t++) {
      const rank = ri(1, 4);
      const dims = dimsOf(rank, 2, 5);
      const mode = pick(['constant', 'reflect', 'edge', 'wrap']);
      // onnxruntime limits reflect pads to dim-1 and wrap pads to dim, and mishandles wrap with negative
      // pads: beyond those limits we follow numpy.pad (repeated reflection / wrap), untested here.
      const pads = [...dims, ...dims].map((d) => (mode === 'reflect' ? ri(0, d - 1) : mode === 'wrap' || d < 3 ? ri(0, d) : ri(-1, 3)));
      const dtype = pick<DType>(['float32', 'int64', 'uint8']);
      const x = rt(dims, 0, 100, dtype);
      const value = mode === 'constant' ? HostTensor.scalar(dtype, 7) : undefined;
      await check({ opType: 'Pad', opset: 21, attrs: { mode }, inputs: [x, i64(pads), value], constInputs: [1] }, `${dtype} [${dims}] ${mode} ${pads}`, EXACT);
    }
    const x = rt([2, 3, 4, 5]);
    await check({ opType: 'Pad', opset: 21, attrs: { mode: 'reflect' }, inputs: [x, i64([1, 2, 2, 1]), undefined, i64([-1, 2])] }, 'axes', EXACT);
    await check({ opType: 'Pad', opset: 21, inputs: [x, i64([0, 0, 1, 1, 0, 0, 1, 1])] }, 'fed pads', EXACT);
    await check({ opType: 'Pad', opset: 2, attrs: { pads: [0, 1, 2, 0, 0, 2, 1, 3], value: 1.5 }, inputs: [x] }, 'opset 2', EXACT);
    await check({ opType: 'Pad', opset: 2, attrs: { pads: [0, 0, 1, 2, 0, 0, 2, 1], mode: 'edge' }, inputs: [x] }, 'opset 2 edge', EXACT);
  });

  it('Resize nearest: scales/sizes, coordinate and rounding modes, axes, aspect policies', async () => {
    const coords = ['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn'];
    const nearestModes = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];
    for (let t = 0; t < 14; t++) {
      const dims = [ri(1, 2), ri(1, 3), ri(1, 7), ri(1, 7)];
      const attrs: Record<string, string | number | number[]> = {
        mode: 'nearest', coordinate_transformation_mode: pick(coords), nearest_mode: pick(nearestModes),
      };
      const opset = attrs['coordinate_transformation_mode'] === 'tf_half_pixel_for_nn' ? 12 : 19;
      // Nearest rounds, so an exact integer or half coordinate must come out exact on both sides:
      // onnxruntime divides by the float32 scale out/in, which is inexact for most sizes (we compute
      // v*in/out in float64, exact there). Sizes are therefore whole multiples of the input dims.
      const useSizes = opset === 19 && rand() < 0.5;
      const sizes = [dims[0]!, dims[1]!, dims[2]! * ri(1, 3), dims[3]! * ri(1, 3)];
      // Scales whose products with the dims are integers: align_corners then agrees between the
      // reference (float scale*in as the output length) and onnxruntime (integer output length).
      const sc = (d: number) => (d % 2 === 0 ? pick([0.5, 1, 1.5, 2, 2.5, 3]) : pick([1, 2, 3, 4]));
      const scales = [1, 1, sc(dims[2]!), sc(dims[3]!)];
      const dtype = pick<DType>(['float32', 'uint8', 'int32']);
      const inputs = useSizes
        ? [rt(dims, 0, 200, dtype), undefined, undefined, i64(sizes)]
        : [rt(dims, 0, 200, dtype), opset === 12 ? f32([]) : undefined, f32(scales)];
      await check({ opType: 'Resize', opset, attrs, inputs, constInputs: [1, 2, 3] },
        `[${dims}] ${JSON.stringify(attrs)} ${useSizes ? `sizes ${sizes}` : `scales ${scales}`}`, EXACT);
    }
    const x = rt([1, 2, 5, 7]);
    for (const policy of ['not_larger', 'not_smaller']) {
      await check({ opType: 'Resize', opset: 19, attrs: { mode: 'nearest', axes: [2, 3], keep_aspect_ratio_policy: policy },
        inputs: [x, undefined, undefined, i64([9, 9])], constInputs: [3] }, policy, EXACT);
    }
    await check({ opType: 'Resize', opset: 19, attrs: { mode: 'nearest', axes: [3, -2] },
      inputs: [x, undefined, f32([2, 3])], constInputs: [2] }, 'axes scales', EXACT);
    await check({ opType: 'Resize', opset: 10, attrs: { mode: 'nearest' }, inputs: [x, f32([1, 1, 2, 3])] }, 'opset 10', EXACT);
    await check({ opType: 'Resize', opset: 19, attrs: { mode: 'nearest' }, inputs: [x, undefined, f32([1, 1, 2, 0.5])] }, 'fed scales', EXACT);
    await check({ opType: 'Resize', opset: 19, attrs: { mode: 'nearest' }, inputs: [x, undefined, undefined, i64([1, 2, 10, 14])] }, 'fed sizes', EXACT);
    await check({ opType: 'Resize', opset: 11, attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric' },
      inputs: [x, f32([]), f32([]), i64([1, 2, 10, 21])], constInputs: [1, 2] }, 'opset 11 sizes, empty scales', EXACT);
    await check({ opType: 'Upsample', opset: 9, attrs: { mode: 'nearest' }, inputs: [x, f32([1, 1, 2, 2])], constInputs: [1] }, 'Upsample-9', EXACT);
    await check({ opType: 'Upsample', opset: 7, attrs: { mode: 'nearest', scales: [1, 1, 3, 2] }, inputs: [x] }, 'Upsample-7', EXACT);
    await check({ opType: 'Upsample', opset: 9, attrs: { mode: 'linear' }, inputs: [x, f32([1, 1, 2, 2])], constInputs: [1] }, 'Upsample-9 linear');
  });

  it('Resize linear / cubic: coordinate modes, exclude_outside, antialias, tf_crop_and_resize', async () => {
    const coords = ['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'half_pixel_symmetric'];
    for (let t = 0; t < 16; t++) {
      const mode = pick(['linear', 'cubic']);
      const dims = [ri(1, 2), ri(1, 2), ri(2, 8), ri(2, 8)];
      const sizes = [dims[0]!, dims[1]!, ri(1, 12), ri(2, 12)];
      const attrs: Record<string, string | number | number[]> = {
        mode, coordinate_transformation_mode: pick(coords),
        exclude_outside: mode === 'cubic' ? ri(0, 1) : 0, cubic_coeff_a: pick([-0.75, -0.5]),
        antialias: rand() < 0.3 ? 1 : 0,
      };
      const tol = mode === 'cubic' || attrs['antialias'] ? { rtol: 1e-4, atol: 1e-4 } : F32;
      await check({ opType: 'Resize', opset: 19, attrs, inputs: [rt(dims), undefined, undefined, i64(sizes)], constInputs: [3] },
        `[${dims}] -> [${sizes}] ${JSON.stringify(attrs)}`, tol);
    }
    const x = rt([1, 3, 6, 8]);
    for (const scales of [[1, 1, 2, 2], [1, 1, 0.5, 0.5], [1, 1, 3, 1.5]]) {
      await check({ opType: 'Resize', opset: 19, attrs: { mode: 'linear' }, inputs: [x, undefined, f32(scales)], constInputs: [2] }, `linear scales ${scales}`);
    }
    await check({ opType: 'Resize', opset: 19, attrs: { mode: 'linear' }, inputs: [rt([2, 3, 4, 5, 6]), undefined, f32([1, 1, 2, 0.5, 2])], constInputs: [2] }, 'linear 3 axes rank 5');
    for (const ev of [0, 10]) {
      await check({ opType: 'Resize', opset: 19, attrs: { mode: pick(['linear', 'nearest']), coordinate_transformation_mode: 'tf_crop_and_resize', extrapolation_value: ev },
        inputs: [x, f32([0, 0, 0.4, -0.2, 1, 1, 1.3, 0.7]), undefined, i64([1, 3, 5, 4])], constInputs: [1, 3] }, `tf_crop ev=${ev}`);
    }
  });
});

describe('normalization schemas: symbolic shapes and validation', () => {
  const infer = (opType: string, inputs: ({ dtype: DType; shape: (number | string)[] | undefined } | undefined)[],
    attrs: Record<string, number | string | number[]> = {}, values: (HostTensor | undefined)[] = [], outputs = 1) => {
    let fresh = 0;
    const node = { name: 'n', opType, domain: '', inputs: inputs.map((t, i) => (t ? `i${i}` : '')), outputs: Array.from({ length: outputs }, (_, i) => `o${i}`), attrs };
    return SCHEMAS[opType]!.infer({ node, opset: 21, inputs, value: (i) => values[i], freshDim: (h) => `${h}_${fresh++}` });
  };
  const f = (shape: (number | string)[] | undefined) => ({ dtype: 'float32' as DType, shape });

  it('Resize keeps symbolic dims exact where it can', () => {
    expect(infer('Resize', [f(['N', 3, 'H', 'W']), undefined, f([4])], { mode: 'nearest' }, [undefined, undefined, f32([1, 1, 2, 2])])[0]!.shape)
      .toEqual(['N', 3, 'H*2', 'W*2']);
    expect(infer('Resize', [f(['N', 3, 'H', 'W']), undefined, undefined, { dtype: 'int64', shape: [2] }], { axes: [2, 3] }, [undefined, undefined, undefined, i64([64, 32])])[0]!.shape)
      .toEqual(['N', 3, 64, 32]);
    expect(infer('Resize', [f(['N', 3, 'H', 'W']), undefined, f([4])])[0]!.shape).toEqual(['resize_0', 'resize_1', 'resize_2', 'resize_3']);
    expect(infer('Resize', [f([1, 3, 5, 7]), undefined, f([4])], {}, [undefined, undefined, f32([1, 1, 0.5, 1.5])])[0]!.shape).toEqual([1, 3, 2, 10]);
    expect(infer('Resize', [f(undefined), undefined, f([4])])[0]!.shape).toBeUndefined();
    expect(() => infer('Resize', [f([1, 3, 5, 7]), undefined, f([4])], { mode: 'bicubic' })).toThrow(/mode/);
  });

  it('Pad, DepthToSpace, SpaceToDepth, LayerNormalization', () => {
    expect(infer('Pad', [f(['N', 3, 'H']), { dtype: 'int64', shape: [6] }], {}, [undefined, i64([0, 1, 2, 0, 1, -1])])[0]!.shape)
      .toEqual(['N', 5, 'H+1']);
    expect(infer('Pad', [f(['N', 3, 'H']), { dtype: 'int64', shape: [2] }, undefined, { dtype: 'int64', shape: [1] }], {}, [undefined, undefined, undefined, i64([1])])[0]!.shape)
      .toEqual(['N', 'pad_0', 'H']);
    expect(() => infer('Pad', [f([2, 3]), { dtype: 'int64', shape: [4] }], { mode: 'mirror' }, [undefined, i64([0, 0, 0, 0])])).toThrow(/mode/);
    expect(infer('DepthToSpace', [f(['N', 8, 'H', 4])], { blocksize: 2 })[0]!.shape).toEqual(['N', 2, 'H*2', 8]);
    expect(() => infer('DepthToSpace', [f([1, 6, 2, 2])], { blocksize: 2 })).toThrow(/divisible/);
    expect(infer('SpaceToDepth', [f([1, 2, 'H', 4])], { blocksize: 2 })[0]!.shape).toEqual([1, 8, 'H/2', 2]);
    const ln = infer('LayerNormalization', [f(['B', 'T', 64]), f([64])], { axis: -1 }, [], 3);
    expect(ln.map((t) => t.shape)).toEqual([['B', 'T', 64], ['B', 'T', 1], ['B', 'T', 1]]);
    expect(() => infer('LayerNormalization', [f([2, 3]), f([4])], { axis: -1 })).toThrow(/broadcast/);
    expect(() => infer('GroupNormalization', [f([2, 6, 3]), f([6]), f([6])], { num_groups: 4 })).toThrow(/divisible/);
    expect(() => infer('Softmax', [f([2, 3])], { axis: 2 })).toThrow(/axis/);
  });
});
