/**
 * Lowering of ops to the native kernels' parameter lists (the launch ABI documented at the top of
 * each native/src/*.cu file). Pure functions of dims and attributes, so they are tested without a
 * GPU (test/native/lower.test.ts) and shared by every later form of the program.
 */
import { sizeOf } from '../../src/ir/tensor.js';

export const MAX_BINARY_RANK = 8;
export const GEMM_BATCH_RANK = 4;

/** Broadcast operands over an output: the output's dims and each operand's element strides. */
export interface Broadcast { dims: number[]; as: number[]; bs: number[] }

/** Contiguous element strides of `dims` aligned right to `rank` axes, 0 along axes of size 1. */
export function broadcastStrides(dims: readonly number[], rank: number): number[] {
  const s = new Array<number>(rank).fill(0);
  let acc = 1;
  for (let i = dims.length - 1, j = rank - 1; i >= 0; i--, j--) {
    s[j] = dims[i] === 1 ? 0 : acc;
    acc *= dims[i]!;
  }
  return s;
}

/**
 * Drops size-1 axes and merges neighbours that both operands walk contiguously
 * (stride[i-1] == stride[i] * dim[i] for both), so [2,3,4]+[2,3,4] becomes one axis of 24 and
 * [8,16,32,32]+[1,16,1,1] becomes [8,16,1024] with strides [0,1,0]. Never empty: a scalar is [1].
 */
export function collapseBroadcast(b: Broadcast): Broadcast {
  const out: Broadcast = { dims: [], as: [], bs: [] };
  for (let i = 0; i < b.dims.length; i++) {
    const d = b.dims[i]!;
    if (d === 1) continue;
    const k = out.dims.length - 1;
    if (k >= 0 && out.as[k] === b.as[i]! * d && out.bs[k] === b.bs[i]! * d) {
      out.dims[k] = out.dims[k]! * d;
      out.as[k] = b.as[i]!;
      out.bs[k] = b.bs[i]!;
    } else {
      out.dims.push(d); out.as.push(b.as[i]!); out.bs.push(b.bs[i]!);
    }
  }
  if (out.dims.length === 0) return { dims: [1], as: [0], bs: [0] };
  return out;
}

/** ints of `binary/<Op>`: [n, rank, dims..., aStrides..., bStrides...]. */
export function binaryInts(a: readonly number[], b: readonly number[], out: readonly number[]): number[] {
  const r = out.length;
  const c = collapseBroadcast({ dims: out.slice(), as: broadcastStrides(a, r), bs: broadcastStrides(b, r) });
  if (c.dims.length > MAX_BINARY_RANK) throw new Error(`broadcast of rank ${c.dims.length} exceeds ${MAX_BINARY_RANK}`);
  return [sizeOf(out), c.dims.length, ...c.dims, ...c.as, ...c.bs];
}

/** Everything the `gemm` kernel needs except the epilogue. */
export interface GemmShape {
  M: number; N: number; K: number;
  transA: boolean; transB: boolean;
  lda: number; ldb: number;
  /** Outer batch axes (at most GEMM_BATCH_RANK after merging), with A's and B's element strides. */
  batch: number[]; aBatch: number[]; bBatch: number[];
}

/**
 * MatMul (NumPy semantics: 1-D operands promoted and dropped, batch axes broadcast) with optional
 * transposes of the last two axes (FusedMatMul's transA / transB). When B is shared by every batch
 * and A is plain, the batches fold into M: one GEMM of batch*M rows.
 */
export function matmulShape(aDims: readonly number[], bDims: readonly number[], transA = false, transB = false): GemmShape {
  const a = aDims.length === 1 ? [1, aDims[0]!] : aDims.slice();
  const b = bDims.length === 1 ? [bDims[0]!, 1] : bDims.slice();
  const ta = aDims.length >= 2 && transA, tb = bDims.length >= 2 && transB;
  const [ar, ac] = [a[a.length - 2]!, a[a.length - 1]!];
  const [br, bc] = [b[b.length - 2]!, b[b.length - 1]!];
  const M = ta ? ac : ar, K = ta ? ar : ac;
  const Kb = tb ? bc : br, N = tb ? br : bc;
  if (K !== Kb) throw new Error(`MatMul: inner dimensions ${K} and ${Kb} differ`);
  const ab = a.slice(0, -2), bb = b.slice(0, -2);
  const r = Math.max(ab.length, bb.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = ab[i - (r - ab.length)] ?? 1, y = bb[i - (r - bb.length)] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`MatMul: batch dims ${x} and ${y} do not broadcast`);
    out.push(Math.max(x, y));
  }
  const as = broadcastStrides(ab, r).map((s) => s * ar * ac);
  const bs = broadcastStrides(bb, r).map((s) => s * br * bc);
  const c = collapseBroadcast({ dims: out, as, bs });
  let batch = c.dims, aBatch = c.as, bBatch = c.bs;
  let m = M;
  // B shared, A plain and contiguous over all batches: fold the batch into M.
  if (!ta && batch.length === 1 && bBatch[0] === 0 && aBatch[0] === M * K) { m = M * batch[0]!; batch = [1]; aBatch = [0]; bBatch = [0]; }
  if (batch.length > GEMM_BATCH_RANK) throw new Error(`MatMul: ${batch.length} batch axes after merging (at most ${GEMM_BATCH_RANK})`);
  while (batch.length < GEMM_BATCH_RANK) { batch.unshift(1); aBatch.unshift(0); bBatch.unshift(0); }
  return { M: m, N, K, transA: ta, transB: tb, lda: ac, ldb: bc, batch, aBatch, bBatch };
}

/** Gemm (2-D, transA / transB): A is [M,K] or [K,M], B is [K,N] or [N,K]. */
export function gemmShape(aDims: readonly number[], bDims: readonly number[], transA: boolean, transB: boolean): GemmShape {
  if (aDims.length !== 2 || bDims.length !== 2) throw new Error('Gemm: A and B must be 2-D');
  const M = transA ? aDims[1]! : aDims[0]!, K = transA ? aDims[0]! : aDims[1]!;
  const Kb = transB ? bDims[1]! : bDims[0]!, N = transB ? bDims[0]! : bDims[1]!;
  if (K !== Kb) throw new Error(`Gemm: inner dimensions ${K} and ${Kb} differ`);
  return { M, N, K, transA, transB, lda: aDims[1]!, ldb: bDims[1]!, batch: [1, 1, 1, 1], aBatch: [0, 0, 0, 0], bBatch: [0, 0, 0, 0] };
}

/** Element strides (per row m, per column n) of a bias broadcast to [M, N] (Gemm's C, FusedMatMul's [N]). */
export function biasStrides(dims: readonly number[] | undefined, M: number, N: number): [number, number] {
  if (!dims) return [0, 0];
  if (dims.length > 2) throw new Error(`bias of rank ${dims.length} does not broadcast to [M, N]`);
  const cm = dims.length === 2 ? dims[0]! : 1;
  const cn = dims.length >= 1 ? dims[dims.length - 1]! : 1;
  if ((cm !== 1 && cm !== M) || (cn !== 1 && cn !== N)) throw new Error(`bias [${dims.join(',')}] does not broadcast to [${M},${N}]`);
  return [cm === 1 ? 0 : cn, cn === 1 ? 0 : 1];
}

/** A fused activation: function name in the addon's table and its two parameters. */
export interface Fn { name: string; a: number; b: number }

const IDENTITY: Fn = { name: 'Identity', a: 0, b: 0 };

/** Parameter defaults as in the ONNX ops (the optimizer writes them; this is a safety net). */
const ACT_DEFAULTS: Record<string, [number, number]> = {
  LeakyRelu: [0.01, 0], Elu: [1, 0], Clip: [-Infinity, Infinity], HardSigmoid: [0.2, 0.5], Affine: [1, 0],
};

/** An epilogue activation (name + params of the fused op's attributes) as a function of the table. */
export function fusedFn(name: unknown, params: unknown): Fn {
  if (typeof name !== 'string' || name === '') return IDENTITY;
  const p = Array.isArray(params) ? (params as number[]) : [];
  if (name === 'Gelu') return { name: p[0] === 1 ? 'GeluTanh' : 'Gelu', a: 0, b: 0 };
  const [d0, d1] = ACT_DEFAULTS[name] ?? [0, 0];
  return { name, a: p[0] ?? d0, b: p[1] ?? d1 };
}

/** ints of `gemm` (see native/src/gemm.cu), given the function codes of act and post. */
export function gemmInts(s: GemmShape, bias: [number, number], act: number, post: number): number[] {
  return [s.M, s.N, s.K, s.transA ? 1 : 0, s.transB ? 1 : 0, s.lda, s.ldb, ...s.batch, ...s.aBatch, ...s.bBatch, bias[0], bias[1], act, post];
}

/** Conv geometry in the `conv2d` kernel's terms (1-D convs as H = P = R = 1). */
export interface ConvShape {
  N: number; C: number; H: number; W: number; K: number; P: number; Q: number; R: number; S: number;
  sh: number; sw: number; ph: number; pw: number; dh: number; dw: number; groups: number;
}

/** From the IR's window geometry (src/ir/ops/convgemm-geom.ts) on 1 or 2 spatial axes. */
export function convShape(x: readonly number[], w: readonly number[], g: { outSize: number[]; kernel: number[]; strides: number[]; dilations: number[]; padsBegin: number[] }, groups: number): ConvShape {
  const sp = x.length - 2;
  if (sp !== 1 && sp !== 2) throw new Error(`conv with ${sp} spatial axes (1 or 2 on CUDA)`);
  const two = sp === 2;
  const at = (a: readonly number[], i: number, def: number) => (two ? a[i]! : i === 0 ? def : a[0]!);
  return {
    N: x[0]!, C: x[1]!, H: two ? x[2]! : 1, W: x[x.length - 1]!, K: w[0]!,
    P: at(g.outSize, 0, 1), Q: at(g.outSize, 1, 1), R: at(g.kernel, 0, 1), S: at(g.kernel, 1, 1),
    sh: at(g.strides, 0, 1), sw: at(g.strides, 1, 1), ph: at(g.padsBegin, 0, 0), pw: at(g.padsBegin, 1, 0),
    dh: at(g.dilations, 0, 1), dw: at(g.dilations, 1, 1), groups,
  };
}

export function convInts(c: ConvShape, act: number, post: number): number[] {
  return [c.N, c.C, c.H, c.W, c.K, c.P, c.Q, c.R, c.S, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.groups, act, post];
}
