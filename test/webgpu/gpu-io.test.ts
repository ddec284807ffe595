/**
 * GPU-buffer IO: Tensor.fromGpuBuffer feeds (no host round trip) and
 * preferredOutputLocation 'gpu-buffer' outputs (location 'gpu-buffer', getData() downloads, dispose()
 * returns the buffer). Checked against the CPU backend (rtol 1e-3 / atol 1e-4: f32 both sides, other
 * summation order), on the replay path (static dims) and the recording path (symbolic dims).
 */
import { describe, expect, it } from 'vitest';
import { InferenceSession, Tensor } from '../../src/node.js';
import { acquireGpu } from '../../backends/webgpu/device.js';
import { toHostTensor } from '../../src/api/tensor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { seededRandom } from '../../src/cli/run.js';
import { tinyCnn } from './replay-models.js';

const gpuAvailable = await acquireGpu().then(() => true, () => false);

function data(n: number, seed: number): Float32Array {
  const r = seededRandom(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

async function gpuBuffer(values: Float32Array): Promise<GPUBuffer> {
  const { device } = await acquireGpu();
  const b = device.createBuffer({ size: values.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(b, 0, values);
  return b;
}

function close(a: Tensor, b: Tensor, what: string): void {
  expect(compareTensors(toHostTensor(a), toHostTensor(b), 1e-3, 1e-4).reason, what).toBeUndefined();
}

describe.skipIf(!gpuAvailable)('webgpu GPU-buffer IO', () => {
  for (const batch of [2, 'N'] as const) {
    it(`GPU feeds and GPU outputs (batch ${batch})`, async () => {
      const model = tinyCnn(batch);
      const gpu = await InferenceSession.create(model, { backends: ['webgpu'], preferredOutputLocation: 'gpu-buffer' });
      const cpu = await InferenceSession.create(model, { backends: ['cpu'] });
      for (let i = 0; i < 3; i++) {
        const x = data(2 * 4 * 10 * 10, 20 + i);
        const feed = Tensor.fromGpuBuffer(await gpuBuffer(x), { dataType: 'float32', dims: [2, 4, 10, 10] });
        expect(feed.location).toBe('gpu-buffer');
        expect(() => feed.data).toThrow(/getData/);
        const out = await gpu.run({ x: feed });
        const ref = await cpu.run({ x: new Tensor('float32', x, [2, 4, 10, 10]) });
        for (const k of ['y', 'feat']) {
          const t = out[k]!;
          expect(t.location, k).toBe('gpu-buffer');
          expect(t.gpuBuffer.size).toBeGreaterThanOrEqual(t.size * 4);
          await t.getData(true); // downloads, then gives the buffer back
          expect(t.location).toBe('cpu');
          close(t, ref[k]!, `${k} run ${i}`);
        }
        feed.gpuBuffer.destroy();
      }
    });
  }

  it('release() waits for the run in flight, frees the session, keeps returned GPU outputs; later runs reject', async () => {
    const model = tinyCnn(2);
    const gpu = await InferenceSession.create(model, { backends: ['webgpu'], preferredOutputLocation: 'gpu-buffer' });
    const cpu = await InferenceSession.create(model, { backends: ['cpu'] });
    const x = new Tensor('float32', data(2 * 4 * 10 * 10, 40), [2, 4, 10, 10]);
    const kept = (await gpu.run({ x }))['y']!;
    const inFlight = gpu.run({ x });
    await gpu.release();
    const last = await inFlight; // started before release: completes
    await expect(gpu.run({ x })).rejects.toThrow(/the session was released/);
    const ref = await cpu.run({ x });
    for (const t of [kept, last['y']!]) { await t.getData(true); close(t, ref['y']!, 'an output of the released session'); }
    await gpu.release(); // twice: a no-op
  });

  it('host feeds with GPU outputs; GPU feeds with host outputs; an output chained as the next feed', async () => {
    const model = tinyCnn(2);
    const x = data(800, 5);
    const cpu = await InferenceSession.create(model, { backends: ['cpu'] });
    const ref = await cpu.run({ x: new Tensor('float32', x, [2, 4, 10, 10]) });
    const onGpu = await InferenceSession.create(model, { backends: ['webgpu'], preferredOutputLocation: 'gpu-buffer' });
    const a = await onGpu.run({ x: new Tensor('float32', x, [2, 4, 10, 10]) });
    expect(a.y!.location).toBe('gpu-buffer');
    close(new Tensor('float32', (await a.y!.getData()) as Float32Array, [2, 10]), ref.y!, 'y');
    const onHost = await InferenceSession.create(model, { backends: ['webgpu'] });
    const b = await onHost.run({ x: Tensor.fromGpuBuffer(await gpuBuffer(x), { dataType: 'float32', dims: [2, 4, 10, 10] }) });
    expect(b.y!.location).toBe('cpu');
    close(b.y!, ref.y!, 'y (host output)');
    // A GPU output fed to another session without leaving the GPU; the CPU backend downloads it.
    const feat = a.feat!;
    const c = await onHost.run({ x: Tensor.fromGpuBuffer(feat.gpuBuffer, { dataType: 'float32', dims: [2, 4, 10, 10] }) });
    const d = await cpu.run({ x: Tensor.fromGpuBuffer(feat.gpuBuffer, { dataType: 'float32', dims: [2, 4, 10, 10] }) });
    close(c.y!, d.y!, 'chained');
    feat.dispose();
    expect(feat.location).toBe('cpu');
  });

  it('rejects a GPU feed with the wrong dims or too small a buffer', async () => {
    const gpu = await InferenceSession.create(tinyCnn(2), { backends: ['webgpu'] });
    const buf = await gpuBuffer(new Float32Array(800));
    await expect(gpu.run({ x: Tensor.fromGpuBuffer(buf, { dataType: 'float32', dims: [1, 4, 10, 10] }) })).rejects.toThrow(/dim 0 must be 2/);
    expect(() => Tensor.fromGpuBuffer(buf, { dataType: 'float32', dims: [3, 4, 10, 10] })).toThrow(/cannot hold/);
  });
});
