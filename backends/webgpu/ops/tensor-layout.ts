/**
 * WebGPU layout ops: Reshape-like ops are one buffer copy; Slice / Expand / Tile are a strided
 * gather (a plain copy when the result is a contiguous run of the input); Concat and Split move
 * blocks, several tensors per dispatch; Transpose is in tensor-transpose.ts.
 */
import { attrInt } from '../../../src/ir/graph.js';
import { stridesOf } from '../../../src/ir/tensor.js';
import { sliceParams } from '../../../src/ir/ops/tensor-util.js';
import type { GpuKernel, GpuKernelContext, GpuKernelRegistry } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { FLAT_INDEX, bindings, grid } from '../program.js';
import type { GpuTensor } from '../tensor.js';
import { MAIN_1D, allocOut, copyInto, normAxis, prod, stridedCopy } from './tensor-common.js';

/** Same elements, new dims (Reshape, Squeeze, Unsqueeze, Flatten): a copy into the output's buffer. */
function view(hostInputs: number[]): GpuKernel {
  return {
    hostInputs,
    async run(ctx) {
      const x = gin(ctx, 0);
      const y = allocOut(ctx, 0, outDims(ctx));
      copyInto(ctx, x, y);
      return [y];
    },
  };
}

const slice: GpuKernel = {
  hostInputs: [1, 2, 3, 4],
  async run(ctx) {
    const x = gin(ctx, 0);
    const nums = (i: number) => ctx.host(i)?.toNumberArray();
    const p = sliceParams(x.dims, nums(1)!, nums(2)!, nums(3), nums(4));
    const out = allocOut(ctx, 0, outDims(ctx));
    const st = stridesOf(x.dims);
    let offset = 0;
    for (let k = 0; k < x.dims.length; k++) offset += (p[k]!.size > 0 ? p[k]!.start : 0) * st[k]!;
    await stridedCopy(ctx, x, out, p.map((a, k) => a.step * st[k]!), offset);
    return [out];
  },
};

const expand: GpuKernel = {
  hostInputs: [1],
  async run(ctx) {
    const x = gin(ctx, 0);
    const dims = outDims(ctx);
    const out = allocOut(ctx, 0, dims);
    const st = stridesOf(x.dims);
    const lead = dims.length - x.dims.length;
    await stridedCopy(ctx, x, out, dims.map((d, k) => (k < lead || x.dims[k - lead] !== d ? 0 : st[k - lead]!)), 0);
    return [out];
  },
};

const tile: GpuKernel = {
  hostInputs: [1],
  async run(ctx) {
    const x = gin(ctx, 0);
    const out = allocOut(ctx, 0, outDims(ctx));
    // Output coordinate q reads input coordinate q mod dims (the repeat index drops out).
    await stridedCopy(ctx, x, out, stridesOf(x.dims), 0, x.dims);
    return [out];
  },
};

/**
 * Block moves shared by Concat and Split: tensor t is a [outer, rows[t]] matrix placed at column
 * cols[t] of the [outer, width] big tensor. Up to `maxGroup` small tensors go in one dispatch (a
 * chain of range tests picks the tensor), bounded by the storage buffers a stage may bind.
 */
async function blockMove(ctx: GpuKernelContext, mode: 'concat' | 'split', big: GpuTensor, parts: GpuTensor[], rows: number[], cols: number[], outer: number, width: number): Promise<void> {
  const maxGroup = Math.max(1, Math.min(8, ctx.gpu.ctx.caps.maxStorageBuffersPerShaderStage - 2));
  const live = parts.map((_, t) => t).filter((t) => rows[t]! > 0);
  for (let g = 0; g < live.length; g += maxGroup) {
    const ts = live.slice(g, g + maxGroup);
    const k = ts.length;
    const base = cols[ts[0]!]!;
    const w = ts.reduce((a, t) => a + rows[t]!, 0);
    if (outer === 1) {
      // contiguous: plain copies
      for (const t of ts) {
        if (mode === 'concat') copyInto(ctx, parts[t]!, big, 0, cols[t]!, rows[t]!);
        else copyInto(ctx, big, parts[t]!, cols[t]!, 0, rows[t]!);
      }
      continue;
    }
    // params: n, w, width, base, then per part: start column (relative to base), row length
    const params = [outer * w, w, width, base];
    for (const t of ts) params.push(cols[t]! - base, rows[t]!);
    const names = Array.from({ length: k }, (_, j) => `p${j}`);
    const pick = (j: number) => mode === 'concat'
      ? `out0[o * params[2] + params[3] + c] = p${j}[o * params[${5 + 2 * j}] + c - params[${4 + 2 * j}]];`
      : `p${j}[o * params[${5 + 2 * j}] + c - params[${4 + 2 * j}]] = in0[o * params[2] + params[3] + c];`;
    const chain = names.map((_, j) => (j < k - 1 ? `if (c < params[${6 + 2 * j}]) { ${pick(j)} }` : `{ ${pick(j)} }`)).join(' else ');
    await ctx.gpu.run({
      name: mode === 'concat' ? 'Concat' : 'Split',
      cacheKey: `tensor:${mode}:${k}`,
      wgsl: () => `${mode === 'concat' ? bindings(names.map(() => 'u32'), ['u32'], { in: names }) : bindings(['u32'], names.map(() => 'u32'), { out: names })}
${FLAT_INDEX()}
${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= params[0]) { return; }
  let o = i / params[1]; let c = i - o * params[1];
  ${chain}
}`,
      inputs: mode === 'concat' ? ts.map((t) => parts[t]!) : [big],
      outputs: mode === 'concat' ? [big] : ts.map((t) => parts[t]!),
      params, workgroups: grid(outer * w),
    });
  }
}

const concat: GpuKernel = {
  async run(ctx) {
    const dims = outDims(ctx);
    const out = allocOut(ctx, 0, dims);
    const axis = normAxis(attrInt(ctx.node, 'axis', 0), dims.length);
    const ins = ctx.inputs.filter((t): t is GpuTensor => t !== undefined);
    const outer = prod(dims, 0, axis);
    const inner = prod(dims, axis + 1);
    const rows = ins.map((t) => t.dims[axis]! * inner);
    const cols: number[] = [];
    rows.reduce((a, r) => (cols.push(a), a + r), 0);
    if (out.size > 0) await blockMove(ctx, 'concat', out, ins, rows, cols, outer, dims[axis]! * inner);
    return [out];
  },
};

const split: GpuKernel = {
  hostInputs: [1],
  async run(ctx) {
    const x = gin(ctx, 0);
    const axis = normAxis(attrInt(ctx.node, 'axis', 0), x.dims.length);
    const outs = ctx.node.outputs.map((_, i) => allocOut(ctx, i, outDims(ctx, i)));
    const outer = prod(x.dims, 0, axis);
    const inner = prod(x.dims, axis + 1);
    const rows = outs.map((t) => t.dims[axis]! * inner);
    const cols: number[] = [];
    rows.reduce((a, r) => (cols.push(a), a + r), 0);
    if (x.size > 0) await blockMove(ctx, 'split', x, outs, rows, cols, outer, x.dims[axis]! * inner);
    return outs;
  },
};

export const kernels: GpuKernelRegistry = {
  Reshape: view([1]), Squeeze: view([1]), Unsqueeze: view([1]), Flatten: view([]),
  Slice: slice, Expand: expand, Tile: tile, Concat: concat, Split: split,
};
