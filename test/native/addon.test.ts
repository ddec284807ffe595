/**
 * The native addon's build and availability:
 *  - without a CUDA toolkit the install hook prints one line saying the backend was skipped and
 *    succeeds;
 *  - where a toolkit is (or a build was carried over), the addon exists and loads, and its function
 *    and kernel tables are the ones of native/src/functions.h (which the emulated addon follows);
 *  - without a driver the backend is unavailable with CUDA's error text (error 35 where no
 *    libcuda.so.1 exists at all), and backends ['cuda', 'cpu'] moves on to the CPU with a logged
 *    line; backends ['cuda'] alone fails at creation with the same reason.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InferenceSession, Tensor } from '../../src/node.js';
import { nativeAddonPath } from '../../src/node-native.js';
import { loadNativeAddon } from '../../backends/native/addon.js';
import { cudaStatus } from '../../backends/native/device.js';
import { CUDA_KERNELS } from '../../backends/native/support.js';
import { toHostTensor } from '../../src/api/tensor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { randomTensor, seededRandom } from '../helpers/ort-single-op.js';
import { chainModel } from './cases.js';
import { EMULATED_KERNELS, FUNCTION_NAMES } from './emulator.js';
import { CUDNN_ONLY_KERNELS } from './emulator-nhwc.js';

function hasNvcc(): boolean {
  const dirs = [process.env['CUDA_HOME'], process.env['CUDA_PATH'], '/usr/local/cuda'].filter(Boolean).map((d) => path.join(d!, 'bin'));
  dirs.push(...(process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean));
  return dirs.some((d) => fs.existsSync(path.join(d, 'nvcc')));
}

/** Whether the dynamic loader could find a CUDA driver library at all. */
function hasLibcuda(): boolean {
  for (const bin of ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig']) {
    const r = spawnSync(bin, ['-p'], { encoding: 'utf8' });
    if (r.status === 0) { if (/\blibcuda\.so\.1\b/.test(r.stdout)) return true; break; }
  }
  return (process.env['LD_LIBRARY_PATH'] ?? '').split(':').filter(Boolean).some((d) => fs.existsSync(path.join(d, 'libcuda.so.1')));
}

describe('building the native addon', () => {
  it('the install hook without a CUDA toolkit prints one line and succeeds', () => {
    const r = spawnSync(process.execPath, ['native/build.mjs', '--if-cuda'], { encoding: 'utf8', env: { ...process.env, TWINFER_NVCC: 'none' } });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.trimEnd().split('\n')).toEqual(['twinfer: native CUDA backend skipped: no CUDA toolkit (nvcc) found; install one and run `npm run build:native`']);
  });

  it('npm run build:native without a CUDA toolkit fails with that line', () => {
    const r = spawnSync(process.execPath, ['native/build.mjs'], { encoding: 'utf8', env: { ...process.env, TWINFER_NVCC: 'none' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/native CUDA backend not built: no CUDA toolkit/);
  });

  const built = nativeAddonPath();
  it(built ? `the addon was built and loads (${path.relative(process.cwd(), built)})` : 'without a toolkit there is no addon, and the backend says so', () => {
    if (!built) {
      expect(hasNvcc(), 'nvcc is here, so the install hook should have built the addon (see build/native/build.log, or run npm run build:native)').toBe(false);
      expect(cudaStatus()).toEqual({ available: false, reason: 'native addon not built (npm run build:native needs a CUDA toolkit)' });
      return;
    }
    const addon = loadNativeAddon();
    expect(addon.functions()).toEqual(FUNCTION_NAMES);
    // conv2dNhwcHalf is listed only where libcudnn opens (native/src/conv.cu registerConv).
    const cudnn = addon.kernels().includes('conv2dNhwcHalf');
    expect(addon.kernels().sort()).toEqual(EMULATED_KERNELS.filter((k) => cudnn || !CUDNN_ONLY_KERNELS.includes(k)).sort());
    const p = addon.probe();
    expect(p.runtimeVersion).toBeGreaterThan(0);
    expect(p.archs).toMatch(/^\d+[af]?(,\d+[af]?)*$/);
    expect(p.libraries.map((l) => l.name)).toEqual(['cublasLt', 'cudnn']);
  });
});

describe('availability', () => {
  const s = cudaStatus();

  it(s.available ? 'CUDA is available: a device that runs this build' : 'CUDA is unavailable, with the reason', () => {
    if (s.available) {
      expect(s.probe!.devices.some((d) => d.kernelImage)).toBe(true);
      return;
    }
    expect(s.reason).toBeTruthy();
    if (s.probe) {
      // The addon loaded: the reason is CUDA's own error text.
      expect(s.reason).toBe(s.probe.error);
      if (s.probe.devices.length === 0 && s.probe.errorCode !== 0) expect(s.reason).toMatch(/^cuda\w+ \(\d+\): \S.+/);
      if (!hasLibcuda()) {
        expect(s.probe.errorCode).toBe(35);
        expect(s.reason).toBe('cudaErrorInsufficientDriver (35): CUDA driver version is insufficient for CUDA runtime version');
        expect(s.probe.driverVersion).toBe(0);
      }
    }
  });

  it(`backends ['cuda', 'cpu'] ${s.available ? 'runs on cuda' : 'moves on to the CPU and logs why'}`, async () => {
    const model = chainModel();
    const logs: string[] = [];
    const sess = await InferenceSession.create(model, { backends: ['cuda', 'cpu'], minSubgraphSize: 1, optimizationLevel: 0, log: (m) => logs.push(m) });
    const cpu = await InferenceSession.create(model, { backends: ['cpu'], optimizationLevel: 0 });
    if (s.available) expect(sess.plan.backends).toEqual(['cuda', 'cpu']);
    else {
      expect(sess.plan.backends).toEqual(['cpu']);
      expect(logs[0]).toBe(`twinfer: backends unavailable: cuda (UNSUPPORTED: CUDA: ${s.reason})`);
    }
    const rand = seededRandom(9);
    const feeds = { x: new Tensor('float32', randomTensor('float32', [1, 3, 8, 8], rand).data as Float32Array, [1, 3, 8, 8]), x2: new Tensor('float32', randomTensor('float32', [6], rand).data as Float32Array, [6]) };
    const got = await sess.run(feeds), want = await cpu.run(feeds);
    expect(compareTensors(toHostTensor(got.y!), toHostTensor(want.y!), 1e-3, 1e-4).reason).toBeUndefined();
  });

  it.skipIf(s.available)("backends ['cuda'] alone fails at creation, naming the reason", async () => {
    await expect(InferenceSession.create(chainModel(), { backends: ['cuda'] })).rejects.toThrow(`none of the backends [cuda] is available here: cuda (UNSUPPORTED: CUDA: ${s.reason})`);
  });

  it('the support list covers the ops of the first kernels', () => {
    for (const op of ['Conv', 'twinfer.FusedConv', 'Gemm', 'MatMul', 'twinfer.FusedGemm', 'twinfer.FusedMatMul', 'Add', 'Mul', 'Relu', 'Sigmoid', 'Clip', 'Gelu']) {
      expect(Object.keys(CUDA_KERNELS)).toContain(op);
    }
  });
});
