/**
 * ONNX conformance on the CUDA backend (`cuda` alone: a case with a node CUDA cannot run is
 * 'unsupported'), here through the emulated addon (emulator.ts: the kernels' parameter lists in
 * plain loops), so the lowering of every target case is checked on machines without a GPU. On the
 * H100 the real addon gave the same 1248 / 1306 (the expectations file lists the other 58 with
 * their reasons). Tolerance rtol 1e-3 / atol 1e-5 (the runner's).
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_TESTS, runTargetCases, type Expectations } from '../../src/testing/conformance.js';
import { useEmulatedAddon } from './use-emulated-addon.js';

const expectations: Expectations = JSON.parse(fs.readFileSync(new URL('../conformance-expectations.cuda.json', import.meta.url), 'utf8'));

useEmulatedAddon();

describe.skipIf(!fs.existsSync(NODE_TESTS))('ONNX node conformance (cuda, emulated addon)', () => {
  it('matches the expectations file and passes >= 95% of target cases', async () => {
    const results = await runTargetCases('cuda');
    const unexpected = results.filter((r) => r.status !== 'pass' && !(r.name in expectations)).map((r) => `${r.name}: ${r.status} ${r.reason ?? ''}`.slice(0, 300));
    const nowPassing = results.filter((r) => r.status === 'pass' && r.name in expectations).map((r) => r.name);
    expect(unexpected, 'cases that do not pass and are not in the expectations file').toEqual([]);
    expect(nowPassing, 'cases listed as failing that now pass: remove them from the expectations file').toEqual([]);
    const passed = results.filter((r) => r.status === 'pass').length;
    expect(passed / results.length).toBeGreaterThanOrEqual(0.95);
  }, 300_000);
});
