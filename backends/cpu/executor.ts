/**
 * Runs a checked, topologically sorted graph on the CPU kernels. Output shapes come from the IR
 * (inferNode on the concrete inputs); kernels only compute. Intermediate tensors are released
 * after their last use, so peak memory follows the graph's liveness.
 */
import type { Graph, Node, ValueType } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { LOW_PRECISION_FLOATS } from '../../src/ir/dtype.js';
import { roundArrayToDtype } from '../../src/ir/lowp.js';
import { inferNode } from '../../src/ir/infer.js';
import { schemaKey } from '../../src/ir/ops/index.js';
import { TwinferError } from '../../src/errors.js';
import { findCpuKernel } from './ops/index.js';
import type { CpuKernel } from './kernel.js';

/** Runs one node on the CPU given its inputs; validates and rounds what the kernel returns. */
export function runCpuNode(node: Node, opset: number, inputs: (HostTensor | undefined)[], outputTypes?: ValueType[]): (HostTensor | undefined)[] {
  const kernel = findCpuKernel(schemaKey(node.domain, node.opType));
  if (!kernel) throw new TwinferError('UNSUPPORTED_OP', `no CPU kernel for ${node.opType}`, { node: node.name, opType: node.opType });
  const types = outputTypes ?? inferNode(node, opset, inputs.map(typeOf), (i) => inputs[i]);
  return callKernel(kernel, node, inputs, types);
}

function typeOf(t: HostTensor | undefined): ValueType | undefined {
  return t ? { dtype: t.dtype, shape: t.dims.slice() } : undefined;
}

function callKernel(kernel: CpuKernel, node: Node, inputs: (HostTensor | undefined)[], types: ValueType[]): (HostTensor | undefined)[] {
  let outs: (HostTensor | undefined)[];
  try {
    outs = kernel({ node, inputs, outputTypes: types });
  } catch (e) {
    if (e instanceof TwinferError) throw e;
    throw new TwinferError('RUNTIME', (e as Error).message ?? String(e), { node: node.name, opType: node.opType, cause: e });
  }
  for (let k = 0; k < node.outputs.length; k++) {
    if (!node.outputs[k]) continue;
    const t = outs[k];
    const want = types[k]!;
    if (!t) throw new TwinferError('RUNTIME', `kernel produced no output ${k}`, { node: node.name, opType: node.opType });
    if (t.dtype !== want.dtype) throw new TwinferError('RUNTIME', `kernel output ${k} is ${t.dtype}, schema says ${want.dtype}`, { node: node.name, opType: node.opType });
    const ws = want.shape;
    if (ws && ws.every((d) => typeof d === 'number') && (ws.length !== t.dims.length || ws.some((d, i) => d !== t.dims[i]))) {
      throw new TwinferError('RUNTIME', `kernel output ${k} has dims [${t.dims}], schema says [${ws}]`, { node: node.name, opType: node.opType });
    }
    if (LOW_PRECISION_FLOATS.has(t.dtype)) roundArrayToDtype(t.dtype, t.data as Float32Array);
  }
  return outs;
}

const SMALL = 64;

function inferenceKey(inputs: readonly (HostTensor | undefined)[]): string {
  let k = '';
  for (const t of inputs) {
    if (!t) { k += '_|'; continue; }
    k += t.dims.join(',');
    if (t.size <= SMALL) k += `=${Array.prototype.join.call(t.data, ',')}`;
    k += '|';
  }
  return k;
}

interface Step {
  node: Node;
  opset: number;
  kernel: CpuKernel;
  /** Output types of the last run, with the key of the inputs they were inferred from. */
  memo?: { key: string; types: ValueType[] };
  /** Values whose last use is this step (freed after it). */
  release: string[];
}

export class CpuExecutor {
  private readonly steps: Step[];
  private readonly graph: Graph;

  constructor(graph: Graph) {
    this.graph = graph;
    const keep = new Set([...graph.outputs.map((o) => o.name), ...graph.initializers.keys()]);
    const lastUse = new Map<string, number>();
    graph.nodes.forEach((n, idx) => n.inputs.forEach((i) => { if (i) lastUse.set(i, idx); }));
    this.steps = graph.nodes.map((node, idx) => {
      const key = schemaKey(node.domain, node.opType);
      const kernel = findCpuKernel(key);
      if (!kernel) throw new TwinferError('UNSUPPORTED_OP', `no CPU kernel for ${key}`, { node: node.name, opType: node.opType });
      const release = [...new Set(node.inputs)].filter((i) => i && lastUse.get(i) === idx && !keep.has(i));
      // Outputs nobody reads are released right away.
      for (const o of node.outputs) if (o && !lastUse.has(o) && !keep.has(o)) release.push(o);
      return { node, opset: graph.opsets[node.domain] ?? graph.opset, kernel, release };
    });
  }

  /** Runs the graph; `feeds` holds every non-initializer input. Returns the requested values. */
  run(feeds: Map<string, HostTensor>, fetch: readonly string[], profile?: Map<string, number>): Map<string, HostTensor> {
    const env = new Map<string, HostTensor>(this.graph.initializers);
    for (const [k, v] of feeds) env.set(k, v);
    for (const s of this.steps) {
      const inputs = s.node.inputs.map((n) => (n ? env.get(n) : undefined));
      for (let i = 0; i < inputs.length; i++) {
        if (s.node.inputs[i] && !inputs[i]) throw new TwinferError('RUNTIME', `value '${s.node.inputs[i]}' is not available`, { node: s.node.name, opType: s.node.opType });
      }
      const t0 = profile ? performance.now() : 0;
      // Shapes are re-inferred only when what inference can depend on changed: input dims, and the
      // values of small inputs (shapes, axes, pads, Range bounds), which are all it ever reads.
      const key = inferenceKey(inputs);
      let types: ValueType[];
      if (s.memo?.key === key) types = s.memo.types;
      else {
        types = inferNode(s.node, s.opset, inputs.map(typeOf), (i) => inputs[i]);
        if (!types.some((t) => t.shape?.some((d) => typeof d !== 'number'))) s.memo = { key, types };
      }
      const outs = callKernel(s.kernel, s.node, inputs, types);
      if (profile) {
        const key = s.node.domain ? `${s.node.domain}.${s.node.opType}` : s.node.opType;
        profile.set(key, (profile.get(key) ?? 0) + performance.now() - t0);
      }
      s.node.outputs.forEach((o, k) => { if (o) env.set(o, outs[k]!); });
      for (const r of s.release) env.delete(r);
    }
    const result = new Map<string, HostTensor>();
    for (const f of fetch) {
      const t = env.get(f);
      if (!t) throw new TwinferError('RUNTIME', `output '${f}' was not computed`);
      result.set(f, t);
    }
    return result;
  }
}
