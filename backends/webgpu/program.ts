/**
 * A GPU program, in the style of onnxruntime's WebGPU provider: a name, a cache key made only of
 * compile-time facts (op, attributes that shape the code, element types, rank), the WGSL source
 * (built lazily, once per key), the tensors it binds, run-time parameters and the dispatch size.
 */
import type { GpuElem, GpuTensor } from './tensor.js';

export interface Program {
  name: string;
  cacheKey: string;
  wgsl: () => string;
  inputs: readonly GpuTensor[];
  outputs: readonly GpuTensor[];
  /** Run-time parameters, read in WGSL as `params[i]` (u32; bitcast for i32 / f32). */
  params: readonly number[];
  workgroups: [number, number, number];
}

export const WG = 64;

/** Workgroups for n threads of `wg` each, spread over x and y past the per-dimension limit. */
export function grid(n: number, wg = WG, maxPerDim = 65535): [number, number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= maxPerDim) return [groups, 1, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y, 1];
}

/** WGSL for the flat thread index matching grid(): `let i = flatIndex(gid, nwg);`. */
export const FLAT_INDEX = (wg = WG) => `fn flatIndex(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * ${wg}u; }`;

/** WGSL binding declarations: inputs (read), outputs (read_write), params. */
export function bindings(inputs: readonly GpuElem[], outputs: readonly GpuElem[], names?: { in?: string[]; out?: string[] }): string {
  const lines: string[] = [];
  inputs.forEach((e, i) => lines.push(`@group(0) @binding(${i}) var<storage, read> ${names?.in?.[i] ?? `in${i}`}: array<${e}>;`));
  outputs.forEach((e, i) => lines.push(`@group(0) @binding(${inputs.length + i}) var<storage, read_write> ${names?.out?.[i] ?? `out${i}`}: array<${e}>;`));
  lines.push(`@group(0) @binding(${inputs.length + outputs.length}) var<storage, read> params: array<u32>;`);
  return lines.join('\n');
}

/** f32 parameter as u32 bits (read with bitcast<f32>(params[i])). */
export function f32Bits(x: number): number {
  const f = new Float32Array([x]);
  return new Uint32Array(f.buffer)[0]!;
}

/** i32 parameter as u32 bits (read with bitcast<i32>(params[i])). */
export function i32Bits(x: number): number {
  return x >>> 0;
}

export function elemKey(ts: readonly GpuTensor[]): string {
  return ts.map((t) => t.elem).join(',');
}
