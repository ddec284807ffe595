/**
 * The reduction engine shared by every Reduce* kernel.
 *
 * The input shape is first collapsed into alternating runs of kept and reduced axes (size-1 axes
 * dropped, neighbours of the same kind merged), so any axes set becomes e.g. [kept M, reduced R]
 * or [reduced R, kept M] or [kept A, reduced R, kept B]. The input is then read once, in memory
 * order, one innermost run at a time:
 * - innermost run reduced: a contiguous row folds into one accumulator (the classic fast path
 *   for reducing inner axes, e.g. ReduceMean over H*W);
 * - innermost run kept: a contiguous row is folded element-wise into a row of accumulators; the
 *   rows of the reduced run just outside it all hit the same accumulators and are taken four at
 *   a time (e.g. ReduceMean over channels of NCHW).
 * Only the outer runs need an odometer, advanced once per row, so the per-element loops are tight
 * and the op switch is taken once per row rather than once per element.
 * Accumulators are float64 (exact int64 sums up to 2^53, and less rounding for float32 inputs).
 */
import type { NumericArray } from '../../src/ir/dtype.js';

/** What a row loop folds in: the element-wise pre-map and the combining operator. */
export const R_SUM = 0;      // acc += x
export const R_ABS = 1;      // acc += |x|
export const R_SQ = 2;       // acc += x*x
export const R_EXPSHIFT = 3; // acc += exp(x - shift[out])
export const R_MAX = 4;      // acc = max(acc, x)  (Math.max: NaN propagates)
export const R_MIN = 5;      // acc = min(acc, x)
export const R_PROD = 6;     // acc *= x
export type ROp = 0 | 1 | 2 | 3 | 4 | 5 | 6;

export function initialValue(op: ROp): number {
  return op === R_MAX ? -Infinity : op === R_MIN ? Infinity : op === R_PROD ? 1 : 0;
}

/** Runs of the collapsed shape: sizes and whether each run is reduced. */
export interface Runs { size: number[]; red: boolean[] }

export function collapseRuns(dims: readonly number[], reduced: readonly boolean[]): Runs {
  const size: number[] = [];
  const red: boolean[] = [];
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i]!;
    if (d === 1) continue;
    const r = reduced[i]!;
    if (red.length > 0 && red[red.length - 1] === r) size[size.length - 1]! *= d;
    else { size.push(d); red.push(r); }
  }
  if (size.length === 0) { size.push(1); red.push(false); }
  return { size, red };
}

/**
 * Folds `x` (laid out as `runs`) into `acc` (one slot per kept element, in order), which the
 * caller has filled with initialValue(op). `shift` is read only by R_EXPSHIFT (one per output).
 */
export function reduceInto(x: NumericArray, runs: Runs, op: ROp, acc: Float64Array, shift?: Float64Array): void {
  let nr = runs.size.length;
  const L = runs.size[nr - 1]!;
  const innerRed = runs.red[nr - 1]!;
  // [.., reduced R, kept L] tail: the R rows that fold into the same L accumulators are handled
  // as one block, so accumulators are loaded and stored once per 4 input rows, not once per row.
  const R = !innerRed && nr >= 2 ? runs.size[nr - 2]! : 1;
  if (R > 1) nr--;
  const block = R * L;
  // Output strides of the outer runs (0 for reduced runs); the innermost kept run has stride 1.
  const no = nr - 1;
  const osz = new Int32Array(no);
  const ostr = new Int32Array(no); // int32: float64 offsets would make every index below a double
  let s = innerRed ? 1 : L;
  for (let k = no - 1; k >= 0; k--) {
    osz[k] = runs.size[k]!;
    if (runs.red[k]) ostr[k] = 0;
    else { ostr[k] = s; s *= runs.size[k]!; }
  }
  const idx = new Int32Array(no);
  let total = 1;
  for (const d of runs.size) total *= d;
  const steps = total / block;
  const sh = shift ?? acc;
  let o = 0;
  let xi = 0;
  for (let it = 0; it < steps; it++) {
    if (innerRed) acc[o] = foldRow(op, x, xi, L, acc[o]!, op === R_EXPSHIFT ? safeShift(sh[o]!) : 0);
    else if (R > 1) accumulateBlock(op, x, xi, L, R, acc, o, sh);
    else accumulateRow(op, x, xi, L, acc, o, sh);
    xi += block;
    for (let k = no - 1; k >= 0; k--) {
      o += ostr[k]!;
      if (++idx[k]! < osz[k]!) break;
      o -= ostr[k]! * osz[k]!;
      idx[k] = 0;
    }
  }
}

/** Folds R consecutive rows of length L into acc[o, o+L): four rows per pass where it pays. */
function accumulateBlock(op: ROp, x: NumericArray, xi: number, L: number, R: number, acc: Float64Array, o: number, shift: Float64Array): void {
  let r = 0;
  if (op === R_SUM || op === R_MAX || op === R_MIN) {
    for (; r + 4 <= R; r += 4) {
      const x0 = xi + r * L;
      if (op === R_SUM) accSum4(x, x0, L, acc, o);
      else if (op === R_MAX) accMax4(x, x0, L, acc, o);
      else accMin4(x, x0, L, acc, o);
    }
  }
  for (; r < R; r++) accumulateRow(op, x, xi + r * L, L, acc, o, shift);
}

function accSum4(x: NumericArray, x0: number, L: number, acc: Float64Array, o: number): void {
  const x1 = x0 + L; const x2 = x1 + L; const x3 = x2 + L;
  for (let j = 0; j < L; j++) acc[o + j] += (x[x0 + j]! + x[x1 + j]!) + (x[x2 + j]! + x[x3 + j]!);
}
function accMax4(x: NumericArray, x0: number, L: number, acc: Float64Array, o: number): void {
  const x1 = x0 + L; const x2 = x1 + L; const x3 = x2 + L;
  for (let j = 0; j < L; j++) {
    let m = acc[o + j]!;
    m = Math.max(m, x[x0 + j]!);
    m = Math.max(m, x[x1 + j]!);
    m = Math.max(m, x[x2 + j]!);
    acc[o + j] = Math.max(m, x[x3 + j]!);
  }
}
function accMin4(x: NumericArray, x0: number, L: number, acc: Float64Array, o: number): void {
  const x1 = x0 + L; const x2 = x1 + L; const x3 = x2 + L;
  for (let j = 0; j < L; j++) {
    let m = acc[o + j]!;
    m = Math.min(m, x[x0 + j]!);
    m = Math.min(m, x[x1 + j]!);
    m = Math.min(m, x[x2 + j]!);
    acc[o + j] = Math.min(m, x[x3 + j]!);
  }
}

/** A max of ±inf (all -inf, or an empty set) cannot be subtracted; 0 keeps exp() meaningful. */
function safeShift(m: number): number {
  return Number.isFinite(m) ? m : 0;
}

function foldRow(op: ROp, x: NumericArray, xi: number, n: number, a: number, shift: number): number {
  const end = xi + n;
  switch (op) {
    case R_SUM: return a + sumRow(x, xi, n);
    case R_ABS: for (let i = xi; i < end; i++) a += Math.abs(x[i]!); return a;
    case R_SQ: for (let i = xi; i < end; i++) { const v = x[i]!; a += v * v; } return a;
    case R_EXPSHIFT: for (let i = xi; i < end; i++) a += Math.exp(x[i]! - shift); return a;
    case R_MAX: for (let i = xi; i < end; i++) a = Math.max(a, x[i]!); return a;
    case R_MIN: for (let i = xi; i < end; i++) a = Math.min(a, x[i]!); return a;
    case R_PROD: for (let i = xi; i < end; i++) a *= x[i]!; return a;
  }
}

/** Plain sum with four partial sums: breaks the add latency chain (about 2x on long rows). */
function sumRow(x: NumericArray, xi: number, n: number): number {
  let s0 = 0; let s1 = 0; let s2 = 0; let s3 = 0;
  const end4 = xi + (n & ~3);
  let i = xi;
  for (; i < end4; i += 4) { s0 += x[i]!; s1 += x[i + 1]!; s2 += x[i + 2]!; s3 += x[i + 3]!; }
  for (const end = xi + n; i < end; i++) s0 += x[i]!;
  return (s0 + s1) + (s2 + s3);
}

/** One small function per op below, so each hot loop stays small enough for V8 to inline. */
function accumulateRow(op: ROp, x: NumericArray, xi: number, n: number, acc: Float64Array, o: number, shift: Float64Array): void {
  switch (op) {
    case R_SUM: accSum(x, xi, n, acc, o); return;
    case R_ABS: accAbs(x, xi, n, acc, o); return;
    case R_SQ: accSq(x, xi, n, acc, o); return;
    case R_EXPSHIFT: accExp(x, xi, n, acc, o, shift); return;
    case R_MAX: accMax(x, xi, n, acc, o); return;
    case R_MIN: accMin(x, xi, n, acc, o); return;
    case R_PROD: accProd(x, xi, n, acc, o); return;
  }
}

function accSum(x: NumericArray, xi: number, n: number, acc: Float64Array, o: number): void {
  for (let j = 0; j < n; j++) acc[o + j] += x[xi + j]!;
}
function accAbs(x: NumericArray, xi: number, n: number, acc: Float64Array, o: number): void {
  for (let j = 0; j < n; j++) acc[o + j] += Math.abs(x[xi + j]!);
}
function accSq(x: NumericArray, xi: number, n: number, acc: Float64Array, o: number): void {
  for (let j = 0; j < n; j++) { const v = x[xi + j]!; acc[o + j] += v * v; }
}
function accExp(x: NumericArray, xi: number, n: number, acc: Float64Array, o: number, shift: Float64Array): void {
  for (let j = 0; j < n; j++) acc[o + j] += Math.exp(x[xi + j]! - safeShift(shift[o + j]!));
}
function accMax(x: NumericArray, xi: number, n: number, acc: Float64Array, o: number): void {
  for (let j = 0; j < n; j++) acc[o + j] = Math.max(acc[o + j]!, x[xi + j]!);
}
function accMin(x: NumericArray, xi: number, n: number, acc: Float64Array, o: number): void {
  for (let j = 0; j < n; j++) acc[o + j] = Math.min(acc[o + j]!, x[xi + j]!);
}
function accProd(x: NumericArray, xi: number, n: number, acc: Float64Array, o: number): void {
  for (let j = 0; j < n; j++) acc[o + j] *= x[xi + j]!;
}
