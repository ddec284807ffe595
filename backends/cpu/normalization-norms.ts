/**
 * CPU kernels of the statistics-based normalizations: BatchNormalization, InstanceNormalization,
 * LayerNormalization, GroupNormalization, LpNormalization, MeanVarianceNormalization, LRN.
 * Statistics accumulate in float64 (two passes: mean, then centred variance) so float16/bfloat16/float32
 * inputs get a result at least as accurate as the ONNX reference's; the executor rounds outputs.
 */
import { attrFloat, attrInt, attrInts } from '../../src/ir/graph.js';
import type { NumericArray } from '../../src/ir/dtype.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { input, outDims, type KernelContext } from './kernel.js';

type Outs = (HostTensor | undefined)[];

/** A fresh output tensor i with the inferred dtype and dims. */
export function newOutput(ctx: KernelContext, i = 0): HostTensor {
  return new HostTensor(ctx.outputTypes[i]!.dtype, outDims(ctx, i));
}

/** Whether the node asks for output i (omitted optional outputs are ''). */
export function wants(ctx: KernelContext, i: number): boolean {
  return (ctx.node.outputs[i] ?? '') !== '';
}

function prod(dims: readonly number[], from = 0, to = dims.length): number {
  let n = 1;
  for (let i = from; i < to; i++) n *= dims[i]!;
  return n;
}

/**
 * Index map broadcasting a parameter of dims `p` (right-aligned, unidirectional) onto `target`:
 * map[k] is the parameter element used at flat position k of `target`; null when p equals target.
 */
export function broadcastMap(p: readonly number[], target: readonly number[]): Int32Array | null {
  const n = prod(target);
  if (prod(p) === n && p.length <= target.length) {
    const off = target.length - p.length;
    if (p.every((d, i) => d === target[off + i])) return null;
  }
  if (p.length > target.length) throw new Error(`parameter [${p.join(',')}] does not broadcast to [${target.join(',')}]`);
  const off = target.length - p.length;
  const pStrides = new Array<number>(target.length).fill(0);
  let acc = 1;
  for (let i = p.length - 1; i >= 0; i--) {
    const d = p[i]!;
    const t = target[off + i]!;
    if (d !== 1 && d !== t) throw new Error(`parameter [${p.join(',')}] does not broadcast to [${target.join(',')}]`);
    pStrides[off + i] = d === 1 ? 0 : acc;
    acc *= d;
  }
  const map = new Int32Array(n);
  const idx = new Array<number>(target.length).fill(0);
  let po = 0;
  for (let k = 0; k < n; k++) {
    map[k] = po;
    for (let a = target.length - 1; a >= 0; a--) {
      idx[a]!++;
      po += pStrides[a]!;
      if (idx[a]! < target[a]!) break;
      po -= pStrides[a]! * idx[a]!;
      idx[a] = 0;
    }
  }
  return map;
}

// ---------------------------------------------------------------- BatchNormalization

export function batchNormalization(ctx: KernelContext): Outs {
  const x = input(ctx, 0);
  const scale = input(ctx, 1).numbers;
  const bias = input(ctx, 2).numbers;
  const mean = input(ctx, 3).numbers;
  const variance = input(ctx, 4).numbers;
  const eps = attrFloat(ctx.node, 'epsilon', 1e-5);
  const training = attrInt(ctx.node, 'training_mode', 0) === 1;
  const momentum = attrFloat(ctx.node, 'momentum', 0.9);
  const xs = x.numbers;
  // Parameters cover axis 1 (C) or, for legacy spatial=0 models, all of axes 1..n (C*D1*...*Dn).
  const n = x.rank >= 2 ? x.dims[0]! : 1;
  const p = scale.length;
  const inner = x.size / (n * p);
  if (!Number.isInteger(inner)) throw new Error(`BatchNormalization: ${p} parameters do not fit input [${x.dims.join(',')}]`);
  const y = newOutput(ctx, 0);
  const ys = y.numbers;

  let bm: Float64Array | undefined;
  let bv: Float64Array | undefined;
  if (training) {
    // Batch statistics over every axis but the parameter one (biased variance, as the reference).
    bm = new Float64Array(p);
    bv = new Float64Array(p);
    const cnt = n * inner;
    for (let c = 0; c < p; c++) {
      let s = 0;
      for (let b = 0; b < n; b++) {
        const o = (b * p + c) * inner;
        for (let k = 0; k < inner; k++) s += xs[o + k]!;
      }
      const m = s / cnt;
      let v = 0;
      for (let b = 0; b < n; b++) {
        const o = (b * p + c) * inner;
        for (let k = 0; k < inner; k++) { const d = xs[o + k]! - m; v += d * d; }
      }
      bm[c] = m;
      bv[c] = v / cnt;
    }
  }
  for (let c = 0; c < p; c++) {
    const m = bm ? bm[c]! : mean[c]!;
    const v = bv ? bv[c]! : variance[c]!;
    // (x - m) * a + bias rather than x * a + (bias - m * a): the latter cancels badly when a is large.
    const a = scale[c]! / Math.sqrt(v + eps);
    const sh = bias[c]!;
    for (let b = 0; b < n; b++) {
      const o = (b * p + c) * inner;
      for (let k = 0; k < inner; k++) ys[o + k] = (xs[o + k]! - m) * a + sh;
    }
  }
  const outs: Outs = [y];
  if (training) {
    const stat = (i: number, f: (c: number) => number): HostTensor | undefined => {
      if (!wants(ctx, i)) return undefined;
      const t = newOutput(ctx, i);
      const d = t.numbers;
      for (let c = 0; c < p; c++) d[c] = f(c);
      return t;
    };
    outs.push(
      stat(1, (c) => mean[c]! * momentum + bm![c]! * (1 - momentum)),
      stat(2, (c) => variance[c]! * momentum + bv![c]! * (1 - momentum)),
      stat(3, (c) => bm![c]!),
      stat(4, (c) => bv![c]!),
    );
  }
  return outs.slice(0, Math.max(1, ctx.node.outputs.length));
}

// ---------------------------------------------------------------- Instance / Group

/** Mean and variance (biased) of xs[o, o+len). */
function meanVar(xs: NumericArray, o: number, len: number): [number, number] {
  let s = 0;
  for (let k = 0; k < len; k++) s += xs[o + k]!;
  const m = s / len;
  let v = 0;
  for (let k = 0; k < len; k++) { const d = xs[o + k]! - m; v += d * d; }
  return [m, v / len];
}

export function instanceNormalization(ctx: KernelContext): Outs {
  const x = input(ctx, 0);
  const scale = input(ctx, 1).numbers;
  const bias = input(ctx, 2).numbers;
  const eps = attrFloat(ctx.node, 'epsilon', 1e-5);
  const [n, c] = [x.dims[0]!, x.dims[1]!];
  const s = prod(x.dims, 2);
  const xs = x.numbers;
  const y = newOutput(ctx);
  const ys = y.numbers;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (b * c + ch) * s;
      const [m, v] = meanVar(xs, o, s);
      const a = scale[ch]! / Math.sqrt(v + eps);
      const sh = bias[ch]!;
      for (let k = 0; k < s; k++) ys[o + k] = (xs[o + k]! - m) * a + sh;
    }
  }
  return [y];
}

export function groupNormalization(ctx: KernelContext): Outs {
  const x = input(ctx, 0);
  const scale = input(ctx, 1).numbers;
  const bias = input(ctx, 2).numbers;
  const eps = attrFloat(ctx.node, 'epsilon', 1e-5);
  const g = attrInt(ctx.node, 'num_groups', 1);
  const [n, c] = [x.dims[0]!, x.dims[1]!];
  const s = prod(x.dims, 2);
  const cpg = c / g;
  // Opset 21: one scale/bias per channel; opset 18: one per group (see the schema's header).
  const perChannel = scale.length === c;
  if (!perChannel && scale.length !== g) throw new Error(`GroupNormalization: scale has ${scale.length} elements`);
  const xs = x.numbers;
  const y = newOutput(ctx);
  const ys = y.numbers;
  for (let b = 0; b < n; b++) {
    for (let gi = 0; gi < g; gi++) {
      const o = (b * c + gi * cpg) * s;
      const [m, v] = meanVar(xs, o, cpg * s);
      const inv = 1 / Math.sqrt(v + eps);
      for (let j = 0; j < cpg; j++) {
        const pi = perChannel ? gi * cpg + j : gi;
        const a = scale[pi]! * inv;
        const sh = bias[pi]!;
        const oc = o + j * s;
        for (let k = 0; k < s; k++) ys[oc + k] = (xs[oc + k]! - m) * a + sh;
      }
    }
  }
  return [y];
}

// ---------------------------------------------------------------- LayerNormalization

export function layerNormalization(ctx: KernelContext): Outs {
  const x = input(ctx, 0);
  const r = x.rank;
  let axis = attrInt(ctx.node, 'axis', -1);
  if (axis < 0) axis += r;
  const eps = attrFloat(ctx.node, 'epsilon', 1e-5);
  const outer = prod(x.dims, 0, axis);
  const d = prod(x.dims, axis);
  const norm = x.dims.slice(axis);
  const scaleT = input(ctx, 1);
  const biasT = ctx.inputs[2];
  const scale = scaleT.numbers;
  const bias = biasT?.numbers;
  const sMap = broadcastMap(scaleT.dims, norm);
  const bMap = biasT ? broadcastMap(biasT.dims, norm) : null;
  const xs = x.numbers;
  const y = newOutput(ctx);
  const ys = y.numbers;
  const meanT = wants(ctx, 1) ? newOutput(ctx, 1) : undefined;
  const invT = wants(ctx, 2) ? newOutput(ctx, 2) : undefined;
  const direct = sMap === null && bMap === null;
  for (let row = 0; row < outer; row++) {
    const o = row * d;
    const [m, v] = meanVar(xs, o, d);
    const inv = 1 / Math.sqrt(v + eps);
    if (meanT) meanT.numbers[row] = m;
    if (invT) invT.numbers[row] = inv;
    if (direct) {
      if (bias) for (let k = 0; k < d; k++) ys[o + k] = (xs[o + k]! - m) * inv * scale[k]! + bias[k]!;
      else for (let k = 0; k < d; k++) ys[o + k] = (xs[o + k]! - m) * inv * scale[k]!;
    } else {
      for (let k = 0; k < d; k++) {
        const sv = scale[sMap ? sMap[k]! : k]!;
        const bv = bias ? bias[bMap ? bMap[k]! : k]! : 0;
        ys[o + k] = (xs[o + k]! - m) * inv * sv + bv;
      }
    }
  }
  return [y, meanT, invT].slice(0, Math.max(1, ctx.node.outputs.length));
}

// ---------------------------------------------------------------- LpNormalization

export function lpNormalization(ctx: KernelContext): Outs {
  const x = input(ctx, 0);
  let axis = attrInt(ctx.node, 'axis', -1);
  if (axis < 0) axis += x.rank;
  const p = attrInt(ctx.node, 'p', 2);
  const outer = prod(x.dims, 0, axis);
  const d = x.dims[axis]!;
  const inner = prod(x.dims, axis + 1);
  const xs = x.numbers;
  const y = newOutput(ctx);
  const ys = y.numbers;
  for (let a = 0; a < outer; a++) {
    for (let i = 0; i < inner; i++) {
      const o = a * d * inner + i;
      let s = 0;
      if (p === 1) for (let k = 0; k < d; k++) s += Math.abs(xs[o + k * inner]!);
      else {
        for (let k = 0; k < d; k++) { const v = xs[o + k * inner]!; s += v * v; }
        s = Math.sqrt(s);
      }
      // A zero vector stays zero (onnxruntime's behaviour; the reference would produce NaN).
      const inv = s === 0 ? 0 : 1 / s;
      for (let k = 0; k < d; k++) ys[o + k * inner] = xs[o + k * inner]! * inv;
    }
  }
  return [y];
}

// ---------------------------------------------------------------- MeanVarianceNormalization

export function meanVarianceNormalization(ctx: KernelContext): Outs {
  const x = input(ctx, 0);
  const r = x.rank;
  const axes = new Set(attrInts(ctx.node, 'axes', [0, 2, 3]).map((a) => (a < 0 ? a + r : a)));
  const eps = attrFloat(ctx.node, 'epsilon', 1e-9);
  // Group of each element = its index over the kept axes; gStride is 0 on reduced axes.
  const gStride = new Array<number>(r).fill(0);
  let groups = 1;
  for (let a = r - 1; a >= 0; a--) {
    if (!axes.has(a)) { gStride[a] = groups; groups *= x.dims[a]!; }
  }
  const total = x.size;
  const group = new Int32Array(total);
  const idx = new Array<number>(r).fill(0);
  let g = 0;
  for (let k = 0; k < total; k++) {
    group[k] = g;
    for (let a = r - 1; a >= 0; a--) {
      idx[a]!++;
      g += gStride[a]!;
      if (idx[a]! < x.dims[a]!) break;
      g -= gStride[a]! * idx[a]!;
      idx[a] = 0;
    }
  }
  const xs = x.numbers;
  const sum = new Float64Array(groups);
  const cnt = total / Math.max(groups, 1);
  for (let k = 0; k < total; k++) sum[group[k]!]! += xs[k]!;
  for (let j = 0; j < groups; j++) sum[j]! /= cnt;
  const sq = new Float64Array(groups);
  for (let k = 0; k < total; k++) { const dv = xs[k]! - sum[group[k]!]!; sq[group[k]!]! += dv * dv; }
  // Y = (X - E[X]) / (sqrt(Var[X]) + epsilon), the op's function body (epsilon is 1e-9 before opset 27).
  for (let j = 0; j < groups; j++) sq[j] = 1 / (Math.sqrt(sq[j]! / cnt) + eps);
  const y = newOutput(ctx);
  const ys = y.numbers;
  for (let k = 0; k < total; k++) { const j = group[k]!; ys[k] = (xs[k]! - sum[j]!) * sq[j]!; }
  return [y];
}

// ---------------------------------------------------------------- LRN

export function lrn(ctx: KernelContext): Outs {
  const x = input(ctx, 0);
  const size = attrInt(ctx.node, 'size', 1);
  const alpha = attrFloat(ctx.node, 'alpha', 1e-4);
  const beta = attrFloat(ctx.node, 'beta', 0.75);
  const bias = attrFloat(ctx.node, 'bias', 1);
  const [n, c] = [x.dims[0]!, x.dims[1]!];
  const s = prod(x.dims, 2);
  const lo = Math.floor((size - 1) / 2);
  const hi = Math.ceil((size - 1) / 2);
  const xs = x.numbers;
  const y = newOutput(ctx);
  const ys = y.numbers;
  const sq = new Float64Array(c * s);
  const acc = new Float64Array(s);
  const k = alpha / size;
  for (let b = 0; b < n; b++) {
    const base = b * c * s;
    for (let i = 0; i < c * s; i++) { const v = xs[base + i]!; sq[i] = v * v; }
    for (let ch = 0; ch < c; ch++) {
      acc.fill(0);
      const c0 = Math.max(0, ch - lo);
      const c1 = Math.min(c - 1, ch + hi);
      for (let cc = c0; cc <= c1; cc++) {
        const o = cc * s;
        for (let i = 0; i < s; i++) acc[i]! += sq[o + i]!;
      }
      const o = base + ch * s;
      for (let i = 0; i < s; i++) ys[o + i] = xs[o + i]! / Math.pow(bias + k * acc[i]!, beta);
    }
  }
  return [y];
}
