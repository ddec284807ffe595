/**
 * The CUDA executor's static program (backends/native/program.ts) on the emulated addon
 * (emulator.ts: launches in plain loops; its CUDA graphs record launches while capturing and run
 * them on graphLaunch, and refuse allocation, copies and synchronization while capturing, as CUDA
 * does). Replayed runs must give bit-identical outputs to the node-by-node path on the same data
 * (same kernels, same parameter lists) and agree with the CPU backend (the independent reference,
 * fp32: rtol 1e-5 / atol 1e-6 since both compute in f64/f32 loops of the same order, and the
 * emulated conv/gemm accumulate in f64). The GPU half (real capture, real cuDNN tactics) is
 * replay-gpu.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { exportModel } from '../../src/onnx/export.js';
import { InferenceSession } from '../../src/node.js';
import { acquireCuda } from '../../backends/native/device.js';
import { NativeExecutor, type NativeExecutorOptions } from '../../backends/native/executor.js';
import { programKey, staticValues } from '../../backends/native/program.js';
import { compareTensors } from '../../src/testing/compare.js';
import { randomTensor, seededRandom } from '../helpers/ort-single-op.js';
import { chainModel } from './cases.js';
import { useEmulatedAddon } from './use-emulated-addon.js';

const emu = useEmulatedAddon();

/** Conv -> Relu -> Reshape(by Shape of another value, and by a constant) -> MatMul -> Add: all on cuda. */
function staticModel(): Uint8Array {
  const rand = seededRandom(21);
  const g = new Graph();
  g.opsets = { '': 21 };
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['n', 3, 6, 6] }, { name: 'bias', dtype: 'float32', shape: [5] });
  g.initializers.set('w', randomTensor('float32', [4, 3, 3, 3], rand));
  g.initializers.set('b', randomTensor('float32', [4], rand));
  g.initializers.set('m', randomTensor('float32', [144, 5], rand));
  g.initializers.set('flat', HostTensor.fromNumbers('int64', [2], [0, -1]));
  const node = (opType: string, inputs: string[], outputs: string[], attrs = {}) => g.nodes.push({ name: `${opType}_${g.nodes.length}`, opType, domain: '', inputs, outputs, attrs });
  node('Conv', ['x', 'w', 'b'], ['c'], { pads: [1, 1, 1, 1] });
  node('Relu', ['c'], ['r']);
  node('Shape', ['c'], ['cs']);
  node('Reshape', ['r', 'cs'], ['r2']); // host read of a value computed from dims: still static
  node('Reshape', ['r2', 'flat'], ['f']);
  node('MatMul', ['f', 'm'], ['mm']);
  node('Add', ['mm', 'bias'], ['y']);
  g.outputs = [{ name: 'y' }, { name: 'r' }];
  return exportModel(g);
}

/** The same chain but Reshape's target comes from a feed: the launch list depends on data. */
function dataShapeModel(): Uint8Array {
  const g = new Graph();
  g.opsets = { '': 21 };
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 6] }, { name: 'to', dtype: 'int64', shape: [2] });
  g.nodes.push({ name: 'relu', opType: 'Relu', domain: '', inputs: ['x'], outputs: ['r'], attrs: {} });
  g.nodes.push({ name: 'reshape', opType: 'Reshape', domain: '', inputs: ['r', 'to'], outputs: ['s'], attrs: {} });
  g.nodes.push({ name: 'neg', opType: 'Neg', domain: '', inputs: ['s'], outputs: ['y'], attrs: {} });
  g.outputs = [{ name: 'y' }];
  return exportModel(g);
}

async function setup(model: Uint8Array, backends: string[], options: NativeExecutorOptions = {}) {
  const sess = await InferenceSession.create(model, { backends: backends as ['cuda'], minSubgraphSize: 1, optimizationLevel: 0 });
  const cpu = await InferenceSession.create(model, { backends: ['cpu'], optimizationLevel: 0 });
  const cuda = await acquireCuda();
  const logs: string[] = [];
  const replay = new NativeExecutor(sess.graph, sess.plan.partition.assignment, cuda, { ...options, log: (m) => logs.push(m) });
  const plain = new NativeExecutor(sess.graph, sess.plan.partition.assignment, cuda, { replay: false });
  return { sess, cpu, replay, plain, logs, ctx: emu.addon.contexts.at(-1)! };
}

const feedsOf = (n: number, rand: () => number) => new Map([
  ['x', randomTensor('float32', [n, 3, 6, 6], rand)],
  ['bias', randomTensor('float32', [5], rand)],
]);

/** Replay vs node by node (bit-identical) and vs the CPU backend (within f32 tolerance). */
async function expectSame(s: Awaited<ReturnType<typeof setup>>, feeds: Map<string, HostTensor>, names: string[]) {
  const got = await s.replay.run(feeds, names);
  const plain = await s.plain.run(feeds, names);
  const ref = await s.cpu.plan.executor.run(feeds, names);
  for (const k of names) {
    expect(Array.from(got.get(k)!.data as Float32Array), `${k} (replay vs node by node)`).toEqual(Array.from(plain.get(k)!.data as Float32Array));
    expect(got.get(k)!.dims).toEqual(plain.get(k)!.dims);
    expect(compareTensors(got.get(k)!, ref.get(k)!, 1e-5, 1e-6).reason, `${k} (vs cpu)`).toBeUndefined();
  }
}

describe('static program replay', () => {
  it('records once, captures a CUDA graph on the second run, then launches only the graph', async () => {
    const s = await setup(staticModel(), ['cuda']);
    expect(s.sess.graph.nodes.every((n) => s.sess.plan.partition.assignment.get(n) === 'cuda')).toBe(true);
    expect(s.logs).toContain('twinfer: cuda static program replay on; CUDA graphs on');
    const rand = seededRandom(1);
    const modes: string[] = [];
    let buffers = 0, graphLaunches = s.ctx.graphLaunches; // the emulated context is process-wide
    for (let i = 0; i < 5; i++) {
      const feeds = feedsOf(2, rand);
      const launchesBefore = s.ctx.launches.length;
      await expectSame(s, feeds, ['y', 'r']);
      modes.push(s.replay.lastMode);
      if (i === 0) buffers = s.ctx.liveBuffers;
      else expect(s.ctx.liveBuffers, 'neither path allocates on a repeated run').toBe(buffers);
      // Every path launches the same kernels: conv2d, unary/Relu, gemm, binary/Add (Shape, Reshape: none).
      expect(s.ctx.launches.length - launchesBefore).toBe(8);
      expect(s.replay.lastLaunches).toBe(4);
      if (i >= 1) expect(s.ctx.graphLaunches, 'one graph launch per replay').toBe(++graphLaunches);
    }
    expect(modes).toEqual(['record', 'capture', 'graph', 'graph', 'graph']);
    expect(s.replay.programStats).toEqual({ programs: 1, refused: [], graphs: 1, noGraph: [] });
    s.replay.dispose(); s.plain.dispose();
  });

  it('builds a new program when the dims change, and keeps the old one', async () => {
    const s = await setup(staticModel(), ['cuda']);
    const rand = seededRandom(2);
    const modes: string[] = [];
    for (const n of [2, 1, 2, 1, 3, 1]) {
      await expectSame(s, feedsOf(n, rand), ['y', 'r']);
      modes.push(s.replay.lastMode);
    }
    expect(modes).toEqual(['record', 'record', 'capture', 'capture', 'record', 'graph']);
    expect(s.replay.programStats).toEqual({ programs: 3, refused: [], graphs: 2, noGraph: [] });
    s.replay.dispose(); s.plain.dispose();
  });

  it('drops the least recently used program beyond maxPrograms (graph destroyed, buffers reused)', async () => {
    const s = await setup(staticModel(), ['cuda'], { maxPrograms: 1 });
    const rand = seededRandom(3);
    for (const n of [1, 1, 2, 2, 1]) await expectSame(s, feedsOf(n, rand), ['y', 'r']);
    expect(s.replay.programStats.programs).toBe(1);
    expect(s.replay.lastMode).toBe('record');
    s.replay.dispose(); s.plain.dispose();
  });

  it('replays launch by launch with CUDA graphs off', async () => {
    const s = await setup(staticModel(), ['cuda'], { cudaGraphs: false });
    const graphLaunches = s.ctx.graphLaunches;
    expect(s.logs).toContain('twinfer: cuda static program replay on; CUDA graphs off (TWINFER_CUDA_GRAPHS=0)');
    const rand = seededRandom(4);
    const modes: string[] = [];
    for (let i = 0; i < 3; i++) { await expectSame(s, feedsOf(2, rand), ['y']); modes.push(s.replay.lastMode); }
    expect(modes).toEqual(['record', 'replay', 'replay']);
    expect(s.ctx.graphLaunches).toBe(graphLaunches);
    s.replay.dispose(); s.plain.dispose();
  });

  it('falls back to launch-by-launch replay when the capture is invalidated', async () => {
    const s = await setup(staticModel(), ['cuda']);
    const rand = seededRandom(5);
    await expectSame(s, feedsOf(2, rand), ['y', 'r']);
    s.ctx.failNextCapturedLaunch = true; // a launcher making a synchronizing call inside the capture
    const modes: string[] = [];
    for (let i = 0; i < 3; i++) { await expectSame(s, feedsOf(2, rand), ['y', 'r']); modes.push(s.replay.lastMode); }
    expect(modes).toEqual(['replay', 'replay', 'replay']);
    expect(s.logs.join('\n')).toMatch(/CUDA graph capture failed, replaying launch by launch: conv2d .*cudaErrorStreamCaptureUnsupported/);
    expect(s.replay.programStats.graphs).toBe(0);
    s.replay.dispose(); s.plain.dispose();
  });

  it('runs node by node when a shape comes from the data (Reshape target fed by the caller)', async () => {
    const s = await setup(dataShapeModel(), ['cuda']);
    const rand = seededRandom(6);
    for (const to of [[3, 4], [4, 3], [3, 4], [12, 1]]) {
      const feeds = new Map([['x', randomTensor('float32', [2, 6], rand)], ['to', HostTensor.fromNumbers('int64', [2], to)]]);
      await expectSame(s, feeds, ['y']);
      expect(s.replay.lastMode).toBe('nodes');
      expect((await s.replay.run(feeds, ['y'])).get('y')!.dims).toEqual(to);
    }
    expect(s.replay.programStats.programs).toBe(0);
    expect(s.replay.programStats.refused[0]).toMatch(/Reshape node 'reshape' reads 'to' on the host/);
    expect(s.logs.join('\n')).toMatch(/cuda runs node by node for these dims: Reshape node 'reshape' reads 'to'/);
    s.replay.dispose(); s.plain.dispose();
  });

  it('runs node by node when a CPU node sits in the middle on computed data', async () => {
    const model = chainModel();
    const s = await setup(model, ['cuda', 'cpu']);
    expect(s.sess.graph.nodes.map((n) => s.sess.plan.partition.assignment.get(n))).toEqual(['cuda', 'cuda', 'cpu', 'cuda', 'cuda']);
    const rand = seededRandom(7);
    for (let i = 0; i < 3; i++) {
      const feeds = new Map([['x', randomTensor('float32', [2, 3, 8, 8], rand)], ['x2', randomTensor('float32', [6], rand)]]);
      await expectSame(s, feeds, ['y', 'r']);
      expect(s.replay.lastMode).toBe('nodes');
    }
    expect(s.replay.programStats.refused[0]).toMatch(/MeanVarianceNormalization node .* reads 'r' on the host/);
    s.replay.dispose(); s.plain.dispose();
  });
});

/**
 * Neg -> Neg -> Add(.., x2): x2 is first needed after the first Neg's output was released, so in the
 * recording run its buffer goes back to the pool before x2 is uploaded. A program buffer (a feed, a
 * static table) must not be that buffer: on a replay the feeds are uploaded first and the first Neg
 * would then overwrite x2 (PP-OCR's detector replayed garbage through its Resize tap tables so).
 */
function lateFeedModel(): Uint8Array {
  const g = new Graph();
  g.opsets = { '': 21 };
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 8] }, { name: 'x2', dtype: 'float32', shape: [2, 8] });
  g.nodes.push({ name: 'neg1', opType: 'Neg', domain: '', inputs: ['x'], outputs: ['a'], attrs: {} });
  g.nodes.push({ name: 'neg2', opType: 'Neg', domain: '', inputs: ['a'], outputs: ['b'], attrs: {} });
  g.nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: ['b', 'x2'], outputs: ['y'], attrs: {} });
  g.outputs = [{ name: 'y' }];
  return exportModel(g);
}

describe('program buffers', () => {
  it('a feed first used late keeps its own buffer: replays match the CPU', async () => {
    const s = await setup(lateFeedModel(), ['cuda']);
    const rand = seededRandom(9);
    const modes: string[] = [];
    for (let i = 0; i < 4; i++) {
      await expectSame(s, new Map([['x', randomTensor('float32', [2, 8], rand)], ['x2', randomTensor('float32', [2, 8], rand)]]), ['y']);
      modes.push(s.replay.lastMode);
    }
    expect(modes).toEqual(['record', 'capture', 'graph', 'graph']);
  });
});

describe('program helpers', () => {
  it('keys programs by fetch names and each feed\'s dtype and dims', () => {
    const a = new HostTensor('float32', [1, 2]), b = new HostTensor('float32', [2, 1]);
    expect(programKey(new Map([['x', a]]), ['y'])).not.toBe(programKey(new Map([['x', b]]), ['y']));
    expect(programKey(new Map([['x', a]]), ['y'])).not.toBe(programKey(new Map([['x', a]]), ['y', 'z']));
    expect(programKey(new Map([['x', a], ['q', b]]), ['y'])).toBe(programKey(new Map([['q', b], ['x', a]]), ['y']));
  });

  it('static values: initializers, Shape/Size outputs and what follows from them; never feeds or random ops', () => {
    const n = (opType: string, inputs: string[], outputs: string[]) => ({ opType, domain: '', inputs, outputs });
    const s = staticValues([
      n('Shape', ['x'], ['s']), n('Gather', ['s', 'i'], ['g']), n('Relu', ['x'], ['r']), n('Add', ['g', 'w'], ['a']),
      n('RandomNormalLike', ['s'], ['rn']), n('Add', ['rn', 'w'], ['ra']), n('Add', ['w', 'o'], ['wo']),
    ], ['i', 'w', 'o'], ['x', 'o']);
    expect([...s].sort()).toEqual(['a', 'g', 'i', 's', 'w']);
  });
});
