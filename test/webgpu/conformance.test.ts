/**
 * ONNX conformance on WebGPU (Dawn on this machine's Vulkan driver: lavapipe in CI), strict
 * (`webgpu` alone: a case with a node WebGPU cannot run is 'unsupported') and with CPU fallback
 * (`webgpu,cpu`). Every target case must pass unless its expectations file lists it with a reason;
 * targets: >= 95% strict, >= 97% with fallback. Tolerance rtol 1e-3 / atol 1e-5 (the runner's).
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { runTargetCases, type Expectations } from '../../src/testing/conformance.js';

const load = (b: string): Expectations => JSON.parse(fs.readFileSync(new URL(`../conformance-expectations.${b}.json`, import.meta.url), 'utf8'));

for (const [backend, file, target] of [['webgpu', 'webgpu', 0.95], ['webgpu,cpu', 'webgpu-cpu', 0.97]] as const) {
  describe(`ONNX node conformance (${backend})`, () => {
    it(`matches the expectations file and passes >= ${target * 100}% of target cases`, async () => {
      const expectations = load(file);
      const results = await runTargetCases(backend);
      const unexpected = results.filter((r) => r.status !== 'pass' && !(r.name in expectations)).map((r) => `${r.name}: ${r.status} ${r.reason ?? ''}`.slice(0, 300));
      const nowPassing = results.filter((r) => r.status === 'pass' && r.name in expectations).map((r) => r.name);
      expect(unexpected, 'cases that do not pass and are not in the expectations file').toEqual([]);
      expect(nowPassing, 'cases listed as failing that now pass: remove them from the expectations file').toEqual([]);
      const passed = results.filter((r) => r.status === 'pass').length;
      console.log(`${backend}: ${passed}/${results.length} target cases pass`);
      expect(passed / results.length).toBeGreaterThanOrEqual(target);
    }, 1_500_000);
  });
}
