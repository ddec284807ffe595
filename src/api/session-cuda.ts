/**
 * The CUDA side of session build (kept apart so session.ts stays small), TensorRT's engine build in
 * small: load the timing cache, run once with zero feeds when every input dim is known (the static
 * program is recorded, weights are uploaded, and each convolution shape's tactics are timed on the
 * actual GPU or taken from the cache), save the cache. Shapes first seen at run time are timed then
 * and saved after that run (saveCudaTimingAfterRun).
 */
import type { Graph } from '../ir/graph.js';
import { HostTensor } from '../ir/tensor.js';
import { allocStorage, type DType } from '../ir/dtype.js';
import type { Tensor } from './tensor.js';
import type { ExecutionPlan } from '../engine/plan.js';
import { NativeExecutor } from '../../backends/native/executor.js';
import { cudaTimingCachePath, cudaTimingCounts, loadCudaTimingCache, saveCudaTimingCache } from '../../backends/native/timing-cache.js';

export interface CudaSessionOptions {
  /**
   * Node: the JSON file persisting the CUDA tactic timing cache across processes (default
   * TWINFER_CUDA_TIMING_CACHE, else ~/.cache/twinfer/cuda-timing.json; 'off': memory only).
   */
  cudaTimingCache?: string;
  /**
   * CUDA execution contexts at most (default TWINFER_CUDA_CONTEXTS, else 4): concurrent `run` calls
   * each take one (own stream and activation buffers, the weights shared) and overlap on the GPU;
   * contexts open only when runs overlap. 1: runs go one at a time.
   */
  cudaContexts?: number;
}

/** What one CUDA session build did (session.cudaBuild). */
export interface CudaBuildReport {
  /** Wall time of the build run (0 when the dims are not all known: tactics are then timed at the first run). */
  ms: number;
  /** Convolution shapes timed / taken from the cache during the build. */
  timed: number;
  reused: number;
  /** The timing cache file, when there is one. */
  cacheFile?: string;
}

const loaded = new Set<string>();
/** Per file: the process's count of timed shapes when it was last written (nothing new: no write). */
const savedAtTimed = new Map<string, number>();

export async function prepareCuda(plan: ExecutionPlan, graph: Graph, options: CudaSessionOptions & { log?: (m: string) => void }): Promise<CudaBuildReport | undefined> {
  const ex = plan.executor;
  if (!(ex instanceof NativeExecutor) || !plan.cuda) return undefined;
  const cuda = plan.cuda;
  const file = cudaTimingCachePath(options.cudaTimingCache);
  // Once per file and process: decisions already in the addon stay.
  if (file && !loaded.has(file)) {
    loaded.add(file);
    const r = await loadCudaTimingCache(cuda, file);
    if (r.problem) options.log?.(`twinfer: cuda timing cache ${file} ignored: ${r.problem}`);
  }
  const before = cudaTimingCounts(cuda);
  const feeds = new Map<string, HostTensor>();
  for (const i of graph.feedInputs) {
    if (!i.dtype || !i.shape || i.shape.some((d) => typeof d !== 'number')) return { ms: 0, timed: 0, reused: 0, ...(file ? { cacheFile: file } : {}) };
    feeds.set(i.name, new HostTensor(i.dtype, i.shape as number[]));
  }
  const t0 = performance.now();
  try {
    await ex.run(feeds, graph.outputs.map((o) => o.name));
  } catch (e) {
    // Zero feeds are not every model's valid input (a data-dependent shape may come out empty or
    // out of range): the build stops here and the first real run records and times instead.
    options.log?.(`twinfer: cuda build run with zero inputs failed, tactics are timed at the first run: ${(e as Error).message}`);
    return { ms: 0, timed: 0, reused: 0, ...(file ? { cacheFile: file } : {}) };
  }
  const ms = performance.now() - t0;
  const after = cudaTimingCounts(cuda);
  const report: CudaBuildReport = { ms, timed: after.timed - before.timed, reused: after.reused - before.reused, ...(file ? { cacheFile: file } : {}) };
  options.log?.(`twinfer: cuda build ${ms.toFixed(0)} ms: ${report.timed} conv / gemm shapes timed, ${report.reused} from the timing cache; ${ex.lastMode === 'record' ? 'static program recorded' : 'runs node by node'}`);
  if (file && after.timed > (savedAtTimed.get(file) ?? 0)) await saveQuietly(plan, file, options.log);
  return report;
}

async function saveQuietly(plan: ExecutionPlan, file: string, log?: (m: string) => void): Promise<void> {
  try {
    savedAtTimed.set(file, cudaTimingCounts(plan.cuda!).timed);
    await saveCudaTimingCache(plan.cuda!, file);
  } catch (e) {
    log?.(`twinfer: cuda timing cache ${file} not written: ${(e as Error).message}`);
  }
}

/** After a run that timed new shapes (dims first seen at run time), the cache file is brought up to date. */
export async function saveCudaTimingAfterRun(plan: ExecutionPlan, options: CudaSessionOptions & { log?: (m: string) => void }): Promise<void> {
  if (!plan.cuda || !(plan.executor instanceof NativeExecutor)) return;
  const file = cudaTimingCachePath(options.cudaTimingCache);
  if (file && cudaTimingCounts(plan.cuda).timed > (savedAtTimed.get(file) ?? 0)) await saveQuietly(plan, file, options.log);
}

/**
 * The CUDA executor reads a feed once (its upload) and never writes it, so a feed whose storage is
 * already the host form of its type is used as it is instead of copied: at batch 256 the copy of a
 * 154 MB ResNet-50 input cost more host time (~80-120 ms) than the whole GPU run. (Inputs that are
 * also outputs keep the copy, so an output never shares the caller's array.) As with
 * onnxruntime-node, the caller's array must then not change until run() resolves. Undefined: copy.
 */
export function sharedCudaFeed(t: Tensor): HostTensor | undefined {
  if (t.location !== 'cpu' || t.type === 'string') return undefined;
  const dtype = t.type as DType;
  const storage = allocStorage(dtype, 0);
  const data = t.data as unknown;
  if (!(ArrayBuffer.isView(data)) || data.constructor !== storage.constructor || (data as unknown as ArrayLike<number>).length !== t.size) return undefined;
  return new HostTensor(dtype, t.dims, data as unknown as HostTensor['data']);
}
