/**
 * Tensors in CUDA memory (location 'cuda'; onnxruntime's IO binding, in small): a CUDA session's
 * outputs with preferredOutputLocation 'cuda' stay on the GPU, and a CUDA session takes such tensors
 * as feeds without a host round trip (copied device to device into the run's buffers). cudaTensor()
 * puts host data there once, for inputs reused across runs. Each tensor holds a buffer of its own
 * (backends/native/exec-context.ts deviceOutputBuffers), given back by dispose() or when the tensor
 * is garbage-collected. Transfers of these tensors (cudaTensor's upload, getData's download) run on
 * a stream of their own, so they never queue between another run's launches and downloads.
 */
import { TwinferError } from '../errors.js';
import type { DType } from '../ir/dtype.js';
import { acquireCuda, type CudaContext } from '../../backends/native/device.js';
import { CudaTensor, fromDeviceBytes, toDeviceArray } from '../../backends/native/tensor.js';
import { StreamLock, canFork, deviceOutputBuffers, downloadFrom } from '../../backends/native/exec-context.js';
import type { NativeContext } from '../../backends/native/addon.js';
import type { NativeExecutor } from '../../backends/native/executor.js';
import { Tensor, fromHostTensor, publicTypeOf, toHostTensor } from './tensor.js';

/** The transfer stream: a fork of the process context (same buffers), one per process, one transfer at a time. */
const transfers = new WeakMap<NativeContext, { native: NativeContext; lock: StreamLock }>();
async function onTransferStream<T>(cuda: CudaContext, f: (x: NativeContext) => Promise<T>): Promise<T> {
  let t = transfers.get(cuda.native);
  if (!t) {
    if (!canFork(cuda.native) || typeof cuda.native.copy !== 'function') {
      throw new TwinferError('UNSUPPORTED', 'CUDA-resident tensors need an addon with fork() and copy(): rebuild it (npm run build:native)');
    }
    transfers.set(cuda.native, (t = { native: cuda.native.fork!(), lock: new StreamLock() }));
  }
  const { native, lock } = t;
  await lock.take();
  try {
    return await f(native);
  } finally {
    lock.release();
  }
}

/** What a dropped tensor gives back (no reference to the tensor itself). */
interface Held { cuda: CudaContext; buffer: number; bytes: number; live: boolean }
const collected = new FinalizationRegistry<Held>((h) => giveBack(h));
function giveBack(h: Held): void {
  if (!h.live) return;
  h.live = false;
  deviceOutputBuffers(h.cuda.native).give(h.buffer, h.bytes);
}

/** Wraps a buffer of deviceOutputBuffers (a run's output in CUDA memory, or an upload) as a 'cuda' Tensor that owns it. */
export function wrapCudaTensor(cuda: CudaContext, t: CudaTensor): Tensor {
  const held: Held = { cuda, buffer: t.buffer, bytes: t.bytes, live: true };
  const tensor = Tensor.fromCudaBuffer({ buffer: t.buffer, byteOffset: t.byteOffset, bytes: t.bytes, dtype: t.dtype }, {
    dataType: publicTypeOf(t.dtype),
    dims: t.dims,
    dispose: () => { collected.unregister(held); giveBack(held); },
    download: async () => {
      if (!held.live) throw new TwinferError('INVALID_ARGUMENT', 'Tensor: its CUDA buffer was disposed');
      const bytes = await onTransferStream(cuda, async (x) => downloadFrom(x, t.buffer, t.byteOffset, t.bytes));
      return fromHostTensor(fromDeviceBytes(t.dtype, t.dims, bytes)).data;
    },
  });
  collected.register(tensor, held, held);
  return tensor;
}

/**
 * Puts a host tensor into CUDA memory (twinfer's process-wide CUDA context), for feeds reused
 * across runs of CUDA sessions. Rejects ('UNSUPPORTED') where CUDA cannot run.
 */
export async function cudaTensor(t: Tensor): Promise<Tensor> {
  if (!(t instanceof Tensor)) throw new TwinferError('INVALID_ARGUMENT', 'cudaTensor: expected a Tensor');
  if (t.type === 'string') throw new TwinferError('INVALID_ARGUMENT', 'cudaTensor: string tensors cannot live in CUDA memory');
  if (t.location === 'cuda') return t;
  if (!t.hasHostData) await t.getData();
  const h = toHostTensor(t);
  const cuda = await acquireCuda();
  return onTransferStream(cuda, async (x) => {
    const d = new CudaTensor(deviceOutputBuffers(cuda.native).take(new CudaTensor(-1, h.dtype, h.dims).bytes), h.dtype, h.dims);
    try {
      if (h.size) x.upload(d.buffer, 0, toDeviceArray(h));
      // From pageable memory the copy may still be in flight: done before any other stream reads it.
      await (x.synchronizeAsync?.() ?? x.synchronize());
    } catch (e) {
      deviceOutputBuffers(cuda.native).give(d.buffer, d.bytes);
      throw e;
    }
    return wrapCudaTensor(cuda, d);
  });
}

/**
 * A 'cuda' tensor as a feed of a CUDA session: its device form, checked against its type and dims;
 * undefined when the session cannot take it where it is (then the caller downloads it).
 */
export function cudaFeedOf(t: Tensor, executor: NativeExecutor): CudaTensor | undefined {
  if (t.location !== 'cuda' || !executor.deviceIo) return undefined;
  const ref = t.cudaBuffer;
  const dtype = ref.dtype as DType;
  const d = new CudaTensor(ref.buffer, dtype, t.dims, ref.byteOffset);
  if (publicTypeOf(dtype) !== t.type || d.bytes !== ref.bytes) {
    throw new TwinferError('INVALID_ARGUMENT', `a CUDA tensor of ${ref.bytes} bytes (${ref.dtype}) does not hold ${t.type}[${t.dims.join(',')}]`);
  }
  return d;
}
