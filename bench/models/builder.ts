/**
 * A tiny graph builder for the benchmark models: seeded initializers, nodes with torch-style
 * auto-named outputs, and export to ONNX bytes. Weights come from one seeded stream, consumed in
 * build order, so the same seed and options always give byte-identical models.
 */
import { Graph, type AttrType, type AttrValue } from '../../src/ir/graph.js';
import type { DType } from '../../src/ir/dtype.js';
import { HostTensor, sizeOf } from '../../src/ir/tensor.js';
import { exportModel } from '../../src/onnx/export.js';
import { seededRandom } from '../../src/cli/run.js';

/** Every model here is written at opset 17 (what torch.onnx.export emits by default for these nets). */
export const OPSET = 17;

export class ModelBuilder {
  readonly graph = new Graph();
  private readonly rand: () => number;
  private spare: number | undefined;
  private readonly taken = new Set<string>();
  private readonly scalars = new Map<string, string>();

  constructor(name: string, seed: number) {
    this.graph.name = name;
    this.graph.opsets = { '': OPSET };
    this.rand = seededRandom(seed);
  }

  /** Standard normal sample (Box-Muller; the second value of each pair is kept for the next call). */
  private normal(): number {
    if (this.spare !== undefined) { const s = this.spare; this.spare = undefined; return s; }
    const u = 1 - this.rand(); // (0, 1]: log(u) stays finite
    const v = this.rand();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** A name not used yet: `base`, else `base_1`, `base_2`, ... */
  private unique(base: string): string {
    let name = base;
    for (let k = 1; this.taken.has(name); k++) name = `${base}_${k}`;
    this.taken.add(name);
    return name;
  }

  input(name: string, dtype: DType, shape: (number | string)[]): string {
    this.taken.add(name);
    this.graph.inputs.push({ name, dtype, shape });
    return name;
  }

  /** Declares `value` a graph output under `name` (the producing node's output is renamed). */
  output(value: string, name: string, dtype: DType, shape: (number | string)[]): string {
    for (const n of this.graph.nodes) n.outputs = n.outputs.map((o) => (o === value ? name : o));
    this.graph.outputs.push({ name, dtype, shape });
    return name;
  }

  initializer(name: string, t: HostTensor): string {
    const n = this.unique(name);
    this.graph.initializers.set(n, t);
    return n;
  }

  /**
   * Float weight ~ N(0, 1) * std. With std = sqrt(gain / fanIn), gain 2 (He) keeps the second
   * moment of activations steady through ReLU layers, so a deep random net stays finite and
   * far from float32 overflow; gain 1 (LeCun) does the same for layers without ReLU.
   */
  normalWeight(name: string, dims: number[], std: number): string {
    const data = new Float32Array(sizeOf(dims));
    for (let i = 0; i < data.length; i++) data[i] = this.normal() * std;
    return this.initializer(name, new HostTensor('float32', dims, data));
  }

  heWeight(name: string, dims: number[], fanIn: number, gain = 2): string {
    return this.normalWeight(name, dims, Math.sqrt(gain / fanIn));
  }

  /** Float tensor ~ U(lo, hi). */
  uniform(name: string, dims: number[], lo: number, hi: number): string {
    const data = new Float32Array(sizeOf(dims));
    for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * this.rand();
    return this.initializer(name, new HostTensor('float32', dims, data));
  }

  /** 1-D int64 constant (shapes, axes, starts/ends): what torch emits as onnx::Xxx_N initializers. */
  ints(name: string, values: number[]): string {
    return this.initializer(name, HostTensor.fromNumbers('int64', [values.length], values));
  }

  /** Scalar constant, shared between uses of the same dtype and value. */
  scalar(value: number, dtype: DType = 'float32'): string {
    const key = `${dtype}:${value}`;
    let name = this.scalars.get(key);
    if (!name) {
      name = this.initializer(`const_${dtype}_${String(value).replace(/[^0-9a-z]/gi, '_')}`, HostTensor.scalar(dtype, value));
      this.scalars.set(key, name);
    }
    return name;
  }

  /**
   * Appends a node; returns its output names. Names follow torch.onnx: node `/scope/Op`, outputs
   * `/scope/Op_output_k` (made unique with a suffix where a scope repeats an op).
   */
  node(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: { scope?: string; outputs?: number; attrTypes?: Record<string, AttrType> } = {}): string[] {
    const name = this.unique(`${opts.scope ?? ''}/${opType}`);
    const outputs = Array.from({ length: opts.outputs ?? 1 }, (_, k) => this.unique(`${name}_output_${k}`));
    this.graph.nodes.push({
      name, opType, domain: '', inputs, outputs, attrs,
      ...(opts.attrTypes ? { attrTypes: opts.attrTypes } : {}),
    });
    return outputs;
  }

  /** Single-output node. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, scope?: string, attrTypes?: Record<string, AttrType>): string {
    return this.node(opType, inputs, attrs, { ...(scope !== undefined ? { scope } : {}), ...(attrTypes ? { attrTypes } : {}) })[0]!;
  }

  bytes(): Uint8Array {
    return exportModel(this.graph, { opset: OPSET, producer: 'twinfer-bench-models' });
  }
}

/** BatchNormalization parameters kept numerically tame: gamma, var ~ U(0.5, 1.5); beta, mean small. */
export function batchNormParams(b: ModelBuilder, prefix: string, c: number, gamma: [number, number] = [0.5, 1.5]): string[] {
  return [
    b.uniform(`${prefix}.weight`, [c], gamma[0], gamma[1]),
    b.uniform(`${prefix}.bias`, [c], -0.1, 0.1),
    b.uniform(`${prefix}.running_mean`, [c], -0.1, 0.1),
    b.uniform(`${prefix}.running_var`, [c], 0.5, 1.5),
  ];
}

/**
 * Conv (no bias) + BatchNormalization, as torch.onnx emits a conv/bn pair in eval mode without
 * folding. Returns the BN output. The running statistics are random, not measured, so BN does
 * not renormalize: the weight gain alone sets the scale. Use gain 2 (default) where a ReLU
 * follows and gain 1 where the output enters a residual sum, which keeps each block
 * closer to variance-preserving; `gamma` narrows the BN scale where a branch must stay small.
 */
export function convBn(b: ModelBuilder, x: string, prefix: string, cin: number, cout: number,
  k: number, stride: number, opts: { group?: number; gain?: number; gamma?: [number, number] } = {}): string {
  const scope = `/${prefix.replace(/\./g, '/')}`;
  const group = opts.group ?? 1;
  const fanIn = (cin / group) * k * k;
  const w = b.heWeight(`${prefix}.conv.weight`, [cout, cin / group, k, k], fanIn, opts.gain ?? 2);
  const p = (k - 1) / 2;
  const y = b.op('Conv', [x, w], {
    dilations: [1, 1], group, kernel_shape: [k, k], pads: [p, p, p, p], strides: [stride, stride],
  }, scope);
  // torch writes momentum as 1 - its own momentum (0.1); eval-mode inference ignores it.
  return b.op('BatchNormalization', [y, ...batchNormParams(b, `${prefix}.bn`, cout, opts.gamma)], { epsilon: 1e-5, momentum: 0.9 }, scope);
}

/** GlobalAveragePool + Flatten + Gemm: the torchvision classifier head. */
export function classifierHead(b: ModelBuilder, x: string, cin: number, classes: number): string {
  const pooled = b.op('GlobalAveragePool', [x], {}, '/avgpool');
  const flat = b.op('Flatten', [pooled], { axis: 1 }, '');
  const w = b.heWeight('fc.weight', [classes, cin], cin, 1);
  const bias = b.uniform('fc.bias', [classes], -0.1, 0.1);
  return b.op('Gemm', [flat, w, bias], { alpha: 1, beta: 1, transB: 1 }, '/fc');
}
