/**
 * From an optimized graph and a backend preference list to something that runs: which backends are
 * available here, the partition (src/partition), and the executor (CPU only, or hybrid).
 */
import type { Graph, Node } from '../ir/graph.js';
import type { HostTensor } from '../ir/tensor.js';
import { schemaKey } from '../ir/ops/index.js';
import { TwinferError } from '../errors.js';
import { CpuExecutor } from '../../backends/cpu/executor.js';
import { findCpuKernel } from '../../backends/cpu/ops/index.js';
import { acquireGpu, type GpuContext } from '../../backends/webgpu/device.js';
import { gpuSupports } from '../../backends/webgpu/support.js';
import { acquireCuda, type CudaContext } from '../../backends/native/device.js';
import { cudaSupports } from '../../backends/native/support.js';
import { NativeExecutor } from '../../backends/native/executor.js';
import { partition, type Partition, type PartitionBackend } from '../partition/partition.js';
import { HybridExecutor } from './hybrid-executor.js';
import { trtStatus, loadTrtAddon, type TrtAddon } from '../../backends/tensorrt/addon.js';
import { trtSupports } from '../../backends/tensorrt/support.js';
import { TrtExecutor, type TrtExecutorOptions } from '../../backends/tensorrt/executor.js';
import { lowerUnsupportedPrecision } from '../quant/fallback.js';

export type BackendName = 'cpu' | 'webgpu' | 'cuda' | 'tensorrt';
export const KNOWN_BACKENDS: readonly BackendName[] = ['cpu', 'webgpu', 'cuda', 'tensorrt'];

export interface Executor {
  run(feeds: Map<string, HostTensor>, fetch: readonly string[]): Promise<Map<string, HostTensor>>;
  /** Frees the executor's device memory once the runs in flight are done; later runs reject. */
  release?(): Promise<void>;
}

export interface ExecutionPlan {
  executor: Executor;
  partition: Partition;
  /** Backends that run at least one node, in preference order. */
  backends: BackendName[];
  gpu?: GpuContext;
  cuda?: CudaContext;
  /** One line: what runs where and what fell back. */
  summary: string;
}

export interface PlanOptions {
  minSubgraphSize?: number;
  log?: (message: string) => void;
  /** Set when a precision was assigned: int8 / fp16 nodes a backend cannot run are lowered on it first (src/quant/fallback.ts). */
  precisionFallback?: { allowFp16: boolean };
  /** TensorRT engine options (profiles, builder flags, DLA core, device): SessionOptions.tensorrt. */
  tensorrt?: Omit<TrtExecutorOptions, 'log'>;
  /** CUDA execution contexts at most (concurrent runs): SessionOptions.cudaContexts. */
  cudaContexts?: number;
}

function cpuBackend(): PartitionBackend {
  return { name: 'cpu', supports: (n: Node) => (findCpuKernel(schemaKey(n.domain, n.opType)) ? { ok: true } : { ok: false, reason: 'no CPU kernel' }) };
}

export async function planExecution(g: Graph, prefs: readonly BackendName[], opts: PlanOptions = {}): Promise<ExecutionPlan> {
  if (!Array.isArray(prefs) || prefs.length === 0) throw new TwinferError('INVALID_ARGUMENT', 'backends must be a non-empty list');
  for (const b of prefs) if (!KNOWN_BACKENDS.includes(b)) throw new TwinferError('INVALID_ARGUMENT', `unknown backend '${b}' (known: ${KNOWN_BACKENDS.join(', ')})`);
  const usable: PartitionBackend[] = [];
  let gpu: GpuContext | undefined;
  let cuda: CudaContext | undefined;
  let trt: TrtAddon | undefined;
  const skipped: string[] = [];
  const types = (vs: string[]) => vs.map((v) => (v ? g.types.get(v) : undefined));
  for (const b of prefs) {
    if (b === 'cpu') usable.push(cpuBackend());
    else if (b === 'webgpu') {
      try {
        gpu = await acquireGpu();
        const caps = gpu.caps;
        usable.push({ name: 'webgpu', supports: (n) => gpuSupports(n, types(n.inputs), types(n.outputs), caps, (i) => (n.inputs[i] ? g.initializers.get(n.inputs[i]!) : undefined)) });
      } catch (e) { skipped.push(`webgpu (${(e as Error).message})`); }
    } else if (b === 'cuda') {
      try {
        const c = (cuda = await acquireCuda());
        usable.push({ name: 'cuda', supports: (n) => cudaSupports(n, types(n.inputs), types(n.outputs), c) });
      } catch (e) { skipped.push(`cuda (${(e as Error).message})`); }
    } else if (b === 'tensorrt') {
      const s = trtStatus();
      if (s.available) { trt = loadTrtAddon(); usable.push({ name: 'tensorrt', supports: (n) => trtSupports(g, n) }); }
      else skipped.push(`tensorrt (${s.reason})`);
    } else skipped.push(`${b} (not in this build)`);
  }
  // The TensorRT executor runs tensorrt and cpu nodes only: with TensorRT here, webgpu and cuda step aside.
  if (trt) {
    for (const drop of ['webgpu', 'cuda'] as const) {
      const i = usable.findIndex((u) => u.name === drop);
      if (i >= 0) { usable.splice(i, 1); skipped.push(`${drop} (does not share one plan with tensorrt yet)`); }
    }
    gpu = undefined; cuda = undefined;
  }
  // The CUDA executor runs cuda and cpu nodes only: of webgpu and cuda, the one listed first stays.
  if (gpu && cuda) {
    const drop = prefs.indexOf('webgpu') < prefs.indexOf('cuda') ? 'cuda' : 'webgpu';
    usable.splice(usable.findIndex((u) => u.name === drop), 1);
    skipped.push(`${drop} (webgpu and cuda do not share one plan yet)`);
    if (drop === 'cuda') cuda = undefined; else gpu = undefined;
  }
  if (skipped.length) opts.log?.(`twinfer: backends unavailable: ${skipped.join('; ')}`);
  if (usable.length === 0) throw new TwinferError('INVALID_ARGUMENT', `none of the backends [${prefs.join(', ')}] is available here: ${skipped.join('; ')}`);
  if (opts.precisionFallback) lowerUnsupportedPrecision(g, usable, { ...opts.precisionFallback, ...(opts.log ? { log: opts.log } : {}) });
  const part = partition(g, usable, opts.minSubgraphSize ?? 3);
  if (part.unassigned.length) {
    const u = part.unassigned[0]!;
    throw new TwinferError('UNSUPPORTED_OP', `${part.unassigned.length} node(s) can run on none of [${usable.map((b) => b.name).join(', ')}]: first ${u.node.opType}: ${u.reason}`, { node: u.node.name, opType: u.node.opType });
  }
  const used = usable.map((b) => b.name as BackendName).filter((b) => [...part.assignment.values()].includes(b));
  const counts = used.map((b) => `${b} ${[...part.assignment.values()].filter((x) => x === b).length}`).join(', ');
  const fell = [...part.fallbacks].map(([op, f]) => `${op} x${f.nodes} (${f.reason})`).join(', ');
  const summary = `twinfer: ${g.nodes.length} nodes: ${counts}${fell && usable.length > 1 ? `; not on ${usable[0]!.name}: ${fell}` : ''}`;
  opts.log?.(summary);
  const allCpu = used.every((b) => b === 'cpu');
  const executor: Executor = allCpu
    ? (() => { const c = new CpuExecutor(g); return { run: async (f, names) => c.run(f, names) }; })()
    : used.includes('tensorrt') ? new TrtExecutor(g, part.assignment, trt!, { ...(opts.tensorrt ?? {}), ...(opts.log ? { log: opts.log } : {}) })
    : used.includes('cuda') ? new NativeExecutor(g, part.assignment, cuda!, { ...(opts.log ? { log: opts.log } : {}), ...(opts.cudaContexts !== undefined ? { contexts: opts.cudaContexts } : {}) }) : new HybridExecutor(g, part.assignment, gpu);
  return { executor, partition: part, backends: used, ...(gpu ? { gpu } : {}), ...(cuda ? { cuda } : {}), summary };
}
