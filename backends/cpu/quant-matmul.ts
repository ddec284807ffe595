/**
 * MatMulInteger and QLinearMatMul: numpy-batched integer matmul with int32 accumulation, then (for
 * QLinearMatMul) requantization with the multiplier a_scale * b_scale / y_scale rounded step by step
 * to the scales' float type, as the ONNX reference computes it.
 * Parameters follow the spec: A-side (and y-side) ones are per tensor or per row of A, B-side ones
 * per tensor or per column of B; a parameter may also hold one vector per batch of its operand.
 */
import { intRange, type DType } from '../../src/ir/dtype.js';
import { roundToDtype } from '../../src/ir/lowp.js';
import { HostTensor, sizeOf } from '../../src/ir/tensor.js';
import { input, outDims, type KernelContext } from './kernel.js';
import { igemm, requantize } from './quant-gemm.js';

interface Batched {
  M: number; N: number; K: number;
  /** Output batch count, and the A / B batch each output batch reads (after broadcasting). */
  batch: number; aBatch: number; bBatch: number; aIdx: Int32Array; bIdx: Int32Array;
}

function batching(aDims: readonly number[], bDims: readonly number[]): Batched {
  const a2 = aDims.length === 1 ? [1, aDims[0]!] : aDims;
  const b2 = bDims.length === 1 ? [bDims[0]!, 1] : bDims;
  const M = a2[a2.length - 2]!, K = a2[a2.length - 1]!, N = b2[b2.length - 1]!;
  if (b2[b2.length - 2] !== K) throw new Error(`matmul inner dims differ: [${aDims.join(',')}] x [${bDims.join(',')}]`);
  const ab = a2.slice(0, -2), bb = b2.slice(0, -2);
  const rank = Math.max(ab.length, bb.length);
  const od: number[] = [], as: number[] = [], bs: number[] = [];
  let sa = 1, sb = 1;
  for (let i = rank - 1; i >= 0; i--) {
    const da = i - (rank - ab.length) >= 0 ? ab[i - (rank - ab.length)]! : 1;
    const db = i - (rank - bb.length) >= 0 ? bb[i - (rank - bb.length)]! : 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`matmul batch dims do not broadcast: [${aDims.join(',')}] x [${bDims.join(',')}]`);
    od[i] = Math.max(da, db);
    as[i] = da === 1 ? 0 : sa; bs[i] = db === 1 ? 0 : sb;
    sa *= da; sb *= db;
  }
  const batch = sizeOf(od);
  const aIdx = new Int32Array(batch), bIdx = new Int32Array(batch);
  const idx = new Array<number>(rank).fill(0);
  for (let ob = 0; ob < batch; ob++) {
    let ai = 0, bi = 0;
    for (let d = 0; d < rank; d++) { ai += idx[d]! * as[d]!; bi += idx[d]! * bs[d]!; }
    aIdx[ob] = ai; bIdx[ob] = bi;
    for (let d = rank - 1; d >= 0; d--) { if (++idx[d] < od[d]!) break; idx[d] = 0; }
  }
  return { M, N, K, batch, aBatch: sizeOf(ab), bBatch: sizeOf(bb), aIdx, bIdx };
}

/** Index strides of a per-tensor / per-vector / per-batch-vector parameter: index = b * bStride + i * iStride. */
interface ParamIndex { bStride: number; iStride: number }

function paramIndex(t: HostTensor | undefined, len: number, batches: number, what: string): ParamIndex {
  if (!t || t.size === 1) return { bStride: 0, iStride: 0 };
  if (t.size === len) return { bStride: 0, iStride: 1 };
  if (t.size === len * batches) return { bStride: len, iStride: 1 };
  throw new Error(`${what} has ${t.size} elements, expected 1, ${len} or ${len * batches}`);
}

/**
 * A or B ([batches, rows, cols]) as int16 with its zero point subtracted: per row for A
 * (`perRow`), per column for B, or one value for all.
 */
function centered(t: HostTensor, z: HostTensor | undefined, batches: number, rows: number, cols: number, perRow: boolean, what: string): Int16Array {
  const d = t.numbers;
  const q = new Int16Array(d.length);
  if (!z) { q.set(d); return q; }
  const zd = z.numbers;
  const pi = paramIndex(z, perRow ? rows : cols, batches, what);
  const perCol = !perRow && pi.iStride !== 0;
  let o = 0;
  for (let b = 0; b < batches; b++) {
    const zb = b * pi.bStride;
    for (let r = 0; r < rows; r++) {
      if (perCol) {
        for (let c = 0; c < cols; c++, o++) q[o] = d[o]! - zd[zb + c]!;
      } else {
        const zv = zd[zb + (perRow ? r * pi.iStride : 0)]!;
        for (let c = 0; c < cols; c++, o++) q[o] = d[o]! - zv;
      }
    }
  }
  return q;
}

/** acc[ob, m, n] = sum_k (A - a_zp)[ai, m, k] * (B - b_zp)[bi, k, n] for every output batch. */
function intMatmul(ctx: KernelContext, ia: number, iaz: number, ib: number, ibz: number, acc: Int32Array): Batched {
  const a = input(ctx, ia), b = input(ctx, ib);
  const bt = batching(a.dims, b.dims);
  const { M, N, K } = bt;
  if (acc.length !== bt.batch * M * N) throw new Error(`output has ${acc.length} elements, expected ${bt.batch * M * N}`);
  const aq = centered(a, ctx.inputs[iaz], bt.aBatch, M, K, true, 'a_zero_point');
  const bq = centered(b, ctx.inputs[ibz], bt.bBatch, K, N, false, 'b_zero_point');
  for (let ob = 0; ob < bt.batch; ob++) {
    igemm(M, N, K, aq, bt.aIdx[ob]! * M * K, bq, bt.bIdx[ob]! * K * N, N, acc, ob * M * N, N);
  }
  return bt;
}

export function matMulInteger(ctx: KernelContext): HostTensor[] {
  const out = new HostTensor('int32', outDims(ctx));
  intMatmul(ctx, 0, 2, 1, 3, out.data as Int32Array);
  return [out];
}

/** Rounding of the scale arithmetic: the scales' own type (numpy computes float16 scales in float16). */
function scaleRounder(types: DType[]): (v: number) => number {
  const t = types.every((x) => x === types[0]) ? types[0]! : 'float32';
  if (t === 'float32') return Math.fround;
  if (t === 'float64') return (v) => v;
  return (v) => roundToDtype(t, v);
}

export function qlinearMatMul(ctx: KernelContext): HostTensor[] {
  const dims = outDims(ctx);
  const acc = new Int32Array(sizeOf(dims));
  const bt = intMatmul(ctx, 0, 2, 3, 5, acc);
  const { M, N, batch } = bt;
  const as = input(ctx, 1), bs = input(ctx, 4), ys = input(ctx, 6), yz = ctx.inputs[7];
  const out = new HostTensor(ctx.outputTypes[0]!.dtype, dims);
  const [lo, hi] = intRange(out.dtype);
  const od = out.data as Int8Array | Uint8Array;
  const rs = scaleRounder([as.dtype, bs.dtype, ys.dtype]);
  const asI = paramIndex(as, M, bt.aBatch, 'a_scale');
  const bsI = paramIndex(bs, N, bt.bBatch, 'b_scale');
  const ysI = paramIndex(ys, M, batch, 'y_scale');
  const yzI = paramIndex(yz, M, batch, 'y_zero_point');
  const asd = as.numbers, bsd = bs.numbers, ysd = ys.numbers, yzd = yz?.numbers;
  for (let ob = 0; ob < batch; ob++) {
    const ai = bt.aIdx[ob]!, bi = bt.bIdx[ob]!;
    for (let m = 0; m < M; m++) {
      const av = asd[ai * asI.bStride + m * asI.iStride]!;
      const yv = ysd[ob * ysI.bStride + m * ysI.iStride]!;
      const zv = yzd ? yzd[ob * yzI.bStride + m * yzI.iStride]! : 0;
      const row = (ob * M + m) * N;
      if (bsI.iStride === 0) {
        requantize(acc, row, N, rs(rs(av * bsd[bi * bsI.bStride]!) / yv), zv, lo, hi, od, row);
      } else {
        for (let n = 0; n < N; n++) {
          requantize(acc, row + n, 1, rs(rs(av * bsd[bi * bsI.bStride + n]!) / yv), zv, lo, hi, od, row + n);
        }
      }
    }
  }
  return [out];
}
