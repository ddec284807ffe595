/**
 * Whether the CUDA backend can run here, and the process-wide CUDA context when it can. The
 * answer is honest: without the addon, a driver or a device the reason says which, with CUDA's own
 * error text (e.g. "cudaErrorInsufficientDriver (35): CUDA driver version is insufficient for CUDA
 * runtime version" on a machine with the toolkit and no driver).
 */
import { TwinferError } from '../../src/errors.js';
import { loadNativeAddon, type NativeAddon, type NativeContext, type NativeProbe } from './addon.js';

export interface CudaCaps {
  /** e.g. "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)" */
  device: string;
  computeCapability: string;
  memory: number;
  multiprocessors: number;
  runtimeVersion: number;
  driverVersion: number;
  /** Architectures compiled into the addon. */
  archs: string;
  /** Optional libraries found at run time (cublasLt, cudnn). */
  libraries: string[];
}

export interface CudaContext {
  addon: NativeAddon;
  native: NativeContext;
  caps: CudaCaps;
  /** Unary function name -> code (element-wise ops and epilogue activations). */
  fn: ReadonlyMap<string, number>;
  /** Kernel names the addon can launch. */
  kernels: ReadonlySet<string>;
}

export interface CudaStatus {
  available: boolean;
  /** Why not, when not available. */
  reason?: string;
  probe?: NativeProbe;
}

let probed: CudaStatus | undefined;
let context: Promise<CudaContext> | undefined;

/** Loads the addon and probes the driver and devices (once per process). Never throws. */
export function cudaStatus(): CudaStatus {
  if (probed) return probed;
  let addon: NativeAddon;
  try {
    addon = loadNativeAddon();
  } catch (e) {
    return (probed = { available: false, reason: (e as Error).message });
  }
  let p: NativeProbe;
  try {
    p = addon.probe();
  } catch (e) {
    return (probed = { available: false, reason: `probe failed: ${(e as Error).message}` });
  }
  return (probed = p.available ? { available: true, probe: p } : { available: false, reason: p.error ?? 'no usable CUDA device', probe: p });
}

/** Forgets the probe and the context (tests that swap the loader). */
export function resetCuda(): void {
  probed = undefined;
  context = undefined;
}

function gib(n: number): string { return `${(n / 2 ** 30).toFixed(1)} GiB`; }

function open(): CudaContext {
  const s = cudaStatus();
  if (!s.available) throw new TwinferError('UNSUPPORTED', `CUDA: ${s.reason}`);
  const p = s.probe!;
  const d = p.devices.find((x) => x.kernelImage)!;
  const addon = loadNativeAddon();
  const native = new addon.Context(d.index);
  const cc = `${d.major}.${d.minor}`;
  return {
    addon,
    native,
    caps: {
      device: `${d.name} (sm_${d.major}${d.minor}, ${d.multiprocessors} SMs, ${gib(d.totalMemory)})`,
      computeCapability: cc,
      memory: d.totalMemory,
      multiprocessors: d.multiprocessors,
      runtimeVersion: p.runtimeVersion,
      driverVersion: p.driverVersion,
      archs: p.archs,
      libraries: p.libraries.filter((l) => l.loaded).map((l) => l.name),
    },
    fn: new Map(addon.functions().map((f, i) => [f, i])),
    kernels: new Set(addon.kernels()),
  };
}

/** The process-wide CUDA context. Rejects with a TwinferError ('UNSUPPORTED', "CUDA: <reason>") when CUDA cannot run here. */
export function acquireCuda(): Promise<CudaContext> {
  context ??= Promise.resolve().then(open).catch((e: unknown) => {
    context = undefined;
    if (e instanceof TwinferError) throw e;
    throw new TwinferError('UNSUPPORTED', `CUDA: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  });
  return context;
}
