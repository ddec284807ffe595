/**
 * The WebGPU side of InferenceSession (kept apart so session.ts stays small): build-time
 * preparation (dry run: pipelines, weights, tactic timing, the replay program), GPU-buffer feeds
 * and outputs left on the GPU.
 */
import type { Graph } from '../ir/graph.js';
import { HostTensor } from '../ir/tensor.js';
import type { DType } from '../ir/dtype.js';
import { TwinferError } from '../errors.js';
import type { ExecutionPlan, Executor } from '../engine/plan.js';
import { HybridExecutor, type Feed } from '../engine/hybrid-executor.js';
import { GpuTensor, fromGpuBytes, gpuElemOf } from '../../backends/webgpu/tensor.js';
import { acquireGpu } from '../../backends/webgpu/device.js';
import { TuningSession, softwareAdapter, tuningFileIo } from '../../backends/webgpu/tuning.js';
import { Tensor, fromHostTensor, publicTypeOf, toHostTensor } from './tensor.js';

export interface WebGpuSessionOptions {
  /**
   * Where outputs are returned: 'cpu' (default: read back); 'gpu-buffer' for outputs computed on
   * WebGPU (tensor.location === 'gpu-buffer'; getData() downloads on demand, dispose() returns the
   * buffer to the session; outputs computed on the CPU stay 'cpu'); 'cuda' for sessions running on
   * the CUDA backend (every output in CUDA memory, tensor.location === 'cuda', a buffer of its own:
   * feed it to another CUDA session without a host round trip, getData() downloads, dispose()
   * frees; src/api/cuda-tensor.ts).
   */
  preferredOutputLocation?: 'cpu' | 'gpu-buffer' | 'cuda';
  /**
   * WebGPU tactic timing at session build (Winograd vs implicit GEMM, split-K): true, false, or
   * undefined = on for hardware adapters, off for software ones (lavapipe, SwiftShader), where timing
   * costs more than it gains. Remembered choices are used either way.
   */
  tuning?: boolean;
  /** Node: a JSON file persisting the tuning cache across processes (default TWINFER_TUNING_CACHE). Browsers: memory only. */
  tuningCache?: string;
}

/** What session build does for WebGPU: the dry run with zero feeds when every input dim is known. */
export async function prepareWebGpu(plan: ExecutionPlan, graph: Graph, options: WebGpuSessionOptions & { log?: (m: string) => void }): Promise<void> {
  const ex = plan.executor;
  if (!(ex instanceof HybridExecutor) || !plan.gpu) return;
  const caps = plan.gpu.caps;
  const file = options.tuningCache ?? tuningFileIo()?.defaultPath();
  const tuning = new TuningSession(caps.adapter, options.tuning ?? !softwareAdapter(caps.adapter), file);
  await tuning.load();
  ex.tuning = tuning;
  const feeds = new Map<string, HostTensor>();
  for (const i of graph.feedInputs) {
    if (!i.dtype || !i.shape || i.shape.some((d) => typeof d !== 'number')) return; // dims known at the first run only
    feeds.set(i.name, new HostTensor(i.dtype, i.shape as number[]));
  }
  const r = await ex.prepare(feeds, graph.outputs.map((o) => o.name));
  options.log?.(`twinfer: webgpu build ${r.ms.toFixed(0)} ms, ${r.pipelines} pipelines${tuning.timed ? `, ${tuning.timed} layers timed` : ''}${tuning.reused ? `, ${tuning.reused} tactics from the cache` : ''}; ${r.recorded ? 'replay program recorded' : `no replay program (${r.reason ?? 'not recorded'})`}`);
  await tuning.save();
}

/** A feed as the executors take it: GPU tensors stay on the GPU for the WebGPU executor. */
export async function toFeed(t: Tensor, executor: Executor): Promise<HostTensor | GpuTensor> {
  if (t.location !== 'gpu-buffer') return toHostTensor(t);
  const dtype = t.type as DType;
  if (!(executor instanceof HybridExecutor) || !executor.device || !gpuElemOf(dtype)) {
    await t.getData();
    return toHostTensor(t);
  }
  const usage = t.gpuBuffer.usage;
  if (typeof usage === 'number' && (!(usage & GPUBufferUsage.STORAGE) || !(usage & GPUBufferUsage.COPY_SRC))) {
    throw new TwinferError('INVALID_ARGUMENT', 'a GPU-buffer feed needs STORAGE and COPY_SRC usage');
  }
  return new GpuTensor(t.gpuBuffer, dtype, t.dims);
}

/** An executor result as a public Tensor: GPU results wrap their buffer (dispose: back to the session's pool). */
export function fromFeed(v: Feed, executor: Executor): Tensor {
  if (!(v instanceof GpuTensor)) return fromHostTensor(v);
  const pool = executor instanceof HybridExecutor ? executor.pool : undefined;
  let live = true;
  return Tensor.fromGpuBuffer(v.buffer, {
    dataType: publicTypeOf(v.dtype), dims: v.dims,
    dispose: () => { if (live && pool) { live = false; pool.release(v.buffer); } },
    download: async () => {
      const { device } = await acquireGpu();
      const rb = device.createBuffer({ size: Math.max(16, v.bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const enc = device.createCommandEncoder();
      if (v.bytes > 0) enc.copyBufferToBuffer(v.buffer, 0, rb, 0, v.bytes);
      device.queue.submit([enc.finish()]);
      await rb.mapAsync(GPUMapMode.READ);
      const h = fromGpuBytes(v.dtype, v.dims, rb.getMappedRange().slice(0));
      rb.unmap();
      rb.destroy();
      return fromHostTensor(h).data;
    },
  });
}

/** Runs with GPU IO where the executor is the WebGPU one; any other executor gets host feeds. */
export async function runFeeds(executor: Executor, feeds: Map<string, HostTensor | GpuTensor>, fetch: readonly string[], location: 'cpu' | 'gpu-buffer' | undefined): Promise<Map<string, Feed>> {
  if (executor instanceof HybridExecutor) return executor.runIo(feeds, fetch, { gpuOutputs: location === 'gpu-buffer' });
  return executor.run(feeds as Map<string, HostTensor>, fetch);
}

/** The WebGPU device twinfer runs on (process-wide): make GPU-buffer feeds on it. */
export async function webgpuDevice(): Promise<GPUDevice> {
  return (await acquireGpu()).device;
}
