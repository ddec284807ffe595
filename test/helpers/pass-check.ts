/**
 * Test helper for the optimizer: optimize a model with chosen passes, check the graph after the
 * pass (checker + inference run inside optimize), and compare its outputs with the unoptimized
 * graph on seeded random feeds. Tolerance: rtol 1e-4 / atol 1e-5 (float32; folding weights and
 * fusing epilogues only changes rounding order).
 */
import { expect } from 'vitest';
import type { Graph } from '../../src/ir/graph.js';
import type { HostTensor } from '../../src/ir/tensor.js';
import { buildGraph } from '../../src/api/session.js';
import { CpuExecutor, runCpuNode } from '../../backends/cpu/executor.js';
import { optimize, PASSES, type OptimizeReport } from '../../src/passes/index.js';
import { compareTensors } from '../../src/testing/compare.js';
import { randomTensor, seededRandom } from './ort-single-op.js';

export interface PassRun { before: Graph; after: Graph; report: OptimizeReport }

export function runPasses(model: Uint8Array, passNames?: string[]): PassRun {
  const before = buildGraph(model);
  const evaluate = (n: Parameters<typeof runCpuNode>[0], i: (HostTensor | undefined)[], t: Parameters<typeof runCpuNode>[3]) => runCpuNode(n, before.opset, i, t);
  const passes = passNames ? PASSES.filter((p) => passNames.includes(p.name)) : PASSES;
  const { graph, report } = optimize(before, 2, evaluate, passes);
  return { before, after: graph, report };
}

/** Runs both graphs on the same random feeds (symbolic dims as given) and compares every output. */
export function expectSameOutputs(r: PassRun, dims: Record<string, number[]> = {}, seed = 3): void {
  const rand = seededRandom(seed);
  const feeds = new Map<string, HostTensor>();
  for (const i of r.before.feedInputs) {
    const d = dims[i.name] ?? (i.shape ?? []).map((x) => (typeof x === 'number' ? x : 2));
    feeds.set(i.name, randomTensor(i.dtype ?? 'float32', d, rand, -2, 2));
  }
  const names = r.before.outputs.map((o) => o.name);
  const a = new CpuExecutor(r.before).run(feeds, names);
  const b = new CpuExecutor(r.after).run(feeds, names);
  for (const n of names) {
    const c = compareTensors(b.get(n)!, a.get(n)!, 1e-4, 1e-5);
    expect(c.reason, `output ${n}`).toBeUndefined();
  }
}

export function ops(g: Graph): string[] {
  return g.nodes.map((n) => (n.domain ? `${n.domain}.${n.opType}` : n.opType));
}
