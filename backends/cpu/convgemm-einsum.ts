/**
 * Einsum on the CPU. Two-operand contractions that are a (batched) matrix product (every label
 * is batch, left-free, right-free or contracted, each appearing once per operand) run on the
 * blocked sgemm after a transpose into [batch, M, K] x [batch, K, N]; everything else
 * (diagonals, more operands, sums of one operand, broadcasting) runs a strided odometer loop:
 * each label gets one stride per operand (the sum of the strides of its axes, which is what
 * makes a repeated label walk a diagonal, and 0 where the operand broadcasts it).
 */
import type { NumericArray } from '../../src/ir/dtype.js';
import type { EinsumPlan } from '../../src/ir/ops/convgemm-einsum.js';
import { stridesOf } from '../../src/ir/tensor.js';
import { sgemm } from './gemm.js';

export interface EinsumOperand { data: NumericArray; dims: readonly number[] }

export function einsum(plan: EinsumPlan, ops: EinsumOperand[], out: NumericArray): void {
  const sizes = new Map<string, number>();
  plan.inputs.forEach((labels, i) => labels.forEach((l, ax) => {
    const d = ops[i]!.dims[ax]!;
    if (d !== 1 || !sizes.has(l)) sizes.set(l, d);
  }));
  if (out instanceof Float32Array && ops.length === 2 && ops.every((o) => o.data instanceof Float32Array)
    && einsumAsGemm(plan, ops as { data: Float32Array; dims: readonly number[] }[], sizes, out)) return;
  einsumLoop(plan, ops, sizes, out);
}

function einsumLoop(plan: EinsumPlan, ops: EinsumOperand[], sizes: Map<string, number>, out: NumericArray): void {
  const reduced = [...sizes.keys()].filter((l) => !plan.output.includes(l));
  const labels = [...plan.output, ...reduced];
  const L = labels.length, P = ops.length;
  const size = labels.map((l) => sizes.get(l)!);
  const st: number[][] = ops.map((op, i) => {
    const s = stridesOf(op.dims);
    return labels.map((l) => plan.inputs[i]!.reduce((acc, li, ax) => (li === l && op.dims[ax] !== 1 ? acc + s[ax]! : acc), 0));
  });
  const outSt = stridesOf(plan.output.map((l) => sizes.get(l)!));
  const ost = labels.map((_, j) => (j < plan.output.length ? outSt[j]! : 0));
  const total = size.reduce((a, b) => a * b, 1);
  const acc = new Float64Array(out.length);
  if (total > 0) {
    const datas = ops.map((o) => o.data);
    const idx = new Array<number>(L).fill(0);
    const offs = new Array<number>(P).fill(0);
    let oOff = 0;
    const last = L - 1;
    const n = L > 0 ? size[last]! : 1;
    const lastSt = st.map((s) => (L > 0 ? s[last]! : 0));
    const lastOst = L > 0 ? ost[last]! : 0;
    for (;;) {
      for (let t = 0; t < n; t++) {
        let prod = 1;
        for (let p = 0; p < P; p++) prod *= datas[p]![offs[p]! + t * lastSt[p]!]!;
        acc[oOff + t * lastOst] += prod;
      }
      // advance the odometer over all but the last label
      let j = L - 2;
      for (; j >= 0; j--) {
        idx[j]!++;
        for (let p = 0; p < P; p++) offs[p]! += st[p]![j]!;
        oOff += ost[j]!;
        if (idx[j]! < size[j]!) break;
        for (let p = 0; p < P; p++) offs[p]! -= st[p]![j]! * size[j]!;
        oOff -= ost[j]! * size[j]!;
        idx[j] = 0;
      }
      if (j < 0) break;
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = acc[i]!;
}

/** Gathers `op` into the axis order `order` (labels), contiguous. */
function permute(op: { data: Float32Array; dims: readonly number[] }, labels: string[], order: string[], sizes: Map<string, number>): Float32Array {
  const s = stridesOf(op.dims);
  const srcSt = order.map((l) => s[labels.indexOf(l)]!);
  const dims = order.map((l) => sizes.get(l)!);
  const n = dims.reduce((a, b) => a * b, 1);
  const r = new Float32Array(n);
  const R = dims.length;
  const idx = new Array<number>(R).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    r[i] = op.data[off]!;
    for (let j = R - 1; j >= 0; j--) {
      idx[j]!++;
      off += srcSt[j]!;
      if (idx[j]! < dims[j]!) break;
      off -= srcSt[j]! * dims[j]!;
      idx[j] = 0;
    }
  }
  return r;
}

function einsumAsGemm(
  plan: EinsumPlan, ops: { data: Float32Array; dims: readonly number[] }[], sizes: Map<string, number>, out: Float32Array,
): boolean {
  const [la, lb] = plan.inputs as [string[], string[]];
  const a = ops[0]!, b = ops[1]!;
  if (new Set(la).size !== la.length || new Set(lb).size !== lb.length) return false;
  // No broadcasting of size-1 dims (sizes must match exactly where a label is shared).
  for (const [l, i] of la.map((l, i) => [l, i] as const)) if (a.dims[i] !== sizes.get(l)) return false;
  for (const [l, i] of lb.map((l, i) => [l, i] as const)) if (b.dims[i] !== sizes.get(l)) return false;
  const outSet = new Set(plan.output);
  const batch = plan.output.filter((l) => la.includes(l) && lb.includes(l));
  const mL = plan.output.filter((l) => la.includes(l) && !lb.includes(l));
  const nL = plan.output.filter((l) => lb.includes(l) && !la.includes(l));
  const kL = la.filter((l) => lb.includes(l) && !outSet.has(l));
  // Labels of only one operand that are not output would be summed first: leave to the loop.
  if (la.some((l) => !outSet.has(l) && !lb.includes(l)) || lb.some((l) => !outSet.has(l) && !la.includes(l))) return false;
  const prod = (ls: string[]): number => ls.reduce((p, l) => p * sizes.get(l)!, 1);
  const B = prod(batch), M = prod(mL), N = prod(nL), K = prod(kL);
  if (M * N * K < 4096) return false;
  const ap = permute(a, la, [...batch, ...mL, ...kL], sizes);
  const bp = permute(b, lb, [...batch, ...kL, ...nL], sizes);
  const natural = [...batch, ...mL, ...nL];
  const direct = natural.every((l, i) => plan.output[i] === l);
  const y = direct ? out : new Float32Array(B * M * N);
  for (let i = 0; i < B; i++) sgemm(M, N, K, ap, i * M * K, K, 1, bp, i * K * N, N, 1, y, i * M * N, N);
  if (!direct) {
    out.set(permute({ data: y, dims: natural.map((l) => sizes.get(l)!) }, natural, plan.output, sizes));
  }
  return true;
}
