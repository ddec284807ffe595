/** `twinfer run MODEL ...`: feeds from files or seeded random data, outputs to .pb, median latency. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InferenceSession, type BackendName } from '../api/session.js';
import { Tensor, fromHostTensor, toHostTensor } from '../api/tensor.js';
import type { ValueInfo } from '../ir/graph.js';
import { HostTensor } from '../ir/tensor.js';
import { allocStorage, isFloat, type NumericArray } from '../ir/dtype.js';
import { roundArrayToDtype } from '../ir/lowp.js';
import { TwinferError } from '../errors.js';
import type { OptLevel } from '../passes/index.js';
import { readTensorFile, writeTensorFile } from './tensor-files.js';
import type { PrecisionArgs } from './precision-args.js';

export interface RunOptions {
  backend: BackendName;
  inputs: Map<string, string>;
  inputDir?: string;
  shapes: Map<string, number[]>;
  outputDir?: string;
  iterations: number;
  warmup: number;
  seed: number;
  optLevel?: OptLevel;
  precision?: PrecisionArgs;
  /** --dla-core N: TensorRT engines for that Jetson DLA core, layers it cannot run on the GPU. */
  dlaCore?: number;
}

export interface RunReport {
  backend: string;
  inputs: { name: string; dtype: string; dims: number[]; source: string }[];
  outputs: { name: string; dtype: string; dims: number[]; summary: Record<string, number> }[];
  latencyMs: { median: number; min: number; max: number; iterations: number; warmup: number };
  notes: string[];
  /** Nodes per precision, where a precision was asked for. */
  precision?: { precision: string; counts: Record<string, number>; rangeFallbacks: string[] };
}

/** mulberry32: small, seeded, good enough for test data. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomTensor(info: ValueInfo, dims: number[], rand: () => number): HostTensor {
  const dtype = info.dtype ?? 'float32';
  const n = dims.reduce((a, b) => a * b, 1);
  if (dtype === 'string') return new HostTensor('string', dims, Array.from({ length: n }, () => Math.floor(rand() * 1e6).toString(36)));
  const data = allocStorage(dtype, n) as NumericArray;
  if (isFloat(dtype)) { for (let i = 0; i < n; i++) data[i] = rand() * 2 - 1; roundArrayToDtype(dtype, data as Float32Array); }
  else if (dtype === 'bool') for (let i = 0; i < n; i++) data[i] = rand() < 0.5 ? 1 : 0;
  else for (let i = 0; i < n; i++) data[i] = Math.floor(rand() * 10);
  return new HostTensor(dtype, dims, data);
}

function summarize(t: HostTensor): Record<string, number> {
  if (t.dtype === 'string' || t.size === 0) return { elements: t.size };
  const d = t.data as ArrayLike<number>;
  let min = Infinity, max = -Infinity, sum = 0, nan = 0;
  for (let i = 0; i < d.length; i++) { const v = d[i]!; if (Number.isNaN(v)) { nan++; continue; } if (v < min) min = v; if (v > max) max = v; sum += v; }
  return { elements: t.size, min, max, mean: sum / Math.max(1, d.length - nan), ...(nan ? { nan } : {}) };
}

export async function runModel(file: string, o: RunOptions): Promise<RunReport> {
  const backends = o.backend.split(',') as BackendName[];
  if (o.dlaCore !== undefined && !backends.includes('tensorrt')) throw new TwinferError('INVALID_ARGUMENT', '--dla-core needs the tensorrt backend (--backend tensorrt,cpu)');
  const session = await InferenceSession.create(file, {
    backends, optimizationLevel: o.optLevel ?? 2, ...o.precision,
    ...(o.dlaCore !== undefined ? { tensorrt: { build: { dlaCore: o.dlaCore, gpuFallback: true } } } : {}),
  });
  const notes: string[] = [];
  const infos = session.graph.feedInputs;
  for (const k of [...o.inputs.keys(), ...o.shapes.keys()]) {
    if (!infos.some((i) => i.name === k)) throw new TwinferError('INVALID_ARGUMENT', `model has no input '${k}' (inputs: ${infos.map((i) => i.name).join(', ')})`);
  }
  const rand = seededRandom(o.seed);
  const feeds: Record<string, Tensor> = {};
  const inputsReport: RunReport['inputs'] = [];
  for (const [idx, info] of infos.entries()) {
    let t: HostTensor, source: string;
    const file = o.inputs.get(info.name) ?? (o.inputDir ? path.join(o.inputDir, `input_${idx}.pb`) : undefined);
    if (file) {
      if (!fs.existsSync(file)) throw new TwinferError('INVALID_ARGUMENT', `input file '${file}' for '${info.name}' does not exist`);
      t = readTensorFile(file); source = file;
    } else {
      const dims = o.shapes.get(info.name) ?? (info.shape ?? []).map((d, i) => {
        if (typeof d === 'number') return d;
        notes.push(`${info.name}: dim ${i} ('${d}') set to 1; pass --shape ${info.name}=... to choose`);
        return 1;
      });
      if (!info.shape && !o.shapes.has(info.name)) throw new TwinferError('INVALID_ARGUMENT', `input '${info.name}' has no declared shape; pass --shape ${info.name}=AxBx...`);
      t = randomTensor(info, dims, rand); source = `random(seed ${o.seed})`;
    }
    feeds[info.name] = fromHostTensor(t);
    inputsReport.push({ name: info.name, dtype: t.dtype, dims: t.dims.slice(), source });
  }
  const times: number[] = [];
  let result: Record<string, Tensor> = {};
  for (let i = 0; i < o.warmup + o.iterations; i++) {
    const t0 = performance.now();
    result = await session.run(feeds);
    if (i >= o.warmup) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const outputs = session.outputNames.map((name, k) => {
    const h = toHostTensor(result[name]!);
    if (o.outputDir) { fs.mkdirSync(o.outputDir, { recursive: true }); writeTensorFile(path.join(o.outputDir, `output_${k}.pb`), h, name); }
    return { name, dtype: h.dtype, dims: h.dims.slice(), summary: summarize(h) };
  });
  return {
    backend: session.backend, inputs: inputsReport, outputs, notes,
    ...(session.precisionReport ? { precision: { precision: session.precisionReport.precision, counts: session.precisionReport.counts, rangeFallbacks: session.precisionReport.rangeFallbacks.map((r) => r.node) } } : {}),
    latencyMs: { median: times[Math.floor(times.length / 2)] ?? NaN, min: times[0] ?? NaN, max: times[times.length - 1] ?? NaN, iterations: o.iterations, warmup: o.warmup },
  };
}

export function formatRun(r: RunReport): string {
  const f = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(5));
  const lines = [`backend: ${r.backend}`, 'inputs:'];
  for (const i of r.inputs) lines.push(`  ${i.name}: ${i.dtype} [${i.dims.join('x')}] from ${i.source}`);
  lines.push('outputs:');
  for (const o of r.outputs) lines.push(`  ${o.name}: ${o.dtype} [${o.dims.join('x')}] ${Object.entries(o.summary).map(([k, v]) => `${k}=${f(v)}`).join(' ')}`);
  if (r.precision) lines.push(`precision: ${r.precision.precision} (${Object.entries(r.precision.counts).map(([k, v]) => `${k} ${v}`).join(', ')} nodes)${r.precision.rangeFallbacks.length ? `; kept fp32 for the float16 range: ${r.precision.rangeFallbacks.join(', ')}` : ''}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  lines.push(`latency: median ${r.latencyMs.median.toFixed(3)} ms (min ${r.latencyMs.min.toFixed(3)}, max ${r.latencyMs.max.toFixed(3)}) over ${r.latencyMs.iterations} iterations after ${r.latencyMs.warmup} warmup`);
  return lines.join('\n');
}
