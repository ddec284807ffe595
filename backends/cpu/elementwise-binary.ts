/**
 * Binary and variadic element-wise kernels with numpy broadcasting (see elementwise-broadcast.ts).
 * Integer semantics: results are stored into the output's typed array, which wraps them for
 * 8/16/32-bit types; Mul on 32-bit ints uses Math.imul (the float64 product would lose low bits);
 * Div truncates toward zero; Mod follows the divisor's sign unless fmod=1. int64/uint64 live in
 * Float64Array (exact below 2^53): their results are truncated/wrapped explicitly where needed.
 */
import { HostTensor } from '../../src/ir/tensor.js';
import { isFloat, type DType } from '../../src/ir/dtype.js';
import type { Node } from '../../src/ir/graph.js';
import { attrInt } from '../../src/ir/graph.js';
import { legacyDims } from '../../src/ir/ops/elementwise.js';
import { input, outDims, type CpuKernel, type KernelContext, type KernelRegistry } from './kernel.js';
import { broadcast2, broadcastWhere, type Buf, type Row2 } from './elementwise-broadcast.js';

type R = Row2;

// ---- rows: one function literal per op and dtype class ----
// Comparisons store +(a < b): a data-dependent ternary compiles to a branch that mispredicts.
const addRow: R = (a, ia, sa, b, ib, sb, o, io, n) => { for (let k = 0; k < n; k++, ia += sa, ib += sb) o[io + k] = a[ia]! + b[ib]!; };
const subRow: R = (a, ia, sa, b, ib, sb, o, io, n) => { for (let k = 0; k < n; k++, ia += sa, ib += sb) o[io + k] = a[ia]! - b[ib]!; };
const mulRow: R = (a, ia, sa, b, ib, sb, o, io, n) => { for (let k = 0; k < n; k++, ia += sa, ib += sb) o[io + k] = a[ia]! * b[ib]!; };
const imulRow: R = (a, ia, sa, b, ib, sb, o, io, n) => { for (let k = 0; k < n; k++, ia += sa, ib += sb) o[io + k] = Math.imul(a[ia]!, b[ib]!); };
const divRow: R = (a, ia, sa, b, ib, sb, o, io, n) => { for (let k = 0; k < n; k++, ia += sa, ib += sb) o[io + k] = a[ia]! / b[ib]!; };
const idivRow: R = (a, ia, sa, b, ib, sb, o, io, n) => {
  for (let k = 0; k < n; k++, ia += sa, ib += sb) { const d = b[ib]!; o[io + k] = d === 0 ? 0 : Math.trunc(a[ia]! / d); }
};
const fmodRow: R = (a, ia, sa, b, ib, sb, o, io, n) => {
  for (let k = 0; k < n; k++, ia += sa, ib += sb) { const d = b[ib]!; o[io + k] = d === 0 ? 0 : a[ia]! % d; }
};
/** fmod for floats: x % 0 is NaN, as in C. */
const ffmodRow: R = (a, ia, sa, b, ib, sb, o, io, n) => { for (let k = 0; k < n; k++, ia += sa, ib += sb) o[io + k] = a[ia]! % b[ib]!; };
/** Python/numpy mod: the result takes the divisor's sign. Integer mod by 0 gives 0 (numpy). */
const pymodRow: R = (a, ia, sa, b, ib, sb, o, io, n) => {
  for (let k = 0; k < n; k++, ia += sa, ib += sb) {
    const d = b[ib]!;
    let r = a[ia]! % d;
    if (r !== 0 && (r < 0) !== (d < 0)) r += d;
    o[io + k] = r === r ? r : 0;
  }
};
const fpymodRow: R = (a, ia, sa, b, ib, sb, o, io, n) => {
  for (let k = 0; k < n; k++, ia += sa, ib += sb) {
    const d = b[ib]!;
    let r = a[ia]! % d;
    if (r !== 0 && (r < 0) !== (d < 0)) r += d;
    o[io + k] = r;
  }
};
const powRow: R = (a, ia, sa, b, ib, sb, o, io, n) => { for (let k = 0; k < n; k++, ia += sa, ib += sb) o[io + k] = Math.pow(a[ia]!, b[ib]!); };
const ipowRow: R = (a, ia, sa, b, ib, sb, o, io, n) => { for (let k = 0; k < n; k++, ia += sa, ib += sb) o[io + k] = Math.trunc(Math.pow(a[ia]!, b[ib]!)); };
const maxRow: R = (a, ia, sa, b, ib, sb, o, io, n) => {
  for (let k = 0; k < n; k++, ia += sa, ib += sb) { const x = a[ia]!, y = b[ib]!; o[io + k] = x >= y || x !== x ? x : y; }
};
const minRow: R = (a, ia, sa, b, ib, sb, o, io, n) => {
  for (let k = 0; k < n; k++, ia += sa, ib += sb) { const x = a[ia]!, y = b[ib]!; o[io + k] = x <= y || x !== x ? x : y; }
};
/** Branch-free select (random signs would mispredict): m = 1 for negatives picks the slope. */
const preluRow: R = (a, ia, sa, b, ib, sb, o, io, n) => {
  for (let k = 0; k < n; k++, ia += sa, ib += sb) { const x = a[ia]!; const m = +(x < 0); o[io + k] = x * (m * b[ib]! + (1 - m)); }
};
const eqRow: Row2<unknown, unknown> = (a, ia, sa, b, ib, sb, o, io, n) => { for (let k = 0; k < n; k++, ia += sa, ib += sb) o[io + k] = +(a[ia] === b[ib]); };
const ltRow: R = (a, ia, sa, b, ib, sb, o, io, n) => { for (let k = 0; k < n; k++, ia += sa, ib += sb) o[io + k] = +(a[ia]! < b[ib]!); };
const leRow: R = (a, ia, sa, b, ib, sb, o, io, n) => { for (let k = 0; k < n; k++, ia += sa, ib += sb) o[io + k] = +(a[ia]! <= b[ib]!); };
const gtRow: R = (a, ia, sa, b, ib, sb, o, io, n) => { for (let k = 0; k < n; k++, ia += sa, ib += sb) o[io + k] = +(a[ia]! > b[ib]!); };
const geRow: R = (a, ia, sa, b, ib, sb, o, io, n) => { for (let k = 0; k < n; k++, ia += sa, ib += sb) o[io + k] = +(a[ia]! >= b[ib]!); };
const andRow: R = (a, ia, sa, b, ib, sb, o, io, n) => { for (let k = 0; k < n; k++, ia += sa, ib += sb) o[io + k] = a[ia]! & b[ib]!; };
const orRow: R = (a, ia, sa, b, ib, sb, o, io, n) => { for (let k = 0; k < n; k++, ia += sa, ib += sb) o[io + k] = a[ia]! | b[ib]!; };
const xorRow: R = (a, ia, sa, b, ib, sb, o, io, n) => { for (let k = 0; k < n; k++, ia += sa, ib += sb) o[io + k] = a[ia]! ^ b[ib]!; };

// 64-bit bitwise ops on Float64Array storage: split into signed high and unsigned low 32-bit words.
const P32 = 4294967296;
function hi32(v: number): number { return Math.floor(v / P32); }
const and64Row: R = (a, ia, sa, b, ib, sb, o, io, n) => {
  for (let k = 0; k < n; k++, ia += sa, ib += sb) {
    const x = a[ia]!, y = b[ib]!, xh = hi32(x), yh = hi32(y);
    o[io + k] = (xh & yh) * P32 + (((x - xh * P32) & (y - yh * P32)) >>> 0);
  }
};
const or64Row: R = (a, ia, sa, b, ib, sb, o, io, n) => {
  for (let k = 0; k < n; k++, ia += sa, ib += sb) {
    const x = a[ia]!, y = b[ib]!, xh = hi32(x), yh = hi32(y);
    o[io + k] = (xh | yh) * P32 + (((x - xh * P32) | (y - yh * P32)) >>> 0);
  }
};
const xor64Row: R = (a, ia, sa, b, ib, sb, o, io, n) => {
  for (let k = 0; k < n; k++, ia += sa, ib += sb) {
    const x = a[ia]!, y = b[ib]!, xh = hi32(x), yh = hi32(y);
    o[io + k] = (xh ^ yh) * P32 + (((x - xh * P32) ^ (y - yh * P32)) >>> 0);
  }
};

const is64 = (t: DType): boolean => t === 'int64' || t === 'uint64';
const is32 = (t: DType): boolean => t === 'int32' || t === 'uint32';

/** Wraps uint64 results that went negative (Sub, bitwise ops on values >= 2^63) back into range. */
function fixUint64(out: HostTensor): void {
  if (out.dtype !== 'uint64') return;
  const d = out.numbers;
  for (let i = 0; i < d.length; i++) if (d[i]! < 0) d[i] = d[i]! + 18446744073709551616;
}

/** Wraps int4/uint4/int2/uint2 results (unpacked one per byte) into their range. */
function fix4bit(out: HostTensor): void {
  const d = out.numbers;
  if (out.dtype === 'int4') for (let i = 0; i < d.length; i++) d[i] = ((d[i]! + 8) & 15) - 8;
  else if (out.dtype === 'uint4') for (let i = 0; i < d.length; i++) d[i] = d[i]! & 15;
  else if (out.dtype === 'int2') for (let i = 0; i < d.length; i++) d[i] = ((d[i]! + 2) & 3) - 2;
  else if (out.dtype === 'uint2') for (let i = 0; i < d.length; i++) d[i] = d[i]! & 3;
}

type Select = (dtype: DType, node: Node) => Row2<unknown, unknown>;

function binary(select: Select): CpuKernel {
  return (ctx: KernelContext) => {
    const a = input(ctx, 0);
    const b = input(ctx, 1);
    const out = new HostTensor(ctx.outputTypes[0]!.dtype, outDims(ctx));
    const bDims = ctx.node.attrs['broadcast'] === 1 ? legacyDims(ctx.node, a.rank, b.dims) : b.dims;
    broadcast2(a.data as Buf<unknown>, a.dims, b.data as Buf<unknown>, bDims, out.numbers, out.dims, select(a.dtype, ctx.node));
    fixUint64(out);
    fix4bit(out);
    return [out];
  };
}

/** Folds the inputs pairwise into the output (in place after the first pair: same index pattern). */
function variadic(row: R, mean = false): CpuKernel {
  return (ctx: KernelContext) => {
    const ins = ctx.inputs.map((_, i) => input(ctx, i));
    const out = new HostTensor(ctx.outputTypes[0]!.dtype, outDims(ctx));
    const o = out.numbers;
    if (ins.length === 1) o.set(ins[0]!.numbers);
    else {
      broadcast2(ins[0]!.numbers, ins[0]!.dims, ins[1]!.numbers, ins[1]!.dims, o, out.dims, row);
      for (let k = 2; k < ins.length; k++) broadcast2(o, out.dims, ins[k]!.numbers, ins[k]!.dims, o, out.dims, row);
    }
    if (mean) for (let i = 0; i < o.length; i++) o[i] = o[i]! / ins.length;
    fixUint64(out);
    fix4bit(out);
    return [out];
  };
}

const fixed = (row: R): Select => () => row as Row2<unknown, unknown>;

export const binaryKernels: KernelRegistry = {
  Add: binary(fixed(addRow)),
  Sub: binary(fixed(subRow)),
  Mul: binary((t) => (is32(t) ? imulRow : mulRow) as Row2<unknown, unknown>),
  Div: binary((t) => (isFloat(t) ? divRow : idivRow) as Row2<unknown, unknown>),
  Mod: binary((t, node) => {
    const fmod = attrInt(node, 'fmod', 0) !== 0;
    if (isFloat(t)) return (fmod ? ffmodRow : fpymodRow) as Row2<unknown, unknown>;
    return (fmod ? fmodRow : pymodRow) as Row2<unknown, unknown>;
  }),
  Pow: binary((t) => (isFloat(t) ? powRow : ipowRow) as Row2<unknown, unknown>),
  PRelu: binary(fixed(preluRow)),
  Equal: binary(() => eqRow),
  Less: binary(fixed(ltRow)),
  LessOrEqual: binary(fixed(leRow)),
  Greater: binary(fixed(gtRow)),
  GreaterOrEqual: binary(fixed(geRow)),
  And: binary(fixed(andRow)),
  Or: binary(fixed(orRow)),
  Xor: binary(fixed(xorRow)),
  BitwiseAnd: binary((t) => (is64(t) ? and64Row : andRow) as Row2<unknown, unknown>),
  BitwiseOr: binary((t) => (is64(t) ? or64Row : orRow) as Row2<unknown, unknown>),
  BitwiseXor: binary((t) => (is64(t) ? xor64Row : xorRow) as Row2<unknown, unknown>),
  Max: variadic(maxRow),
  Min: variadic(minRow),
  Sum: variadic(addRow),
  Mean: variadic(addRow, true),
  Where: (ctx) => {
    const c = input(ctx, 0);
    const x = input(ctx, 1);
    const y = input(ctx, 2);
    const out = new HostTensor(ctx.outputTypes[0]!.dtype, outDims(ctx));
    broadcastWhere(c.numbers, c.dims, x.data as Buf<unknown>, x.dims, y.data as Buf<unknown>, y.dims, out.data as Buf<unknown>, out.dims);
    return [out];
  },
};
