/**
 * Generic data movement for every dtype: typed arrays and string tensors (string[]) alike.
 * Transpose, Slice, Expand and Tile are all one strided gather (`stridedCopy`): output element
 * at row-major index i reads src[offset + Σ idx_k * strides_k]; stride 0 repeats (broadcast).
 *
 * Why the views: V8 specializes each element access site on the array classes it has seen;
 * past four classes the site goes megamorphic and copies run ~20x slower. Moving bits does
 * not need the real type, so typed arrays are viewed by element width (Uint8 / Uint16 / Int32 /
 * Float64: four classes at most) and string arrays never reach the numeric loops.
 */
import type { NumericArray, TensorStorage } from '../../src/ir/dtype.js';

/** A typed array viewed by element width: what the numeric copy loops see. */
export type MoveArray = Uint8Array | Uint16Array | Int32Array | Float64Array;
export type Movable = MoveArray | string[];

/** The same memory viewed by element width (no copy); string arrays as they are. */
export function movable(a: TensorStorage): Movable {
  if (Array.isArray(a)) return a;
  switch (a.BYTES_PER_ELEMENT) {
    case 1: return a instanceof Uint8Array ? a : new Uint8Array(a.buffer, a.byteOffset, a.length);
    case 2: return a instanceof Uint16Array ? a : new Uint16Array(a.buffer, a.byteOffset, a.length);
    case 4: return a instanceof Int32Array ? a : new Int32Array(a.buffer, a.byteOffset, a.length);
    default: return a as Float64Array;
  }
}

/** Below this many elements a plain loop beats subarray()+set(). */
const BLOCK_MIN = 24;

/** d[dOff .. dOff+n) = s[sOff .. sOff+n) on views from `movable` (same kind on both sides). */
export function copyRun(d: Movable, dOff: number, s: Movable, sOff: number, n: number): void {
  if (Array.isArray(d)) {
    const ss = s as string[];
    for (let i = 0; i < n; i++) d[dOff + i] = ss[sOff + i]!;
  } else if (n >= BLOCK_MIN) {
    (d as Int32Array).set((s as Int32Array).subarray(sOff, sOff + n), dOff);
  } else {
    const ss = s as MoveArray;
    for (let i = 0; i < n; i++) d[dOff + i] = ss[sOff + i]!;
  }
}

/** dst[dOff .. dOff+n) = src[sOff .. sOff+n), for one-off copies (views made per call). */
export function copyBlock(dst: TensorStorage, dOff: number, src: TensorStorage, sOff: number, n: number): void {
  if (n >= BLOCK_MIN && !Array.isArray(dst)) {
    (dst as Int32Array).set((src as Int32Array).subarray(sOff, sOff + n), dOff);
  } else copyRun(movable(dst), dOff, movable(src), sOff, n);
}

/** dst[dOff .. dOff+n) = v. */
export function fillBlock(dst: TensorStorage, dOff: number, v: number | string, n: number): void {
  if (Array.isArray(dst)) {
    for (let i = 0; i < n; i++) dst[dOff + i] = v as string;
  } else (dst as NumericArray).fill(v as number, dOff, dOff + n);
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

/** dst (row-major over `dims`) = src[offset + Σ idx_k * srcStrides_k]; dst has prod(dims) elements. */
export function stridedCopy(dst: TensorStorage, src: TensorStorage, dims: readonly number[],
  srcStrides: readonly number[], offset: number): void {
  if (Array.isArray(src)) {
    // Strings: move source positions through the numeric path, then pick the strings.
    const n = dst.length;
    const map = new Int32Array(n);
    const iota = new Int32Array(src.length);
    for (let i = 0; i < iota.length; i++) iota[i] = i;
    stridedMove(map, iota, dims, srcStrides, offset);
    const d = dst as string[];
    for (let i = 0; i < n; i++) d[i] = src[map[i]!]!;
    return;
  }
  stridedMove(movable(dst) as MoveArray, movable(src) as MoveArray, dims, srcStrides, offset);
}

const ROW_CONTIG = 0, ROW_FILL = 1, ROW_STRIDED = 2, TRANSPOSE_2D = 3;

function stridedMove(d: MoveArray, s: MoveArray, dims0: readonly number[], st0: readonly number[], offset: number): void {
  const c = coalesce(dims0, st0);
  if (c === null) return;
  const { dims, st } = c;
  const r = dims.length;
  if (r === 0) { d[0] = s[offset]!; return; }
  const dst = strides(dims);
  const last = r - 1;
  const n = dims[last]!;
  const sl = st[last]!;
  // Kernel over the last dim, or over (p, last) when dim p reads the source contiguously and the
  // last dim does not: a tiled 2-D transpose (NCHW<->NHWC, last-two swap, any such perm).
  let kind = sl === 1 ? ROW_CONTIG : sl === 0 ? ROW_FILL : ROW_STRIDED;
  let p = -1;
  if (kind === ROW_STRIDED) {
    for (let k = last - 1; k >= 0; k--) if (st[k] === 1) { p = k; break; }
    if (p >= 0) kind = TRANSPOSE_2D;
  }
  // Outer loop over every other dim, tracking both offsets.
  const od: number[] = [], os: number[] = [], ot: number[] = [];
  for (let k = 0; k < last; k++) if (k !== p) { od.push(dims[k]!); os.push(st[k]!); ot.push(dst[k]!); }
  const m = od.length;
  let count = 1;
  for (const x of od) count *= x;
  const idx = new Array<number>(m).fill(0);
  const rows = p >= 0 ? dims[p]! : 0;
  const dRow = p >= 0 ? dst[p]! : 0;
  let sOff = offset, dOff = 0;
  for (let it = 0; it < count; it++) {
    switch (kind) {
      case ROW_CONTIG: copyRun(d, dOff, s, sOff, n); break;
      case ROW_FILL: d.fill(s[sOff]!, dOff, dOff + n); break;
      case ROW_STRIDED: for (let i = 0; i < n; i++) d[dOff + i] = s[sOff + i * sl]!; break;
      default: transpose2D(d, dOff, s, sOff, rows, n, dRow, sl);
    }
    for (let k = m - 1; k >= 0; k--) {
      sOff += os[k]!; dOff += ot[k]!;
      if (++idx[k]! < od[k]!) break;
      sOff -= os[k]! * od[k]!; dOff -= ot[k]! * od[k]!;
      idx[k] = 0;
    }
  }
}

const TILE = 64;

/**
 * d[dOff + i*dRow + j] = s[sOff + i + j*cs] for i < rows, j < cols. Tiles of TILE rows; eight
 * columns per pass so that each source row segment is read contiguously while the writes stay
 * within a few cache lines (measured ~3x faster than a plain tiled double loop in V8).
 */
function transpose2D(d: MoveArray, dOff: number, s: MoveArray, sOff: number, rows: number, cols: number,
  dRow: number, cs: number): void {
  for (let i0 = 0; i0 < rows; i0 += TILE) {
    const i1 = Math.min(i0 + TILE, rows);
    let j = 0;
    for (; j + 8 <= cols; j += 8) {
      const b0 = sOff + j * cs, b1 = b0 + cs, b2 = b1 + cs, b3 = b2 + cs;
      const b4 = b3 + cs, b5 = b4 + cs, b6 = b5 + cs, b7 = b6 + cs;
      for (let i = i0; i < i1; i++) {
        const o = dOff + i * dRow + j;
        d[o] = s[b0 + i]!; d[o + 1] = s[b1 + i]!; d[o + 2] = s[b2 + i]!; d[o + 3] = s[b3 + i]!;
        d[o + 4] = s[b4 + i]!; d[o + 5] = s[b5 + i]!; d[o + 6] = s[b6 + i]!; d[o + 7] = s[b7 + i]!;
      }
    }
    for (; j < cols; j++) {
      const b = sOff + j * cs;
      const o = dOff + j;
      for (let i = i0; i < i1; i++) d[o + i * dRow] = s[b + i]!;
    }
  }
}
