/**
 * Statistics-based normalizations on WebGPU (semantics: backends/cpu/normalization-norms.ts).
 * Instance / Group / Layer / MeanVariance / Lp norms are row reductions (normalization-rows.ts):
 * one workgroup per normalized group, Welford statistics, then the affine write. BatchNormalization
 * (inference) and LRN need no reduction over a row: one thread per output element.
 */
import { attrFloat, attrInt, attrInts } from '../../../src/ir/graph.js';
import { stridesOf } from '../../../src/ir/tensor.js';
import type { GpuKernel, GpuKernelContext, GpuKernelRegistry } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { bindings, f32Bits } from '../program.js';
import { ewGrid, ewMain } from './normalization-ew.js';
import type { GpuTensor } from '../tensor.js';
import { expandTo, runRows } from './normalization-rows.js';

const prod = (d: readonly number[], from = 0, to = d.length): number => { let n = 1; for (let i = from; i < to; i++) n *= d[i]!; return n; };
const wants = (ctx: GpuKernelContext, i: number): boolean => (ctx.node.outputs[i] ?? '') !== '';
const yOf = (ctx: GpuKernelContext): GpuTensor => ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, outDims(ctx));

/** y = (x - mean[c]) * scale[c] / sqrt(var[c] + eps) + bias[c], c the parameter index (C or C*D1*...). */
const batchNormalization: GpuKernel = {
  unsupported(node) {
    return attrInt(node, 'training_mode', 0) === 1 ? 'BatchNormalization training_mode runs on the CPU' : undefined;
  },
  async run(ctx) {
    const x = gin(ctx, 0);
    const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => gin(ctx, i)) as [GpuTensor, GpuTensor, GpuTensor, GpuTensor];
    const n = x.dims.length >= 2 ? x.dims[0]! : 1;
    const p = scale.size;
    const inner = x.size / (n * p);
    if (!Number.isInteger(inner)) throw new Error(`BatchNormalization: ${p} parameters do not fit input [${x.dims.join(',')}]`);
    const y = yOf(ctx);
    await ctx.gpu.run({
      name: 'BatchNormalization', cacheKey: 'norm-batchnorm',
      wgsl: () => `${bindings(['f32', 'f32', 'f32', 'f32', 'f32'], ['f32'])}
${ewMain(`  let c = (i / params[1]) % params[2];
  // (x - m) * a + bias, not x * a + (bias - m * a), which cancels badly for large a (as on the CPU)
  out0[i] = (in0[i] - in3[c]) * (in1[c] / sqrt(in4[c] + bitcast<f32>(params[3]))) + in2[c];`)}`,
      inputs: [x, scale, bias, mean, variance], outputs: [y],
      params: [x.size, inner, p, f32Bits(attrFloat(ctx.node, 'epsilon', 1e-5))], workgroups: ewGrid(ctx, x.size),
    });
    return [y];
  },
};

const instanceNormalization: GpuKernel = {
  async run(ctx) {
    const x = gin(ctx, 0);
    const [c, s] = [x.dims[1]!, prod(x.dims, 2)];
    const y = yOf(ctx);
    await runRows(ctx, {
      name: 'InstanceNormalization', variant: '', stat: 'welford',
      inputs: [x, gin(ctx, 1), gin(ctx, 2)], outputs: [y], rows: x.dims[0]! * c, d: s, addr: { inner: 1 },
      a: attrFloat(ctx.node, 'epsilon', 1e-5), ints: [c],
      rowLets: 'let c = row % params[4]; let sc = in1[c] / sqrt(variance + pa); let sh = in2[c];',
      apply: '(x - mean) * sc + sh',
    });
    return [y];
  },
};

/** Scale/bias per channel (opset 21) or per group (opset 18), told apart by their length. */
const groupNormalization: GpuKernel = {
  async run(ctx) {
    const x = gin(ctx, 0), scale = gin(ctx, 1);
    const g = attrInt(ctx.node, 'num_groups', 1);
    const [c, s] = [x.dims[1]!, prod(x.dims, 2)];
    const cpg = c / g;
    const perChannel = scale.size === c;
    if (!perChannel && scale.size !== g) throw new Error(`GroupNormalization: scale has ${scale.size} elements`);
    const y = yOf(ctx);
    await runRows(ctx, {
      name: 'GroupNormalization', variant: perChannel ? 'c' : 'g', stat: 'welford',
      inputs: [x, scale, gin(ctx, 2)], outputs: [y], rows: x.dims[0]! * g, d: cpg * s, addr: { inner: 1 },
      a: attrFloat(ctx.node, 'epsilon', 1e-5), ints: [g, cpg, s],
      rowLets: 'let gi = row % params[4]; let inv = 1.0 / sqrt(variance + pa);',
      apply: perChannel
        ? '(x - mean) * inv * in1[gi * params[5] + k / params[6]] + in2[gi * params[5] + k / params[6]]'
        : '(x - mean) * inv * in1[gi] + in2[gi]',
    });
    return [y];
  },
};

/** Rows are the trailing axes from `axis`; Scale/B broadcast onto them (expanded once if needed). */
const layerNormalization: GpuKernel = {
  async run(ctx) {
    const x = gin(ctx, 0);
    const r = x.dims.length;
    let axis = attrInt(ctx.node, 'axis', -1);
    if (axis < 0) axis += r;
    const norm = x.dims.slice(axis);
    const d = prod(norm);
    const temps: GpuTensor[] = [];
    const fit = async (t: GpuTensor): Promise<GpuTensor> => {
      if (t.size === d) return t; // same element order: right-aligned dims equal up to leading 1s
      const e = await expandTo(ctx, t, norm);
      temps.push(e);
      return e;
    };
    const scale = await fit(gin(ctx, 1));
    const bias = ctx.inputs[2] ? await fit(ctx.inputs[2]) : undefined;
    const y = yOf(ctx);
    const stats = [1, 2].map((i) => (wants(ctx, i) ? ctx.gpu.alloc(ctx.outputTypes[i]!.dtype, outDims(ctx, i)) : undefined));
    const outs = [y, ...stats.filter((t): t is GpuTensor => !!t)];
    const [mo, io] = [stats[0] ? 1 : 0, stats[1] ? (stats[0] ? 2 : 1) : 0];
    await runRows(ctx, {
      name: 'LayerNormalization', variant: `${bias ? 'b' : ''}${mo}${io}`, stat: 'welford',
      inputs: bias ? [x, scale, bias] : [x, scale], outputs: outs, rows: prod(x.dims, 0, axis), d, addr: { inner: 1 },
      a: attrFloat(ctx.node, 'epsilon', 1e-5),
      rowLets: 'let inv = 1.0 / sqrt(variance + pa);',
      rowEnd: `${mo ? `out${mo}[row] = mean;` : ''} ${io ? `out${io}[row] = inv;` : ''}`,
      apply: `(x - mean) * inv * in1[k]${bias ? ' + in2[k]' : ''}`,
    });
    for (const t of temps) ctx.gpu.release(t);
    return [y, ...stats];
  },
};

/** x / ||x||_p along one axis; a zero vector stays zero (onnxruntime's behaviour, as on the CPU). */
const lpNormalization: GpuKernel = {
  async run(ctx) {
    const x = gin(ctx, 0);
    let axis = attrInt(ctx.node, 'axis', -1);
    if (axis < 0) axis += x.dims.length;
    const p = attrInt(ctx.node, 'p', 2);
    const inner = prod(x.dims, axis + 1);
    const y = yOf(ctx);
    await runRows(ctx, {
      name: 'LpNormalization', variant: '', stat: p === 1 ? 'sumabs' : 'sumsq',
      inputs: [x], outputs: [y], rows: prod(x.dims, 0, axis) * inner, d: x.dims[axis]!, addr: { inner },
      rowLets: `let nrm = ${p === 1 ? 's' : 'sqrt(s)'}; let inv = select(1.0 / nrm, 0.0, nrm == 0.0);`,
      apply: 'x * inv',
    });
    return [y];
  },
};

/** (x - E[x]) / (sqrt(Var[x]) + eps) over any set of axes (the op's function body). */
const meanVarianceNormalization: GpuKernel = {
  async run(ctx) {
    const x = gin(ctx, 0);
    const r = x.dims.length;
    const axes = new Set(attrInts(ctx.node, 'axes', [0, 2, 3]).map((a) => (a < 0 ? a + r : a)));
    const str = stridesOf(x.dims);
    const kept: [number[], number[]] = [[], []], reduced: [number[], number[]] = [[], []];
    for (let a = 0; a < r; a++) {
      const t = axes.has(a) ? reduced : kept;
      t[0].push(x.dims[a]!);
      t[1].push(str[a]!);
    }
    const y = yOf(ctx);
    await runRows(ctx, {
      name: 'MeanVarianceNormalization', variant: '', stat: 'welford',
      inputs: [x], outputs: [y], rows: prod(kept[0]), d: prod(reduced[0]), addr: { kept, reduced },
      a: attrFloat(ctx.node, 'epsilon', 1e-9),
      rowLets: 'let inv = 1.0 / (sqrt(variance) + pa);',
      apply: '(x - mean) * inv',
    });
    return [y];
  },
};

/** y = x / (bias + alpha/size * sum of x^2 over the channel window)^beta, one thread per element. */
const lrn: GpuKernel = {
  async run(ctx) {
    const x = gin(ctx, 0);
    const size = attrInt(ctx.node, 'size', 1);
    const [c, s] = [x.dims[1]!, prod(x.dims, 2)];
    const y = yOf(ctx);
    await ctx.gpu.run({
      name: 'LRN', cacheKey: 'norm-lrn',
      wgsl: () => `${bindings(['f32'], ['f32'])}
${ewMain(`  let C = params[1]; let S = params[2];
  let ch = i32((i / S) % C);
  let plane0 = i - u32(ch) * S; // element (b, 0, s)
  let c0 = max(0, ch - i32(params[3])); let c1 = min(i32(C) - 1, ch + i32(params[4]));
  var acc = 0.0;
  for (var cc = c0; cc <= c1; cc++) { let v = in0[plane0 + u32(cc) * S]; acc += v * v; }
  out0[i] = in0[i] / pow(bitcast<f32>(params[7]) + bitcast<f32>(params[5]) * acc, bitcast<f32>(params[6]));`)}`,
      inputs: [x], outputs: [y],
      params: [x.size, c, s, Math.floor((size - 1) / 2), Math.ceil((size - 1) / 2),
        f32Bits(attrFloat(ctx.node, 'alpha', 1e-4) / size), f32Bits(attrFloat(ctx.node, 'beta', 0.75)), f32Bits(attrFloat(ctx.node, 'bias', 1))],
      workgroups: ewGrid(ctx, x.size),
    });
    return [y];
  },
};

export const kernels: GpuKernelRegistry = {
  BatchNormalization: batchNormalization,
  InstanceNormalization: instanceNormalization,
  GroupNormalization: groupNormalization,
  LayerNormalization: layerNormalization,
  LpNormalization: lpNormalization,
  MeanVarianceNormalization: meanVarianceNormalization,
  LRN: lrn,
};
