/**
 * Cross-backend agreement on the GPU machine (issue 6): cuda, webgpu and cpu on the PP-OCR models
 * and the standard architectures; fp32 within rtol 1e-3 / atol 1e-4 of the CPU backend, fp16 / int8
 * cosine to the CPU's fp32 output >= 0.9999 / 0.99 (bench/cross-backend.ts has the checks; the GPU
 * machine, which has no vitest, runs that script). Skipped where CUDA is unavailable, with the reason.
 */
import { describe, expect, it } from 'vitest';
import { cudaStatus } from '../../backends/native/device.js';
import { agreementCases, checkAgreement } from '../../bench/cross-backend.js';

const status = cudaStatus();

describe.skipIf(!status.available)(`cuda, webgpu and cpu agree${status.available ? '' : ` (skipped: ${status.reason})`}`, () => {
  for (const c of agreementCases()) {
    it(c.name, async () => {
      const rows = await checkAgreement(c, ['cuda', 'webgpu']);
      for (const r of rows) expect(r.ok, `${r.model} ${r.precision} ${r.backend}: ${r.metric} ${r.value} (${r.onBackend})`).toBe(true);
    }, 300_000);
  }
});
