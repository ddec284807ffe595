/**
 * Runs a partitioned graph whose nodes are on 'cuda' or 'cpu', after the hybrid executor
 * (src/engine/hybrid-executor.ts): a value lives where it was produced and is copied once per
 * crossing (upload, or download on the way to a CPU node or an output); weights are uploaded once
 * per session and stay on the device.
 *
 * This first version launches node by node: each CUDA node infers its output shapes on the host
 * (the IR), allocates its outputs from a pool of cudaMalloc'd buffers, and queues its kernels on the
 * context's stream; only a download waits. The static program of the design (arena offsets from
 * the memory planner, one launch list per profile, replayed as a CUDA graph) comes later and will
 * replace the pool and the per-node inference, not the kernels or their parameter lists.
 */
import type { Graph, Node, ValueType } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { inferNode } from '../../src/ir/infer.js';
import { schemaKey } from '../../src/ir/ops/index.js';
import { TwinferError, asTwinferError } from '../../src/errors.js';
import { runCpuNode } from '../cpu/executor.js';
import type { CudaContext } from './device.js';
import type { CudaRunner } from './kernel.js';
import { findCudaKernel } from './ops.js';
import { CudaTensor, fromDeviceBytes, toDeviceArray } from './tensor.js';

interface Slot { host?: HostTensor; dev?: CudaTensor }

interface Step {
  node: Node;
  backend: 'cpu' | 'cuda';
  opset: number;
  /** Values to drop after this step (last use). */
  release: string[];
  hostInputs: Set<number>;
}

/** Device buffers by rounded size, reused across nodes and runs; freed when the executor is collected. */
class BufferPool {
  private readonly free = new Map<number, number[]>();
  private readonly all = new Set<number>();
  constructor(private readonly cuda: CudaContext) {}
  static round(bytes: number): number { return Math.max(256, Math.ceil(bytes / 256) * 256); }
  take(bytes: number): number {
    const size = BufferPool.round(bytes);
    const id = this.free.get(size)?.pop() ?? this.cuda.native.alloc(size);
    this.all.add(id);
    return id;
  }
  give(id: number, bytes: number): void {
    const size = BufferPool.round(bytes);
    const list = this.free.get(size);
    if (list) list.push(id); else this.free.set(size, [id]);
  }
  dispose(): void {
    for (const id of this.all) { try { this.cuda.native.free(id); } catch { /* context gone */ } }
    this.all.clear();
    this.free.clear();
  }
}

const pools = new FinalizationRegistry<BufferPool>((p) => p.dispose());

export class NativeExecutor {
  private readonly steps: Step[];
  private readonly pool: BufferPool;
  /** Initializers on the device (uploaded on first use, kept for the session). */
  private readonly weights = new Map<string, CudaTensor>();
  /** Kernel launches of the last run. */
  lastLaunches = 0;

  constructor(private readonly graph: Graph, assignment: Map<Node, string>, private readonly cuda: CudaContext) {
    this.pool = new BufferPool(cuda);
    pools.register(this, this.pool);
    const keep = new Set(graph.outputs.map((o) => o.name));
    const lastUse = new Map<string, number>();
    graph.nodes.forEach((n, i) => n.inputs.forEach((v) => { if (v) lastUse.set(v, i); }));
    this.steps = graph.nodes.map((node, i) => {
      const b = assignment.get(node);
      if (b !== 'cpu' && b !== 'cuda') throw new TwinferError('RUNTIME', `node assigned to '${b}', which the CUDA executor does not run`, { node: node.name, opType: node.opType });
      const release = [...new Set(node.inputs)].filter((v) => v && lastUse.get(v) === i && !keep.has(v) && !graph.initializers.has(v));
      for (const o of node.outputs) if (o && !lastUse.has(o) && !keep.has(o)) release.push(o);
      const k = b === 'cuda' ? findCudaKernel(schemaKey(node.domain, node.opType)) : undefined;
      if (b === 'cuda' && !k) throw new TwinferError('RUNTIME', 'node assigned to cuda has no CUDA kernel', { node: node.name, opType: node.opType });
      return { node, backend: b, opset: graph.opsets[node.domain] ?? graph.opset, release, hostInputs: new Set(k?.hostInputs ?? []) };
    });
  }

  /** Frees the executor's device buffers now (else when it is garbage-collected). */
  dispose(): void {
    pools.unregister(this);
    this.pool.dispose();
    this.weights.clear();
  }

  async run(feeds: Map<string, HostTensor>, fetch: readonly string[]): Promise<Map<string, HostTensor>> {
    const native = this.cuda.native;
    const pool = this.pool;
    const owned = new Set<CudaTensor>(); // device tensors of this run (not weights), views included
    const refs = new Map<number, { n: number; bytes: number }>(); // pool buffer -> live tensors on it, its size
    let launches = 0;
    const own = (t: CudaTensor, bytes: number): CudaTensor => {
      owned.add(t);
      const r = refs.get(t.buffer);
      if (r) r.n++; else refs.set(t.buffer, { n: 1, bytes });
      return t;
    };
    const runner: CudaRunner = {
      cuda: this.cuda,
      alloc: (dims, dtype = 'float32') => {
        const t0 = new CudaTensor(-1, dtype, dims);
        return own(new CudaTensor(pool.take(t0.bytes), dtype, dims), t0.bytes);
      },
      view: (t, dims) => {
        const v = new CudaTensor(t.buffer, t.dtype, dims, t.byteOffset);
        if (v.size !== t.size) throw new Error(`view of ${t.size} elements as [${dims.join(',')}]`);
        return refs.has(t.buffer) && owned.has(t) ? own(v, 0) : v; // views of weights are weights
      },
      upload: (h) => upload(h, false),
      launch: (kernel, ints, floats, bindings) => {
        const b = new Float64Array(bindings.length * 2);
        bindings.forEach((t, i) => { b[2 * i] = t ? t.buffer : -1; b[2 * i + 1] = t ? t.byteOffset : 0; });
        native.launch(kernel, Float64Array.from(ints), Float32Array.from(floats), b);
        launches++;
      },
      fn: (name) => {
        const c = this.cuda.fn.get(name);
        if (c === undefined) throw new Error(`the addon has no function ${name}`);
        return c;
      },
    };
    const upload = (h: HostTensor, persistent: boolean): CudaTensor => {
      const dims = h.dims.slice();
      const data = toDeviceArray(h);
      // Weights come from the pool too (never given back), so dispose() frees them with the rest.
      const t = persistent ? new CudaTensor(pool.take(data.byteLength), h.dtype, dims) : runner.alloc(dims, h.dtype);
      if (h.size) native.upload(t.buffer, t.byteOffset, data);
      return t;
    };
    const env = new Map<string, Slot>();
    for (const [k, v] of this.graph.initializers) env.set(k, { host: v, ...(this.weights.has(k) ? { dev: this.weights.get(k)! } : {}) });
    for (const [k, v] of feeds) env.set(k, { host: v });

    const hostOf = (name: string): HostTensor => {
      const s = env.get(name)!;
      if (!s.host) {
        const t = s.dev!;
        s.host = fromDeviceBytes(t.dtype, t.dims, t.size ? native.download(t.buffer, t.byteOffset, t.bytes) : new ArrayBuffer(0));
      }
      return s.host;
    };
    const devOf = (name: string): CudaTensor => {
      const s = env.get(name)!;
      if (!s.dev) {
        const w = this.graph.initializers.has(name);
        s.dev = upload(s.host!, w);
        if (w) this.weights.set(name, s.dev);
      }
      return s.dev;
    };
    const drop = (t: CudaTensor | undefined) => {
      if (!t || !owned.delete(t)) return;
      const r = refs.get(t.buffer)!;
      if (--r.n === 0) { refs.delete(t.buffer); pool.give(t.buffer, r.bytes); }
    };

    try {
      for (const st of this.steps) {
        const n = st.node;
        for (const v of n.inputs) if (v && !env.has(v)) throw new TwinferError('RUNTIME', `value '${v}' is not available`, { node: n.name, opType: n.opType });
        if (st.backend === 'cpu') {
          const outs = runCpuNode(n, st.opset, n.inputs.map((v) => (v ? hostOf(v) : undefined)));
          n.outputs.forEach((o, k) => { if (o) env.set(o, { host: outs[k]! }); });
        } else {
          const hosts = n.inputs.map((v, i) => (v && st.hostInputs.has(i) ? hostOf(v) : v ? env.get(v)!.host : undefined));
          const types: (ValueType | undefined)[] = n.inputs.map((v) => {
            if (!v) return undefined;
            const s = env.get(v)!;
            const t = s.host ?? s.dev!;
            return { dtype: t.dtype, shape: t.dims.slice() };
          });
          let outs: (CudaTensor | undefined)[];
          try {
            const outputTypes = inferNode(n, st.opset, types, (i) => hosts[i]);
            const inputs = n.inputs.map((v, i) => (v && !st.hostInputs.has(i) ? devOf(v) : undefined));
            const kernel = findCudaKernel(schemaKey(n.domain, n.opType))!;
            outs = kernel.run({ node: n, inputs, host: (i) => hosts[i], outputTypes, cuda: runner, opset: st.opset });
          } catch (e) {
            throw asTwinferError(e, 'RUNTIME', { node: n.name, opType: n.opType });
          }
          n.outputs.forEach((o, k) => {
            const t = outs[k];
            if (!o) { drop(t); return; }
            if (!t) throw new TwinferError('RUNTIME', `CUDA kernel produced no output ${k}`, { node: n.name, opType: n.opType });
            env.set(o, { dev: t });
          });
          for (let k = n.outputs.length; k < outs.length; k++) drop(outs[k]);
        }
        for (const v of st.release) { drop(env.get(v)?.dev); env.delete(v); }
      }
      const result = new Map<string, HostTensor>();
      for (const f of fetch) {
        if (!env.has(f)) throw new TwinferError('RUNTIME', `output '${f}' was not computed`);
        result.set(f, hostOf(f));
      }
      return result;
    } catch (e) {
      throw asTwinferError(e, 'RUNTIME');
    } finally {
      this.lastLaunches = launches;
      for (const t of [...owned]) drop(t);
    }
  }
}
