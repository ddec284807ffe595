/**
 * `twinfer devices`: one entry per backend, each available with its device and capabilities or
 * unavailable with the reason a session would log. What this machine should show depends on it:
 * cpu always; webgpu where a Vulkan driver (lavapipe here) is installed; cuda unavailable with CUDA
 * error 35 where the addon is built and no driver exists; tensorrt unavailable unless the TensorRT
 * addon was built (TENSORRT_ROOT).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import '../src/node.js';
import { devicesCommand, formatDevices, listDevices, type DeviceEntry } from '../src/cli/devices.js';
import { nativeAddonPath } from '../src/node-native.js';
import { trtAddonPath } from '../backends/tensorrt/node.js';
import { TRT_NOT_BUILT } from '../backends/tensorrt/addon.js';

function hasLibcuda(): boolean {
  for (const bin of ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig']) {
    const r = spawnSync(bin, ['-p'], { encoding: 'utf8' });
    if (r.status === 0) { if (/\blibcuda\.so\.1\b/.test(r.stdout)) return true; break; }
  }
  return (process.env['LD_LIBRARY_PATH'] ?? '').split(':').filter(Boolean).some((d) => fs.existsSync(path.join(d, 'libcuda.so.1')));
}

/** A Vulkan ICD is installed (lavapipe or a GPU driver): Dawn then finds an adapter. */
const hasVulkan = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'].some((d) => fs.existsSync(d) && fs.readdirSync(d).some((f) => f.endsWith('.json')));

describe('twinfer devices', async () => {
  const list = await listDevices();
  const by = (b: string) => list.find((e) => e.backend === b)!;
  afterAll(() => { vi.restoreAllMocks(); });

  it('lists cpu, webgpu, cuda and tensorrt in that order, each available or with a reason', () => {
    expect(list.map((e) => e.backend)).toEqual(['cpu', 'webgpu', 'cuda', 'tensorrt']);
    for (const e of list) {
      if (e.available) { expect(e.device).toBeTruthy(); expect(e.reason).toBeUndefined(); } else expect(e.reason).toBeTruthy();
    }
  });

  it('cpu: threads and WebAssembly SIMD', () => {
    const c = by('cpu');
    expect(c.available).toBe(true);
    expect(c.capabilities).toMatchObject({ wasmSimd: true });
    expect(c.capabilities!['threads']).toBeGreaterThanOrEqual(1);
  });

  it(hasVulkan ? 'webgpu: available (a Vulkan driver is installed), with features, limits and packed int8 dot products' : 'webgpu: unavailable without a Vulkan driver, with the reason', () => {
    const w = by('webgpu');
    expect(w.available).toBe(hasVulkan);
    if (!hasVulkan) return;
    expect(w.capabilities).toHaveProperty('packed_4x8_integer_dot_product');
    expect(w.capabilities).toHaveProperty('features');
    expect(w.capabilities!['maxStorageBufferBindingSize']).toBeGreaterThan(0);
  });

  it('cuda: the addon probe, or why not (error 35 without a driver)', () => {
    const c = by('cuda');
    if (!nativeAddonPath()) { expect(c).toMatchObject({ available: false, reason: expect.stringMatching(/native addon not built/) }); return; }
    if (!hasLibcuda()) {
      expect(c.available).toBe(false);
      expect(c.reason).toBe('cudaErrorInsufficientDriver (35): CUDA driver version is insufficient for CUDA runtime version');
      expect(c.capabilities).toMatchObject({ driver: 'none' });
      // Optional libraries by name: the soname loaded, or null where absent.
      expect(Object.keys(c.capabilities!['libraries'] as object)).toEqual(['cublasLt', 'cudnn']);
      return;
    }
    if (c.available) expect(c.device).toMatch(/sm_\d+/);
  });

  it('tensorrt: unavailable unless the TensorRT addon was built', () => {
    const t = by('tensorrt');
    if (!trtAddonPath()) expect(t).toEqual({ backend: 'tensorrt', available: false, reason: TRT_NOT_BUILT });
    else expect(typeof t.available).toBe('boolean');
  });

  it('--json prints an array of {backend, available, device?, capabilities?, reason?}; the text form has one header line per backend', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((s: string) => { out.push(s); });
    expect(await devicesCommand(['--json'])).toBe(0);
    spy.mockRestore();
    const parsed = JSON.parse(out.join('\n')) as DeviceEntry[];
    expect(parsed.map((e) => e.backend)).toEqual(['cpu', 'webgpu', 'cuda', 'tensorrt']);
    for (const e of parsed) for (const k of Object.keys(e)) expect(['backend', 'available', 'device', 'capabilities', 'reason']).toContain(k);
    const text = formatDevices(list).split('\n').filter((l) => !l.startsWith(' '));
    expect(text.map((l) => l.split(/\s+/)[0])).toEqual(['cpu', 'webgpu', 'cuda', 'tensorrt']);
    expect(text[3]).toContain(by('tensorrt').available ? 'available' : 'unavailable');
    await expect(devicesCommand(['extra'])).rejects.toThrow(/devices takes no arguments/);
  });
});
