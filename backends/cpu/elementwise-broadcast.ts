/**
 * Numpy broadcasting for element-wise kernels without per-element index arithmetic.
 *
 * An op supplies one "row" function that processes n consecutive output elements while walking
 * each input with a stride of 0 (broadcast) or 1 (contiguous). The drivers here call it:
 * - once for the whole tensor when every input has the output's size or is a scalar;
 * - otherwise once per innermost run of a collapsed iteration space: adjacent dims along which
 *   every input is either contiguous or broadcast are merged (e.g. bias [C,1,1] over [N,C,H,W]
 *   becomes [N, C, H*W] with the bias constant along the H*W run), and an odometer walks the rest.
 * Row functions are separate function literals per op, so V8 keeps each inner loop monomorphic.
 */

/** Any indexable storage: typed arrays, or string[] for the ops that accept strings. */
export interface Buf<T = number> {
  [i: number]: T;
  readonly length: number;
}

/** n output elements starting at io; input k starts at i_k and advances by s_k (0 or 1) per element. */
export type Row2<A = number, B = number, O = number> =
  (a: Buf<A>, ia: number, sa: number, b: Buf<B>, ib: number, sb: number, o: Buf<O>, io: number, n: number) => void;

export interface BroadcastPlan {
  /** Merged outer dims (outermost first); the innermost merged dim is `inner`. */
  outer: number[];
  /** strides[k][d]: element stride of input k along outer dim d. */
  strides: number[][];
  inner: number;
  /** 0 or 1 per input. */
  innerStrides: number[];
}

/** Plans the iteration of `inputs` (dims) broadcast to `out` (dims). */
export function planBroadcast(inputs: readonly (readonly number[])[], out: readonly number[]): BroadcastPlan {
  const r = out.length;
  const k = inputs.length;
  // Per-dim strides, aligned right, 0 where the input is broadcast; dims of size 1 are dropped.
  const dims: number[] = [];
  const st: number[][] = inputs.map(() => []);
  const acc = new Array<number>(k).fill(1);
  const rows: number[][] = inputs.map(() => new Array<number>(r));
  for (let j = 0; j < k; j++) {
    const d = inputs[j]!;
    const off = r - d.length;
    for (let i = r - 1; i >= 0; i--) {
      const n = i >= off ? d[i - off]! : 1;
      rows[j]![i] = n === 1 ? 0 : acc[j]!;
      acc[j]! *= n;
    }
  }
  for (let i = 0; i < r; i++) {
    if (out[i] === 1) continue;
    const last = dims.length - 1;
    // Merge with the previous kept dim when every input continues its stride pattern across it.
    if (last >= 0 && st.every((s, j) => s[last] === rows[j]![i]! * out[i]!)) {
      dims[last] *= out[i]!;
      for (let j = 0; j < k; j++) st[j]![last] = rows[j]![i]!;
    } else {
      dims.push(out[i]!);
      for (let j = 0; j < k; j++) st[j]!.push(rows[j]![i]!);
    }
  }
  if (dims.length === 0) return { outer: [], strides: inputs.map(() => []), inner: 1, innerStrides: inputs.map(() => 0) };
  const inner = dims.pop()!;
  const innerStrides = st.map((s) => s.pop()!);
  return { outer: dims, strides: st, inner, innerStrides };
}

function sizeOfDims(d: readonly number[]): number {
  let n = 1;
  for (const x of d) n *= x;
  return n;
}

/** Runs a binary row function over a broadcast of a (aDims) and b (bDims) into o (oDims). */
export function broadcast2<A, B, O>(
  a: Buf<A>, aDims: readonly number[], b: Buf<B>, bDims: readonly number[],
  o: Buf<O>, oDims: readonly number[], row: Row2<A, B, O>,
): void {
  const n = o.length;
  if (n === 0) return;
  const na = a.length;
  const nb = b.length;
  if ((na === n || na === 1) && (nb === n || nb === 1)) {
    row(a, 0, na === 1 ? 0 : 1, b, 0, nb === 1 ? 0 : 1, o, 0, n);
    return;
  }
  const p = planBroadcast([aDims, bDims], oDims);
  const { outer, inner } = p;
  const SA = p.strides[0]!;
  const SB = p.strides[1]!;
  const sa = p.innerStrides[0]!;
  const sb = p.innerStrides[1]!;
  const nd = outer.length;
  // A short block repeated along the leading dims (boxes [N,4] * [4], NHWC bias with few channels)
  // would cost one row call per block: tile the block once and run long chunks instead.
  if (nd === 1 && inner < TILE_BELOW && sa === 1 && sb === 1) {
    if (SB[0] === 0 && SA[0] === inner) { tiledRows(a, b, false, o, inner, row); return; }
    if (SA[0] === 0 && SB[0] === inner) { tiledRows(b, a, true, o, inner, row); return; }
  }
  const idx = new Int32Array(nd);
  const count = sizeOfDims(outer);
  let ia = 0;
  let ib = 0;
  let io = 0;
  for (let t = 0; t < count; t++) {
    row(a, ia, sa, b, ib, sb, o, io, inner);
    io += inner;
    for (let d = nd - 1; d >= 0; d--) {
      ia += SA[d]!;
      ib += SB[d]!;
      if (++idx[d]! < outer[d]!) break;
      idx[d] = 0;
      ia -= SA[d]! * outer[d]!;
      ib -= SB[d]! * outer[d]!;
    }
  }
}

const TILE_BELOW = 64;
const TILE_TARGET = 2048;

/** `full` has the output's size; `block` (len elements) repeats along it. */
function tiledRows<A, B, O>(full: Buf<A> | Buf<B>, block: Buf<A> | Buf<B>, blockFirst: boolean, o: Buf<O>, len: number,
  row: Row2<A, B, O>): void {
  const reps = Math.ceil(TILE_TARGET / len);
  const ctor = (block as unknown as { constructor: new (n: number) => Buf<unknown> }).constructor;
  const tiled = new ctor(len * reps);
  for (let r = 0, k = 0; r < reps; r++) for (let j = 0; j < len; j++, k++) tiled[k] = block[j];
  const total = o.length;
  const chunk = len * reps;
  for (let off = 0; off < total; off += chunk) {
    const n = Math.min(chunk, total - off);
    if (blockFirst) row(tiled as Buf<A>, 0, 1, full as Buf<B>, off, 1, o, off, n);
    else row(full as Buf<A>, off, 1, tiled as Buf<B>, 0, 1, o, off, n);
  }
}

/** Where(c, x, y) with three-way broadcasting. */
export function broadcastWhere<T>(
  c: Buf, cDims: readonly number[], x: Buf<T>, xDims: readonly number[], y: Buf<T>, yDims: readonly number[],
  o: Buf<T>, oDims: readonly number[],
): void {
  const n = o.length;
  if (n === 0) return;
  if ((c.length === n || c.length === 1) && (x.length === n || x.length === 1) && (y.length === n || y.length === 1)) {
    whereRow(c, 0, c.length === 1 ? 0 : 1, x, 0, x.length === 1 ? 0 : 1, y, 0, y.length === 1 ? 0 : 1, o, 0, n);
    return;
  }
  const p = planBroadcast([cDims, xDims, yDims], oDims);
  const { outer, inner } = p;
  const [SC, SX, SY] = p.strides as [number[], number[], number[]];
  const [sc, sx, sy] = p.innerStrides as [number, number, number];
  const nd = outer.length;
  const idx = new Int32Array(nd);
  const count = sizeOfDims(outer);
  let ic = 0;
  let ix = 0;
  let iy = 0;
  let io = 0;
  for (let t = 0; t < count; t++) {
    whereRow(c, ic, sc, x, ix, sx, y, iy, sy, o, io, inner);
    io += inner;
    for (let d = nd - 1; d >= 0; d--) {
      ic += SC[d]!;
      ix += SX[d]!;
      iy += SY[d]!;
      if (++idx[d]! < outer[d]!) break;
      idx[d] = 0;
      ic -= SC[d]! * outer[d]!;
      ix -= SX[d]! * outer[d]!;
      iy -= SY[d]! * outer[d]!;
    }
  }
}

function whereRow<T>(c: Buf, ic: number, sc: number, x: Buf<T>, ix: number, sx: number, y: Buf<T>, iy: number, sy: number,
  o: Buf<T>, io: number, n: number): void {
  for (let k = 0; k < n; k++, ic += sc, ix += sx, iy += sy) o[io + k] = c[ic] ? x[ix]! : y[iy]!;
}
