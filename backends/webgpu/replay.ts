/**
 * A recorded program: one run of a graph on WebGPU for one input-shape signature, kept so later
 * runs with the same dims only write the inputs, replay the dispatches and read the outputs back.
 * Every dispatch's pipeline and bind group were made once, over buffers fixed for the program
 * (its own, from the shared pool), and its parameters were written once into one buffer, so a
 * replay does no per-dispatch JavaScript allocation, no parameter upload and no bind-group work:
 * per dispatch it is setBindGroup + dispatchWorkgroups (setPipeline when the pipeline changes).
 *
 * Only runs whose work depends on nothing but the input dims are kept (the executor checks: no
 * value computed on the GPU and no feed value was read on the host); see hybrid-executor.ts.
 */
import type { HostTensor } from '../../src/ir/tensor.js';
import type { Cmd } from './replay-cmds.js';
import type { BufferPool, Recording } from './runner.js';
import { GpuTensor, fromGpuBytes, toGpuArray } from './tensor.js';

export interface ProgramInput { name: string; buffer: GPUBuffer; bytes: number }
export type ProgramOutput =
  | { name: string; kind: 'gpu'; t: GpuTensor }
  | { name: string; kind: 'host'; host: HostTensor }
  | { name: string; kind: 'feed'; feed: string };

export type Feed = HostTensor | GpuTensor;

/** One flat op list: no branching on command kinds in the hot loop beyond one test. */
interface Op { pipeline?: GPUComputePipeline; bind?: GPUBindGroup; x: number; y: number; z: number; copy?: [GPUBuffer, number, GPUBuffer, number, number] }

export class RecordedProgram {
  private readonly ops: Op[];
  private readonly readback = new Map<string, GPUBuffer>();
  readonly dispatches: number;
  /** Host time of the last replay: from the call to the submit (inputs written, commands encoded). */
  lastHostMs = 0;
  private disposed = false;

  constructor(
    private readonly device: GPUDevice,
    rec: Recording,
    readonly inputs: readonly ProgramInput[],
    readonly outputs: readonly ProgramOutput[],
  ) {
    this.rec = rec;
    this.ops = rec.cmds.map((c: Cmd): Op => (c.kind === 'copy'
      ? { x: 0, y: 0, z: 0, copy: [c.src, c.srcOffset, c.dst, c.dstOffset, c.bytes] }
      : { pipeline: c.resolved!, bind: c.bind ?? device.createBindGroup({ layout: c.resolved!.getBindGroupLayout(0), entries: c.entries }), x: c.wg[0], y: c.wg[1], z: c.wg[2] }));
    this.dispatches = this.ops.filter((o) => !o.copy).length;
    for (const o of outputs) {
      if (o.kind === 'gpu') this.readback.set(o.name, device.createBuffer({ size: Math.max(16, o.t.bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
    }
  }
  private readonly rec: Recording;

  /**
   * One run: feeds written into the program's input buffers (host data with queue.writeBuffer, GPU
   * feeds copied on the GPU), the recorded commands, then outputs read back, or copied into fresh
   * buffers from `pool` when `gpuOutputs` (the program's own are overwritten by the next replay).
   */
  async replay(feeds: ReadonlyMap<string, Feed>, gpuOutputs: boolean, pool: BufferPool): Promise<Map<string, Feed>> {
    const t0 = performance.now();
    const dev = this.device;
    const enc = dev.createCommandEncoder();
    for (const i of this.inputs) {
      const f = feeds.get(i.name)!;
      if (f instanceof GpuTensor) enc.copyBufferToBuffer(f.buffer, 0, i.buffer, 0, i.bytes);
      else if (i.bytes > 0) { const a = toGpuArray(f); dev.queue.writeBuffer(i.buffer, 0, a.buffer, a.byteOffset, a.byteLength); }
    }
    let pass: GPUComputePassEncoder | undefined;
    let last: GPUComputePipeline | undefined;
    const ops = this.ops;
    for (let k = 0; k < ops.length; k++) {
      const o = ops[k]!;
      if (o.copy) {
        if (pass) { pass.end(); pass = undefined; last = undefined; }
        enc.copyBufferToBuffer(o.copy[0], o.copy[1], o.copy[2], o.copy[3], o.copy[4]);
        continue;
      }
      pass ??= enc.beginComputePass();
      if (o.pipeline !== last) { pass.setPipeline(o.pipeline!); last = o.pipeline; }
      pass.setBindGroup(0, o.bind!);
      pass.dispatchWorkgroups(o.x, o.y, o.z);
    }
    pass?.end();
    const out = new Map<string, Feed>();
    const reads: [string, GpuTensor, GPUBuffer][] = [];
    for (const o of this.outputs) {
      if (o.kind === 'host') out.set(o.name, o.host);
      else if (o.kind === 'feed') out.set(o.name, feeds.get(o.feed)!);
      else if (gpuOutputs) {
        const t = new GpuTensor(pool.acquire(o.t.bytes), o.t.dtype, o.t.dims);
        if (o.t.bytes > 0) enc.copyBufferToBuffer(o.t.buffer, 0, t.buffer, 0, o.t.bytes);
        out.set(o.name, t);
      } else {
        const rb = this.readback.get(o.name)!;
        if (o.t.bytes > 0) enc.copyBufferToBuffer(o.t.buffer, 0, rb, 0, o.t.bytes);
        reads.push([o.name, o.t, rb]);
      }
    }
    dev.queue.submit([enc.finish()]);
    this.lastHostMs = performance.now() - t0;
    await Promise.all(reads.map(async ([name, t, rb]) => {
      await rb.mapAsync(GPUMapMode.READ);
      out.set(name, fromGpuBytes(t.dtype, t.dims, rb.getMappedRange().slice(0)));
      rb.unmap();
    }));
    return out;
  }

  /** Gives the program's buffers back to the pool and frees what only it used. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.rec.buffers.returnAll();
    for (const b of this.rec.resources) b.destroy();
    for (const b of this.readback.values()) b.destroy();
  }
}
