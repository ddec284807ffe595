/**
 * InferenceSession, modelled on onnxruntime-common: create(pathOrBytes, options), inputNames,
 * outputNames, run(feeds, fetches?). Builds the graph once (import, check, infer) and validates
 * every feed against the declared inputs before anything runs.
 */
import type { Graph, ValueInfo } from '../ir/graph.js';
import type { HostTensor } from '../ir/tensor.js';
import { importModel } from '../onnx/import.js';
import { checkGraph } from '../ir/checker.js';
import { inferGraph } from '../ir/infer.js';
import { TwinferError, asTwinferError } from '../errors.js';
import { runCpuNode } from '../../backends/cpu/executor.js';
import { setCpuThreads } from '../../backends/cpu/convgemm-threads.js';
import { planExecution, type BackendName, type Executor, type ExecutionPlan } from '../engine/plan.js';
import { optimize, type OptLevel, type OptimizeReport } from '../passes/index.js';
import { loadModel, type LoadedModel } from './loader.js';
import { Tensor } from './tensor.js';
import { fromFeed, prepareWebGpu, runFeeds, toFeed, type WebGpuSessionOptions } from './session-webgpu.js';
import type { GpuTensor } from '../../backends/webgpu/tensor.js';
import type { CalibrationTable } from '../quant/table.js';
import type { TrtExecutorOptions } from '../../backends/tensorrt/executor.js';
import { assignPrecision, checkPrecision, recountPrecision, type Precision, type PrecisionReport } from '../quant/precision.js';
import { resolveCalibrationTable } from '../quant/precision-table.js';
import { NativeExecutor } from '../../backends/native/executor.js';
import { prepareCuda, saveCudaTimingAfterRun, sharedCudaFeed, type CudaBuildReport, type CudaSessionOptions } from './session-cuda.js';
import { cudaFeedOf, wrapCudaTensor } from './cuda-tensor.js';
import { CudaTensor } from '../../backends/native/tensor.js';

export type { BackendName } from '../engine/plan.js';
export type { Precision, PrecisionReport } from '../quant/precision.js';

/**
 * WebGpuSessionOptions: preferredOutputLocation, tuning, tuningCache (src/api/session-webgpu.ts);
 * CudaSessionOptions: cudaTimingCache, cudaContexts (src/api/session-cuda.ts).
 */
export interface SessionOptions extends WebGpuSessionOptions, CudaSessionOptions {
  /**
   * Ordered preference list (default ['cpu']). Each node runs on the first backend that supports it
   * within an island of at least minSubgraphSize nodes; without 'cpu' in the list, a node no listed
   * backend supports is an error at creation.
   */
  backends?: BackendName[];
  /** Smallest island of supported nodes worth running on a backend (Paddle-TRT's min_subgraph_size). Default 3. */
  minSubgraphSize?: number;
  /** Called with one-line messages (backend choice, fallbacks). Default: silent. */
  log?: (message: string) => void;
  /** Graph optimization: 0 none, 1 safe folding and clean-up, 2 everything (default). */
  optimizationLevel?: OptLevel;
  /**
   * Threads for the CPU backend's convolutions and matrix products (Node only; browsers run one).
   * Default: TWINFER_CPU_THREADS, else min(available cores, 8).
   */
  cpuThreads?: number;
  /**
   * 'fp32' (default), 'fp16' (float16 storage; nodes whose calibrated range exceeds float16 stay
   * fp32) or 'int8' (Conv / Gemm / MatMul with a calibration table entry become INT8 ops, the rest
   * fp32). See docs/quantization.md, "Precision".
   */
  precision?: Precision;
  /** Activation ranges (needed for int8, used by fp16's range check): a table, or in Node a file path (a URL in browsers). */
  calibrationTable?: CalibrationTable | string;
  /** Node name or op type (of the optimized graph; 'Conv' also matches FusedConv) -> precision. A name beats an op type. */
  precisionConstraints?: Record<string, Precision>;
  /**
   * For `backends: ['tensorrt', ...]`: optimization profiles (min/opt/max of symbolic dims), builder
   * options (`build.dlaCore` for a Jetson DLA core with GPU fallback, fp16 / int8 flags on TensorRT 10,
   * workspace, timing cache) and the GPU index. Untested on twinfer's machines (no TensorRT there).
   */
  tensorrt?: Omit<TrtExecutorOptions, 'log'>;
}

export interface InputMetadata { name: string; type: string | undefined; shape: (number | string)[] | undefined }

export type FeedsType = Record<string, Tensor>;
export type ReturnType = Record<string, Tensor>;

export class InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** The first backend of the preference list that runs any node. */
  readonly backend: BackendName;
  /** Where each node runs. */
  readonly plan: ExecutionPlan;
  /** The checked, inferred graph this session runs. */
  readonly graph: Graph;
  /** What the optimizer did (node counts before/after, rules fired, time). */
  readonly optimizeReport: OptimizeReport;
  /** Per-node precision and why nodes stayed fp32; undefined when no precision was asked for. */
  precisionReport: PrecisionReport | undefined;
  /** What the CUDA build did (build run time, conv shapes timed / from the timing cache); undefined off CUDA. */
  cudaBuild: CudaBuildReport | undefined;
  private cudaOptions: CudaSessionOptions & { log?: (m: string) => void } = {};
  private readonly executor: Executor;
  private readonly inputs: Map<string, ValueInfo>;
  private cpuThreads: number | undefined;
  private outputLocation: 'cpu' | 'gpu-buffer' | 'cuda' | undefined;
  private released = false;
  /** Runs started and not finished (release() waits for them). */
  private readonly inFlight = new Set<Promise<ReturnType>>();

  private constructor(graph: Graph, plan: ExecutionPlan, report: OptimizeReport) {
    this.graph = graph;
    this.optimizeReport = report;
    this.plan = plan;
    this.backend = plan.backends[0] ?? 'cpu';
    this.inputs = new Map(graph.feedInputs.map((i) => [i.name, i]));
    this.inputNames = graph.feedInputs.map((i) => i.name);
    this.outputNames = graph.outputs.map((o) => o.name);
    this.executor = plan.executor;
  }

  static async create(model: string | Uint8Array | ArrayBuffer, options: SessionOptions = {}): Promise<InferenceSession> {
    const prefs = options.backends ?? ['cpu'];
    if (!Array.isArray(prefs) || prefs.length === 0) throw new TwinferError('INVALID_ARGUMENT', 'options.backends must be a non-empty list');
    let bytes: Uint8Array;
    let loaded: LoadedModel | undefined;
    if (typeof model === 'string') { loaded = await loadModel(model); bytes = loaded.bytes; }
    else if (model instanceof Uint8Array) bytes = model;
    else if (model instanceof ArrayBuffer) bytes = new Uint8Array(model);
    else throw new TwinferError('INVALID_ARGUMENT', 'model must be a path, URL, Uint8Array or ArrayBuffer');
    const threads = options.cpuThreads;
    if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) throw new TwinferError('INVALID_ARGUMENT', `cpuThreads must be a positive integer, got ${String(threads)}`);
    const cudaContexts = options.cudaContexts !== undefined ? checkContexts(options.cudaContexts) : undefined;
    const level = options.optimizationLevel ?? 2;
    if (![0, 1, 2].includes(level)) throw new TwinferError('INVALID_ARGUMENT', `optimizationLevel must be 0, 1 or 2, got ${String(level)}`);
    const precision = options.precision !== undefined ? checkPrecision(options.precision) : undefined;
    const table = await resolveCalibrationTable(options.calibrationTable);
    const { graph, report } = optimizeGraph(buildGraph(bytes, loaded), level);
    const constraints = options.precisionConstraints;
    const precisionReport = precision !== undefined || constraints !== undefined
      ? assignPrecision(graph, { precision: precision ?? 'fp32', ...(table ? { table } : {}), ...(constraints ? { constraints } : {}), ...(options.log ? { log: options.log } : {}) })
      : undefined;
    const planOpts = {
      ...(options.minSubgraphSize !== undefined ? { minSubgraphSize: options.minSubgraphSize } : {}), ...(options.log ? { log: options.log } : {}),
      ...(options.tensorrt ? { tensorrt: options.tensorrt } : {}),
      ...(cudaContexts !== undefined ? { cudaContexts } : {}),
      ...(precisionReport ? { precisionFallback: { allowFp16: precision === 'fp16' || Object.values(constraints ?? {}).includes('fp16') } } : {}),
    };
    const plan = await planExecution(graph, prefs, planOpts);
    const session = new InferenceSession(graph, plan, report);
    session.cpuThreads = threads;
    if (precisionReport) recountPrecision(graph, precisionReport); // the planner may have lowered nodes
    session.precisionReport = precisionReport;
    session.outputLocation = options.preferredOutputLocation;
    if (options.preferredOutputLocation === 'cuda' && !(plan.executor instanceof NativeExecutor && plan.executor.deviceIo)) {
      throw new TwinferError('INVALID_ARGUMENT', `preferredOutputLocation 'cuda' needs a session on the CUDA backend (this one runs on ${plan.backends.join(', ')}${plan.executor instanceof NativeExecutor ? ', with an addon built before device-resident outputs: rebuild it' : ''})`);
    }
    await prepareWebGpu(plan, graph, options);
    session.cudaOptions = { ...(options.cudaTimingCache !== undefined ? { cudaTimingCache: options.cudaTimingCache } : {}), ...(options.log ? { log: options.log } : {}) };
    session.cudaBuild = await prepareCuda(plan, graph, session.cudaOptions);
    return session;
  }

  get inputMetadata(): InputMetadata[] {
    return this.graph.feedInputs.map((i) => ({ name: i.name, type: i.dtype, shape: i.shape?.slice() }));
  }

  /**
   * Frees the session's device memory (GPU buffers, CUDA execution contexts, weights) once the runs
   * in flight are done; runs after it reject. Outputs already returned stay valid. (onnxruntime's
   * session.release().)
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await Promise.allSettled([...this.inFlight]);
    await this.executor.release?.();
  }

  async run(feeds: FeedsType, fetches?: readonly string[]): Promise<ReturnType> {
    if (this.released) throw new TwinferError('INVALID_ARGUMENT', 'the session was released');
    const p = this.runNow(feeds, fetches);
    this.inFlight.add(p);
    try {
      return await p;
    } finally {
      this.inFlight.delete(p);
    }
  }

  private async runNow(feeds: FeedsType, fetches?: readonly string[]): Promise<ReturnType> {
    const hostFeeds = await this.validateFeeds(feeds);
    const wanted = fetches ?? this.outputNames;
    for (const f of wanted) {
      if (!this.outputNames.includes(f)) throw new TwinferError('INVALID_ARGUMENT', `'${f}' is not an output of this model (outputs: ${this.outputNames.join(', ')})`);
    }
    let out: Map<string, HostTensor | GpuTensor | CudaTensor>;
    try {
      setCpuThreads(this.cpuThreads);
      out = this.executor instanceof NativeExecutor
        ? await this.executor.runIo(hostFeeds as Map<string, HostTensor | CudaTensor>, wanted, { deviceOutputs: this.outputLocation === 'cuda' })
        : await runFeeds(this.executor, hostFeeds as Map<string, HostTensor | GpuTensor>, wanted, this.outputLocation === 'cuda' ? undefined : this.outputLocation);
    } catch (e) {
      throw asTwinferError(e, 'RUNTIME');
    }
    // Dims first seen now were timed in this run (replays time nothing): keep the cache file current.
    if (this.cudaBuild?.cacheFile && this.executor instanceof NativeExecutor && (this.executor.lastMode === 'record' || this.executor.lastMode === 'nodes')) {
      await saveCudaTimingAfterRun(this.plan, this.cudaOptions);
    }
    const result: ReturnType = {};
    for (const [k, v] of out) result[k] = v instanceof CudaTensor ? wrapCudaTensor(this.plan.cuda!, v) : fromFeed(v, this.executor);
    return result;
  }

  /** One feed in the form the executor takes: host data, a WebGPU buffer, or CUDA memory. */
  private async feedOf(name: string, t: Tensor): Promise<HostTensor | GpuTensor | CudaTensor> {
    const ex = this.executor;
    if (t.location === 'cuda') {
      const d = ex instanceof NativeExecutor ? cudaFeedOf(t, ex) : undefined;
      if (d) return d;
      await t.getData(); // another backend: through the host
    }
    return ex instanceof NativeExecutor && !this.outputNames.includes(name) ? sharedCudaFeed(t) ?? await toFeed(t, ex) : await toFeed(t, ex);
  }

  private async validateFeeds(feeds: FeedsType): Promise<Map<string, HostTensor | GpuTensor | CudaTensor>> {
    if (typeof feeds !== 'object' || feeds === null) throw new TwinferError('INVALID_ARGUMENT', 'feeds must be an object of name -> Tensor');
    const out = new Map<string, HostTensor | GpuTensor | CudaTensor>();
    for (const name of Object.keys(feeds)) {
      if (!this.inputs.has(name)) throw new TwinferError('INVALID_ARGUMENT', `unknown input '${name}' (inputs: ${this.inputNames.join(', ')})`);
    }
    const symbols = new Map<string, number>();
    for (const [name, info] of this.inputs) {
      const t = feeds[name];
      if (t === undefined) throw new TwinferError('INVALID_ARGUMENT', `missing input '${name}'`);
      if (!(t instanceof Tensor)) throw new TwinferError('INVALID_ARGUMENT', `input '${name}' must be a Tensor`);
      const h = await this.feedOf(name, t);
      if (info.dtype && h.dtype !== info.dtype) throw new TwinferError('INVALID_ARGUMENT', `input '${name}' must be ${info.dtype}, got ${t.type}`);
      if (info.shape) {
        if (info.shape.length !== h.dims.length) throw new TwinferError('INVALID_ARGUMENT', `input '${name}' must have rank ${info.shape.length} [${info.shape.join(',')}], got dims [${h.dims.join(',')}]`);
        info.shape.forEach((d, i) => {
          const got = h.dims[i]!;
          if (typeof d === 'number' && d !== got) throw new TwinferError('INVALID_ARGUMENT', `input '${name}' dim ${i} must be ${d}, got ${got} (dims [${h.dims.join(',')}])`);
          if (typeof d === 'string') {
            const prev = symbols.get(d);
            if (prev !== undefined && prev !== got) throw new TwinferError('INVALID_ARGUMENT', `input '${name}' dim ${i} ('${d}') is ${got}, but another input fixed '${d}' = ${prev}`);
            symbols.set(d, got);
          }
        });
      }
      out.set(name, h);
    }
    return out;
  }
}

function checkContexts(n: unknown): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new TwinferError('INVALID_ARGUMENT', `cudaContexts must be a positive integer, got ${String(n)}`);
  return n;
}

/** Import, check, infer: everything done once per model. */
export function buildGraph(bytes: Uint8Array, loaded?: { readExternal?: LoadedReader; modelDir?: string }): Graph {
  const opts: Parameters<typeof importModel>[1] = {};
  if (loaded?.readExternal) opts.readExternal = loaded.readExternal;
  if (loaded?.modelDir !== undefined) opts.modelDir = loaded.modelDir;
  const g = importModel(bytes, opts);
  checkGraph(g);
  inferGraph(g, (node, inputs, types) => runCpuNode(node, g.opsets[node.domain] ?? g.opset, inputs, types));
  return g;
}

/** Runs the optimizer with the CPU kernels as the constant evaluator. */
export function optimizeGraph(g: Graph, level: OptLevel): { graph: Graph; report: OptimizeReport } {
  return optimize(g, level, (node, inputs, types) => runCpuNode(node, g.opsets[node.domain] ?? g.opset, inputs, types));
}

type LoadedReader = NonNullable<Parameters<typeof importModel>[1]>['readExternal'];

