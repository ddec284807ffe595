/**
 * Records GPU work for one run: buffers from a size-bucketed pool, pipelines from a cache keyed
 * by compile-time facts, uploads / readbacks at backend crossings. Dispatches and copies are kept
 * as commands (replay-cmds.ts) and encoded at flush, into one command encoder per submit: so every
 * pipeline a run needs compiles in parallel, and a run can be kept as a replayable program
 * (replay.ts) when it is recording.
 *
 * Shader convention (see program.ts): bindings 0..n-1 are the inputs (read-only storage), then the
 * outputs (read_write storage), then one read-only `array<u32>` of parameters (dims, strides,
 * scalars bitcast), so run-time sizes never force a recompile.
 */
import type { DType } from '../../src/ir/dtype.js';
import type { HostTensor } from '../../src/ir/tensor.js';
import { TwinferError } from '../../src/errors.js';
import type { GpuContext } from './device.js';
import { GpuTensor, fromGpuBytes, toGpuArray } from './tensor.js';
import type { Program } from './program.js';
import { encodeCmds, type Cmd, type DispatchCmd } from './replay-cmds.js';
import type { TuningSession } from './tuning.js';

const MIN_BYTES = 16;

export interface Allocator {
  acquire(bytes: number): GPUBuffer;
  release(b: GPUBuffer): void;
}

export class BufferPool implements Allocator {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly made = new WeakSet<GPUBuffer>();
  constructor(private readonly device: GPUDevice) {}

  /** Buckets: multiples of 256 bytes up to 64 KiB, then powers of two (bounded waste, high reuse). */
  static bucket(bytes: number): number {
    const b = Math.max(MIN_BYTES, bytes);
    if (b <= 65536) return Math.ceil(b / 256) * 256;
    return 2 ** Math.ceil(Math.log2(b));
  }

  acquire(bytes: number): GPUBuffer {
    const size = BufferPool.bucket(bytes);
    const list = this.free.get(size);
    const b = list?.pop();
    if (b) return b;
    const nb = this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    this.made.add(nb);
    return nb;
  }

  release(b: GPUBuffer): void {
    const list = this.free.get(b.size);
    if (list) list.push(b); else this.free.set(b.size, [b]);
  }

  /** Whether the pool made this buffer (its contents change from run to run). */
  owns(b: GPUBuffer): boolean { return this.made.has(b); }

  destroy(): void {
    for (const l of this.free.values()) for (const b of l) b.destroy();
    this.free.clear();
  }
}

/**
 * The allocator of a recording run: buffers come from the shared pool but are recycled only inside
 * this run, so the run's buffer assignment is fixed and the program that keeps the run owns them.
 */
export class ScopedPool implements Allocator {
  private readonly free = new Map<number, GPUBuffer[]>();
  readonly all: GPUBuffer[] = [];
  constructor(private readonly pool: BufferPool) {}
  acquire(bytes: number): GPUBuffer {
    const b = this.free.get(BufferPool.bucket(bytes))?.pop();
    if (b) return b;
    const nb = this.pool.acquire(bytes);
    this.all.push(nb);
    return nb;
  }
  release(b: GPUBuffer): void {
    const list = this.free.get(b.size);
    if (list) list.push(b); else this.free.set(b.size, [b]);
  }
  /** Hands every buffer back to the shared pool. */
  returnAll(): void { for (const b of this.all) this.pool.release(b); this.all.length = 0; this.free.clear(); }
}

export class PipelineCache {
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  constructor(private readonly device: GPUDevice) {}

  get(key: string, wgsl: () => string): Promise<GPUComputePipeline> {
    let p = this.pipelines.get(key);
    if (!p) {
      const code = wgsl();
      const module = this.device.createShaderModule({ code, label: key });
      p = this.device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key }).catch(async (e: unknown) => {
        const info = await module.getCompilationInfo?.().catch(() => undefined);
        const msgs = info?.messages.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ') ?? '';
        throw new TwinferError('RUNTIME', `WebGPU pipeline '${key}' failed: ${(e as Error).message} ${msgs}\n${code}`);
      });
      p.catch(() => undefined); // awaited at flush; never an unhandled rejection meanwhile
      this.pipelines.set(key, p);
    }
    return p;
  }

  get size(): number { return this.pipelines.size; }
}

/** Parameters of many dispatches share one buffer, each at a 256-byte aligned slot. */
const PARAM_ALIGN = 256;
const PARAM_CHUNK = 256 * 1024;

/** What a recording run leaves behind for its program (see replay.ts). */
export interface Recording {
  cmds: Cmd[];
  /** Buffers the run's values used (from the shared pool): the program owns them. */
  buffers: ScopedPool;
  /** Parameter and staging buffers the recorded commands read. */
  resources: GPUBuffer[];
}

/**
 * 'run': everything executes. 'dry' (session build): only one-time preparation executes (weight
 * uploads, weight transforms); the rest is recorded, so pipelines compile and a program can be
 * kept without computing anything.
 */
export type RunMode = 'run' | 'dry';

export class GpuRunner {
  readonly device: GPUDevice;
  private cmds: Cmd[] = [];
  private transient: GPUBuffer[] = [];
  /** Current parameter chunk: GPU buffer, host mirror, next free byte, first byte not yet written. */
  private params: { buf: GPUBuffer; host: Uint8Array; top: number; written: number } | undefined;
  private alloc_: Allocator;
  private rec: { cmds: Cmd[]; scoped: ScopedPool; valid: boolean; why?: string } | undefined;
  private scoped: ScopedPool | undefined;
  /** Dispatches recorded since the runner was made (for tests and profiling). */
  dispatches = 0;
  /** performance.now() after the last submit (host time of a run = this minus its start). */
  submittedAt = 0;
  mode: RunMode = 'run';
  /** Build-time tactic timing and the tuning cache (tuning.ts); undefined: policies only. */
  tuning: TuningSession | undefined;

  constructor(
    readonly ctx: GpuContext, readonly pool: BufferPool, readonly pipelines: PipelineCache,
    /** Buffers that keep their contents across runs (weights): commands touching only those run once. */
    private readonly persistent: WeakSet<GPUBuffer> = new WeakSet(),
    /** Buffers the caller owns (user GPU feeds): never persistent. */
    private readonly volatile: WeakSet<GPUBuffer> = new WeakSet(),
  ) {
    this.device = ctx.device;
    this.alloc_ = pool;
  }

  /** From now on this run is recorded (buffers fixed for it); see takeRecording. */
  startRecording(): void {
    this.scoped = new ScopedPool(this.pool);
    this.alloc_ = this.scoped;
    this.rec = { cmds: [], scoped: this.scoped, valid: true };
  }

  /** The run cannot be replayed (it read a value computed on the GPU, or a feed's values, on the host). */
  invalidate(why: string): void { if (this.rec) { this.rec.valid = false; this.rec.why ??= why; } }
  get recording(): boolean { return !!this.rec?.valid; }
  get invalidReason(): string | undefined { return this.rec?.why; }

  /** Flushes, then hands the recorded commands and the resources they use to the caller. */
  async takeRecording(): Promise<Recording | undefined> {
    await this.flush();
    const r = this.rec;
    this.rec = undefined;
    if (!r?.valid) return undefined;
    const resources = this.transient;
    this.transient = [];
    this.params = undefined;
    this.scoped = undefined; // the program owns its buffers now; later releases stay out of the shared pool
    this.alloc_ = { acquire: (b) => this.pool.acquire(b), release: () => undefined };
    return { cmds: r.cmds, buffers: r.scoped, resources };
  }

  isPersistent(b: GPUBuffer): boolean {
    return this.persistent.has(b) || (!this.pool.owns(b) && !this.volatile.has(b));
  }

  /** Writes the parameter bytes recorded since the last write (before the commands that read them are submitted). */
  private writeParams(): void {
    const p = this.params;
    if (p && p.top > p.written) {
      this.device.queue.writeBuffer(p.buf, p.written, p.host.buffer, p.host.byteOffset + p.written, p.top - p.written);
      p.written = p.top;
    }
  }

  /** A slot for `words` u32 parameters: [buffer, offset, size]. */
  private paramSlot(values: readonly number[]): [GPUBuffer, number, number] {
    const bytes = Math.max(16, values.length * 4);
    if (!this.params || this.params.top + bytes > this.params.host.byteLength) {
      this.writeParams();
      const size = Math.max(PARAM_CHUNK, Math.ceil(bytes / PARAM_ALIGN) * PARAM_ALIGN);
      const buf = this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
      this.transient.push(buf);
      this.params = { buf, host: new Uint8Array(size), top: 0, written: 0 };
    }
    const p = this.params;
    const off = p.top;
    const view = new Uint32Array(p.host.buffer, p.host.byteOffset + off, bytes / 4);
    for (let i = 0; i < values.length; i++) view[i] = values[i]!;
    p.top = Math.ceil((off + bytes) / PARAM_ALIGN) * PARAM_ALIGN;
    return [p.buf, off, bytes];
  }

  /** A new output tensor from the pool (the run's scoped pool while recording). */
  alloc(dtype: DType, dims: readonly number[]): GpuTensor {
    let n = 1;
    for (const d of dims) n *= d;
    return new GpuTensor(this.alloc_.acquire(n * 4), dtype, dims);
  }

  /** A tensor from the shared pool that outlives the run (weights, outputs handed to the user). */
  allocShared(dtype: DType, dims: readonly number[], persistent = false): GpuTensor {
    let n = 1;
    for (const d of dims) n *= d;
    const t = new GpuTensor(this.pool.acquire(n * 4), dtype, dims);
    if (persistent) this.persistent.add(t.buffer);
    return t;
  }

  release(t: GpuTensor): void { this.alloc_.release(t.buffer); }

  /**
   * Uploads through a staging buffer copied inside the encoder, not queue.writeBuffer: a pooled
   * buffer may still be read by recorded, unsubmitted dispatches, and writeBuffer would land first.
   * `persistent`: a weight (shared pool, kept); `record: false`: a feed, which a replay writes itself.
   */
  upload(t: HostTensor, opts: { persistent?: boolean; record?: boolean } = {}): GpuTensor {
    const data = toGpuArray(t);
    const g = opts.persistent ? this.allocShared(t.dtype, t.dims, true) : this.alloc(t.dtype, t.dims);
    if (data.byteLength > 0) {
      const size = Math.ceil(data.byteLength / 4) * 4;
      const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
      new Uint8Array(staging.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      staging.unmap();
      this.transient.push(staging);
      this.copy(staging, 0, g.buffer, 0, size, opts.record ?? true);
    }
    return g;
  }

  /** Records a program: pipeline (compiled in parallel with the run's others), bind group, dispatch. */
  async run(p: Program): Promise<void> {
    const [x, y, z] = p.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const max = this.ctx.caps.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) throw new TwinferError('RUNTIME', `WebGPU: ${p.name} needs ${x}x${y}x${z} workgroups, more than ${max} per dimension`);
    const pipeline = this.pipelines.get(p.cacheKey, p.wgsl);
    const [pbuf, poff, psize] = this.paramSlot(p.params);
    const entries: GPUBindGroupEntry[] = [];
    let prep = true;
    for (const t of p.inputs) { entries.push({ binding: entries.length, resource: { buffer: t.buffer, size: Math.max(MIN_BYTES, t.bytes) } }); prep &&= this.isPersistent(t.buffer); }
    for (const t of p.outputs) { entries.push({ binding: entries.length, resource: { buffer: t.buffer, size: Math.max(MIN_BYTES, t.bytes) } }); prep &&= this.isPersistent(t.buffer); }
    entries.push({ binding: entries.length, resource: { buffer: pbuf, offset: poff, size: psize } });
    const cmd: DispatchCmd = { kind: 'dispatch', name: p.name, pipeline, entries, wg: [x, y, z], prep };
    this.cmds.push(cmd);
    this.dispatches++;
  }

  /** Copies `bytes` between buffers (recorded in order with the dispatches). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number, record = true): void {
    if (bytes <= 0) return;
    this.cmds.push({ kind: 'copy', src, srcOffset, dst, dstOffset, bytes, prep: this.isPersistent(src) && this.isPersistent(dst), record });
  }

  /** Resolves the pipelines of `cmds` (in parallel), naming the program that failed. */
  private static async resolve(cmds: readonly Cmd[]): Promise<void> {
    await Promise.all(cmds.map(async (c) => {
      if (c.kind !== 'dispatch' || c.resolved) return;
      try { c.resolved = await c.pipeline; } catch (e) {
        throw e instanceof TwinferError ? new TwinferError(e.code, `${c.name}: ${e.message}`, { cause: e }) : e;
      }
    }));
  }

  /** Encodes and submits what is recorded (in a dry run, only one-time preparation). */
  async flush(everything = false): Promise<void> {
    const cmds = this.cmds;
    this.cmds = [];
    if (cmds.length === 0) { this.writeParams(); return; }
    await GpuRunner.resolve(cmds);
    const enc = this.device.createCommandEncoder();
    const dry = this.mode === 'dry' && !everything;
    encodeCmds(this.device, enc, cmds, (c) => !dry || c.prep);
    if (this.rec?.valid) for (const c of cmds) if (!c.prep && (c.kind === 'dispatch' || c.record)) this.rec.cmds.push(c);
    this.writeParams();
    this.device.queue.submit([enc.finish()]);
    this.submittedAt = performance.now();
  }

  /**
   * Build-time tactic timing: records each candidate apart, runs its one-time preparation, then
   * times its commands (best of `reps` submits, wall time to onSubmittedWorkDone, after one warm
   * submit). Returns the milliseconds per candidate (Infinity where one threw).
   */
  async timeCandidates(cands: readonly (() => Promise<void>)[], reps = 3): Promise<number[]> {
    // What is recorded so far runs first: the weight uploads the candidates read, and (in a dry
    // run) everything, so values read back later never miss commands skipped here.
    await this.flush(true);
    const saved = this.cmds;
    const out: number[] = [];
    try {
      for (const cand of cands) {
        this.cmds = [];
        try { await cand(); } catch { out.push(Infinity); continue; }
        const list = this.cmds;
        await GpuRunner.resolve(list);
        this.writeParams();
        const once = (keep: (c: Cmd) => boolean) => { const e = this.device.createCommandEncoder(); encodeCmds(this.device, e, list, keep); this.device.queue.submit([e.finish()]); };
        once((c) => c.prep);
        once((c) => !c.prep);
        await this.device.queue.onSubmittedWorkDone();
        let best = Infinity;
        for (let r = 0; r < reps; r++) {
          const t0 = performance.now();
          once((c) => !c.prep);
          await this.device.queue.onSubmittedWorkDone();
          best = Math.min(best, performance.now() - t0);
        }
        out.push(best);
      }
    } finally { this.cmds = saved; }
    return out;
  }

  /** Submits, then reads tensors back to host memory. */
  async download(ts: readonly GpuTensor[]): Promise<HostTensor[]> {
    const reads = ts.map((t) => {
      const rb = this.device.createBuffer({ size: Math.max(MIN_BYTES, t.bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      this.copy(t.buffer, 0, rb, 0, t.bytes, false);
      return rb;
    });
    // In a dry run too: the executor reads back only values computed from dims and constants, which
    // zero feeds compute correctly (nothing was skipped before: a dry run flushes everything here and
    // in timeCandidates, and skips commands only at the end).
    await this.flush(true);
    return Promise.all(reads.map(async (rb, i) => {
      await rb.mapAsync(GPUMapMode.READ);
      const h = fromGpuBytes(ts[i]!.dtype, ts[i]!.dims, rb.getMappedRange().slice(0));
      rb.unmap();
      rb.destroy();
      return h;
    }));
  }

  /**
   * Submits and waits for the GPU, then frees per-run parameter and staging buffers; a recording
   * that was not taken gives its buffers back to the shared pool.
   */
  async finish(): Promise<void> {
    try {
      await this.flush();
      await this.device.queue.onSubmittedWorkDone();
    } finally {
      for (const b of this.transient) b.destroy();
      this.transient = [];
      this.params = undefined;
      this.cmds = [];
      if (this.scoped) { this.scoped.returnAll(); this.scoped = undefined; this.alloc_ = this.pool; }
      this.rec = undefined;
    }
  }
}
