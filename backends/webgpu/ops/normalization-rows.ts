/**
 * The row-reduction program shared by the softmax family and the statistics-based norms: one
 * workgroup per row, two passes over it. Pass 1 strides the row (thread t reads k = t, t + WG, ...)
 * into per-thread partial statistics, then a shared-memory tree combines them; pass 2 re-reads the
 * row and writes each element from the final statistics. The statistics are combinable partials so
 * one pass suffices: online softmax (running max, sum rescaled when the max grows), first-index
 * argmax, Welford (count, mean, M2; Chan's merge), or a plain sum. Tiny rows and short strided rows
 * run one thread per row instead (see threadPerRow), with the same statistics code.
 *
 * Rows are addressed either as [outer, d, inner] (row = a*inner + i, elements at stride inner; inner
 * is 1 for contiguous rows) or, for MeanVarianceNormalization's arbitrary axes, through kept and
 * reduced dims/strides walked in loops. Parameters: [rows, d, a (f32), b (f32), i0, i1, i2, i3],
 * then the addressing. The per-op code reads `x`, `k` (index in the row), `row`, and the statistics.
 */
import { stridesOf } from '../../../src/ir/tensor.js';
import type { GpuKernelContext } from '../kernel.js';
import { FLAT_INDEX, bindings, f32Bits, grid, WG } from '../program.js';
import type { GpuElem, GpuTensor } from '../tensor.js';

export type RowStat = 'softmax' | 'argmax' | 'welford' | 'sumabs' | 'sumsq';

export interface RowJob {
  name: string;
  /** Cache-key part for everything in `apply`/`rowEnd`/bindings that changes the code. */
  variant: string;
  stat: RowStat;
  /** in0 is the data; the rest are per-op parameters (scale, bias...). */
  inputs: GpuTensor[];
  /** out0 is the result (same layout as in0); more outputs are per-row (written by rowEnd). */
  outputs: GpuTensor[];
  rows: number;
  d: number;
  /** [outer, d, inner] addressing, or kept/reduced axes (general). */
  addr: { inner: number } | { kept: [number[], number[]]; reduced: [number[], number[]] };
  a?: number;
  b?: number;
  ints?: number[];
  /** WGSL: `let`s computed once per row from the statistics (optional). */
  rowLets?: string;
  /** WGSL expression of the output element. */
  apply: string;
  /** WGSL run by thread 0 of the row after the statistics (per-row outputs). */
  rowEnd?: string;
}

const H = 8; // header length of the parameters

/**
 * One thread per row instead of a workgroup: for tiny rows (a workgroup would idle), and for short
 * strided rows (axis not last, inner >= 16), where neighbouring threads then read neighbouring
 * addresses (coalesced) while a workgroup per row would read one element per stride.
 */
function threadPerRow(job: RowJob): boolean {
  const inner = 'inner' in job.addr ? job.addr.inner : 1;
  return job.d <= 8 || (inner >= 16 && job.d <= 512 && job.rows >= 1024);
}

/** Threads per row: small rows waste fewer idle threads with 64. */
function rowWg(ctx: GpuKernelContext, d: number): number {
  return Math.min(d > 512 ? 256 : 64, ctx.gpu.ctx.caps.maxComputeInvocationsPerWorkgroup);
}

/** WGSL per statistic: per-thread init/acc, shared-memory store/combine/load, and `fin` (one thread per row). */
const STAT: Record<RowStat, { shared: string; init: string; acc: string; store: string; combine: string; load: string; fin: string }> = {
  softmax: {
    shared: 'var<workgroup> r0: array<f32, WGS>;\nvar<workgroup> r1: array<f32, WGS>;',
    // lowest finite rather than -inf: exp(-inf - -inf) would be NaN for rows of -inf.
    init: 'var m = bitcast<f32>(0xff7fffffu); var s = 0.0;',
    acc: 'if (x > m) { s = s * exp(m - x) + 1.0; m = x; } else { s += exp(x - m); }',
    store: 'r0[lid] = m; r1[lid] = s;',
    combine: 'let m1 = r0[lid]; let m2 = r0[lid + h]; let mn = max(m1, m2); r1[lid] = r1[lid] * exp(m1 - mn) + r1[lid + h] * exp(m2 - mn); r0[lid] = mn;',
    load: 'let m = r0[0]; let s = r1[0];',
    fin: '',
  },
  argmax: {
    shared: 'var<workgroup> r0: array<f32, WGS>;\nvar<workgroup> ri: array<u32, WGS>;',
    // strict > keeps the first maximum; d marks "no element above -inf" (the CPU then picks 0).
    init: 'var ninfBits = 0xff800000u; var m = bitcast<f32>(ninfBits); var arg = d;',
    acc: 'if (x > m) { m = x; arg = k; }',
    store: 'r0[lid] = m; ri[lid] = arg;',
    combine: 'let v2 = r0[lid + h]; let i2 = ri[lid + h]; if (v2 > r0[lid] || (v2 == r0[lid] && i2 < ri[lid])) { r0[lid] = v2; ri[lid] = i2; }',
    load: 'let arg = select(ri[0], 0u, ri[0] >= d);',
    fin: 'if (arg >= d) { arg = 0u; }',
  },
  welford: {
    shared: 'var<workgroup> r0: array<f32, WGS>;\nvar<workgroup> r1: array<f32, WGS>;\nvar<workgroup> r2: array<f32, WGS>;',
    init: 'var n = 0.0; var mean = 0.0; var m2 = 0.0;',
    acc: 'n += 1.0; let dl = x - mean; mean += dl / n; m2 += dl * (x - mean);',
    store: 'r0[lid] = n; r1[lid] = mean; r2[lid] = m2;',
    combine: `let na = r0[lid]; let nb = r0[lid + h]; let nn = na + nb;
      if (nb > 0.0) { let dl = r1[lid + h] - r1[lid]; r1[lid] = r1[lid] + dl * nb / nn; r2[lid] = r2[lid] + r2[lid + h] + dl * dl * na * nb / nn; r0[lid] = nn; }`,
    load: 'let mean = r1[0]; let variance = r2[0] / max(r0[0], 1.0);',
    fin: 'let variance = m2 / max(n, 1.0);',
  },
  sumabs: {
    shared: 'var<workgroup> r0: array<f32, WGS>;',
    init: 'var s = 0.0;', acc: 's += abs(x);', store: 'r0[lid] = s;', combine: 'r0[lid] = r0[lid] + r0[lid + h];', load: 'let s = r0[0];', fin: '',
  },
  sumsq: {
    shared: 'var<workgroup> r0: array<f32, WGS>;',
    init: 'var s = 0.0;', acc: 's += x * x;', store: 'r0[lid] = s;', combine: 'r0[lid] = r0[lid] + r0[lid + h];', load: 'let s = r0[0];', fin: '',
  },
};

/** Records the row program of `job`. */
export async function runRows(ctx: GpuKernelContext, job: RowJob): Promise<void> {
  if (job.rows === 0 || job.d === 0) return;
  const general = !('inner' in job.addr);
  const ints = job.ints ?? [];
  const params = [job.rows, job.d, f32Bits(job.a ?? 0), f32Bits(job.b ?? 0), ...ints, ...new Array<number>(4 - ints.length).fill(0)];
  if ('inner' in job.addr) params.push(job.addr.inner);
  else {
    const [kd, ks] = job.addr.kept, [rd, rs] = job.addr.reduced;
    params.push(kd.length, rd.length, ...kd, ...ks, ...rd, ...rs);
  }
  const st = STAT[job.stat];
  const ins = job.inputs.map((t) => t.elem), outs = job.outputs.map((t) => t.elem);
  // base offset of a row and offset of element k in it
  const addr = general
    ? `fn rowBase(row: u32) -> u32 {
  let nk = params[${H}u]; let nr = params[${H + 1}u];
  var rem = row; var o = 0u;
  for (var j = nk; j > 0u; j--) { let dd = params[${H + 2}u + j - 1u]; o += (rem % dd) * params[${H + 2}u + nk + j - 1u]; rem = rem / dd; }
  return o;
}
fn elemOff(k: u32) -> u32 {
  let nk = params[${H}u]; let nr = params[${H + 1}u]; let p = ${H + 2}u + 2u * nk;
  var rem = k; var o = 0u;
  for (var j = nr; j > 0u; j--) { let dd = params[p + j - 1u]; o += (rem % dd) * params[p + nr + j - 1u]; rem = rem / dd; }
  return o;
}`
    : `fn rowBase(row: u32) -> u32 { let inner = params[${H}u]; return (row / inner) * params[1] * inner + row % inner; }
fn elemOff(k: u32) -> u32 { return k * params[${H}u]; }`;
  const head = `${bindings(ins as GpuElem[], outs as GpuElem[])}\n${addr}`;
  const pre = `let d = params[1];
  let pa = bitcast<f32>(params[2]); let pb = bitcast<f32>(params[3]);
  let base = rowBase(row);`;
  const key = `rows:${job.name}:${job.variant}:${job.stat}:${general ? 'gen' : 'str'}:${ins.join(',')}->${outs.join(',')}`;
  const maxDim = ctx.gpu.ctx.caps.maxComputeWorkgroupsPerDimension;
  if (threadPerRow(job)) {
    await ctx.gpu.run({
      name: job.name, cacheKey: `${key}:thread`,
      wgsl: () => `${head}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = flatIndex(gid, nwg);
  if (row >= params[0]) { return; }
  ${pre}
  ${st.init}
  for (var k = 0u; k < d; k++) { let x = in0[base + elemOff(k)]; ${st.acc} }
  ${st.fin}
  ${job.rowLets ?? ''}
  ${job.rowEnd ?? ''}
  for (var k = 0u; k < d; k++) { let i = base + elemOff(k); let x = in0[i]; out0[i] = ${job.apply}; }
}`,
      inputs: job.inputs, outputs: job.outputs, params, workgroups: grid(job.rows, WG, maxDim),
    });
    return;
  }
  const wg = rowWg(ctx, job.d);
  await ctx.gpu.run({
    name: job.name, cacheKey: `${key}:wg${wg}`,
    wgsl: () => `${head}
const WGS = ${wg}u;
${st.shared.replaceAll('WGS', `${wg}`)}
@compute @workgroup_size(${wg}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params[0]) { return; } // uniform: the whole workgroup leaves
  ${pre}
  {
    ${st.init}
    for (var k = lid; k < d; k += WGS) { let x = in0[base + elemOff(k)]; ${st.acc} }
    ${st.store}
  }
  workgroupBarrier();
  for (var h = WGS / 2u; h > 0u; h >>= 1u) {
    if (lid < h) { ${st.combine} }
    workgroupBarrier();
  }
  ${st.load}
  ${job.rowLets ?? ''}
  ${job.rowEnd ? `if (lid == 0u) { ${job.rowEnd} }` : ''}
  for (var k = lid; k < d; k += WGS) { let i = base + elemOff(k); let x = in0[i]; out0[i] = ${job.apply}; }
}`,
    inputs: job.inputs, outputs: job.outputs, params, workgroups: grid(job.rows, 1, maxDim),
  });
}

/** A parameter tensor broadcast (unidirectionally, right-aligned) to `target` dims, materialized. */
export async function expandTo(ctx: GpuKernelContext, t: GpuTensor, target: readonly number[]): Promise<GpuTensor> {
  const n = target.reduce((a, b) => a * b, 1);
  const out = ctx.gpu.alloc(t.dtype, target);
  const r = target.length;
  const src = stridesOf(t.dims);
  const bs = new Array<number>(r).fill(0);
  t.dims.forEach((d, i) => { bs[r - t.dims.length + i] = d === 1 ? 0 : src[i]!; });
  await ctx.gpu.run({
    name: 'expand', cacheKey: `norm-expand:${t.elem}`,
    wgsl: () => `${bindings([t.elem], [t.elem])}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= params[0]) { return; }
  let r = params[1];
  var rem = i; var o = 0u;
  for (var j = 0u; j < r; j++) { let q = rem / params[2u + j]; rem = rem % params[2u + j]; o += q * params[2u + r + j]; }
  out0[i] = in0[o];
}`,
    inputs: [t], outputs: [out], params: [n, r, ...stridesOf(target), ...bs], workgroups: grid(n),
  });
  return out;
}
