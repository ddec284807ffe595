/**
 * Runs a partitioned graph whose nodes are on 'tensorrt' or 'cpu'. Each maximal run of consecutive
 * TensorRT nodes (in graph order, so its inputs are computed before it) is one TensorRT engine:
 * serialized (serialize.ts), built by the addon on the first run (or read from the plan store,
 * keyed by the description, its weights, the build options and the TensorRT version), then run with
 * host tensors in and out. CPU nodes run in between with the CPU kernels.
 *
 * Untested with TensorRT itself on twinfer's machines; tests drive it with a stand-in addon.
 */
import type { Graph, Node } from '../../src/ir/graph.js';
import type { DType } from '../../src/ir/dtype.js';
import { f16BitsToF32, bf16BitsToF32 } from '../../src/ir/lowp.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { TwinferError, asTwinferError } from '../../src/errors.js';
import { runCpuNode } from '../cpu/executor.js';
import type { TrtAddon, TrtBuildOptions, TrtEngine, TrtRunOutput } from './addon.js';
import { trtPlanStore } from './cache.js';
import { serializeNetwork, type SerializedNetwork, type TrtProfileSpec } from './serialize.js';
import { weightBytes } from './weights.js';

export interface TrtExecutorOptions {
  profiles?: readonly TrtProfileSpec[];
  precision?: 'fp32' | 'fp16';
  build?: TrtBuildOptions;
  device?: number;
  log?: (message: string) => void;
}

type Step = { kind: 'cpu'; node: Node } | { kind: 'trt'; nodes: Node[]; net: SerializedNetwork; engine?: Promise<TrtEngine> };

const DTYPE_OF: Record<string, DType> = { float: 'float32', half: 'float16', bf16: 'bfloat16', int8: 'int8', uint8: 'uint8', int32: 'int32', int64: 'int64', bool: 'bool' };

/** An output of the engine as a host tensor of the graph's dtype. */
export function hostFromTrt(o: TrtRunOutput): HostTensor {
  const dtype = DTYPE_OF[o.dtype];
  if (!dtype) throw new TwinferError('RUNTIME', `TensorRT output '${o.name}' has a type twinfer does not read`);
  const b = o.data;
  const data = dtype === 'float32' ? new Float32Array(b)
    : dtype === 'float16' ? Float32Array.from(new Uint16Array(b), f16BitsToF32)
    : dtype === 'bfloat16' ? Float32Array.from(new Uint16Array(b), bf16BitsToF32)
    : dtype === 'int8' ? new Int8Array(b) : dtype === 'uint8' || dtype === 'bool' ? new Uint8Array(b)
    : dtype === 'int32' ? new Int32Array(b) : Float64Array.from(new BigInt64Array(b), Number);
  return new HostTensor(dtype, o.dims, data);
}

export class TrtExecutor {
  private readonly steps: Step[] = [];
  /** Engines built (not read from the store) so far: tests and logs. */
  built = 0;
  /** Engines read from the plan store. */
  reused = 0;

  constructor(private readonly graph: Graph, assignment: Map<Node, string>, private readonly addon: TrtAddon, private readonly opts: TrtExecutorOptions = {}) {
    let run: Node[] = [];
    const flush = () => {
      if (!run.length) return;
      const net = serializeNetwork(graph, { nodes: run, ...(opts.profiles ? { profiles: opts.profiles } : {}), ...(opts.precision ? { precision: opts.precision } : {}) });
      for (const n of net.notes) opts.log?.(`twinfer: TensorRT: ${n}`);
      this.steps.push({ kind: 'trt', nodes: run, net });
      run = [];
    };
    for (const node of graph.nodes) {
      const b = assignment.get(node);
      if (b === 'tensorrt') { run.push(node); continue; }
      if (b !== 'cpu') throw new TwinferError('RUNTIME', `node assigned to '${b}', which the TensorRT executor does not run`, { node: node.name, opType: node.opType });
      flush();
      this.steps.push({ kind: 'cpu', node });
    }
    flush();
  }

  /** Builds (or loads) one island's engine. */
  private async engine(step: Extract<Step, { kind: 'trt' }>): Promise<TrtEngine> {
    const { net } = step;
    const build = this.opts.build ?? {};
    const version = String(this.addon.probe().libraryVersion);
    const store = trtPlanStore();
    const key = store?.key([net.json, ...net.buffers, JSON.stringify({ ...build, timingCache: undefined }), version, String(this.opts.device ?? 0)]);
    let plan = key ? store!.get(key) : undefined;
    if (plan) this.reused++;
    else {
      const t0 = Date.now();
      const r = await this.addon.build(net.json, net.buffers, build);
      plan = new Uint8Array(r.plan);
      this.built++;
      this.opts.log?.(`twinfer: TensorRT engine for ${step.nodes.length} nodes built in ${((Date.now() - t0) / 1000).toFixed(1)} s${r.log ? `\n${r.log.trimEnd()}` : ''}`);
      if (key) {
        try { store!.set(key, plan); } catch (e) { this.opts.log?.(`twinfer: TensorRT plan not cached in ${store!.where}: ${(e as Error).message}`); }
      }
    }
    return new this.addon.Engine(plan, this.opts.device ?? 0, build.dlaCore ?? -1);
  }

  async run(feeds: Map<string, HostTensor>, fetch: readonly string[]): Promise<Map<string, HostTensor>> {
    const g = this.graph;
    const env = new Map<string, HostTensor>(g.initializers);
    for (const [k, v] of feeds) env.set(k, v);
    const value = (v: string, node: Node): HostTensor => {
      const t = env.get(v);
      if (!t) throw new TwinferError('RUNTIME', `value '${v}' is not available`, { node: node.name, opType: node.opType });
      return t;
    };
    try {
      for (const st of this.steps) {
        if (st.kind === 'cpu') {
          const n = st.node;
          const outs = runCpuNode(n, g.opsets[n.domain] ?? g.opset, n.inputs.map((v) => (v ? value(v, n) : undefined)));
          n.outputs.forEach((o, k) => { if (o) env.set(o, outs[k]!); });
          continue;
        }
        st.engine ??= this.engine(st).catch((e: unknown) => { st.engine = undefined; throw e; });
        const engine = await st.engine;
        const first = st.nodes[0]!;
        const inputs = st.net.network.inputs.map((i) => {
          const t = value(i.name, first);
          return { name: i.name, dims: t.dims.slice(), data: weightBytes(t).data };
        });
        for (const o of engine.run(inputs)) env.set(o.name, hostFromTrt(o));
      }
      const result = new Map<string, HostTensor>();
      for (const f of fetch) {
        const t = env.get(f);
        if (!t) throw new TwinferError('RUNTIME', `output '${f}' was not computed`);
        result.set(f, t);
      }
      return result;
    } catch (e) {
      throw asTwinferError(e, 'RUNTIME');
    }
  }
}
