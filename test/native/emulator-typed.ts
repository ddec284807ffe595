/**
 * Test helper: the dtype-aware kernels of the native addon (typed.cu, movement.cu, reduce.cu,
 * norm.cu) in plain JavaScript, with the same parameter lists, for the emulated addon
 * (emulator.ts). Pointers are (buffer, byteOffset) pairs read and written by ONNX type code or by
 * element size, with the device's conversions (dtype.cuh): float16 / bfloat16 round on store,
 * float -> int truncates and wraps through int64 (NaN and out of range give INT64_MIN), bool is != 0.
 */
import { roundToDtype } from '../../src/ir/lowp.js';

export interface Ptr { buf: ArrayBuffer; off: number }
type Launcher = (i: number[], f: Float32Array, p: (Ptr | undefined)[], fn: (code: number) => (x: number, a: number, b: number) => number) => void;

const TWO63 = 9223372036854775808;

const NARROW: Record<number, 'float8e4m3fn' | 'float8e4m3fnuz' | 'float8e5m2' | 'float8e5m2fnuz' | 'float4e2m1'> = { 17: 'float8e4m3fn', 18: 'float8e4m3fnuz', 19: 'float8e5m2', 20: 'float8e5m2fnuz', 23: 'float4e2m1' };
const BITS: Record<number, [number, boolean]> = { 22: [4, true], 21: [4, false], 26: [2, true], 25: [2, false] };

function arr(p: Ptr, t: number): { [k: number]: number | bigint } {
  switch (t) {
    case 1: case 10: case 16: return new Float32Array(p.buf, p.off);
    case 11: return new Float64Array(p.buf, p.off);
    case 3: return new Int8Array(p.buf, p.off);
    case 2: case 9: return new Uint8Array(p.buf, p.off);
    case 5: return new Int16Array(p.buf, p.off);
    case 4: return new Uint16Array(p.buf, p.off);
    case 6: return new Int32Array(p.buf, p.off);
    case 12: return new Uint32Array(p.buf, p.off);
    case 7: return new BigInt64Array(p.buf, p.off);
    case 13: return new BigUint64Array(p.buf, p.off);
    case 17: case 18: case 19: case 20: case 23: return new Float32Array(p.buf, p.off);
    case 22: case 26: return new Int8Array(p.buf, p.off);
    case 21: case 25: return new Uint8Array(p.buf, p.off);
    default: throw new Error(`type code ${t} has no device form`);
  }
}

const f32Family = (t: number) => t === 1 || t === 10 || t === 16 || (t >= 17 && t <= 20) || t === 23;
const isFloatCode = (t: number) => f32Family(t) || t === 11;

export function ld(p: Ptr, t: number, i: number): number { return Number(arr(p, t & 0xff)[i]!); }

function toI64(v: number): number { return v >= -TWO63 && v < TWO63 ? Math.trunc(v) : -TWO63; }

export function st(p: Ptr, tt: number, i: number, v: number): void {
  const t = tt & 0xff;
  const a = arr(p, t);
  if (NARROW[t]) { a[i] = roundToDtype(NARROW[t], v, (tt & 0x100) === 0); return; }
  if (BITS[t]) {
    const [bits, sgn] = BITS[t]!;
    if (!Number.isFinite(v)) { a[i] = 0; return; }
    const m = 2 ** bits;
    let k = ((Math.trunc(v) % m) + m) % m;
    if (sgn && k >= m / 2) k -= m;
    a[i] = k;
    return;
  }
  switch (t) {
    case 1: a[i] = v; break;
    case 10: a[i] = roundToDtype('float16', v); break;
    case 16: a[i] = roundToDtype('bfloat16', v); break;
    case 11: a[i] = v; break;
    case 9: a[i] = v !== 0 ? 1 : 0; break;
    case 7: a[i] = BigInt.asIntN(64, BigInt(toI64(v))); break;
    case 13: a[i] = v >= TWO63 && v < 2 * TWO63 ? BigInt(Math.trunc(v)) : BigInt.asUintN(64, BigInt(toI64(v))); break;
    default: { const w = toI64(v); a[i] = Number(BigInt.asIntN(64, BigInt(w)) % 4294967296n); }
  }
}

/** Raw element access by size (1, 2, 4, 8 bytes) for the data-movement kernels. */
function bySize(p: Ptr, es: number): { [k: number]: number | bigint } {
  switch (es) {
    case 1: return new Uint8Array(p.buf, p.off);
    case 2: return new Uint16Array(p.buf, p.off);
    case 4: return new Uint32Array(p.buf, p.off);
    case 8: return new BigUint64Array(p.buf, p.off);
    default: throw new Error(`element size ${es} (1, 2, 4 or 8)`);
  }
}

const f32 = Math.fround;
const TYPED_BINARY = ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'PRelu', 'Mod', 'FMod', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'SafeDiv'];

function binop(op: string, x: number, y: number, intOut: boolean): number {
  switch (op) {
    case 'Add': return x + y;
    case 'Sub': return x - y;
    case 'Mul': return x * y;
    case 'Div': return intOut ? (y === 0 ? 0 : Math.trunc(x / y)) : x / y;
    case 'Pow': { const p = Math.pow(x, y); return intOut ? Math.trunc(p) : p; }
    case 'Max': return x >= y || x !== x ? x : y;
    case 'Min': return x <= y || x !== x ? x : y;
    case 'PRelu': return x < 0 ? x * y : x;
    case 'Mod': { if (intOut && y === 0) return 0; let r = x % y; if (r !== 0 && (r < 0) !== (y < 0)) r += y; return r; }
    case 'FMod': return intOut && y === 0 ? 0 : x % y;
    case 'Equal': return x === y ? 1 : 0;
    case 'Less': return x < y ? 1 : 0;
    case 'LessOrEqual': return x <= y ? 1 : 0;
    case 'Greater': return x > y ? 1 : 0;
    case 'GreaterOrEqual': return x >= y ? 1 : 0;
    case 'And': return x !== 0 && y !== 0 ? 1 : 0;
    case 'Or': return x !== 0 || y !== 0 ? 1 : 0;
    case 'Xor': return (x !== 0) !== (y !== 0) ? 1 : 0;
    case 'SafeDiv': return y === 0 ? 0 : x / y;
    default: throw new Error(`unknown typed binary op ${op}`);
  }
}

/** Offsets of element k walking dims with k stride lists. */
function walk(k: number, dims: number[], strides: number[][]): number[] {
  const o = strides.map(() => 0);
  let rem = k;
  for (let d = dims.length - 1; d >= 0; d--) {
    const c = rem % dims[d]!;
    rem = Math.floor(rem / dims[d]!);
    strides.forEach((s, j) => { o[j]! += c * s[d]!; });
  }
  return o;
}

function strided(i: number[], at: number, k: number): { dims: number[]; s: number[][]; next: number } {
  const r = i[at]!;
  const dims = i.slice(at + 1, at + 1 + r);
  const s = Array.from({ length: k }, (_, j) => i.slice(at + 1 + r * (1 + j), at + 1 + r * (2 + j)));
  return { dims, s, next: at + 1 + r * (1 + k) };
}

const ldIdx = (p: Ptr, t: number, i: number) => ld(p, t, i);
const INT_NAMES = new Set([2, 3, 4, 5, 6, 7, 12, 13, 21, 22, 25, 26]);

function unaryExact(name: string, x: number, a: number, b: number): number | undefined {
  switch (name) {
    case 'Identity': return x;
    case 'Abs': return Math.abs(x);
    case 'Neg': return -x;
    case 'Sign': return x > 0 ? 1 : x < 0 ? -1 : x;
    case 'Relu': return x > 0 ? x : x !== x ? x : 0;
    case 'Floor': return Math.floor(x);
    case 'Ceil': return Math.ceil(x);
    case 'Round': { const r = Math.round(x); return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r; }
    case 'Not': return x === 0 ? 1 : 0;
    case 'IsNaN': return x !== x ? 1 : 0;
    case 'IsInf': return (a !== 0 && x === Infinity) || (b !== 0 && x === -Infinity) ? 1 : 0;
    default: return undefined;
  }
}

export function typedLaunchers(functionNames: string[]): Record<string, Launcher> {
  return {
    unaryT(i, f, p, fn) {
      const [n, code, xt, yt] = i as [number, number, number, number];
      const g = fn(code);
      for (let k = 0; k < n; k++) {
        const x = ld(p[0]!, xt, k);
        const v = f32Family(xt) ? g(f32(x), f[0]!, f[1]!) : (unaryExact(functionNames[code]!, x, f[0]!, f[1]!) ?? g(f32(x), f[0]!, f[1]!));
        st(p[1]!, yt, k, v);
      }
    },
    binaryT(i, _f, p) {
      const [n, op, at, bt, yt] = i as [number, number, number, number, number];
      const s = strided(i, 5, 2);
      const name = TYPED_BINARY[op]!;
      const intOut = INT_NAMES.has(yt);
      const single = f32Family(at) && f32Family(bt);
      for (let k = 0; k < n; k++) {
        const [ia, ib] = walk(k, s.dims, s.s) as [number, number];
        const v = binop(name, ld(p[0]!, at, ia), ld(p[1]!, bt, ib), intOut);
        st(p[2]!, yt, k, single ? f32(v) : v);
      }
    },
    where(i, _f, p) {
      const [n, es] = i as [number, number];
      const s = strided(i, 2, 3);
      const c = new Uint8Array(p[0]!.buf, p[0]!.off), x = bySize(p[1]!, es), y = bySize(p[2]!, es), o = bySize(p[3]!, es);
      for (let k = 0; k < n; k++) { const [ic, ix, iy] = walk(k, s.dims, s.s) as [number, number, number]; o[k] = c[ic] ? x[ix]! : y[iy]!; }
    },
    copy(i, _f, p) {
      const [n, es] = i as [number, number];
      const s = strided(i, 2, 2);
      // negative strides (Slice with negative steps) walk below the binding: view from the lowest element
      const low = s.dims.reduce((a, d, k) => a + Math.min(0, (d - 1) * s.s[0]![k]!), 0);
      const x = bySize({ buf: p[0]!.buf, off: p[0]!.off + low * es }, es), y = bySize(p[1]!, es);
      for (let k = 0; k < n; k++) { const [ix, iy] = walk(k, s.dims, s.s) as [number, number]; y[iy] = x[ix! - low]!; }
    },
    pad(i, _f, p) {
      const [n, es, mode, r] = i as [number, number, number, number];
      const out = i.slice(4, 4 + r), inn = i.slice(4 + r, 4 + 2 * r), beg = i.slice(4 + 2 * r, 4 + 3 * r);
      const bits = (BigInt(i[4 + 3 * r + 1]!) << 32n) | BigInt(i[4 + 3 * r]!);
      const value = es === 8 ? bits : Number(bits & ((1n << BigInt(8 * es)) - 1n));
      const y = bySize(p[1]!, es), x = p[0] ? bySize(p[0], es) : undefined;
      for (let k = 0; k < n; k++) {
        let rem = k, ix = 0, stride = 1, inside = true;
        for (let d = r - 1; d >= 0; d--) {
          const c = rem % out[d]!; rem = Math.floor(rem / out[d]!);
          const D = inn[d]!;
          let q = c - beg[d]!;
          if (q < 0 || q >= D) {
            if (mode === 0 || D === 0) { inside = false; break; }
            if (mode === 1) { if (D === 1) q = 0; else { const pp = 2 * (D - 1); q = ((q % pp) + pp) % pp; if (q >= D) q = pp - q; } }
            else if (mode === 2) q = q < 0 ? 0 : D - 1;
            else q = ((q % D) + D) % D;
          }
          ix += q * stride; stride *= D;
        }
        y[k] = inside ? x![ix]! : value;
      }
    },
    gather(i, _f, p) {
      const [n, es, it, axisDim, nIdx, inner] = i as [number, number, number, number, number, number];
      const x = bySize(p[0]!, es), y = bySize(p[2]!, es);
      for (let k = 0; k < n; k++) {
        const inn = k % inner, t = Math.floor(k / inner), j = t % nIdx, o = Math.floor(t / nIdx);
        let q = ldIdx(p[1]!, it, j); if (q < 0) q += axisDim;
        y[k] = q >= 0 && q < axisDim ? x[(o * axisDim + q) * inner + inn]! : (es === 8 ? 0n : 0);
      }
    },
    gatherElements(i, _f, p) {
      const [n, es, it, r, axis, axisDim] = i as [number, number, number, number, number, number];
      const dims = i.slice(6, 6 + r), ds = i.slice(6 + r, 6 + 2 * r);
      const x = bySize(p[0]!, es), y = bySize(p[2]!, es);
      for (let k = 0; k < n; k++) { const off = elemOffset(k, dims, ds, axis, axisDim, p[1]!, it); y[k] = off >= 0 ? x[off]! : (es === 8 ? 0n : 0); }
    },
    gatherND(i, _f, p) {
      const [n, es, it, kk, slice, perBatch, batchStride] = i as [number, number, number, number, number, number, number];
      const dims = i.slice(7, 7 + kk), ds = i.slice(7 + kk, 7 + 2 * kk);
      const x = bySize(p[0]!, es), y = bySize(p[2]!, es);
      for (let q = 0; q < n; q++) {
        const t = Math.floor(q / slice), j = q % slice;
        const off = ndOffset(t, kk, dims, ds, perBatch, batchStride, p[1]!, it);
        y[q] = off >= 0 ? x[off + j]! : (es === 8 ? 0n : 0);
      }
    },
    scatterElements(i, _f, p) {
      const [n, dt, it, red, r, axis, axisDim] = i as [number, number, number, number, number, number, number];
      const dims = i.slice(7, 7 + r), ds = i.slice(7 + r, 7 + 2 * r);
      for (let k = 0; k < n; k++) {
        const off = elemOffset(k, dims, ds, axis, axisDim, p[0]!, it);
        if (off >= 0) st(p[2]!, dt, off, reduceWith(red, ld(p[2]!, dt, off), ld(p[1]!, dt, k)));
      }
    },
    scatterND(i, _f, p) {
      const [tuples, slice, dt, it, red, kk] = i as [number, number, number, number, number, number];
      const dims = i.slice(6, 6 + kk), ds = i.slice(6 + kk, 6 + 2 * kk);
      for (let t = 0; t < tuples; t++) {
        const off = ndOffset(t, kk, dims, ds, 1, 0, p[0]!, it);
        if (off < 0) continue;
        for (let j = 0; j < slice; j++) st(p[2]!, dt, off + j, reduceWith(red, ld(p[2]!, dt, off + j), ld(p[1]!, dt, t * slice + j)));
      }
    },
    trilu(i, _f, p) {
      const [n, es, rows, cols, k, upper] = i as [number, number, number, number, number, number];
      const x = bySize(p[0]!, es), y = bySize(p[1]!, es);
      for (let q = 0; q < n; q++) { const c = q % cols, r = Math.floor(q / cols) % rows; const keep = upper ? c - r >= k : c - r <= k; y[q] = keep ? x[q]! : (es === 8 ? 0n : 0); }
    },
    oneHot(i, _f, p) {
      const [n, es, it, depth, inner] = i as [number, number, number, number, number];
      const v = bySize(p[1]!, es), y = bySize(p[2]!, es);
      for (let q = 0; q < n; q++) {
        const inn = q % inner, t = Math.floor(q / inner), d = t % depth, o = Math.floor(t / depth);
        let x = Math.trunc(ld(p[0]!, it, o * inner + inn)); if (x < 0) x += depth;
        y[q] = v[x === d ? 1 : 0]!;
      }
    },
    reduce(i, _f, p) {
      const [nOut, op, xt, yt] = i as [number, number, number, number];
      const k = strided(i, 4, 1), r = strided(i, k.next, 1);
      const redN = r.dims.reduce((a, b) => a * b, 1);
      const single = f32Family(xt);
      const c = (v: number) => (single ? f32(v) : v);
      for (let o = 0; o < nOut; o++) {
        const [base] = walk(o, k.dims, k.s) as [number];
        const vals: number[] = [];
        for (let q = 0; q < redN; q++) vals.push(ld(p[0]!, xt, base + walk(q, r.dims, r.s)[0]!));
        st(p[1]!, yt, o, c(reduceValues(op, vals, c)));
      }
    },
    argreduce(i, _f, p) {
      const [n, xt, isMin, last, axisDim, inner] = i as [number, number, number, number, number, number];
      for (let q = 0; q < n; q++) {
        const base = Math.floor(q / inner) * axisDim * inner + (q % inner);
        let best = ld(p[0]!, xt, base), bi = 0;
        for (let k = 1; k < axisDim; k++) {
          const v = ld(p[0]!, xt, base + k * inner);
          if (isMin ? (last ? v <= best : v < best) : (last ? v >= best : v > best)) { best = v; bi = k; }
        }
        st(p[1]!, 7, q, bi);
      }
    },
    cumsum(i, _f, p) {
      const [lines, dt, axisDim, inner, excl, rev] = i as [number, number, number, number, number, number];
      const c = (v: number) => (f32Family(dt) ? f32(v) : v);
      for (let l = 0; l < lines; l++) {
        const base = Math.floor(l / inner) * axisDim * inner + (l % inner);
        let acc = 0;
        for (let j = 0; j < axisDim; j++) {
          const k = rev ? axisDim - 1 - j : j;
          const v = ld(p[0]!, dt, base + k * inner);
          if (excl) { st(p[1]!, dt, base + k * inner, acc); acc = c(acc + v); } else { acc = c(acc + v); st(p[1]!, dt, base + k * inner, acc); }
        }
      }
    },
    topk(i, _f, p) {
      const [lines, xt, axisDim, inner, k, largest] = i as [number, number, number, number, number, number];
      for (let l = 0; l < lines; l++) {
        const o = Math.floor(l / inner), inn = l % inner;
        const base = o * axisDim * inner + inn, ob = o * k * inner + inn;
        const items = Array.from({ length: axisDim }, (_, a) => ({ v: ld(p[0]!, xt, base + a * inner), a }));
        items.sort((x, y) => (x.v === y.v ? x.a - y.a : largest ? y.v - x.v : x.v - y.v));
        for (let j = 0; j < k; j++) { st(p[1]!, xt, ob + j * inner, items[j]!.v); st(p[2]!, 7, ob + j * inner, items[j]!.a); }
      }
    },
    softmax(i, _f, p) {
      const [outer, axisDim, inner, mode, xt] = i as [number, number, number, number, number];
      for (let l = 0; l < outer * inner; l++) {
        const base = Math.floor(l / inner) * axisDim * inner + (l % inner);
        const xs = Array.from({ length: axisDim }, (_, k) => ld(p[0]!, xt, base + k * inner));
        const mx = Math.max(...xs);
        if (mode === 2) { const first = xs.indexOf(mx); xs.forEach((_, k) => st(p[1]!, xt, base + k * inner, k === first ? 1 : 0)); continue; }
        const s = xs.reduce((a, v) => a + Math.exp(v - mx), 0);
        xs.forEach((v, k) => st(p[1]!, xt, base + k * inner, mode === 1 ? v - mx - Math.log(s) : Math.exp(v - mx) / s));
      }
    },
    norm(i, f, p) {
      const [rows, L, xt, rm, rs, jd, jm, js, stt] = i as [number, number, number, number, number, number, number, number, number];
      for (let r = 0; r < rows; r++) {
        const base = r * L;
        let s = 0;
        for (let j = 0; j < L; j++) s += ld(p[0]!, xt, base + j);
        const mu = s / L;
        let q = 0;
        for (let j = 0; j < L; j++) { const d = ld(p[0]!, xt, base + j) - mu; q += d * d; }
        const inv = 1 / Math.sqrt(q / L + f[0]!);
        for (let j = 0; j < L; j++) {
          const si = (r % rm) * rs + (Math.floor(j / jd) % jm) * js;
          let v = (ld(p[0]!, xt, base + j) - mu) * inv;
          if (p[1]) v *= ld(p[1], xt, si);
          if (p[2]) v += ld(p[2], xt, si);
          st(p[3]!, xt, base + j, v);
        }
        if (p[4]) st(p[4], stt, r, mu);
        if (p[5]) st(p[5], stt, r, inv);
      }
    },
    batchnorm(i, f, p) {
      const [n, C, inner, xt, pt] = i as [number, number, number, number, number];
      for (let q = 0; q < n; q++) {
        const c = Math.floor(q / inner) % C;
        const inv = 1 / Math.sqrt(ld(p[4]!, pt, c) + f[0]!);
        st(p[5]!, xt, q, (ld(p[0]!, xt, q) - ld(p[3]!, pt, c)) * inv * ld(p[1]!, pt, c) + ld(p[2]!, pt, c));
      }
    },
    lrn(i, f, p) {
      const [N, C, inner, size, xt] = i as [number, number, number, number, number];
      for (let q = 0; q < N * C * inner; q++) {
        const inn = q % inner, c = Math.floor(q / inner) % C, b = Math.floor(q / (inner * C));
        let s = 0;
        for (let k = Math.max(0, c - Math.floor((size - 1) / 2)); k <= Math.min(C - 1, c + Math.floor(size / 2)); k++) { const v = ld(p[0]!, xt, (b * C + k) * inner + inn); s += v * v; }
        st(p[1]!, xt, q, ld(p[0]!, xt, q) / Math.pow(f[2]! + (f[0]! / size) * s, f[1]!));
      }
    },
    pool(i, _f, p) {
      const [planes, mode, countPad, order, xt] = i as [number, number, number, number, number];
      const ax = [0, 1, 2].map((d) => i.slice(5 + 7 * d, 12 + 7 * d)) as [number, number, number, number, number, number, number][];
      const [A, B, C] = ax as [typeof ax[0], typeof ax[0], typeof ax[0]];
      const n = planes * A[1] * B[1] * C[1];
      const count1 = (a: typeof A, o: number) => { let c = 0; for (let k = 0; k < a[2]; k++) { const q = o * a[3] - a[4] + k * a[6]; if (q >= -a[4] && q < a[0] + a[5]) c++; } return c; };
      for (let q = 0; q < n; q++) {
        const ox = q % C[1], oy = Math.floor(q / C[1]) % B[1], oz = Math.floor(q / (C[1] * B[1])) % A[1], plane = Math.floor(q / (C[1] * B[1] * A[1]));
        const base = plane * A[0] * B[0] * C[0];
        let best = -Infinity, bi = -1, sum = 0, count = 0;
        for (let kz = 0; kz < A[2]; kz++) {
          const iz = oz * A[3] - A[4] + kz * A[6]; if (iz < 0 || iz >= A[0]) continue;
          for (let ky = 0; ky < B[2]; ky++) {
            const iy = oy * B[3] - B[4] + ky * B[6]; if (iy < 0 || iy >= B[0]) continue;
            for (let kx = 0; kx < C[2]; kx++) {
              const ix = ox * C[3] - C[4] + kx * C[6]; if (ix < 0 || ix >= C[0]) continue;
              const off = (iz * B[0] + iy) * C[0] + ix;
              const v = ld(p[0]!, xt, base + off);
              if (v > best || bi < 0) { best = v; bi = off; }
              sum = f32(sum + v); count++;
            }
          }
        }
        if (mode === 0) {
          st(p[1]!, xt, q, best);
          if (p[2]) {
            let flat = bi;
            if (order === 1 && bi >= 0) { const iz = Math.floor(bi / (B[0] * C[0])), iy = Math.floor(bi / C[0]) % B[0], ix = bi % C[0]; flat = ix * (B[0] * A[0]) + iy * A[0] + iz; }
            st(p[2], 7, q, bi < 0 ? -1 : base + flat);
          }
        } else {
          if (countPad) count = count1(A, oz) * count1(B, oy) * count1(C, ox);
          st(p[1]!, xt, q, count > 0 ? sum / count : NaN);
        }
      }
    },
    resize(i, f, p) {
      const [n, r, xt] = i as [number, number, number];
      const ax = Array.from({ length: r }, (_, a) => i.slice(3 + 4 * a, 7 + 4 * a) as [number, number, number, number]);
      const idx = new Int32Array(p[1]!.buf, p[1]!.off), w = new Float32Array(p[2]!.buf, p[2]!.off);
      for (let q = 0; q < n; q++) {
        let rem = q, tot = 1, extrap = false;
        const oc: number[] = [];
        for (const [os, , taps, off] of ax) { const o = Math.floor(rem / os); rem %= os; oc.push(o); tot *= taps; if (idx[off + o * taps]! < 0) extrap = true; }
        if (extrap) { st(p[3]!, xt, q, f[0]!); continue; }
        let acc = 0;
        for (let t = 0; t < tot; t++) {
          let tr = t, s = 0, wt = 1;
          for (let a = r - 1; a >= 0; a--) { const [, is, taps, off] = ax[a]!; const e = off + oc[a]! * taps + (tr % taps); tr = Math.floor(tr / taps); s += idx[e]! * is; wt = f32(wt * w[e]!); }
          if (wt !== 0) acc = f32(acc + wt * ld(p[0]!, xt, s));
        }
        st(p[3]!, xt, q, INT_NAMES.has(xt) ? Math.trunc(acc) : acc);
      }
    },
    convTranspose(i, _f, p) {
      const [N, C, M, G] = i as [number, number, number, number];
      const ax = [0, 1, 2].map((d) => i.slice(4 + 6 * d, 10 + 6 * d)) as [number, number, number, number, number, number][];
      const [A, B, Cx] = ax as [typeof ax[0], typeof ax[0], typeof ax[0]];
      const x = new Float32Array(p[0]!.buf, p[0]!.off), w = new Float32Array(p[1]!.buf, p[1]!.off), y = new Float32Array(p[3]!.buf, p[3]!.off);
      const bias = p[2] ? new Float32Array(p[2].buf, p[2].off) : undefined;
      const Mg = M / G, Cg = C / G, kvol = A[2] * B[2] * Cx[2], ivol = A[0] * B[0] * Cx[0];
      const n = N * M * A[1] * B[1] * Cx[1];
      for (let q = 0; q < n; q++) {
        const ox = q % Cx[1], oy = Math.floor(q / Cx[1]) % B[1], oz = Math.floor(q / (Cx[1] * B[1])) % A[1];
        const t = Math.floor(q / (Cx[1] * B[1] * A[1])), m = t % M, b = Math.floor(t / M);
        const grp = Math.floor(m / Mg), mm = m % Mg;
        let acc = bias ? bias[m]! : 0;
        const taps = (a: typeof A, o: number) => { const r: [number, number][] = []; for (let k = 0; k < a[2]; k++) { const v = o + a[4] - k * a[5]; if (v >= 0 && v % a[3] === 0 && v / a[3] < a[0]) r.push([k, v / a[3]]); } return r; };
        for (const [kz, iz] of taps(A, oz)) for (const [ky, iy] of taps(B, oy)) for (const [kx, ix] of taps(Cx, ox)) {
          for (let c = 0; c < Cg; c++) {
            const cc = grp * Cg + c;
            acc = f32(acc + x[(b * C + cc) * ivol + (iz * B[0] + iy) * Cx[0] + ix]! * w[(cc * Mg + mm) * kvol + (kz * B[2] + ky) * Cx[2] + kx]!);
          }
        }
        y[q] = acc;
      }
    },
    quantize(i, _f, p) {
      const [n, axisDim, inner, xt, yt, block, axisLen] = i as [number, number, number, number, number, number, number];
      const [lo, hi] = ({ 3: [-128, 127], 2: [0, 255], 5: [-32768, 32767], 4: [0, 65535], 6: [-2147483648, 2147483520], 22: [-8, 7], 21: [0, 15], 26: [-2, 1], 25: [0, 3] } as Record<number, [number, number]>)[yt & 0xff] ?? [-Infinity, Infinity];
      for (let q = 0; q < n; q++) {
        const c = qchannel(q, axisDim, inner, block, axisLen);
        const x = f32(ld(p[0]!, xt, q) / ld(p[1]!, xt, c));
        const toFloat = isFloatCode(yt & 0xff);
        let v = x;
        if (!toFloat) { v = Math.round(x); if (Math.abs(x % 1) === 0.5 && v % 2 !== 0) v -= 1; }
        if (p[2]) v = f32(v + ld(p[2], yt, c));
        st(p[3]!, yt, q, toFloat ? v : Math.min(Math.max(v, lo), hi));
      }
    },
    dequantize(i, _f, p) {
      const [n, axisDim, inner, xt, stp, block, axisLen] = i as [number, number, number, number, number, number, number];
      for (let q = 0; q < n; q++) {
        const c = qchannel(q, axisDim, inner, block, axisLen);
        let v = ld(p[0]!, xt, q);
        if (p[2]) v -= ld(p[2], xt, c);
        st(p[3]!, stp, q, f32(v * ld(p[1]!, stp, c)));
      }
    },
  };
}

function qchannel(i: number, axisDim: number, inner: number, block: number, axisLen: number): number {
  if (block > 0) return Math.floor(i / (inner * axisLen)) * axisDim * inner + Math.floor((Math.floor(i / inner) % axisLen) / block) * inner + (i % inner);
  return Math.floor(i / inner) % axisDim;
}

function reduceWith(red: number, a: number, b: number): number {
  switch (red) { case 1: return a + b; case 2: return a * b; case 3: return a >= b ? a : b; case 4: return a <= b ? a : b; default: return b; }
}

function elemOffset(k: number, dims: number[], ds: number[], axis: number, axisDim: number, idx: Ptr, it: number): number {
  let rem = k, off = 0;
  for (let d = dims.length - 1; d >= 0; d--) {
    const c = rem % dims[d]!; rem = Math.floor(rem / dims[d]!);
    if (d === axis) { let q = ld(idx, it, k); if (q < 0) q += axisDim; if (q < 0 || q >= axisDim) return -1; off += q * ds[d]!; } else off += c * ds[d]!;
  }
  return off;
}

function ndOffset(t: number, k: number, dims: number[], ds: number[], perBatch: number, batchStride: number, idx: Ptr, it: number): number {
  let off = Math.floor(t / perBatch) * batchStride;
  for (let q = 0; q < k; q++) { let v = ld(idx, it, t * k + q); if (v < 0) v += dims[q]!; if (v < 0 || v >= dims[q]!) return -1; off += v * ds[q]!; }
  return off;
}

function reduceValues(op: number, v: number[], c: (x: number) => number): number {
  const sum = (xs: number[]) => xs.reduce((a, b) => c(a + b), 0);
  switch (op) {
    case 0: return sum(v);
    case 1: return v.length ? sum(v) / v.length : NaN;
    case 2: return v.reduce((a, b) => (a >= b || a !== a ? a : b), -Infinity);
    case 3: return v.reduce((a, b) => (a <= b || a !== a ? a : b), Infinity);
    case 4: return v.reduce((a, b) => c(a * b), 1);
    case 5: return sum(v.map(Math.abs));
    case 6: return Math.sqrt(sum(v.map((x) => x * x)));
    case 7: return Math.log(sum(v));
    case 8: { const m = Math.max(...v, -Infinity); return m === -Infinity || m !== m ? m : m + Math.log(sum(v.map((x) => Math.exp(x - m)))); }
    case 9: return sum(v.map((x) => x * x));
    default: throw new Error(`unknown reduce op ${op}`);
  }
}

export const TYPED_KERNEL_NAMES = Object.keys(typedLaunchers([]));
export { isFloatCode };
