/**
 * WebGPU ScatterElements and ScatterND: the output starts as a copy of the data, then every update
 * row (one element for ScatterElements, a block of prod(dims[k:]) for ScatterND) lands at its
 * offset. reduction='none' writes in parallel (duplicate indices are undefined behaviour in ONNX).
 * The reductions must combine duplicates in index order to match the CPU exactly (float add/mul
 * are not associative), so they run in three steps: offsets per row; per row whether it is the
 * first of its offset and the next row with the same offset (an O(m²) scan over rows only);
 * then the first row of each offset walks its chain serially, block elements in parallel. The
 * scan bounds m (MAX_CHAIN_ROWS); larger or unknown counts are rejected and run on the CPU.
 */
import type { Node, ValueType } from '../../../src/ir/graph.js';
import { attrInt, attrString } from '../../../src/ir/graph.js';
import { stridesOf } from '../../../src/ir/tensor.js';
import type { GpuKernel, GpuKernelContext, GpuKernelRegistry } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { FLAT_INDEX, bindings, grid } from '../program.js';
import type { GpuTensor } from '../tensor.js';
import { FIX_INDEX, MAIN_1D, allocOut, copyInto, normAxis, prod } from './tensor-common.js';

export const MAX_CHAIN_ROWS = 16384;

type Reduction = 'none' | 'add' | 'mul' | 'max' | 'min';

/** WGSL combining `a` (current) with `b` (update); max/min propagate NaN as the CPU's Math.max does. */
function combine(red: Reduction, e: string): string {
  const nan = e === 'f32' ? ' || isNan(a) || isNan(b)' : '';
  switch (red) {
    case 'add': return 'a + b';
    case 'mul': return 'a * b';
    case 'max': return nan ? `select(max(a, b), a + b, false${nan})` : 'max(a, b)';
    case 'min': return nan ? `select(min(a, b), a + b, false${nan})` : 'min(a, b)';
    default: return 'b';
  }
}

/** Scatter geometry: rows of updates, block elements per row, and the WGSL offset of a row. */
interface Geometry { rows: number; block: number; offsetFn: string; params: number[] }

/**
 * ScatterElements: row i is update element i; its offset replaces the coordinate along `axis`
 * by the index value. params from 4: rank, axis, axis size, index strides[r], data strides[r].
 */
function elementsGeometry(node: Node, x: GpuTensor, idx: GpuTensor): Geometry {
  const r = x.dims.length;
  const axis = normAxis(attrInt(node, 'axis', 0), r);
  return {
    rows: idx.size, block: 1,
    params: [r, axis, x.dims[axis]!, ...stridesOf(idx.dims), ...stridesOf(x.dims)],
    offsetFn: `fn offsetOf(row: u32) -> u32 {
  let r = params[4]; let axis = params[5];
  var rem = row; var off = 0u;
  for (var d = 0u; d < r; d++) {
    let q = rem / params[7u + d]; rem = rem - q * params[7u + d];
    if (d != axis) { off += q * params[7u + r + d]; }
  }
  return off + fixIndex(idx[row], params[6]) * params[7u + r + axis];
}`,
  };
}

/** ScatterND: row j is index tuple j (k values); params from 4: k, then per axis: size, stride. */
function ndGeometry(x: GpuTensor, idx: GpuTensor): Geometry {
  const q = idx.dims.length;
  const k = idx.dims[q - 1]!;
  const xs = stridesOf(x.dims);
  const params = [k];
  for (let t = 0; t < k; t++) params.push(x.dims[t]!, xs[t]!);
  return {
    rows: prod(idx.dims, 0, q - 1), block: prod(x.dims, k), params,
    offsetFn: `fn offsetOf(row: u32) -> u32 {
  let k = params[4];
  var off = 0u;
  for (var s = 0u; s < k; s++) { off += fixIndex(idx[row * k + s], params[5u + 2u * s]) * params[6u + 2u * s]; }
  return off;
}`,
  };
}

async function scatter(ctx: GpuKernelContext, nd: boolean): Promise<GpuTensor[]> {
  const x = gin(ctx, 0), idx = gin(ctx, 1), upd = gin(ctx, 2);
  const out = allocOut(ctx, 0, outDims(ctx));
  copyInto(ctx, x, out);
  const g = nd ? ndGeometry(x, idx) : elementsGeometry(ctx.node, x, idx);
  const red = attrString(ctx.node, 'reduction', 'none') as Reduction;
  const n = g.rows * g.block;
  if (n === 0 || out.size === 0) return [out];
  const e = x.elem;
  const kind = nd ? 'nd' : 'el';
  // params[0..3]: total, rows, block, (unused); geometry from 4
  const params = [n, g.rows, g.block, 0, ...g.params];
  const prelude = `${FIX_INDEX}\n${g.offsetFn}\n${FLAT_INDEX()}`;
  if (red === 'none') {
    await ctx.gpu.run({
      name: 'Scatter', cacheKey: `tensor:scatter:${kind}:none`,
      wgsl: () => `${bindings(['i32', 'u32'], ['u32'], { in: ['idx', 'upd'] })}
${prelude}
${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= params[0]) { return; }
  let row = i / params[2]; let t = i - row * params[2];
  out0[offsetOf(row) + t] = upd[i];
}`,
      inputs: [idx, upd], outputs: [out], params, workgroups: grid(n),
    });
    return [out];
  }
  // info: [0, m) offsets, [m, 2m) next row with the same offset (m = none), [2m, 3m) first-of-offset flags
  const m = g.rows;
  const info = ctx.gpu.alloc('uint32', [3 * m]);
  await ctx.gpu.run({
    name: 'ScatterOffsets', cacheKey: `tensor:scatter:${kind}:offsets`,
    wgsl: () => `${bindings(['i32'], ['u32'], { in: ['idx'], out: ['info'] })}
${prelude}
${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i < params[1]) { info[i] = offsetOf(i); }
}`,
    inputs: [idx], outputs: [info], params, workgroups: grid(m),
  });
  await ctx.gpu.run({
    name: 'ScatterChains', cacheKey: 'tensor:scatter:chains',
    wgsl: () => `${bindings([], ['u32'], { out: ['info'] })}
${FLAT_INDEX()}
${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  let m = params[0];
  if (i >= m) { return; }
  let off = info[i];
  var first = 1u;
  for (var j = 0u; j < i; j++) { if (info[j] == off) { first = 0u; break; } }
  var next = m;
  for (var j = i + 1u; j < m; j++) { if (info[j] == off) { next = j; break; } }
  info[m + i] = next;
  info[2u * m + i] = first;
}`,
    inputs: [], outputs: [info], params: [m], workgroups: grid(m),
  });
  await ctx.gpu.run({
    name: 'ScatterReduce', cacheKey: `tensor:scatter:reduce:${red}:${e}`,
    wgsl: () => `${bindings([e, 'u32'], [e], { in: ['upd', 'info'] })}
fn isNan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
${FLAT_INDEX()}
${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= params[0]) { return; }
  let m = params[1]; let block = params[2];
  let row = i / block; let t = i - row * block;
  if (info[2u * m + row] == 0u) { return; }
  let at = info[row] + t;
  var a = out0[at];
  var j = row;
  loop {
    if (j >= m) { break; }
    let b = upd[j * block + t];
    a = ${combine(red, e)};
    j = info[m + j];
  }
  out0[at] = a;
}`,
    inputs: [upd, info], outputs: [out], params: [n, m, g.block], workgroups: grid(n),
  });
  ctx.gpu.release(info);
  return [out];
}

function scatterKernel(nd: boolean): GpuKernel {
  return {
    unsupported(node: Node, inputs: (ValueType | undefined)[]) {
      if (attrString(node, 'reduction', 'none') === 'none') return undefined;
      const s = inputs[1]?.shape;
      if (!s || s.some((d) => typeof d !== 'number')) return `${node.opType} with a reduction needs a static indices shape on WebGPU`;
      const dims = s as number[];
      const rows = nd ? prod(dims, 0, dims.length - 1) : prod(dims);
      return rows > MAX_CHAIN_ROWS ? `${node.opType} with a reduction over ${rows} index rows runs on the CPU (more than ${MAX_CHAIN_ROWS})` : undefined;
    },
    run: async (ctx) => scatter(ctx, nd),
  };
}

export const kernels: GpuKernelRegistry = {
  ScatterElements: scatterKernel(false),
  Scatter: scatterKernel(false),
  ScatterND: scatterKernel(true),
};
