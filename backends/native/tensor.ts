/**
 * Tensors in CUDA device memory: a buffer of the native context and a byte offset into it (the
 * binding form of the static program, where the buffer is the arena or a weight). The first kernels
 * are f32 only, so every device tensor is float32; other dtypes stay on the host and their nodes
 * fall back (the partitioner asks backends/native/support.ts).
 */
import type { DType } from '../../src/ir/dtype.js';
import { sizeOf } from '../../src/ir/tensor.js';

export class CudaTensor {
  readonly size: number;
  constructor(
    readonly buffer: number,
    readonly dtype: DType,
    readonly dims: readonly number[],
    readonly byteOffset = 0,
  ) {
    this.size = sizeOf(dims);
  }
  get bytes(): number { return this.size * 4; }
}
