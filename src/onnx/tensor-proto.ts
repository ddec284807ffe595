/**
 * TensorProto <-> HostTensor. Handles raw_data and the typed fields, every dtype of dtype.ts,
 * packed 4-bit types, and external data through a reader supplied by the caller (so this module
 * never touches the file system and runs in browsers).
 */
import type { onnx } from 'onnx-proto';
import { pb } from './proto.js';
import { dtypeFromOnnx, onnxCodeOf, LOW_PRECISION_FLOATS, allocStorage, type DType, type NumericArray } from '../ir/dtype.js';
import { decodeLowp, encodeLowp } from '../ir/lowp.js';
import { HostTensor, sizeOf } from '../ir/tensor.js';
import { TwinferError } from '../errors.js';
import { toNum, type LongLike } from './long.js';

/** Reads `length` bytes (all when undefined) at `offset` of an external data file named relative to the model. */
export type ExternalReader = (location: string, offset: number, length: number | undefined) => Uint8Array;

/** Largest tensor twinfer accepts from a file: guards against absurd dims before allocating. */
const MAX_ELEMENTS = 2 ** 31 - 1;

const utf8 = new TextDecoder('utf-8');
const utf8enc = new TextEncoder();

export function checkDims(dims: readonly number[], what: string): void {
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new TwinferError('INVALID_MODEL', `${what}: invalid dim ${d}`);
    n *= d;
  }
  if (n > MAX_ELEMENTS) throw new TwinferError('INVALID_MODEL', `${what}: ${n} elements exceeds the supported maximum`);
}

export function tensorFromProto(p: onnx.ITensorProto, readExternal?: ExternalReader): HostTensor {
  const name = p.name ?? '';
  const what = `tensor '${name}'`;
  const dtype = dtypeFromOnnx(p.dataType ?? 0);
  if (!dtype) throw new TwinferError('UNSUPPORTED', `${what}: data type ${p.dataType} is not supported`);
  const dims = (p.dims ?? []).map((d) => toNum(d as LongLike));
  checkDims(dims, what);
  if (p.segment) throw new TwinferError('UNSUPPORTED', `${what}: segmented tensors are not supported`);
  const size = sizeOf(dims);

  let raw: Uint8Array | undefined = p.rawData && p.rawData.length > 0 ? p.rawData : undefined;
  if (p.dataLocation === pb.TensorProto.DataLocation.EXTERNAL) {
    const kv = new Map((p.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    const location = kv.get('location');
    if (!location) throw new TwinferError('EXTERNAL_DATA', `${what}: external data without a location`);
    if (!readExternal) throw new TwinferError('EXTERNAL_DATA', `${what}: external data '${location}' needs the model's folder (load the model from a path)`);
    const offset = kv.has('offset') ? Number(kv.get('offset')) : 0;
    const length = kv.has('length') ? Number(kv.get('length')) : undefined;
    if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && (!Number.isSafeInteger(length) || length < 0))) {
      throw new TwinferError('EXTERNAL_DATA', `${what}: invalid external data offset/length`);
    }
    raw = readExternal(location, offset, length);
  }

  if (dtype === 'string') {
    const strs = (p.stringData ?? []).map((b) => utf8.decode(b));
    if (strs.length !== size) throw new TwinferError('INVALID_MODEL', `${what}: ${size} elements declared, ${strs.length} strings given`);
    return new HostTensor('string', dims, strs);
  }
  const out = allocStorage(dtype, size) as NumericArray;
  if (raw) decodeRaw(dtype, raw, out, what);
  else decodeTyped(dtype, p, out, what);
  return new HostTensor(dtype, dims, out);
}

function expectBytes(raw: Uint8Array, n: number, what: string): void {
  if (raw.length !== n) throw new TwinferError('INVALID_MODEL', `${what}: raw data has ${raw.length} bytes, expected ${n}`);
}

function decodeRaw(dtype: DType, raw: Uint8Array, out: NumericArray, what: string): void {
  const n = out.length;
  const buf = new Uint8Array(raw).buffer; // aligned copy (Buffer.slice would share the pool)
  const dv = new DataView(buf);
  switch (dtype) {
    case 'float32': expectBytes(raw, n * 4, what); out.set(new Float32Array(buf)); return;
    case 'float64': expectBytes(raw, n * 8, what); out.set(new Float64Array(buf)); return;
    case 'int8': expectBytes(raw, n, what); out.set(new Int8Array(buf)); return;
    case 'uint8': case 'bool': expectBytes(raw, n, what); out.set(new Uint8Array(buf)); return;
    case 'int16': expectBytes(raw, n * 2, what); out.set(new Int16Array(buf)); return;
    case 'uint16': expectBytes(raw, n * 2, what); out.set(new Uint16Array(buf)); return;
    case 'int32': expectBytes(raw, n * 4, what); out.set(new Int32Array(buf)); return;
    case 'uint32': expectBytes(raw, n * 4, what); out.set(new Uint32Array(buf)); return;
    case 'int64': expectBytes(raw, n * 8, what); for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(i * 8, true)); return;
    case 'uint64': expectBytes(raw, n * 8, what); for (let i = 0; i < n; i++) out[i] = Number(dv.getBigUint64(i * 8, true)); return;
    case 'float16': case 'bfloat16':
      expectBytes(raw, n * 2, what);
      for (let i = 0; i < n; i++) out[i] = decodeLowp(dtype, dv.getUint16(i * 2, true));
      return;
    case 'int4': case 'uint4': case 'float4e2m1': case 'int2': case 'uint2':
      expectBytes(raw, Math.ceil(n / packing(dtype)), what);
      unpack(dtype, raw, out);
      return;
    default: // float8 variants
      expectBytes(raw, n, what);
      for (let i = 0; i < n; i++) out[i] = decodeLowp(dtype, raw[i]!);
  }
}

/** Elements per byte of the packed sub-byte types (1 for the rest). */
function packing(dtype: DType): number {
  return dtype === 'int4' || dtype === 'uint4' || dtype === 'float4e2m1' ? 2 : dtype === 'int2' || dtype === 'uint2' ? 4 : 1;
}

function unpack(dtype: DType, bytes: ArrayLike<number>, out: NumericArray): void {
  const per = packing(dtype), bits = 8 / per, mask = (1 << bits) - 1;
  for (let i = 0; i < out.length; i++) {
    const v = (bytes[Math.floor(i / per)]! >> ((i % per) * bits)) & mask;
    out[i] = dtype === 'int2' ? (v >= 2 ? v - 4 : v) : dtype === 'uint2' ? v : decodeNibble(dtype, v);
  }
}

function decodeNibble(dtype: DType, v: number): number {
  if (dtype === 'int4') return v >= 8 ? v - 16 : v;
  if (dtype === 'uint4') return v;
  return decodeLowp(dtype, v);
}

function decodeTyped(dtype: DType, p: onnx.ITensorProto, out: NumericArray, what: string): void {
  const n = out.length;
  const take = (src: ArrayLike<LongLike> | null | undefined, field: string, map: (x: number) => number = (x) => x): void => {
    const a = src ?? [];
    if (a.length !== n) throw new TwinferError('INVALID_MODEL', `${what}: ${n} elements declared, ${a.length} given in ${field}`);
    for (let i = 0; i < n; i++) out[i] = map(toNum(a[i]!));
  };
  switch (dtype) {
    case 'float32': take(p.floatData, 'float_data'); return;
    case 'float64': take(p.doubleData, 'double_data'); return;
    case 'int64': take(p.int64Data as LongLike[], 'int64_data'); return;
    case 'uint32': case 'uint64': take(p.uint64Data as LongLike[], 'uint64_data'); return;
    case 'float16': case 'bfloat16': take(p.int32Data, 'int32_data', (b) => decodeLowp(dtype, b & 0xffff)); return;
    case 'int4': case 'uint4': case 'float4e2m1': case 'int2': case 'uint2': {
      const a = p.int32Data ?? [];
      const need = Math.ceil(n / packing(dtype));
      if (a.length !== need) throw new TwinferError('INVALID_MODEL', `${what}: ${n} packed elements need ${need} int32_data entries, ${a.length} given`);
      unpack(dtype, a, out);
      return;
    }
    default:
      if (LOW_PRECISION_FLOATS.has(dtype)) take(p.int32Data, 'int32_data', (b) => decodeLowp(dtype, b & 0xff));
      else take(p.int32Data, 'int32_data');
  }
}

/** Encodes a HostTensor as a TensorProto with raw_data (strings in string_data). */
export function tensorToProto(t: HostTensor, name = ''): onnx.TensorProto {
  const p = new pb.TensorProto({ name, dims: t.dims.slice(), dataType: onnxCodeOf(t.dtype) });
  if (t.dtype === 'string') {
    p.stringData = (t.data as string[]).map((s) => utf8enc.encode(s));
    return p;
  }
  p.rawData = encodeRaw(t.dtype, t.data as NumericArray);
  return p;
}

function clampBig(x: number, lo: bigint, hi: bigint): bigint {
  if (Number.isNaN(x)) return 0n;
  if (x === Infinity) return hi;
  if (x === -Infinity) return lo;
  const b = BigInt(Math.trunc(x));
  return b < lo ? lo : b > hi ? hi : b;
}

export function encodeRaw(dtype: DType, d: NumericArray): Uint8Array {
  const n = d.length;
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
  switch (dtype) {
    case 'float32': return bytes(d instanceof Float32Array ? d : Float32Array.from(d));
    case 'float64': return bytes(d instanceof Float64Array ? d : Float64Array.from(d));
    case 'int8': return bytes(Int8Array.from(d));
    case 'uint8': case 'bool': return bytes(Uint8Array.from(d));
    case 'int16': return bytes(Int16Array.from(d));
    case 'uint16': return bytes(Uint16Array.from(d));
    case 'int32': return bytes(Int32Array.from(d));
    case 'uint32': return bytes(Uint32Array.from(d));
    // Float64 storage reads INT64_MAX back as 2^63: clamp so it does not wrap to INT64_MIN.
    case 'int64': { const a = new BigInt64Array(n); for (let i = 0; i < n; i++) a[i] = clampBig(d[i]!, -(2n ** 63n), 2n ** 63n - 1n); return bytes(a); }
    case 'uint64': { const a = new BigUint64Array(n); for (let i = 0; i < n; i++) a[i] = clampBig(d[i]!, 0n, 2n ** 64n - 1n); return bytes(a); }
    case 'float16': case 'bfloat16': { const a = new Uint16Array(n); for (let i = 0; i < n; i++) a[i] = encodeLowp(dtype, d[i]!); return bytes(a); }
    case 'int4': case 'uint4': case 'float4e2m1': case 'int2': case 'uint2': {
      const per = packing(dtype), bits = 8 / per, mask = (1 << bits) - 1;
      const a = new Uint8Array(Math.ceil(n / per));
      for (let i = 0; i < n; i++) {
        const v = dtype === 'float4e2m1' ? encodeLowp(dtype, d[i]!) : d[i]! & mask;
        a[Math.floor(i / per)]! |= v << ((i % per) * bits);
      }
      return a;
    }
    case 'string': throw new Error('encodeRaw: strings have no raw encoding');
    default: { const a = new Uint8Array(n); for (let i = 0; i < n; i++) a[i] = encodeLowp(dtype, d[i]!); return a; }
  }
}
