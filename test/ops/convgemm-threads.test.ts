/**
 * The CPU backend's worker threads (backends/cpu/convgemm-threads.ts, Node host in
 * src/node-threads.ts): every parallel path (GEMM by column and row chunks, packed and in-place B,
 * im2col and pointwise Conv, depthwise, Winograd, ConvTranspose, Gemm's alpha/beta epilogue) gives
 * the single-thread result. Tasks keep each element's summation order, so results are in fact
 * identical; the tolerance only allows float32 reordering noise. Also: thread-count settings
 * (session option, TWINFER_CPU_THREADS) and failing workers (an error, never a hang).
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { nodeThreadHost } from '../../src/node-threads.js';
import { InferenceSession, Tensor, TwinferError } from '../../src/index.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { buildGraph } from '../../src/api/session.js';
import { CpuExecutor } from '../../backends/cpu/executor.js';
import { sgemm } from '../../backends/cpu/gemm.js';
import { setWinograd } from '../../backends/cpu/convgemm-conv.js';
import {
  cpuJobCount, cpuThreads, cpuThreadsAvailable, cpuWorkerCount, injectCpuThreadFault, setCpuThreadHost, setCpuThreads, setCpuThreadTimeout, stopCpuThreads,
} from '../../backends/cpu/convgemm-threads.js';
import { randomTensor, seededRandom, singleOpModel, type SingleOpSpec } from '../helpers/ort-single-op.js';

const rand = seededRandom(7031);
const rt = (dims: number[]): HostTensor => randomTensor('float32', dims, rand, -1, 1);

/** Runs a single-op model on the CPU executor with `threads` threads; returns output 0. */
function runWith(spec: SingleOpSpec, threads: number): Float32Array {
  setCpuThreads(threads);
  const g = buildGraph(singleOpModel(spec));
  const feeds = new Map<string, HostTensor>();
  spec.inputs.forEach((t, i) => { if (t && !spec.constInputs?.includes(i)) feeds.set(`in${i}`, t); });
  return new CpuExecutor(g).run(feeds, ['out0']).get('out0')!.data as Float32Array;
}

function expectClose(a: Float32Array, b: Float32Array, label: string): void {
  expect(a.length, label).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!) - 1e-5 * Math.abs(b[i]!);
    if (!(d <= 1e-5)) worst = Math.max(worst, Number.isNaN(d) ? Infinity : d);
  }
  expect(worst, `${label}: 1 vs N threads`).toBe(0);
}

afterEach(() => { setCpuThreads(undefined); setWinograd('auto'); });
afterAll(() => { stopCpuThreads(); setCpuThreadTimeout(30_000); });

describe('1 thread vs N threads', () => {
  const conv = (x: number[], w: number[], attrs: Record<string, number | number[]>, bias = true): SingleOpSpec => ({
    opType: 'Conv', inputs: [rt(x), rt(w), bias ? rt([w[0]!]) : undefined], attrs, constInputs: [1, 2],
  });
  const cases: [string, SingleOpSpec, ('force' | 'off')?][] = [
    ['im2col 3x3 stride 2, pads, K > 256 (k blocks)', conv([1, 48, 97, 95], [50, 48, 3, 3], { strides: [2, 2], pads: [1, 0, 1, 2] })],
    ['im2col, no bias, 2 groups', conv([2, 32, 40, 40], [64, 16, 3, 3], { group: 2, pads: [1, 1, 1, 1] }, false), 'off'],
    ['pointwise (B in place), M % 4 != 0, N % 8 != 0', conv([1, 96, 45, 61], [71, 96, 1, 1], {})],
    ['pointwise, few columns (row chunks)', conv([1, 512, 6, 10], [480, 512, 1, 1], {})],
    ['depthwise 5x5', conv([1, 64, 80, 77], [64, 1, 5, 5], { group: 64, pads: [2, 2, 2, 2] })],
    ['depthwise 3x3 stride 2, multiplier 2', conv([1, 64, 161, 139], [128, 1, 3, 3], { group: 64, strides: [2, 2], pads: [1, 1, 1, 1] })],
    ['winograd, exact tiles', conv([1, 32, 64, 64], [40, 32, 3, 3], { pads: [1, 1, 1, 1] }), 'force'],
    ['winograd, padded tiles, 2 batches', conv([2, 24, 45, 70], [30, 24, 3, 3], { pads: [1, 1, 1, 1] }), 'force'],
    ['ConvTranspose 2x2 stride 2', { opType: 'ConvTranspose', inputs: [rt([1, 64, 60, 60]), rt([64, 32, 2, 2]), rt([32])], attrs: { strides: [2, 2] }, constInputs: [1, 2] }],
    ['ConvTranspose to one channel (row bands)', { opType: 'ConvTranspose', inputs: [rt([1, 8, 320, 320]), rt([8, 1, 2, 2]), rt([1])], attrs: { strides: [2, 2] }, constInputs: [1, 2] }],
    ['Gemm alpha, beta, C', { opType: 'Gemm', inputs: [rt([300, 200]), rt([250, 200]), rt([250])], attrs: { alpha: 0.5, beta: 2, transB: 1 } }],
    ['MatMul batched', { opType: 'MatMul', inputs: [rt([3, 130, 257]), rt([3, 257, 190])] }],
  ];
  for (const [label, spec, wino] of cases) {
    it(label, () => {
      if (wino) setWinograd(wino);
      const one = runWith(spec, 1);
      for (const n of [2, 3]) {
        const jobs = cpuJobCount();
        expectClose(runWith(spec, n), one, `${label} (${n} threads)`);
        expect(cpuJobCount(), `${label}: ran on worker threads`).toBeGreaterThan(jobs);
      }
      expect(cpuWorkerCount()).toBeGreaterThan(0);
    });
  }
});

describe('thread settings', () => {
  it('TWINFER_CPU_THREADS sets the default, cpuThreads overrides it', () => {
    const old = process.env['TWINFER_CPU_THREADS'];
    try {
      process.env['TWINFER_CPU_THREADS'] = '3';
      setCpuThreads(undefined);
      expect(cpuThreads()).toBe(3);
      setCpuThreads(1);
      expect(cpuThreads()).toBe(1);
      process.env['TWINFER_CPU_THREADS'] = 'x';
      setCpuThreads(undefined);
      expect(cpuThreads()).toBeGreaterThanOrEqual(1);
    } finally {
      if (old === undefined) delete process.env['TWINFER_CPU_THREADS']; else process.env['TWINFER_CPU_THREADS'] = old;
    }
  });

  it('the session option cpuThreads: same outputs, bad values rejected', async () => {
    const w = rt([64, 32, 3, 3]);
    const model = singleOpModel({ opType: 'Conv', inputs: [rt([1, 32, 64, 64]), w], attrs: { pads: [1, 1, 1, 1] }, constInputs: [1] });
    const x = rt([1, 32, 64, 64]);
    const feeds = { in0: new Tensor('float32', x.data as Float32Array, [1, 32, 64, 64]) };
    const outs: Float32Array[] = [];
    for (const cpuThreads of [1, 2, 4]) {
      const s = await InferenceSession.create(model, { cpuThreads });
      outs.push((await s.run(feeds))['out0']!.data as Float32Array);
    }
    expectClose(outs[1]!, outs[0]!, 'cpuThreads 2');
    expectClose(outs[2]!, outs[0]!, 'cpuThreads 4');
    for (const bad of [0, -1, 1.5]) {
      await expect(InferenceSession.create(model, { cpuThreads: bad })).rejects.toThrow(/cpuThreads must be a positive integer/);
    }
  });
});

describe('failing workers', () => {
  const M = 256, N = 512, K = 128;
  const A = rt([M, K]).data as Float32Array, B = rt([K, N]).data as Float32Array;
  const gemm = (): Float32Array => {
    const y = new Float32Array(M * N);
    sgemm(M, N, K, A, 0, K, 1, B, 0, N, 1, y, 0, N);
    return y;
  };

  it('an exception in a worker is a TwinferError; the pool keeps working', () => {
    setCpuThreads(1);
    const ref = gemm();
    setCpuThreads(2);
    injectCpuThreadFault('throw');
    expect(gemm).toThrow(TwinferError);
    injectCpuThreadFault('throw');
    expect(gemm).toThrow(/CPU worker thread 1 failed: injected fault/);
    expectClose(gemm(), ref, 'after a failure');
  });

  it('a host that cannot start threads: the job runs on the caller, later ones single-threaded', () => {
    setCpuThreads(1);
    const ref = gemm();
    try {
      setCpuThreadHost({ defaultThreads: () => 4, spawn: () => { throw new Error('no threads here'); } });
      setCpuThreads(undefined);
      expectClose(gemm(), ref, 'spawn failed');
      expect(cpuThreadsAvailable()).toBe(false);
      expect(cpuThreads()).toBe(1);
      expectClose(gemm(), ref, 'after');
    } finally { setCpuThreadHost(nodeThreadHost); }
    expect(cpuThreadsAvailable()).toBe(true);
  });

  for (const fault of ['hang', 'exit'] as const) {
    it(`a worker that ${fault === 'hang' ? 'stops responding' : 'dies'} holding a task times out with an error, then threads restart`, () => {
      setCpuThreads(1);
      const ref = gemm();
      setCpuThreads(3);
      setCpuThreadTimeout(500);
      injectCpuThreadFault(fault);
      const t0 = Date.now();
      expect(gemm).toThrow(/CPU worker threads failed: .*tasks unfinished/);
      expect(Date.now() - t0).toBeLessThan(20_000);
      setCpuThreadTimeout(30_000);
      expectClose(gemm(), ref, 'after the restart');
      expect(cpuWorkerCount()).toBeGreaterThan(0);
    });
  }
});
