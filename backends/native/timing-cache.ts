/**
 * The CUDA timing cache (issue 6, TensorRT's timing cache in small): the addon times each
 * convolution shape's tactics once (cuDNN's fastest algorithm against the own implicit GEMM,
 * native/src/conv.cu) and keeps every decision as a text line. This file persists those lines per
 * GPU and cuDNN in a JSON file, so the next session build (in this process or another) loads them
 * and skips cudnnFind and the timing. Browser-safe: the file is read and written through the
 * tuning cache's file IO (backends/webgpu/tuning-node.ts installs it in Node).
 *
 * The file: {"format": "twinfer-cuda-timing", "version": 1, "devices": {"<device key>": [lines]}}.
 * The device key names the GPU, its compute capability, the CUDA runtime and the cuDNN soname, so
 * a file shared between machines never applies one GPU's choices to another. A file that is not
 * such a JSON is ignored with a log line (it is a hint, never a reason to fail a build) and
 * rewritten on save.
 */
import { tuningFileIo } from '../webgpu/tuning.js';
import type { CudaContext } from './device.js';

export const CUDA_TIMING_FORMAT = 'twinfer-cuda-timing';
export const CUDA_TIMING_VERSION = 1;

/** What the addon exports for the cache (absent on an addon built before it). */
export interface TimingCacheAddon {
  timingCache?(): { lines: string[]; timed: number; reused: number };
  loadTimingCache?(lines: string[]): number;
  /** The counts alone (absent on an addon built before it: timingCache() then). */
  timingStats?(): { timed: number; reused: number };
}

interface CacheFile { format: string; version: number; devices: Record<string, string[]> }

export function cudaDeviceKey(cuda: CudaContext): string {
  const p = cuda.caps;
  const cudnn = cuda.caps.libraries.includes('cudnn') ? 'cudnn' : 'no cudnn';
  return `${p.device} | sm ${p.computeCapability} | cuda runtime ${p.runtimeVersion} | ${cudnn}`;
}

type Env = Record<string, string | undefined>;
const env = (): Env => (globalThis as { process?: { env?: Env } }).process?.env ?? {};

/**
 * The file to use: the option, else TWINFER_CUDA_TIMING_CACHE, else ~/.cache/twinfer/cuda-timing.json
 * where HOME is set (Node); 'off' (option or variable) or no file IO (browsers) means memory only.
 */
export function cudaTimingCachePath(option?: string): string | undefined {
  const e = env();
  const p = option ?? e['TWINFER_CUDA_TIMING_CACHE'] ?? (e['HOME'] ? `${e['HOME']}/.cache/twinfer/cuda-timing.json` : undefined);
  return p && p !== 'off' ? p : undefined;
}

function parse(text: string): CacheFile | string {
  let j: unknown;
  try { j = JSON.parse(text); } catch (e) { return `not JSON (${(e as Error).message})`; }
  const f = j as CacheFile;
  if (!f || typeof f !== 'object' || f.format !== CUDA_TIMING_FORMAT) return `not a ${CUDA_TIMING_FORMAT} file`;
  if (f.version !== CUDA_TIMING_VERSION) return `version ${String(f.version)} (this build reads ${CUDA_TIMING_VERSION})`;
  if (!f.devices || typeof f.devices !== 'object' || Array.isArray(f.devices)) return 'no "devices" object';
  for (const [k, v] of Object.entries(f.devices)) if (!Array.isArray(v) || v.some((l) => typeof l !== 'string')) return `devices["${k}"] is not a list of strings`;
  return f;
}

export interface TimingCacheLoad { file: string; accepted: number; problem?: string }

/** Loads the device's lines of `file` into the addon. Never throws: a bad file is reported and ignored. */
export async function loadCudaTimingCache(cuda: CudaContext, file: string): Promise<TimingCacheLoad> {
  const addon = cuda.addon as unknown as TimingCacheAddon;
  const io = tuningFileIo();
  if (!addon.loadTimingCache || !io) return { file, accepted: 0 };
  const text = await io.read(file);
  if (text === undefined) return { file, accepted: 0 };
  const f = parse(text);
  if (typeof f === 'string') return { file, accepted: 0, problem: f };
  const lines = f.devices[cudaDeviceKey(cuda)] ?? [];
  return { file, accepted: addon.loadTimingCache(lines) };
}

/** Stats of the addon's decisions so far (shapes timed in this process, shapes taken from a cache). */
export function cudaTimingStats(cuda: CudaContext): { timed: number; reused: number; lines: string[] } {
  const addon = cuda.addon as unknown as TimingCacheAddon;
  return addon.timingCache ? addon.timingCache() : { timed: 0, reused: 0, lines: [] };
}

/** Shapes timed / taken from the cache in this process, without copying the lines. */
export function cudaTimingCounts(cuda: CudaContext): { timed: number; reused: number } {
  const addon = cuda.addon as unknown as TimingCacheAddon;
  return addon.timingStats ? addon.timingStats() : cudaTimingStats(cuda);
}

/**
 * Writes the addon's decisions for this device into `file` (other devices' entries kept), when they
 * differ from what the file holds. Returns whether it wrote.
 */
export async function saveCudaTimingCache(cuda: CudaContext, file: string): Promise<boolean> {
  const io = tuningFileIo();
  const { lines } = cudaTimingStats(cuda);
  if (!io || lines.length === 0) return false;
  const old = await io.read(file);
  const parsed = old === undefined ? undefined : parse(old);
  const f: CacheFile = parsed && typeof parsed !== 'string' ? parsed : { format: CUDA_TIMING_FORMAT, version: CUDA_TIMING_VERSION, devices: {} };
  const key = cudaDeviceKey(cuda);
  // One line per shape (the text before ':'); this process's decisions replace the file's.
  const byShape = new Map<string, string>();
  for (const l of [...(f.devices[key] ?? []), ...lines]) byShape.set(l.slice(0, l.indexOf(':')), l);
  const merged = [...byShape.values()].sort();
  if (parsed && typeof parsed !== 'string' && merged.join('\n') === (f.devices[key] ?? []).slice().sort().join('\n')) return false;
  f.devices[key] = merged;
  await io.write(file, `${JSON.stringify(f, null, 1)}\n`);
  return true;
}
