/**
 * The optimizer: an ordered list of passes, each a set of rules applied to a fixpoint, run once per
 * model before any backend sees it. Levels: 0 none, 1 safe folding and clean-up, 2 everything
 * (fusions, pattern recognition). Pure: the input graph is not modified.
 */
import type { Graph } from '../ir/graph.js';
import { checkGraph } from '../ir/checker.js';
import { inferGraph, type Evaluate } from '../ir/infer.js';
import { schemaKey } from '../ir/ops/index.js';
import { applyRules, NameGen, type Rule } from './rules.js';
import { constantFoldingRule } from './constant-folding.js';
import { deadCodeRule, removeNoopsRule } from './remove-noops.js';
import { convAffineRule, gemmBnRule } from './conv-bn-fold.js';
import { layerNormRule } from './layernorm.js';
import { geluRule } from './gelu.js';
import { hardSwishRule } from './hardswish.js';
import { transposeChainRule, transposeMatMulRule } from './transpose-fold.js';
import { constChainRule } from './const-chain.js';
import { activationRule, biasAddRule, residualRule } from './fuse-epilogue.js';
import { horizontalRule } from './horizontal.js';
import { concatElimRule } from './concat-elim.js';
import { qdqFoldRules } from './qdq-fold.js';

export type OptLevel = 0 | 1 | 2;

export interface PassContext {
  /** Runs one node on constant inputs (the CPU kernels): used by constant folding. */
  evaluate: Evaluate;
  /** Fresh names for the values and nodes rewrites create. */
  names: NameGen;
}

export interface Pass {
  name: string;
  /** Lowest optimization level that runs this pass. */
  level: 1 | 2;
  rules(ctx: PassContext): Rule[];
}

export interface OptimizeReport {
  before: { nodes: number; ops: Record<string, number> };
  after: { nodes: number; ops: Record<string, number> };
  /** How many times each rule fired. */
  passes: Record<string, number>;
  ms: number;
}

const cleanup = (ctx: PassContext): Rule[] => [constantFoldingRule(ctx.evaluate), removeNoopsRule, deadCodeRule];

export const PASSES: Pass[] = [
  { name: 'qdq-fold', level: 1, rules: (ctx) => [...qdqFoldRules(ctx), deadCodeRule] }, // before constant folding turns DQ(weights) into floats
  { name: 'cleanup', level: 1, rules: cleanup },
  { name: 'fold-affine', level: 1, rules: (ctx) => [convAffineRule(ctx.names), gemmBnRule(ctx.names)] },
  { name: 'patterns', level: 2, rules: (ctx) => [layerNormRule(ctx.names), geluRule(ctx.names), hardSwishRule(ctx.names), transposeChainRule, constChainRule(ctx.names, ctx.evaluate)] },
  { name: 'epilogue', level: 2, rules: (ctx) => [biasAddRule(ctx.names), activationRule, residualRule, transposeMatMulRule(ctx.names)] },
  { name: 'horizontal', level: 2, rules: (ctx) => [horizontalRule(ctx.names)] },
  { name: 'concat', level: 2, rules: () => [concatElimRule] },
  { name: 'final-cleanup', level: 2, rules: cleanup },
];

export function opHistogram(g: Graph): Record<string, number> {
  const ops: Record<string, number> = {};
  for (const n of g.nodes) { const k = schemaKey(n.domain, n.opType); ops[k] = (ops[k] ?? 0) + 1; }
  return Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1]));
}

/** Optimizes a checked, inferred graph; returns a new graph (checked and inferred) and a report. */
export function optimize(input: Graph, level: OptLevel, evaluate: Evaluate, passes: readonly Pass[] = PASSES): { graph: Graph; report: OptimizeReport } {
  const t0 = performance.now();
  const g = input.clone();
  const ctx: PassContext = { evaluate, names: new NameGen(g) };
  const report: OptimizeReport = { before: { nodes: g.nodes.length, ops: opHistogram(g) }, after: { nodes: 0, ops: {} }, passes: {}, ms: 0 };
  for (const pass of passes) {
    if (pass.level > level) continue;
    const stats = applyRules(g, pass.rules(ctx));
    for (const [k, v] of Object.entries(stats)) report.passes[k] = (report.passes[k] ?? 0) + v;
    if (Object.values(stats).some((v) => v > 0)) {
      checkGraph(g);
      inferGraph(g, ctx.evaluate);
    }
  }
  if (g.nodes.some((n) => n.domain === 'twinfer')) g.opsets['twinfer'] ??= 1;
  report.after = { nodes: g.nodes.length, ops: opHistogram(g) };
  report.ms = performance.now() - t0;
  return { graph: g, report };
}
