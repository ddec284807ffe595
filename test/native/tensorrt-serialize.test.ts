/**
 * The TensorRT path's TypeScript side, on a machine without TensorRT:
 *  - every node of the optimized ResNet-50 and MobileNetV2 (bench/models) maps to TensorRT layers,
 *    and nodes TensorRT cannot take are reported with a reason;
 *  - the network description is *right*: a reference interpreter of the description
 *    (tensorrt-interp.ts: each layer with TensorRT's semantics, through the CPU backend's kernels,
 *    plus TensorRT's structural rules) gives the CPU backend's outputs on MobileNetV2 and on small
 *    graphs covering the other mappers (fp32: rtol 1e-4 / atol 1e-5, the same float32 kernels
 *    summing in another grouping), on the precision pass's fp16 graph (float16 storage: rtol / atol
 *    2e-2, intermediates rounded at other points) and its int8 graph (Q/DQ layers: the same
 *    integers, float rescaling in another order: rtol 1e-3 / atol 1e-4);
 *  - INT8 is explicit quantization carrying the CalibrationTable's scales and per-channel weight scales;
 *  - profiles come from twinfer's symbolic dims; the executor works against a stand-in addon that
 *    interprets the description; without the addon, backends ['tensorrt', 'cpu'] moves on to the CPU.
 * The C++ side (INetworkDefinition) is compiled in tensorrt-compile.test.ts, never run here.
 */
import { describe, expect, it } from 'vitest';
import { buildMobileNetV2, buildResNet50, ModelBuilder } from '../../bench/models/index.js';
import { importModel } from '../../src/onnx/import.js';
import { checkGraph } from '../../src/ir/checker.js';
import { inferGraph } from '../../src/ir/infer.js';
import { optimize } from '../../src/passes/index.js';
import type { Graph, Node } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { CpuExecutor, runCpuNode } from '../../backends/cpu/executor.js';
import { assignPrecision } from '../../src/quant/precision.js';
import { CalibrationTable } from '../../src/quant/table.js';
import { serializeNetwork, trtSupportReport, type SerializedNetwork } from '../../backends/tensorrt/serialize.js';
import { TRT_OPS } from '../../backends/tensorrt/map.js';
import { TrtExecutor } from '../../backends/tensorrt/executor.js';
import { setTrtPlanStore } from '../../backends/tensorrt/cache.js';
import { TRT_NOT_BUILT, setTrtLoader, trtStatus, type TrtAddon } from '../../backends/tensorrt/addon.js';
import { InferenceSession, Tensor } from '../../src/node.js';
import { interpretNetwork } from './tensorrt-interp.js';

function load(bytes: Uint8Array, level: 0 | 1 | 2 = 2): Graph {
  const g = importModel(bytes);
  checkGraph(g);
  const ev = (node: Node, inputs: (HostTensor | undefined)[], types?: Parameters<typeof runCpuNode>[3]) => runCpuNode(node, g.opsets[node.domain] ?? g.opset, inputs, types);
  inferGraph(g, ev);
  return optimize(g, level, ev).graph;
}

function rand(dims: number[], seed: number, lo = -1, hi = 1): HostTensor {
  let s = seed >>> 0;
  const d = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < d.length; i++) { s = (s * 1664525 + 1013904223) >>> 0; d[i] = lo + ((s >>> 8) / 2 ** 24) * (hi - lo); }
  return new HostTensor('float32', dims, d);
}

function expectClose(got: HostTensor, want: HostTensor, rtol: number, atol: number, what: string): void {
  expect(got.dims, `${what} dims`).toEqual(want.dims);
  const a = got.numbers, b = want.numbers;
  let worst = 0, at = -1;
  for (let i = 0; i < b.length; i++) {
    const excess = Math.abs(a[i]! - b[i]!) - (atol + rtol * Math.abs(b[i]!));
    if (excess > worst) { worst = excess; at = i; }
  }
  expect(at, `${what}: element ${at} is ${a[at]}, want ${b[at]} (rtol ${rtol}, atol ${atol})`).toBe(-1);
}

/** Interprets the description and runs the CPU backend on the same graph; compares every output. */
function agree(g: Graph, net: SerializedNetwork, feeds: Map<string, HostTensor>, rtol: number, atol: number): void {
  const want = new CpuExecutor(g).run(feeds, g.outputs.map((o) => o.name));
  const got = interpretNetwork(net.network, net.buffers, feeds);
  for (const [name, t] of want) expectClose(got.get(name)!, t, rtol, atol, name);
}

describe('ResNet-50 and MobileNetV2 map to TensorRT layers', () => {
  const resnet = load(buildResNet50());
  const mobilenet = load(buildMobileNetV2());

  it('every node of both optimized models maps', () => {
    for (const g of [resnet, mobilenet]) {
      const r = trtSupportReport(g);
      expect(r.filter((x) => !x.ok)).toEqual([]);
      expect(r.length).toBe(g.nodes.length);
    }
  });

  it('ResNet-50: 53 convolutions with their ReLU epilogues and 16 residual sums, batch dynamic in one profile', () => {
    const s = serializeNetwork(resnet, { profiles: [{ dims: { batch: [1, 8, 32] } }] });
    const count = (k: string) => s.network.layers.filter((l) => l.kind === k).length;
    expect(count('convolution')).toBe(53);
    expect(count('activation')).toBe(49); // the Relus; the projection shortcuts have none
    expect(count('elementwise')).toBe(17); // 16 residual sums + the classifier's bias
    expect(count('pooling')).toBe(1);
    expect(count('reduce')).toBe(1); // GlobalAveragePool
    expect(count('matmul')).toBe(1);
    expect(s.network.inputs).toEqual([{ name: 'input', dtype: 'float', dims: [-1, 3, 224, 224] }]);
    expect(s.network.profiles).toEqual([{ input: { min: [1, 3, 224, 224], opt: [8, 3, 224, 224], max: [32, 3, 224, 224] } }]);
    expect(s.network.outputs).toEqual(['output']);
    // Weights by reference: the JSON is small, the bytes are beside it (25.5M parameters).
    expect(s.json.length).toBeLessThan(100_000);
    expect(s.buffers.reduce((a, b) => a + b.byteLength, 0)).toBeGreaterThan(4 * 25e6);
    expect(JSON.parse(s.json)).toEqual(s.network);
  });

  it('MobileNetV2: the description computes what the CPU backend computes (fp32)', () => {
    const s = serializeNetwork(mobilenet);
    expect(s.notes).toEqual(["profile 0: dim 'batch' of input 'input' has no range; min = opt = max = 1"]);
    const dw = s.network.layers.filter((l) => l.kind === 'convolution' && (l.attrs['groups'] as number) > 1);
    expect(dw.length).toBe(17); // the depthwise convolutions keep their groups
    expect(s.network.layers.filter((l) => l.attrs['type'] === 'clip').every((l) => l.attrs['alpha'] === 0 && l.attrs['beta'] === 6)).toBe(true);
    agree(mobilenet, s, new Map([['input', rand([1, 3, 224, 224], 7)]]), 1e-4, 1e-5);
  });
});

describe('nodes TensorRT cannot take are reported with a reason', () => {
  it('ops without a mapping, and mapped ops with refused attributes', () => {
    const b = new ModelBuilder('unsupported', 1);
    const x = b.input('x', 'float32', [2, 8]);
    const m = b.op('Mod', [x, b.scalar(3)], { fmod: 1 });
    const t = b.node('TopK', [m, b.ints('k', [2])], {}, { outputs: 2 })[0]!;
    const r = b.op('Resize', [b.op('Unsqueeze', [b.op('Unsqueeze', [t, b.ints('a0', [0])]), b.ints('a1', [0])]), '', b.uniform('sc', [4], 1, 1)], { mode: 'linear', antialias: 1 });
    b.output(r, 'y', 'float32', [1, 1, 2, 2]);
    const g = load(b.bytes(), 0);
    const rep = new Map(trtSupportReport(g).map((e) => [e.opType, e]));
    expect(rep.get('Mod')).toMatchObject({ ok: false, reason: 'no TensorRT mapping for Mod' });
    expect(rep.get('TopK')).toMatchObject({ ok: false, reason: 'no TensorRT mapping for TopK' });
    expect(rep.get('Resize')).toMatchObject({ ok: false, reason: 'Resize with antialias' });
    expect(rep.get('Unsqueeze')).toMatchObject({ ok: true });
    expect(() => serializeNetwork(g)).toThrow(/TensorRT: Mod '.*': no TensorRT mapping for Mod/);
  });

  it('the mapper table covers the common vision and transformer ops', () => {
    for (const op of ['Conv', 'twinfer.FusedConv', 'twinfer.QConv', 'MatMul', 'Gemm', 'Softmax', 'LayerNormalization', 'Resize', 'Concat', 'Transpose', 'Reshape', 'Slice', 'Pad', 'QuantizeLinear', 'DequantizeLinear', 'BatchNormalization', 'ReduceMean', 'AveragePool', 'GroupNormalization']) {
      expect(TRT_OPS).toContain(op);
    }
  });
});

describe('small graphs through the interpreter', () => {
  it('data movement, normalization, resize, element-wise broadcasting, Gemm alpha/beta, 1-D and transposed convolutions', () => {
    const b = new ModelBuilder('mix', 3);
    const x = b.input('x', 'float32', [2, 4, 6, 6]);
    const v = b.input('v', 'float32', [3]);
    let y = b.op('Conv', [x, b.uniform('w', [4, 2, 3, 3], -0.5, 0.5), b.uniform('cb', [4], -0.1, 0.1)], { kernel_shape: [3, 3], pads: [1, 0, 1, 2], strides: [1, 2], group: 2 });
    y = b.op('HardSwish', [y]);
    y = b.op('Add', [y, v]); // rank 1 operand lifted to rank 4
    y = b.op('AveragePool', [y], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1, pads: [0, 0, 1, 1], count_include_pad: 0 });
    y = b.op('Transpose', [y], { perm: [0, 2, 3, 1] });
    y = b.op('LayerNormalization', [y, b.uniform('ls', [4], 0.5, 1.5), b.uniform('lb', [4], -0.2, 0.2)], { axis: -1, epsilon: 1e-5 });
    y = b.op('Transpose', [y], { perm: [0, 3, 1, 2] });
    y = b.op('Resize', [y, '', b.uniform('rs', [4], 1, 1), ''], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
    const s1 = b.op('Slice', [y, b.ints('st', [1, 0]), b.ints('en', [3, 100]), b.ints('ax', [1, 3]), b.ints('sp', [1, 2])]);
    const p1 = b.op('Pad', [s1, b.ints('pads', [0, 0, 1, 0, 0, 0, 0, 2])], { mode: 'constant' });
    const c = b.op('Concat', [p1, p1], { axis: 1 });
    const f = b.op('Flatten', [c], { axis: 1 });
    const g1 = b.op('Gemm', [f, b.uniform('gw', [5, 48], -0.3, 0.3), b.uniform('gc', [5], -1, 1)], { transB: 1, alpha: 0.5, beta: 2 });
    const sm = b.op('Softmax', [g1], { axis: 1 });
    b.output(sm, 'y', 'float32', [2, 5]);
    // 1-D conv and ConvTranspose with output_padding.
    const z = b.input('z', 'float32', [1, 3, 10]);
    const c1 = b.op('Conv', [z, b.uniform('w1', [2, 3, 3], -1, 1)], { kernel_shape: [3], pads: [1, 1], dilations: [2] });
    const ct = b.op('ConvTranspose', [b.op('Unsqueeze', [c1, b.ints('u2', [2])]), b.uniform('wt', [2, 3, 2, 3], -1, 1)], { kernel_shape: [2, 3], strides: [2, 2], pads: [0, 1, 1, 1], output_padding: [1, 1] });
    b.output(ct, 'zt', 'float32', [1, 3, 2, 16]);
    const g = load(b.bytes(), 0);
    expect(trtSupportReport(g).filter((r) => !r.ok)).toEqual([]);
    const s = serializeNetwork(g);
    agree(g, s, new Map([['x', rand([2, 4, 6, 6], 1)], ['v', rand([3], 2)], ['z', rand([1, 3, 10], 3)]]), 1e-4, 1e-5);
  });

  it('fused epilogues: Silu, Affine-free chains, residual sums (optimizer level 2)', () => {
    const b = new ModelBuilder('fused', 5);
    const x = b.input('x', 'float32', ['n', 8, 5, 5]);
    const c1 = b.op('Conv', [x, b.uniform('w', [8, 8, 1, 1], -0.4, 0.4), b.uniform('bb', [8], -0.1, 0.1)], { kernel_shape: [1, 1] });
    const s = b.op('Mul', [c1, b.op('Sigmoid', [c1])]);
    const c2 = b.op('Conv', [s, b.uniform('w2', [8, 8, 3, 3], -0.2, 0.2)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
    const r = b.op('Relu', [b.op('Add', [c2, x])]);
    const m = b.op('MatMul', [b.op('Reshape', [r, b.ints('shp', [0, 8, 25])]), b.uniform('mw', [25, 4], -0.3, 0.3)]);
    b.output(b.op('LeakyRelu', [m], { alpha: 0.1 }), 'y', 'float32', ['n', 8, 4]);
    const g = load(b.bytes(), 2);
    expect(g.nodes.some((n) => n.opType === 'FusedConv')).toBe(true);
    const net = serializeNetwork(g, { profiles: [{ dims: { n: [1, 2, 4] } }] });
    expect(net.network.profiles).toEqual([{ x: { min: [1, 8, 5, 5], opt: [2, 8, 5, 5], max: [4, 8, 5, 5] } }]);
    // The [25, 4] weight meets a rank-3 activation: lifted to [1, 25, 4] in the description.
    expect(net.network.weights.some((w) => w.dims.join() === '1,25,4')).toBe(true);
    agree(g, net, new Map([['x', rand([3, 8, 5, 5], 9)]]), 1e-4, 1e-5);
  });
});

describe('precision', () => {
  function smallCnn(): { bytes: Uint8Array; x: HostTensor } {
    const b = new ModelBuilder('cnn', 11);
    const x = b.input('x', 'float32', [1, 3, 12, 12]);
    let y = b.op('Relu', [b.op('Conv', [x, b.heWeight('w1', [8, 3, 3, 3], 27), b.uniform('b1', [8], -0.1, 0.1)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })]);
    y = b.op('Relu', [b.op('Conv', [y, b.heWeight('w2', [8, 8, 3, 3], 72), b.uniform('b2', [8], -0.1, 0.1)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] })]);
    y = b.op('GlobalAveragePool', [y]);
    y = b.op('Flatten', [y]);
    y = b.op('Gemm', [y, b.uniform('fw', [10, 8], -0.5, 0.5), b.uniform('fb', [10], -0.1, 0.1)], { transB: 1 });
    b.output(y, 'y', 'float32', [1, 10]);
    return { bytes: b.bytes(), x: rand([1, 3, 12, 12], 21, 0, 1) };
  }

  it('int8: Q/DQ layers carry the table scales and the per-channel weight scales; results match the CPU INT8 kernels', () => {
    const { bytes, x } = smallCnn();
    const g = load(bytes);
    const table = new CalibrationTable('minmax');
    // Scales from the float graph's own activations (as calibration would: amax / 127).
    const env = new Map<string, HostTensor>([...g.initializers, ['x', x]]);
    for (const n of g.nodes) {
      const outs = runCpuNode(n, g.opset, n.inputs.map((v) => (v ? env.get(v) : undefined)));
      n.outputs.forEach((o, k) => env.set(o, outs[k]!));
    }
    for (const [k, t] of env) if (!g.initializers.has(k)) table.setAmax(k, Math.max(...Array.from(t.numbers as Float32Array, Math.abs)));
    const rep = assignPrecision(g, { precision: 'int8', table });
    expect(rep.counts.int8).toBe(3);
    const net = serializeNetwork(g);
    const q = net.network.layers.filter((l) => l.kind === 'quantize');
    const dq = net.network.layers.filter((l) => l.kind === 'dequantize');
    expect(q.length).toBe(3); // one per activation
    expect(dq.length).toBe(6); // activation + weight per quantized op
    const w = (name: string) => { const e = net.network.weights.find((x) => x.name === name)!; return { e, data: net.buffers[e.buffer]! }; };
    for (const node of g.nodes.filter((n) => n.opType.startsWith('Q'))) {
      // The activation scale is the table's entry for X, as a 0-D float.
      const xs = w(q.find((l) => l.node === node.name)!.inputs[1]!);
      expect(xs.e.dims).toEqual([]);
      expect((xs.data as Float32Array)[0]).toBe(table.get(node.inputs[0]!)!.scale);
      // The weight is int8, dequantized per output channel with max|W| / 127.
      const wdq = dq.find((l) => l.node === node.name && net.network.weights.some((e) => e.name === l.inputs[0] && e.dtype === 'int8'))!;
      const ws = w(wdq.inputs[1]!);
      expect(Array.from(ws.data as Float32Array)).toEqual(Array.from(g.initializers.get(node.inputs[2]!)!.numbers as Float32Array));
      expect(wdq.attrs['axis']).toBe(node.opType === 'QConv' ? 0 : (node.attrs['transB'] === 1 ? 0 : 1));
    }
    agree(g, net, new Map([['x', x]]), 1e-3, 1e-4);
  });

  it('fp16 from the precision pass: casts and half weights, strongly typed; fp16 on an unannotated graph: the whole network in half', () => {
    const { bytes, x } = smallCnn();
    const g = load(bytes);
    assignPrecision(g, { precision: 'fp16' });
    const net = serializeNetwork(g);
    expect(net.network.layers.filter((l) => l.kind === 'cast').length).toBeGreaterThanOrEqual(2);
    expect(net.network.weights.filter((w) => w.dtype === 'half').length).toBeGreaterThan(0);
    agree(g, net, new Map([['x', x]]), 2e-2, 2e-2);

    const f = load(bytes);
    const half = serializeNetwork(f, { precision: 'fp16' });
    expect(half.network.inputs[0]!.dtype).toBe('float');
    expect(half.network.weights.every((w) => w.dtype === 'half')).toBe(true);
    expect(half.network.layers[0]).toMatchObject({ kind: 'cast', inputs: ['x'], attrs: { to: 'half' } });
    expect(half.network.layers.at(-1)).toMatchObject({ kind: 'cast', outputs: ['y'], attrs: { to: 'float' } });
    agree(f, half, new Map([['x', x]]), 2e-2, 2e-2);
  });
});

/** A stand-in for twinfer_trt.node: "builds" by keeping the description, "runs" by interpreting it. */
function fakeAddon(): TrtAddon & { builds: number } {
  const plans: SerializedNetwork[] = [];
  const addon = {
    builds: 0,
    probe: () => ({ available: true, headerVersion: 110100, libraryVersion: 110100, dlaCores: 0, cudaDevices: 1 }),
    build: async (json: string, buffers: ArrayBufferView[]) => {
      addon.builds++;
      plans.push({ network: JSON.parse(json), buffers, json, report: [], notes: [] });
      return { plan: new Uint32Array([plans.length - 1]).buffer, timingCache: new ArrayBuffer(0), log: '' };
    },
    Engine: class {
      private readonly net: SerializedNetwork;
      constructor(plan: ArrayBuffer | ArrayBufferView) {
        const view = plan instanceof ArrayBuffer ? new Uint8Array(plan) : new Uint8Array(plan.buffer, plan.byteOffset, plan.byteLength);
        this.net = plans[new Uint32Array(view.slice().buffer)[0]!]!;
      }
      io() { return []; }
      profiles() { return 1; }
      run(inputs: { name: string; dims: number[]; data: ArrayBufferView }[]) {
        const feeds = new Map(inputs.map((i) => [i.name, new HostTensor('float32', i.dims, new Float32Array(i.data.buffer.slice(i.data.byteOffset, i.data.byteOffset + i.data.byteLength)))]));
        return [...interpretNetwork(this.net.network, this.net.buffers, feeds)].map(([name, t]) => ({ name, dtype: 'float' as const, dims: t.dims.slice(), data: Float32Array.from(t.numbers as Float32Array).buffer }));
      }
      dispose() {}
    },
  };
  return addon;
}

describe('the tensorrt backend', () => {
  it('without the addon it is unavailable with the reason, and backends [tensorrt, cpu] moves on to the CPU', async () => {
    expect(trtStatus()).toEqual({ available: false, reason: TRT_NOT_BUILT });
    const b = new ModelBuilder('tiny', 1);
    b.output(b.op('Relu', [b.input('x', 'float32', [2])]), 'y', 'float32', [2]);
    const logs: string[] = [];
    const s = await InferenceSession.create(b.bytes(), { backends: ['tensorrt', 'cpu'], log: (m) => logs.push(m) });
    expect(s.backend).toBe('cpu');
    expect(logs).toContain(`twinfer: backends unavailable: tensorrt (${TRT_NOT_BUILT})`);
    const out = await s.run({ x: new Tensor('float32', new Float32Array([-1, 2]), [2]) });
    expect(Array.from(out['y']!.data as Float32Array)).toEqual([0, 2]);
    await expect(InferenceSession.create(b.bytes(), { backends: ['tensorrt'] })).rejects.toThrow(/none of the backends \[tensorrt\] is available here: tensorrt \(built without TensorRT \(set TENSORRT_ROOT\)\)/);
  });

  it('the executor builds one engine per TensorRT island, keeps plans in the store, runs CPU nodes between', async () => {
    const b = new ModelBuilder('islands', 2);
    const x = b.input('x', 'float32', [2, 6]);
    const a = b.op('Tanh', [b.op('MatMul', [x, b.uniform('w', [6, 6], -1, 1)])]);
    const m = b.op('Mod', [a, b.scalar(0.5)], { fmod: 1 }); // no TensorRT mapping: the CPU runs it
    const y = b.op('Sigmoid', [b.op('Add', [m, b.uniform('c', [6], -1, 1)])]);
    b.output(y, 'y', 'float32', [2, 6]);
    const g = load(b.bytes(), 0);
    const assignment = new Map(g.nodes.map((n) => [n, n.opType === 'Mod' ? 'cpu' : 'tensorrt']));
    const stored = new Map<string, Uint8Array>();
    setTrtPlanStore({ where: 'memory', key: (parts) => String(parts.map((p) => (typeof p === 'string' ? p : p.byteLength)).join('|').length) + JSON.stringify(parts[0]).slice(0, 200), get: (k) => stored.get(k), set: (k, v) => { stored.set(k, v); } });
    try {
      const addon = fakeAddon();
      const feeds = new Map([['x', rand([2, 6], 4)]]);
      const want = new CpuExecutor(g).run(feeds, ['y']).get('y')!;
      const ex = new TrtExecutor(g, assignment, addon);
      expectClose((await ex.run(feeds, ['y'])).get('y')!, want, 1e-5, 1e-6, 'y');
      await ex.run(feeds, ['y']);
      expect([addon.builds, ex.built, ex.reused, stored.size]).toEqual([2, 2, 0, 2]);
      // A second executor (a new session) finds both plans in the store.
      const ex2 = new TrtExecutor(g, assignment, addon);
      expectClose((await ex2.run(feeds, ['y'])).get('y')!, want, 1e-5, 1e-6, 'y');
      expect([addon.builds, ex2.built, ex2.reused]).toEqual([2, 0, 2]);
    } finally {
      setTrtPlanStore(undefined);
      setTrtLoader(undefined);
    }
  });
});
