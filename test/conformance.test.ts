/**
 * ONNX conformance on the CPU backend: every target case (ops all in ../shared/ops.txt) must pass
 * unless test/conformance-expectations.cpu.json lists it with a reason; a listed case that now
 * passes fails too, so the file stays true. Tolerance: rtol 1e-3, atol 1e-5 (onnxruntime's runner).
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { runTargetCases, type Expectations } from '../src/testing/conformance.js';

const expectations: Expectations = JSON.parse(fs.readFileSync(new URL('./conformance-expectations.cpu.json', import.meta.url), 'utf8'));

describe('ONNX node conformance (cpu)', () => {
  it('matches the expectations file and passes >= 97% of target cases', async () => {
    const results = await runTargetCases('cpu');
    const unexpected = results.filter((r) => r.status !== 'pass' && !(r.name in expectations))
      .map((r) => `${r.name}: ${r.status} ${r.reason ?? ''}`);
    const nowPassing = results.filter((r) => r.status === 'pass' && r.name in expectations).map((r) => r.name);
    expect(unexpected, 'cases that do not pass and are not in the expectations file').toEqual([]);
    expect(nowPassing, 'cases listed as failing that now pass: remove them from the expectations file').toEqual([]);
    const passed = results.filter((r) => r.status === 'pass').length;
    expect(passed / results.length).toBeGreaterThanOrEqual(0.97);
    for (const [name, reason] of Object.entries(expectations)) expect(reason.length, `reason for ${name}`).toBeGreaterThan(10);
  });

  it('gives the same verdict on every case (all 1,802) at opt-level 0 and 2', async () => {
    const verdicts = async (level: 0 | 2) => new Map((await runTargetCases('cpu', undefined, level, true)).map((r) => [r.name, r.status]));
    const [v0, v2] = [await verdicts(0), await verdicts(2)];
    const diff = [...v0].filter(([k, s]) => v2.get(k) !== s).map(([k, s]) => `${k}: ${s} at 0, ${v2.get(k)} at 2`);
    expect(diff).toEqual([]);
    expect(v0.size).toBeGreaterThan(1000);
  });
});
