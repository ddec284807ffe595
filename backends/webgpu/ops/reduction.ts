/**
 * Reductions on WebGPU: Reduce{Sum,Mean,Max,Min,Prod,L1,L2,SumSquare,LogSum,LogSumExp} here,
 * ArgMax/ArgMin in reduction-arg.ts. Semantics follow backends/cpu/ops/reduction.ts.
 *
 * The input is seen as kept and reduced "runs" (adjacent axes of the same kind merged, size-1 axes
 * dropped), so any axes set costs at most a few div/mods per element. Each output element is
 * either one thread (small reduced extent, or reduced axes outside kept ones: neighbouring threads
 * then read neighbouring memory) or one workgroup that strides over the reduced extent and finishes
 * with a shared-memory tree. Sizes, strides and the identity value are parameters: the cache key
 * holds only the op, the element type, the mode and whether the reduced part is one strided run.
 */
import { attrInt } from '../../../src/ir/graph.js';
import { intRange, type DType } from '../../../src/ir/dtype.js';
import { resolveReduceAxes } from '../../../src/ir/ops/reduction.js';
import type { GpuKernel, GpuKernelRegistry } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { FLAT_INDEX, bindings, f32Bits, grid, WG } from '../program.js';
import { gpuElemOf, type GpuElem } from '../tensor.js';
import { kernels as argKernels } from './reduction-arg.js';
import { reductionPlan } from './reduction-plan.js';

type Op = 'Sum' | 'Mean' | 'Max' | 'Min' | 'Prod' | 'L1' | 'L2' | 'SumSquare' | 'LogSum' | 'LogSumExp';

/** Threads of the workgroup-per-output mode (a power of two for the tree). */
const WGR = 256;

interface OpCode {
  /** Element map before combining (`v` is the loaded value in the accumulator type, `m` the LSE shift). */
  pre: string;
  /** 'add' | 'mul' | 'max' | 'min': the associative combine (also used by the shared-memory tree). */
  comb: 'add' | 'mul' | 'max' | 'min';
  /** Finishing of `acc` (n = reduced count, m = LSE shift), in the accumulator type. */
  fin: (a: GpuElem) => string;
}

const CODES: Record<Op, OpCode> = {
  Sum: { pre: 'v', comb: 'add', fin: () => 'acc' },
  Mean: { pre: 'v', comb: 'add', fin: (a) => (a === 'f32' ? 'acc / f32(n)' : `acc / ${a}(max(n, 1u))`) },
  Max: { pre: 'v', comb: 'max', fin: () => 'acc' },
  Min: { pre: 'v', comb: 'min', fin: () => 'acc' },
  Prod: { pre: 'v', comb: 'mul', fin: () => 'acc' },
  L1: { pre: 'abs(v)', comb: 'add', fin: () => 'acc' },
  L2: { pre: 'v * v', comb: 'add', fin: (a) => (a === 'f32' ? 'sqrt(acc)' : `${a}(sqrt(f32(acc)))`) },
  SumSquare: { pre: 'v * v', comb: 'add', fin: () => 'acc' },
  LogSum: { pre: 'v', comb: 'add', fin: (a) => (a === 'f32' ? 'log(acc)' : `${a}(log(f32(acc)))`) },
  // Always accumulated in f32 (integer inputs too); the shift is dropped when it is not finite.
  LogSumExp: { pre: 'exp(v - m)', comb: 'add', fin: () => 'log(acc) + select(0.0, m, (bitcast<u32>(m) & 0x7f800000u) != 0x7f800000u)' },
};

/** WGSL combine: floats propagate NaN as the CPU's Math.max does (a NaN accumulator stays NaN). */
function combFn(comb: OpCode['comb'], a: GpuElem): string {
  const body = comb === 'add' ? 'a + b' : comb === 'mul' ? 'a * b'
    : a !== 'f32' ? `${comb}(a, b)`
      : `select(a, b, b ${comb === 'max' ? '>' : '<'} a || b != b)`;
  return `fn comb(a: ${a}, b: ${a}) -> ${a} { return ${body}; }`;
}

/** Identity of the combine for the accumulator type (empty reductions give it, then finish it). */
function identity(comb: OpCode['comb'], acc: GpuElem, dtype: DType): number {
  if (comb === 'add') return 0;
  if (comb === 'mul') return acc === 'f32' ? f32Bits(1) : 1;
  if (acc === 'f32') return f32Bits(comb === 'max' ? -Infinity : Infinity);
  // Integers: the dtype's bounds (as the CPU kernel gives for empty sets), clamped to 32 bits.
  const [lo, hi] = dtype === 'bool' ? [0, 1] : intRange(dtype);
  const v = comb === 'max' ? lo : hi;
  return acc === 'i32' ? Math.max(-2147483648, Math.min(2147483647, v)) >>> 0 : Math.min(4294967295, v) >>> 0;
}

/** Offsets: params layout [outSize, n, nk, nr, init, -inf, kept sizes, kept strides, red sizes, red strides]. */
const OFFSETS = `fn keptOff(o: u32) -> u32 {
  let nk = params[2]; var rem = o; var off = 0u;
  for (var k = nk; k > 0u; k--) { let s = params[5u + k]; off += (rem % s) * params[5u + nk + k]; rem /= s; }
  return off;
}
fn redOffN(r: u32) -> u32 {
  let nk = params[2]; let nr = params[3]; let b = 6u + 2u * nk; var rem = r; var off = 0u;
  for (var k = nr; k > 0u; k--) { let s = params[b + k - 1u]; off += (rem % s) * params[b + nr + k - 1u]; rem /= s; }
  return off;
}
fn redOff1(r: u32) -> u32 { return r * params[7u + 2u * params[2]]; }`;

function shader(op: Op, e: GpuElem, wgMode: boolean, oneRun: boolean): string {
  const code = CODES[op];
  const acc: GpuElem = op === 'LogSumExp' ? 'f32' : e;
  const lse = op === 'LogSumExp';
  const red = oneRun ? 'redOff1' : 'redOffN';
  const load = (idx: string) => `${acc}(in0[base + ${red}(${idx})])`;
  const head = `${bindings([e], [e])}
${combFn(code.comb, acc)}
fn maxf(a: f32, b: f32) -> f32 { return select(a, b, b > a || b != b); }
${OFFSETS}`;
  const out = `out0[o] = ${e}(${code.fin(acc)});`;
  if (!wgMode) {
    return `${head}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = flatIndex(gid, nwg);
  if (o >= params[0]) { return; }
  let n = params[1];
  let base = keptOff(o);
  var m = bitcast<f32>(params[5]);
  ${lse ? `for (var r = 0u; r < n; r++) { m = maxf(m, ${load('r')}); }` : ''}
  var acc = bitcast<${acc}>(params[4]);
  for (var r = 0u; r < n; r++) { let v = ${load('r')}; acc = comb(acc, ${code.pre}); }
  ${out}
}`;
  }
  return `${head}
var<workgroup> sh: array<${acc}, ${WGR}>;
@compute @workgroup_size(${WGR}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let o = wid.x + wid.y * nwg.x;
  if (o >= params[0]) { return; } // uniform: the whole workgroup leaves
  let n = params[1];
  let base = keptOff(o);
  var m = bitcast<f32>(params[5]);
  ${lse ? `var mx = m;
  for (var r = lid; r < n; r += ${WGR}u) { mx = maxf(mx, ${load('r')}); }
  sh[lid] = mx;
  workgroupBarrier();
  for (var s = ${WGR / 2}u; s > 0u; s >>= 1u) { if (lid < s) { sh[lid] = maxf(sh[lid], sh[lid + s]); } workgroupBarrier(); }
  m = sh[0];
  workgroupBarrier();` : ''}
  var acc = bitcast<${acc}>(params[4]);
  for (var r = lid; r < n; r += ${WGR}u) { let v = ${load('r')}; acc = comb(acc, ${code.pre}); }
  sh[lid] = acc;
  workgroupBarrier();
  for (var s = ${WGR / 2}u; s > 0u; s >>= 1u) { if (lid < s) { sh[lid] = comb(sh[lid], sh[lid + s]); } workgroupBarrier(); }
  if (lid == 0u) { acc = sh[0]; ${out} }
}`;
}

function reduceKernel(op: Op): GpuKernel {
  return {
    hostInputs: [1],
    unsupported(_node, inputs) {
      const e = inputs[0] && gpuElemOf(inputs[0].dtype);
      if (!e) return `Reduce${op} on ${inputs[0]?.dtype} is not implemented on WebGPU`;
      return undefined;
    },
    async run(ctx) {
      const x = gin(ctx, 0);
      const dims = outDims(ctx);
      const dtype = ctx.outputTypes[0]!.dtype;
      const y = ctx.gpu.alloc(dtype, dims);
      if (y.size === 0) return [y];
      const raw = ctx.host(1)?.toNumberArray() ?? [];
      const axes = resolveReduceAxes(raw, x.dims.length, attrInt(ctx.node, 'noop_with_empty_axes', 0) === 1);
      const reduced = x.dims.map((_, i) => axes === 'all' || (Array.isArray(axes) && axes.includes(i)));
      const p = reductionPlan(x.dims, reduced);
      const e = x.elem;
      const acc: GpuElem = op === 'LogSumExp' ? 'f32' : e;
      const oneRun = p.red.length <= 1;
      const red = p.red.length === 0 ? [[1, 0]] : p.red;
      // One workgroup per output when the extent is large and either the reduced run is innermost
      // (a workgroup reads contiguous memory) or there are too few outputs to fill the GPU.
      const wgMode = p.n >= 128 && (p.innerReduced || y.size < 4096);
      const params = [
        y.size, p.n, p.kept.length, red.length, identity(CODES[op].comb, acc, dtype), f32Bits(-Infinity),
        ...p.kept.map((k) => k[0]), ...p.kept.map((k) => k[1]), ...red.map((r) => r[0]), ...red.map((r) => r[1]),
      ];
      await ctx.gpu.run({
        name: `Reduce${op}`,
        cacheKey: `reduce:${op}:${e}:${wgMode ? 'wg' : 'th'}:${oneRun ? 'r1' : 'rn'}`,
        wgsl: () => shader(op, e, wgMode, oneRun),
        inputs: [x], outputs: [y], params,
        workgroups: wgMode ? grid(y.size, 1) : grid(y.size),
      });
      return [y];
    },
  };
}

const OPS: Op[] = ['Sum', 'Mean', 'Max', 'Min', 'Prod', 'L1', 'L2', 'SumSquare', 'LogSum', 'LogSumExp'];

export const kernels: GpuKernelRegistry = {
  ...Object.fromEntries(OPS.map((op) => [`Reduce${op}`, reduceKernel(op)])),
  ...argKernels,
};
