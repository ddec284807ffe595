/** Host tensors as TensorRT weight bytes (float16 / bfloat16 as their bits, int64 as 8-byte integers, bool as bytes). */
import type { DType } from '../../src/ir/dtype.js';
import { f32ToBf16Bits, f32ToF16Bits } from '../../src/ir/lowp.js';
import type { HostTensor } from '../../src/ir/tensor.js';
import { trtDType, unsupported } from './map-context.js';
import type { TrtDType } from './network.js';

/** The bytes of `t` stored as `as` (a float32 tensor may be stored as half: the fp16 network). */
export function weightBytes(t: HostTensor, as?: DType): { dtype: TrtDType; data: ArrayBufferView } {
  const target = as ?? t.dtype;
  const src = t.data as ArrayLike<number>;
  if (Array.isArray(t.data)) unsupported('string constants');
  if ((t.dtype === 'float32' || t.dtype === 'float16' || t.dtype === 'bfloat16') && (target === 'float16' || target === 'bfloat16')) {
    const enc = target === 'float16' ? f32ToF16Bits : f32ToBf16Bits;
    return { dtype: trtDType(target), data: Uint16Array.from(src, (v) => enc(v)) };
  }
  if (target !== t.dtype) unsupported(`${t.dtype} weights stored as ${target}`);
  switch (t.dtype) {
    case 'float32': return { dtype: 'float', data: t.data instanceof Float32Array ? t.data : Float32Array.from(src) };
    case 'int8': return { dtype: 'int8', data: Int8Array.from(src) };
    case 'uint8': return { dtype: 'uint8', data: Uint8Array.from(src) };
    case 'bool': return { dtype: 'bool', data: Uint8Array.from(src) };
    case 'int32': return { dtype: 'int32', data: Int32Array.from(src) };
    case 'int64': return { dtype: 'int64', data: BigInt64Array.from(Array.from(src, (v) => BigInt(Math.trunc(v)))) };
    default: return unsupported(`TensorRT has no ${t.dtype} weights`);
  }
}
