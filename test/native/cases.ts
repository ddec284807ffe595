/**
 * Test helper: single-op cases for the CUDA backend's kernels and the check that runs one on
 * backends ['cuda'] alone (no fallback: a node the backend refuses is an error) and compares it
 * with the CPU backend. Used by kernels.test.ts (the real addon, on a GPU) and lowering.test.ts
 * (the emulated addon, everywhere).
 *
 * Shapes are chosen to be awkward: not multiples of the 64x64x16 GEMM tile, broadcast on both
 * sides, 1-D MatMul operands, batches folded into M or not, groups, depthwise, asymmetric pads,
 * strides with dilations, 1-D convs, every fused activation.
 */
import { expect } from 'vitest';
import { Graph, type AttrValue } from '../../src/ir/graph.js';
import { exportModel } from '../../src/onnx/export.js';
import type { HostTensor } from '../../src/ir/tensor.js';
import { InferenceSession } from '../../src/node.js';
import { fromHostTensor, toHostTensor } from '../../src/api/tensor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { randomTensor, seededRandom, singleOpModel } from '../helpers/ort-single-op.js';

export interface Case {
  op: string;
  domain?: string;
  attrs?: Record<string, AttrValue>;
  /** Input dims (undefined: omitted optional input). */
  inputs: (number[] | undefined)[];
  /** Value range per input (default [-1, 1]). */
  ranges?: ([number, number] | undefined)[];
  /** Inputs fed as initializers (weights), not graph inputs. */
  constInputs?: number[];
}

const u = (op: string, attrs: Record<string, AttrValue> = {}, range?: [number, number]): Case => ({ op, attrs, inputs: [[2, 3, 17]], ranges: [range] });
const fused = (op: string, attrs: Record<string, AttrValue>, inputs: (number[] | undefined)[], constInputs: number[] = [1]): Case => ({ op, domain: 'twinfer', attrs, inputs, constInputs });

export const UNARY_CASES: Case[] = [
  u('Relu'), u('Sigmoid', {}, [-8, 8]), u('Tanh', {}, [-4, 4]), u('HardSwish', {}, [-5, 5]), u('Abs'), u('Neg'), u('Exp', {}, [-3, 3]),
  u('Log', {}, [0.05, 4]), u('Sqrt', {}, [0, 4]), u('Reciprocal', {}, [0.2, 3]), u('Floor', {}, [-3, 3]), u('Ceil', {}, [-3, 3]),
  u('Round', {}, [-3, 3]), u('Sign'), u('Sin', {}, [-4, 4]), u('Cos', {}, [-4, 4]), u('Tan'), u('Asin'), u('Acos'), u('Atan', {}, [-3, 3]),
  u('Sinh', {}, [-2, 2]), u('Cosh', {}, [-2, 2]), u('Asinh', {}, [-3, 3]), u('Acosh', {}, [1.01, 4]), u('Atanh', {}, [-0.9, 0.9]),
  u('Erf', {}, [-2.5, 2.5]), u('Softplus', {}, [-6, 6]), u('Softsign', {}, [-3, 3]), u('Mish', {}, [-4, 4]), u('Identity'),
  u('LeakyRelu', { alpha: 0.2 }), u('Elu', { alpha: 0.7 }, [-3, 3]), u('Celu', { alpha: 1.5 }, [-3, 3]), u('ThresholdedRelu', { alpha: 0.3 }),
  u('Selu', {}, [-3, 3]), u('HardSigmoid', { alpha: 0.3, beta: 0.4 }, [-4, 4]),
  u('Gelu', {}, [-3, 3]), u('Gelu', { approximate: 'tanh' }, [-3, 3]),
  { op: 'Clip', inputs: [[4, 33], [], []], ranges: [[-2, 2], [-0.5, -0.5], [0.7, 0.7]], constInputs: [1, 2] },
  { op: 'Clip', inputs: [[4, 33], []], ranges: [[-2, 2], [0.25, 0.25]], constInputs: [1] },
  { op: 'Clip', inputs: [[4, 33]] },
];

export const BINARY_CASES: Case[] = [
  { op: 'Add', inputs: [[2, 3, 4, 5], [2, 3, 4, 5]] },
  { op: 'Add', inputs: [[2, 3, 4, 5], [5]] },
  { op: 'Mul', inputs: [[2, 1, 4, 1], [3, 1, 5]] },
  { op: 'Sub', inputs: [[], [3, 4]] },
  { op: 'Div', inputs: [[4, 1], [1, 6]], ranges: [undefined, [0.5, 2]] },
  { op: 'Pow', inputs: [[3, 4], [4]], ranges: [[0.1, 2], [-2, 2]] },
  { op: 'Max', inputs: [[3, 4], [4]] },
  { op: 'Min', inputs: [[1, 4], [3, 1]] },
  { op: 'PRelu', inputs: [[2, 3, 4, 4], [3, 1, 1]] },
  { op: 'Add', inputs: [[2, 1, 2, 1, 2, 1, 3], [1, 2, 1, 2, 1, 2, 1]] },
  { op: 'Mul', inputs: [[2, 16, 9, 9], [1, 16, 1, 1]], constInputs: [1] },
];

export const GEMM_CASES: Case[] = [
  { op: 'Gemm', inputs: [[37, 29], [29, 45], [45]], constInputs: [1, 2] },
  { op: 'Gemm', attrs: { transA: 1, transB: 1, alpha: 0.5, beta: 2 }, inputs: [[29, 37], [45, 29], [37, 45]] },
  { op: 'Gemm', attrs: { transB: 1 }, inputs: [[37, 29], [45, 29], [37, 1]] },
  { op: 'Gemm', attrs: { transA: 1 }, inputs: [[29, 37], [29, 45], []] },
  { op: 'Gemm', inputs: [[5, 300], [300, 7]] },
  { op: 'MatMul', inputs: [[3, 37, 29], [29, 45]], constInputs: [1] },
  { op: 'MatMul', inputs: [[2, 1, 5, 7], [3, 7, 4]] },
  { op: 'MatMul', inputs: [[7], [2, 7, 3]] },
  { op: 'MatMul', inputs: [[2, 5, 7], [7]] },
  { op: 'MatMul', inputs: [[65, 70], [70, 130]] },
  { op: 'MatMul', inputs: [[2, 3, 2, 9, 8], [3, 1, 8, 10]] },
  fused('FusedMatMul', { transA: 1, transB: 1, activation: 'Relu' }, [[2, 12, 19], [20, 12], [20], [2, 19, 20]]),
  fused('FusedMatMul', { activation: 'Gelu', activation_params: [1], post_activation: 'Tanh' }, [[3, 8, 16], [16, 24], [24]]),
  fused('FusedGemm', { alpha: 0.5, activation: 'LeakyRelu', activation_params: [0.1] }, [[21, 13], [13, 9], [1, 9], [21, 9]]),
  fused('FusedGemm', { transB: 1, activation: 'HardSigmoid', activation_params: [0.2, 0.5], post_activation: 'Affine', post_activation_params: [2, -1] }, [[21, 13], [9, 13], [9]]),
];

export const CONV_CASES: Case[] = [
  { op: 'Conv', attrs: { pads: [1, 1, 1, 1] }, inputs: [[1, 3, 11, 13], [8, 3, 3, 3]], constInputs: [1] },
  { op: 'Conv', attrs: { strides: [2, 2], dilations: [2, 1], pads: [0, 1, 2, 1] }, inputs: [[2, 5, 17, 15], [7, 5, 3, 3], [7]], constInputs: [1, 2] },
  { op: 'Conv', attrs: { group: 2, pads: [1, 0, 1, 0] }, inputs: [[2, 4, 9, 9], [6, 2, 3, 3], [6]], constInputs: [1, 2] },
  { op: 'Conv', attrs: { group: 8, pads: [1, 1, 1, 1], strides: [2, 2] }, inputs: [[1, 8, 10, 10], [8, 1, 3, 3]], constInputs: [1] },
  { op: 'Conv', attrs: { strides: [2], pads: [1, 2] }, inputs: [[2, 3, 20], [5, 3, 4], [5]], constInputs: [1, 2] },
  { op: 'Conv', attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] }, inputs: [[1, 3, 10, 9], [4, 3, 4, 3]], constInputs: [1] },
  { op: 'Conv', inputs: [[2, 70, 7, 7], [66, 70, 1, 1], [66]], constInputs: [1, 2] },
  fused('FusedConv', { pads: [1, 1, 1, 1], activation: 'Relu', post_activation: 'Clip', post_activation_params: [0, 6] }, [[1, 6, 8, 8], [10, 6, 3, 3], [10], [1, 10, 8, 8]], [1, 2]),
  fused('FusedConv', { activation: 'Gelu', activation_params: [0] }, [[1, 4, 6, 6], [5, 4, 3, 3], [5]], [1, 2]),
  fused('FusedConv', { activation: 'Silu', group: 3 }, [[1, 6, 7, 7], [6, 2, 3, 3]], [1]),
  fused('FusedConv', { activation: 'HardSwish', strides: [2, 2], pads: [1, 1, 1, 1] }, [[1, 3, 9, 9], [4, 3, 3, 3], [4]], [1, 2]),
  fused('FusedConv', { activation: 'Elu', activation_params: [0.5], post_activation: 'Sigmoid' }, [[1, 48, 4, 6], [7, 48, 3, 3], [7], [1, 7, 2, 4]], [1, 2]),
  // Deep K over a one-tile grid: split-K (partials summed with atomics, then the epilogue).
  fused('FusedConv', { pads: [1, 1, 1, 1], activation: 'Relu' }, [[1, 300, 7, 7], [20, 300, 3, 3], [20], [1, 20, 7, 7]], [1, 2]),
  { op: 'ConvTranspose', attrs: { strides: [2, 2], pads: [1, 1, 1, 1] }, inputs: [[1, 4, 5, 5], [4, 3, 4, 4], [3]], constInputs: [1, 2] },
  fused('FusedConvTranspose', { strides: [2, 2], activation: 'Relu', post_activation: 'Sigmoid' }, [[1, 4, 5, 5], [4, 6, 2, 2], [6], [1, 6, 10, 10]], [1, 2]),
];

export const ALL_CASES = [...UNARY_CASES, ...BINARY_CASES, ...GEMM_CASES, ...CONV_CASES];

export function label(c: Case): string {
  return `${c.domain ? `${c.domain}.` : ''}${c.op} ${JSON.stringify(c.inputs)}${c.attrs && Object.keys(c.attrs).length ? ` ${JSON.stringify(c.attrs)}` : ''}`;
}

const FLOAT_LISTS = { activation_params: 'floats', post_activation_params: 'floats' } as const;

/**
 * Runs the case on backends ['cuda'] only (every node must run there) and on the CPU; compares
 * within rtol 1e-3 / atol 1e-4 (f32 on both sides, different summation order). Returns the CUDA
 * session's plan summary.
 */
export async function checkOnCuda(c: Case, seed: number): Promise<string> {
  const rand = seededRandom(seed);
  const inputs: (HostTensor | undefined)[] = c.inputs.map((d, i) => (d ? randomTensor('float32', d, rand, ...(c.ranges?.[i] ?? [-1, 1])) : undefined));
  const model = singleOpModel({ opType: c.op, domain: c.domain ?? '', attrs: c.attrs ?? {}, attrTypes: FLOAT_LISTS, inputs, constInputs: c.constInputs ?? [] });
  const feeds = Object.fromEntries(inputs.flatMap((t, i) => (t && !c.constInputs?.includes(i) ? [[`in${i}`, fromHostTensor(t)]] : [])));
  const opts = { optimizationLevel: 0 as const, minSubgraphSize: 1 };
  const cuda = await InferenceSession.create(model, { ...opts, backends: ['cuda'] });
  expect(cuda.plan.backends, label(c)).toEqual(['cuda']);
  const cpu = await InferenceSession.create(model, { ...opts, backends: ['cpu'] });
  const want = await cpu.run(feeds);
  // Twice: the second run reuses pooled buffers and the weights uploaded by the first.
  for (let run = 0; run < 2; run++) {
    const got = await cuda.run(feeds);
    for (const k of Object.keys(want)) {
      const cmp = compareTensors(toHostTensor(got[k]!), toHostTensor(want[k]!), 1e-3, 1e-4);
      expect(cmp.reason, `${label(c)} ${k} (run ${run})`).toBeUndefined();
    }
  }
  return cuda.plan.summary;
}

/** x -> Conv(+bias) -> Relu -> MeanVarianceNormalization (no CUDA kernel) -> MatMul(W) -> Add(x2) -> out, plus a second output. */
export function chainModel(): Uint8Array {
  const rand = seededRandom(7);
  const g = new Graph();
  g.opsets = { '': 21 };
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['n', 3, 8, 8] }, { name: 'x2', dtype: 'float32', shape: [6] });
  g.initializers.set('w', randomTensor('float32', [4, 3, 3, 3], rand));
  g.initializers.set('b', randomTensor('float32', [4], rand));
  g.initializers.set('m', randomTensor('float32', [8, 6], rand));
  const node = (opType: string, inputs: string[], outputs: string[], attrs = {}) => g.nodes.push({ name: `${opType}_${g.nodes.length}`, opType, domain: '', inputs, outputs, attrs });
  node('Conv', ['x', 'w', 'b'], ['c'], { pads: [1, 1, 1, 1] });
  node('Relu', ['c'], ['r']);
  node('MeanVarianceNormalization', ['r'], ['s']);
  node('MatMul', ['s', 'm'], ['mm']);
  node('Add', ['mm', 'x2'], ['y']);
  g.outputs = [{ name: 'y' }, { name: 'r' }];
  return exportModel(g);
}
