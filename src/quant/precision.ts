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
  /** Nodes kept at fp32 because their output exceeds the float16 range, with the amax seen. */
  rangeFallbacks: { node: string; value: string; amax: number }[];
  /** INT8 candidates left in float, and why. */
  int8Skipped: Int8Skip[];
  castsInserted: number;
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
  const names = new Set(g.nodes.map((n) => n.name)), ops = new Set(g.nodes.map((n) => n.opType));
  for (const [k, v] of Object.entries(constraints)) {
    checkPrecision(v, `precision constraint '${k}'`);
    if (!names.has(k) && !ops.has(k)) throw new TwinferError('INVALID_ARGUMENT', `precision constraint '${k}' names no node and no op type of the optimized graph`);
  }
  const want = (n: Node): Precision => constraints[n.name] ?? constraints[n.opType] ?? precision;
  const report: PrecisionReport = { precision, counts: { fp32: 0, fp16: 0, int8: 0 }, nodes: new Map(), rangeFallbacks: [], int8Skipped: [], castsInserted: 0 };
  const table = opts.table;
  if (!table && g.nodes.some((n) => want(n) === 'int8')) {
    throw new TwinferError('INVALID_ARGUMENT', 'int8 precision needs a calibration table (calibrationTable / --calib; make one with `twinfer calibrate`)');
  }

  // INT8 first: the Q ops then take part in fp16 like any node (their X may be float16).
  for (const n of g.nodes) {
    if (want(n) !== 'int8') continue;
    if (!int8Candidate(n)) { report.int8Skipped.push({ node: n.name, opType: n.opType, reason: 'no INT8 kernel for this op' }); continue; }
    const why = quantizeNode(g, n, table!);
    if (why) report.int8Skipped.push({ node: n.name, opType: n.opType, reason: why });
  }

  const fp16 = new Set<Node>();
  for (const n of g.nodes) {
    if (want(n) !== 'fp16' || !fp16Eligible(g, n)) continue;
    const over = table ? n.outputs.map((o) => ({ o, e: o ? table.get(o) : undefined })).find(({ e }) => e && Math.max(e.amax, e.absMax ?? 0) > FP16_MAX) : undefined;
    if (over) { report.rangeFallbacks.push({ node: n.name, value: over.o, amax: Math.max(over.e!.amax, over.e!.absMax ?? 0) }); continue; }
    fp16.add(n);
  }
  report.castsInserted = convertToFp16(g, fp16);
  // Drop constants nothing reads any more (the float weights of quantized nodes).
  const read = new Set([...g.nodes.flatMap((n) => n.inputs), ...g.outputs.map((o) => o.name)]);
  for (const k of [...g.initializers.keys()]) if (!read.has(k)) { g.initializers.delete(k); g.types.delete(k); }
  g.inputs = g.inputs.filter((i) => !g.initializers.has(i.name) || read.has(i.name));
  inferGraph(g);

  for (const n of g.nodes) {
    const p: Precision = n.domain === 'twinfer' && /^Q(Conv|Gemm|MatMul)$/.test(n.opType) ? 'int8' : fp16.has(n) ? 'fp16' : 'fp32';
    report.nodes.set(n.name, p);
    report.counts[p]++;
  }
  const log = opts.log;
  if (log && precision !== 'fp32' || log && Object.keys(constraints).length) {
    log!(`precision ${precision}: ${report.counts.int8} int8, ${report.counts.fp16} fp16, ${report.counts.fp32} fp32 nodes (${report.castsInserted} casts)`);
    if (report.rangeFallbacks.length) log!(`kept fp32 for the float16 range (|x| > ${FP16_MAX}): ${report.rangeFallbacks.map((r) => `${r.node} (${r.amax.toPrecision(3)})`).join(', ')}`);
    if (report.int8Skipped.length && precision === 'int8') {
      const why = new Map<string, number>();
      for (const s of report.int8Skipped) if (int8CandidateOp(s.opType)) why.set(`${s.opType}: ${s.reason}`, (why.get(`${s.opType}: ${s.reason}`) ?? 0) + 1);
      if (why.size) log!(`not int8: ${[...why].map(([k, c]) => `${k} x${c}`).join('; ')}`);
    }
  }
  return report;
}

function int8CandidateOp(opType: string): boolean {
  return /^(Fused)?(Conv|Gemm|MatMul)$/.test(opType);
}
