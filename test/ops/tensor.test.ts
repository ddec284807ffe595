/**
 * Tensor-family kernels against onnxruntime-node on single-op models with seeded random shapes
 * and attributes. Data movement ops must match exactly (tolerance 0): they only copy elements.
 * CumSum on float32 gets rtol 1e-5 (same accumulation order as onnxruntime, but float32 sums of
 * up to a few dozen terms may still differ by an ulp or two if either side fuses differently).
 */
import { describe, expect, it } from 'vitest';
import { HostTensor } from '../../src/ir/tensor.js';
import type { DType } from '../../src/ir/dtype.js';
import { assertClose, compareSingleOp, randomTensor, seededRandom, type SingleOpSpec } from '../helpers/ort-single-op.js';

const EXACT = { rtol: 0, atol: 0 };
const rand = seededRandom(20240601);
const ri = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const i64 = (v: number[], dims: number[] = [v.length]) => HostTensor.fromNumbers('int64', dims, v);
const dimsOf = (rank: number, lo = 1, hi = 5) => Array.from({ length: rank }, () => ri(lo, hi));
const shuffle = (n: number) => {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = ri(0, i); [p[i], p[j]] = [p[j]!, p[i]!]; }
  return p;
};
const data = (dtype: DType, dims: number[]) =>
  dtype === 'string'
    ? new HostTensor('string', dims, Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => `s${i}`))
    : randomTensor(dtype, dims, rand, dtype === 'float32' ? -2 : -50, dtype === 'float32' ? 2 : 50);

async function check(spec: SingleOpSpec, label: string, tol = EXACT): Promise<void> {
  const r = await compareSingleOp(spec);
  assertClose(r, tol, `${spec.opType} ${label}`);
}

describe('tensor layout ops vs onnxruntime', () => {
  it('Transpose: random perms, NCHW<->NHWC, last-two swap, dtypes', async () => {
    for (let t = 0; t < 14; t++) {
      const rank = ri(1, 5);
      const dims = dimsOf(rank);
      const perm = shuffle(rank);
      const dtype = pick<DType>(['float32', 'int64', 'uint8', 'string']);
      await check({ opType: 'Transpose', attrs: { perm }, inputs: [data(dtype, dims)] }, `${dtype} [${dims}] perm ${perm}`);
    }
    await check({ opType: 'Transpose', attrs: { perm: [0, 2, 3, 1] }, inputs: [data('float32', [2, 3, 17, 19])] }, 'NCHW->NHWC');
    await check({ opType: 'Transpose', attrs: { perm: [0, 3, 1, 2] }, inputs: [data('float32', [2, 17, 19, 5])] }, 'NHWC->NCHW');
    await check({ opType: 'Transpose', attrs: { perm: [0, 2, 1] }, inputs: [data('int32', [3, 70, 45])] }, 'last two');
    await check({ opType: 'Transpose', inputs: [data('float32', [2, 3, 4])] }, 'default perm');
  });

  it('Reshape (0, -1, allowzero), Squeeze, Unsqueeze, Flatten', async () => {
    const x = data('float32', [2, 3, 4]);
    for (const [shape, allowzero] of [[[0, -1], 0], [[-1], 0], [[4, 0, 2], 0], [[2, 3, 2, 2], 0], [[0, 3, 4], 0], [[6, -1, 1], 0]] as const) {
      await check({ opType: 'Reshape', attrs: { allowzero }, inputs: [x, i64([...shape])], constInputs: [1] }, `[${shape}]`);
      await check({ opType: 'Reshape', attrs: { allowzero }, inputs: [x, i64([...shape])] }, `[${shape}] fed`);
    }
    await check({ opType: 'Reshape', attrs: { allowzero: 1 }, inputs: [data('float32', [0, 3]), i64([3, 0])], constInputs: [1] }, 'allowzero');
    await check({ opType: 'Squeeze', inputs: [data('float32', [1, 3, 1, 2]), i64([0, -2])] }, 'axes');
    await check({ opType: 'Squeeze', inputs: [data('string', [1, 3, 1, 2])] }, 'no axes');
    await check({ opType: 'Squeeze', inputs: [data('float32', [1, 3, 1]), i64([])] }, 'empty axes');
    await check({ opType: 'Unsqueeze', inputs: [data('int64', [3, 2]), i64([-1, 0, 3])], constInputs: [1] }, 'axes');
    await check({ opType: 'Squeeze', opset: 11, attrs: { axes: [2] }, inputs: [data('float32', [3, 2, 1])] }, 'opset 11 attr');
    await check({ opType: 'Unsqueeze', opset: 11, attrs: { axes: [1] }, inputs: [data('float32', [3, 2])] }, 'opset 11 attr');
    for (const axis of [0, 1, 2, 3, -1, -3]) {
      await check({ opType: 'Flatten', attrs: { axis }, inputs: [data('float32', [2, 3, 4])] }, `axis ${axis}`);
    }
  });

  it('Concat and Split (split input, num_outputs, opset 11 attr)', async () => {
    for (let t = 0; t < 8; t++) {
      const rank = ri(1, 4);
      const axis = ri(-rank, rank - 1);
      const a = (axis + rank) % rank;
      const base = dimsOf(rank);
      const n = ri(1, 4);
      const dtype = pick<DType>(['float32', 'int64', 'bool', 'string']);
      const ins = Array.from({ length: n }, () => { const d = base.slice(); d[a] = ri(0, 4); return data(dtype, d); });
      await check({ opType: 'Concat', attrs: { axis }, inputs: ins }, `${dtype} axis ${axis}`);
    }
    const x = data('float32', [4, 7, 3]);
    await check({ opType: 'Split', attrs: { axis: 1 }, inputs: [x, i64([2, 0, 5])], outputs: 3 }, 'split input');
    await check({ opType: 'Split', attrs: { axis: 1 }, inputs: [x, i64([3, 4])], constInputs: [1], outputs: 2 }, 'const split');
    await check({ opType: 'Split', opset: 13, attrs: { axis: -1 }, inputs: [x], outputs: 3 }, 'equal parts');
    await check({ opType: 'Split', opset: 18, attrs: { axis: 1, num_outputs: 3 }, inputs: [x], outputs: 3 }, 'num_outputs');
    await check({ opType: 'Split', opset: 11, attrs: { axis: 0, split: [1, 3] }, inputs: [x], outputs: 2 }, 'opset 11');
  });

  it('Slice: random starts/ends/steps including negative steps and INT64 extremes', async () => {
    // INT64_MIN is exact in float64; INT64_MAX is not (2^63 would wrap on export), so 2^62.
    const BIG = 2 ** 62, NEG_BIG = -(2 ** 63);
    for (let t = 0; t < 16; t++) {
      const rank = ri(1, 4);
      const dims = dimsOf(rank, 1, 7);
      const axes = shuffle(rank).slice(0, ri(1, rank));
      const starts: number[] = [], ends: number[] = [], steps: number[] = [];
      for (const ax of axes) {
        const d = dims[ax]!;
        const step = pick([1, 1, 2, 3, -1, -2]);
        starts.push(pick([ri(-d - 2, d + 2), step > 0 ? 0 : -1, step > 0 ? NEG_BIG : BIG]));
        ends.push(pick([ri(-d - 2, d + 2), step > 0 ? BIG : NEG_BIG]));
        steps.push(step);
      }
      const dtype = pick<DType>(['float32', 'int32', 'string']);
      const fed = rand() < 0.5;
      await check({
        opType: 'Slice', inputs: [data(dtype, dims), i64(starts), i64(ends), i64(axes.map((a) => (rand() < 0.5 ? a - rank : a))), i64(steps)],
        constInputs: fed ? [] : [1, 2, 3, 4],
      }, `[${dims}] s=${starts} e=${ends} ax=${axes} st=${steps}`);
    }
    await check({ opType: 'Slice', inputs: [data('float32', [5, 6]), i64([1]), i64([4])] }, 'default axes/steps');
    await check({ opType: 'Slice', opset: 9, attrs: { starts: [1, 0], ends: [3, -1], axes: [0, 1] }, inputs: [data('float32', [5, 6])] }, 'Slice-1 attrs');
  });

  it('Expand and Tile', async () => {
    await check({ opType: 'Expand', inputs: [data('float32', [3, 1]), i64([2, 1, 6])] }, 'broadcast');
    await check({ opType: 'Expand', inputs: [data('int64', [1, 4, 1]), i64([3, 1, 5])], constInputs: [1] }, 'both');
    await check({ opType: 'Expand', inputs: [data('string', [2, 1]), i64([2, 3])] }, 'string');
    await check({ opType: 'Tile', inputs: [data('string', [2, 3]), i64([2, 3])] }, 'string');
    for (let t = 0; t < 5; t++) {
      const rank = ri(1, 4);
      const reps = dimsOf(rank, 0, 3);
      await check({ opType: 'Tile', inputs: [data('float32', dimsOf(rank)), i64(reps)], constInputs: rand() < 0.5 ? [1] : [] }, `reps ${reps}`);
    }
  });
});

describe('tensor index ops vs onnxruntime', () => {
  const idx = (n: number, count: number, dims: number[] = [count]) =>
    i64(Array.from({ length: count }, () => ri(-n, n - 1)), dims);

  it('Gather, GatherElements, GatherND with negative indices', async () => {
    for (let t = 0; t < 6; t++) {
      const rank = ri(1, 4);
      const dims = dimsOf(rank);
      const axis = ri(-rank, rank - 1);
      const n = dims[(axis + rank) % rank]!;
      const idims = dimsOf(ri(0, 2), 1, 4);
      const count = idims.reduce((a, b) => a * b, 1);
      const dtype = pick<DType>(['float32', 'int64', 'uint8']);
      await check({ opType: 'Gather', attrs: { axis }, inputs: [data(dtype, dims), idx(n, count, idims)] }, `${dtype} [${dims}] axis ${axis}`);
    }
    // onnxruntime 1.30 gathers only the first string of each block when blocks are longer than
    // one element, so strings are compared on the last axis only.
    await check({ opType: 'Gather', attrs: { axis: -1 }, inputs: [data('string', [3, 5]), idx(5, 4, [2, 2])] }, 'string last axis');
    for (let t = 0; t < 5; t++) {
      const rank = ri(1, 4);
      const dims = dimsOf(rank);
      const axis = ri(-rank, rank - 1);
      const a = (axis + rank) % rank;
      const idims = dims.map((d, k) => (k === a ? ri(1, 5) : ri(1, d)));
      await check({
        opType: 'GatherElements', attrs: { axis },
        inputs: [data('float32', dims), idx(dims[a]!, idims.reduce((x, y) => x * y, 1), idims)],
      }, `[${dims}] axis ${axis} idx [${idims}]`);
    }
    const d = data('float32', [2, 3, 4]);
    await check({ opType: 'GatherND', inputs: [d, i64([1, -1, 0, 2, -2, 1], [3, 2])] }, 'k=2');
    await check({ opType: 'GatherND', inputs: [d, i64([1, 0, 2, -1, -1, -3], [2, 1, 3])] }, 'k=3');
    await check({ opType: 'GatherND', attrs: { batch_dims: 1 }, inputs: [d, i64([2, 0, -1, 1], [2, 2, 1])] }, 'batch_dims 1');
  });

  it('ScatterElements and ScatterND with reductions', async () => {
    for (const reduction of ['none', 'add', 'mul', 'max', 'min']) {
      const x = data('float32', [4, 5]);
      // Unique target positions for 'none' (onnxruntime's order for duplicates is unspecified).
      const cols = reduction === 'none' ? [4, 0, 2] : [4, -5, 4];
      const indices = i64([...cols, 1, -2, 3], [2, 3]);
      await check({ opType: 'ScatterElements', opset: 18, attrs: { axis: 1, reduction }, inputs: [x, indices, data('float32', [2, 3])] }, reduction);
      const nd = reduction === 'none' ? [0, 1, -1, 2] : [0, 1, 0, 1];
      await check({ opType: 'ScatterND', opset: 18, attrs: { reduction }, inputs: [x, i64(nd, [2, 2]), data('float32', [2])] }, `${reduction} elements`);
      await check({ opType: 'ScatterND', opset: 18, attrs: { reduction }, inputs: [x, i64(reduction === 'none' ? [1, -1] : [1, 1], [2, 1]), data('float32', [2, 5])] }, `${reduction} rows`);
    }
    await check({ opType: 'ScatterElements', attrs: { axis: 0 }, inputs: [data('int64', [3, 3]), i64([2, 0, -1], [1, 3]), data('int64', [1, 3])] }, 'int64 axis 0');
  });

  it('OneHot, NonZero, TopK (ties), CumSum, Trilu', async () => {
    for (const axis of [-1, 0, 1]) {
      await check({
        opType: 'OneHot', attrs: { axis },
        inputs: [i64([0, 3, -1, 7, -8, 2], [2, 3]), i64([5], []), HostTensor.fromNumbers('float32', [2], [-1, 4])],
        constInputs: [1],
      }, `axis ${axis}`);
    }
    await check({ opType: 'NonZero', inputs: [randomTensor('int32', [3, 4, 2], rand, -1, 2)] }, 'int32');
    await check({ opType: 'NonZero', inputs: [randomTensor('bool', [7], rand)] }, 'bool');
    for (let t = 0; t < 8; t++) {
      const rank = ri(1, 3);
      const dims = dimsOf(rank, 1, 40);
      const axis = ri(-rank, rank - 1);
      const n = dims[(axis + rank) % rank]!;
      const k = pick([1, ri(0, n), n]);
      const dtype = pick<DType>(['float32', 'int64', 'int32']);
      // Small integer ranges make ties common.
      const x = randomTensor(dtype, dims, rand, -4, 4);
      for (const largest of [0, 1]) {
        await check({ opType: 'TopK', attrs: { axis, largest, sorted: 1 }, inputs: [x, i64([k])], outputs: 2 }, `${dtype} [${dims}] axis ${axis} k ${k} largest ${largest}`);
      }
    }
    await check({ opType: 'TopK', opset: 9, attrs: { k: 3 }, inputs: [data('float32', [4, 6])], outputs: 2 }, 'opset 9 attr');
    for (const [exclusive, reverse] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
      for (const dtype of ['float32', 'int32', 'int64'] as DType[]) {
        await check({ opType: 'CumSum', attrs: { exclusive, reverse }, inputs: [data(dtype, [3, 5, 4]), HostTensor.scalar('int32', ri(-3, 2))] },
          `${dtype} ex ${exclusive} rev ${reverse}`, { rtol: 1e-5, atol: 1e-6 });
      }
    }
    for (const upper of [0, 1]) {
      for (const k of [-4, -1, 0, 2, 7]) {
        await check({ opType: 'Trilu', attrs: { upper }, inputs: [data('float32', [2, 4, 6]), i64([k], [])] }, `upper ${upper} k ${k}`);
      }
    }
  });
});

describe('tensor value-making ops vs onnxruntime', () => {
  it('Shape (start/end), Size, ConstantOfShape, Range', async () => {
    const x = data('float32', [2, 3, 4, 5]);
    for (const [start, end] of [[undefined, undefined], [1, undefined], [-2, undefined], [1, -1], [3, 1], [-10, 10]]) {
      const attrs: Record<string, number> = {};
      if (start !== undefined) attrs.start = start;
      if (end !== undefined) attrs.end = end;
      await check({ opType: 'Shape', opset: 15, attrs, inputs: [x] }, `start ${start} end ${end}`);
    }
    await check({ opType: 'Size', inputs: [x] }, '');
    await check({ opType: 'ConstantOfShape', attrs: { value: HostTensor.fromNumbers('int32', [1], [7]) }, inputs: [i64([2, 3])] }, 'int32');
    await check({ opType: 'ConstantOfShape', inputs: [i64([3, 0, 2])], constInputs: [0] }, 'default');
    const forms: [string, unknown, string][] = [
      ['value', HostTensor.fromNumbers('int32', [2, 2], [1, -2, 3, 4]), 'tensor'], ['value_float', 1.5, 'float'],
      ['value_floats', [1.5, -2], 'floats'], ['value_int', -7, 'int'], ['value_ints', [3, 4, 5], 'ints'],
      ['value_string', 'hi', 'string'], ['value_strings', ['a', 'bc'], 'strings'],
    ];
    for (const [name, value, type] of forms) {
      await check({ opType: 'Constant', attrs: { [name]: value as never }, attrTypes: { [name]: type as never }, inputs: [] }, name);
    }
    for (const [dtype, s, l, d] of [['float32', 0.5, 7.3, 0.7], ['int32', 10, -3, -3], ['int64', -5, 20, 4], ['float32', 3, 1, 1]] as const) {
      await check({ opType: 'Range', inputs: [HostTensor.scalar(dtype, s), HostTensor.scalar(dtype, l), HostTensor.scalar(dtype, d)] }, `${dtype} ${s} ${l} ${d}`);
    }
  });
});

describe('tensor copy engine', () => {
  it('moves string blocks (Gather, Concat, Transpose) without onnxruntime', async () => {
    const { runCpuNode } = await import('../../backends/cpu/executor.js');
    const run = (opType: string, inputs: HostTensor[], attrs: Record<string, unknown> = {}) =>
      runCpuNode({ name: 'n', opType, domain: '', inputs: inputs.map((_, i) => `i${i}`), outputs: ['o'], attrs: attrs as never }, 21, inputs)[0]!;
    const x = new HostTensor('string', [2, 3, 2], ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l']);
    expect(run('Gather', [x, i64([-1, 0])], { axis: 1 }).data).toEqual(['e', 'f', 'a', 'b', 'k', 'l', 'g', 'h']);
    expect(run('Transpose', [x], { perm: [2, 0, 1] }).data).toEqual(['a', 'c', 'e', 'g', 'i', 'k', 'b', 'd', 'f', 'h', 'j', 'l']);
    expect(run('Concat', [x, x], { axis: 2 }).dims).toEqual([2, 3, 4]);
    expect(run('Concat', [x, x], { axis: 2 }).data.slice(0, 4)).toEqual(['a', 'b', 'a', 'b']);
  });

  it('matches naive index math on every dtype', async () => {
    const { stridedCopy } = await import('../../backends/cpu/tensor-copy.js');
    for (let t = 0; t < 40; t++) {
      const rank = ri(1, 5);
      const dims = dimsOf(rank, 1, 6);
      const srcStrides = dims.map(() => pick([0, 1, 2, 7, 13]));
      let maxOff = 0;
      dims.forEach((d, k) => { maxOff += (d - 1) * srcStrides[k]!; });
      const src = Array.from({ length: maxOff + 1 }, (_, i) => `v${i}`);
      const n = dims.reduce((a, b) => a * b, 1);
      const got = new Array<string>(n).fill('');
      stridedCopy(got, src, dims, srcStrides, 0);
      const idx = new Array<number>(rank).fill(0);
      for (let i = 0; i < n; i++) {
        let off = 0;
        idx.forEach((c, k) => { off += c * srcStrides[k]!; });
        expect(got[i]).toBe(src[off]);
        for (let k = rank - 1; k >= 0; k--) { if (++idx[k]! < dims[k]!) break; idx[k] = 0; }
      }
    }
  });
});

describe('tensor schemas on symbolic shapes', async () => {
  const { SCHEMAS } = await import('../../src/ir/ops/index.js');
  type VT = { dtype: DType; shape: (number | string)[] | undefined };
  let fresh = 0;
  const infer = (opType: string, inputs: (VT | undefined)[], attrs: Record<string, unknown> = {}, values: (HostTensor | undefined)[] = [], nOut = 1) =>
    SCHEMAS[opType]!.infer({
      node: { name: 'n', opType, domain: '', inputs: inputs.map((t, i) => (t ? `i${i}` : '')), outputs: Array.from({ length: nOut }, (_, k) => `o${k}`), attrs: attrs as never },
      opset: 21, inputs, value: (i) => values[i], freshDim: (h) => `${h}_${++fresh}`,
    }).map((t) => t.shape);
  const f32 = (...shape: (number | string)[]): VT => ({ dtype: 'float32', shape });
  const i64t = (n: number): VT => ({ dtype: 'int64', shape: [n] });

  it('Reshape resolves -1 and 0 against symbolic dims', () => {
    expect(infer('Reshape', [f32('N', 3, 4), i64t(2)], {}, [undefined, i64([0, -1])])).toEqual([['N', 12]]);
    expect(infer('Reshape', [f32('N', 3, 4), i64t(2)], {}, [undefined, i64([-1, 4])])).toEqual([['3*N', 4]]);
    expect(infer('Reshape', [f32('N', 'S', 8), i64t(4)], {}, [undefined, i64([0, 0, 2, -1])])).toEqual([['N', 'S', 2, 4]]);
    const [s] = infer('Reshape', [f32('N', 3), i64t(3)]);
    expect(s).toHaveLength(3);
    expect(() => infer('Reshape', [f32(2, 3), i64t(1)], {}, [undefined, i64([5])])).toThrow(/cannot reshape/);
  });

  it('Squeeze, Unsqueeze, Flatten, Concat, Slice, Expand keep what is known', () => {
    expect(infer('Squeeze', [f32('N', 1, 3)])).toEqual([undefined]);
    expect(infer('Squeeze', [f32('N', 1, 3), i64t(1)], {}, [undefined, i64([1])])).toEqual([['N', 3]]);
    expect(infer('Unsqueeze', [f32('N', 3), i64t(2)], {}, [undefined, i64([0, -1])])).toEqual([[1, 'N', 3, 1]]);
    expect(infer('Flatten', [f32('N', 3, 4)], { axis: 1 })).toEqual([['N', 12]]);
    expect(infer('Concat', [f32('N', 3), f32('N', 5)], { axis: 1 })).toEqual([['N', 8]]);
    expect(infer('Concat', [f32('N', 3), f32('M', 3), f32(2, 3)], { axis: 0 })).toEqual([['N+M+2', 3]]);
    expect(infer('Slice', [f32('N', 10), i64t(2), i64t(2)], {}, [undefined, i64([0, 2]), i64([2 ** 62, -1])])).toEqual([['N', 7]]);
    const [e] = infer('Expand', [f32(3, 1), i64t(3)]);
    expect(e![1]).toBe(3);
    expect(e).toHaveLength(3);
  });

  it('Shape, Size, ConstantOfShape, Range, NonZero, TopK, Split', () => {
    expect(infer('Shape', [f32('N', 3, 4)], { start: 1 })).toEqual([[2]]);
    expect(infer('Size', [f32('N', 3)])).toEqual([[]]);
    expect(infer('ConstantOfShape', [i64t(3)], {}, [i64([2, 0, 5])])).toEqual([[2, 0, 5]]);
    expect(infer('ConstantOfShape', [i64t(2)])[0]).toHaveLength(2);
    const sc = (v: number) => HostTensor.scalar('int64', v);
    const s0: VT = { dtype: 'int64', shape: [] };
    expect(infer('Range', [s0, s0, s0], {}, [sc(1), sc(10), sc(4)])).toEqual([[3]]);
    const [nz] = infer('NonZero', [f32('N', 3)]);
    expect(nz![0]).toBe(2);
    expect(typeof nz![1]).toBe('string');
    expect(infer('TopK', [f32('N', 9), i64t(1)], {}, [undefined, i64([4])], 2)).toEqual([['N', 4], ['N', 4]]);
    expect(infer('Split', [f32('N', 9), i64t(2)], { axis: 1 }, [undefined, i64([4, 5])], 2)).toEqual([['N', 4], ['N', 5]]);
  });
});
