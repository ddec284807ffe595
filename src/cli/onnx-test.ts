/**
 * The ONNX backend-test runner: a case folder holds model.onnx and test_data_set_N/ with
 * input_K.pb / output_K.pb. Each case ends as pass, fail (max abs error), unsupported (op and
 * reason, found before running) or error (message).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildGraph, optimizeGraph } from '../api/session.js';
import type { OptLevel } from '../passes/index.js';
import { loadModelFile } from '../node-fs.js';
import '../node-gpu.js'; // Dawn as the WebGPU provider for --backend webgpu
import { planExecution, type BackendName, type Executor } from '../engine/plan.js';
import { compareTensors } from '../testing/compare.js';
import { TwinferError } from '../errors.js';
import { readTensorFile } from './tensor-files.js';
import type { HostTensor } from '../ir/tensor.js';

export type CaseStatus = 'pass' | 'fail' | 'unsupported' | 'error';
export interface CaseResult { name: string; dir: string; status: CaseStatus; reason?: string; maxAbsErr?: number }
export interface OnnxTestOptions { backend: string; rtol: number; atol: number; optLevel?: OptLevel }

/** Expands DIRs (a case folder, or a folder of case folders) into case folders, sorted by name. */
export function listCases(dirs: readonly string[], filter?: RegExp): string[] {
  const out: string[] = [];
  for (const d of dirs) {
    if (!fs.existsSync(d) || !fs.statSync(d).isDirectory()) throw new TwinferError('INVALID_ARGUMENT', `'${d}' is not a folder`);
    if (fs.existsSync(path.join(d, 'model.onnx'))) out.push(d);
    else for (const c of fs.readdirSync(d).sort()) if (fs.existsSync(path.join(d, c, 'model.onnx'))) out.push(path.join(d, c));
  }
  return out.filter((c) => !filter || filter.test(path.basename(c)));
}

const numbered = (dir: string, prefix: string) =>
  fs.readdirSync(dir).filter((f) => new RegExp(`^${prefix}_\\d+\\.pb$`).test(f))
    .sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0])).map((f) => path.join(dir, f));

export async function runCase(dir: string, opts: OnnxTestOptions): Promise<CaseResult> {
  const name = path.basename(dir);
  let executor: Executor;
  let inputNames: string[], outputNames: string[];
  try {
    const loaded = await loadModelFile(path.join(dir, 'model.onnx'));
    const g = optimizeGraph(buildGraph(loaded.bytes, loaded), opts.optLevel ?? 2).graph;
    // --backend webgpu,cpu is a preference list: without cpu, nodes WebGPU lacks make the case unsupported.
    executor = (await planExecution(g, opts.backend.split(',') as BackendName[], { minSubgraphSize: 1 })).executor;
    inputNames = g.feedInputs.map((i) => i.name);
    outputNames = g.outputs.map((o) => o.name);
  } catch (e) {
    if (e instanceof TwinferError && (e.code === 'UNSUPPORTED_OP' || e.code === 'UNSUPPORTED')) {
      return { name, dir, status: 'unsupported', reason: e.message };
    }
    return { name, dir, status: 'error', reason: (e as Error).message };
  }
  const sets = fs.readdirSync(dir).filter((f) => f.startsWith('test_data_set_')).sort();
  let maxAbsErr = 0;
  for (const s of sets) {
    const sd = path.join(dir, s);
    try {
      const ins = numbered(sd, 'input').map(readTensorFile);
      const outs = numbered(sd, 'output').map(readTensorFile);
      const feeds = new Map<string, HostTensor>();
      // Inputs map in order onto the graph's non-initializer inputs.
      ins.forEach((t, k) => { if (k < inputNames.length) feeds.set(inputNames[k]!, t); });
      const got = await executor.run(feeds, outputNames.slice(0, outs.length));
      for (let k = 0; k < outs.length; k++) {
        const r = compareTensors(got.get(outputNames[k]!)!, outs[k]!, opts.rtol, opts.atol);
        if (Number.isFinite(r.maxAbsErr)) maxAbsErr = Math.max(maxAbsErr, r.maxAbsErr);
        if (!r.ok) return { name, dir, status: 'fail', reason: `${s} output ${k} (${outputNames[k]}): ${r.reason}`, maxAbsErr: r.maxAbsErr };
      }
    } catch (e) {
      return { name, dir, status: 'error', reason: `${s}: ${(e as Error).message}` };
    }
  }
  return { name, dir, status: 'pass', maxAbsErr };
}

export interface Summary { passed: number; failed: number; skipped: number; errors: number }

export function summarize(results: readonly CaseResult[]): Summary {
  const count = (s: CaseStatus) => results.filter((r) => r.status === s).length;
  return { passed: count('pass'), failed: count('fail'), skipped: count('unsupported'), errors: count('error') };
}
