/**
 * `twinfer devices [--json]`: each backend (cpu, webgpu, cuda, tensorrt) with its device,
 * capabilities and, when it cannot run here, why. Every probe is the one a session would do
 * (acquireGpu, cudaStatus, trtStatus), so the reasons are the ones a session logs.
 * `--json` prints an array of {"backend", "available", "device"?, "capabilities"?, "reason"?}.
 */
import * as os from 'node:os';
import { parseArgs } from './args.js';
import { TwinferError } from '../errors.js';
import { cpuThreads, cpuThreadsAvailable } from '../../backends/cpu/convgemm-threads.js';
import { gemmWasm } from '../../backends/cpu/convgemm-wasm.js';
import { acquireGpu } from '../../backends/webgpu/device.js';
import { cudaStatus } from '../../backends/native/device.js';
import { trtStatus, trtVersionText } from '../../backends/tensorrt/addon.js';

export interface DeviceEntry {
  backend: 'cpu' | 'webgpu' | 'cuda' | 'tensorrt';
  available: boolean;
  device?: string;
  capabilities?: Record<string, unknown>;
  reason?: string;
}

export const DEVICES_USAGE = '  twinfer devices [--json]                  backends, their devices and capabilities, or why unavailable';

function gib(n: number): string { return `${(n / 2 ** 30).toFixed(1)} GiB`; }

/** "12.8" from 12080 (CUDA's version encoding). */
function cudaVersion(v: number): string { return v ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : 'none'; }

function cpuEntry(): DeviceEntry {
  const wasm = gemmWasm();
  const cpus = os.cpus();
  return {
    backend: 'cpu', available: true,
    device: `${cpus[0]?.model.trim() || os.arch()} (${os.availableParallelism?.() ?? cpus.length} logical cores)`,
    capabilities: {
      threads: cpuThreads(),
      workerThreads: cpuThreadsAvailable(),
      wasmSimd: wasm !== null,
      relaxedSimdFma: wasm?.fma ?? false,
      arch: os.arch(),
    },
  };
}

async function webgpuEntry(): Promise<DeviceEntry> {
  try {
    const { caps } = await acquireGpu();
    return {
      backend: 'webgpu', available: true, device: caps.adapter,
      capabilities: {
        features: [caps.f16 && 'shader-f16', caps.subgroups && 'subgroups', caps.timestampQuery && 'timestamp-query'].filter(Boolean),
        packed_4x8_integer_dot_product: caps.dot4I8Packed,
        maxStorageBufferBindingSize: caps.maxStorageBufferBindingSize,
        maxBufferSize: caps.maxBufferSize,
        maxComputeWorkgroupStorageSize: caps.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: caps.maxComputeInvocationsPerWorkgroup,
        maxStorageBuffersPerShaderStage: caps.maxStorageBuffersPerShaderStage,
        maxComputeWorkgroupsPerDimension: caps.maxComputeWorkgroupsPerDimension,
      },
    };
  } catch (e) {
    return { backend: 'webgpu', available: false, reason: (e as Error).message };
  }
}

function cudaEntry(): DeviceEntry {
  const s = cudaStatus();
  const p = s.probe;
  const libs = p ? Object.fromEntries(p.libraries.map((l) => [l.name, l.loaded ?? null])) : undefined;
  const common = p ? { runtime: cudaVersion(p.runtimeVersion), driver: cudaVersion(p.driverVersion), archs: p.archs, libraries: libs } : undefined;
  if (!s.available) return { backend: 'cuda', available: false, reason: s.reason!, ...(common ? { capabilities: common } : {}) };
  const d = p!.devices.find((x) => x.kernelImage) ?? p!.devices[0]!;
  return {
    backend: 'cuda', available: true,
    device: `${d.name} (sm_${d.major}${d.minor}, ${d.multiprocessors} SMs, ${gib(d.totalMemory)})`,
    capabilities: {
      ...common,
      devices: p!.devices.map((x) => ({ index: x.index, name: x.name, sm: `${x.major}.${x.minor}`, memory: x.totalMemory, multiprocessors: x.multiprocessors, kernelImage: x.kernelImage })),
    },
  };
}

function tensorrtEntry(): DeviceEntry {
  const s = trtStatus();
  const p = s.probe;
  const caps = p ? { tensorrt: trtVersionText(p.libraryVersion), headers: trtVersionText(p.headerVersion), dlaCores: p.dlaCores, cudaDevices: p.cudaDevices } : undefined;
  if (!s.available) return { backend: 'tensorrt', available: false, reason: s.reason!, ...(caps ? { capabilities: caps } : {}) };
  return { backend: 'tensorrt', available: true, device: `TensorRT ${caps!.tensorrt}${p!.dlaCores ? ` (${p!.dlaCores} DLA cores)` : ''}`, capabilities: caps! };
}

export async function listDevices(): Promise<DeviceEntry[]> {
  return [cpuEntry(), await webgpuEntry(), cudaEntry(), tensorrtEntry()];
}

function capText(v: unknown): string {
  if (Array.isArray(v)) return v.length ? v.map((x) => (typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x))).join(', ') : 'none';
  if (typeof v === 'object' && v !== null) return Object.entries(v).map(([k, x]) => `${k} ${x ?? 'not found'}`).join(', ');
  return String(v);
}

export function formatDevices(list: readonly DeviceEntry[]): string {
  const lines: string[] = [];
  for (const e of list) {
    lines.push(`${e.backend.padEnd(9)}${e.available ? 'available    ' : 'unavailable  '}${e.device ?? e.reason ?? ''}`);
    if (e.available || e.capabilities) for (const [k, v] of Object.entries(e.capabilities ?? {})) lines.push(`           ${k}: ${capText(v)}`);
  }
  return lines.join('\n');
}

export async function devicesCommand(argv: readonly string[]): Promise<number> {
  const a = parseArgs(argv, [], ['json']);
  if (a.positional.length) throw new TwinferError('INVALID_ARGUMENT', `devices takes no arguments, got '${a.positional[0]}'`);
  const list = await listDevices();
  console.log(a.flags.has('json') ? JSON.stringify(list, null, 2) : formatDevices(list));
  return 0;
}
