/**
 * Execution contexts of the CUDA executor (backends/native/exec-context.ts) on the emulated addon:
 * concurrent runs of one session each hold a context (own stream, activation buffers, programs)
 * while the weights are uploaded once and shared. The emulator (emulator.ts) makes the races real
 * errors: its downloadAsync reads the bytes only on a later turn of the event loop and refuses any
 * launch or upload queued on that stream before then, so two runs sharing a stream without the
 * executor's lock fail here. Each concurrent output must be bit-identical to the same input run
 * alone (same kernels, same parameters: any mix-up of buffers between runs shows), and agree with the
 * CPU backend (the independent reference; fp32 with K = 256 products per output: the emulated GEMM
 * accumulates in f64, the CPU in f32 blocks, differences up to ~256 ulp of the partial sums, so
 * rtol 1e-4 / atol 1e-4).
 */
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { exportModel } from '../../src/onnx/export.js';
import { InferenceSession } from '../../src/node.js';
import { Tensor } from '../../src/api/tensor.js';
import { NativeExecutor } from '../../backends/native/executor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { randomTensor, seededRandom } from '../helpers/ort-single-op.js';
import { useEmulatedAddon } from './use-emulated-addon.js';

const emu = useEmulatedAddon();

const WEIGHT_BYTES = (256 * 256 + 256 * 16) * 4;

/** x[n,256] -> MatMul(256x256) -> Relu -> MatMul(256x16) -> y: weights large, activations small. */
function wideModel(): Uint8Array {
  const rand = seededRandom(5);
  const g = new Graph();
  g.opsets = { '': 21 };
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['n', 256] });
  g.initializers.set('w1', randomTensor('float32', [256, 256], rand));
  g.initializers.set('w2', randomTensor('float32', [256, 16], rand));
  const node = (opType: string, inputs: string[], outputs: string[]) => g.nodes.push({ name: `${opType}_${g.nodes.length}`, opType, domain: '', inputs, outputs, attrs: {} });
  node('MatMul', ['x', 'w1'], ['h']);
  node('Relu', ['h'], ['r']);
  node('MatMul', ['r', 'w2'], ['y']);
  g.outputs = [{ name: 'y' }];
  return exportModel(g);
}

async function sessions(contexts?: number) {
  const model = wideModel();
  const logs: string[] = [];
  const cuda = await InferenceSession.create(model, { backends: ['cuda'], optimizationLevel: 0, log: (m) => logs.push(m), cudaTimingCache: 'off', ...(contexts !== undefined ? { cudaContexts: contexts } : {}) });
  const cpu = await InferenceSession.create(model, { backends: ['cpu'], optimizationLevel: 0 });
  return { cuda, cpu, logs, executor: cuda.plan.executor as NativeExecutor };
}

/** `count` runs started together, each with its own input; every output checked against the CPU. */
async function concurrentRuns(s: Awaited<ReturnType<typeof sessions>>, count: number, seed: number): Promise<void> {
  const rand = seededRandom(seed);
  const inputs = Array.from({ length: count }, () => randomTensor('float32', [2, 256], rand));
  const feed = (x: HostTensor) => ({ x: new Tensor('float32', x.data as Float32Array, x.dims) });
  const got = await Promise.all(inputs.map((x) => s.cuda.run(feed(x))));
  for (let i = 0; i < count; i++) {
    const alone = await s.cuda.run(feed(inputs[i]!));
    expect(Array.from(got[i]!['y']!.data as Float32Array), `run ${i} (concurrent vs alone)`).toEqual(Array.from(alone['y']!.data as Float32Array));
    const ref = await s.cpu.run(feed(inputs[i]!));
    const y = got[i]!['y']!, r = ref['y']!;
    const host = new HostTensor('float32', y.dims.slice(), y.data as Float32Array);
    expect(compareTensors(host, new HostTensor('float32', r.dims.slice(), r.data as Float32Array), 1e-4, 1e-4).reason, `run ${i} (vs cpu)`).toBeUndefined();
  }
}

describe('CUDA execution contexts', () => {
  it('runs concurrent calls on up to cudaContexts streams, each result its own, the weights uploaded once', async () => {
    const s = await sessions(3);
    await concurrentRuns(s, 1, 99); // one run alone: the weights are on the device now
    const opened = emu.addon.contexts.length;
    const allocated = emu.addon.contexts[0]!.allocatedBytes();
    for (let round = 0; round < 4; round++) await concurrentRuns(s, 7, 100 + round); // records, captures, then graphs
    expect(s.executor.executionContexts).toBe(3);
    const forks = emu.addon.contexts.slice(opened);
    expect(forks).toHaveLength(2);
    expect(forks.every((c) => c.forked)).toBe(true);
    expect(forks.every((c) => c.graphLaunches > 0)).toBe(true); // each fork replays its own CUDA graph
    expect(s.logs.filter((l) => /cuda execution context \d of at most 3 opened/.test(l))).toHaveLength(2);
    // Weights are shared: the forks added activation buffers only (a second copy would be 266 KB).
    const added = emu.addon.contexts[0]!.allocatedBytes() - allocated;
    expect(added).toBeLessThan(WEIGHT_BYTES / 4);
    expect(s.executor.programStats.programs).toBe(3);
  });

  it('with cudaContexts 1 runs one at a time on one stream, with the same results', async () => {
    const s = await sessions(1);
    const opened = emu.addon.contexts.length;
    for (let round = 0; round < 3; round++) await concurrentRuns(s, 4, 200 + round);
    expect(s.executor.executionContexts).toBe(1);
    expect(emu.addon.contexts.length).toBe(opened);
  });

  it('dispose frees the forks\' streams and every buffer of the session', async () => {
    const before = emu.addon.contexts[0]!.allocatedBytes();
    const s = await sessions(2);
    await concurrentRuns(s, 3, 300);
    await concurrentRuns(s, 3, 301);
    const forks = emu.addon.contexts.filter((c) => c.forked).slice(-1);
    expect(s.executor.executionContexts).toBe(2);
    s.executor.dispose();
    expect(emu.addon.contexts[0]!.allocatedBytes()).toBe(before);
    expect(() => forks[0]!.synchronize()).toThrow(/disposed/);
    await expect(s.executor.run(new Map([['x', randomTensor('float32', [2, 256], seededRandom(1))]]), ['y'])).rejects.toThrow(/disposed/);
  });

  it('session.release() waits for the runs in flight, frees every buffer and stream, then rejects runs', async () => {
    const before = emu.addon.contexts[0]!.allocatedBytes();
    const s = await sessions(3);
    await concurrentRuns(s, 3, 400);
    const rand = seededRandom(401);
    const x = () => { const h = randomTensor('float32', [2, 256], rand); return new Tensor('float32', h.data as Float32Array, h.dims); };
    const inFlight = [s.cuda.run({ x: x() }), s.cuda.run({ x: x() })];
    await s.cuda.release();
    expect((await Promise.all(inFlight)).every((o) => o['y']!.dims[1] === 16)).toBe(true);
    expect(emu.addon.contexts[0]!.allocatedBytes()).toBe(before);
    expect(s.executor.executionContexts).toBe(0);
    await expect(s.cuda.run({ x: x() })).rejects.toThrow(/the session was released/);
    // The process-wide stream's lock was given back: another session still runs.
    await concurrentRuns(await sessions(1), 2, 402);
  });

  it('rejects a cudaContexts that is not a positive integer', async () => {
    for (const bad of [0, -1, 1.5, '2']) {
      await expect(InferenceSession.create(wideModel(), { backends: ['cuda'], cudaContexts: bad as number })).rejects.toThrow(/cudaContexts must be a positive integer/);
    }
  });
});
