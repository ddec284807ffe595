/**
 * The WebGPU tuning cache (backends/webgpu/tuning.ts): tactics timed at session build on this
 * adapter, written to the `tuningCache` file, reused by the next build without timing; every tactic
 * a cache can hold gives outputs matching the CPU backend (rtol 1e-3 / atol 1e-4: f32 both sides;
 * Winograd and split-K regroup the sums).
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InferenceSession, Tensor } from '../../src/node.js';
import { acquireGpu } from '../../backends/webgpu/device.js';
import { TUNING_VERSION, clearTuningMemory, type TuningSession } from '../../backends/webgpu/tuning.js';
import type { HybridExecutor } from '../../src/engine/hybrid-executor.js';
import { toHostTensor } from '../../src/api/tensor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { seededRandom } from '../../src/cli/run.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { deepConv, tinyCnn } from './replay-models.js';

const gpu = await acquireGpu().catch(() => undefined);
const dir = gpu ? makeTmpDir('tuning') : '';
afterAll(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

const tuningOf = (s: InferenceSession) => (s.plan.executor as HybridExecutor).tuning as TuningSession;

async function matchesCpu(model: Uint8Array, s: InferenceSession, dims: number[]): Promise<void> {
  const r = seededRandom(dims.length + dims[1]!);
  const x = new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1), dims);
  const cpu = await InferenceSession.create(model, { backends: ['cpu'] });
  const [a, b] = [await s.run({ x }), await cpu.run({ x })];
  for (const k of Object.keys(b)) expect(compareTensors(toHostTensor(a[k]!), toHostTensor(b[k]!), 1e-3, 1e-4).reason, k).toBeUndefined();
}

describe.skipIf(!gpu)('webgpu tuning cache', () => {
  it('times at build, persists, and a second build reuses without timing', async () => {
    const file = path.join(dir, 'cache.json');
    clearTuningMemory();
    const model = deepConv();
    const a = await InferenceSession.create(model, { backends: ['webgpu'], tuning: true, tuningCache: file });
    expect(tuningOf(a).timed).toBe(1);
    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { version: number; adapters: Record<string, Record<string, string>> };
    expect(saved.version).toBe(TUNING_VERSION);
    const entries = saved.adapters[gpu!.caps.adapter]!;
    expect(Object.values(entries)).toHaveLength(1);
    expect(['gemm', 'gemm-nosplit', 'winograd2']).toContain(Object.values(entries)[0]);
    await matchesCpu(model, a, [1, 64, 6, 6]);

    clearTuningMemory(); // a new process: only the file remembers
    const b = await InferenceSession.create(model, { backends: ['webgpu'], tuning: true, tuningCache: file });
    expect(tuningOf(b).timed).toBe(0);
    expect(tuningOf(b).reused).toBe(1);
    await matchesCpu(model, b, [1, 64, 6, 6]);
  });

  it('every tactic a cache can name matches the CPU', async () => {
    const model = deepConv();
    for (const tactic of ['gemm', 'gemm-nosplit', 'winograd2', 'gemm@16x16x16', 'gemm@16x8x8r8x4']) {
      const file = path.join(dir, `${tactic}.json`);
      const sig = 'conv:n1c64m32g1:i1x6x6:k1x3x3:s1x1x1:d1x1x1:p0x1x1-0x1x1';
      fs.writeFileSync(file, JSON.stringify({ version: TUNING_VERSION, adapters: { [gpu!.caps.adapter]: { [sig]: tactic } } }));
      clearTuningMemory();
      const s = await InferenceSession.create(model, { backends: ['webgpu'], tuning: false, tuningCache: file });
      expect(tuningOf(s).reused, tactic).toBe(1);
      await matchesCpu(model, s, [1, 64, 6, 6]);
    }
  });

  it('tuning off times nothing; a graph with several convs tunes each once', async () => {
    clearTuningMemory();
    const off = await InferenceSession.create(tinyCnn(2), { backends: ['webgpu'], tuning: false });
    expect(tuningOf(off).timed).toBe(0);
    const on = await InferenceSession.create(tinyCnn(2), { backends: ['webgpu'], tuning: true });
    expect(tuningOf(on).timed).toBe(2);
    await matchesCpu(tinyCnn(2), on, [2, 4, 10, 10]);
  });
});
