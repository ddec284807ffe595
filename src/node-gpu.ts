/**
 * WebGPU in Node through Dawn (npm `webgpu`). The object `create()` returns is kept in a module
 * variable for the life of the process: when it is garbage-collected while a device lives, Dawn
 * crashes at random (futex errors, mutex assertions, segfaults).
 */
import { setGpuProvider } from '../backends/webgpu/device.js';

let dawn: GPU | undefined;

setGpuProvider(async () => {
  if (!dawn) {
    let mod: { create(flags: string[]): GPU; globals: Record<string, unknown> };
    try {
      mod = (await import('webgpu')) as unknown as typeof mod;
    } catch {
      return undefined;
    }
    Object.assign(globalThis, mod.globals);
    dawn = mod.create([]);
  }
  return dawn;
});

/** Keeps Dawn's root object reachable (for callers that want to hold it explicitly). */
export function dawnInstance(): GPU | undefined { return dawn; }
