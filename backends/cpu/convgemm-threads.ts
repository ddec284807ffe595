/**
 * Multi-threaded CPU kernels: a pool of worker threads over the GEMM's one shared WebAssembly
 * memory (convgemm-wasm.ts). Kernels stay synchronous: the calling thread lays out its operands in
 * the arena, describes the work as a job (a list of tasks, each a list of calls to the module's
 * exports with their arguments), takes tasks itself and waits with Atomics.wait for the rest.
 *
 * The core holds no Node built-in: a host (src/node-threads.ts, installed by the Node entry
 * point) supplies the thread count and starts workers. Without a host (browsers), or without
 * SharedArrayBuffer, everything runs on the calling thread as before.
 *
 * Protocol (one Int32Array `ctl` over a SharedArrayBuffer, shared with every worker):
 *  - CLAIM packs the current job's claim state in one word: [31..28] slots - 1 (threads that may
 *    take part: slot 0 is the caller, worker i is slot i), [27..14] task count, [13..0] next task.
 *    A thread takes task t by compare-exchange of t -> t + 1, and only then reads the job's
 *    location (JOB), which cannot change until every task of the job is done; so a claim is
 *    always one of the current job, and a stale read merely fails the exchange.
 *  - GEN is bumped when a job is published (and by a kernel about to publish one: prewake); idle
 *    workers spin on it for SPIN_MS, then Atomics.wait on it, counted in SLEEPING so that the
 *    caller only pays for Atomics.notify (a system call) when someone sleeps.
 *  - DONE counts finished tasks; the caller waits for it to reach the task count, with a
 *    time-out on progress, so a worker that died holding a task is an error, never a hang.
 *  - ERR / MSG: the first failure's message; ABORT: stop calling into the module (after a time-out).
 *
 * A job in the arena (float64 words from byte offset JOB): [ntasks, slotBytes, start_0 ..
 * start_ntasks, calls...]; task t's calls are words [start_t, start_t+1) of the call area, each
 * call `id, rel, args...` (id: index in WASM_FN_NAMES; bit i of rel: argument i is relative to
 * the thread's slot, i.e. gets slot * slotBytes added, for per-thread scratch).
 */
import { TwinferError } from '../../src/errors.js';
import { WASM_FN_NAMES, type GemmWasm } from './convgemm-wasm.js';

/** What a platform supplies to run kernels on several threads. */
export interface CpuThreadHost {
  /** Threads (the caller included) when nothing else says: Node uses min(availableParallelism, 8). */
  defaultThreads(): number;
  /**
   * Starts a worker thread evaluating `source` (a script that expects `data` in a variable
   * `workerData`); the worker must not keep the process alive. `onExit` is called when it ends
   * for any reason other than terminate().
   */
  spawn(source: string, data: WorkerData, onExit: (reason: string) => void): { terminate(): void };
}

export interface WorkerData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctl: SharedArrayBuffer;
  names: readonly string[];
  slot: number;
  /** How long an idle worker spins before it sleeps, ms. */
  spinMs: number;
}

/** At most this many threads (the claim word keeps 4 bits for the slot count). */
export const MAX_THREADS = 16;
const MAX_TASKS = (1 << 14) - 1;

let host: CpuThreadHost | undefined;
let requested: number | undefined;
let timeoutMs = 30_000;

/** Installs (or with undefined removes) the platform's thread host. */
export function setCpuThreadHost(h: CpuThreadHost | undefined): void {
  pool?.close();
  pool = undefined;
  host = h;
  spawnFailed = false;
}

/** Whether a thread host is installed and shared memory exists (the arena is then shared). */
export function cpuThreadsAvailable(): boolean {
  return host !== undefined && !spawnFailed && typeof SharedArrayBuffer === 'function' && typeof Atomics === 'object';
}
let spawnFailed = false;

/**
 * Sets the thread count for the kernels that follow (a session's `cpuThreads`); undefined goes
 * back to the default (TWINFER_CPU_THREADS, else the host's).
 */
export function setCpuThreads(n: number | undefined): void {
  if (n !== undefined && (!Number.isInteger(n) || n < 1)) throw new TwinferError('INVALID_ARGUMENT', `cpuThreads must be a positive integer, got ${String(n)}`);
  requested = n;
}

/** Threads the kernels use now (1 without a host). */
export function cpuThreads(): number {
  if (!cpuThreadsAvailable()) return 1;
  const n = requested ?? host!.defaultThreads();
  return Math.max(1, Math.min(MAX_THREADS, Math.floor(n) || 1));
}

/** Time without progress after which waiting for a worker fails (tests shorten it). */
export function setCpuThreadTimeout(ms: number): void { timeoutMs = ms; }

/**
 * Fault injection for tests: the next job's first task taken by a worker throws ('throw'),
 * never finishes ('hang') or ends the worker ('exit'); `callerSkips` keeps the calling thread
 * from taking tasks, so the workers must.
 */
export function injectCpuThreadFault(fault: 'throw' | 'hang' | 'exit' | undefined, callerSkips = fault !== undefined): void {
  testFault = fault === 'throw' ? 1 : fault === 'hang' ? 2 : fault === 'exit' ? 3 : 0;
  testCallerSkips = callerSkips;
}
let testFault = 0;
let testCallerSkips = false;

// ---------------------------------------------------------------- jobs

/** Indices into WASM_FN_NAMES. */
export const FN: Readonly<Record<string, number>> = Object.fromEntries(WASM_FN_NAMES.map((n, i) => [n, i]));

/** A job under construction: tasks of calls (see the header for the encoding). */
export class ParJob {
  readonly words: number[] = [];
  readonly starts: number[] = [];

  /** @param slotBytes distance between consecutive threads' scratch (slot-relative arguments). */
  constructor(readonly slotBytes: number) {}

  get tasks(): number { return this.starts.length; }

  /** Starts a new task; the calls that follow belong to it. */
  task(): this { this.starts.push(this.words.length); return this; }

  /** Appends a call of export `fn` (a WASM_FN_NAMES entry) to the current task. */
  call(fn: string, rel: number, ...args: number[]): this {
    const id = FN[fn];
    if (id === undefined) throw new Error(`ParJob: no export ${fn}`);
    this.words.push(id, rel, ...args);
    return this;
  }
}

// ---------------------------------------------------------------- the pool

const CLAIM = 0, GEN = 1, JOB = 2, DONE = 3, ERR = 4, ABORT = 5, FAULT = 6, SLEEPING = 7, MSG = 16, MSG_LEN = 240;
const CTL_INTS = MSG + MSG_LEN;
const ARGS = 17; // the most arguments an export takes
/**
 * Spinning before sleeping (workers between jobs, the caller waiting for the last tasks): waking
 * a sleeping thread costs 50-100 us on a virtual machine, more than many convolutions' tasks.
 */
const SPIN_MS = 1;

/**
 * The worker's script (CommonJS, evaluated by the host). It mirrors runTask() below; it calls
 * into its own instance of the module over the shared memory.
 */
const WORKER_SOURCE = `const { module, memory, ctl: ctlBuf, names, slot } = workerData;
const ctl = new Int32Array(ctlBuf);
const ex = new WebAssembly.Instance(module, { env: { mem: memory } }).exports;
const fns = names.map((n) => ex[n]);
const arity = fns.map((f) => f.length);
const a = new Array(${ARGS}).fill(0);
let F = new Float64Array(memory.buffer);
function fail(e) {
  const msg = String(e && e.stack ? e.message : e).slice(0, ${MSG_LEN});
  if (Atomics.compareExchange(ctl, ${ERR}, 0, slot) === 0) {
    for (let i = 0; i < ${MSG_LEN}; i++) ctl[${MSG} + i] = i < msg.length ? msg.charCodeAt(i) : 0;
  }
}
function runTask(t) {
  if (F.buffer.byteLength !== memory.buffer.byteLength) F = new Float64Array(memory.buffer);
  const base = Atomics.load(ctl, ${JOB}) / 8;
  const nt = F[base], off = slot * F[base + 1], calls = base + nt + 3;
  let p = calls + F[base + 2 + t];
  const e = calls + F[base + 3 + t];
  while (p < e) {
    if (Atomics.load(ctl, ${ABORT}) !== 0) return;
    const id = F[p], rel = F[p + 1], n = arity[id];
    for (let i = 0; i < n; i++) a[i] = F[p + 2 + i] + ((rel >> i) & 1 ? off : 0);
    fns[id](a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16]);
    p += 2 + n;
  }
}
for (;;) {
  const gen = Atomics.load(ctl, ${GEN});
  for (;;) {
    const w = Atomics.load(ctl, ${CLAIM});
    const slots = (w >>> 28) + 1, nt = (w >>> 14) & ${MAX_TASKS}, t = w & ${MAX_TASKS};
    if (slot >= slots || t >= nt) break;
    if (Atomics.compareExchange(ctl, ${CLAIM}, w, w + 1) !== w) continue;
    try {
      const fault = Atomics.exchange(ctl, ${FAULT}, 0);
      if (fault === 1) throw new Error('injected fault');
      if (fault === 2) Atomics.wait(ctl, ${FAULT}, 0);
      if (fault === 3) throw Object.assign(new Error('exit'), { exit: true });
      runTask(t);
    } catch (e) {
      if (e && e.exit) throw e; // test fault: the worker ends holding its task
      fail(e);
    }
    if (Atomics.add(ctl, ${DONE}, 1) + 1 === nt) Atomics.notify(ctl, ${DONE});
  }
  // spin a while before sleeping: jobs come in bursts, and waking a sleeping thread costs
  // tens of microseconds (more on virtual machines)
  const until = performance.now() + workerData.spinMs;
  for (let i = 1; Atomics.load(ctl, ${GEN}) === gen; i++) {
    if ((i & 1023) === 0 && performance.now() > until) {
      // counted as sleeping before the wait checks GEN: a job published after the count was read as 0
      // changed GEN first, so this wait returns at once (notify is a system call: skipped when nobody sleeps)
      Atomics.add(ctl, ${SLEEPING}, 1);
      Atomics.wait(ctl, ${GEN}, gen);
      Atomics.sub(ctl, ${SLEEPING}, 1);
      break;
    }
  }
}
`;

class Pool {
  readonly ctl = new Int32Array(new SharedArrayBuffer(CTL_INTS * 4));
  private readonly workers: { terminate(): void }[] = [];
  private dead: string | undefined;
  private closed = false;
  private readonly fns: ((...a: number[]) => void)[];
  private readonly arity: number[];
  private readonly args = new Array<number>(ARGS).fill(0);

  constructor(readonly wasm: GemmWasm, private readonly h: CpuThreadHost) {
    const ex = wasm.exports as unknown as Record<string, (...a: number[]) => void>;
    this.fns = WASM_FN_NAMES.map((n) => ex[n]!);
    this.arity = this.fns.map((f) => f.length);
  }

  get broken(): boolean { return this.dead !== undefined; }

  /** Makes sure `n` workers exist (they start asynchronously; tasks never wait for them to). */
  ensure(n: number): void {
    while (this.workers.length < n) {
      const slot = this.workers.length + 1;
      const data: WorkerData = { module: this.wasm.module, memory: this.wasm.memory, ctl: this.ctl.buffer as SharedArrayBuffer, names: WASM_FN_NAMES, slot, spinMs: SPIN_MS };
      try {
        this.workers.push(this.h.spawn(WORKER_SOURCE, data, (reason) => {
          if (!this.closed) this.dead ??= `worker thread ${slot} exited (${reason})`;
        }));
      } catch {
        // no threads to be had (resource limits): this job runs on the caller; later ones single-threaded
        spawnFailed = true;
        return;
      }
    }
  }

  close(): void {
    this.closed = true;
    Atomics.store(this.ctl, ABORT, 1);
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
  }

  /** Runs task t of the job at F[base...] on this thread (slot 0). */
  private runTask(F: Float64Array, base: number, t: number): void {
    const nt = F[base]!, calls = base + nt + 3;
    const a = this.args, fns = this.fns, arity = this.arity;
    let p = calls + F[base + 2 + t]!;
    const e = calls + F[base + 3 + t]!;
    while (p < e) {
      const id = F[p]!, n = arity[id]!;
      for (let i = 0; i < n; i++) a[i] = F[p + 2 + i]!; // slot 0: relative arguments are as written
      fns[id]!(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!, a[10]!, a[11]!, a[12]!, a[13]!, a[14]!, a[15]!, a[16]!);
      p += 2 + n;
    }
  }

  /** Runs the job encoded at byte offset `jobPtr` (ntasks tasks) on `threads` threads. */
  run(F: Float64Array, jobPtr: number, nt: number, threads: number, meanwhile?: () => void): void {
    const ctl = this.ctl;
    this.ensure(threads - 1);
    Atomics.store(ctl, JOB, jobPtr);
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, ERR, 0);
    if (testFault) { Atomics.store(ctl, FAULT, testFault); testFault = 0; }
    const skip = testCallerSkips;
    testCallerSkips = false;
    Atomics.store(ctl, CLAIM, ((threads - 1) << 28) | (nt << 14));
    wake(ctl);
    const base = jobPtr / 8;
    let failure: unknown;
    if (meanwhile) {
      try { meanwhile(); } catch (e) { failure = e; }
    }
    for (;;) {
      if (skip) break;
      const w = Atomics.load(ctl, CLAIM);
      const t = w & MAX_TASKS;
      if (t >= nt) break;
      if (Atomics.compareExchange(ctl, CLAIM, w, w + 1) !== w) continue;
      try {
        this.runTask(F, base, t);
      } catch (e) {
        failure ??= e;
      }
      Atomics.add(ctl, DONE, 1);
    }
    // wait for the workers' tasks; fail (never hang) when nothing progresses for timeoutMs
    let d = Atomics.load(ctl, DONE), last = d, since = Date.now();
    const until = performance.now() + SPIN_MS;
    for (let i = 1; d < nt; i++) {
      d = Atomics.load(ctl, DONE);
      if ((i & 1023) === 0 && performance.now() > until) break;
    }
    while (d < nt) {
      Atomics.wait(ctl, DONE, d, 50);
      d = Atomics.load(ctl, DONE);
      const now = Date.now();
      if (d !== last) { last = d; since = now; continue; }
      if (now - since > timeoutMs) {
        const why = this.dead ?? `no progress for ${timeoutMs} ms`;
        this.dead = why;
        throw new TwinferError('RUNTIME', `CPU worker threads failed: ${nt - d} of ${nt} tasks unfinished, ${why}; the pool is shut down and restarted on the next call`);
      }
    }
    if (failure !== undefined) throw failure;
    const errSlot = Atomics.load(ctl, ERR);
    if (errSlot !== 0) {
      let msg = '';
      for (let i = 0; i < MSG_LEN && ctl[MSG + i] !== 0; i++) msg += String.fromCharCode(ctl[MSG + i]!);
      throw new TwinferError('RUNTIME', `CPU worker thread ${errSlot} failed: ${msg}`);
    }
  }
}

let pool: Pool | undefined;

/**
 * Wakes idle workers ahead of a job (a kernel about to lay out its operands calls this): they
 * spin while the operands are copied, so the job does not wait for a sleeping thread to wake.
 */
export function prewakeCpuThreads(): void {
  if (pool) wake(pool.ctl);
}

/** Bumps GEN; wakes the workers that sleep (see the worker's loop for why skipping is safe). */
function wake(ctl: Int32Array): void {
  Atomics.add(ctl, GEN, 1);
  if (Atomics.load(ctl, SLEEPING) > 0) Atomics.notify(ctl, GEN);
}

/** Shuts the worker threads down (they are restarted by the next parallel job). */
export function stopCpuThreads(): void {
  pool?.close();
  pool = undefined;
}

let jobsRun = 0;
let jobsMs = 0;

/** Parallel jobs run so far (tests: which paths went parallel). */
export function cpuJobCount(): number { return jobsRun; }

/** Wall time spent in parallel jobs so far, ms (profiling). */
export function cpuJobMs(): number { return jobsMs; }

/** Number of worker threads started (tests). */
export function cpuWorkerCount(): number {
  return pool ? (pool as unknown as { workers: unknown[] }).workers.length : 0;
}

/** The memory the arena needs for a job: the words, as float64. */
export function jobBytes(job: ParJob): number {
  return (job.starts.length + 3 + job.words.length) * 8;
}

/**
 * Runs a job whose calls refer to `wasm`'s shared memory on `threads` threads (the caller
 * included); `at` is where the job is encoded (jobBytes(job), 8-byte aligned) and `F` a Float64Array
 * over the memory's current buffer. `meanwhile` runs on the caller once the workers have the job,
 * before it takes tasks itself (work that does not touch the job's memory, e.g. touching the pages
 * of the output array the results are copied to afterwards). Throws a TwinferError when a worker
 * fails or stops responding.
 */
export function runJob(wasm: GemmWasm, F: Float64Array, at: number, job: ParJob, threads: number, meanwhile?: () => void): void {
  const nt = job.starts.length;
  if (nt === 0) return;
  if (nt > MAX_TASKS) throw new Error(`runJob: ${nt} tasks (at most ${MAX_TASKS})`);
  const base = at / 8;
  F[base] = nt;
  F[base + 1] = job.slotBytes;
  for (let t = 0; t < nt; t++) F[base + 2 + t] = job.starts[t]!;
  F[base + 2 + nt] = job.words.length;
  F.set(job.words, base + nt + 3);
  if (pool && (pool.wasm !== wasm || pool.broken)) stopCpuThreads();
  pool ??= new Pool(wasm, host!);
  jobsRun++;
  const t0 = performance.now();
  try {
    pool.run(F, at, nt, Math.min(threads, MAX_THREADS), meanwhile);
  } catch (e) {
    if (pool?.broken) stopCpuThreads();
    throw e;
  } finally {
    jobsMs += performance.now() - t0;
  }
}
