/**
 * Tensors in GPU memory. Every element is 4 bytes on the GPU, whatever the model's dtype:
 * float types as f32, signed integers (int8..int64) as i32, unsigned and bool as u32. int64 is
 * truncated to 32 bits (as onnxruntime-web does): indices, shapes and counts fit. float8/float4 live
 * as f32 holding values on their grid, int4/int2 as i32 and uint4/uint2 as u32 (their host storage
 * is unpacked too). Types that cannot live on the GPU (string, float8e8m0) make a node fall back.
 */
import type { DType, NumericArray } from '../../src/ir/dtype.js';
import { allocStorage, LOW_PRECISION_FLOATS } from '../../src/ir/dtype.js';
import { roundArrayToDtype } from '../../src/ir/lowp.js';
import { HostTensor, sizeOf } from '../../src/ir/tensor.js';

export type GpuElem = 'f32' | 'i32' | 'u32';

export function gpuElemOf(dtype: DType): GpuElem | undefined {
  switch (dtype) {
    case 'float32': case 'float16': case 'bfloat16': case 'float64':
    case 'float8e4m3fn': case 'float8e4m3fnuz': case 'float8e5m2': case 'float8e5m2fnuz': case 'float4e2m1': return 'f32';
    case 'int8': case 'int16': case 'int32': case 'int64': case 'int4': case 'int2': return 'i32';
    case 'uint8': case 'uint16': case 'uint32': case 'uint64': case 'bool': case 'uint4': case 'uint2': return 'u32';
    default: return undefined;
  }
}

export class GpuTensor {
  readonly size: number;
  /**
   * A host copy a kernel already has (values it computed on the host, e.g. Shape, Range): the
   * executor keeps it beside the GPU buffer so host readers need no readback.
   */
  host?: HostTensor;
  constructor(
    readonly buffer: GPUBuffer,
    readonly dtype: DType,
    readonly dims: readonly number[],
  ) {
    this.size = sizeOf(dims);
  }
  get elem(): GpuElem { return gpuElemOf(this.dtype)!; }
  get bytes(): number { return this.size * 4; }
}

/** Host data as the 4-byte array the GPU holds. */
export function toGpuArray(t: HostTensor): Float32Array | Int32Array | Uint32Array {
  const src = t.data as NumericArray;
  const elem = gpuElemOf(t.dtype);
  if (elem === 'f32') return src instanceof Float32Array ? src : Float32Array.from(src);
  if (elem === 'i32') {
    if (src instanceof Int32Array) return src;
    const out = new Int32Array(src.length);
    for (let i = 0; i < src.length; i++) { const v = src[i]!; out[i] = v > 2147483647 ? 2147483647 : v < -2147483648 ? -2147483648 : v; }
    return out;
  }
  if (elem === 'u32') return src instanceof Uint32Array ? src : Uint32Array.from(src, (v) => (v > 4294967295 ? 4294967295 : v));
  throw new Error(`dtype ${t.dtype} cannot live on the GPU`);
}

/** The GPU's 4-byte elements back to host storage of `dtype` (rounding narrow floats). */
export function fromGpuBytes(dtype: DType, dims: readonly number[], bytes: ArrayBuffer): HostTensor {
  const n = sizeOf(dims);
  const elem = gpuElemOf(dtype);
  const view = elem === 'f32' ? new Float32Array(bytes, 0, n) : elem === 'i32' ? new Int32Array(bytes, 0, n) : new Uint32Array(bytes, 0, n);
  if (dtype === 'float32' || dtype === 'int32' || dtype === 'uint32') return new HostTensor(dtype, dims, view.slice());
  const out = allocStorage(dtype, n) as NumericArray;
  if (dtype === 'bool') for (let i = 0; i < n; i++) out[i] = view[i] ? 1 : 0;
  else out.set(view);
  if (LOW_PRECISION_FLOATS.has(dtype)) roundArrayToDtype(dtype, out as Float32Array);
  return new HostTensor(dtype, dims, out);
}
