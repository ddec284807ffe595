/**
 * Softmax, LogSoftmax and Hardmax on WebGPU (semantics: backends/cpu/normalization-softmax.ts), as
 * row reductions over [outer, d, inner] around the axis: one workgroup per (outer, inner) row. For
 * legacy nodes (`coerce_2d`, opset < 13) d spans every axis from `axis` to the end, so inner is 1.
 */
import { attrInt } from '../../../src/ir/graph.js';
import type { GpuKernel, GpuKernelRegistry } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { runRows, type RowStat } from './normalization-rows.js';

type Kind = 'Softmax' | 'LogSoftmax' | 'Hardmax';

const SPEC: Record<Kind, { stat: RowStat; rowLets: string; apply: string }> = {
  Softmax: { stat: 'softmax', rowLets: 'let inv = 1.0 / s;', apply: 'exp(x - m) * inv' },
  LogSoftmax: { stat: 'softmax', rowLets: 'let lse = m + log(s);', apply: 'x - lse' },
  Hardmax: { stat: 'argmax', rowLets: '', apply: 'select(0.0, 1.0, k == arg)' },
};

function softmaxLike(kind: Kind): GpuKernel {
  return {
    async run(ctx) {
      const x = gin(ctx, 0);
      const r = x.dims.length;
      let axis = attrInt(ctx.node, 'axis', -1);
      if (axis < 0) axis += r;
      const end = ctx.node.attrs['coerce_2d'] === 1 ? r : axis + 1;
      let outer = 1, d = 1;
      for (let i = 0; i < axis; i++) outer *= x.dims[i]!;
      for (let i = axis; i < end; i++) d *= x.dims[i]!;
      const inner = outer * d === 0 ? 1 : x.size / (outer * d);
      const y = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, outDims(ctx));
      const s = SPEC[kind];
      await runRows(ctx, {
        name: kind, variant: '', stat: s.stat, inputs: [x], outputs: [y],
        rows: outer * inner, d, addr: { inner }, rowLets: s.rowLets, apply: s.apply,
      });
      return [y];
    },
  };
}

export const kernels: GpuKernelRegistry = {
  Softmax: softmaxLike('Softmax'),
  LogSoftmax: softmaxLike('LogSoftmax'),
  Hardmax: softmaxLike('Hardmax'),
};
