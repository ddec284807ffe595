/**
 * Real models: the three PP-OCR models on twinfer's CPU backend against onnxruntime-node's CPU
 * provider, same seeded image-like input, at optimization level 2 (default) and 0. Tolerance rtol 1e-3 / atol 1e-4: float32 end to end,
 * where summation order differences across ~60 conv layers stay well inside 1e-4 absolute on
 * softmax/sigmoid outputs in [0, 1].
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { InferenceSession, Tensor } from '../src/node.js';
import { fromHostTensor, toHostTensor } from '../src/api/tensor.js';
import { compareTensors } from '../src/testing/compare.js';
import { ppocrInput, ppocrModels } from '../src/testing/ppocr.js';

describe('PP-OCR models match onnxruntime-node (cpu)', () => {
  for (const m of ppocrModels()) {
    it(`${m.name} ${m.dims.join('x')}`, async () => {
      const x = ppocrInput(m.dims);
      const mine = await InferenceSession.create(m.file);
      const ours = await mine.run({ x: fromHostTensor(x) });
      // The unoptimized graph must give the same outputs (folding BN changes rounding only).
      const plain = await InferenceSession.create(m.file, { optimizationLevel: 0 });
      expect(plain.optimizeReport.after.nodes).toBe(plain.optimizeReport.before.nodes);
      expect(mine.optimizeReport.after.nodes).toBeLessThan(mine.optimizeReport.before.nodes);
      const unopt = await plain.run({ x: fromHostTensor(x) });
      const ref = await ort.InferenceSession.create(fs.readFileSync(m.file));
      const theirs = await ref.run({ x: new ort.Tensor('float32', x.data as Float32Array, m.dims) });
      for (const name of mine.outputNames) {
        const a = toHostTensor(ours[name]!);
        const b = toHostTensor(theirs[name] as unknown as Tensor);
        const c = compareTensors(a, b, 1e-3, 1e-4);
        expect(c.reason, `${m.name} ${name}`).toBeUndefined();
        expect(c.ok).toBe(true);
        const c0 = compareTensors(a, toHostTensor(unopt[name]!), 1e-4, 1e-5);
        expect(c0.reason, `${m.name} ${name} opt-level 2 vs 0`).toBeUndefined();
      }
      await ref.release();
    });
  }
});
