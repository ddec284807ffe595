/**
 * The WebGPU tuning cache: where a kernel family has several tactics for one layer (Winograd or
 * implicit GEMM, split-K or not), the candidates are timed on the actual adapter when the session
 * is built (GpuRunner.timeCandidates during the build's dry run) and the winner is remembered,
 * keyed by adapter (vendor, architecture, description) and layer signature. A later build (or a run
 * with new dims) reuses a remembered choice without timing. The cache lives in memory for the
 * process; the Node entry point (tuning-node.ts) also reads and writes it as a JSON file
 * (SessionOptions.tuningCache, or TWINFER_TUNING_CACHE). Browsers keep it in memory only.
 */

/** Bump when kernels change enough that old timings no longer say anything. */
export const TUNING_VERSION = 1;

export interface TuningFileIo {
  read(path: string): Promise<string | undefined>;
  write(path: string, text: string): Promise<void>;
  /** The file to use when the session names none (Node: TWINFER_TUNING_CACHE). */
  defaultPath(): string | undefined;
}

let fileIo: TuningFileIo | undefined;
/** Installed by the Node entry point; browsers have none (memory only). */
export function setTuningFileIo(io: TuningFileIo | undefined): void { fileIo = io; }
export function tuningFileIo(): TuningFileIo | undefined { return fileIo; }

/** adapter -> layer signature -> tactic, for the whole process. */
const memory = new Map<string, Map<string, string>>();

/** Forgets every remembered choice of this process (tests of the file round trip). */
export function clearTuningMemory(): void { memory.clear(); }

interface CacheFile { version: number; adapters: Record<string, Record<string, string>> }

function parse(text: string | undefined): CacheFile | undefined {
  if (!text) return undefined;
  try {
    const j = JSON.parse(text) as CacheFile;
    return j && j.version === TUNING_VERSION && typeof j.adapters === 'object' ? j : undefined;
  } catch { return undefined; }
}

/** Build-time timing budget per session (ms of candidate runs): past it, policies decide. */
const BUDGET_MS = 20_000;

/** One session's view of the cache, with its counters. */
export class TuningSession {
  private readonly entries: Map<string, string>;
  /** Layers timed, layers whose choice came from the cache, ms spent timing. */
  timed = 0;
  reused = 0;
  spentMs = 0;
  dirty = false;

  constructor(readonly adapter: string, readonly timing: boolean, private readonly file?: string) {
    let m = memory.get(adapter);
    if (!m) memory.set(adapter, (m = new Map()));
    this.entries = m;
  }

  /** Reads the file (if any) into memory; entries already in memory win. */
  async load(): Promise<void> {
    if (!this.file || !fileIo) return;
    const f = parse(await fileIo.read(this.file));
    for (const [sig, t] of Object.entries(f?.adapters[this.adapter] ?? {})) if (!this.entries.has(sig)) this.entries.set(sig, t);
  }

  /** Writes this adapter's entries into the file (merged with what it holds for other adapters). */
  async save(): Promise<void> {
    if (!this.file || !fileIo || !this.dirty) return;
    const f = parse(await fileIo.read(this.file)) ?? { version: TUNING_VERSION, adapters: {} };
    f.adapters[this.adapter] = { ...(f.adapters[this.adapter] ?? {}), ...Object.fromEntries(this.entries) };
    await fileIo.write(this.file, `${JSON.stringify(f, null, 1)}\n`);
    this.dirty = false;
  }

  get(sig: string): string | undefined { return this.entries.get(sig); }
  set(sig: string, tactic: string): void { this.entries.set(sig, tactic); this.dirty = true; }
  get canTime(): boolean { return this.timing && this.spentMs < BUDGET_MS; }

  /** What a run sees: timing only in the build's dry run, cache lookups always. */
  forRun(dry: boolean): TuningSession {
    if (dry || !this.timing) return this;
    const view = Object.create(this) as TuningSession;
    Object.defineProperty(view, 'timing', { value: false });
    return view;
  }
}

/** Whether an adapter is a software rasterizer (lavapipe, SwiftShader), where timing costs more than it gains. */
export function softwareAdapter(adapter: string): boolean {
  return /llvmpipe|lavapipe|swiftshader|software|cpu/i.test(adapter);
}

export interface Candidate { name: string; run: () => Promise<void> }

/** Minimal surface of GpuRunner the chooser needs (avoids an import cycle). */
export interface TunableRunner {
  tuning: TuningSession | undefined;
  timeCandidates(cands: readonly (() => Promise<void>)[], reps?: number): Promise<number[]>;
}

/**
 * The tactic for layer `sig`: remembered, else timed (build only), else undefined (the caller's
 * policy decides). Candidates must record the same result into the same output.
 */
export async function chooseTactic(runner: TunableRunner, sig: string, cands: readonly Candidate[]): Promise<string | undefined> {
  const t = runner.tuning;
  if (!t || cands.length < 2) return undefined;
  const hit = t.get(sig);
  if (hit !== undefined && cands.some((c) => c.name === hit)) { t.reused++; return hit; }
  if (!t.canTime) return undefined;
  const t0 = performance.now();
  const ms = await runner.timeCandidates(cands.map((c) => c.run));
  t.spentMs += performance.now() - t0;
  let best = 0;
  for (let i = 1; i < ms.length; i++) if (ms[i]! < ms[best]!) best = i;
  if (!Number.isFinite(ms[best]!)) return undefined;
  t.set(sig, cands[best]!.name);
  t.timed++;
  return cands[best]!.name;
}
