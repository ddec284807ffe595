/**
 * Activation statistics: runs a checked, optimized graph on the CPU kernels node by node (the
 * CpuExecutor's loop, with an observer called on every float tensor as it is produced) and feeds
 * TensorStats in TensorRT's two passes: amax (pass 1), then the |x| histogram over [0, amax] (pass 2).
 *
 * Observed tensors: the float graph inputs and every float output of a top-level node, in graph
 * order (subgraph bodies of If/Loop/Scan are run by their kernels and not observed). Tensors are
 * released after their last use, as in the executor, so memory follows the graph's liveness.
 */
import type { Graph, Node } from '../ir/graph.js';
import type { HostTensor } from '../ir/tensor.js';
import { isFloat } from '../ir/dtype.js';
import { TwinferError } from '../errors.js';
import { runCpuNode } from '../../backends/cpu/executor.js';
import { TensorStats } from './histogram.js';

export type TensorObserver = (name: string, t: HostTensor) => void;

interface Step { node: Node; opset: number; release: string[] }

/** Runs a graph on the CPU and shows every float tensor to an observer. */
export class ObservedCpuRunner {
  private readonly steps: Step[];

  constructor(private readonly graph: Graph) {
    const keep = new Set([...graph.outputs.map((o) => o.name), ...graph.initializers.keys()]);
    const lastUse = new Map<string, number>();
    graph.nodes.forEach((n, idx) => n.inputs.forEach((i) => { if (i) lastUse.set(i, idx); }));
    this.steps = graph.nodes.map((node, idx) => {
      const release = [...new Set(node.inputs)].filter((i) => i && lastUse.get(i) === idx && !keep.has(i));
      for (const o of node.outputs) if (o && !lastUse.has(o) && !keep.has(o)) release.push(o);
      return { node, opset: graph.opsets[node.domain] ?? graph.opset, release };
    });
  }

  /** Runs once; `feeds` holds every non-initializer input. */
  run(feeds: ReadonlyMap<string, HostTensor>, observe: TensorObserver): void {
    const env = new Map<string, HostTensor>(this.graph.initializers);
    for (const info of this.graph.feedInputs) {
      const t = feeds.get(info.name);
      if (!t) throw new TwinferError('INVALID_ARGUMENT', `missing input '${info.name}'`);
      env.set(info.name, t);
      if (isFloat(t.dtype)) observe(info.name, t);
    }
    for (const s of this.steps) {
      const inputs = s.node.inputs.map((n) => (n ? env.get(n) : undefined));
      for (let i = 0; i < inputs.length; i++) {
        if (s.node.inputs[i] && !inputs[i]) throw new TwinferError('RUNTIME', `value '${s.node.inputs[i]}' is not available`, { node: s.node.name, opType: s.node.opType });
      }
      const outs = runCpuNode(s.node, s.opset, inputs);
      s.node.outputs.forEach((o, k) => {
        const t = outs[k];
        if (!o || !t) return;
        env.set(o, t);
        if (isFloat(t.dtype)) observe(o, t);
      });
      for (const r of s.release) env.delete(r);
    }
  }
}

/** Statistics of every observed tensor, in the order they were first seen. */
export class StatsCollector {
  readonly stats = new Map<string, TensorStats>();
  private readonly runner: ObservedCpuRunner;

  constructor(graph: Graph) { this.runner = new ObservedCpuRunner(graph); }

  /** Pass 1 on one batch: widens each tensor's amax. */
  observeRanges(feeds: ReadonlyMap<string, HostTensor>): void {
    this.runner.run(feeds, (name, t) => {
      let s = this.stats.get(name);
      if (!s) this.stats.set(name, (s = new TensorStats()));
      s.observeRange(t.data as ArrayLike<number>);
    });
  }

  /** Pass 2 on one batch: adds to each tensor's histogram over [0, amax of pass 1]. */
  observeHistograms(feeds: ReadonlyMap<string, HostTensor>): void {
    this.runner.run(feeds, (name, t) => {
      const s = this.stats.get(name);
      // A tensor pass 1 never saw (batches that differ between passes): nothing to bin against.
      if (!s) throw new TwinferError('RUNTIME', `tensor '${name}' appeared in calibration pass 2 but not in pass 1: the batches differ between passes`);
      s.observeHistogram(t.data as ArrayLike<number>);
    });
  }
}
