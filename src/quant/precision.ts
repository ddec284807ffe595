/**
 * Precision assignment, after the optimizer and before partitioning: which nodes run at fp32,
 * fp16 or int8 (TensorRT's builder flags with per-layer precision constraints).
 *
 *  - 'fp32': nothing changes.
 *  - 'fp16': every eligible node (src/quant/fp16.ts) runs in float16 storage; with a calibration
 *    table, a node whose output range exceeds float16's (amax or the largest |x| seen > 65504)
 *    stays fp32, and the report names it.
 *  - 'int8': Conv / Gemm / MatMul (and Fused forms) with constant weights and a table entry for X
 *    become INT8 ops (src/quant/int8-pass.ts); every other node runs fp32, as with TensorRT's INT8
 *    flag alone. Needs a table.
 * `constraints` map a node name or an op type to a precision; a name beats an op type. A node
 * constrained to int8 that cannot be quantized runs fp32 and the report says why.
 */
import type { Graph, Node } from '../ir/graph.js';
import { inferGraph } from '../ir/infer.js';
import { TwinferError } from '../errors.js';
import type { CalibrationTable } from './table.js';
import { int8Candidate, quantizeNode, type Int8Skip } from './int8-pass.js';
import { convertToFp16, fp16Eligible } from './fp16.js';
import { applySmoothing } from './smooth.js';
import { FUSED_BASE } from '../ir/ops/fused.js';
import { Q_BASE } from '../ir/ops/qfused.js';

export type Precision = 'fp32' | 'fp16' | 'int8';
export const PRECISIONS: readonly Precision[] = ['fp32', 'fp16', 'int8'];
export const FP16_MAX = 65504;

export interface PrecisionOptions {
  precision?: Precision;
  /** Activation ranges: needed for int8, used for the fp16 range check. */
  table?: CalibrationTable;
  /** Node name or op type -> precision. */
  constraints?: Readonly<Record<string, Precision>>;
  log?: (message: string) => void;
}

export interface PrecisionReport {
  precision: Precision;
  /** Nodes per precision after assignment (Casts inserted by the fp16 conversion count as fp32). */
  counts: Record<Precision, number>;
  /** Node name -> precision, for the nodes of the graph after assignment. */
  nodes: Map<string, Precision>;
  /** Nodes kept at fp32 because a value they read or write exceeds the float16 range (`value`, its amax or constant max). */
  rangeFallbacks: { node: string; value: string; amax: number }[];
  /** INT8 candidates left in float, and why. */
  int8Skipped: Int8Skip[];
  /** fp16 nodes kept fp32 for another reason than a measured range (see RANGE_SENSITIVE). */
  fp16Skipped: { node: string; opType: string; reason: string }[];
  castsInserted: number;
  /** Layers smoothed before INT8 (a table made with smoothing, src/quant/smooth.ts). */
  smoothed?: number;
}

/**
 * Ops whose float output grows with the size of what they reduce or count: without a calibration
 * table to show their range fits, they stay fp32 in fp16 mode (with a table the range check decides).
 * Range and ops that never run fp16 at all are in fp16.ts (NEVER_FP16).
 */
const RANGE_SENSITIVE = new Set(['ReduceSum', 'ReduceSumSquare', 'ReduceProd', 'CumSum', 'ReduceL2', 'ReduceL1']);

/** The keys an op-type constraint can use for a node: 'FusedConv', 'twinfer.FusedConv' and the base 'Conv'. */
function opKeys(n: Node): string[] {
  const keys = [n.opType];
  if (n.domain) keys.push(`${n.domain}.${n.opType}`);
  const base = n.domain === 'twinfer' ? (FUSED_BASE[n.opType] ?? Q_BASE[n.opType]) : undefined;
  if (base) keys.push(base);
  return keys;
}

export function checkPrecision(p: unknown, where = 'precision'): Precision {
  if (typeof p !== 'string' || !PRECISIONS.includes(p as Precision)) throw new TwinferError('INVALID_ARGUMENT', `${where} must be one of ${PRECISIONS.join(', ')}, got '${String(p)}'`);
  return p as Precision;
}

/** Parses 'Conv=fp32,node_name=fp16' (the CLI's --precision-constraints). */
export function parseConstraints(s: string): Record<string, Precision> {
  const out: Record<string, Precision> = {};
  for (const part of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const eq = part.lastIndexOf('=');
    if (eq <= 0) throw new TwinferError('INVALID_ARGUMENT', `precision constraint '${part}' must be NAME_OR_OP=fp32|fp16|int8`);
    out[part.slice(0, eq).trim()] = checkPrecision(part.slice(eq + 1).trim(), `precision constraint '${part}'`);
  }
  return out;
}

/** Assigns precisions to `g` (optimized and inferred) in place and returns the report. */
export function assignPrecision(g: Graph, opts: PrecisionOptions = {}): PrecisionReport {
  const precision = checkPrecision(opts.precision ?? 'fp32');
  const constraints = opts.constraints ?? {};
  if (typeof constraints !== 'object' || constraints === null || Array.isArray(constraints)) throw new TwinferError('INVALID_ARGUMENT', 'precisionConstraints must be an object of node name or op type -> precision');
  const names = new Set(g.nodes.map((n) => n.name)), ops = new Set(g.nodes.flatMap(opKeys));
  for (const [k, v] of Object.entries(constraints)) {
    checkPrecision(v, `precision constraint '${k}'`);
    if (!names.has(k) && !ops.has(k)) throw new TwinferError('INVALID_ARGUMENT', `precision constraint '${k}' names no node and no op type of the optimized graph`);
  }
  // A node name beats an op type; the op's own type beats the base op a fused op wraps.
  const constrained = (n: Node): Precision | undefined => {
    if (Object.prototype.hasOwnProperty.call(constraints, n.name)) return constraints[n.name];
    for (const k of opKeys(n)) if (Object.prototype.hasOwnProperty.call(constraints, k)) return constraints[k];
    return undefined;
  };
  const want = (n: Node): Precision => constrained(n) ?? precision;
  const report: PrecisionReport = { precision, counts: { fp32: 0, fp16: 0, int8: 0 }, nodes: new Map(), rangeFallbacks: [], int8Skipped: [], fp16Skipped: [], castsInserted: 0 };
  const table = opts.table;
  if (!table && g.nodes.some((n) => want(n) === 'int8')) {
    throw new TwinferError('INVALID_ARGUMENT', 'int8 precision needs a calibration table (calibrationTable / --calib; make one with `twinfer calibrate`)');
  }

  // A table made with activation smoothing: the layers to run int8 get the same transform as the
  // graph calibrated (X / s, W * s), so their X is the tensor the table's scale was measured on.
  if (table?.smoothing && g.nodes.some((n) => want(n) === 'int8')) {
    report.smoothed = applySmoothing(g, table.smoothing.factors, (n) => want(n) === 'int8');
    inferGraph(g);
  }

  // INT8 first: the Q ops then take part in fp16 like any node (their X may be float16).
  for (const n of g.nodes) {
    if (want(n) !== 'int8') continue;
    if (!int8Candidate(n)) {
      // Only worth a line where someone asked for int8 on this node or op type by name.
      if (constrained(n) === 'int8') report.int8Skipped.push({ node: n.name, opType: n.opType, reason: 'no INT8 form of this op (only Conv, Gemm, MatMul and their fused forms)' });
      continue;
    }
    const why = quantizeNode(g, n, table!);
    if (why) report.int8Skipped.push({ node: n.name, opType: n.opType, reason: why });
  }

  const fp16 = new Set<Node>();
  for (const n of g.nodes) {
    if (want(n) !== 'fp16' || !fp16Eligible(g, n)) continue;
    if (!table && RANGE_SENSITIVE.has(n.opType)) { report.fp16Skipped.push({ node: n.name, opType: n.opType, reason: 'sums grow with the reduced count and may exceed float16 without a table to say they do not' }); continue; }
    const over = outOfHalfRange(g, n, table);
    if (over) { report.rangeFallbacks.push({ node: n.name, ...over }); continue; }
    fp16.add(n);
  }
  report.castsInserted = convertToFp16(g, fp16);
  // Drop constants nothing reads any more (the float weights of quantized nodes).
  const read = new Set([...g.nodes.flatMap((n) => n.inputs), ...g.outputs.map((o) => o.name)]);
  for (const k of [...g.initializers.keys()]) if (!read.has(k)) { g.initializers.delete(k); g.types.delete(k); }
  g.inputs = g.inputs.filter((i) => !g.initializers.has(i.name) || read.has(i.name));
  inferGraph(g);

  recountPrecision(g, report);
  const log = opts.log;
  if (log && (precision !== 'fp32' || Object.keys(constraints).length)) {
    log(`twinfer: precision ${precision}: ${report.counts.int8} int8, ${report.counts.fp16} fp16, ${report.counts.fp32} fp32 nodes (${report.castsInserted} casts)${report.smoothed ? `; ${report.smoothed} layers smoothed (alpha ${table!.smoothing!.alpha})` : ''}`);
    if (report.rangeFallbacks.length) log(`twinfer: kept fp32 for the float16 range (|x| > ${FP16_MAX}): ${report.rangeFallbacks.map((r) => `${r.node} (${r.value}: ${r.amax.toPrecision(3)})`).join(', ')}`);
    if (report.fp16Skipped.length) log(`twinfer: kept fp32 without a table: ${countBy(report.fp16Skipped.map((f) => f.opType))}`);
    if (report.int8Skipped.length) log(`twinfer: not int8: ${countBy(report.int8Skipped.map((f) => `${f.opType}: ${f.reason}`))}`);
  }
  return report;
}

/**
 * The first value of `n` beyond float16's range: a float constant it reads, or an input or output
 * whose calibrated range (amax, or the largest |x| seen) exceeds 65504. An input counts as much as
 * an output: converting it to float16 at the region's border would overflow just the same.
 */
function outOfHalfRange(g: Graph, n: Node, table: CalibrationTable | undefined): { value: string; amax: number } | undefined {
  for (const v of [...n.inputs, ...n.outputs]) {
    if (!v) continue;
    const c = g.initializers.get(v);
    let amax = 0;
    if (c) { if (c.dtype === 'float32') for (const x of c.numbers) { const a = Math.abs(x); if (a > amax) amax = a; } }
    else { const e = table?.get(v); if (e) amax = Math.max(e.amax, e.absMax ?? 0); }
    if (amax > FP16_MAX) return { value: v, amax };
  }
  return undefined;
}

/** A node's precision as the graph shows it: INT8 ops, nodes writing float16 (Casts count fp32), the rest. */
export function precisionOfNode(g: Graph, n: Node): Precision {
  if (n.domain === 'twinfer' && n.opType in Q_BASE) return 'int8';
  if (n.opType === 'Cast') return 'fp32';
  return n.outputs.some((o) => o && g.types.get(o)?.dtype === 'float16') ? 'fp16' : 'fp32';
}

/** Fills the report's per-node precisions and counts from the graph (again after the planner lowered nodes). */
export function recountPrecision(g: Graph, report: PrecisionReport): void {
  report.nodes = new Map();
  report.counts = { fp32: 0, fp16: 0, int8: 0 };
  for (const n of g.nodes) {
    const p = precisionOfNode(g, n);
    report.nodes.set(n.name, p);
    report.counts[p]++;
  }
}

function countBy(keys: string[]): string {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return [...m].map(([k, c]) => `${k} x${c}`).join('; ');
}
