/**
 * Generic data movement for every dtype: typed arrays and string tensors (string[]) alike.
 * Transpose, Slice, Expand and Tile are all one strided gather (`stridedCopy`): output element
 * at row-major index i reads src[offset + Σ idx_k * strides_k]; stride 0 repeats (broadcast).
 */
import type { TensorStorage } from '../../src/ir/dtype.js';

/** Element-wise view over any storage; `unknown` so one loop serves numbers and strings. */
export type Elems = { [i: number]: unknown; readonly length: number };
type Typed = Exclude<TensorStorage, string[]>;

/** Below this many elements a plain loop beats subarray()+set(). */
const BLOCK_MIN = 24;

/** dst[dOff .. dOff+n) = src[sOff .. sOff+n). */
export function copyBlock(dst: TensorStorage, dOff: number, src: TensorStorage, sOff: number, n: number): void {
  if (n >= BLOCK_MIN && !Array.isArray(dst) && !Array.isArray(src)) {
    (dst as Typed).set((src as Typed).subarray(sOff, sOff + n) as never, dOff);
    return;
  }
  const d = dst as Elems;
  const s = src as Elems;
  for (let i = 0; i < n; i++) d[dOff + i] = s[sOff + i];
}

/** dst[dOff .. dOff+n) = v. */
export function fillBlock(dst: TensorStorage, dOff: number, v: unknown, n: number): void {
  if (Array.isArray(dst)) {
    for (let i = 0; i < n; i++) dst[dOff + i] = v as string;
  } else (dst as Typed).fill(v as number, dOff, dOff + n);
}

/** A fresh storage of the same kind as `like` with n elements. */
export function allocLike(like: TensorStorage, n: number): TensorStorage {
  if (Array.isArray(like)) return new Array<string>(n).fill('');
  return new (like.constructor as new (n: number) => Typed)(n);
}

/** Row-major strides of dims. */
export function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) { s[i] = acc; acc *= dims[i]!; }
  return s;
}

/**
 * Drops size-1 dims and merges neighbours that are contiguous in the source
 * (stride[k] == stride[k+1] * dim[k+1]), so e.g. a transpose of [N,C,H,W] to [N,H,W,C]
 * becomes a batched 2-D transpose [N, HW, C]. Returns null when the copy is empty.
 */
function coalesce(dims: readonly number[], st: readonly number[]): { dims: number[]; st: number[] } | null {
  const d: number[] = [];
  const s: number[] = [];
  for (let k = 0; k < dims.length; k++) {
    if (dims[k] === 0) return null;
    if (dims[k] === 1) continue;
    const last = d.length - 1;
    if (last >= 0 && s[last] === st[k]! * dims[k]!) {
      d[last] = d[last]! * dims[k]!;
      s[last] = st[k]!;
    } else { d.push(dims[k]!); s.push(st[k]!); }
  }
  return { dims: d, st: s };
}

const TILE = 32;

/** dst (row-major over `dims`) = src[offset + Σ idx_k * srcStrides_k]; dst has prod(dims) elements. */
export function stridedCopy(dst: TensorStorage, src: TensorStorage, dims: readonly number[],
  srcStrides: readonly number[], offset: number): void {
  const c = coalesce(dims, srcStrides);
  if (c === null) return;
  const r = c.dims.length;
  if (r === 0) { (dst as Elems)[0] = (src as Elems)[offset]; return; }
  const n = c.dims[r - 1]!;
  const s = c.st[r - 1]!;
  // A batched 2-D transpose: the source-contiguous dim is second to last (NCHW<->NHWC, last-two swap).
  if (r >= 2 && c.st[r - 2] === 1 && s !== 0) {
    const rows = c.dims[r - 2]!;
    forEachOuter(c.dims, c.st, r - 2, offset, (dOff, sOff) => transpose2D(dst as Elems, dOff, src as Elems, sOff, rows, n, s));
    return;
  }
  forEachOuter(c.dims, c.st, r - 1, offset, (dOff, sOff) => {
    if (s === 1) copyBlock(dst, dOff, src, sOff, n);
    else if (s === 0) fillBlock(dst, dOff, (src as Elems)[sOff], n);
    else {
      const d = dst as Elems;
      const x = src as Elems;
      for (let i = 0; i < n; i++) d[dOff + i] = x[sOff + i * s];
    }
  });
}

/** out[i*cols + j] = src[sOff + i + j*colStride], tiled for cache locality. */
function transpose2D(dst: Elems, dOff: number, src: Elems, sOff: number, rows: number, cols: number, colStride: number): void {
  for (let i0 = 0; i0 < rows; i0 += TILE) {
    const i1 = Math.min(i0 + TILE, rows);
    for (let j0 = 0; j0 < cols; j0 += TILE) {
      const j1 = Math.min(j0 + TILE, cols);
      for (let i = i0; i < i1; i++) {
        const o = dOff + i * cols;
        const b = sOff + i;
        for (let j = j0; j < j1; j++) dst[o + j] = src[b + j * colStride];
      }
    }
  }
}

/**
 * Calls fn(dstOffset, srcOffset) for every index of dims[0..inner) (row-major), where the
 * destination advances by the contiguous block size prod(dims[inner..]) per call.
 */
function forEachOuter(dims: readonly number[], st: readonly number[], inner: number, offset: number,
  fn: (dOff: number, sOff: number) => void): void {
  let block = 1;
  for (let k = inner; k < dims.length; k++) block *= dims[k]!;
  let count = 1;
  for (let k = 0; k < inner; k++) count *= dims[k]!;
  const idx = new Array<number>(inner).fill(0);
  let sOff = offset;
  for (let it = 0, dOff = 0; it < count; it++, dOff += block) {
    fn(dOff, sOff);
    for (let k = inner - 1; k >= 0; k--) {
      sOff += st[k]!;
      if (++idx[k]! < dims[k]!) break;
      sOff -= st[k]! * dims[k]!;
      idx[k] = 0;
    }
  }
}
