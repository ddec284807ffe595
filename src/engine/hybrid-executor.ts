/**
 * Runs a partitioned graph: each node on the backend the partitioner chose (cpu or webgpu). A value
 * lives where it was produced and is copied once per crossing (upload or readback), cached for
 * the rest of the run. GPU work is recorded as commands and submitted at a crossing to the CPU or
 * at the end. Weights are uploaded once per session. Views (Reshape, Squeeze, Unsqueeze, Flatten)
 * on the GPU share their input's buffer: no dispatch, no copy.
 *
 * Replay (backends/webgpu/replay.ts): the first run with a given input signature (dims, dtypes,
 * fetched outputs) is recorded; when its work turned out to depend on the dims alone (no value
 * value derived from feed values was read on the host: tracked per value as `dyn`; values derived
 * from dims and constants alone may be read back, their values are the same in every replay), it is
 * kept as a program and later runs with the same signature replay it. A signature whose run was
 * data-dependent is remembered as such and keeps the per-node path. `prepare()` makes the program
 * at session build with zero feeds in a dry run (compiling every pipeline in parallel, uploading
 * weights, timing tactics) without computing anything else.
 */
import type { Graph, Node, ValueType } from '../ir/graph.js';
import { HostTensor } from '../ir/tensor.js';
import { inferNode } from '../ir/infer.js';
import { schemaKey } from '../ir/ops/index.js';
import { TwinferError, asTwinferError } from '../errors.js';
import { runCpuNode } from '../../backends/cpu/executor.js';
import type { GpuContext } from '../../backends/webgpu/device.js';
import { findGpuKernel } from '../../backends/webgpu/ops/index.js';
import { BufferPool, GpuRunner, PipelineCache } from '../../backends/webgpu/runner.js';
import { GpuTensor } from '../../backends/webgpu/tensor.js';
import { RecordedProgram, type Feed, type ProgramInput, type ProgramOutput } from '../../backends/webgpu/replay.js';
import type { TuningSession } from '../../backends/webgpu/tuning.js';

export type { Feed } from '../../backends/webgpu/replay.js';

/** `dyn`: the value depends on feed values (not only on dims): reading it on the host makes a run unreplayable. */
interface Slot { host?: HostTensor | undefined; gpu?: GpuTensor | undefined; dyn?: boolean }

interface Step {
  node: Node;
  backend: 'cpu' | 'webgpu';
  opset: number;
  /** Values to drop after this step (last use). */
  release: string[];
  hostInputs: Set<number>;
  dimsOnly: Set<number>;
  /** A view op on the GPU: its output aliases input 0's buffer. */
  view: boolean;
  /** Output types of the last run and the key of what inference read to produce them. */
  memo?: { key: string; types: ValueType[] };
}

const VIEW_OPS = new Set(['Reshape', 'Squeeze', 'Unsqueeze', 'Flatten']);
/** Ops whose outputs differ between runs on the same inputs: never baked into a program. */
const RANDOM_OPS = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);
/** Programs kept per session (each owns its intermediate buffers); the oldest is dropped past this. */
const MAX_PROGRAMS = 8;

/** What shape inference can depend on: input dims, and the values of small host inputs. */
function inferenceKey(types: (ValueType | undefined)[], hosts: (HostTensor | undefined)[]): string {
  let k = '';
  types.forEach((t, i) => {
    k += t ? (t.shape as number[]).join(',') : '_';
    const h = hosts[i];
    if (h && h.size <= 64) k += `=${Array.prototype.join.call(h.data, ',')}`;
    k += '|';
  });
  return k;
}

class DryAbort extends Error {}

export interface RunIoOptions {
  /** Keep GPU-resident outputs on the GPU (fresh buffers from the session's pool, owned by the caller). */
  gpuOutputs?: boolean;
}

export interface PrepareResult { recorded: boolean; reason?: string; ms: number; pipelines: number }

export class HybridExecutor {
  private readonly steps: Step[];
  readonly pool?: BufferPool;
  private readonly pipelines?: PipelineCache;
  /** Initializers already on the GPU (uploaded on first use, kept for the session). */
  private readonly weights = new Map<string, GpuTensor>();
  private readonly persistent = new WeakSet<GPUBuffer>();
  private readonly volatile = new WeakSet<GPUBuffer>();
  /** Per run signature: its program, or why it cannot be replayed. */
  private readonly programs = new Map<string, RecordedProgram | string>();
  /** Feeds some GPU step reads as a GPU tensor (uploaded first in a recording run). */
  private readonly gpuFeeds = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();
  private released = false;
  /** Record and replay programs (default true; false keeps the per-node path for every run). */
  replay = true;
  /** The tuning cache (and build-time timing), set by the session when tuning is configured. */
  tuning: TuningSession | undefined;
  /** Dispatches of the last run, and how it ran. */
  lastDispatches = 0;
  lastPath: 'replay' | 'record' | 'plain' = 'plain';
  /** Host time of the last run: from its start to its last submit (ms; benchmarks). */
  lastHostMs = 0;

  constructor(private readonly graph: Graph, assignment: Map<Node, string>, private readonly gpu?: GpuContext) {
    if (gpu) { this.pool = new BufferPool(gpu.device); this.pipelines = new PipelineCache(gpu.device); }
    const keep = new Set(graph.outputs.map((o) => o.name));
    const lastUse = new Map<string, number>();
    graph.nodes.forEach((n, i) => n.inputs.forEach((v) => { if (v) lastUse.set(v, i); }));
    const feeds = new Set(graph.feedInputs.map((f) => f.name));
    this.steps = graph.nodes.map((node, i) => {
      const backend = assignment.get(node) === 'webgpu' ? 'webgpu' : 'cpu';
      if (backend === 'webgpu' && !gpu) throw new TwinferError('RUNTIME', 'node assigned to webgpu without a device', { node: node.name });
      const release = [...new Set(node.inputs)].filter((v) => v && lastUse.get(v) === i && !keep.has(v) && !graph.initializers.has(v));
      for (const o of node.outputs) if (o && !lastUse.has(o) && !keep.has(o)) release.push(o);
      const k = backend === 'webgpu' ? findGpuKernel(schemaKey(node.domain, node.opType)) : undefined;
      const hostInputs = new Set(k?.hostInputs ?? []), dimsOnly = new Set(k?.dimsOnlyInputs ?? []);
      if (backend === 'webgpu') node.inputs.forEach((v, j) => { if (v && feeds.has(v) && !hostInputs.has(j) && !dimsOnly.has(j)) this.gpuFeeds.add(v); });
      const view = backend === 'webgpu' && node.domain === '' && VIEW_OPS.has(node.opType);
      return { node, backend, opset: graph.opsets[node.domain] ?? graph.opset, release, hostInputs, dimsOnly, view };
    });
  }

  get pipelineCount(): number { return this.pipelines?.size ?? 0; }
  get device(): GPUDevice | undefined { return this.gpu?.device; }
  /** Kept programs (for tests). */
  get programCount(): number { return [...this.programs.values()].filter((p) => p instanceof RecordedProgram).length; }
  /** Why the program of a signature is not kept, per signature (for tests and logs). */
  get unreplayable(): string[] { return [...this.programs.values()].filter((p): p is string => typeof p === 'string'); }

  async run(feeds: Map<string, HostTensor>, fetch: readonly string[]): Promise<Map<string, HostTensor>> {
    return (await this.runIo(feeds, fetch)) as Map<string, HostTensor>;
  }

  /** A run with GPU feeds allowed and, optionally, outputs left on the GPU. Runs are serialized. */
  runIo(feeds: ReadonlyMap<string, Feed>, fetch: readonly string[], opts: RunIoOptions = {}): Promise<Map<string, Feed>> {
    if (this.released) return Promise.reject(new TwinferError('INVALID_ARGUMENT', 'the session was released'));
    const next = this.chain.then(() => this.runLocked(feeds, fetch, !!opts.gpuOutputs));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private signature(feeds: ReadonlyMap<string, Feed>, fetch: readonly string[]): string {
    let key = `${fetch.join('\u0001')}|`;
    for (const [k, v] of feeds) key += `${k}:${v.dtype}:${v.dims.join(',')};`;
    return key;
  }

  private async runLocked(feeds: ReadonlyMap<string, Feed>, fetch: readonly string[], gpuOutputs: boolean): Promise<Map<string, Feed>> {
    const key = this.signature(feeds, fetch);
    const prog = this.replay ? this.programs.get(key) : undefined;
    if (prog instanceof RecordedProgram) {
      this.lastPath = 'replay';
      this.lastDispatches = prog.dispatches;
      for (const f of feeds.values()) if (f instanceof GpuTensor) this.volatile.add(f.buffer);
      try { return await prog.replay(feeds, gpuOutputs, this.pool!); } catch (e) { throw asTwinferError(e, 'RUNTIME'); } finally { this.lastHostMs = prog.lastHostMs; }
    }
    const record = this.replay && !!this.gpu && prog === undefined;
    const r = await this.execute(feeds, fetch, { dry: false, record, gpuOutputs });
    if (record) this.keep(key, r.program ?? r.reason ?? 'not recorded');
    this.lastPath = record && r.program ? 'record' : 'plain';
    return r.out;
  }

  /**
   * Frees the session's GPU memory once the runs in flight are done: recorded programs, uploaded
   * weights, pooled buffers. Outputs handed out as GPU buffers stay valid (the caller owns them).
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.chain;
    for (const p of this.programs.values()) if (p instanceof RecordedProgram) p.dispose();
    this.programs.clear();
    for (const w of this.weights.values()) w.buffer.destroy();
    this.weights.clear();
    this.pool?.destroy();
  }

  private keep(key: string, p: RecordedProgram | string): void {
    if (p instanceof RecordedProgram && this.programCount >= MAX_PROGRAMS) {
      for (const [k, v] of this.programs) if (v instanceof RecordedProgram) { v.dispose(); this.programs.delete(k); break; }
    }
    this.programs.set(key, p);
  }

  /**
   * Session build: a dry run with zero feeds of the given dims. Compiles every pipeline (in
   * parallel), uploads the weights and runs their one-time transforms, times tactics when tuning
   * asks, and keeps the program when the graph's work depends on dims alone.
   */
  prepare(feeds: Map<string, HostTensor>, fetch: readonly string[]): Promise<PrepareResult> {
    const next = this.chain.then(async (): Promise<PrepareResult> => {
      const t0 = performance.now();
      const key = this.signature(feeds, fetch);
      try {
        const r = await this.execute(feeds, fetch, { dry: true, record: this.replay, gpuOutputs: false });
        if (r.program) this.keep(key, r.program);
        return { recorded: !!r.program, ...(r.reason ? { reason: r.reason } : {}), ms: performance.now() - t0, pipelines: this.pipelineCount };
      } catch (e) {
        if (e instanceof DryAbort) return { recorded: false, reason: e.message, ms: performance.now() - t0, pipelines: this.pipelineCount };
        throw e;
      }
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async execute(feeds: ReadonlyMap<string, Feed>, fetch: readonly string[], o: { dry: boolean; record: boolean; gpuOutputs: boolean }): Promise<{ out: Map<string, Feed>; program?: RecordedProgram; reason?: string }> {
    const t0 = performance.now();
    const runner = this.gpu ? new GpuRunner(this.gpu, this.pool!, this.pipelines!, this.persistent, this.volatile) : undefined;
    if (runner) {
      runner.mode = o.dry ? 'dry' : 'run';
      runner.tuning = this.tuning?.forRun(o.dry);
      if (o.record) runner.startRecording();
    }
    const unreplayable = (why: string) => {
      if (o.dry) throw new DryAbort(why);
      runner?.invalidate(why);
    };
    const env = new Map<string, Slot>();
    for (const [k, v] of this.graph.initializers) env.set(k, { host: v, ...(this.weights.has(k) ? { gpu: this.weights.get(k)! } : {}) });
    for (const [k, v] of feeds) {
      if (v instanceof GpuTensor) {
        if (!runner) throw new TwinferError('INVALID_ARGUMENT', `input '${k}' is a GPU buffer, but no node runs on WebGPU`);
        this.volatile.add(v.buffer);
        env.set(k, { gpu: v, dyn: true });
      } else env.set(k, { host: v, dyn: true });
    }
    // Buffers of this run's values, by reference count (views share their input's buffer).
    const refs = new Map<GPUBuffer, number>();
    const own = (t: GpuTensor) => { refs.set(t.buffer, (refs.get(t.buffer) ?? 0) + 1); };
    const drop = (t: GpuTensor) => {
      const n = refs.get(t.buffer);
      if (n === undefined) return;
      if (n <= 1) { refs.delete(t.buffer); runner!.release(t); } else refs.set(t.buffer, n - 1);
    };
    const inputs: ProgramInput[] = [];
    if (runner && o.record) {
      // Feeds first, into buffers no earlier command of the run touches: a replay writes them up front.
      for (const name of this.gpuFeeds) {
        const f = feeds.get(name);
        if (!f) continue;
        let t: GpuTensor;
        if (f instanceof GpuTensor) { t = runner.alloc(f.dtype, f.dims); runner.copy(f.buffer, 0, t.buffer, 0, t.bytes, false); } else t = runner.upload(f, { record: false });
        own(t);
        env.get(name)!.gpu = t;
        inputs.push({ name, buffer: t.buffer, bytes: t.bytes });
      }
    }

    const hostOf = async (name: string): Promise<HostTensor> => {
      const s = env.get(name)!;
      if (s.dyn) unreplayable(`'${name}' (data-dependent) is read on the host`);
      if (!s.host) s.host = (await runner!.download([s.gpu!]))[0]!;
      return s.host;
    };
    const gpuOf = (name: string): GpuTensor => {
      const s = env.get(name)!;
      if (!s.gpu) {
        if (this.graph.initializers.has(name)) { s.gpu = runner!.upload(s.host!, { persistent: true }); this.weights.set(name, s.gpu); } else { s.gpu = runner!.upload(s.host!); own(s.gpu); }
      }
      return s.gpu;
    };

    let failed = false;
    try {
      for (const st of this.steps) {
        const n = st.node;
        for (const v of n.inputs) if (v && !env.has(v)) throw new TwinferError('RUNTIME', `value '${v}' is not available`, { node: n.name, opType: n.opType });
        if (st.backend === 'cpu') {
          const dyn = RANDOM_OPS.has(n.opType) || n.inputs.some((v) => v && env.get(v)!.dyn);
          const ins = await Promise.all(n.inputs.map((v) => (v ? hostOf(v) : Promise.resolve(undefined))));
          const outs = runCpuNode(n, st.opset, ins);
          n.outputs.forEach((out, k) => { if (out) env.set(out, { host: outs[k]!, dyn }); });
        } else {
          // Host copies: host inputs always (read, so checked), others only when static (constants
          // a kernel may use, e.g. Winograd's weight cache): a feed's values never shape the GPU work.
          const hosts: (HostTensor | undefined)[] = [];
          // The outputs depend on feed values when any input (GPU or host, not dims-only) does.
          let outDyn = RANDOM_OPS.has(n.opType);
          for (let i = 0; i < n.inputs.length; i++) {
            const v = n.inputs[i];
            if (!v) { hosts.push(undefined); continue; }
            const s = env.get(v)!;
            if (!st.dimsOnly.has(i)) outDyn ||= !!s.dyn;
            if (st.hostInputs.has(i)) hosts.push(await hostOf(v)); else hosts.push(s.dyn ? undefined : s.host);
          }
          const types: (ValueType | undefined)[] = n.inputs.map((v) => {
            if (!v) return undefined;
            const s = env.get(v)!;
            const t = s.host ?? s.gpu!;
            return { dtype: t.dtype, shape: t.dims.slice() };
          });
          const key = inferenceKey(types, hosts);
          let outputTypes: ValueType[];
          if (st.memo?.key === key) outputTypes = st.memo.types;
          else {
            outputTypes = inferNode(n, st.opset, types, (i) => hosts[i]);
            if (!outputTypes.some((t) => t.shape?.some((d) => typeof d !== 'number'))) st.memo = { key, types: outputTypes };
          }
          const x0 = n.inputs[0] ? env.get(n.inputs[0])! : undefined;
          if (st.view && x0?.gpu && n.outputs[0] && outputTypes[0]?.shape?.every((d) => typeof d === 'number')) {
            const dims = outputTypes[0].shape as number[];
            const t = new GpuTensor(x0.gpu.buffer, outputTypes[0].dtype, dims);
            if (refs.has(t.buffer)) own(t);
            env.set(n.outputs[0], { gpu: t, ...(x0.host ? { host: x0.host.reshape(dims) } : {}), ...(x0.dyn ? { dyn: true } : {}) });
          } else {
            const ins = n.inputs.map((v, i) => (v && !st.hostInputs.has(i) && !st.dimsOnly.has(i) ? gpuOf(v) : undefined));
            const kernel = findGpuKernel(schemaKey(n.domain, n.opType))!;
            let outs: (GpuTensor | undefined)[];
            try {
              outs = await kernel.run({ node: n, inputs: ins, host: (i) => hosts[i], dims: (i) => types[i]?.shape as number[] | undefined, outputTypes, gpu: runner! });
            } catch (e) {
              throw asTwinferError(e, 'RUNTIME', { node: n.name, opType: n.opType });
            }
            n.outputs.forEach((out, k) => {
              const t = outs[k];
              if (!out) { if (t) runner!.release(t); return; }
              if (!t) throw new TwinferError('RUNTIME', `WebGPU kernel produced no output ${k}`, { node: n.name, opType: n.opType });
              own(t);
              env.set(out, { gpu: t, ...(t.host ? { host: t.host } : {}), ...(outDyn ? { dyn: true } : {}) });
            });
            for (let k = n.outputs.length; k < outs.length; k++) if (outs[k]) runner!.release(outs[k]!);
          }
        }
        for (const v of st.release) {
          const s = env.get(v);
          if (s?.gpu) drop(s.gpu);
          env.delete(v);
        }
      }

      let program: RecordedProgram | undefined;
      let reason: string | undefined;
      if (runner && o.record) {
        const outputs: ProgramOutput[] = [];
        for (const f of fetch) {
          const s = env.get(f);
          if (!s) throw new TwinferError('RUNTIME', `output '${f}' was not computed`);
          if (feeds.has(f)) outputs.push({ name: f, kind: 'feed', feed: f });
          else if (s.host && !s.dyn) outputs.push({ name: f, kind: 'host', host: s.host });
          else if (s.gpu) outputs.push({ name: f, kind: 'gpu', t: s.gpu });
          else unreplayable(`output '${f}' is computed on the host from data`);
        }
        reason = runner.invalidReason;
        const rec = await runner.takeRecording();
        if (rec) program = new RecordedProgram(runner.device, rec, inputs, outputs);
      }
      const out = new Map<string, Feed>();
      if (o.dry) return { out, ...(program ? { program } : {}), ...(reason ? { reason } : {}) };
      const reads: string[] = [];
      for (const f of fetch) {
        const s = env.get(f);
        if (!s) throw new TwinferError('RUNTIME', `output '${f}' was not computed`);
        const fed = feeds.get(f);
        if (o.gpuOutputs && fed instanceof GpuTensor) out.set(f, fed);
        else if (o.gpuOutputs && s.gpu) {
          const t = runner!.allocShared(s.gpu.dtype, s.gpu.dims);
          runner!.copy(s.gpu.buffer, 0, t.buffer, 0, s.gpu.bytes, false);
          out.set(f, t);
        } else if (s.host) out.set(f, s.host);
        else reads.push(f);
      }
      if (reads.length) {
        const hs = await runner!.download(reads.map((f) => env.get(f)!.gpu!));
        reads.forEach((f, i) => out.set(f, hs[i]!));
      }
      return { out, ...(program ? { program } : {}), ...(reason ? { reason } : {}) };
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      if (runner) {
        this.lastDispatches = runner.dispatches;
        this.lastHostMs = Math.max(0, runner.submittedAt - t0);
        // Back to the run's allocator first: finish() then hands a recording's buffers to the pool
        // (not kept) or leaves them to the program (kept); runs are serialized, so nothing reuses them early.
        for (const b of refs.keys()) runner.release({ buffer: b } as GpuTensor);
        try { await runner.finish(); } catch (e) { if (!failed) throw e; }
      }
    }
  }
}
