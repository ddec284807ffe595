/**
 * WebGPU conv / GEMM / pool kernels against the CPU backend on awkward shapes: sizes that are not
 * tile multiples, batch > 1 with broadcasting, odd channel counts, groups, asymmetric pads,
 * dilations, the fused epilogues. Runs on whatever WebGPU adapter is present (lavapipe on CI),
 * and skips when there is none.
 *
 * Tolerance rtol 1e-3 / atol 1e-4: both sides are f32, but the GPU sums in a different order
 * (K-blocked tiles, fma) than the CPU's blocked SIMD GEMM.
 */
import { describe, expect, it } from 'vitest';
import type { AttrValue } from '../../src/ir/graph.js';
import type { HostTensor } from '../../src/ir/tensor.js';
import { InferenceSession } from '../../src/node.js';
import { acquireGpu } from '../../backends/webgpu/device.js';
import { setWinogradPolicy } from '../../backends/webgpu/ops/convgemm-winograd.js';
import { fromHostTensor, toHostTensor } from '../../src/api/tensor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { randomTensor, seededRandom, singleOpModel } from '../helpers/ort-single-op.js';

const gpuAvailable = await acquireGpu().then(() => true, () => false);

interface Case {
  op: string;
  domain?: string;
  attrs?: Record<string, AttrValue>;
  /** Input dims (undefined: omitted optional input). */
  inputs: (number[] | undefined)[];
  outputs?: number;
  /** Inputs fed as initializers (weights), not graph inputs. */
  constInputs?: number[];
  /** Runs the WebGPU session this many times (cached state such as Winograd weights). */
  runs?: number;
}

let seed = 1;

/** Runs one node on WebGPU only (no fallback) and on the CPU; returns the CPU outputs too. */
async function check(c: Case): Promise<void> {
  const rand = seededRandom(seed++);
  const inputs: (HostTensor | undefined)[] = c.inputs.map((d) => (d ? randomTensor('float32', d, rand) : undefined));
  const model = singleOpModel({ opType: c.op, domain: c.domain ?? '', attrs: c.attrs ?? {}, inputs, outputs: c.outputs ?? 1, constInputs: c.constInputs ?? [] });
  const feeds = Object.fromEntries(inputs.flatMap((t, i) => (t && !c.constInputs?.includes(i) ? [[`in${i}`, fromHostTensor(t)]] : [])));
  const opts = { optimizationLevel: 0 as const };
  const gpu = await InferenceSession.create(model, { ...opts, backends: ['webgpu'] });
  const cpu = await InferenceSession.create(model, { ...opts, backends: ['cpu'] });
  const r = await cpu.run(feeds);
  for (let run = 0; run < (c.runs ?? 1); run++) {
    const a = await gpu.run(feeds);
    for (const k of Object.keys(r)) {
      const cmp = compareTensors(toHostTensor(a[k]!), toHostTensor(r[k]!), 1e-3, 1e-4);
      expect(cmp.reason, `${c.op} ${JSON.stringify(c.inputs)} ${k} (run ${run})`).toBeUndefined();
    }
  }
}

const fused = (op: string, attrs: Record<string, AttrValue>, inputs: (number[] | undefined)[]): Case => ({ op, domain: 'twinfer', attrs, inputs });

describe.skipIf(!gpuAvailable)('webgpu convgemm kernels match the CPU backend', () => {
  it('MatMul: batches, broadcasting, 1-D operands, edges of tiles', async () => {
    await check({ op: 'MatMul', inputs: [[3, 37, 29], [29, 45]] }); // batch folded into M, scalar loads
    await check({ op: 'MatMul', inputs: [[2, 1, 20, 12], [3, 12, 68]] }); // broadcast batch, vec4 loads
    await check({ op: 'MatMul', inputs: [[65, 64], [64, 130]] }); // several 64x64 tiles with edges
    await check({ op: 'MatMul', inputs: [[17], [2, 17, 5]] });
    await check({ op: 'MatMul', inputs: [[4, 9, 17], [17]] });
  });

  it('Gemm and FusedGemm: transposes, alpha/beta, broadcast C, epilogue', async () => {
    await check({ op: 'Gemm', attrs: { transA: 1, transB: 1, alpha: 0.7, beta: 1.3 }, inputs: [[19, 70], [33, 19], [33]] });
    await check({ op: 'Gemm', attrs: { transB: 1 }, inputs: [[5, 24], [40, 24], [5, 1]] });
    await check(fused('FusedGemm', { alpha: 0.5, activation: 'LeakyRelu', activation_params: [0.1] }, [[21, 13], [13, 9], [1, 9], [21, 9]]));
  });

  it('FusedMatMul: transA/transB, bias, activation, residual, post-activation', async () => {
    await check(fused('FusedMatMul', { transA: 1, transB: 1, activation: 'Gelu', activation_params: [0], post_activation: 'Relu' },
      [[2, 3, 11, 6], [2, 1, 7, 11], [7], [2, 3, 6, 7]]));
    await check(fused('FusedMatMul', { activation: 'Silu' }, [[5, 8], [8, 12], [12]]));
    await check(fused('FusedMatMul', { transB: 1, activation: 'Clip', activation_params: [-0.2, 0.3] }, [[2, 4, 12], [20, 12], [20]]));
  });

  it('Conv: implicit GEMM with groups, strides, dilations, asymmetric pads, auto_pad, 1-D and 3-D', async () => {
    await check({ op: 'Conv', attrs: { pads: [1, 0, 2, 1], strides: [2, 1], dilations: [1, 2] }, inputs: [[2, 5, 13, 11], [7, 5, 3, 3], [7]] });
    await check({ op: 'Conv', attrs: { group: 3, pads: [1, 1, 1, 1] }, inputs: [[1, 6, 9, 9], [9, 2, 3, 3], undefined] });
    await check({ op: 'Conv', attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] }, inputs: [[1, 16, 12, 11], [70, 16, 3, 3], [70]] });
    await check({ op: 'Conv', attrs: { pads: [2, 1], strides: [3] }, inputs: [[2, 3, 17], [4, 3, 5], [4]] });
    await check({ op: 'Conv', attrs: { pads: [0, 1, 0, 1, 0, 1] }, inputs: [[1, 2, 4, 5, 6], [3, 2, 2, 3, 2], [3]] });
  });

  it('split-K (small output grids, deep K): MatMul, Gemm with C, Conv with groups, fused epilogues', async () => {
    await check({ op: 'MatMul', inputs: [[3, 400], [400, 20]] });
    await check({ op: 'Gemm', attrs: { transB: 1, alpha: 0.5, beta: 2 }, inputs: [[2, 700], [9, 700], [2, 9]] });
    await check(fused('FusedMatMul', { transA: 1, activation: 'Tanh' }, [[517, 5], [517, 13], [13], [5, 13]]));
    await check({ op: 'Conv', attrs: { group: 2, pads: [1, 1, 1, 1] }, inputs: [[2, 96, 5, 5], [8, 48, 3, 3], [8]] });
    await check(fused('FusedConv', { activation: 'Elu', activation_params: [0.7], post_activation: 'Relu' }, [[1, 48, 4, 6], [7, 48, 3, 3], [7], [1, 7, 2, 4]]));
  });

  it('Conv: depthwise (with a channel multiplier) and pointwise paths', async () => {
    await check({ op: 'Conv', attrs: { group: 8, strides: [2, 2], pads: [1, 1, 1, 1] }, inputs: [[2, 8, 10, 7], [8, 1, 3, 3], [8]] });
    await check({ op: 'Conv', attrs: { group: 3, dilations: [2, 1], pads: [2, 0, 1, 1] }, inputs: [[1, 3, 9, 8], [6, 1, 3, 3], undefined] });
    await check({ op: 'Conv', attrs: { group: 2 }, inputs: [[2, 12, 5, 7], [20, 6, 1, 1], [20]] });
    await check({ op: 'Conv', inputs: [[1, 8, 4, 4], [5, 8, 1, 1], undefined] });
  });

  it('FusedConv: bias, activation, residual and post-activation in the store', async () => {
    await check(fused('FusedConv', { pads: [1, 1, 1, 1], activation: 'HardSwish', post_activation: 'Affine', post_activation_params: [0.5, -0.25] },
      [[1, 6, 7, 9], [10, 6, 3, 3], [10], [1, 10, 7, 9]]));
    await check(fused('FusedConv', { group: 4, pads: [1, 1, 1, 1], activation: 'Sigmoid' }, [[1, 4, 6, 5], [4, 1, 3, 3], [4]]));
    await check(fused('FusedConv', { activation: 'Tanh', post_activation: 'HardSigmoid', post_activation_params: [0.2, 0.5] }, [[2, 4, 3, 5], [6, 4, 1, 1], [6], [2, 6, 3, 5]]));
  });

  it('Winograd F(2x2,3x3) (forced): pads, groups, odd sizes, batch, fused epilogue, cached weights', async () => {
    setWinogradPolicy('force');
    try {
      await check({ op: 'Conv', attrs: { pads: [1, 1, 1, 1] }, inputs: [[2, 5, 7, 9], [6, 5, 3, 3], [6]] });
      await check({ op: 'Conv', attrs: { group: 2, pads: [0, 2, 1, 0] }, inputs: [[1, 6, 8, 5], [4, 3, 3, 3], undefined] });
      await check({ op: 'Conv', inputs: [[1, 3, 6, 6], [2, 3, 3, 3], [2]], constInputs: [1], runs: 2 });
      await check(fused('FusedConv', { auto_pad: 'SAME_UPPER', activation: 'LeakyRelu', activation_params: [0.2], post_activation: 'Sigmoid' },
        [[1, 4, 5, 11], [3, 4, 3, 3], [3], [1, 3, 5, 11]]));
    } finally {
      setWinogradPolicy('auto');
    }
  });

  it('ConvTranspose: groups, strides, pads, dilations, output_padding; fused', async () => {
    await check({ op: 'ConvTranspose', attrs: { group: 2, strides: [2, 3], pads: [1, 0, 0, 1], output_padding: [1, 1], dilations: [1, 2] }, inputs: [[2, 4, 5, 6], [4, 3, 3, 3], [6]] });
    await check({ op: 'ConvTranspose', attrs: { strides: [2], output_shape: [12] }, inputs: [[1, 3, 5], [3, 2, 3], undefined] });
    await check(fused('FusedConvTranspose', { strides: [2, 2], activation: 'Relu' }, [[1, 3, 4, 4], [3, 5, 2, 2], [5], [1, 5, 8, 8]]));
  });

  it('pools: MaxPool with indices, AveragePool, global pools', async () => {
    await check({ op: 'MaxPool', attrs: { kernel_shape: [3, 2], pads: [1, 0, 1, 1], strides: [2, 2], dilations: [1, 2], ceil_mode: 1 }, inputs: [[2, 3, 9, 10]], outputs: 2 });
    await check({ op: 'MaxPool', attrs: { kernel_shape: [2, 3], storage_order: 1 }, inputs: [[1, 2, 5, 7]], outputs: 2 });
    await check({ op: 'AveragePool', attrs: { kernel_shape: [3, 3], pads: [1, 1, 2, 0], strides: [2, 2], ceil_mode: 1, count_include_pad: 1 }, inputs: [[2, 3, 8, 9]] });
    await check({ op: 'AveragePool', attrs: { kernel_shape: [2, 3], auto_pad: 'SAME_LOWER' }, inputs: [[1, 2, 7, 5]] });
    await check({ op: 'GlobalAveragePool', inputs: [[3, 5, 7, 9]] });
    await check({ op: 'GlobalMaxPool', inputs: [[2, 3, 200]] });
  });
});
