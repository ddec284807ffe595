/**
 * Fusion passes on small graphs: epilogue fusion (bias, every fusable activation, SiLU, residual,
 * post-activation), Transpose into MatMul, horizontal fusion and concat elimination. Each checks the
 * rewrite and that outputs agree with the unoptimized graph (rtol 1e-4, helpers/pass-check.ts).
 */
import { describe, expect, it } from 'vitest';
import { ModelBuilder } from '../../bench/models/builder.js';
import { planMemory } from '../../src/engine/memory-plan.js';
import { expectSameOutputs, ops, runPasses } from '../helpers/pass-check.js';

const mb = () => new ModelBuilder('t', 5);

describe('epilogue fusion', () => {
  it('Conv + bias Add + Relu + residual Add + Relu -> one FusedConv', () => {
    const b = mb();
    const x = b.input('x', 'float32', [1, 4, 6, 6]);
    const c = b.op('Conv', [x, b.heWeight('w', [4, 4, 3, 3], 36)], { pads: [1, 1, 1, 1] });
    const r1 = b.op('Relu', [b.op('Add', [c, b.uniform('bias', [4, 1, 1], -1, 1)])]);
    b.output(b.op('Relu', [b.op('Add', [x, r1])]), 'y', 'float32', [1, 4, 6, 6]);
    const r = runPasses(b.bytes(), ['epilogue']);
    expect(ops(r.after)).toEqual(['twinfer.FusedConv']);
    const f = r.after.nodes[0]!;
    expect([f.attrs['activation'], f.attrs['post_activation'], f.inputs[3]]).toEqual(['Relu', 'Relu', 'x']);
    expectSameOutputs(r);
  });

  const acts: [string, (b: ModelBuilder, v: string) => string][] = [
    ['Clip', (b, v) => b.op('Clip', [v, b.scalar(0), b.scalar(6)])],
    ['LeakyRelu', (b, v) => b.op('LeakyRelu', [v], { alpha: 0.2 })],
    ['Sigmoid', (b, v) => b.op('Sigmoid', [v])],
    ['Tanh', (b, v) => b.op('Tanh', [v])],
    ['HardSigmoid', (b, v) => b.op('HardSigmoid', [v], { alpha: 0.3, beta: 0.4 })],
    ['HardSwish', (b, v) => b.op('HardSwish', [v])],
    ['Elu', (b, v) => b.op('Elu', [v], { alpha: 0.7 })],
    ['Silu', (b, v) => b.op('Mul', [v, b.op('Sigmoid', [v])])],
    ['Gelu', (b, v) => b.op('Gelu', [v])],
  ];
  for (const [name, make] of acts) {
    it(`fuses ${name} into Conv, Gemm and MatMul`, () => {
      const b = mb();
      const x = b.input('x', 'float32', [2, 3, 5, 5]);
      const c = make(b, b.op('Conv', [x, b.heWeight('wc', [4, 3, 3, 3], 27), b.uniform('bc', [4], -1, 1)]));
      const flat = b.op('Flatten', [c]);
      const g = make(b, b.op('Gemm', [flat, b.heWeight('wg', [36, 6], 36)]));
      const m = make(b, b.op('Add', [b.op('MatMul', [g, b.heWeight('wm', [6, 5], 6)]), b.uniform('bm', [5], -1, 1)]));
      b.output(m, 'y', 'float32', [2, 5]);
      const r = runPasses(b.bytes(), ['epilogue']);
      expect(ops(r.after)).toEqual(['twinfer.FusedConv', 'Flatten', 'twinfer.FusedGemm', 'twinfer.FusedMatMul']);
      expect(r.after.nodes.filter((n) => n.domain === 'twinfer').every((n) => n.attrs['activation'] === name)).toBe(true);
      expectSameOutputs(r);
    });
  }

  it('fuses a scalar affine after the activation (PP-LCNet learnable affine) into the post slot', () => {
    const b = mb();
    const x = b.input('x', 'float32', [1, 3, 5, 5]);
    const c = b.op('HardSwish', [b.op('Conv', [x, b.heWeight('w', [4, 3, 3, 3], 27), b.uniform('bc', [4], -1, 1)])]);
    const a = b.op('Add', [b.op('Mul', [b.scalar(0.8), c]), b.scalar(-0.3)]);
    b.output(b.op('Mul', [a, b.scalar(2)]), 'y', 'float32', [1, 4, 3, 3]);
    const r = runPasses(b.bytes(), ['epilogue']);
    expect(ops(r.after)).toEqual(['twinfer.FusedConv']);
    const f = r.after.nodes[0]!;
    expect([f.attrs['activation'], f.attrs['post_activation']]).toEqual(['HardSwish', 'Affine']);
    const [s, t] = f.attrs['post_activation_params'] as number[];
    expect(s).toBeCloseTo(1.6, 6); // float32 constants: 0.8 * 2
    expect(t).toBeCloseTo(-0.6, 6);
    expectSameOutputs(r);
  });

  it('does not fuse an activation whose input is read elsewhere, or a residual that depends on the op', () => {
    const b = mb();
    const x = b.input('x', 'float32', [1, 2, 4, 4]);
    const c = b.op('Conv', [x, b.heWeight('w', [2, 2, 1, 1], 2)]);
    const a = b.op('Relu', [c]);
    const dep = b.op('Add', [c, b.op('Neg', [c])]); // residual computed from the conv itself
    b.output(b.op('Add', [a, dep]), 'y', 'float32', [1, 2, 4, 4]);
    const r = runPasses(b.bytes(), ['epilogue']);
    expect(ops(r.after)).toContain('Relu');
    expectSameOutputs(r);
  });

  it('folds a Transpose of the last two axes into MatMul', () => {
    const b = mb();
    const q = b.input('q', 'float32', [2, 3, 4, 8]);
    const k = b.input('k', 'float32', [2, 3, 5, 8]);
    b.output(b.op('MatMul', [q, b.op('Transpose', [k], { perm: [0, 1, 3, 2] })]), 'y', 'float32', [2, 3, 4, 5]);
    const r = runPasses(b.bytes(), ['epilogue']);
    expect(ops(r.after)).toEqual(['twinfer.FusedMatMul']);
    expect(r.after.nodes[0]!.attrs['transB']).toBe(1);
    expectSameOutputs(r);
  });
});

describe('horizontal fusion', () => {
  it('merges sibling MatMuls (Q/K/V) with biases into one wide node and a Split', () => {
    const b = mb();
    const x = b.input('x', 'float32', [2, 7, 16]);
    const outs = ['q', 'k', 'v'].map((n, i) => b.op('Add', [b.op('MatMul', [x, b.heWeight(`w${n}`, [16, 8 + i], 16)]), b.uniform(`b${n}`, [8 + i], -1, 1)]));
    b.output(b.op('Concat', outs, { axis: -1 }), 'y', 'float32', [2, 7, 27]);
    const r = runPasses(b.bytes(), ['epilogue', 'horizontal']);
    expect(ops(r.after)).toEqual(['twinfer.FusedMatMul', 'Split', 'Concat']);
    expect(r.report.passes['horizontal-fusion']).toBe(1);
    expectSameOutputs(r);
  });

  it('merges sibling 1x1 convolutions with the same activation', () => {
    const b = mb();
    const x = b.input('x', 'float32', [1, 8, 5, 5]);
    const a = b.op('Relu', [b.op('Conv', [x, b.heWeight('wa', [4, 8, 1, 1], 8)])]);
    const c = b.op('Relu', [b.op('Conv', [x, b.heWeight('wc', [6, 8, 1, 1], 8), b.uniform('bc', [6], -1, 1)])]);
    b.output(b.op('Add', [b.op('ReduceSum', [a, b.ints('ax', [1])]), b.op('ReduceSum', [c, b.ints('ax2', [1])])]), 'y', 'float32', [1, 1, 5, 5]);
    const r = runPasses(b.bytes(), ['epilogue', 'horizontal']);
    expect(ops(r.after).slice(0, 2)).toEqual(['twinfer.FusedConv', 'Split']);
    expectSameOutputs(r);
  });
});

describe('concat elimination', () => {
  it('marks a Concat whose producers can write into it, and the memory plan places them inside', () => {
    const b = mb();
    const x = b.input('x', 'float32', [1, 3, 8, 8]);
    const a = b.op('Conv', [x, b.heWeight('wa', [4, 3, 3, 3], 27)], { pads: [1, 1, 1, 1] });
    const c = b.op('Conv', [x, b.heWeight('wc', [5, 3, 1, 1], 3)]);
    b.output(b.op('Sigmoid', [b.op('Concat', [a, c], { axis: 1 })]), 'y', 'float32', [1, 9, 8, 8]);
    const r = runPasses(b.bytes(), ['concat']);
    const cat = r.after.nodes.find((n) => n.opType === 'Concat')!;
    expect(cat.attrs['twinfer_inplace']).toBe(1);
    const plan = planMemory(r.after);
    const pa = plan.offsets.get(cat.inputs[0]!)!, pc = plan.offsets.get(cat.inputs[1]!)!, po = plan.offsets.get(cat.outputs[0]!)!;
    expect(pa.offset).toBe(po.offset);
    expect(pc.offset).toBe(po.offset + 4 * 64 * 4);
    expectSameOutputs(r);
  });

  it('leaves a Concat alone when slices are not contiguous (batch > 1)', () => {
    const b = mb();
    const x = b.input('x', 'float32', [2, 3, 4, 4]);
    const a = b.op('Relu', [x]);
    const c = b.op('Neg', [x]);
    b.output(b.op('Concat', [a, c], { axis: 1 }), 'y', 'float32', [2, 6, 4, 4]);
    const r = runPasses(b.bytes(), ['concat']);
    expect(r.after.nodes.find((n) => n.opType === 'Concat')!.attrs['twinfer_inplace']).toBeUndefined();
  });
});
