/**
 * Runs a partitioned graph: each node on the backend the partitioner chose (cpu or webgpu). A value
 * lives where it was produced and is copied once per crossing (upload or readback), cached for
 * the rest of the run. GPU work is recorded into one command encoder that is submitted at a
 * crossing to the CPU or at the end. Weights are uploaded once per session.
 */
import type { Graph, Node, ValueType } from '../ir/graph.js';
import type { HostTensor } from '../ir/tensor.js';
import { inferNode } from '../ir/infer.js';
import { schemaKey } from '../ir/ops/index.js';
import { TwinferError, asTwinferError } from '../errors.js';
import { runCpuNode } from '../../backends/cpu/executor.js';
import type { GpuContext } from '../../backends/webgpu/device.js';
import { findGpuKernel } from '../../backends/webgpu/ops/index.js';
import { BufferPool, GpuRunner, PipelineCache } from '../../backends/webgpu/runner.js';
import type { GpuTensor } from '../../backends/webgpu/tensor.js';

interface Slot { host?: HostTensor; gpu?: GpuTensor }

interface Step {
  node: Node;
  backend: 'cpu' | 'webgpu';
  opset: number;
  /** Values to drop after this step (last use). */
  release: string[];
  hostInputs: Set<number>;
  dimsOnly: Set<number>;
  /** Output types of the last run and the key of what inference read to produce them. */
  memo?: { key: string; types: ValueType[] };
}

/** What shape inference can depend on: input dims, and the values of small host inputs. */
function inferenceKey(types: (ValueType | undefined)[], hosts: (HostTensor | undefined)[]): string {
  let k = '';
  types.forEach((t, i) => {
    k += t ? (t.shape as number[]).join(',') : '_';
    const h = hosts[i];
    if (h && h.size <= 64) k += `=${Array.prototype.join.call(h.data, ',')}`;
    k += '|';
  });
  return k;
}

export class HybridExecutor {
  private readonly steps: Step[];
  private readonly pool?: BufferPool;
  private readonly pipelines?: PipelineCache;
  /** Initializers already on the GPU (uploaded on first use, kept for the session). */
  private readonly weights = new Map<string, GpuTensor>();
  /** Dispatches recorded by the last run. */
  lastDispatches = 0;

  constructor(private readonly graph: Graph, assignment: Map<Node, string>, private readonly gpu?: GpuContext) {
    if (gpu) { this.pool = new BufferPool(gpu.device); this.pipelines = new PipelineCache(gpu.device); }
    const keep = new Set(graph.outputs.map((o) => o.name));
    const lastUse = new Map<string, number>();
    graph.nodes.forEach((n, i) => n.inputs.forEach((v) => { if (v) lastUse.set(v, i); }));
    this.steps = graph.nodes.map((node, i) => {
      const backend = assignment.get(node) === 'webgpu' ? 'webgpu' : 'cpu';
      if (backend === 'webgpu' && !gpu) throw new TwinferError('RUNTIME', 'node assigned to webgpu without a device', { node: node.name });
      const release = [...new Set(node.inputs)].filter((v) => v && lastUse.get(v) === i && !keep.has(v) && !graph.initializers.has(v));
      for (const o of node.outputs) if (o && !lastUse.has(o) && !keep.has(o)) release.push(o);
      const k = backend === 'webgpu' ? findGpuKernel(schemaKey(node.domain, node.opType)) : undefined;
      return { node, backend, opset: graph.opsets[node.domain] ?? graph.opset, release, hostInputs: new Set(k?.hostInputs ?? []), dimsOnly: new Set(k?.dimsOnlyInputs ?? []) };
    });
  }

  get pipelineCount(): number { return this.pipelines?.size ?? 0; }

  async run(feeds: Map<string, HostTensor>, fetch: readonly string[]): Promise<Map<string, HostTensor>> {
    const runner = this.gpu ? new GpuRunner(this.gpu, this.pool!, this.pipelines!) : undefined;
    const env = new Map<string, Slot>();
    for (const [k, v] of this.graph.initializers) env.set(k, { host: v, ...(this.weights.has(k) ? { gpu: this.weights.get(k)! } : {}) });
    for (const [k, v] of feeds) env.set(k, { host: v });
    const owned = new Set<GpuTensor>(); // GPU buffers of this run (not weights)

    const hostOf = async (name: string): Promise<HostTensor> => {
      const s = env.get(name)!;
      if (!s.host) s.host = (await runner!.download([s.gpu!]))[0]!;
      return s.host;
    };
    const gpuOf = (name: string): GpuTensor => {
      const s = env.get(name)!;
      if (!s.gpu) {
        s.gpu = runner!.upload(s.host!);
        if (this.graph.initializers.has(name)) this.weights.set(name, s.gpu); else owned.add(s.gpu);
      }
      return s.gpu;
    };

    try {
      for (const st of this.steps) {
        const n = st.node;
        for (const v of n.inputs) if (v && !env.has(v)) throw new TwinferError('RUNTIME', `value '${v}' is not available`, { node: n.name, opType: n.opType });
        if (st.backend === 'cpu') {
          const inputs = await Promise.all(n.inputs.map((v) => (v ? hostOf(v) : Promise.resolve(undefined))));
          const outs = runCpuNode(n, st.opset, inputs);
          n.outputs.forEach((o, k) => { if (o) env.set(o, { host: outs[k]! }); });
        } else {
          const hosts = await Promise.all(n.inputs.map((v, i) => (v && (st.hostInputs.has(i) || env.get(v)!.host) ? (st.hostInputs.has(i) ? hostOf(v) : Promise.resolve(env.get(v)!.host)) : Promise.resolve(undefined))));
          const types: (ValueType | undefined)[] = n.inputs.map((v) => {
            if (!v) return undefined;
            const s = env.get(v)!;
            const t = s.host ?? s.gpu!;
            return { dtype: t.dtype, shape: t.dims.slice() };
          });
          const key = inferenceKey(types, hosts);
          let outputTypes: ValueType[];
          if (st.memo?.key === key) outputTypes = st.memo.types;
          else {
            outputTypes = inferNode(n, st.opset, types, (i) => hosts[i]);
            if (!outputTypes.some((t) => t.shape?.some((d) => typeof d !== 'number'))) st.memo = { key, types: outputTypes };
          }
          const inputs = n.inputs.map((v, i) => (v && !st.hostInputs.has(i) && !st.dimsOnly.has(i) ? gpuOf(v) : undefined));
          const kernel = findGpuKernel(schemaKey(n.domain, n.opType))!;
          let outs: (GpuTensor | undefined)[];
          try {
            outs = await kernel.run({ node: n, inputs, host: (i) => hosts[i], dims: (i) => types[i]?.shape as number[] | undefined, outputTypes, gpu: runner! });
          } catch (e) {
            throw asTwinferError(e, 'RUNTIME', { node: n.name, opType: n.opType });
          }
          n.outputs.forEach((o, k) => {
            const t = outs[k];
            if (!o) { if (t) runner!.release(t); return; }
            if (!t) throw new TwinferError('RUNTIME', `WebGPU kernel produced no output ${k}`, { node: n.name, opType: n.opType });
            owned.add(t);
            env.set(o, t.host ? { gpu: t, host: t.host } : { gpu: t });
          });
          for (let k = n.outputs.length; k < outs.length; k++) if (outs[k]) runner!.release(outs[k]!);
        }
        for (const v of st.release) {
          const s = env.get(v);
          if (s?.gpu && owned.has(s.gpu)) { runner!.release(s.gpu); owned.delete(s.gpu); }
          env.delete(v);
        }
      }
      const result = new Map<string, HostTensor>();
      const onGpu = fetch.filter((f) => !env.get(f)?.host && env.get(f)?.gpu);
      if (onGpu.length) {
        const hs = await runner!.download(onGpu.map((f) => env.get(f)!.gpu!));
        onGpu.forEach((f, i) => { env.get(f)!.host = hs[i]!; });
      }
      for (const f of fetch) {
        const s = env.get(f);
        if (!s?.host) throw new TwinferError('RUNTIME', `output '${f}' was not computed`);
        result.set(f, s.host);
      }
      return result;
    } finally {
      if (runner) {
        this.lastDispatches = runner.dispatches;
        await runner.finish();
        for (const t of owned) runner.release(t);
      }
    }
  }
}
