/** `twinfer inspect MODEL [--json]`: inputs, outputs, opsets, op histogram, unsupported ops per backend. */
import type { Graph } from '../ir/graph.js';
import { importModel } from '../onnx/import.js';
import { checkGraph } from '../ir/checker.js';
import { inferGraph } from '../ir/infer.js';
import { findSchema, schemaKey } from '../ir/ops/index.js';
import { findCpuKernel } from '../../backends/cpu/ops/index.js';
import { runCpuNode } from '../../backends/cpu/executor.js';
import { loadModelFile } from '../node-fs.js';

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
