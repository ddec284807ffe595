/**
 * The CUDA INT8 kernels (native/src/qconv.cu) on the real addon against the CPU reference, on a
 * machine with an NVIDIA GPU (`npm run build:native`, then this file); the same cases as the
 * emulated run in q-kernels.test.ts. Skipped, with the probe's reason, where CUDA is unavailable.
 */
import { describe, expect, it } from 'vitest';
import { cudaStatus } from '../../backends/native/device.js';
import { Q_CASES, qLabel, qMismatch, type QCase } from './q-cases.js';

const checkQOnCuda = async (c: QCase, seed: number) => { expect(await qMismatch(c, seed), qLabel(c)).toBeUndefined(); };

const status = cudaStatus();

it(`CUDA INT8 kernels: ${status.available ? 'CUDA available' : `skipped, CUDA unavailable: ${status.reason}`}`, () => {
  expect(status.available || !!status.reason).toBe(true);
});

describe.skipIf(!status.available)('CUDA INT8 kernels match the CPU reference', () => {
  Q_CASES.forEach((c, i) => {
    it(qLabel(c), async () => { await checkQOnCuda(c, 300 + i); });
  });
});
