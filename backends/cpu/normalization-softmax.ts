/**
 * Softmax, LogSoftmax and Hardmax on the CPU. The tensor is viewed as [outer, d, inner] around the
 * normalized axis; for legacy (coerce_2d) nodes d spans every axis from `axis` to the end, so inner
 * is 1. The common last-axis case (inner = 1) runs on contiguous rows.
 */
import { attrInt } from '../../src/ir/graph.js';
import type { NumericArray } from '../../src/ir/dtype.js';
import type { HostTensor } from '../../src/ir/tensor.js';
import { input, type KernelContext } from './kernel.js';
import { newOutput } from './normalization-norms.js';

type Outs = (HostTensor | undefined)[];
type Kind = 'softmax' | 'logsoftmax' | 'hardmax';

/** [outer, d, inner] of the reduction. */
function span(ctx: KernelContext, x: HostTensor): [number, number, number] {
  const r = x.rank;
  let axis = attrInt(ctx.node, 'axis', -1);
  if (axis < 0) axis += r;
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= x.dims[i]!;
  const legacy = ctx.node.attrs['coerce_2d'] === 1;
  const end = legacy ? r : axis + 1;
  let d = 1;
  for (let i = axis; i < end; i++) d *= x.dims[i]!;
  return [outer, d, x.size / Math.max(outer * d, 1) || 0];
}

/** One row xs[o + k*st], k < d, into ys at the same positions; tmp holds d doubles. */
function row(kind: Kind, xs: NumericArray, ys: NumericArray, o: number, d: number, st: number, tmp: Float64Array): void {
  let max = -Infinity;
  let arg = 0;
  for (let k = 0; k < d; k++) {
    const v = xs[o + k * st]!;
    if (v > max) { max = v; arg = k; }
  }
  if (kind === 'hardmax') {
    for (let k = 0; k < d; k++) ys[o + k * st] = k === arg ? 1 : 0;
    return;
  }
  let sum = 0;
  if (kind === 'softmax') {
    for (let k = 0; k < d; k++) { const e = Math.exp(xs[o + k * st]! - max); tmp[k] = e; sum += e; }
    const inv = 1 / sum;
    for (let k = 0; k < d; k++) ys[o + k * st] = tmp[k]! * inv;
  } else {
    for (let k = 0; k < d; k++) sum += Math.exp(xs[o + k * st]! - max);
    const lse = max + Math.log(sum);
    for (let k = 0; k < d; k++) ys[o + k * st] = xs[o + k * st]! - lse;
  }
}

/**
 * Reduction over a non-last axis: works plane by plane ([d, inner] slabs) so memory is read
 * contiguously, with per-position running max / sum arrays instead of strided rows.
 */
function planes(kind: Kind, xs: NumericArray, ys: NumericArray, outer: number, d: number, inner: number): void {
  const mx = new Float64Array(inner);
  const arg = new Int32Array(inner);
  const sm = new Float64Array(inner);
  const t = kind === 'softmax' ? new Float64Array(d * inner) : undefined;
  for (let a = 0; a < outer; a++) {
    const base = a * d * inner;
    mx.fill(-Infinity);
    arg.fill(0);
    for (let k = 0; k < d; k++) {
      const o = base + k * inner;
      for (let i = 0; i < inner; i++) {
        const v = xs[o + i]!;
        if (v > mx[i]!) { mx[i] = v; arg[i] = k; }
      }
    }
    if (kind === 'hardmax') {
      ys.fill(0, base, base + d * inner);
      for (let i = 0; i < inner; i++) ys[base + arg[i]! * inner + i] = 1;
      continue;
    }
    sm.fill(0);
    for (let k = 0; k < d; k++) {
      const o = base + k * inner;
      for (let i = 0; i < inner; i++) {
        const e = Math.exp(xs[o + i]! - mx[i]!);
        if (t) t[k * inner + i] = e;
        sm[i]! += e;
      }
    }
    if (t) {
      for (let i = 0; i < inner; i++) sm[i] = 1 / sm[i]!;
      for (let k = 0; k < d; k++) {
        const o = base + k * inner;
        for (let i = 0; i < inner; i++) ys[o + i] = t[k * inner + i]! * sm[i]!;
      }
    } else {
      for (let i = 0; i < inner; i++) sm[i] = mx[i]! + Math.log(sm[i]!);
      for (let k = 0; k < d; k++) {
        const o = base + k * inner;
        for (let i = 0; i < inner; i++) ys[o + i] = xs[o + i]! - sm[i]!;
      }
    }
  }
}

function run(kind: Kind, ctx: KernelContext): Outs {
  const x = input(ctx, 0);
  const y = newOutput(ctx);
  const [outer, d, inner] = span(ctx, x);
  const xs = x.numbers;
  const ys = y.numbers;
  const tmp = new Float64Array(d);
  if (inner === 1) {
    for (let a = 0; a < outer; a++) row(kind, xs, ys, a * d, d, 1, tmp);
  } else {
    planes(kind, xs, ys, outer, d, inner);
  }
  return [y];
}

export const softmax = (ctx: KernelContext): Outs => run('softmax', ctx);
export const logSoftmax = (ctx: KernelContext): Outs => run('logsoftmax', ctx);
export const hardmax = (ctx: KernelContext): Outs => run('hardmax', ctx);
