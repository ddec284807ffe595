/**
 * Element types and how tensors of each type are stored in memory.
 *
 * Storage is chosen so that every CPU kernel works on plain JS numbers:
 * - low-precision floats (float16, bfloat16, float8*, float4e2m1) live in a Float32Array whose
 *   values are already rounded to the type (decode at import, encode at export), so a kernel
 *   computes in float32 and the executor rounds its result back to the declared type;
 * - int64/uint64 live in a Float64Array: exact for |x| <= 2^53, which covers indices, shapes and
 *   every value the op set produces in practice; the API converts to/from BigInt64Array;
 * - int4/uint4/int2/uint2 are unpacked to one element per byte; bool is a Uint8Array of 0/1.
 */

export type DType =
  | 'float32' | 'float64' | 'float16' | 'bfloat16'
  | 'float8e4m3fn' | 'float8e4m3fnuz' | 'float8e5m2' | 'float8e5m2fnuz' | 'float8e8m0' | 'float4e2m1'
  | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64'
  | 'int4' | 'uint4' | 'int2' | 'uint2'
  | 'bool' | 'string';

export type NumericArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array;

export type TensorStorage = NumericArray | string[];

/** ONNX TensorProto.DataType codes. */
const ONNX_CODES: Record<number, DType> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64',
  8: 'string', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64',
  16: 'bfloat16', 17: 'float8e4m3fn', 18: 'float8e4m3fnuz', 19: 'float8e5m2', 20: 'float8e5m2fnuz',
  21: 'uint4', 22: 'int4', 23: 'float4e2m1', 24: 'float8e8m0', 25: 'uint2', 26: 'int2',
};
const CODE_OF: Record<DType, number> = Object.fromEntries(
  Object.entries(ONNX_CODES).map(([k, v]) => [v, Number(k)]),
) as Record<DType, number>;

/** Maps an ONNX data type code to a DType, or undefined when twinfer has no such type (complex). */
export function dtypeFromOnnx(code: number): DType | undefined {
  return ONNX_CODES[code];
}

export function onnxCodeOf(dtype: DType): number {
  return CODE_OF[dtype];
}

export const FLOAT_TYPES: ReadonlySet<DType> = new Set<DType>([
  'float32', 'float64', 'float16', 'bfloat16',
  'float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz', 'float8e8m0', 'float4e2m1',
]);
/** Float types stored in a Float32Array but narrower than float32 (results must be rounded). */
export const LOW_PRECISION_FLOATS: ReadonlySet<DType> = new Set<DType>([
  'float16', 'bfloat16', 'float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz', 'float8e8m0', 'float4e2m1',
]);
export const INT_TYPES: ReadonlySet<DType> = new Set<DType>([
  'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'int4', 'uint4', 'int2', 'uint2',
]);
export const SIGNED_INT_TYPES: ReadonlySet<DType> = new Set<DType>(['int8', 'int16', 'int32', 'int64', 'int4', 'int2']);

export function isFloat(t: DType): boolean { return FLOAT_TYPES.has(t); }
export function isInt(t: DType): boolean { return INT_TYPES.has(t); }
export function isNumeric(t: DType): boolean { return t !== 'string'; }

/** Creates zero-filled storage for `size` elements of `dtype`. */
export function allocStorage(dtype: DType, size: number): TensorStorage {
  switch (dtype) {
    case 'float32': case 'float16': case 'bfloat16': case 'float8e4m3fn': case 'float8e4m3fnuz':
    case 'float8e5m2': case 'float8e5m2fnuz': case 'float8e8m0': case 'float4e2m1':
      return new Float32Array(size);
    case 'float64': case 'int64': case 'uint64': return new Float64Array(size);
    case 'int8': case 'int4': case 'int2': return new Int8Array(size);
    case 'uint8': case 'uint4': case 'uint2': case 'bool': return new Uint8Array(size);
    case 'int16': return new Int16Array(size);
    case 'uint16': return new Uint16Array(size);
    case 'int32': return new Int32Array(size);
    case 'uint32': return new Uint32Array(size);
    case 'string': return new Array<string>(size).fill('');
  }
}

/** Bytes per element in ONNX's raw_data encoding (int4/uint4/float4 are packed two per byte: 0.5). */
export function onnxElementBytes(dtype: DType): number {
  switch (dtype) {
    case 'float64': case 'int64': case 'uint64': return 8;
    case 'float32': case 'int32': case 'uint32': return 4;
    case 'float16': case 'bfloat16': case 'int16': case 'uint16': return 2;
    case 'int4': case 'uint4': case 'float4e2m1': return 0.5;
    case 'int2': case 'uint2': return 0.25;
    case 'string': return 0;
    default: return 1;
  }
}

/** Value range of integer types, for saturation and validation. */
export function intRange(dtype: DType): [number, number] {
  switch (dtype) {
    case 'int8': return [-128, 127];
    case 'uint8': return [0, 255];
    case 'int16': return [-32768, 32767];
    case 'uint16': return [0, 65535];
    case 'int32': return [-2147483648, 2147483647];
    case 'uint32': return [0, 4294967295];
    case 'int64': return [-9223372036854775808, 9223372036854775807];
    case 'uint64': return [0, 18446744073709551615];
    case 'int4': return [-8, 7];
    case 'uint4': return [0, 15];
    case 'int2': return [-2, 1];
    case 'uint2': return [0, 3];
    case 'bool': return [0, 1];
    default: throw new Error(`intRange: ${dtype} is not an integer type`);
  }
}
