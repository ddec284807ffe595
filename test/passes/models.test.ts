/**
 * The optimizer on the standard architectures (bench/models): what TensorRT-style optimization must
 * achieve on them, and the memory plan's 1.1x target. Optimization time is reported, not asserted
 * (timing never decides a test); docs/benchmarks.md records it.
 */
import { describe, expect, it } from 'vitest';
import { buildBert, buildMobileNetV2, buildResNet50 } from '../../bench/models/index.js';
import { planForShapes } from '../../src/engine/plan-for-shapes.js';
import { checkPlan } from '../../src/engine/memory-plan.js';
import { runCpuNode } from '../../backends/cpu/executor.js';
import { expectSameOutputs, runPasses, type PassRun } from '../helpers/pass-check.js';

const evaluate = (n: Parameters<typeof runCpuNode>[0], i: Parameters<typeof runCpuNode>[2], t: Parameters<typeof runCpuNode>[3]) => runCpuNode(n, 17, i, t);

function memoryRatio(r: PassRun, shapes: Record<string, number[]>): number {
  const plan = planForShapes(r.after, new Map(Object.entries(shapes)), evaluate);
  checkPlan(plan);
  expect(plan.arenaBytes).toBeGreaterThanOrEqual(plan.lowerBoundBytes);
  expect(plan.naiveBytes).toBeGreaterThan(plan.arenaBytes);
  console.log(`arena ${plan.arenaBytes} B, lower bound ${plan.lowerBoundBytes} B, naive ${plan.naiveBytes} B`);
  return plan.arenaBytes / plan.lowerBoundBytes;
}

describe('optimizer on the standard architectures', () => {
  it('ResNet-50 v1.5: no BatchNormalization or standalone Relu left, >= 3x fewer nodes, arena <= 1.1x bound', () => {
    const r = runPasses(buildResNet50());
    console.log(`ResNet-50: ${r.report.before.nodes} -> ${r.report.after.nodes} nodes in ${r.report.ms.toFixed(0)} ms`);
    expect(r.report.after.ops['BatchNormalization']).toBeUndefined();
    expect(r.report.after.ops['Relu']).toBeUndefined();
    expect(r.report.before.nodes / r.report.after.nodes).toBeGreaterThanOrEqual(3);
    expect(memoryRatio(r, { input: [1, 3, 224, 224] })).toBeLessThanOrEqual(1.1);
  });

  it('MobileNetV2: BN and ReLU6 folded into convs, outputs unchanged, arena <= 1.1x bound', () => {
    const r = runPasses(buildMobileNetV2());
    expect(r.report.after.ops['BatchNormalization']).toBeUndefined();
    expect(r.report.after.ops['Clip']).toBeUndefined();
    expectSameOutputs(r, { input: [1, 3, 224, 224] });
    expect(memoryRatio(r, { input: [1, 3, 224, 224] })).toBeLessThanOrEqual(1.1);
  });

  it('BERT-base (12 layers): every LayerNorm and GELU recognized, arena <= 1.1x bound at seq 128', () => {
    const r = runPasses(buildBert({ vocab: 1000 }));
    console.log(`BERT-base: ${r.report.before.nodes} -> ${r.report.after.nodes} nodes in ${r.report.ms.toFixed(0)} ms`);
    expect(r.report.before.ops['Erf']).toBe(12);
    expect(r.report.after.ops['LayerNormalization']).toBe(25); // 24 in the layers + the embedding one
    expect(r.report.passes['gelu']).toBe(12);
    expect(r.report.after.ops['Erf'] ?? 0).toBe(0);
    expect(r.report.after.ops['ReduceMean'] ?? 0).toBe(0);
    expect(memoryRatio(r, { input_ids: [1, 128], attention_mask: [1, 128] })).toBeLessThanOrEqual(1.1);
  });

  it('BERT (2 layers): optimized outputs match the original at a dynamic sequence length', () => {
    const r = runPasses(buildBert({ layers: 2, vocab: 1000 }));
    expectSameOutputs(r, { input_ids: [2, 9], attention_mask: [2, 9] });
  });
});
