/**
 * Reduction kernels against onnxruntime-node on single-op models with seeded random shapes, axes
 * and attributes. Tolerances: integer results and Max/Min/ArgMax/ArgMin must match exactly (they
 * pick an element or do exact integer arithmetic below 2^53). Float32 sums use rtol 1e-5 and
 * atol 1e-4: twinfer accumulates in float64, onnxruntime in float32 (possibly blocked), so for up
 * to ~4k terms of magnitude <= 2 the float32 rounding of the reference alone can reach ~1e-5
 * absolute, and cancellation makes a pure relative bound meaningless near zero.
 */
import { describe, it } from 'vitest';
import { HostTensor } from '../../src/ir/tensor.js';
import type { DType } from '../../src/ir/dtype.js';
import { assertClose, compareSingleOp, randomTensor, seededRandom, type SingleOpSpec } from '../helpers/ort-single-op.js';

const EXACT = { rtol: 0, atol: 0 };
const FSUM = { rtol: 1e-5, atol: 1e-4 };
const rand = seededRandom(20240611);
const ri = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const i64 = (v: number[]) => HostTensor.fromNumbers('int64', [v.length], v);

const REDUCE_OPS = [
  'ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2',
  'ReduceSumSquare', 'ReduceLogSum', 'ReduceLogSumExp',
] as const;

/** Data whose reductions are well defined: LogSum needs positive sums, Prod small factors. */
function dataFor(op: string, dtype: DType, dims: number[]): HostTensor {
  if (dtype !== 'float32') return randomTensor(dtype, dims, rand, op === 'ReduceProd' ? -3 : -40, op === 'ReduceProd' ? 4 : 40);
  if (op === 'ReduceLogSum') return randomTensor(dtype, dims, rand, 0.1, 2);
  if (op === 'ReduceProd') return randomTensor(dtype, dims, rand, 0.7, 1.4);
  return randomTensor(dtype, dims, rand, -2, 2);
}

function randomAxes(rank: number): number[] {
  const axes: number[] = [];
  for (let a = 0; a < rank; a++) if (rand() < 0.45) axes.push(rand() < 0.3 ? a - rank : a);
  return axes;
}

async function check(spec: SingleOpSpec, label: string, tol = EXACT): Promise<void> {
  const r = await compareSingleOp(spec);
  assertClose(r, tol, `${spec.opType} ${label}`);
}

const tolOf = (op: string, dtype: DType) =>
  dtype !== 'float32' || op === 'ReduceMax' || op === 'ReduceMin' ? EXACT : FSUM;

describe('reductions vs onnxruntime', () => {
  it('every Reduce* op: random ranks, axes (constant or fed), keepdims', async () => {
    for (const op of REDUCE_OPS) {
      for (let t = 0; t < 5; t++) {
        const rank = ri(1, 4);
        const dims = Array.from({ length: rank }, () => ri(1, 5));
        const axes = randomAxes(rank);
        const keepdims = ri(0, 1);
        const fed = rand() < 0.3;
        const inputs = [dataFor(op, 'float32', dims), axes.length || rand() < 0.5 ? i64(axes) : undefined];
        await check({
          opType: op, opset: 18, attrs: { keepdims }, inputs, constInputs: fed ? [] : [1],
        }, `[${dims}] axes [${axes}] keepdims ${keepdims}${fed ? ' fed' : ''}`, tolOf(op, 'float32'));
      }
    }
  });

  it('fast paths on larger tensors: inner, outer, middle and strided axes sets', async () => {
    const dims = [3, 16, 9, 20];
    for (const axes of [[2, 3], [1], [0], [1, 2, 3], [0, 2], [1, 3], [0, 1, 2, 3]]) {
      for (const op of ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceLogSumExp', 'ReduceL2'] as const) {
        await check({ opType: op, opset: 18, attrs: { keepdims: 1 }, inputs: [dataFor(op, 'float32', dims), i64(axes)], constInputs: [1] },
          `[${dims}] axes [${axes}]`, tolOf(op, 'float32'));
      }
    }
  });

  it('integer dtypes', async () => {
    const cases: [string, DType][] = [
      ['ReduceSum', 'int32'], ['ReduceSum', 'int64'], ['ReduceMax', 'int32'], ['ReduceMax', 'int64'],
      ['ReduceMin', 'int8'], ['ReduceMax', 'uint8'], ['ReduceProd', 'int32'], ['ReduceProd', 'int64'],
      ['ReduceMean', 'int32'], ['ReduceSumSquare', 'int64'], ['ReduceL1', 'int32'],
    ];
    for (const [op, dtype] of cases) {
      const dims = [ri(1, 4), ri(1, 4), ri(1, 4)];
      const axes = randomAxes(3);
      await check({ opType: op, opset: 18, attrs: { keepdims: ri(0, 1) }, inputs: [dataFor(op, dtype, dims), i64(axes)], constInputs: [1] },
        `${dtype} [${dims}] axes [${axes}]`);
    }
  });

  it('older opsets with axes as an attribute, and default (all) axes', async () => {
    const x = dataFor('ReduceMean', 'float32', [2, 3, 4]);
    await check({ opType: 'ReduceMean', opset: 13, attrs: { axes: [-1], keepdims: 1 }, inputs: [x] }, 'opset 13 attr', FSUM);
    await check({ opType: 'ReduceMax', opset: 11, attrs: { axes: [0, 2], keepdims: 0 }, inputs: [x] }, 'opset 11 attr');
    await check({ opType: 'ReduceSum', opset: 11, attrs: { axes: [1] }, inputs: [x] }, 'opset 11 attr', FSUM);
    await check({ opType: 'ReduceL2', opset: 13, inputs: [x] }, 'opset 13 all axes', FSUM);
    await check({ opType: 'ReduceLogSumExp', opset: 18, attrs: { keepdims: 0 }, inputs: [x] }, 'no axes input', FSUM);
  });

  it('noop_with_empty_axes and reductions over an empty set', async () => {
    const x = dataFor('ReduceSum', 'float32', [3, 2, 2]);
    await check({ opType: 'ReduceSum', opset: 18, attrs: { noop_with_empty_axes: 1 }, inputs: [x, i64([])], constInputs: [1] }, 'noop');
    await check({ opType: 'ReduceSum', opset: 18, attrs: { noop_with_empty_axes: 1 }, inputs: [x] }, 'noop without axes');
    const empty = new HostTensor('float32', [2, 0, 3]);
    for (const op of REDUCE_OPS) {
      if (op === 'ReduceMean') continue; // 0/0: onnxruntime and the spec disagree on NaN vs 0
      await check({ opType: op, opset: 18, inputs: [empty, i64([1])], constInputs: [1] }, 'empty set');
    }
    await check({ opType: 'ReduceSum', opset: 18, attrs: { keepdims: 0 }, inputs: [empty, i64([2])], constInputs: [1] }, 'empty output');
  });

  it('ArgMax / ArgMin with ties, select_last_index, keepdims, negative axes', async () => {
    for (const op of ['ArgMax', 'ArgMin'] as const) {
      for (let t = 0; t < 8; t++) {
        const rank = ri(1, 4);
        const dims = Array.from({ length: rank }, () => ri(1, 6));
        const axis = ri(-rank, rank - 1);
        const dtype = pick<DType>(['float32', 'int32', 'int64']);
        // Few distinct values so ties are common and select_last_index matters.
        const x = dtype === 'float32' ? HostTensor.fromNumbers('float32', dims, randomTensor('int32', dims, rand, -3, 3).numbers)
          : randomTensor(dtype, dims, rand, -3, 3);
        await check({
          opType: op, opset: 13, attrs: { axis, keepdims: ri(0, 1), select_last_index: ri(0, 1) }, inputs: [x],
        }, `${dtype} [${dims}] axis ${axis}`);
      }
      await check({ opType: op, opset: 13, attrs: { axis: 1 }, inputs: [randomTensor('float32', [4, 50, 33], rand)] }, 'strided large');
      await check({ opType: op, opset: 13, attrs: { axis: -1 }, inputs: [randomTensor('float32', [40, 300], rand)] }, 'inner large');
    }
  });
});
