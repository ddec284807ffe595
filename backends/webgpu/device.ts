/**
 * Acquiring a WebGPU device, in browsers (`navigator.gpu`) or in Node (Dawn through the npm package
 * `webgpu`, installed by src/node-gpu.ts as the provider so this file stays browser-safe).
 * Requests the optional features twinfer can use and the adapter's largest storage limits.
 */
import { TwinferError } from '../../src/errors.js';

export interface GpuCaps {
  adapter: string;
  f16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
  /** WGSL `dot4I8Packed` (packed_4x8_integer_dot_product language feature). */
  dot4I8Packed: boolean;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxStorageBuffersPerShaderStage: number;
  maxComputeWorkgroupsPerDimension: number;
}

export interface GpuContext {
  device: GPUDevice;
  caps: GpuCaps;
}

/** Returns the GPU entry point of this environment, or undefined when there is none. */
export type GpuProvider = () => Promise<GPU | undefined>;

let provider: GpuProvider = async () => (typeof navigator !== 'undefined' && 'gpu' in navigator ? (navigator as Navigator & { gpu: GPU }).gpu : undefined);
let context: Promise<GpuContext> | undefined;

export function setGpuProvider(p: GpuProvider): void {
  provider = p;
  context = undefined;
}

const WANTED: GPUFeatureName[] = ['shader-f16', 'subgroups' as GPUFeatureName, 'timestamp-query'];

async function open(): Promise<GpuContext> {
  const gpu = await provider();
  if (!gpu) throw new TwinferError('UNSUPPORTED', 'WebGPU is not available in this environment (no navigator.gpu and no Dawn provider)');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new TwinferError('UNSUPPORTED', 'WebGPU: no adapter found (on a machine without a GPU, install a Vulkan driver such as Mesa lavapipe)');
  const features = WANTED.filter((f) => adapter.features.has(f));
  const l = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
  };
  const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
  device.lost.then((info) => { if (info.reason !== 'destroyed') context = undefined; });
  const lang = (gpu as GPU & { wgslLanguageFeatures?: ReadonlySet<string> }).wgslLanguageFeatures;
  const info = adapter.info;
  return {
    device,
    caps: {
      adapter: [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ') || 'unknown adapter',
      f16: features.includes('shader-f16'),
      subgroups: features.includes('subgroups' as GPUFeatureName),
      timestampQuery: features.includes('timestamp-query'),
      dot4I8Packed: !!lang?.has('packed_4x8_integer_dot_product'),
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxBufferSize: device.limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
      maxStorageBuffersPerShaderStage: device.limits.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
    },
  };
}

/** The process-wide device (opened once). Rejects with a TwinferError when WebGPU is unavailable. */
export function acquireGpu(): Promise<GpuContext> {
  context ??= open().catch((e: unknown) => {
    context = undefined;
    if (e instanceof TwinferError) throw e;
    throw new TwinferError('UNSUPPORTED', `WebGPU: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  });
  return context;
}
