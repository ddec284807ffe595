/**
 * Each folding / clean-up / pattern pass on a small graph: the rewrite happens (op lists before and
 * after) and outputs agree with the unoptimized graph (rtol 1e-4, see helpers/pass-check.ts).
 */
import { describe, expect, it } from 'vitest';
import { ModelBuilder, batchNormParams } from '../../bench/models/builder.js';
import { expectSameOutputs, ops, runPasses } from '../helpers/pass-check.js';

const mb = () => new ModelBuilder('t', 11);

describe('constant folding and clean-up', () => {
  it('folds Shape arithmetic of a static shape and all-constant nodes', () => {
    const b = mb();
    const x = b.input('x', 'float32', [2, 3, 4]);
    const shape = b.op('Shape', [x]);
    const first = b.op('Gather', [shape, b.ints('idx0', [0])], { axis: 0 });
    const target = b.op('Concat', [first, b.ints('minus1', [-1])], { axis: 0 });
    const c = b.op('Add', [b.uniform('c1', [12], -1, 1), b.uniform('c2', [12], -1, 1)]);
    const y = b.op('Add', [b.op('Reshape', [x, target]), c]);
    b.output(y, 'y', 'float32', [2, 12]);
    const r = runPasses(b.bytes(), ['cleanup']);
    expect(ops(r.after)).toEqual(['Reshape', 'Add']);
    expect(r.report.passes['constant-folding']).toBe(4);
    expectSameOutputs(r);
  });

  it('removes Identity, inference Dropout, no-op Reshape/Cast/Transpose and dead nodes', () => {
    const b = mb();
    const x = b.input('x', 'float32', [2, 3]);
    let v = b.op('Identity', [x]);
    v = b.op('Dropout', [v]);
    v = b.op('Reshape', [v, b.ints('same', [2, 3])]);
    v = b.op('Cast', [v], { to: 1 });
    v = b.op('Transpose', [v], { perm: [0, 1] });
    b.op('Exp', [x]); // dead
    b.output(b.op('Relu', [v]), 'y', 'float32', [2, 3]);
    const r = runPasses(b.bytes(), ['cleanup']);
    expect(ops(r.after)).toEqual(['Relu']);
    expect(r.report.passes['remove-noops']).toBe(5);
    expect(r.report.passes['dead-code']).toBe(1);
    expectSameOutputs(r);
  });

  it('keeps a no-op whose output is a graph output (the name must survive)', () => {
    const b = mb();
    const x = b.input('x', 'float32', [2]);
    b.output(b.op('Identity', [b.op('Neg', [x])]), 'y', 'float32', [2]);
    const r = runPasses(b.bytes(), ['cleanup']);
    expect(ops(r.after)).toEqual(['Neg', 'Identity']);
  });
});

describe('affine folding', () => {
  it('folds BatchNormalization into Conv (with and without bias) and ConvTranspose (groups)', () => {
    const b = mb();
    const x = b.input('x', 'float32', [1, 4, 6, 6]);
    const c1 = b.op('Conv', [x, b.heWeight('w1', [6, 4, 3, 3], 36)], { pads: [1, 1, 1, 1] });
    const bn1 = b.op('BatchNormalization', [c1, ...batchNormParams(b, 'bn1', 6)], { epsilon: 1e-5 });
    const c2 = b.op('Conv', [bn1, b.heWeight('w2', [6, 3, 1, 1], 3), b.uniform('b2', [6], -1, 1)], { group: 2 });
    const bn2 = b.op('BatchNormalization', [c2, ...batchNormParams(b, 'bn2', 6)], { epsilon: 1e-3 });
    const t = b.op('ConvTranspose', [bn2, b.heWeight('wt', [6, 2, 2, 2], 12)], { group: 2, strides: [2, 2] });
    const bn3 = b.op('BatchNormalization', [t, ...batchNormParams(b, 'bn3', 4)]);
    b.output(bn3, 'y', 'float32', [1, 4, 12, 12]);
    const r = runPasses(b.bytes(), ['fold-affine']);
    expect(ops(r.after)).toEqual(['Conv', 'Conv', 'ConvTranspose']);
    expect(r.report.passes['conv-bn-fold']).toBe(3);
    expectSameOutputs(r);
  });

  it('folds the decomposed form Mul(scale) + Add(bias) on a conv output', () => {
    const b = mb();
    const x = b.input('x', 'float32', [1, 3, 5, 5]);
    const c = b.op('Conv', [x, b.heWeight('w', [4, 3, 3, 3], 27)]);
    const m = b.op('Mul', [c, b.uniform('s', [4, 1, 1], 0.5, 1.5)]);
    b.output(b.op('Add', [b.uniform('t', [1, 4, 1, 1], -1, 1), m]), 'y', 'float32', [1, 4, 3, 3]);
    const r = runPasses(b.bytes(), ['fold-affine']);
    expect(ops(r.after)).toEqual(['Conv']);
    expectSameOutputs(r);
  });

  it('folds BatchNormalization after Gemm and after a rank-2 MatMul', () => {
    const b = mb();
    const x = b.input('x', 'float32', [3, 8]);
    const g = b.op('Gemm', [x, b.heWeight('wg', [5, 8], 8), b.uniform('cg', [5], -1, 1)], { transB: 1, alpha: 0.5, beta: 2 }, undefined, { alpha: 'float', beta: 'float' });
    const bn = b.op('BatchNormalization', [g, ...batchNormParams(b, 'bng', 5)]);
    const m = b.op('MatMul', [bn, b.heWeight('wm', [5, 6], 5)]);
    b.output(b.op('BatchNormalization', [m, ...batchNormParams(b, 'bnm', 6)]), 'y', 'float32', [3, 6]);
    const r = runPasses(b.bytes(), ['fold-affine']);
    expect(ops(r.after)).toEqual(['Gemm', 'MatMul', 'Add']);
    expect(r.report.passes['gemm-bn-fold']).toBe(2);
    expectSameOutputs(r);
  });
});

describe('pattern recognition', () => {
  function decomposedLayerNorm(b: ModelBuilder, x: string, width: number, square: 'pow' | 'mul', affine: boolean): string {
    const mean = b.op('ReduceMean', [x], { axes: [-1] });
    const d = b.op('Sub', [x, mean]);
    const sq = square === 'pow' ? b.op('Pow', [d, b.scalar(2)]) : b.op('Mul', [d, d]);
    const v = b.op('ReduceMean', [sq], { axes: [-1] });
    const s = b.op('Sqrt', [b.op('Add', [v, b.scalar(1e-12)])]);
    let y = b.op('Div', [d, s]);
    if (affine) y = b.op('Add', [b.op('Mul', [y, b.uniform(`g${width}`, [width], 0.5, 1.5)]), b.uniform(`b${width}`, [width], -1, 1)]);
    return y;
  }

  it('recognizes decomposed LayerNormalization (Pow and Mul forms, with and without affine)', () => {
    const b = mb();
    const x = b.input('x', 'float32', [2, 5, 8]);
    const y1 = decomposedLayerNorm(b, x, 8, 'pow', true);
    const y2 = decomposedLayerNorm(b, b.op('Relu', [y1]), 8, 'mul', false);
    b.output(y2, 'y', 'float32', [2, 5, 8]);
    const r = runPasses(b.bytes(), ['patterns']);
    expect(ops(r.after)).toEqual(['LayerNormalization', 'Relu', 'LayerNormalization']);
    expect(r.report.passes['layernorm']).toBe(2);
    expectSameOutputs(r);
  });

  it('recognizes erf and tanh GELU in their exporter forms', () => {
    const b = mb();
    const x = b.input('x', 'float32', [4, 6]);
    // erf form: x * 0.5 * (1 + erf(x / sqrt2)), with the 0.5 applied last
    const e = b.op('Mul', [b.op('Mul', [x, b.op('Add', [b.op('Erf', [b.op('Div', [x, b.scalar(1.4142135381698608)])]), b.scalar(1)])]), b.scalar(0.5)]);
    // tanh form: (0.5 * h) * (1 + tanh(0.79788456 * (h + 0.044715 * h^3)))
    const h = b.op('Relu', [e]);
    const inner = b.op('Add', [h, b.op('Mul', [b.op('Pow', [h, b.scalar(3)]), b.scalar(0.044715)])]);
    const t = b.op('Add', [b.op('Tanh', [b.op('Mul', [inner, b.scalar(0.7978845608)])]), b.scalar(1)]);
    b.output(b.op('Mul', [b.op('Mul', [h, b.scalar(0.5)]), t]), 'y', 'float32', [4, 6]);
    const r = runPasses(b.bytes(), ['patterns']);
    expect(ops(r.after)).toEqual(['Gelu', 'Relu', 'Gelu']);
    expect(r.after.nodes[2]!.attrs['approximate']).toBe('tanh');
    expectSameOutputs(r);
  });

  it('recognizes HardSwish as x * Clip(x + 3, 0, 6) / 6 (both associations)', () => {
    const b = mb();
    const x = b.input('x', 'float32', [2, 8]);
    const h1 = b.op('Div', [b.op('Mul', [x, b.op('Clip', [b.op('Add', [x, b.scalar(3)]), b.scalar(0), b.scalar(6)])]), b.scalar(6)]);
    const r1 = b.op('Neg', [h1]);
    const h2 = b.op('Mul', [b.op('Mul', [b.op('Clip', [b.op('Add', [b.scalar(3), r1]), b.scalar(0), b.scalar(6)]), b.scalar(1 / 6)]), r1]);
    b.output(h2, 'y', 'float32', [2, 8]);
    const r = runPasses(b.bytes(), ['patterns']);
    expect(ops(r.after)).toEqual(['HardSwish', 'Neg', 'HardSwish']);
    expectSameOutputs(r);
  });

  it('folds Transpose chains and merges constant Mul/Add chains', () => {
    const b = mb();
    const x = b.input('x', 'float32', [2, 3, 4]);
    const t = b.op('Transpose', [b.op('Transpose', [x], { perm: [1, 2, 0] })], { perm: [2, 0, 1] }); // identity
    const u = b.op('Transpose', [b.op('Transpose', [t], { perm: [0, 2, 1] })], { perm: [1, 0, 2] });
    const m = b.op('Mul', [b.op('Mul', [u, b.uniform('m1', [3], 0.5, 2)]), b.scalar(3)]);
    b.output(b.op('Add', [b.uniform('a2', [4, 2, 1], -1, 1), b.op('Add', [m, b.uniform('a1', [3], -1, 1)])]), 'y', 'float32', [4, 2, 3]);
    const r = runPasses(b.bytes(), ['patterns']);
    expect(ops(r.after)).toEqual(['Transpose', 'Mul', 'Add']);
    expect(r.report.passes['transpose-chain']).toBe(2);
    expect(r.report.passes['const-chain']).toBe(2);
    expectSameOutputs(r);
  });
});

