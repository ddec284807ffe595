/**
 * The public Tensor, modelled on onnxruntime-common's so code ports: `new Tensor(type, data, dims)`.
 * Data conventions follow onnxruntime-web: int64/uint64 as BigInt64Array/BigUint64Array,
 * float16 and bfloat16 as Uint16Array bit patterns, bool as Uint8Array, string as string[].
 */
import { allocStorage, type DType, type NumericArray } from '../ir/dtype.js';
import { decodeLowp, encodeLowp } from '../ir/lowp.js';
import { HostTensor, sizeOf } from '../ir/tensor.js';
import { TwinferError } from '../errors.js';
import { acquireGpu } from '../../backends/webgpu/device.js';
import { fromGpuBytes } from '../../backends/webgpu/tensor.js';

export type TensorType =
  | 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int8' | 'uint8' | 'int16' | 'uint16'
  | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool' | 'string';

export type TensorData =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array
  | Uint32Array | BigInt64Array | BigUint64Array | string[];

const CTORS: Record<TensorType, new (n: number) => ArrayLike<unknown>> = {
  float32: Float32Array, float64: Float64Array, float16: Uint16Array, bfloat16: Uint16Array,
  int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array,
  uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array,
  string: Array as unknown as new (n: number) => string[],
};

function inferType(data: unknown): TensorType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof BigUint64Array) return 'uint64';
  if (Array.isArray(data) && data.every((x) => typeof x === 'string')) return 'string';
  throw new TwinferError('INVALID_ARGUMENT', 'Tensor: cannot infer the type of this data');
}

/**
 * Where a tensor's data lives: host memory, a WebGPU buffer (onnxruntime-web's names), or CUDA
 * device memory of twinfer's native backend ('cuda').
 */
export type TensorLocation = 'cpu' | 'gpu-buffer' | 'cuda';

/**
 * Where a 'cuda' tensor's bytes are: a buffer of twinfer's CUDA context (an id, not a pointer) and
 * the byte range, in the native backend's device form of `dtype` (backends/native/tensor.ts). Made
 * by twinfer (a CUDA session's outputs with preferredOutputLocation 'cuda', or cudaTensor()).
 */
export interface CudaBufferRef {
  readonly buffer: number;
  readonly byteOffset: number;
  readonly bytes: number;
  /** The element type of the device form (twinfer's dtype name). */
  readonly dtype: string;
}

/** Tensor.fromCudaBuffer's options. */
export interface CudaBufferTensorOptions {
  dataType: TensorType;
  dims: readonly number[];
  /** Frees the device buffer (called once, by dispose()). */
  dispose: () => void;
  /** Reads the data to the host. */
  download: () => Promise<TensorData>;
}

/** Tensor.fromGpuBuffer's options (as onnxruntime-web's). */
export interface GpuBufferTensorOptions {
  dataType: TensorType;
  dims: readonly number[];
  /** Called by dispose() (twinfer's outputs give their buffer back to the session's pool). */
  dispose?: () => void;
  /** Reads the data to the host; default: a copy through twinfer's WebGPU device. */
  download?: () => Promise<TensorData>;
}

interface GpuData { buffer: GPUBuffer; dispose?: (() => void) | undefined; download?: (() => Promise<TensorData>) | undefined }
interface CudaData { ref: CudaBufferRef; dispose: () => void; download: () => Promise<TensorData> }

export class Tensor {
  readonly type: TensorType;
  readonly dims: readonly number[];
  private cpuData: TensorData | undefined;
  private gpu: GpuData | undefined;
  private cuda: CudaData | undefined;

  constructor(type: TensorType, data: TensorData | readonly number[] | readonly boolean[] | readonly bigint[], dims?: readonly number[]);
  constructor(data: TensorData, dims?: readonly number[]);
  constructor(a: TensorType | TensorData, b?: unknown, c?: readonly number[]) {
    let type: TensorType, data: unknown, dims: readonly number[] | undefined;
    if (typeof a === 'string') { type = a; data = b; dims = c; } else { type = inferType(a); data = a; dims = b as readonly number[] | undefined; }
    if (!Object.prototype.hasOwnProperty.call(CTORS, type)) throw new TwinferError('INVALID_ARGUMENT', `Tensor: unknown type '${type}'`);
    if (Array.isArray(data) && type !== 'string') data = toTypedArray(type, data);
    const len = (data as ArrayLike<unknown>).length;
    dims ??= [len];
    for (const d of dims) if (!Number.isSafeInteger(d) || d < 0) throw new TwinferError('INVALID_ARGUMENT', `Tensor: invalid dim ${d}`);
    if (sizeOf(dims) !== len) throw new TwinferError('INVALID_ARGUMENT', `Tensor: dims [${dims.join(',')}] need ${sizeOf(dims)} elements, data has ${len}`);
    const want = CTORS[type];
    if (type === 'string' ? !Array.isArray(data) : !(data instanceof want)) {
      throw new TwinferError('INVALID_ARGUMENT', `Tensor: ${type} data must be a ${type === 'string' ? 'string[]' : want.name}`);
    }
    this.type = type;
    this.cpuData = data as TensorData;
    this.dims = dims.slice();
  }

  get size(): number { return sizeOf(this.dims); }

  /** Whether host data is at hand (always for cpu tensors; after getData() for GPU ones). */
  get hasHostData(): boolean { return this.cpuData !== undefined; }

  get location(): TensorLocation { return this.gpu ? 'gpu-buffer' : this.cuda ? 'cuda' : 'cpu'; }

  /** The host data; a tensor on the GPU has none until getData() read it. */
  get data(): TensorData {
    if (this.cpuData === undefined) {
      const where = this.gpu ? 'in a GPU buffer: await tensor.getData()' : this.cuda ? 'in CUDA memory: await tensor.getData()' : 'disposed';
      throw new TwinferError('INVALID_ARGUMENT', `Tensor: the data is ${where}`);
    }
    return this.cpuData;
  }

  /** Where the bytes of a tensor whose location is 'cuda' are. */
  get cudaBuffer(): CudaBufferRef {
    if (!this.cuda) throw new TwinferError('INVALID_ARGUMENT', `Tensor: not in CUDA memory (location is ${this.location})`);
    return this.cuda.ref;
  }

  /** The GPUBuffer of a tensor whose location is 'gpu-buffer'. */
  get gpuBuffer(): GPUBuffer {
    if (!this.gpu) throw new TwinferError('INVALID_ARGUMENT', 'Tensor: not on the GPU (location is cpu)');
    return this.gpu.buffer;
  }

  /**
   * The data on the host: downloaded (once) from the GPU buffer when the tensor lives there.
   * `releaseData`: dispose the GPU buffer after the download.
   */
  async getData(releaseData = false): Promise<TensorData> {
    if (this.cpuData === undefined && this.gpu) {
      this.cpuData = this.gpu.download ? await this.gpu.download() : await downloadGpuTensor(this);
      if (releaseData) this.dispose();
    } else if (this.cpuData === undefined && this.cuda) {
      this.cpuData = await this.cuda.download();
      if (releaseData) this.dispose();
    }
    return this.data;
  }

  /** Gives the GPU buffer back (twinfer outputs: to the session's pool, CUDA buffers: freed); the host copy, if any, stays. */
  dispose(): void {
    const g = this.gpu, c = this.cuda;
    this.gpu = undefined;
    this.cuda = undefined;
    g?.dispose?.();
    c?.dispose();
  }

  /**
   * A tensor over a buffer of twinfer's CUDA context (made by twinfer: see CudaBufferRef); CUDA
   * sessions take it as a feed without a host round trip, others download it first.
   */
  static fromCudaBuffer(ref: CudaBufferRef, options: CudaBufferTensorOptions): Tensor {
    const { dataType, dims } = options;
    if (!Object.prototype.hasOwnProperty.call(CTORS, dataType) || dataType === 'string') throw new TwinferError('INVALID_ARGUMENT', `Tensor.fromCudaBuffer: type '${dataType}' cannot live in CUDA memory`);
    for (const d of dims) if (!Number.isSafeInteger(d) || d < 0) throw new TwinferError('INVALID_ARGUMENT', `Tensor: invalid dim ${d}`);
    const t = Object.create(Tensor.prototype) as Tensor;
    Object.assign(t, { type: dataType, dims: dims.slice(), cpuData: undefined, gpu: undefined, cuda: { ref: { ...ref }, dispose: options.dispose, download: options.download } });
    return t;
  }

  /**
   * A tensor over a WebGPU buffer (onnxruntime-web's Tensor.fromGpuBuffer), accepted as a feed by
   * sessions running on WebGPU without a host round trip. The buffer must come from twinfer's
   * device (`webgpuDevice()`), have STORAGE and COPY_SRC usage, and hold 4-byte elements: f32 for
   * float types, i32 for signed and u32 for unsigned integers and bool (int64 as i32).
   */
  static fromGpuBuffer(buffer: GPUBuffer, options: GpuBufferTensorOptions): Tensor {
    const { dataType, dims } = options;
    if (!Object.prototype.hasOwnProperty.call(CTORS, dataType) || dataType === 'string') throw new TwinferError('INVALID_ARGUMENT', `Tensor.fromGpuBuffer: type '${dataType}' cannot live in a GPU buffer`);
    for (const d of dims) if (!Number.isSafeInteger(d) || d < 0) throw new TwinferError('INVALID_ARGUMENT', `Tensor: invalid dim ${d}`);
    if (typeof buffer?.size !== 'number') throw new TwinferError('INVALID_ARGUMENT', 'Tensor.fromGpuBuffer: not a GPUBuffer');
    if (buffer.size < sizeOf(dims) * 4) throw new TwinferError('INVALID_ARGUMENT', `Tensor.fromGpuBuffer: ${buffer.size} bytes cannot hold ${sizeOf(dims)} 4-byte elements`);
    const t = Object.create(Tensor.prototype) as Tensor;
    Object.assign(t, { type: dataType, dims: dims.slice(), cpuData: undefined, gpu: { buffer, dispose: options.dispose, download: options.download } });
    return t;
  }
}

/** Reads a GPU tensor through twinfer's device (4-byte elements, converted to the public storage). */
async function downloadGpuTensor(t: Tensor): Promise<TensorData> {
  const { device } = await acquireGpu();
  const bytes = Math.max(16, t.size * 4);
  const rb = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  if (t.size > 0) enc.copyBufferToBuffer(t.gpuBuffer, 0, rb, 0, t.size * 4);
  device.queue.submit([enc.finish()]);
  await rb.mapAsync(GPUMapMode.READ);
  const h = fromGpuBytes(t.type as DType, t.dims, rb.getMappedRange().slice(0));
  rb.unmap();
  rb.destroy();
  return fromHostTensor(h).data;
}

function toTypedArray(type: TensorType, values: readonly unknown[]): TensorData {
  const Ctor = CTORS[type] as unknown as { from(v: ArrayLike<unknown>, f?: (x: unknown) => unknown): TensorData };
  if (type === 'int64' || type === 'uint64') return Ctor.from(values, (x) => BigInt(x as number));
  if (type === 'bool') return Ctor.from(values, (x) => (x ? 1 : 0));
  return Ctor.from(values, (x) => Number(x));
}

/** Public Tensor -> internal HostTensor (copies where the storage differs). */
export function toHostTensor(t: Tensor): HostTensor {
  const dtype = t.type as DType;
  if (t.location === 'gpu-buffer' && !t.hasHostData) throw new TwinferError('INVALID_ARGUMENT', 'Tensor: the data is in a GPU buffer: await tensor.getData() first');
  if (t.location === 'cuda' && !t.hasHostData) throw new TwinferError('INVALID_ARGUMENT', 'Tensor: the data is in CUDA memory: await tensor.getData() first');
  if (t.type === 'string') return new HostTensor('string', t.dims, (t.data as string[]).slice());
  const n = t.size;
  const out = allocStorage(dtype, n) as NumericArray;
  const src = t.data as ArrayLike<number | bigint>;
  if (t.type === 'float16' || t.type === 'bfloat16') {
    for (let i = 0; i < n; i++) out[i] = decodeLowp(dtype, Number(src[i]));
  } else if (t.type === 'bool') {
    for (let i = 0; i < n; i++) out[i] = src[i] ? 1 : 0;
  } else if (t.type === 'int64' || t.type === 'uint64') {
    for (let i = 0; i < n; i++) out[i] = Number(src[i]);
  } else {
    out.set(src as ArrayLike<number>);
  }
  return new HostTensor(dtype, t.dims, out);
}

/** The public type an internal dtype reads back as: fromHostTensor's widening (float8 -> float32, int4 -> int8). */
export function publicTypeOf(dtype: DType): TensorType {
  if (dtype.startsWith('float8') || dtype === 'float4e2m1') return 'float32';
  if (dtype === 'int4' || dtype === 'int2') return 'int8';
  if (dtype === 'uint4' || dtype === 'uint2') return 'uint8';
  return dtype as TensorType;
}

/** Internal HostTensor -> public Tensor. Types without a public form (float8, int4) are widened. */
export function fromHostTensor(h: HostTensor): Tensor {
  const n = h.size;
  switch (h.dtype) {
    case 'string': return new Tensor('string', (h.data as string[]).slice(), h.dims);
    // Float64 storage reads INT64_MAX back as 2^63: clamp so it does not wrap.
    case 'int64': return new Tensor('int64', BigInt64Array.from(h.data as Float64Array, (x) => BigInt.asIntN(64, x >= 2 ** 63 ? 2n ** 63n - 1n : BigInt(Math.trunc(x)))), h.dims);
    case 'uint64': return new Tensor('uint64', BigUint64Array.from(h.data as Float64Array, (x) => (x >= 2 ** 64 ? 2n ** 64n - 1n : BigInt(Math.trunc(Math.max(0, x))))), h.dims);
    case 'float16': case 'bfloat16': {
      const bits = new Uint16Array(n);
      const d = h.data as Float32Array;
      for (let i = 0; i < n; i++) bits[i] = encodeLowp(h.dtype, d[i]!);
      return new Tensor(h.dtype, bits, h.dims);
    }
    case 'float8e4m3fn': case 'float8e4m3fnuz': case 'float8e5m2': case 'float8e5m2fnuz': case 'float8e8m0': case 'float4e2m1':
      return new Tensor('float32', Float32Array.from(h.data as Float32Array), h.dims);
    case 'int4': case 'int2': return new Tensor('int8', Int8Array.from(h.data as Int8Array), h.dims);
    case 'uint4': case 'uint2': return new Tensor('uint8', Uint8Array.from(h.data as Uint8Array), h.dims);
    default: return new Tensor(h.dtype as TensorType, h.data as TensorData, h.dims);
  }
}
