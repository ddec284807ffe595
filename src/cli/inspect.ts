/** `twinfer inspect MODEL [--json]`: inputs, outputs, opsets, op histogram, unsupported ops per backend. */
import type { Graph } from '../ir/graph.js';
import { importModel } from '../onnx/import.js';
import { checkGraph } from '../ir/checker.js';
import { inferGraph } from '../ir/infer.js';
import { findSchema, schemaKey } from '../ir/ops/index.js';
import { findCpuKernel } from '../../backends/cpu/ops/index.js';
import { runCpuNode } from '../../backends/cpu/executor.js';
import { loadModelFile } from '../node-fs.js';
import { buildGraph, optimizeGraph } from '../api/session.js';
import { planForShapes } from '../engine/plan-for-shapes.js';
import type { OptLevel } from '../passes/index.js';
import type { Node, ValueType } from '../ir/graph.js';
import type { HostTensor } from '../ir/tensor.js';
import { assignPrecision } from '../quant/precision.js';
import type { PrecisionArgs } from './precision-args.js';

export interface InspectReport {
  inputs: { name: string; dtype?: string; shape?: (number | string)[] }[];
  outputs: { name: string; dtype?: string; shape?: (number | string)[] }[];
  opsets: Record<string, number>;
  nodes: number;
  initializers: number;
  ops: Record<string, number>;
  unsupported: Record<string, { op: string; nodes: number; reason: string }[]>;
  /** Backends that exist in twinfer's design but are not part of this build yet. */
  backendsNotBuilt: string[];
}

export interface OptimizeInspect {
  before: { nodes: number; ops: Record<string, number> };
  after: { nodes: number; ops: Record<string, number> };
  passes: Record<string, number>;
  ms: number;
  memory: { arenaBytes: number; naiveBytes: number; lowerBoundBytes: number; shapes: Record<string, number[]> };
  /** Where a precision was asked for: nodes per precision, Casts inserted, what stayed fp32 and why. */
  precision?: { precision: string; counts: Record<string, number>; casts: number; rangeFallbacks: string[]; notInt8: { node: string; reason: string }[] };
}

/** `inspect --optimize`: what the optimizer did and the memory plan at the given (or unit) dims. */
export async function inspectOptimized(file: string, level: OptLevel, shapes: Map<string, number[]>, prec: PrecisionArgs = {}): Promise<OptimizeInspect> {
  const loaded = await loadModelFile(file);
  const { graph, report } = optimizeGraph(buildGraph(loaded.bytes, loaded), level);
  const pr = prec.precision !== undefined || prec.precisionConstraints !== undefined
    ? assignPrecision(graph, { precision: prec.precision ?? 'fp32', ...(prec.calibrationTable ? { table: prec.calibrationTable } : {}), ...(prec.precisionConstraints ? { constraints: prec.precisionConstraints } : {}) })
    : undefined;
  const evaluate = (node: Node, inputs: (HostTensor | undefined)[], types: ValueType[]) => runCpuNode(node, graph.opsets[node.domain] ?? graph.opset, inputs, types);
  const plan = planForShapes(graph, shapes, evaluate);
  const used: Record<string, number[]> = {};
  for (const i of graph.feedInputs) used[i.name] = shapes.get(i.name) ?? (i.shape ?? []).map((d) => (typeof d === 'number' ? d : 1));
  return {
    before: report.before, after: report.after, passes: report.passes, ms: report.ms,
    memory: { arenaBytes: plan.arenaBytes, naiveBytes: plan.naiveBytes, lowerBoundBytes: plan.lowerBoundBytes, shapes: used },
    ...(pr ? { precision: { precision: pr.precision, counts: pr.counts, casts: pr.castsInserted, rangeFallbacks: pr.rangeFallbacks.map((r) => r.node), notInt8: pr.int8Skipped.map((s) => ({ node: s.node, reason: s.reason })) } } : {}),
  };
}

export function formatOptimized(file: string, r: OptimizeInspect): string {
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
  const ops = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
  const p = r.precision;
  const precision = p ? [
    `precision ${p.precision}: ${Object.entries(p.counts).map(([k, v]) => `${k} ${v}`).join(', ')} nodes, ${p.casts} casts`
      + (p.rangeFallbacks.length ? `; kept fp32 for the float16 range: ${p.rangeFallbacks.join(', ')}` : '')
      + (p.notInt8.length ? `; not int8: ${p.notInt8.length} (${p.notInt8.slice(0, 3).map((s) => `${s.node}: ${s.reason}`).join('; ')}${p.notInt8.length > 3 ? '; ...' : ''})` : ''),
  ] : [];
  return [
    `model: ${file}`,
    `nodes: ${r.before.nodes} -> ${r.after.nodes} (${(r.before.nodes / Math.max(1, r.after.nodes)).toFixed(2)}x fewer) in ${r.ms.toFixed(1)} ms`,
    `before: ${ops(r.before.ops)}`,
    `after:  ${ops(r.after.ops)}`,
    `passes: ${Object.entries(r.passes).map(([k, v]) => `${k} x${v}`).join(', ')}`,
    ...precision,
    `memory at ${Object.entries(r.memory.shapes).map(([k, v]) => `${k}=${v.join('x')}`).join(' ')}: arena ${mb(r.memory.arenaBytes)}, naive ${mb(r.memory.naiveBytes)}, lower bound ${mb(r.memory.lowerBoundBytes)} (arena/bound ${(r.memory.arenaBytes / Math.max(1, r.memory.lowerBoundBytes)).toFixed(3)})`,
  ].join('\n');
}

export async function inspectModel(file: string): Promise<InspectReport> {
  const loaded = await loadModelFile(file);
  const g = importModel(loaded.bytes, loaded);
  checkGraph(g, { requireSupported: false });
  const unsupportedCpu = unsupportedOps(g);
  if (unsupportedCpu.length === 0) {
    inferGraph(g, (node, inputs, types) => runCpuNode(node, g.opsets[node.domain] ?? g.opset, inputs, types));
  }
  const ops: Record<string, number> = {};
  for (const n of g.nodes) { const k = schemaKey(n.domain, n.opType); ops[k] = (ops[k] ?? 0) + 1; }
  return {
    inputs: g.feedInputs.map((i) => ({ name: i.name, ...(i.dtype ? { dtype: i.dtype } : {}), ...(i.shape ? { shape: i.shape } : {}) })),
    outputs: g.outputs.map((o) => ({ name: o.name, ...(o.dtype ? { dtype: o.dtype } : {}), ...(o.shape ? { shape: o.shape } : {}) })),
    opsets: g.opsets,
    nodes: g.nodes.length,
    initializers: g.initializers.size,
    ops: Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1])),
    unsupported: { cpu: unsupportedCpu },
    backendsNotBuilt: ['webgpu', 'cuda', 'tensorrt'],
  };
}

function unsupportedOps(g: Graph): { op: string; nodes: number; reason: string }[] {
  const miss = new Map<string, { nodes: number; reason: string }>();
  for (const n of g.nodes) {
    const k = schemaKey(n.domain, n.opType);
    const reason = !findSchema(n.domain, n.opType) ? 'op not in twinfer\'s op set' : !findCpuKernel(k) ? 'no CPU kernel' : undefined;
    if (reason) miss.set(k, { nodes: (miss.get(k)?.nodes ?? 0) + 1, reason });
  }
  return [...miss].map(([op, v]) => ({ op, ...v }));
}

const fmtShape = (s?: (number | string)[]) => (s ? `[${s.join(', ')}]` : '[?]');

export function formatInspect(file: string, r: InspectReport): string {
  const lines = [`model: ${file}`, `opsets: ${Object.entries(r.opsets).map(([d, v]) => `${d || 'ai.onnx'} ${v}`).join(', ')}`,
    `nodes: ${r.nodes}, initializers: ${r.initializers}`, 'inputs:'];
  for (const i of r.inputs) lines.push(`  ${i.name}: ${i.dtype ?? '?'} ${fmtShape(i.shape)}`);
  lines.push('outputs:');
  for (const o of r.outputs) lines.push(`  ${o.name}: ${o.dtype ?? '?'} ${fmtShape(o.shape)}`);
  lines.push('ops:');
  for (const [op, n] of Object.entries(r.ops)) lines.push(`  ${op.padEnd(28)} ${n}`);
  lines.push('unsupported:');
  for (const [b, list] of Object.entries(r.unsupported)) {
    lines.push(`  ${b}: ${list.length === 0 ? 'none' : list.map((u) => `${u.op} x${u.nodes} (${u.reason})`).join(', ')}`);
  }
  lines.push(`  (not in this build: ${r.backendsNotBuilt.join(', ')})`);
  return lines.join('\n');
}
