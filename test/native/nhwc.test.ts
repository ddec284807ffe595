/**
 * The packed float16 form on the emulated addon (test/native/emulator-nhwc.ts has the kernels):
 * a small ResNet-like fp16 network whose convolutions and pools run packed (NHWC halves, cuDNN's
 * layout), with the executor converting at every border: a kernel that takes plain tensors, an
 * output fetched from the middle of the packed stretch, a convolution with pads cuDNN cannot take.
 * References: the CPU backend at fp16, and the same session on the f32-storage form
 * (TWINFER_CUDA_NHWC=0).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { exportModel } from '../../src/onnx/export.js';
import { InferenceSession, Tensor } from '../../src/node.js';
import { compareTensors } from '../../src/testing/compare.js';
import { toHostTensor } from '../../src/api/tensor.js';
import type { HostTensor } from '../../src/ir/tensor.js';
import { randomTensor, seededRandom } from '../helpers/ort-single-op.js';
import { useEmulatedAddon } from './use-emulated-addon.js';

const emu = useEmulatedAddon();

function net(): Uint8Array {
  const g = new Graph();
  g.opsets = { '': 21 };
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 3, 16, 16] });
  const rand = seededRandom(61);
  const w = (name: string, dims: number[], scale: number) => {
    const t = randomTensor('float32', dims, rand);
    const d = t.data as Float32Array;
    for (let i = 0; i < d.length; i++) d[i]! *= scale;
    g.initializers.set(name, t);
  };
  w('w1', [8, 3, 3, 3], 0.5); w('b1', [8], 0.1);
  w('w2', [8, 8, 3, 3], 0.2); w('b2', [8], 0.1);
  w('w3', [8, 8, 3, 3], 0.2); w('b3', [8], 0.1);
  w('w4', [6, 8, 3, 3], 0.2); w('b4', [6], 0.1);
  w('fc', [4, 6], 0.5);
  const node = (name: string, opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}) =>
    g.nodes.push({ name, opType, domain: '', inputs, outputs, attrs });
  node('stem', 'Conv', ['x', 'w1', 'b1'], ['c1'], { pads: [1, 1, 1, 1], strides: [2, 2] });
  node('stem_relu', 'Relu', ['c1'], ['r1']);
  node('pool', 'MaxPool', ['r1'], ['p1'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  node('conv2', 'Conv', ['p1', 'w2', 'b2'], ['c2'], { pads: [1, 1, 1, 1] });
  // LeakyRelu is not cuDNN's fused call's: conv2 takes the two-pass path (conv, then the epilogue).
  node('relu2', 'LeakyRelu', ['c2'], ['r2'], { alpha: 0.1 });
  node('conv3', 'Conv', ['r2', 'w3', 'b3'], ['c3'], { pads: [1, 1, 1, 1] });
  node('res', 'Add', ['c3', 'p1'], ['s3']);
  node('relu3', 'Relu', ['s3'], ['block']);
  // SAME_UPPER at stride 2 on an even size pads only the end: not cuDNN's, so the f32-storage conv.
  node('down', 'Conv', ['block', 'w4', 'b4'], ['c4'], { auto_pad: 'SAME_UPPER', strides: [2, 2], kernel_shape: [3, 3] });
  node('avg', 'AveragePool', ['c4'], ['a4'], { kernel_shape: [2, 2], strides: [1, 1], pads: [0, 0, 1, 1] });
  node('gap', 'GlobalAveragePool', ['a4'], ['g4']);
  node('flat', 'Flatten', ['g4'], ['f4']);
  node('head', 'Gemm', ['f4', 'fc'], ['y'], { transB: 1 });
  g.outputs = [{ name: 'y' }, { name: 'block' }];
  return exportModel(g);
}

async function runAll(sess: InferenceSession, x: Tensor): Promise<Record<string, HostTensor>> {
  const r = await sess.run({ x });
  return { y: toHostTensor(r.y!), block: toHostTensor(r.block!) };
}

describe('the packed float16 form (NHWC halves, cuDNN layout)', () => {
  afterEach(() => { delete process.env['TWINFER_CUDA_NHWC']; });
  const model = net();
  const rand = seededRandom(62);
  const x = new Tensor('float32', randomTensor('float32', [2, 3, 16, 16], rand).data as Float32Array, [2, 3, 16, 16]);

  it('runs convolutions and pools packed, converts at the borders, and agrees with the CPU backend at fp16', async () => {
    // The default: packed at any batch (batch 2 here) wherever the addon has conv2dNhwcHalf (ops.ts).
    const sess = await InferenceSession.create(model, { backends: ['cuda'], precision: 'fp16', minSubgraphSize: 1, cudaTimingCache: 'off' });
    const cpu = await InferenceSession.create(model, { backends: ['cpu'], precision: 'fp16' });
    const ctx = emu.addon.contexts.at(-1)!;
    const before = ctx.launches.length;
    const got = await runAll(sess, x);
    const launched = ctx.launches.slice(before);
    const count = (k: string) => launched.filter((l) => l === k).length;
    // stem, conv2, conv3 (+ residual) packed; 'down' has end-only pads -> conv2d on a plain copy.
    expect(count('conv2dNhwcHalf')).toBe(3);
    expect(count('conv2d')).toBe(1);
    expect(count('poolNhwcHalf')).toBe(1);
    // Packed in this run: x alone (the weights' packed forms were made once, by the session's
    // first run, and kept); unpacked once: 'block' (fetched and read by 'down': one copy for both).
    expect(count('nchwToNhwcHalf')).toBe(1);
    expect(count('nhwcHalfToNchw')).toBe(1);
    const want = await runAll(cpu, x);
    // The packed conv rounds to float16 twice (cuDNN's store, then the epilogue), the CPU once, and
    // sums run in another order: values on a rounding boundary land a float16 step (2^-10
    // relative) apart, about two steps at most here (the same bound as the f32-storage fp16 tests).
    for (const k of ['y', 'block']) expect(compareTensors(got[k]!, want[k]!, 2e-3, 1e-3).reason, k).toBeUndefined();

    // Replays (record -> capture -> graph) give the first run's bits, without repacking the weights.
    const again1 = await runAll(sess, x);
    const again2 = await runAll(sess, x);
    for (const k of ['y', 'block']) {
      expect(Array.from(again1[k]!.data as Float32Array)).toEqual(Array.from(got[k]!.data as Float32Array));
      expect(Array.from(again2[k]!.data as Float32Array)).toEqual(Array.from(got[k]!.data as Float32Array));
    }
  });

  it('agrees with the f32-storage form (TWINFER_CUDA_NHWC=0), which launches no packed kernel', async () => {
    const packed = await InferenceSession.create(model, { backends: ['cuda'], precision: 'fp16', minSubgraphSize: 1, cudaTimingCache: 'off' });
    const a = await runAll(packed, x);
    process.env['TWINFER_CUDA_NHWC'] = '0';
    const plain = await InferenceSession.create(model, { backends: ['cuda'], precision: 'fp16', minSubgraphSize: 1, cudaTimingCache: 'off' });
    const ctx = emu.addon.contexts.at(-1)!;
    const before = ctx.launches.length;
    const b = await runAll(plain, x);
    expect(ctx.launches.slice(before).filter((l) => /Nhwc|nhwc/.test(l))).toEqual([]);
    for (const k of ['y', 'block']) expect(compareTensors(a[k]!, b[k]!, 2e-3, 1e-3).reason, k).toBeUndefined();
  });
});
