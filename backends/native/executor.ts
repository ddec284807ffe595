/**
 * Runs a partitioned graph whose nodes are on 'cuda' or 'cpu', after the hybrid executor
 * (src/engine/hybrid-executor.ts): a value lives where it was produced and is copied once per
 * crossing (upload, or download on the way to a CPU node or an output); weights are uploaded once
 * per session and stay on the device.
 *
 * The first run of a signature of feed dims goes node by node: each CUDA node infers its output
 * shapes on the host (the IR), allocates its outputs from a pool of cudaMalloc'd buffers, and queues
 * its kernels on the context's stream; only a download waits. That run also records the static
 * program (program.ts): the launch list with its buffer bindings. When every host read of the run
 * was of a value fixed by the dims (no data-dependent shapes, no CPU node fed by computed data), later
 * runs of the same signature replay it: upload the feeds, launch the recorded kernels (the second
 * run captures them in a CUDA graph, later runs launch the graph: one call), download the outputs.
 * Otherwise every run goes node by node, as before. TWINFER_CUDA_REPLAY=0 / TWINFER_CUDA_GRAPHS=0
 * (or the constructor's options) turn the replay / the graph off.
 *
 * Concurrent runs (exec-context.ts): each run holds an execution context (stream, activation pool,
 * programs) until its outputs are downloaded; a run that finds them all busy opens another (a fork
 * of the addon's context: same device buffers, so the weights are shared) up to `contexts`, else
 * waits. Each context records its own programs and graphs.
 */
import type { Graph, Node, ValueType } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { inferNode } from '../../src/ir/infer.js';
import { schemaKey } from '../../src/ir/ops/index.js';
import { TwinferError, asTwinferError } from '../../src/errors.js';
import { runCpuNode } from '../cpu/executor.js';
import type { CudaContext } from './device.js';
import type { CudaRunner } from './kernel.js';
import { findCudaKernel } from './ops.js';
import { BufferPool, ExecContext, canFork, contextsFromEnv, deviceOutputBuffers, downloadFrom } from './exec-context.js';
import type { NativeContext } from './addon.js';
import { CudaTensor, fromDeviceBytes, toDeviceArray } from './tensor.js';
import { graphsFromEnv, hasGraphs, programKey, replayFromEnv, staticValues, type DeviceSlot, type GraphContext, type LaunchStep, type Program, type ProgramOutput } from './program.js';

/** A run's input or output: on the host, or in CUDA memory. */
export type Feed = HostTensor | CudaTensor;

interface Slot { host?: HostTensor; dev?: CudaTensor }

interface Step {
  node: Node;
  backend: 'cpu' | 'cuda';
  opset: number;
  /** Values to drop after this step (last use). */
  release: string[];
  hostInputs: Set<number>;
  /** Inputs the kernel takes packed (kernel.ts packedInputs); others are converted to plain. */
  packedInputs: Set<number>;
}

/** What the executor frees when it is disposed or collected (no reference back to the executor). */
interface Owned { contexts: ExecContext[]; weights: BufferPool }

function disposeOwned(o: Owned): void {
  for (const c of o.contexts) {
    for (const p of c.programs.values()) if (typeof p !== 'string') destroyGraph(c, p);
    c.programs.clear();
    c.pool.dispose();
    c.fixedPool.dispose();
  }
  o.weights.dispose();
  for (const c of o.contexts) if (c.owned) { try { c.native.dispose(); } catch { /* already gone */ } }
  o.contexts.length = 0;
}

function destroyGraph(c: ExecContext, p: Program): void {
  const native = c.native as GraphContext;
  if (p.graph !== undefined) { try { native.graphDestroy?.(p.graph); } catch { /* context gone */ } p.graph = undefined; }
}

const collected = new FinalizationRegistry<Owned>(disposeOwned);

export interface NativeExecutorOptions {
  log?: (message: string) => void;
  /** Record and replay the static program of each feed signature (default: TWINFER_CUDA_REPLAY != '0'). */
  replay?: boolean;
  /** Capture replays in a CUDA graph (default: TWINFER_CUDA_GRAPHS != '0'; needs an addon with captureBegin). */
  cudaGraphs?: boolean;
  /** Programs kept at once per execution context (least recently used dropped first); default 8. */
  maxPrograms?: number;
  /**
   * Execution contexts opened at most (default TWINFER_CUDA_CONTEXTS, else 4): each concurrent run
   * takes one (its own stream and activation buffers; the weights are shared), and a run waits when
   * all are busy. 1 runs one at a time. Opened only when runs overlap.
   */
  contexts?: number;
}

/** What a recording run collects besides running (program.ts). */
interface Recorder {
  launches: LaunchStep[];
  feeds: { name: string; slot: DeviceSlot }[];
  fixed: { buffer: number; bytes: number }[];
  /** Why this run cannot be replayed (first reason found). */
  refused?: string;
}

/** A copy the caller may keep or change without touching the program's value. */
function cloneHost(h: HostTensor): HostTensor {
  return new HostTensor(h.dtype, h.dims, (h.data as unknown as { slice(): HostTensor['data'] }).slice());
}

const slotOf = (t: CudaTensor): DeviceSlot => ({ buffer: t.buffer, byteOffset: t.byteOffset, dtype: t.dtype, dims: t.dims.slice(), bytes: t.bytes });

export class NativeExecutor {
  private readonly steps: Step[];
  /** Execution contexts, the first on the process-wide stream, the others forks of it. */
  private readonly contexts: ExecContext[];
  private readonly owned: Owned;
  private readonly maxContexts: number;
  /** Initializers on the device (uploaded on first use, kept for the session, shared by all contexts). */
  private readonly weights = new Map<string, CudaTensor>();
  /** The same device tensors as a set (is this input a weight?). */
  private readonly weightSet = new Set<CudaTensor>();
  /** Packed float16 forms of weights (runner.pack), made once in the weight pool. */
  private readonly packedWeights = new Map<CudaTensor, CudaTensor>();
  private readonly weightPool: BufferPool;
  /** Values fixed by the feeds' dims (program.ts staticValues). */
  private readonly fixedValues: Set<string>;
  private readonly replay: boolean;
  private readonly graphs: boolean;
  private readonly maxPrograms: number;
  private readonly log: ((m: string) => void) | undefined;
  private loggedRefusal = false;
  /** Kernel launches of the last run (the launches a CUDA graph holds when one ran). */
  lastLaunches = 0;
  /** How the last run went: node by node (recording or not), launch replay, or one CUDA graph. */
  lastMode: 'nodes' | 'record' | 'replay' | 'capture' | 'graph' = 'nodes';

  constructor(private readonly graph: Graph, assignment: Map<Node, string>, private readonly cuda: CudaContext, options: NativeExecutorOptions = {}) {
    this.contexts = [new ExecContext(cuda.native, false)];
    this.weightPool = new BufferPool(cuda.native);
    this.owned = { contexts: this.contexts, weights: this.weightPool };
    collected.register(this, this.owned, this);
    this.maxContexts = canFork(cuda.native) ? Math.max(1, Math.floor(options.contexts ?? contextsFromEnv())) : 1;
    this.replay = options.replay ?? replayFromEnv();
    this.graphs = this.replay && (options.cudaGraphs ?? graphsFromEnv()) && hasGraphs(cuda.native);
    this.maxPrograms = Math.max(1, options.maxPrograms ?? 8);
    this.log = options.log;
    const keep = new Set(graph.outputs.map((o) => o.name));
    const lastUse = new Map<string, number>();
    graph.nodes.forEach((n, i) => n.inputs.forEach((v) => { if (v) lastUse.set(v, i); }));
    this.steps = graph.nodes.map((node, i) => {
      const b = assignment.get(node);
      if (b !== 'cpu' && b !== 'cuda') throw new TwinferError('RUNTIME', `node assigned to '${b}', which the CUDA executor does not run`, { node: node.name, opType: node.opType });
      const release = [...new Set(node.inputs)].filter((v) => v && lastUse.get(v) === i && !keep.has(v) && !graph.initializers.has(v));
      for (const o of node.outputs) if (o && !lastUse.has(o) && !keep.has(o)) release.push(o);
      const k = b === 'cuda' ? findCudaKernel(schemaKey(node.domain, node.opType)) : undefined;
      if (b === 'cuda' && !k) throw new TwinferError('RUNTIME', 'node assigned to cuda has no CUDA kernel', { node: node.name, opType: node.opType });
      return { node, backend: b, opset: graph.opsets[node.domain] ?? graph.opset, release, hostInputs: new Set(k?.hostInputs ?? []), packedInputs: new Set(k?.packedInputs ?? []) };
    });
    this.fixedValues = staticValues(graph.nodes, graph.initializers.keys(), graph.inputs.map((v) => v.name));
    if (this.replay) {
      const native = cuda.native as GraphContext;
      const why = !this.graphs ? (hasGraphs(native) ? 'off (TWINFER_CUDA_GRAPHS=0)' : 'off (the addon has no captureBegin: rebuild it)') : 'on';
      this.log?.(`twinfer: cuda static program replay on; CUDA graphs ${why}`);
    }
  }

  /** Programs recorded (replayable signatures) and signatures refused, over all execution contexts, for tests and diagnostics. */
  get programStats(): { programs: number; refused: string[]; graphs: number; noGraph: string[] } {
    const v = this.contexts.flatMap((c) => [...c.programs.values()]);
    const progs = v.filter((p): p is Program => typeof p !== 'string');
    return {
      programs: progs.length,
      refused: v.filter((p): p is string => typeof p === 'string'),
      graphs: progs.filter((p) => p.graph !== undefined).length,
      noGraph: progs.flatMap((p) => (p.noGraph !== undefined ? [p.noGraph] : [])),
    };
  }

  /** Execution contexts open now (one until runs overlap). */
  get executionContexts(): number { return this.contexts.length; }

  /** Frees the executor's device buffers, graphs and streams now (else when it is garbage-collected). */
  dispose(): void {
    collected.unregister(this);
    disposeOwned(this.owned);
    this.weights.clear();
    this.weightSet.clear();
    this.packedWeights.clear();
  }

  /**
   * dispose() once the runs in flight are done (each context's lock taken in turn); later runs
   * reject. Outputs already handed out in CUDA memory stay valid (they own their buffers).
   */
  async release(): Promise<void> {
    const held: ExecContext[] = [];
    for (const c of [...this.contexts]) {
      await c.lock.take();
      held.push(c);
    }
    this.dispose();
    // The first context's lock belongs to the process-wide stream: other sessions use it too.
    for (const c of held) c.lock.release();
  }

  private dropProgram(c: ExecContext, p: Program, giveBack: boolean): void {
    destroyGraph(c, p);
    if (giveBack) c.releaseFixed(p.fixed);
  }

  private remember(c: ExecContext, key: string, p: Program | string): void {
    c.programs.delete(key);
    c.programs.set(key, p);
    while (c.programs.size > this.maxPrograms) {
      const [k, old] = c.programs.entries().next().value as [string, Program | string];
      c.programs.delete(k);
      if (typeof old !== 'string') this.dropProgram(c, old, true);
    }
  }

  /**
   * An idle execution context, held for the caller: the first free one, else a new fork while
   * fewer than maxContexts are open, else the first one released.
   */
  private async acquire(): Promise<ExecContext> {
    for (;;) {
      if (this.contexts.length === 0) throw new TwinferError('RUNTIME', 'the CUDA executor was disposed');
      for (const c of this.contexts) if (c.lock.tryTake()) return c;
      if (this.contexts.length < this.maxContexts) {
        const c = new ExecContext(this.cuda.native.fork!(), true);
        c.lock.tryTake();
        this.contexts.push(c);
        this.log?.(`twinfer: cuda execution context ${this.contexts.length} of at most ${this.maxContexts} opened (concurrent runs)`);
        return c;
      }
      await new Promise<void>((resolve) => { for (const c of this.contexts) c.lock.onRelease(resolve); });
    }
  }

  async run(feeds: Map<string, HostTensor>, fetch: readonly string[]): Promise<Map<string, HostTensor>> {
    return this.runIo(feeds, fetch) as Promise<Map<string, HostTensor>>;
  }

  /** Whether feeds and outputs may stay in CUDA memory (the addon can copy device to device). */
  get deviceIo(): boolean { return typeof this.cuda.native.copy === 'function'; }

  /**
   * run() with feeds that may already be in CUDA memory (copied device to device into the run's
   * buffers) and, with `deviceOutputs`, outputs left in CUDA memory: each in a buffer of its own
   * (deviceOutputBuffers), which the caller gives back; complete when the promise resolves.
   */
  async runIo(feeds: Map<string, Feed>, fetch: readonly string[], opts: { deviceOutputs?: boolean } = {}): Promise<Map<string, Feed>> {
    const device = opts.deviceOutputs === true;
    if ((device || [...feeds.values()].some((f) => f instanceof CudaTensor)) && !this.deviceIo) {
      throw new TwinferError('UNSUPPORTED', 'CUDA-resident inputs and outputs need an addon with copy(): rebuild it (npm run build:native)');
    }
    const c = await this.acquire();
    try {
      const out = await this.runOn(c, feeds, fetch, device);
      // The copies into the outputs' buffers are on this stream: done before another stream reads them.
      if (device) await (c.native.synchronizeAsync?.() ?? c.native.synchronize());
      return out;
    } finally {
      c.lock.release();
    }
  }

  private async runOn(c: ExecContext, feeds: Map<string, Feed>, fetch: readonly string[], device: boolean): Promise<Map<string, Feed>> {
    if (!this.replay) { this.lastMode = 'nodes'; return this.execute(c, feeds, fetch, device); }
    const key = programKey(feeds, fetch);
    const known = c.programs.get(key);
    if (known !== undefined) {
      this.remember(c, key, known); // most recently used
      if (typeof known !== 'string') return this.replayProgram(c, known, feeds, device);
      this.lastMode = 'nodes';
      return this.execute(c, feeds, fetch, device);
    }
    const rec: Recorder = { launches: [], feeds: [], fixed: [] };
    let recorded: { result: Map<string, Feed>; outputs?: ProgramOutput[] };
    try {
      recorded = this.execute(c, feeds, fetch, device, rec);
    } catch (e) {
      c.releaseFixed(rec.fixed);
      throw e;
    }
    const { result, outputs } = recorded;
    if (rec.refused !== undefined || !outputs) {
      c.releaseFixed(rec.fixed);
      const why = rec.refused ?? 'an output is not replayable';
      this.remember(c, key, why);
      if (!this.loggedRefusal) { this.loggedRefusal = true; this.log?.(`twinfer: cuda runs node by node for these dims: ${why}`); }
      this.lastMode = 'nodes';
    } else {
      this.remember(c, key, { key, feeds: rec.feeds, launches: rec.launches, outputs, fixed: rec.fixed, replays: 0 });
      this.lastMode = 'record';
    }
    return result;
  }

  /**
   * Uploads the feeds, launches the program (as its CUDA graph when there is one), downloads the
   * outputs; the wait for the downloads runs off the thread (downloadAsync), so other contexts keep
   * launching meanwhile.
   */
  private async replayProgram(c: ExecContext, p: Program, feeds: Map<string, Feed>, device: boolean): Promise<Map<string, Feed>> {
    const native = c.native as GraphContext;
    try {
      for (const f of p.feeds) {
        const h = feeds.get(f.name)!;
        if (h instanceof CudaTensor) { if (h.bytes) native.copy!(f.slot.buffer, f.slot.byteOffset, h.buffer, h.byteOffset, h.bytes); }
        else if (h.size) native.upload(f.slot.buffer, f.slot.byteOffset, toDeviceArray(h));
      }
      let mode: NativeExecutor['lastMode'];
      if (p.graph !== undefined) {
        native.graphLaunch!(p.graph);
        mode = 'graph';
      } else if (this.graphs && p.noGraph === undefined && p.launches.length > 0) {
        mode = this.capture(c, p);
      } else {
        this.launchAll(c, p);
        mode = 'replay';
      }
      p.replays++;
      const result = new Map<string, Feed>();
      if (device) {
        for (const o of p.outputs) {
          const v = o.kind === 'feed' ? feeds.get(o.feed)! : o.kind === 'host' ? o.value : new CudaTensor(o.slot.buffer, o.slot.dtype, o.slot.dims, o.slot.byteOffset);
          result.set(o.name, this.toCaller(native, v));
        }
      } else {
        const pending = p.outputs.map((o) => {
          const fed = o.kind === 'feed' ? feeds.get(o.feed) : undefined;
          const src = o.kind === 'device' ? o.slot : fed instanceof CudaTensor ? fed : undefined;
          return src ? downloadFrom(native, src.buffer, src.byteOffset, src.bytes) : undefined;
        });
        const bytes = await Promise.all(pending);
        p.outputs.forEach((o, i) => {
          if (o.kind === 'feed') { const f = feeds.get(o.feed)!; result.set(o.name, f instanceof CudaTensor ? fromDeviceBytes(f.dtype, f.dims, bytes[i]!) : f); }
          else if (o.kind === 'host') result.set(o.name, cloneHost(o.value));
          else result.set(o.name, fromDeviceBytes(o.slot.dtype, o.slot.dims, bytes[i]!));
        });
      }
      this.lastMode = mode;
      this.lastLaunches = p.launches.length;
      return result;
    } catch (e) {
      throw asTwinferError(e, 'RUNTIME');
    }
  }

  /** A copy of `v` in a buffer of the caller's own (deviceOutputBuffers), queued on the context's stream. */
  private toCaller(native: NativeContext, v: Feed): CudaTensor {
    const t = new CudaTensor(-1, v.dtype, v.dims);
    const buffers = deviceOutputBuffers(this.cuda.native);
    const out = new CudaTensor(buffers.take(t.bytes), v.dtype, v.dims);
    if (v instanceof CudaTensor) { if (v.bytes) native.copy!(out.buffer, 0, v.buffer, v.byteOffset, v.bytes); }
    else if (v.size) native.upload(out.buffer, 0, toDeviceArray(v));
    return out;
  }

  private launchAll(c: ExecContext, p: Program): void {
    const native = c.native;
    for (const l of p.launches) native.launch(l.kernel, l.ints, l.floats, l.bindings);
  }

  /**
   * Captures the launches in a CUDA graph and launches it. Capture runs nothing, so when it fails
   * (a launcher made a call that capture forbids) the launches run one by one and the program keeps
   * replaying that way. Every tactic was chosen in the recording run, which was not captured.
   */
  private capture(c: ExecContext, p: Program): 'capture' | 'replay' {
    const native = c.native as Required<GraphContext>;
    let id: number | undefined;
    try {
      native.captureBegin();
      try {
        this.launchAll(c, p);
      } catch (e) {
        try { native.captureAbort(); } catch { /* already out of capture */ }
        throw e;
      }
      id = native.captureEnd();
    } catch (e) {
      p.noGraph = (e as Error)?.message ?? String(e);
      this.log?.(`twinfer: CUDA graph capture failed, replaying launch by launch: ${p.noGraph}`);
      this.launchAll(c, p);
      return 'replay';
    }
    p.graph = id;
    native.graphLaunch(id);
    return 'capture';
  }

  /**
   * One run node by node. With a recorder, also records the launch list; feeds and static uploads
   * then get buffers of their own (the program keeps them), and `outputs` says where each fetched
   * value will be on a replay (undefined when one cannot be replayed).
   */
  private execute(c: ExecContext, feeds: Map<string, Feed>, fetch: readonly string[], device: boolean): Map<string, Feed>;
  private execute(c: ExecContext, feeds: Map<string, Feed>, fetch: readonly string[], device: boolean, rec: Recorder): { result: Map<string, Feed>; outputs?: ProgramOutput[] };
  private execute(c: ExecContext, feeds: Map<string, Feed>, fetch: readonly string[], device: boolean, rec?: Recorder): Map<string, Feed> | { result: Map<string, Feed>; outputs?: ProgramOutput[] } {
    const native = c.native;
    const pool = c.pool;
    let weightsUploaded = false;
    const owned = new Set<CudaTensor>(); // device tensors of this run (not weights), views included
    const refs = new Map<number, { n: number; bytes: number }>(); // pool buffer -> live tensors on it, its size
    let launches = 0;
    /** Set while a launch makes a session-long weight form: it runs once and is not recorded. */
    let unrecorded = false;
    const plainOf = new Map<CudaTensor, CudaTensor>(); // packed tensor -> its plain copy in this run
    const refuse = (why: string) => { if (rec && rec.refused === undefined) rec.refused = why; };
    const own = (t: CudaTensor, bytes: number): CudaTensor => {
      owned.add(t);
      const r = refs.get(t.buffer);
      if (r) r.n++; else refs.set(t.buffer, { n: 1, bytes });
      return t;
    };
    /** A buffer the program alone will use: never an activation of this run (exec-context.ts fixedPool). */
    const fixedTensor = (dims: readonly number[], dtype: HostTensor['dtype']): CudaTensor => {
      const bytes = new CudaTensor(-1, dtype, dims).bytes;
      const t = new CudaTensor(c.fixedPool.take(bytes), dtype, dims);
      rec!.fixed.push({ buffer: t.buffer, bytes });
      return t;
    };
    const runner: CudaRunner = {
      cuda: this.cuda,
      alloc: (dims, dtype = 'float32', packed = false) => {
        const t0 = new CudaTensor(-1, dtype, dims, 0, packed);
        return own(new CudaTensor(pool.take(t0.bytes), dtype, dims, 0, packed), t0.bytes);
      },
      pack: (t) => {
        if (t.packed) return t;
        if (t.dtype !== 'float16' || t.dims.length !== 4) throw new Error(`only float16 4-D tensors have a packed form, not ${t.dtype} [${t.dims.join(',')}]`);
        const weight = this.weightSet.has(t);
        const known = weight ? this.packedWeights.get(t) : undefined;
        if (known) return known;
        const bytes = new CudaTensor(-1, t.dtype, t.dims, 0, true).bytes;
        const p = weight ? new CudaTensor(this.weightPool.take(bytes), t.dtype, t.dims, 0, true) : runner.alloc(t.dims, t.dtype, true);
        if (t.size) {
          unrecorded = weight;
          try { runner.launch('nchwToNhwcHalf', [t.dims[0]!, t.dims[1]!, t.dims[2]! * t.dims[3]!], [], [t, p]); } finally { unrecorded = false; }
        }
        if (weight) { this.packedWeights.set(t, p); weightsUploaded = true; }
        return p;
      },
      plain: (t) => {
        if (!t.packed) return t;
        let p = plainOf.get(t);
        if (!p) {
          p = runner.alloc(t.dims, t.dtype);
          if (t.size) runner.launch('nhwcHalfToNchw', [t.dims[0]!, t.dims[1]!, t.dims[2]! * t.dims[3]!], [], [t, p]);
          plainOf.set(t, p);
        }
        return p;
      },
      view: (t, dims) => {
        if (t.packed) throw new Error('a packed tensor has no views (its kernel must take it plain)');
        const v = new CudaTensor(t.buffer, t.dtype, dims, t.byteOffset);
        if (v.size !== t.size) throw new Error(`view of ${t.size} elements as [${dims.join(',')}]`);
        return refs.has(t.buffer) && owned.has(t) ? own(v, 0) : v; // views of weights are weights
      },
      // A kernel's upload is computed from attributes, dims and host reads (all static in a
      // recording that stays replayable): uploaded once into a buffer of the program.
      upload: (h) => (rec ? uploadInto(h, fixedTensor(h.dims, h.dtype)) : upload(h, false)),
      launch: (kernel, ints, floats, bindings) => {
        const b = new Float64Array(bindings.length * 2);
        bindings.forEach((t, i) => { b[2 * i] = t ? t.buffer : -1; b[2 * i + 1] = t ? t.byteOffset : 0; });
        const is = Float64Array.from(ints), fs = Float32Array.from(floats);
        native.launch(kernel, is, fs, b);
        if (!unrecorded) rec?.launches.push({ kernel, ints: is, floats: fs, bindings: b });
        launches++;
      },
      fn: (name) => {
        const c = this.cuda.fn.get(name);
        if (c === undefined) throw new Error(`the addon has no function ${name}`);
        return c;
      },
    };
    const uploadInto = (h: HostTensor, t: CudaTensor): CudaTensor => {
      if (h.size) native.upload(t.buffer, t.byteOffset, toDeviceArray(h));
      return t;
    };
    const upload = (h: HostTensor, persistent: boolean): CudaTensor => {
      const dims = h.dims.slice();
      const data = toDeviceArray(h);
      // Weights come from the executor's weight pool (never given back), freed by dispose().
      const t = persistent ? new CudaTensor(this.weightPool.take(data.byteLength), h.dtype, dims) : runner.alloc(dims, h.dtype);
      if (persistent) weightsUploaded = true;
      if (h.size) native.upload(t.buffer, t.byteOffset, data);
      return t;
    };
    const env = new Map<string, Slot>();
    for (const [k, v] of this.graph.initializers) env.set(k, { host: v, ...(this.weights.has(k) ? { dev: this.weights.get(k)! } : {}) });
    for (const [k, v] of feeds) {
      if (!(v instanceof CudaTensor)) { env.set(k, { host: v }); continue; }
      // A feed in CUDA memory: used where it is, or, recording, copied into a buffer of the program
      // (where every replay copies it again).
      if (!rec) { env.set(k, { dev: v }); continue; }
      const t = fixedTensor(v.dims, v.dtype);
      if (v.bytes) native.copy!(t.buffer, t.byteOffset, v.buffer, v.byteOffset, v.bytes);
      rec.feeds.push({ name: k, slot: slotOf(t) });
      env.set(k, { dev: t });
    }
    /** Names whose value is the caller's feed (not a node's output of the same name). */
    const fed = new Set(feeds.keys());
    const isFixed = (name: string) => this.fixedValues.has(name) && !fed.has(name);

    const hostOf = (name: string): HostTensor => {
      const s = env.get(name)!;
      if (!s.host) {
        const t = runner.plain(s.dev!);
        s.host = fromDeviceBytes(t.dtype, t.dims, t.size ? native.download(t.buffer, t.byteOffset, t.bytes) : new ArrayBuffer(0));
      }
      return s.host;
    };
    /** A host read inside the run: replayable only when the value is fixed by the dims. */
    const readHost = (name: string, who: Node): HostTensor => {
      // Shape / Size (and any node whose outputs are all static) read their input for its dims only.
      if (rec && !isFixed(name) && !who.outputs.every((o) => !o || isFixed(o))) refuse(`${who.opType} node '${who.name}' reads '${name}' on the host (its value depends on the data)`);
      return hostOf(name);
    };
    const devOf = (name: string): CudaTensor => {
      const s = env.get(name)!;
      if (!s.dev) {
        const w = this.graph.initializers.has(name) && !fed.has(name);
        if (w) {
          s.dev = upload(s.host!, true);
          this.weights.set(name, s.dev);
          this.weightSet.add(s.dev);
        } else if (rec) {
          // A feed goes into a buffer of the program, uploaded at the start of every replay; a value
          // computed on the host must be static (else the run was refused already) and is uploaded once.
          const t = uploadInto(s.host!, fixedTensor(s.host!.dims, s.host!.dtype));
          if (fed.has(name)) rec.feeds.push({ name, slot: slotOf(t) });
          else if (!isFixed(name)) refuse(`'${name}' is computed on the host from data and uploaded`);
          s.dev = t;
        } else {
          s.dev = upload(s.host!, false);
        }
      }
      return s.dev;
    };
    const drop = (t: CudaTensor | undefined) => {
      if (!t) return;
      const p = plainOf.get(t);
      if (p) { plainOf.delete(t); drop(p); }
      if (!owned.delete(t)) return;
      const r = refs.get(t.buffer)!;
      if (--r.n === 0) { refs.delete(t.buffer); pool.give(t.buffer, r.bytes); }
    };

    try {
      for (const st of this.steps) {
        const n = st.node;
        for (const v of n.inputs) if (v && !env.has(v)) throw new TwinferError('RUNTIME', `value '${v}' is not available`, { node: n.name, opType: n.opType });
        if (st.backend === 'cpu') {
          const outs = runCpuNode(n, st.opset, n.inputs.map((v) => (v ? readHost(v, n) : undefined)));
          n.outputs.forEach((o, k) => { if (o) env.set(o, { host: outs[k]! }); });
        } else {
          const hosts = n.inputs.map((v, i) => (v && st.hostInputs.has(i) ? readHost(v, n) : v ? env.get(v)!.host : undefined));
          // Any other host value a kernel or the shape inference looks at counts as a host read too.
          const hostAt = (i: number): HostTensor | undefined => {
            const v = n.inputs[i];
            if (v && hosts[i] && !st.hostInputs.has(i)) readHost(v, n);
            return hosts[i];
          };
          const types: (ValueType | undefined)[] = n.inputs.map((v) => {
            if (!v) return undefined;
            const s = env.get(v)!;
            const t = s.host ?? s.dev!;
            return { dtype: t.dtype, shape: t.dims.slice() };
          });
          let outs: (CudaTensor | undefined)[];
          try {
            const outputTypes = inferNode(n, st.opset, types, hostAt);
            const inputs = n.inputs.map((v, i) => {
              if (!v || st.hostInputs.has(i)) return undefined;
              const t = devOf(v);
              return t.packed && !st.packedInputs.has(i) ? runner.plain(t) : t;
            });
            const kernel = findCudaKernel(schemaKey(n.domain, n.opType))!;
            outs = kernel.run({ node: n, inputs, host: hostAt, outputTypes, cuda: runner, opset: st.opset });
          } catch (e) {
            throw asTwinferError(e, 'RUNTIME', { node: n.name, opType: n.opType });
          }
          n.outputs.forEach((o, k) => {
            const t = outs[k];
            if (!o) { drop(t); return; }
            if (!t) throw new TwinferError('RUNTIME', `CUDA kernel produced no output ${k}`, { node: n.name, opType: n.opType });
            env.set(o, { dev: t });
          });
          for (let k = n.outputs.length; k < outs.length; k++) drop(outs[k]);
        }
        for (const v of st.release) { drop(env.get(v)?.dev); env.delete(v); }
      }
      const result = new Map<string, Feed>();
      const outputs: ProgramOutput[] = [];
      let replayable = true;
      for (const f of fetch) {
        if (!env.has(f)) throw new TwinferError('RUNTIME', `output '${f}' was not computed`);
        const s = env.get(f)!;
        const dev = s.dev && runner.plain(s.dev); // outputs leave in the plain form
        if (rec) {
          if (fed.has(f) && !dev) outputs.push({ name: f, kind: 'feed', feed: f });
          else if (dev) outputs.push({ name: f, kind: 'device', slot: slotOf(dev) });
          else if (isFixed(f)) outputs.push({ name: f, kind: 'host', value: s.host! });
          else { replayable = false; refuse(`output '${f}' is computed on the host from data`); }
        }
        result.set(f, device ? this.toCaller(native, dev ?? s.host!) : hostOf(f));
      }
      return rec ? { result, ...(replayable ? { outputs } : {}) } : result;
    } catch (e) {
      refuse('the run failed');
      throw asTwinferError(e, 'RUNTIME');
    } finally {
      this.lastLaunches = launches;
      for (const t of [...owned]) drop(t);
      // Weights were copied on this context's stream; another context's stream reads them without
      // waiting for it: let the copies finish before any other run can start.
      if (weightsUploaded) { try { native.synchronize(); } catch { /* the run's own error stands */ } }
    }
  }
}
