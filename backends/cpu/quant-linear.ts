/**
 * QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear, following the ONNX reference
 * (onnx/reference/ops/op_quantize_linear.py & co) bit for bit: the quotient x / scale is rounded to
 * the type numpy would compute it in, integers round half to even then saturate to the output range,
 * float8 outputs ignore the zero point and honour `saturate`, float4 adds it before rounding.
 */
import { dtypeFromOnnx, intRange, isFloat, type DType, type NumericArray } from '../../src/ir/dtype.js';
import { attrInt } from '../../src/ir/graph.js';
import { quantMode } from '../../src/ir/ops/quant-shapes.js';
import { roundToDtype } from '../../src/ir/lowp.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { input, outDims, type KernelContext } from './kernel.js';
import { RINT_MAGIC, RINT_SAFE, rint } from './quant-gemm.js';

/**
 * Runs of elements of x that walk the scale / zero point uniformly: 4 numbers per run
 * (offset in x, length, first parameter index, parameter step 0 or 1). Long runs keep the element
 * loops free of index arithmetic whatever the layout (per tensor, per axis, blocked).
 */
export function paramRuns(xDims: readonly number[], pDims: readonly number[], axis: number, blockSize: number): Int32Array {
  const size = xDims.reduce((s, d) => s * d, 1);
  const mode = quantMode(xDims, pDims, axis, blockSize, 'scale');
  if (mode === 'tensor') return Int32Array.of(0, size, 0, 0);
  const rank = xDims.length;
  const ax = axis < 0 ? axis + rank : axis;
  let outer = 1, inner = 1;
  for (let i = 0; i < ax; i++) outer *= xDims[i]!;
  for (let i = ax + 1; i < rank; i++) inner *= xDims[i]!;
  const A = xDims[ax]!;
  const runs: number[] = [];
  if (mode === 'axis') {
    if (inner === 1) for (let o = 0; o < outer; o++) runs.push(o * A, A, 0, 1);
    else for (let o = 0; o < outer; o++) for (let a = 0; a < A; a++) runs.push((o * A + a) * inner, inner, a, 0);
  } else {
    const nb = Math.ceil(A / blockSize);
    if (inner === 1) {
      for (let o = 0; o < outer; o++) {
        for (let b = 0; b < nb; b++) {
          const a0 = b * blockSize;
          runs.push(o * A + a0, Math.min(A, a0 + blockSize) - a0, o * nb + b, 0);
        }
      }
    } else {
      for (let o = 0; o < outer; o++) {
        for (let a = 0; a < A; a++) runs.push((o * A + a) * inner, inner, (o * nb + Math.floor(a / blockSize)) * inner, 1);
      }
    }
  }
  return Int32Array.from(runs);
}

function checkSameSize(s: HostTensor, z: HostTensor | undefined): void {
  if (z && z.size !== s.size) throw new Error(`zero point [${z.dims.join(',')}] and scale [${s.dims.join(',')}] differ`);
}

/** The type numpy computes x / scale in (or the `precision` attribute's type). */
function quotientType(x: DType, s: DType, precision: number): DType {
  if (precision !== 0) {
    const t = dtypeFromOnnx(precision);
    if (!t || !isFloat(t)) throw new Error(`precision ${precision} is not a float type`);
    return t;
  }
  if (x === s) return x === 'int32' ? 'float64' : x;
  if (x === 'float64' || s === 'float64' || x === 'int32' || s === 'int32') return 'float64';
  return 'float32';
}

function rounderOf(t: DType): (v: number) => number {
  if (t === 'float32') return Math.fround;
  if (t === 'float64') return (v) => v;
  return (v) => roundToDtype(t, v);
}

export function quantizeLinear(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0), s = input(ctx, 1), z = ctx.inputs[2];
  checkSameSize(s, z);
  const node = ctx.node;
  const outType = ctx.outputTypes[0]!.dtype;
  const out = new HostTensor(outType, outDims(ctx));
  const runs = paramRuns(x.dims, s.dims, attrInt(node, 'axis', 1), attrInt(node, 'block_size', 0));
  const rq = rounderOf(quotientType(x.dtype, s.dtype, attrInt(node, 'precision', 0)));
  const xd = x.numbers, sd = s.numbers, zd = z?.numbers, od = out.numbers;
  if (outType.startsWith('float8')) {
    const saturate = attrInt(node, 'saturate', 1) !== 0;
    forRuns(runs, (i, p) => { od[i] = roundToDtype(outType, rq(xd[i]! / sd[p]!), saturate); });
  } else if (outType === 'float4e2m1') {
    forRuns(runs, (i, p) => { od[i] = roundToDtype(outType, Math.fround(rq(xd[i]! / sd[p]!) + (zd ? zd[p]! : 0))); });
  } else {
    const [lo, hi] = intRange(outType);
    quantizeInt(runs, xd, sd, zd, od, lo, hi, rq);
  }
  return [out];
}

/** The integer path, kept free of closures: it is the hot one (activations of QDQ models). */
function quantizeInt(
  runs: Int32Array, xd: NumericArray, sd: NumericArray, zd: NumericArray | undefined, od: NumericArray,
  lo: number, hi: number, rq: (v: number) => number,
): void {
  const f32 = rq === Math.fround;
  for (let r = 0; r < runs.length; r += 4) {
    const off = runs[r]!, end = off + runs[r + 1]!, step = runs[r + 3]!;
    let p = runs[r + 2]!;
    if (step === 0 && f32) {
      // Per-tensor / per-axis run of float32: scale and zero point are constants.
      const sv = sd[p]!, zv = zd ? zd[p]! : 0;
      for (let i = off; i < end; i++) {
        let q = Math.fround(xd[i]! / sv);
        if (q > RINT_SAFE) q = RINT_SAFE; else if (q < -RINT_SAFE) q = -RINT_SAFE;
        let v = q + RINT_MAGIC - RINT_MAGIC + zv;
        if (v < lo) v = lo; else if (v > hi) v = hi;
        od[i] = v;
      }
      continue;
    }
    for (let i = off; i < end; i++, p += step) {
      let q = rq(xd[i]! / sd[p]!);
      if (q > RINT_SAFE) q = RINT_SAFE; else if (q < -RINT_SAFE) q = -RINT_SAFE;
      let v = q + RINT_MAGIC - RINT_MAGIC + (zd ? zd[p]! : 0);
      if (v < lo) v = lo; else if (v > hi) v = hi;
      od[i] = v;
    }
  }
}

/** For the rarer float8/float4 outputs, whose per-element encode dominates anyway. */
function forRuns(runs: Int32Array, f: (i: number, p: number) => void): void {
  for (let r = 0; r < runs.length; r += 4) {
    const off = runs[r]!, n = runs[r + 1]!, step = runs[r + 3]!;
    let p = runs[r + 2]!;
    for (let i = off; i < off + n; i++, p += step) f(i, p);
  }
}

export function dequantizeLinear(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0), s = input(ctx, 1);
  // Float inputs (float8, float4) have no zero point but 0 (the reference ignores it).
  const z = isFloat(x.dtype) ? undefined : ctx.inputs[2];
  checkSameSize(s, z);
  const out = new HostTensor(ctx.outputTypes[0]!.dtype, outDims(ctx));
  const runs = paramRuns(x.dims, s.dims, attrInt(ctx.node, 'axis', 1), attrInt(ctx.node, 'block_size', 0));
  const xd = x.numbers, sd = s.numbers, zd = z?.numbers, od = out.numbers;
  // numpy: int32 without a zero point is cast to float32 first; int32 - int32 zero point is
  // computed in float64; narrower integers are exact in float32 either way.
  const castX = x.dtype === 'int32' && !zd;
  for (let r = 0; r < runs.length; r += 4) {
    const off = runs[r]!, n = runs[r + 1]!, step = runs[r + 3]!;
    let p = runs[r + 2]!;
    for (let i = off; i < off + n; i++, p += step) {
      const dx = castX ? Math.fround(xd[i]!) : xd[i]! - (zd ? zd[p]! : 0);
      od[i] = Math.fround(dx * sd[p]!);
    }
  }
  return [out];
}

/** uint8 dynamic quantization, all in float32 as the reference does. */
export function dynamicQuantizeLinear(ctx: KernelContext): HostTensor[] {
  const x = input(ctx, 0);
  const xd = x.numbers;
  let mx = 0, mn = 0;
  for (let i = 0; i < xd.length; i++) {
    const v = xd[i]!;
    if (v > mx) mx = v;
    if (v < mn) mn = v;
  }
  const f = Math.fround;
  const scale = mx === mn ? 1 : f(f(mx - mn) / 255);
  const zpf = Math.min(255, Math.max(0, f(0 - f(mn / scale))));
  const zp = rint(zpf);
  const y = new HostTensor('uint8', outDims(ctx, 0));
  const yd = y.numbers;
  for (let i = 0; i < xd.length; i++) {
    let v = rint(f(xd[i]! / scale)) + zp;
    if (v < 0) v = 0; else if (v > 255) v = 255;
    yd[i] = v;
  }
  return [y, HostTensor.scalar(ctx.outputTypes[1]!.dtype, scale), HostTensor.scalar('uint8', zp)];
}
