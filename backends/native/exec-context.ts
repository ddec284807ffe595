/**
 * Execution contexts of the CUDA executor (issue 6; TensorRT's IExecutionContext): each has its own
 * stream (a fork of the addon's context: same device buffers, so the weights uploaded once serve all
 * of them), its own activation buffers and its own recorded programs and CUDA graphs. A run holds
 * one context from its first launch until its outputs are on the host, so concurrent runs of one
 * session overlap on the GPU, each on its own stream, and nothing of one run is queued between
 * another run's launches and downloads.
 */
import type { NativeContext } from './addon.js';
import type { Program } from './program.js';

/** Device buffers by rounded size, reused across nodes and runs; freed on dispose. */
export class BufferPool {
  private readonly free = new Map<number, number[]>();
  private readonly all = new Set<number>();
  constructor(private readonly native: NativeContext) {}
  static round(bytes: number): number { return Math.max(256, Math.ceil(bytes / 256) * 256); }
  take(bytes: number): number {
    const size = BufferPool.round(bytes);
    const id = this.free.get(size)?.pop() ?? this.native.alloc(size);
    this.all.add(id);
    return id;
  }
  give(id: number, bytes: number): void {
    const size = BufferPool.round(bytes);
    const list = this.free.get(size);
    if (list) list.push(id); else this.free.set(size, [id]);
  }
  /** Hands a buffer taken from this pool to `other` (its free list, and its dispose). */
  moveTo(other: BufferPool, id: number, bytes: number): void {
    this.all.delete(id);
    other.all.add(id);
    other.give(id, bytes);
  }
  dispose(): void {
    for (const id of this.all) { try { this.native.free(id); } catch { /* context gone */ } }
    this.all.clear();
    this.free.clear();
  }
}

/** Who holds a stream: one run at a time. */
export class StreamLock {
  private held = false;
  private listeners: (() => void)[] = [];
  tryTake(): boolean {
    if (this.held) return false;
    this.held = true;
    return true;
  }
  /** Takes the lock, waiting for as many releases as it takes. */
  async take(): Promise<void> {
    while (!this.tryTake()) await new Promise<void>((resolve) => this.onRelease(resolve));
  }
  release(): void {
    this.held = false;
    const l = this.listeners;
    this.listeners = [];
    for (const f of l) f();
  }
  /** Calls `f` once, at the next release. */
  onRelease(f: () => void): void { this.listeners.push(f); }
}

/**
 * Streams shared between executors: the addon's process-wide context serves the first execution
 * context of every session, so its lock must be one per stream, not one per executor.
 */
const sharedLocks = new WeakMap<NativeContext, StreamLock>();
function lockOf(native: NativeContext): StreamLock {
  let l = sharedLocks.get(native);
  if (!l) sharedLocks.set(native, (l = new StreamLock()));
  return l;
}

export class ExecContext {
  /** Activations of this context's runs. */
  readonly pool: BufferPool;
  /**
   * Where the buffers recorded programs keep (feeds, static uploads) come from: always new ones,
   * never an activation's: a buffer that served as an activation earlier in a recording run would be
   * written again by that earlier launch on every replay, after the feeds and static tables were put
   * into it. When the program is dropped or refused they join the activations (releaseFixed).
   */
  readonly fixedPool: BufferPool;
  /** Programs by signature, most recently used last; a string says why that signature is not replayed. */
  readonly programs = new Map<string, Program | string>();
  readonly lock: StreamLock;
  /**
   * @param native the stream's context
   * @param owned whether this execution context made it (a fork: disposed with the executor) or
   *   shares it (the process-wide context)
   */
  constructor(readonly native: NativeContext, readonly owned: boolean) {
    this.pool = new BufferPool(native);
    this.fixedPool = new BufferPool(native);
    this.lock = owned ? new StreamLock() : lockOf(native);
  }

  /** A program's buffers, no longer needed as such, become activation buffers. */
  releaseFixed(fixed: readonly { buffer: number; bytes: number }[]): void {
    for (const f of fixed) this.fixedPool.moveTo(this.pool, f.buffer, f.bytes);
  }
}

const outputBuffers = new WeakMap<NativeContext, BufferPool>();
/**
 * Buffers of outputs left in CUDA memory (preferredOutputLocation 'cuda'): process-wide, since such a
 * tensor may outlive its session; given back when the tensor is disposed (src/api/cuda-tensor.ts) and
 * reused by later outputs of the same size, so steady runs neither cudaMalloc nor cudaFree.
 */
export function deviceOutputBuffers(native: NativeContext): BufferPool {
  let p = outputBuffers.get(native);
  if (!p) outputBuffers.set(native, (p = new BufferPool(native)));
  return p;
}

/** How many execution contexts an executor may open (TWINFER_CUDA_CONTEXTS, else 4). */
export function contextsFromEnv(): number {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.['TWINFER_CUDA_CONTEXTS'];
  const n = v === undefined ? NaN : Number(v);
  return Number.isInteger(n) && n >= 1 ? n : 4;
}

/** Whether the addon can fork execution contexts (absent on an addon built before them). */
export function canFork(native: NativeContext): boolean {
  return typeof native.fork === 'function';
}

/** Reads a device range back: off the thread when the addon can (downloadAsync), else blocking. */
export function downloadFrom(native: NativeContext, buffer: number, byteOffset: number, bytes: number): Promise<ArrayBuffer> | ArrayBuffer {
  if (bytes === 0) return new ArrayBuffer(0);
  return native.downloadAsync ? native.downloadAsync(buffer, byteOffset, bytes) : native.download(buffer, byteOffset, bytes);
}
