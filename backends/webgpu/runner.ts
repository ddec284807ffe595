/**
 * Records GPU work for one run: buffers from a size-bucketed pool, pipelines from a cache keyed
 * by compile-time facts, one command encoder per run (submitted once, at the end or at a fallback
 * crossing), and uploads / readbacks at backend crossings.
 *
 * Shader convention (see program.ts): bindings 0..n-1 are the inputs (read-only storage), then the
 * outputs (read_write storage), then one read-only `array<u32>` of parameters (dims, strides,
 * scalars bitcast), so run-time sizes never force a recompile.
 */
import type { DType } from '../../src/ir/dtype.js';
import type { HostTensor } from '../../src/ir/tensor.js';
import { TwinferError } from '../../src/errors.js';
import type { GpuContext } from './device.js';
import { GpuTensor, fromGpuBytes, toGpuArray } from './tensor.js';
import type { Program } from './program.js';

const MIN_BYTES = 16;

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  constructor(private readonly device: GPUDevice) {}

  /** Buckets: multiples of 256 bytes up to 64 KiB, then powers of two (bounded waste, high reuse). */
  static bucket(bytes: number): number {
    const b = Math.max(MIN_BYTES, bytes);
    if (b <= 65536) return Math.ceil(b / 256) * 256;
    return 2 ** Math.ceil(Math.log2(b));
  }

  acquire(bytes: number): GPUBuffer {
    const size = BufferPool.bucket(bytes);
    const list = this.free.get(size);
    const b = list?.pop();
    if (b) return b;
    return this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  }

  release(b: GPUBuffer): void {
    const list = this.free.get(b.size);
    if (list) list.push(b); else this.free.set(b.size, [b]);
  }

  destroy(): void {
    for (const l of this.free.values()) for (const b of l) b.destroy();
    this.free.clear();
  }
}

export class PipelineCache {
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  constructor(private readonly device: GPUDevice) {}

  get(key: string, wgsl: () => string): Promise<GPUComputePipeline> {
    let p = this.pipelines.get(key);
    if (!p) {
      const code = wgsl();
      const module = this.device.createShaderModule({ code, label: key });
      p = this.device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key }).catch(async (e: unknown) => {
        const info = await module.getCompilationInfo?.().catch(() => undefined);
        const msgs = info?.messages.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ') ?? '';
        throw new TwinferError('RUNTIME', `WebGPU pipeline '${key}' failed: ${(e as Error).message} ${msgs}\n${code}`);
      });
      this.pipelines.set(key, p);
    }
    return p;
  }

  get size(): number { return this.pipelines.size; }
}

/** Parameters of many dispatches share one buffer, each at a 256-byte aligned slot. */
const PARAM_ALIGN = 256;
const PARAM_CHUNK = 256 * 1024;

export class GpuRunner {
  readonly device: GPUDevice;
  private encoder: GPUCommandEncoder | undefined;
  /** The open compute pass: consecutive dispatches share it (a copy or a submit closes it). */
  private pass: GPUComputePassEncoder | undefined;
  private transient: GPUBuffer[] = [];
  /** Current parameter chunk: GPU buffer, host mirror, next free byte, first byte not yet written. */
  private params: { buf: GPUBuffer; host: Uint8Array; top: number; written: number } | undefined;
  /** Dispatches recorded since the runner was made (for tests and profiling). */
  dispatches = 0;

  constructor(readonly ctx: GpuContext, readonly pool: BufferPool, readonly pipelines: PipelineCache) {
    this.device = ctx.device;
  }

  private enc(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  /** Writes the parameter bytes recorded since the last write (before the commands that read them are submitted). */
  private writeParams(): void {
    const p = this.params;
    if (p && p.top > p.written) {
      this.device.queue.writeBuffer(p.buf, p.written, p.host.buffer, p.host.byteOffset + p.written, p.top - p.written);
      p.written = p.top;
    }
  }

  /** A slot for `words` u32 parameters: [buffer, offset, size]. */
  private paramSlot(values: Uint32Array): [GPUBuffer, number, number] {
    const bytes = Math.max(16, values.byteLength);
    if (!this.params || this.params.top + bytes > this.params.host.byteLength) {
      this.writeParams();
      const size = Math.max(PARAM_CHUNK, Math.ceil(bytes / PARAM_ALIGN) * PARAM_ALIGN);
      const buf = this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
      this.transient.push(buf);
      this.params = { buf, host: new Uint8Array(size), top: 0, written: 0 };
    }
    const p = this.params;
    const off = p.top;
    p.host.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), off);
    p.top = Math.ceil((off + bytes) / PARAM_ALIGN) * PARAM_ALIGN;
    return [p.buf, off, bytes];
  }

  /** A new output tensor from the pool. */
  alloc(dtype: DType, dims: readonly number[]): GpuTensor {
    let n = 1;
    for (const d of dims) n *= d;
    return new GpuTensor(this.pool.acquire(n * 4), dtype, dims);
  }

  release(t: GpuTensor): void { this.pool.release(t.buffer); }

  /**
   * Uploads through a staging buffer copied inside the encoder, not queue.writeBuffer: a pooled
   * buffer may still be read by recorded, unsubmitted dispatches, and writeBuffer would land first.
   */
  upload(t: HostTensor): GpuTensor {
    const data = toGpuArray(t);
    const g = this.alloc(t.dtype, t.dims);
    if (data.byteLength > 0) {
      const size = Math.ceil(data.byteLength / 4) * 4;
      const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
      new Uint8Array(staging.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      staging.unmap();
      this.transient.push(staging);
      this.copy(staging, 0, g.buffer, 0, size);
    }
    return g;
  }

  /** Records a program: pipeline (cached), bind group, one compute pass. */
  async run(p: Program): Promise<void> {
    const [x, y, z] = p.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const max = this.ctx.caps.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) throw new TwinferError('RUNTIME', `WebGPU: ${p.name} needs ${x}x${y}x${z} workgroups, more than ${max} per dimension`);
    const pipeline = await this.pipelines.get(p.cacheKey, p.wgsl);
    const params = new Uint32Array(Math.max(4, p.params.length));
    params.set(p.params);
    const [pbuf, poff, psize] = this.paramSlot(params);
    const entries: GPUBindGroupEntry[] = [...p.inputs, ...p.outputs].map((t, i) => ({ binding: i, resource: { buffer: t.buffer, size: Math.max(MIN_BYTES, t.bytes) } }));
    entries.push({ binding: entries.length, resource: { buffer: pbuf, offset: poff, size: psize } });
    const bind = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    this.pass ??= this.enc().beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bind);
    this.pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
  }

  /** Copies `bytes` between buffers (recorded in order with the dispatches). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (bytes <= 0) return;
    this.endPass();
    this.enc().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Submits what is recorded. */
  flush(): void {
    this.endPass();
    this.writeParams();
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = undefined;
    }
  }

  /** Submits, then reads tensors back to host memory. */
  async download(ts: readonly GpuTensor[]): Promise<HostTensor[]> {
    const reads = ts.map((t) => {
      const rb = this.device.createBuffer({ size: Math.max(MIN_BYTES, t.bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      this.copy(t.buffer, 0, rb, 0, t.bytes);
      return rb;
    });
    this.flush();
    const out = await Promise.all(reads.map(async (rb, i) => {
      await rb.mapAsync(GPUMapMode.READ);
      const h = fromGpuBytes(ts[i]!.dtype, ts[i]!.dims, rb.getMappedRange().slice(0));
      rb.unmap();
      rb.destroy();
      return h;
    }));
    return out;
  }

  /** Submits and waits for the GPU, then frees per-dispatch parameter buffers. */
  async finish(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    for (const b of this.transient) b.destroy();
    this.transient = [];
    this.params = undefined;
  }
}
