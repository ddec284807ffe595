/**
 * The CUDA INT8 ops (twinfer.QConv / QGemm / QMatMul: backends/native/ops-q.ts lowering onto
 * native/src/qconv.cu) on the emulated addon (test/native/emulator-q.ts: the same parameter lists,
 * packed weight words, per-channel table and packed activations, in plain loops) against the CPU
 * reference, everywhere. q-kernels-gpu.test.ts runs the same cases on the real addon.
 * Also: the weight packing itself, and that a precision 'int8' session on backends ['cuda'] keeps
 * its Q ops int8 on cuda (the planner lowers only what a backend cannot run).
 */
import { describe, expect, it } from 'vitest';
import { HostTensor } from '../../src/ir/tensor.js';
import { InferenceSession } from '../../src/node.js';
import { fromHostTensor, toHostTensor } from '../../src/api/tensor.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { packConvWeights, packGemmWeights } from '../../backends/native/ops-q.js';
import { seededRandom } from '../helpers/ort-single-op.js';
import { smallCnn } from '../quant/models.js';
import { useEmulatedAddon } from './use-emulated-addon.js';
import { Q_CASES, qLabel, qMismatch, type QCase } from './q-cases.js';

const checkQOnCuda = async (c: QCase, seed: number) => { expect(await qMismatch(c, seed), qLabel(c)).toBeUndefined(); };

const emu = useEmulatedAddon();

describe('CUDA INT8 lowering on the emulated addon matches the CPU reference', () => {
  Q_CASES.forEach((c, i) => {
    it(qLabel(c), async () => { await checkQOnCuda(c, 300 + i); });
  });

  it('depthwise goes to qconvDirect, the rest to the dp4a GEMM kernels', async () => {
    const ctx = () => emu.addon.contexts.at(-1)!;
    const launched = () => ctx().launches.filter((k) => k.startsWith('q')).at(-1);
    await checkQOnCuda(Q_CASES[3]!, 1);
    expect(launched()).toBe('qconvDirect');
    await checkQOnCuda(Q_CASES[0]!, 1);
    expect(launched()).toBe('qconv');
    await checkQOnCuda(Q_CASES[12]!, 1);
    expect(launched()).toBe('qgemm');
  });
});

describe('weight packing', () => {
  it('conv: [M][taps][ceil(Cg/4)] words, channels of a tap in bytes 0..3, zero past Cg; row sums', () => {
    // M = 2, Cg = 5, 1x2 kernel: w[m, c, 0, t] = m * 100 + c * 10 + t - 60
    const w = new HostTensor('int8', [2, 5, 1, 2], Int8Array.from({ length: 20 }, (_, i) => { const m = Math.floor(i / 10), c = Math.floor(i / 2) % 5, t = i % 2; return m * 100 + c * 10 + t - 60; }));
    const p = packConvWeights(w);
    expect(p.words.length).toBe(2 * 2 * 2);
    const byte = (word: number, j: number) => (word << (24 - 8 * j)) >> 24;
    for (let m = 0; m < 2; m++) for (let t = 0; t < 2; t++) for (let c = 0; c < 8; c++) {
      const got = byte(p.words[(m * 2 + t) * 2 + (c >> 2)]!, c & 3);
      expect(got).toBe(c < 5 ? m * 100 + c * 10 + t - 60 : 0);
    }
    expect(Array.from(p.rowSum)).toEqual([0, 1].map((m) => Array.from(w.numbers.slice(m * 10, m * 10 + 10)).reduce((a, b) => a + b, 0)));
    expect(packConvWeights(w)).toBe(p); // once per weight tensor
  });

  it('gemm: [N][ceil(K/4)] words along K, with and without transB', () => {
    const K = 6, N = 3;
    const w = new HostTensor('int8', [K, N], Int8Array.from({ length: K * N }, (_, i) => i - 9));
    const wt = new HostTensor('int8', [N, K], Int8Array.from({ length: K * N }, (_, i) => w.numbers[(i % K) * N + Math.floor(i / K)]!));
    const a = packGemmWeights(w, false), b = packGemmWeights(wt, true);
    expect(Array.from(a.words)).toEqual(Array.from(b.words));
    expect(Array.from(a.rowSum)).toEqual(Array.from(b.rowSum));
    const byte = (word: number, j: number) => (word << (24 - 8 * j)) >> 24;
    for (let n = 0; n < N; n++) for (let k = 0; k < 8; k++) expect(byte(a.words[n * 2 + (k >> 2)]!, k & 3)).toBe(k < K ? w.numbers[k * N + n]! : 0);
  });
});

describe('precision int8 on cuda', () => {
  it('keeps the Q ops int8 on cuda and matches the CPU int8 session', async () => {
    const bytes = smallCnn({ batch: 1 });
    const fp32 = await InferenceSession.create(bytes);
    const r = seededRandom(11);
    const batch = () => ({ image: fromHostTensor(new HostTensor('float32', [1, 3, 8, 8], Float32Array.from({ length: 192 }, () => r() * 2 - 1))) });
    const table = await calibrate(fp32, [batch(), batch()], { algo: 'minmax' });
    const cuda = await InferenceSession.create(bytes, { precision: 'int8', calibrationTable: table, backends: ['cuda'], minSubgraphSize: 1 });
    const cpu = await InferenceSession.create(bytes, { precision: 'int8', calibrationTable: table, backends: ['cpu'] });
    const q = cuda.graph.nodes.filter((n) => n.domain === 'twinfer' && /^Q(Conv|Gemm|MatMul)$/.test(n.opType));
    expect(q.length).toBe(4);
    for (const n of q) expect(cuda.plan.partition.assignment.get(n)).toBe('cuda');
    expect(cuda.precisionReport!.counts.int8).toBe(4);
    const test = batch();
    const got = toHostTensor((await cuda.run(test))['logits']!).numbers, want = toHostTensor((await cpu.run(test))['logits']!).numbers;
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 * Math.abs(want[i]!) + 1e-5);
  });
});
