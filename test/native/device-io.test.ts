/**
 * Tensors in CUDA memory (src/api/cuda-tensor.ts) on the emulated addon: a CUDA session's outputs
 * with preferredOutputLocation 'cuda' fed to another CUDA session without a host round trip,
 * cudaTensor() inputs reused across runs, getData / dispose, and the errors. Results are checked
 * bit for bit against the same sessions with host tensors (the same kernels run on the same values)
 * and against the CPU backend (the independent reference; fp32, K = 64 products per output summed
 * in f64 by the emulator and in f32 by the CPU: rtol 1e-4 / atol 1e-5).
 */
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { exportModel } from '../../src/onnx/export.js';
import { InferenceSession, Tensor, cudaTensor } from '../../src/node.js';
import { compareTensors } from '../../src/testing/compare.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { randomTensor, seededRandom } from '../helpers/ort-single-op.js';
import { useEmulatedAddon } from './use-emulated-addon.js';

const emu = useEmulatedAddon();

/** x[n,64] -> MatMul -> Relu -> y[n,64] (first) or MatMul -> y[n,16] (second). */
function model(first: boolean, seed: number): Uint8Array {
  const rand = seededRandom(seed);
  const g = new Graph();
  g.opsets = { '': 21 };
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['n', 64] });
  g.initializers.set('w', randomTensor('float32', [64, first ? 64 : 16], rand));
  g.nodes.push({ name: 'mm', opType: 'MatMul', domain: '', inputs: ['x', 'w'], outputs: [first ? 'h' : 'y'], attrs: {} });
  if (first) g.nodes.push({ name: 'relu', opType: 'Relu', domain: '', inputs: ['h'], outputs: ['y'], attrs: {} });
  g.outputs = [{ name: 'y' }];
  return exportModel(g);
}

const f32 = (t: Tensor) => Array.from(t.data as Float32Array);
const host = (t: Tensor) => new HostTensor('float32', t.dims.slice(), t.data as Float32Array);
const input = (rand: () => number) => { const h = randomTensor('float32', [3, 64], rand); return new Tensor('float32', h.data as Float32Array, h.dims); };

async function sessions() {
  const opts = { optimizationLevel: 0 as const, cudaTimingCache: 'off' };
  return {
    a: await InferenceSession.create(model(true, 1), { backends: ['cuda'], preferredOutputLocation: 'cuda', ...opts }),
    b: await InferenceSession.create(model(false, 2), { backends: ['cuda'], ...opts }),
    aHost: await InferenceSession.create(model(true, 1), { backends: ['cuda'], ...opts }),
    aCpu: await InferenceSession.create(model(true, 1), { backends: ['cpu'], optimizationLevel: 0 }),
    bCpu: await InferenceSession.create(model(false, 2), { backends: ['cpu'], optimizationLevel: 0 }),
  };
}

describe('CUDA-resident tensors', () => {
  it('chains two CUDA sessions through CUDA memory: same values as through the host, and as the CPU', async () => {
    const s = await sessions();
    const rand = seededRandom(3);
    let allocated = 0;
    for (let i = 0; i < 5; i++) { // record, capture, graph, graph, graph
      const x = input(rand);
      const mid = (await s.a.run({ x }))['y']!;
      expect(mid.location).toBe('cuda');
      expect(mid.hasHostData).toBe(false);
      expect(() => mid.data).toThrow(/in CUDA memory: await tensor.getData\(\)/);
      const y = (await s.b.run({ x: mid }))['y']!;
      expect(y.location).toBe('cpu');
      const viaHost = (await s.b.run({ x: (await s.aHost.run({ x }))['y']! }))['y']!;
      expect(f32(y), `run ${i}: through CUDA memory vs through the host`).toEqual(f32(viaHost));
      const ref = (await s.bCpu.run({ x: (await s.aCpu.run({ x }))['y']! }))['y']!;
      expect(compareTensors(host(y), host(ref), 1e-4, 1e-5).reason, `run ${i} vs cpu`).toBeUndefined();
      expect(f32(new Tensor('float32', await mid.getData(), mid.dims))).toEqual(f32((await s.aHost.run({ x }))['y']!));
      mid.dispose();
      expect(mid.location).toBe('cpu'); // the downloaded copy stays
      if (i === 1) allocated = emu.addon.contexts[0]!.allocatedBytes();
    }
    // Disposed outputs' buffers are reused: steady runs allocate nothing more.
    expect(emu.addon.contexts[0]!.allocatedBytes()).toBe(allocated);
  });

  it('cudaTensor() inputs serve many runs, concurrent ones too; other backends download them', async () => {
    const s = await sessions();
    const rand = seededRandom(4);
    const xs = [input(rand), input(rand), input(rand)];
    const dev = await Promise.all(xs.map((x) => cudaTensor(x)));
    expect(dev.every((d) => d.location === 'cuda')).toBe(true);
    for (let round = 0; round < 3; round++) {
      const got = await Promise.all(dev.map((d) => s.aHost.run({ x: d })));
      for (let k = 0; k < xs.length; k++) expect(f32(got[k]!['y']!)).toEqual(f32((await s.aHost.run({ x: xs[k]! }))['y']!));
    }
    const onCpu = (await s.aCpu.run({ x: dev[0]! }))['y']!; // downloaded first
    expect(compareTensors(host(onCpu), host((await s.aCpu.run({ x: xs[0]! }))['y']!), 0, 0).reason).toBeUndefined();
    for (const d of dev) d.dispose();
  });

  it('says what is wrong: a disposed CUDA tensor, a buffer that does not fit, cuda outputs off CUDA', async () => {
    const s = await sessions();
    const d = await cudaTensor(input(seededRandom(5)));
    d.dispose();
    await expect(s.b.run({ x: d })).rejects.toThrow(/disposed/);
    const e = await cudaTensor(input(seededRandom(6)));
    const wrong = Tensor.fromCudaBuffer({ ...e.cudaBuffer, bytes: 16 }, { dataType: 'float32', dims: [3, 64], dispose: () => undefined, download: async () => new Float32Array(192) });
    await expect(s.b.run({ x: wrong })).rejects.toThrow(/does not hold float32\[3,64\]/);
    expect(() => new Tensor('float32', new Float32Array(2), [2]).cudaBuffer).toThrow(/not in CUDA memory/);
    await expect(InferenceSession.create(model(true, 1), { backends: ['cpu'], preferredOutputLocation: 'cuda' })).rejects.toThrow(/preferredOutputLocation 'cuda' needs a session on the CUDA backend/);
    e.dispose();
  });
});
