/**
 * The commands a GpuRunner records before encoding them (runner.ts), shared with replayable
 * programs (replay.ts). Encoding is deferred to flush so that every pipeline of a run compiles in
 * parallel (createComputePipelineAsync, awaited together) and so that a run can be kept as a
 * program: the same dispatches, bind groups and parameter buffer, replayed on later runs.
 */

export interface DispatchCmd {
  kind: 'dispatch';
  name: string;
  pipeline: Promise<GPUComputePipeline>;
  /** Resolved at flush. */
  resolved?: GPUComputePipeline;
  /** Bind group entries (tensors, then the parameter slot); the group is made once, at flush. */
  entries: GPUBindGroupEntry[];
  bind?: GPUBindGroup;
  wg: [number, number, number];
  /**
   * One-time preparation: every buffer it binds is persistent (weights, caches of transformed
   * weights), so running it again would write the same values; it runs once and is never replayed.
   */
  prep: boolean;
}

export interface CopyCmd {
  kind: 'copy';
  src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; bytes: number;
  /** Weight uploads (into persistent buffers): once, never replayed. */
  prep: boolean;
  /** False for feed uploads and readbacks, which a replay does its own way. */
  record: boolean;
}

export type Cmd = DispatchCmd | CopyCmd;

/** Records commands into an encoder: consecutive dispatches share one compute pass. */
export function encodeCmds(device: GPUDevice, enc: GPUCommandEncoder, cmds: readonly Cmd[], keep: (c: Cmd) => boolean): number {
  let pass: GPUComputePassEncoder | undefined;
  let last: GPUComputePipeline | undefined;
  let n = 0;
  for (const c of cmds) {
    if (!keep(c)) continue;
    if (c.kind === 'copy') {
      if (pass) { pass.end(); pass = undefined; last = undefined; }
      enc.copyBufferToBuffer(c.src, c.srcOffset, c.dst, c.dstOffset, c.bytes);
      continue;
    }
    const pl = c.resolved!;
    c.bind ??= device.createBindGroup({ layout: pl.getBindGroupLayout(0), entries: c.entries });
    pass ??= enc.beginComputePass();
    if (pl !== last) { pass.setPipeline(pl); last = pl; }
    pass.setBindGroup(0, c.bind);
    pass.dispatchWorkgroups(c.wg[0], c.wg[1], c.wg[2]);
    n++;
  }
  pass?.end();
  return n;
}
