/**
 * The CUDA backend's TypeScript side end to end on the emulated addon (test/native/emulator.ts:
 * the kernels' launch ABI in plain loops): support, lowering to parameter lists, the executor's
 * crossings between cuda and cpu nodes, weights uploaded once, pooled buffers. Runs everywhere;
 * kernels.test.ts runs the same cases on the real addon where a GPU is present.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { exportModel } from '../../src/onnx/export.js';
import { InferenceSession, Tensor } from '../../src/node.js';
import { acquireCuda } from '../../backends/native/device.js';
import { NativeExecutor } from '../../backends/native/executor.js';
import { acquireGpu } from '../../backends/webgpu/device.js';
import { compareTensors } from '../../src/testing/compare.js';
import { toHostTensor } from '../../src/api/tensor.js';
import { randomTensor, seededRandom } from '../helpers/ort-single-op.js';
import { ALL_CASES, chainModel, checkOnCuda, label } from './cases.js';
import { useEmulatedAddon } from './use-emulated-addon.js';

const emu = useEmulatedAddon();

describe('CUDA lowering on the emulated addon matches the CPU backend', () => {
  ALL_CASES.forEach((c, i) => {
    it(label(c), async () => { await checkOnCuda(c, 100 + i); });
  });
});

describe('the CUDA executor', () => {
  it('runs cuda and cpu nodes together, uploading weights once and reusing buffers', async () => {
    const model = chainModel();
    const logs: string[] = [];
    const sess = await InferenceSession.create(model, { backends: ['cuda', 'cpu'], minSubgraphSize: 1, optimizationLevel: 0, log: (m) => logs.push(m) });
    const cpu = await InferenceSession.create(model, { backends: ['cpu'], optimizationLevel: 0 });
    expect(sess.plan.backends).toEqual(['cuda', 'cpu']);
    const where = sess.graph.nodes.map((n) => `${n.opType}:${sess.plan.partition.assignment.get(n)}`);
    expect(where).toEqual(['Conv:cuda', 'Relu:cuda', 'MeanVarianceNormalization:cpu', 'MatMul:cuda', 'Add:cuda']);
    expect(logs.join('\n')).toMatch(/MeanVarianceNormalization x1 \(no CUDA kernel for MeanVarianceNormalization\)/);
    const ctx = emu.addon.contexts.at(-1)!;
    const rand = seededRandom(3);
    let buffersAfterFirst = 0;
    for (const n of [2, 2, 1]) {
      const feeds = { x: new Tensor('float32', randomTensor('float32', [n, 3, 8, 8], rand).data as Float32Array, [n, 3, 8, 8]), x2: new Tensor('float32', randomTensor('float32', [6], rand).data as Float32Array, [6]) };
      const before = ctx.launches.length;
      const got = await sess.run(feeds);
      const want = await cpu.run(feeds);
      for (const k of ['y', 'r']) {
        const cmp = compareTensors(toHostTensor(got[k]!), toHostTensor(want[k]!), 1e-3, 1e-4);
        expect(cmp.reason, k).toBeUndefined();
      }
      expect(ctx.launches.slice(before)).toEqual(['conv2d', 'unary/Relu', 'gemm', 'binary/Add']);
      if (!buffersAfterFirst) buffersAfterFirst = ctx.liveBuffers;
      else if (n === 2) expect(ctx.liveBuffers, 'a second run of the same shapes allocates nothing').toBe(buffersAfterFirst);
    }
  });

  it('keeps the optimizer\'s fused ops on the device', async () => {
    const rand = seededRandom(11);
    const g = new Graph();
    g.opsets = { '': 21 };
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, 4, 6, 6] });
    g.initializers.set('w', randomTensor('float32', [4, 4, 3, 3], rand));
    g.initializers.set('b', randomTensor('float32', [4], rand));
    g.nodes.push({ name: 'conv', opType: 'Conv', domain: '', inputs: ['x', 'w', 'b'], outputs: ['c'], attrs: { pads: [1, 1, 1, 1] } });
    g.nodes.push({ name: 'relu', opType: 'Relu', domain: '', inputs: ['c'], outputs: ['r'], attrs: {} });
    g.nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: ['r', 'x'], outputs: ['y'], attrs: {} });
    g.outputs = [{ name: 'y' }];
    const model = exportModel(g);
    const sess = await InferenceSession.create(model, { backends: ['cuda'], minSubgraphSize: 1 });
    expect(sess.graph.nodes.map((n) => n.opType)).toEqual(['FusedConv']);
    const cpu = await InferenceSession.create(model, { backends: ['cpu'] });
    const x = new Tensor('float32', randomTensor('float32', [1, 4, 6, 6], rand).data as Float32Array, [1, 4, 6, 6]);
    const cmp = compareTensors(toHostTensor((await sess.run({ x })).y!), toHostTensor((await cpu.run({ x })).y!), 1e-3, 1e-4);
    expect(cmp.reason).toBeUndefined();
  });

  it('runs integer nodes on the device and leaves types without a device form to the CPU with the reason', async () => {
    const g = new Graph();
    g.opsets = { '': 21 };
    g.inputs.push({ name: 'a', dtype: 'int32', shape: [4] }, { name: 'b', dtype: 'int32', shape: [4] });
    g.nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: ['a', 'b'], outputs: ['y'], attrs: {} });
    g.nodes.push({ name: 'cast', opType: 'Cast', domain: '', inputs: ['y'], outputs: ['e'], attrs: { to: 24 } });
    g.outputs = [{ name: 'y' }, { name: 'e' }];
    const logs: string[] = [];
    const sess = await InferenceSession.create(exportModel(g), { backends: ['cuda', 'cpu'], minSubgraphSize: 1, log: (m) => logs.push(m) });
    expect(sess.graph.nodes.map((n) => sess.plan.partition.assignment.get(n))).toEqual(['cuda', 'cpu']);
    expect(logs.join('\n')).toMatch(/Cast x1 \(output type float8e8m0 has no CUDA device form\)/);
    const y = await sess.run({ a: new Tensor('int32', new Int32Array([1, 2, 3, 4]), [4]), b: new Tensor('int32', new Int32Array([5, 6, 7, 8]), [4]) });
    expect(Array.from(y.y!.data as Int32Array)).toEqual([6, 8, 10, 12]);
  });

  it('keeps whichever of webgpu and cuda comes first (one executor cannot run both yet)', async () => {
    const webgpu = await acquireGpu().then(() => true, () => false);
    for (const prefs of [['cuda', 'webgpu', 'cpu'], ['webgpu', 'cuda', 'cpu']] as const) {
      const logs: string[] = [];
      const sess = await InferenceSession.create(chainModel(), { backends: [...prefs], minSubgraphSize: 1, optimizationLevel: 0, log: (m) => logs.push(m) });
      const first = webgpu ? prefs[0] : 'cuda';
      expect(sess.plan.backends[0], prefs.join()).toBe(first);
      if (webgpu) expect(logs[0]).toContain(`${prefs[1]} (webgpu and cuda do not share one plan yet)`);
      else expect(logs[0]).toMatch(/webgpu \(UNSUPPORTED: WebGPU/);
    }
  });

  it('frees every device buffer on dispose', async () => {
    const cuda = await acquireCuda();
    const g = new Graph();
    g.opsets = { '': 21 };
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [3] });
    g.initializers.set('k', new HostTensor('float32', [3], new Float32Array([1, 2, 3])));
    g.nodes.push({ name: 'mul', opType: 'Mul', domain: '', inputs: ['x', 'k'], outputs: ['y'], attrs: {} });
    g.outputs = [{ name: 'y' }];
    const ctx = emu.addon.contexts.at(-1)!;
    const before = ctx.liveBuffers;
    // The build run (static dims) already uploads the weight and records the program.
    const sess = await InferenceSession.create(exportModel(g), { backends: ['cuda'], minSubgraphSize: 1, cudaTimingCache: 'off' });
    expect(sess.cudaBuild?.ms).toBeGreaterThan(0);
    expect(ctx.liveBuffers).toBeGreaterThan(before);
    const y = await sess.run({ x: new Tensor('float32', new Float32Array([1, 1, 2]), [3]) });
    expect(Array.from(y.y!.data as Float32Array)).toEqual([1, 2, 6]);
    expect(ctx.liveBuffers).toBeGreaterThan(before);
    (sess.plan.executor as NativeExecutor).dispose();
    expect(ctx.liveBuffers).toBe(before);
    expect(cuda.native).toBe(ctx);
  });
});

describe('float16 convolutions on CUDA', () => {
  it('round in the conv store (no second kernel) and agree with the CPU backend at fp16', async () => {
    // The f32-storage form (the packed NHWC one is nhwc.test.ts's).
    process.env['TWINFER_CUDA_NHWC'] = '0';
    onTestFinished(() => { delete process.env['TWINFER_CUDA_NHWC']; });
    const g = new Graph();
    g.opsets = { '': 21 };
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 3, 9, 9] });
    const rand = seededRandom(21);
    g.initializers.set('w', randomTensor('float32', [8, 3, 3, 3], rand));
    g.initializers.set('b', randomTensor('float32', [8], rand));
    g.nodes.push({ name: 'conv', opType: 'Conv', domain: '', inputs: ['x', 'w', 'b'], outputs: ['c'], attrs: { pads: [1, 1, 1, 1] } });
    g.nodes.push({ name: 'relu', opType: 'Relu', domain: '', inputs: ['c'], outputs: ['y'], attrs: {} });
    g.outputs = [{ name: 'y' }];
    const model = exportModel(g);
    const sess = await InferenceSession.create(model, { backends: ['cuda'], precision: 'fp16', minSubgraphSize: 1, cudaTimingCache: 'off' });
    const cpu = await InferenceSession.create(model, { backends: ['cpu'], precision: 'fp16' });
    const ctx = emu.addon.contexts.at(-1)!;
    const x = new Tensor('float32', randomTensor('float32', [2, 3, 9, 9], rand).data as Float32Array, [2, 3, 9, 9]);
    const before = ctx.launches.length;
    const got = toHostTensor((await sess.run({ x })).y!), want = toHostTensor((await cpu.run({ x })).y!);
    // The fused conv writes float16 values itself: only the Casts at the borders are separate kernels.
    expect(ctx.launches.slice(before)).toEqual(['unaryT', 'conv2d', 'unaryT']);
    // Both round the same f32 sums to float16; the sums' order differs (f64 loops here, the CPU's
    // f32 GEMM), so a value on a rounding boundary may land one float16 step (2^-10 relative) apart.
    expect(compareTensors(got, want, 2e-3, 1e-3).reason).toBeUndefined();
  });

  it('float16 Gemm rounds in its store too and agrees with the CPU backend at fp16', async () => {
    const g = new Graph();
    g.opsets = { '': 21 };
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [5, 12] });
    const rand = seededRandom(22);
    g.initializers.set('w', randomTensor('float32', [7, 12], rand));
    g.initializers.set('b', randomTensor('float32', [7], rand));
    g.nodes.push({ name: 'fc', opType: 'Gemm', domain: '', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { transB: 1, alpha: 0.5 } });
    g.outputs = [{ name: 'y' }];
    const model = exportModel(g);
    const sess = await InferenceSession.create(model, { backends: ['cuda'], precision: 'fp16', minSubgraphSize: 1, cudaTimingCache: 'off' });
    const cpu = await InferenceSession.create(model, { backends: ['cpu'], precision: 'fp16' });
    const ctx = emu.addon.contexts.at(-1)!;
    const x = new Tensor('float32', randomTensor('float32', [5, 12], rand).data as Float32Array, [5, 12]);
    const before = ctx.launches.length;
    const got = toHostTensor((await sess.run({ x })).y!), want = toHostTensor((await cpu.run({ x })).y!);
    expect(ctx.launches.slice(before)).toEqual(['unaryT', 'gemm', 'unaryT']);
    expect(compareTensors(got, want, 2e-3, 1e-3).reason).toBeUndefined();
  });
});
