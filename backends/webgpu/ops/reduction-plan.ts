/**
 * The index plan of a reduction: kept and reduced axes collapsed into runs of [size, input stride]
 * (size-1 axes dropped, adjacent axes of the same kind merged, since they are contiguous in memory).
 * Kept runs, in order, enumerate the output; reduced runs, in order, enumerate one output's inputs.
 */
import { stridesOf } from '../../../src/ir/tensor.js';

export interface ReductionPlan {
  kept: [number, number][];
  red: [number, number][];
  /** Number of input elements per output (0 when a reduced axis is empty). */
  n: number;
  /** Whether the innermost non-trivial axis is reduced (a reduction reads contiguous memory). */
  innerReduced: boolean;
}

export function reductionPlan(dims: readonly number[], reduced: readonly boolean[]): ReductionPlan {
  const strides = stridesOf(dims);
  const kept: [number, number][] = [];
  const red: [number, number][] = [];
  let n = 1;
  let last: boolean | undefined;
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i]!;
    if (reduced[i]) n *= d;
    if (d === 1) continue;
    const list = reduced[i] ? red : kept;
    if (last === reduced[i]) {
      const run = list[list.length - 1]!;
      run[0] *= d;
      run[1] = strides[i]!;
    } else list.push([d, strides[i]!]);
    last = reduced[i];
  }
  return { kept, red, n, innerReduced: last === true };
}
