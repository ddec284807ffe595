/**
 * The row-reduction program shared by the softmax family and the statistics-based norms: two passes
 * over each row. Pass 1 folds the row into a combinable statistic `St` (online softmax: running max
 * and a sum rescaled when the max grows; first-index argmax; Welford count/mean/M2 with Chan's merge;
 * or a plain sum); pass 2 re-reads the row and writes each element from the final statistic. So one
 * read of the row gives the statistic, whatever order the partial results are merged in.
 *
 * Three shapes of the same code, chosen by threadPerRow / splitRows:
 * - group (the default): a team of TPR threads per row (32..256, about 8 elements each), several
 *   teams per 256-thread workgroup for short rows; lane t folds k = t, t + TPR, ..., then a
 *   shared-memory tree merges the team's partials;
 * - thread: one thread per row, for tiny rows and short strided rows (see threadPerRow);
 * - split: few long rows (GroupNorm / InstanceNorm on a batch of 1) would leave most of the GPU idle,
 *   so each row is cut into chunks: one workgroup per chunk writes its partial statistic, then one
 *   workgroup per chunk merges its row's partials and writes its chunk (two dispatches).
 *
 * Rows are addressed either as [outer, d, inner] (row = a*inner + i, elements at stride inner; inner
 * is 1 for contiguous rows) or, for MeanVarianceNormalization's arbitrary axes, through kept and
 * reduced dims/strides walked in loops. Parameters: [rows, d, a (f32), b (f32), i0, i1, i2, i3,
 * chunks, chunk length], then the addressing. The per-op code reads `x`, `k` (index in the row),
 * `row`, `pa`, `pb`, params[4..7] and the statistic's names (m, s / arg / mean, variance / s).
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
  /** WGSL run once per row after the statistics (per-row outputs). */
  rowEnd?: string;
}

const H = 10; // header length of the parameters
const CHUNK = 4096; // elements per workgroup in split mode

/** WGSL of each statistic: init, a thread's fold (acc, or `local` Acc functions), merge (comb, p before q in the row), names. */
const STAT: Record<RowStat, { init: string; acc: string; comb: string; names: string; local?: string }> = {
  softmax: {
    // lowest finite rather than -inf: exp(-inf - -inf) would be NaN for rows of -inf
    init: 'St(bitcast<f32>(0xff7fffffu), 0.0, 0.0, 0u)',
    acc: 'if (x > p.a) { p.b = p.b * exp(p.a - x) + 1.0; p.a = x; } else { p.b += exp(x - p.a); }',
    comb: 'let m = max(p.a, q.a); return St(m, p.b * exp(p.a - m) + q.b * exp(q.a - m), 0.0, 0u);',
    names: 'let m = st.a; let s = st.b;',
  },
  argmax: {
    // strict > keeps the first maximum; i = 0xffffffff means "nothing above -inf" (the CPU picks 0)
    init: 'St(bitcast<f32>(ninf), 0.0, 0.0, 0xffffffffu)', // ninf: a var, so -inf is not a (rejected) constant
    acc: 'if (x > p.a) { p.a = x; p.i = k; }',
    comb: 'if (q.a > p.a || (q.a == p.a && q.i < p.i)) { return q; } return p;',
    names: 'let arg = select(st.i, 0u, st.i == 0xffffffffu);',
  },
  welford: {
    init: 'St(0.0, 0.0, 0.0, 0u)',
    acc: '', // see local
    comb: `if (q.a == 0.0) { return p; }
  let n = p.a + q.a; let dl = q.b - p.b;
  return St(n, p.b + dl * q.a / n, p.c + q.c + dl * dl * p.a * q.a / n, 0u);`,
    names: 'let mean = st.b; let variance = st.c / max(st.a, 1.0);',
    // A thread folds its elements as sums of x - sh, sh its first element (no division per element,
    // and no cancellation while the spread is not tiny next to |mean - sh|), then turns them into
    // count / mean / M2 for the merges.
    local: `struct Acc { n: f32, sh: f32, s1: f32, s2: f32 }
fn accInit() -> Acc { return Acc(0.0, 0.0, 0.0, 0.0); }
fn accAdd(p0: Acc, x: f32, k: u32) -> Acc {
  var p = p0;
  if (p.n == 0.0) { p.sh = x; }
  p.n += 1.0; let dx = x - p.sh; p.s1 += dx; p.s2 += dx * dx;
  return p;
}
fn accSt(p: Acc) -> St {
  if (p.n == 0.0) { return St(0.0, 0.0, 0.0, 0u); }
  return St(p.n, p.sh + p.s1 / p.n, max(p.s2 - p.s1 * p.s1 / p.n, 0.0), 0u);
}`,
  },
  sumabs: { init: 'St(0.0, 0.0, 0.0, 0u)', acc: 'p.a += abs(x);', comb: 'return St(p.a + q.a, 0.0, 0.0, 0u);', names: 'let s = st.a;' },
  sumsq: { init: 'St(0.0, 0.0, 0.0, 0u)', acc: 'p.a += x * x;', comb: 'return St(p.a + q.a, 0.0, 0.0, 0u);', names: 'let s = st.a;' },
};

function statFns(stat: RowStat): string {
  const st = STAT[stat];
  // Acc is what a thread folds its elements into; accSt turns it into the mergeable St
  const local = st.local ?? `alias Acc = St;
fn accInit() -> Acc { return stInit(); }
fn accAdd(p0: St, x: f32, k: u32) -> St { var p = p0; ${st.acc} return p; }
fn accSt(p: Acc) -> St { return p; }`;
  return `struct St { a: f32, b: f32, c: f32, i: u32 }
fn stInit() -> St { var ninf = 0xff800000u; return ${st.init}; }
fn stComb(p: St, q: St) -> St { ${st.comb} }
${local}`;
}

/**
 * One thread per row instead of a workgroup: for tiny rows (a workgroup would idle), and for short
 * strided rows (axis not last, inner >= 16), where neighbouring threads then read neighbouring
 * addresses (coalesced) while a workgroup per row would read one element per stride.
 */
function threadPerRow(job: RowJob): boolean {
  const inner = 'inner' in job.addr ? job.addr.inner : 1;
  return job.d <= 8 || (inner >= 16 && job.d <= 512 && job.rows >= 1024);
}

/** Chunks per row in split mode (1 = no split): only for a few long rows. */
function splitRows(job: RowJob): number {
  return job.rows < 1024 && job.d >= 2 * CHUNK ? Math.ceil(job.d / CHUNK) : 1;
}

/** Threads per row (a team) in group mode: about 8 elements each, 32 to 256. */
function teamSize(ctx: GpuKernelContext, d: number): number {
  let wg = 32;
  while (wg < 256 && wg * 8 < d) wg *= 2;
  return Math.min(wg, ctx.gpu.ctx.caps.maxComputeInvocationsPerWorkgroup);
}

/** The shared-memory tree merge of the workgroup's partials into `st` (all threads get it). */
const TREE = `red[lid] = st;
  workgroupBarrier();
  for (var h = WGS / 2u; h > 0u; h >>= 1u) {
    if (lid < h) { red[lid] = stComb(red[lid], red[lid + h]); }
    workgroupBarrier();
  }
  st = red[0];`;

/** Records the row program of `job`. */
export async function runRows(ctx: GpuKernelContext, job: RowJob): Promise<void> {
  if (job.rows === 0 || job.d === 0) return;
  const general = !('inner' in job.addr);
  const ints = job.ints ?? [];
  const chunks = threadPerRow(job) ? 0 : splitRows(job);
  const params = [job.rows, job.d, f32Bits(job.a ?? 0), f32Bits(job.b ?? 0), ...ints, ...new Array<number>(4 - ints.length).fill(0), chunks, CHUNK];
  if ('inner' in job.addr) params.push(job.addr.inner);
  else {
    const [kd, ks] = job.addr.kept, [rd, rs] = job.addr.reduced;
    params.push(kd.length, rd.length, ...kd, ...ks, ...rd, ...rs);
  }
  const ins = job.inputs.map((t) => t.elem), outs = job.outputs.map((t) => t.elem);
  // base offset of a row and offset of element k in it
  const addr = general
    ? `fn rowBase(row: u32) -> u32 {
  let nk = params[${H}u];
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
  const fns = `${addr}\n${statFns(job.stat)}`;
  const pre = `let d = params[1];
  let pa = bitcast<f32>(params[2]); let pb = bitcast<f32>(params[3]);
  let base = rowBase(row);`;
  const after = (rowEndGuard: string) => `${STAT[job.stat].names}
  ${job.rowLets ?? ''}
  ${job.rowEnd ? `if (${rowEndGuard}) { ${job.rowEnd} }` : ''}`;
  const write = (from: string, to: string, step: string) =>
    `for (var k = ${from}; k < ${to}; k += ${step}) { let i = base + elemOff(k); let x = in0[i]; out0[i] = ${job.apply}; }`;
  const key = `rows:${job.name}:${job.variant}:${job.stat}:${general ? 'gen' : 'str'}:${ins.join(',')}->${outs.join(',')}`;
  const maxDim = ctx.gpu.ctx.caps.maxComputeWorkgroupsPerDimension;

  if (chunks === 0) {
    await ctx.gpu.run({
      name: job.name, cacheKey: `${key}:thread`,
      wgsl: () => `${bindings(ins as GpuElem[], outs as GpuElem[])}
${fns}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = flatIndex(gid, nwg);
  if (row >= params[0]) { return; }
  ${pre}
  var acc = accInit();
  for (var k = 0u; k < d; k++) { acc = accAdd(acc, in0[base + elemOff(k)], k); }
  let st = accSt(acc);
  ${after('true')}
  ${write('0u', 'd', '1u')}
}`,
      inputs: job.inputs, outputs: job.outputs, params, workgroups: grid(job.rows, WG, maxDim),
    });
    return;
  }

  if (chunks === 1) {
    // TPR threads per row; a 256-thread workgroup holds 256 / TPR rows (short rows would otherwise
    // launch one small workgroup each, and the launch rate, not memory, would set the pace)
    const tpr = teamSize(ctx, job.d);
    const wg = Math.max(tpr, Math.min(256, ctx.gpu.ctx.caps.maxComputeInvocationsPerWorkgroup));
    const rpw = wg / tpr;
    await ctx.gpu.run({
      name: job.name, cacheKey: `${key}:seg${tpr}x${rpw}`,
      wgsl: () => `${bindings(ins as GpuElem[], outs as GpuElem[])}
${fns}
const TPR = ${tpr}u;
var<workgroup> red: array<St, ${wg}>;
@compute @workgroup_size(${wg}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let lane = lid % TPR; let seg = lid / TPR;
  let row = (wid.x + wid.y * nwg.x) * ${rpw}u + seg;
  let live = row < params[0];
  // rows past the end fold nothing but still reach every barrier
  let d = select(0u, params[1], live);
  let pa = bitcast<f32>(params[2]); let pb = bitcast<f32>(params[3]);
  let base = rowBase(row);
  var acc = accInit();
  for (var k = lane; k < d; k += TPR) { acc = accAdd(acc, in0[base + elemOff(k)], k); }
  red[lid] = accSt(acc);
  workgroupBarrier();
  for (var h = TPR / 2u; h > 0u; h >>= 1u) {
    if (lane < h) { red[lid] = stComb(red[lid], red[lid + h]); }
    workgroupBarrier();
  }
  let st = red[seg * TPR];
  ${after('lane == 0u && live')}
  ${write('lane', 'd', 'TPR')}
}`,
      inputs: job.inputs, outputs: job.outputs, params, workgroups: grid(Math.ceil(job.rows / rpw), 1, maxDim),
    });
    return;
  }

  // split: partial statistics per chunk (4 words each), then merge + write per chunk
  const wg = Math.min(256, ctx.gpu.ctx.caps.maxComputeInvocationsPerWorkgroup);
  const part = ctx.gpu.alloc('uint32', [job.rows * chunks * 4]);
  const chunkHead = `let wgi = wid.x + wid.y * nwg.x;
  let chunks = params[8];
  let row = wgi / chunks; let chunk = wgi % chunks;
  if (row >= params[0]) { return; } // uniform: the whole workgroup leaves
  ${pre}
  let k0 = chunk * params[9]; let k1 = min(d, k0 + params[9]);`;
  await ctx.gpu.run({
    name: `${job.name}/stats`, cacheKey: `${key}:split-stats:wg${wg}`,
    wgsl: () => `${bindings(['f32'], ['u32'])}
${fns}
const WGS = ${wg}u;
var<workgroup> red: array<St, ${wg}>;
@compute @workgroup_size(${wg}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${chunkHead}
  var acc = accInit();
  for (var k = k0 + lid; k < k1; k += WGS) { acc = accAdd(acc, in0[base + elemOff(k)], k); }
  var st = accSt(acc);
  ${TREE}
  if (lid == 0u) { let o = wgi * 4u; out0[o] = bitcast<u32>(st.a); out0[o + 1u] = bitcast<u32>(st.b); out0[o + 2u] = bitcast<u32>(st.c); out0[o + 3u] = st.i; }
}`,
    inputs: [job.inputs[0]!], outputs: [part], params, workgroups: grid(job.rows * chunks, 1, maxDim),
  });
  const pin = job.inputs.length; // the partials are the last input of the write pass
  await ctx.gpu.run({
    name: job.name, cacheKey: `${key}:split-write:wg${wg}`,
    wgsl: () => `${bindings([...ins, 'u32'] as GpuElem[], outs as GpuElem[])}
${fns}
const WGS = ${wg}u;
@compute @workgroup_size(${wg}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${chunkHead}
  // every thread merges the row's few partials itself, in row order (argmax ties: first wins)
  var st = stInit();
  for (var c = 0u; c < chunks; c++) {
    let o = (row * chunks + c) * 4u;
    st = stComb(st, St(bitcast<f32>(in${pin}[o]), bitcast<f32>(in${pin}[o + 1u]), bitcast<f32>(in${pin}[o + 2u]), in${pin}[o + 3u]));
  }
  ${after('lid == 0u && chunk == 0u')}
  ${write('k0 + lid', 'k1', 'WGS')}
}`,
    inputs: [...job.inputs, part], outputs: job.outputs, params, workgroups: grid(job.rows * chunks, 1, maxDim),
  });
  ctx.gpu.release(part);
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
