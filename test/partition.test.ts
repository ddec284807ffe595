/**
 * Partitioning (Paddle-TRT's subgraph mode for every backend): islands of supported nodes of at least
 * minSubgraphSize go to the preferred backend, the rest falls back; and a real WebGPU + CPU session
 * (Dawn on this machine's Vulkan driver) gives the CPU backend's outputs.
 */
import { describe, expect, it } from 'vitest';
import { ModelBuilder } from '../bench/models/builder.js';
import { buildGraph } from '../src/api/session.js';
import { partition, type PartitionBackend } from '../src/partition/partition.js';
import { InferenceSession, Tensor } from '../src/node.js';
import { compareTensors } from '../src/testing/compare.js';
import { toHostTensor } from '../src/api/tensor.js';

/** x -> Relu -> Neg -> Exp -> Sin -> Relu -> Abs -> y, with Sin "unsupported" on the fake GPU. */
function chain(): Uint8Array {
  const b = new ModelBuilder('p', 1);
  let v = b.input('x', 'float32', [2, 3]);
  for (const op of ['Relu', 'Neg', 'Exp', 'Sin', 'Relu', 'Abs']) v = b.op(op, [v]);
  b.output(v, 'y', 'float32', [2, 3]);
  return b.bytes();
}

const fakeGpu: PartitionBackend = { name: 'gpu', supports: (n) => (n.opType === 'Sin' ? { ok: false, reason: 'no Sin' } : { ok: true }) };
const cpu: PartitionBackend = { name: 'cpu', supports: () => ({ ok: true }) };

describe('partition', () => {
  it('sends islands of at least minSubgraphSize to the first backend and the rest to the next', () => {
    const g = buildGraph(chain());
    const p = partition(g, [fakeGpu, cpu], 3);
    expect(g.nodes.map((n) => p.assignment.get(n))).toEqual(['gpu', 'gpu', 'gpu', 'cpu', 'cpu', 'cpu']);
    expect(p.islands).toEqual([{ backend: 'gpu', nodes: 3 }, { backend: 'cpu', nodes: 3 }]);
    expect(p.fallbacks.get('Sin')).toEqual({ nodes: 1, reason: 'no Sin' });
    expect(p.fallbacks.get('Relu')?.reason).toMatch(/smaller than minSubgraphSize 3/);
    const p1 = partition(g, [fakeGpu, cpu], 1);
    expect(g.nodes.map((n) => p1.assignment.get(n))).toEqual(['gpu', 'gpu', 'gpu', 'cpu', 'gpu', 'gpu']);
  });

  it('reports nodes no backend supports', () => {
    const g = buildGraph(chain());
    const p = partition(g, [fakeGpu], 1);
    expect(p.unassigned.map((u) => u.node.opType)).toEqual(['Sin']);
  });
});

describe('webgpu + cpu session', () => {
  it('runs on WebGPU with a CPU fallback island and matches the CPU backend', async () => {
    const b = new ModelBuilder('w', 2);
    const x = b.input('x', 'float32', [4, 8]);
    const h = b.op('Relu', [b.op('Add', [b.op('Mul', [x, b.uniform('s', [8], 0.5, 1.5)]), b.uniform('t', [8], -1, 1)])]);
    const nz = b.op('NonZero', [h]); // data-dependent: CPU only
    const c = b.op('Cast', [b.op('ReduceSum', [b.op('Cast', [nz], { to: 1 }), b.ints('ax', [1])], { keepdims: 0 })], { to: 1 });
    b.output(b.op('Sigmoid', [b.op('Neg', [b.op('Exp', [h])])]), 'y', 'float32', [4, 8]);
    b.output(c, 'z', 'float32', [2]);
    const model = b.bytes();
    const logs: string[] = [];
    const gpu = await InferenceSession.create(model, { backends: ['webgpu', 'cpu'], log: (m) => logs.push(m) });
    const ref = await InferenceSession.create(model, { backends: ['cpu'] });
    expect(gpu.plan.backends).toEqual(['webgpu', 'cpu']);
    expect(logs.join('\n')).toMatch(/not on webgpu: .*NonZero x1/);
    const feed = { x: new Tensor('float32', Float32Array.from({ length: 32 }, (_, i) => Math.sin(i) * 2), [4, 8]) };
    const [a, r] = [await gpu.run(feed), await ref.run(feed)];
    for (const k of ['y', 'z']) {
      const cmp = compareTensors(toHostTensor(a[k]!), toHostTensor(r[k]!), 1e-4, 1e-5);
      expect(cmp.reason, k).toBeUndefined();
    }
    // Without 'cpu' in the list, the unsupported node is an error at creation, naming it.
    await expect(InferenceSession.create(model, { backends: ['webgpu'] })).rejects.toThrow(/NonZero/);
  });
});
