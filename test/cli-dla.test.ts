/**
 * `twinfer run --dla-core N` reaches the TensorRT executor's build options: with TensorRT absent (as on
 * every machine here) the session says why and runs on the next backend; without tensorrt in the
 * backend list the flag is a one-line error.
 */
import { describe, expect, it } from 'vitest';
import { runModel } from '../src/cli/run.js';
import { ppocrModels } from '../src/testing/ppocr.js';
import '../src/node.js';

const cls = ppocrModels()[0]!;
const base = { inputs: new Map<string, string>(), shapes: new Map([['x', cls.dims]]), iterations: 1, warmup: 0, seed: 1 };

describe('twinfer run --dla-core', () => {
  it('needs the tensorrt backend', async () => {
    await expect(runModel(cls.file, { ...base, backend: 'cpu', dlaCore: 0 })).rejects.toThrow(/--dla-core needs the tensorrt backend/);
  });
  it('passes through to TensorRT and falls back when TensorRT is unavailable', async () => {
    const r = await runModel(cls.file, { ...base, backend: 'tensorrt,cpu' as never, dlaCore: 1 });
    expect(r.backend).toBe('cpu');
    expect(r.outputs[0]!.dims).toEqual([1, 2]);
  });
});
