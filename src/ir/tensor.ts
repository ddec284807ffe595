/** A tensor in host memory: the unit every CPU kernel consumes and produces. */
import { allocStorage, type DType, type NumericArray, type TensorStorage } from './dtype.js';

export class HostTensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: TensorStorage;

  constructor(dtype: DType, dims: readonly number[], data?: TensorStorage) {
    const size = sizeOf(dims);
    this.dtype = dtype;
    this.dims = dims.slice();
    this.data = data ?? allocStorage(dtype, size);
    if (this.data.length !== size) {
      throw new Error(`HostTensor: ${dtype}[${dims.join(',')}] needs ${size} elements, got ${this.data.length}`);
    }
  }

  get size(): number { return this.data.length; }
  get rank(): number { return this.dims.length; }

  /** The storage as numbers; throws for string tensors. */
  get numbers(): NumericArray {
    if (Array.isArray(this.data)) throw new Error('HostTensor: string tensor has no numeric data');
    return this.data as NumericArray;
  }

  /** Same data, other dims (no copy). */
  reshape(dims: readonly number[]): HostTensor {
    return new HostTensor(this.dtype, dims, this.data);
  }

  /** Scalar or element i as a number (int64 stored as float64). */
  num(i = 0): number {
    return Number(this.data[i]);
  }

  /** All elements as a plain number array (for small tensors: shapes, axes, pads). */
  toNumberArray(): number[] {
    return Array.from(this.data as ArrayLike<number>, Number);
  }

  static scalar(dtype: DType, value: number): HostTensor {
    const t = new HostTensor(dtype, []);
    (t.data as NumericArray)[0] = value;
    return t;
  }

  static fromNumbers(dtype: DType, dims: readonly number[], values: ArrayLike<number>): HostTensor {
    const t = new HostTensor(dtype, dims);
    (t.data as NumericArray).set(values);
    return t;
  }
}

export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Row-major strides of `dims`. */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) { s[i] = acc; acc *= dims[i]!; }
  return s;
}
