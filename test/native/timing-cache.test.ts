/**
 * The CUDA timing cache file (backends/native/timing-cache.ts) against a fake addon that holds
 * decisions the way native/src/conv.cu does: one per shape (the text before ':'), lines loaded from
 * a file never replacing a decision made in the process. The real addon's side runs on the GPU
 * (bench/native-build.ts measures cold and warm builds).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import '../../src/node.js';
import type { CudaContext } from '../../backends/native/device.js';
import { CUDA_TIMING_FORMAT, cudaDeviceKey, cudaTimingCachePath, loadCudaTimingCache, saveCudaTimingCache } from '../../backends/native/timing-cache.js';

function fakeCuda(device: string): CudaContext & { decisions: Map<string, string>; loads: number } {
  const decisions = new Map<string, string>();
  const fake = {
    decisions,
    loads: 0,
    addon: {
      timingCache: () => ({ lines: [...decisions.values()], timed: decisions.size, reused: 0 }),
      loadTimingCache(lines: string[]) {
        fake.loads++;
        let n = 0;
        for (const l of lines) {
          if (!/^conv2d( -?\d+){17}: (own|cudnn \d+)$/.test(l)) continue;
          const k = l.slice(0, l.indexOf(':'));
          if (!decisions.has(k)) { decisions.set(k, l); n++; }
        }
        return n;
      },
    },
    caps: { device, computeCapability: '9.0', runtimeVersion: 13000, libraries: ['cudnn'] },
  };
  return fake as unknown as CudaContext & { decisions: Map<string, string>; loads: number };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinfer-timing-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const shape = (n: number) => `conv2d ${n} 64 56 56 64 56 56 3 3 1 1 1 1 1 1 1 0`;

describe('CUDA timing cache file', () => {
  it('round-trips one device\'s decisions and keeps other devices\' entries', async () => {
    const file = path.join(dir, 'a.json');
    const a = fakeCuda('GPU A');
    a.decisions.set(shape(1), `${shape(1)}: cudnn 1`);
    a.decisions.set(shape(2), `${shape(2)}: own`);
    expect(await saveCudaTimingCache(a, file)).toBe(true);
    expect(await saveCudaTimingCache(a, file)).toBe(false); // nothing new: no write
    const b = fakeCuda('GPU B');
    b.decisions.set(shape(3), `${shape(3)}: cudnn 6`);
    await saveCudaTimingCache(b, file);
    const j = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(j.format).toBe(CUDA_TIMING_FORMAT);
    expect(Object.keys(j.devices).sort()).toEqual([cudaDeviceKey(a), cudaDeviceKey(b)].sort());

    const a2 = fakeCuda('GPU A');
    expect(await loadCudaTimingCache(a2, file)).toEqual({ file, accepted: 2 });
    expect([...a2.decisions.values()].sort()).toEqual([`${shape(1)}: cudnn 1`, `${shape(2)}: own`]);
    const c = fakeCuda('GPU C'); // another GPU: nothing applies
    expect((await loadCudaTimingCache(c, file)).accepted).toBe(0);
  });

  it('replaces a shape\'s old line with the process\'s decision', async () => {
    const file = path.join(dir, 'b.json');
    const a = fakeCuda('GPU A');
    a.decisions.set(shape(1), `${shape(1)}: cudnn 1`);
    await saveCudaTimingCache(a, file);
    const a2 = fakeCuda('GPU A');
    a2.decisions.set(shape(1), `${shape(1)}: own`);
    await saveCudaTimingCache(a2, file);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).devices[cudaDeviceKey(a)]).toEqual([`${shape(1)}: own`]);
  });

  it('ignores a missing or malformed file with the reason, never throws', async () => {
    const a = fakeCuda('GPU A');
    expect(await loadCudaTimingCache(a, path.join(dir, 'none.json'))).toEqual({ file: path.join(dir, 'none.json'), accepted: 0 });
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, '{ not json');
    expect((await loadCudaTimingCache(a, bad)).problem).toMatch(/^not JSON/);
    fs.writeFileSync(bad, JSON.stringify({ format: 'other', version: 1, devices: {} }));
    expect((await loadCudaTimingCache(a, bad)).problem).toBe(`not a ${CUDA_TIMING_FORMAT} file`);
    fs.writeFileSync(bad, JSON.stringify({ format: CUDA_TIMING_FORMAT, version: 99, devices: {} }));
    expect((await loadCudaTimingCache(a, bad)).problem).toMatch(/version 99/);
    fs.writeFileSync(bad, JSON.stringify({ format: CUDA_TIMING_FORMAT, version: 1, devices: { x: [1] } }));
    expect((await loadCudaTimingCache(a, bad)).problem).toMatch(/not a list of strings/);
    // Saving over a malformed file rewrites it.
    a.decisions.set(shape(1), `${shape(1)}: own`);
    expect(await saveCudaTimingCache(a, bad)).toBe(true);
    expect((await loadCudaTimingCache(fakeCuda('GPU A'), bad)).accepted).toBe(1);
  });

  it('takes the path from the option, then TWINFER_CUDA_TIMING_CACHE, then HOME; off disables', () => {
    const old = process.env['TWINFER_CUDA_TIMING_CACHE'];
    try {
      process.env['TWINFER_CUDA_TIMING_CACHE'] = '/tmp/x.json';
      expect(cudaTimingCachePath('y.json')).toBe('y.json');
      expect(cudaTimingCachePath()).toBe('/tmp/x.json');
      expect(cudaTimingCachePath('off')).toBeUndefined();
      process.env['TWINFER_CUDA_TIMING_CACHE'] = 'off';
      expect(cudaTimingCachePath()).toBeUndefined();
      delete process.env['TWINFER_CUDA_TIMING_CACHE'];
      expect(cudaTimingCachePath()).toBe(`${process.env['HOME']}/.cache/twinfer/cuda-timing.json`);
    } finally {
      if (old === undefined) delete process.env['TWINFER_CUDA_TIMING_CACHE']; else process.env['TWINFER_CUDA_TIMING_CACHE'] = old;
    }
  });
});

describe('CUDA feeds', () => {
  it('share the caller\'s array where it is already the host form of the type, else copy', async () => {
    const { sharedCudaFeed } = await import('../../src/api/session-cuda.js');
    const { Tensor } = await import('../../src/api/tensor.js');
    const f = new Float32Array([1, 2, 3, 4]);
    expect(sharedCudaFeed(new Tensor('float32', f, [2, 2]))!.data).toBe(f);
    const i = new Int32Array([1, 2]);
    expect(sharedCudaFeed(new Tensor('int32', i, [2]))!.data).toBe(i);
    // Host forms differ (float16 decodes to f32, int64 to float64): the usual copy.
    expect(sharedCudaFeed(new Tensor('float16', new Uint16Array(2), [2]))).toBeUndefined();
    expect(sharedCudaFeed(new Tensor('int64', new BigInt64Array(2), [2]))).toBeUndefined();
    expect(sharedCudaFeed(new Tensor('string', ['a'], [1]))).toBeUndefined();
  });
});
