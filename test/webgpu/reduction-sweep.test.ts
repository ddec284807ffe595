/**
 * Reduce* ops on every GPU element type (f32, i32, u32) across the four shader variants (thread or
 * workgroup per output, one or several reduced runs), against the CPU backend. Integer data stays
 * small (and ±1 for ReduceProd) so the CPU's float64 accumulation and the GPU's 32-bit integer one
 * agree exactly; tolerance rtol 1e-3 / atol 1e-4 for the float sums' different order.
 */
import { describe, expect, it } from 'vitest';
import { HostTensor } from '../../src/ir/tensor.js';
import type { DType } from '../../src/ir/dtype.js';
import { InferenceSession } from '../../src/node.js';
import { fromHostTensor, toHostTensor } from '../../src/api/tensor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { randomTensor, seededRandom, singleOpModel } from '../helpers/ort-single-op.js';

const rand = seededRandom(3);
const OPS = ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSum', 'ReduceLogSumExp'];
// [dims, axes]: workgroup + one run, workgroup + two runs, thread + one run, thread + two runs.
const WG1: [number[], number[]] = [[3, 200], [1]], WGN: [number[], number[]] = [[3, 4, 50], [0, 2]];
const TH1: [number[], number[]] = [[2, 5], [1]], THN: [number[], number[]] = [[2, 3, 4], [0, 2]];
// Every variant compiles once per fresh machine (~0.2 s each on lavapipe): each type takes two of
// the four, so that all four are covered for float and integer code across this file and
// reduction.test.ts, and u32 (same code as i32 but for the type) takes the ops whose code differs.
const CASES: [DType, string[], [number[], number[]][]][] = [
  ['float32', OPS, [WGN, TH1]],
  ['int32', OPS, [WG1, THN]],
  ['uint8', ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceL2'], [WGN]],
];

function data(op: string, dtype: DType, dims: number[]): HostTensor {
  if (op === 'ReduceProd') {
    const t = randomTensor(dtype, dims, rand, 0, 2);
    const d = t.data as Float32Array | Int32Array | Uint8Array;
    for (let i = 0; i < d.length; i++) d[i] = dtype === 'uint8' ? 1 : d[i]! >= 1 ? 1 : -1;
    return t;
  }
  if (dtype === 'float32') return randomTensor(dtype, dims, rand, 0.1, 2);
  return randomTensor(dtype, dims, rand, dtype === 'uint8' || op === 'ReduceLogSum' ? 1 : -20, 20);
}

describe('webgpu Reduce* sweep', () => {
  for (const [dtype, ops, shapes] of CASES) {
    it(dtype, async () => {
      for (const op of ops) {
        for (const [dims, axes] of shapes) {
          const x = data(op, dtype, dims);
          const model = singleOpModel({ opType: op, inputs: [x, HostTensor.fromNumbers('int64', [axes.length], axes)], constInputs: [1], attrs: { keepdims: 0 } });
          const feeds = { in0: fromHostTensor(x) };
          const gpu = await InferenceSession.create(model, { backends: ['webgpu'] });
          const cpu = await InferenceSession.create(model, { backends: ['cpu'] });
          const c = compareTensors(toHostTensor((await gpu.run(feeds)).out0!), toHostTensor((await cpu.run(feeds)).out0!), 1e-3, 1e-4);
          expect(c.reason, `${op} ${dtype} [${dims}] axes [${axes}]`).toBeUndefined();
        }
      }
    });
  }
});
