/**
 * The TensorRT addon's interface (native/src/trt/addon_trt.cc, built as twinfer_trt.node only when
 * TENSORRT_ROOT is set at build time) and whether it can run here. Browser-safe: the loader that
 * `require`s the file is installed by backends/tensorrt/node.ts (imported by src/node.ts).
 *
 * Untested on twinfer's machines: none has TensorRT's libraries. What is tested is the network
 * description (serialize.ts) and, with a stand-in addon, the executor around it.
 */
import type { TrtDType } from './network.js';

export interface TrtProbe {
  available: boolean;
  /** Why not (CUDA's error text, or 'no CUDA device'). */
  error?: string;
  /** NV_TENSORRT_MAJOR * 10000 + MINOR * 100 + PATCH of the headers it was compiled with. */
  headerVersion: number;
  /** getInferLibVersion() of the library loaded. */
  libraryVersion: number;
  /** DLA cores (Jetson AGX / NX; 0 elsewhere). */
  dlaCores: number;
  cudaDevices: number;
}

/** Options of one engine build (see native/src/trt/engine.h BuildOptions). */
export interface TrtBuildOptions {
  /** TensorRT 10 only: a weakly typed network with the kFP16 / kINT8 flags (11 has strong typing alone). */
  weakTyping?: boolean;
  fp16?: boolean;
  int8?: boolean;
  /** Default true: TF32 tensor cores for float32 (BuilderFlag::kTF32). */
  tf32?: boolean;
  /** Build for this DLA core (Jetson); layers DLA cannot run fall back to the GPU unless gpuFallback is false. */
  dlaCore?: number;
  gpuFallback?: boolean;
  workspaceBytes?: number;
  /** Builder optimization level 0..5 (TensorRT's default 3). */
  optimizationLevel?: number;
  /** A timing cache from an earlier build (makes a rebuild fast). */
  timingCache?: ArrayBufferView | ArrayBuffer;
}

export interface TrtBuildResult { plan: ArrayBuffer; timingCache: ArrayBuffer; log: string }

export interface TrtIoTensor { name: string; input: boolean; dtype: TrtDType | 'other' }

export interface TrtRunTensor { name: string; dims: number[]; data: ArrayBufferView }
export interface TrtRunOutput { name: string; dtype: TrtDType | 'other'; dims: number[]; data: ArrayBuffer }

export interface TrtEngine {
  io(): TrtIoTensor[];
  profiles(): number;
  run(inputs: TrtRunTensor[]): TrtRunOutput[];
  dispose(): void;
}

export interface TrtAddon {
  probe(): TrtProbe;
  build(json: string, buffers: ArrayBufferView[], options?: TrtBuildOptions): Promise<TrtBuildResult>;
  Engine: new (plan: ArrayBuffer | ArrayBufferView, device?: number, dlaCore?: number) => TrtEngine;
}

export type TrtLoader = () => TrtAddon;

/** The reason given wherever the addon was not built. */
export const TRT_NOT_BUILT = 'built without TensorRT (set TENSORRT_ROOT)';

const noLoader: TrtLoader = () => { throw new Error(TRT_NOT_BUILT); };
let loader: TrtLoader = noLoader;
let loaded: { addon: TrtAddon } | { error: Error } | undefined;
let probed: TrtStatus | undefined;

export function setTrtLoader(l: TrtLoader | undefined): void {
  loader = l ?? noLoader;
  loaded = undefined;
  probed = undefined;
}

/** The addon (loaded once); throws with the loader's reason when there is none. */
export function loadTrtAddon(): TrtAddon {
  if (!loaded) {
    try { loaded = { addon: loader() }; } catch (e) { loaded = { error: e instanceof Error ? e : new Error(String(e)) }; }
  }
  if ('error' in loaded) throw loaded.error;
  return loaded.addon;
}

export interface TrtStatus {
  available: boolean;
  reason?: string;
  probe?: TrtProbe;
}

/** "10.16.1" from 101601. */
export function trtVersionText(v: number): string {
  return `${Math.floor(v / 10000)}.${Math.floor(v / 100) % 100}.${v % 100}`;
}

/** Whether the TensorRT backend can run here (loaded once, probed once). Never throws. */
export function trtStatus(): TrtStatus {
  if (probed) return probed;
  let addon: TrtAddon;
  try { addon = loadTrtAddon(); } catch (e) { return (probed = { available: false, reason: (e as Error).message }); }
  try {
    const p = addon.probe();
    return (probed = p.available ? { available: true, probe: p } : { available: false, reason: p.error ?? 'no usable device', probe: p });
  } catch (e) {
    return (probed = { available: false, reason: `probe failed: ${(e as Error).message}` });
  }
}
