/**
 * Lowering of the data-movement kernels (native/src/movement.cu): strided copies and their axis
 * merging. Pure functions of dims and strides, tested in test/native/lower.test.ts.
 */
import { sizeOf, stridesOf } from '../../src/ir/tensor.js';

export const MAX_COPY_RANK = 12;

/**
 * ints of `copy` ([n, elemSize, rank, dims, xStrides, yStrides]) walking `dims` row-major: size-1
 * axes dropped, neighbours merged where both sides walk them contiguously. A scalar is rank 1.
 */
export function copyInts(elemSize: number, dims: readonly number[], xs: readonly number[], ys: readonly number[]): number[] {
  const d: number[] = [], a: number[] = [], b: number[] = [];
  for (let i = 0; i < dims.length; i++) {
    const n = dims[i]!;
    if (n === 1) continue;
    const k = d.length - 1;
    if (k >= 0 && a[k] === xs[i]! * n && b[k] === ys[i]! * n) { d[k] = d[k]! * n; a[k] = xs[i]!; b[k] = ys[i]!; }
    else { d.push(n); a.push(xs[i]!); b.push(ys[i]!); }
  }
  if (d.length === 0) { d.push(1); a.push(0); b.push(0); }
  if (d.length > MAX_COPY_RANK) throw new Error(`copy of rank ${d.length} after merging (at most ${MAX_COPY_RANK})`);
  return [sizeOf(dims), elemSize, d.length, ...d, ...a, ...b];
}

/** Transpose: output axis i walks input axis perm[i]. */
export function transposeInts(elemSize: number, xDims: readonly number[], perm: readonly number[]): number[] {
  const xs = stridesOf(xDims);
  const dims = perm.map((p) => xDims[p]!);
  return copyInts(elemSize, dims, perm.map((p) => xs[p]!), stridesOf(dims));
}

/** Expand: the output's dims, input strides 0 along broadcast axes. */
export function expandInts(elemSize: number, xDims: readonly number[], out: readonly number[]): number[] {
  const xs = stridesOf(xDims);
  const lead = out.length - xDims.length;
  return copyInts(elemSize, out, out.map((d, k) => (k < lead || xDims[k - lead] !== d ? 0 : xs[k - lead]!)), stridesOf(out));
}

/** Tile: output axis k of size r*d as (r, d), the repeat index with input stride 0. */
export function tileInts(elemSize: number, xDims: readonly number[], out: readonly number[]): number[] {
  const xs = stridesOf(xDims), ys = stridesOf(out);
  const dims: number[] = [], a: number[] = [], b: number[] = [];
  xDims.forEach((d, k) => {
    const r = d === 0 ? 0 : out[k]! / d;
    dims.push(r, d); a.push(0, xs[k]!); b.push(ys[k]! * d, ys[k]!);
  });
  return copyInts(elemSize, dims, a, b);
}
