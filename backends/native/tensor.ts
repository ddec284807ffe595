/**
 * Tensors in CUDA device memory: a buffer of the native context and a byte offset into it (the
 * binding form of the static program, where the buffer is the arena or a weight).
 *
 * Device forms (native/src/dtype.cuh): float32, and float16 / bfloat16 as float32 holding values
 * already rounded to the type (the host representation, so their upload is a plain copy; typed
 * kernels round on every store); float64 8 bytes; int8 / uint8 / bool 1; int16 / uint16 2;
 * int32 / uint32 4; int64 / uint64 as real 64-bit integers (the host's Float64Array is converted at
 * upload and download); float8 / float4e2m1 as float32 on their grid and int4 / uint4 / int2 / uint2
 * as one byte (the host's unpacked storage). string and float8e8m0 have no device form: their nodes
 * fall back (backends/native/support.ts says why).
 *
 * The packed form (`packed`, float16 only): 2-byte halves in NHWC (channels-last) order, the layout
 * of cuDNN's fp16 tensor-core convolutions (native/src/nhwc.cu). Dims stay the logical NCHW ones.
 * Only kernels that list an input in `packedInputs` (kernel.ts) see it; the executor converts it
 * to the plain form for every other reader, download and output.
 */
import type { DType } from '../../src/ir/dtype.js';
import { onnxCodeOf } from '../../src/ir/dtype.js';
import { HostTensor, sizeOf } from '../../src/ir/tensor.js';

const SIZES: Partial<Record<DType, number>> = {
  float32: 4, float16: 4, bfloat16: 4, float64: 8, int8: 1, uint8: 1, bool: 1, int16: 2, uint16: 2,
  int32: 4, uint32: 4, int64: 8, uint64: 8,
  float8e4m3fn: 4, float8e4m3fnuz: 4, float8e5m2: 4, float8e5m2fnuz: 4, float4e2m1: 4,
  int4: 1, uint4: 1, int2: 1, uint2: 1,
};

/** Bytes per element on the device, undefined when the dtype has no device form. */
export function deviceElemSize(dtype: DType): number | undefined {
  return SIZES[dtype];
}

/** The ONNX type code the typed kernels take (checked: throws for a dtype with no device form). */
export function typeCode(dtype: DType): number {
  if (!SIZES[dtype]) throw new Error(`${dtype} has no CUDA device form`);
  return onnxCodeOf(dtype);
}

export class CudaTensor {
  readonly size: number;
  constructor(
    readonly buffer: number,
    readonly dtype: DType,
    readonly dims: readonly number[],
    readonly byteOffset = 0,
    readonly packed = false,
  ) {
    this.size = sizeOf(dims);
    if (packed && (dtype !== 'float16' || dims.length !== 4)) throw new Error(`the packed form is float16 NCHW only, not ${dtype} [${dims.join(',')}]`);
  }
  get elemSize(): number { return this.packed ? 2 : SIZES[this.dtype] ?? 4; }
  get bytes(): number { return this.size * this.elemSize; }
}

/** Host storage as the bytes the device holds (int64 / uint64 become real 64-bit integers). */
export function toDeviceArray(h: HostTensor): ArrayBufferView {
  if (!SIZES[h.dtype]) throw new Error(`cannot upload ${h.dtype}: it has no CUDA device form`);
  const d = h.data as ArrayLike<number>;
  if (h.dtype === 'int64') return BigInt64Array.from(d as Float64Array, (v) => BigInt(Number.isFinite(v) ? Math.trunc(v) : 0));
  if (h.dtype === 'uint64') return BigUint64Array.from(d as Float64Array, (v) => BigInt(Number.isFinite(v) && v >= 0 ? Math.trunc(v) : 0));
  return h.data as ArrayBufferView;
}

/** Device bytes back to host storage of `dtype`. */
export function fromDeviceBytes(dtype: DType, dims: readonly number[], bytes: ArrayBuffer): HostTensor {
  const t = new HostTensor(dtype, dims);
  const n = t.size;
  if (n === 0) return t;
  const o = t.data as Float64Array;
  switch (dtype) {
    case 'int64': { const s = new BigInt64Array(bytes, 0, n); for (let i = 0; i < n; i++) o[i] = Number(s[i]!); break; }
    case 'uint64': { const s = new BigUint64Array(bytes, 0, n); for (let i = 0; i < n; i++) o[i] = Number(s[i]!); break; }
    default: {
      const Ctor = (t.data as unknown as { constructor: new (b: ArrayBuffer, o: number, n: number) => ArrayLike<number> }).constructor;
      (t.data as unknown as { set(a: ArrayLike<number>): void }).set(new Ctor(bytes, 0, n));
    }
  }
  return t;
}
