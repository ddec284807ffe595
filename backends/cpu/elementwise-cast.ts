/**
 * Cast, CastLike, Clip, Identity and Dropout kernels.
 *
 * Cast follows the ONNX reference (numpy/ml_dtypes): float -> int truncates toward zero and wraps
 * (int4/uint4/int2/uint2 included); float8e8m0 honours `round_mode`; float -> low-precision float rounds to nearest even, with `saturate`
 * applying to the float8 types; string <-> number parses / prints like Python's float.
 */
import { HostTensor } from '../../src/ir/tensor.js';
import { isFloat, LOW_PRECISION_FLOATS, type DType, type NumericArray } from '../../src/ir/dtype.js';
import { attrInt } from '../../src/ir/graph.js';
import { roundToDtype, type E8M0RoundMode } from '../../src/ir/lowp.js';
import { castRoundMode } from '../../src/ir/ops/elementwise.js';
import { input, outDims, type KernelRegistry } from './kernel.js';
import { Mt19937 } from './elementwise-random.js';

const TWO64 = 18446744073709551616;
const TWO63 = 9223372036854775808;

/** Converts `x` to `to` (same dims). Returns `x` itself when the type does not change. */
export function castTensor(x: HostTensor, to: DType, saturate = true, roundMode: E8M0RoundMode = 'up'): HostTensor {
  if (x.dtype === to) return x;
  const out = new HostTensor(to, x.dims);
  const n = x.size;
  if (to === 'string') {
    const o = out.data as string[];
    const src = x.numbers;
    for (let i = 0; i < n; i++) o[i] = formatNumber(src[i]!, x.dtype);
    return out;
  }
  const o = out.numbers;
  const src: NumericArray = x.dtype === 'string' ? parseStrings(x.data as string[]) : x.numbers;
  const fromFloat = isFloat(x.dtype) || x.dtype === 'string';
  switch (to) {
    case 'float32': case 'float64':
      o.set(src);
      break;
    case 'bool':
      for (let i = 0; i < n; i++) o[i] = src[i] !== 0 ? 1 : 0; // NaN is true, as in numpy
      break;
    case 'int64':
      if (!fromFloat) o.set(src);
      else for (let i = 0; i < n; i++) { const v = Math.trunc(src[i]!); o[i] = v >= -TWO63 && v < TWO63 ? v : -TWO63; }
      break;
    case 'uint64':
      for (let i = 0; i < n; i++) {
        const v = Math.trunc(src[i]!);
        o[i] = v >= 0 && v < TWO64 ? v : v < 0 && v >= -TWO63 ? v + TWO64 : TWO63;
      }
      break;
    case 'int4':
      for (let i = 0; i < n; i++) { const v = Math.trunc(src[i]!); o[i] = v === v && Math.abs(v) !== Infinity ? ((v % 16) + 24) % 16 - 8 : 0; }
      break;
    case 'uint4':
      for (let i = 0; i < n; i++) { const v = Math.trunc(src[i]!); o[i] = v === v && Math.abs(v) !== Infinity ? ((v % 16) + 16) % 16 : 0; }
      break;
    case 'int2':
      for (let i = 0; i < n; i++) { const v = Math.trunc(src[i]!); o[i] = v === v && Math.abs(v) !== Infinity ? ((v % 4) + 6) % 4 - 2 : 0; }
      break;
    case 'uint2':
      for (let i = 0; i < n; i++) { const v = Math.trunc(src[i]!); o[i] = v === v && Math.abs(v) !== Infinity ? ((v % 4) + 4) % 4 : 0; }
      break;
    default:
      if (LOW_PRECISION_FLOATS.has(to)) {
        for (let i = 0; i < n; i++) o[i] = roundToDtype(to, src[i]!, saturate, roundMode);
      } else {
        // 8/16/32-bit ints: the typed array store truncates toward zero and wraps.
        o.set(src);
      }
  }
  return out;
}

/** Parses strings the way numpy's astype(float) does (case-insensitive inf/nan, surrounding spaces). */
function parseStrings(s: readonly string[]): Float64Array {
  const out = new Float64Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const t = s[i]!.trim().toLowerCase();
    let v = Number(t);
    if (v !== v || t === '') {
      const u = t.replace(/^[+-]/, '');
      const neg = t.startsWith('-');
      if (u === 'inf' || u === 'infinity') v = neg ? -Infinity : Infinity;
      else if (u === 'nan') v = NaN;
      else throw new Error(`Cast: cannot parse '${s[i]}' as a number`);
    }
    out[i] = v;
  }
  return out;
}

/** Python repr-like text of a number: shortest round-trip digits for the source type. */
function formatNumber(v: number, from: DType): string {
  if (from === 'bool') return v ? 'True' : 'False';
  if (!isFloat(from)) return String(v);
  if (v !== v) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  let digits = String(v);
  if (from !== 'float64') {
    // Shortest decimal that rounds back to the same float32 (narrower types are float32-exact).
    for (let p = 1; p <= 9; p++) {
      const s = v.toPrecision(p);
      if (Math.fround(Number(s)) === v) { digits = String(Number(s)); break; }
    }
  }
  const num = Number(digits);
  if (num === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const exp = Math.floor(Math.log10(Math.abs(num)));
  if (exp < -4 || exp >= 16) {
    const [m, e] = num.toExponential().split('e') as [string, string];
    const en = Number(e);
    return `${m}e${en < 0 ? '-' : '+'}${String(Math.abs(en)).padStart(2, '0')}`;
  }
  return Number.isInteger(num) ? `${num.toFixed(0)}.0` : digits;
}

export const castKernels: KernelRegistry = {
  Cast: (ctx) => [castTensor(input(ctx, 0), ctx.outputTypes[0]!.dtype, attrInt(ctx.node, 'saturate', 1) !== 0, castRoundMode(ctx.node))],
  CastLike: (ctx) => [castTensor(input(ctx, 0), ctx.outputTypes[0]!.dtype, attrInt(ctx.node, 'saturate', 1) !== 0, castRoundMode(ctx.node))],
  Identity: (ctx) => [input(ctx, 0)],
  Clip: (ctx) => {
    const x = input(ctx, 0);
    const lo = ctx.inputs[1] ? ctx.inputs[1].num(0) : -Infinity;
    const hi = ctx.inputs[2] ? ctx.inputs[2].num(0) : Infinity;
    const out = new HostTensor(x.dtype, outDims(ctx));
    const xs = x.numbers;
    const ys = out.numbers;
    // NaN passes through; min > max yields max everywhere (numpy.clip, the reference).
    // Branch-free clamp; infinite bounds become +-MAX_VALUE so (bound - v) stays finite, and the
    // rare NaN result (infinite or NaN input) takes the exact path.
    const l = lo === -Infinity ? -Number.MAX_VALUE : lo;
    const h = hi === Infinity ? Number.MAX_VALUE : hi;
    for (let i = 0; i < xs.length; i++) {
      const v = xs[i]!;
      let r = v + +(v < l) * (l - v);
      r += +(r > h) * (h - r);
      if (r !== r) { const t = v < lo ? lo : v; r = t > hi ? hi : t; }
      ys[i] = r;
    }
    return [out];
  },
  Dropout: (ctx) => {
    const x = input(ctx, 0);
    const ratio = ctx.inputs[1] ? ctx.inputs[1].num(0) : 0.5;
    const training = ctx.inputs[2] ? ctx.inputs[2].num(0) !== 0 : false;
    const wantMask = ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== '';
    if (!training || ratio === 0) {
      const mask = wantMask ? new HostTensor('bool', x.dims, new Uint8Array(x.size).fill(1)) : undefined;
      return [x, mask];
    }
    // Training mode: with a seed, numpy's stream (the reference); without, a fresh mask per call.
    const seed = attrInt(ctx.node, 'seed');
    const rng = seed === undefined ? undefined : new Mt19937(seed);
    const out = new HostTensor(x.dtype, x.dims);
    const mask = new HostTensor('bool', x.dims);
    const m = mask.numbers;
    const xs = x.numbers;
    const ys = out.numbers;
    const scale = 1 / (1 - ratio);
    for (let i = 0; i < xs.length; i++) {
      const keep = (rng ? rng.nextDouble() : Math.random()) >= ratio;
      m[i] = keep ? 1 : 0;
      ys[i] = keep ? xs[i]! * scale : 0;
    }
    return [out, wantMask ? mask : undefined];
  },
};
