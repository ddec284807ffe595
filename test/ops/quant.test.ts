/**
 * Quantization kernels against onnxruntime-node on single-op models with seeded random shapes,
 * layouts (per tensor / per axis / blocked), types and conv geometries, plus an independent naive
 * integer convolution for geometries onnxruntime does not cover.
 *
 * Tolerances: everything is exact (atol 0) except the requantized outputs of QLinearConv and
 * QLinearMatMul, which get atol 1 (one quantization step): twinfer follows the ONNX reference and
 * computes acc * (x_scale * w_scale / y_scale) in float64, onnxruntime's MLAS in float32, so a
 * product within a float32 ulp of a .5 tie may round the other way. Integer accumulators
 * (ConvInteger, MatMulInteger) and the element-wise (de)quantizers (both sides compute x / scale
 * in float32 and round half to even) must match bit for bit.
 */
import { describe, expect, it } from 'vitest';
import { HostTensor } from '../../src/ir/tensor.js';
import type { DType } from '../../src/ir/dtype.js';
import { schemas } from '../../src/ir/ops/quant.js';
import { kernels } from '../../backends/cpu/ops/quant.js';
import { rint } from '../../backends/cpu/quant-gemm.js';
import * as ort from 'onnxruntime-node';
import { Graph, type AttrValue } from '../../src/ir/graph.js';
import { exportModel } from '../../src/onnx/export.js';
import { buildGraph } from '../../src/api/session.js';
import { CpuExecutor } from '../../backends/cpu/executor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { fromHostTensor, toHostTensor, type Tensor } from '../../src/api/tensor.js';
import { assertClose, compareSingleOp, randomTensor, seededRandom, type SingleOpSpec } from '../helpers/ort-single-op.js';

const EXACT = { rtol: 0, atol: 0 };
const ONE_STEP = { rtol: 0, atol: 1 };
const rand = seededRandom(4242);
const ri = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

async function check(spec: SingleOpSpec, label: string, tol = EXACT): Promise<void> {
  const r = await compareSingleOp(spec);
  assertClose(r, tol, `${spec.opType} ${label}`);
}

/**
 * QuantizeLinear -> DequantizeLinear with scale and zero point as initializers, compared on the
 * float32 result: onnxruntime-node cannot feed or fetch int4 / float8 tensors, and the round trip
 * is injective in the quantized value, so it checks QuantizeLinear exactly.
 */
async function checkQdq(x: HostTensor, scale: HostTensor, zp: HostTensor, attrs: Record<string, AttrValue>, label: string): Promise<void> {
  const g = new Graph();
  g.opsets = { '': 21 };
  g.inputs.push({ name: 'x', dtype: x.dtype, shape: x.dims.slice() });
  g.initializers.set('s', scale);
  g.initializers.set('z', zp);
  const dqAttrs = { ...attrs };
  delete dqAttrs.saturate;
  g.nodes.push({ name: 'q', opType: 'QuantizeLinear', domain: '', inputs: ['x', 's', 'z'], outputs: ['q'], attrs });
  g.nodes.push({ name: 'dq', opType: 'DequantizeLinear', domain: '', inputs: ['q', 's', 'z'], outputs: ['y'], attrs: dqAttrs });
  g.outputs = [{ name: 'y' }];
  const model = exportModel(g);
  const mine = new CpuExecutor(buildGraph(model)).run(new Map([['x', x]]), ['y']).get('y')!;
  const sess = await ort.InferenceSession.create(model);
  const t = fromHostTensor(x);
  const theirs = await sess.run({ x: new ort.Tensor(t.type as never, t.data as never, t.dims as number[]) });
  await sess.release();
  const c = compareTensors(mine, toHostTensor(theirs.y as unknown as Tensor), 0, 0);
  if (!c.ok) throw new Error(`QDQ ${label}: ${c.reason}`);
}

function ints(dtype: DType, dims: number[], lo: number, hi: number): HostTensor {
  return randomTensor(dtype, dims, rand, lo, hi + 1);
}
function floats(dims: number[], lo: number, hi: number, dtype: DType = 'float32'): HostTensor {
  return randomTensor(dtype, dims, rand, lo, hi);
}
const RANGE: Record<string, [number, number]> = {
  int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], uint16: [0, 65535], int4: [-8, 7], uint4: [0, 15],
};

describe('rint', () => {
  it('rounds half to even like numpy', () => {
    const cases: [number, number][] = [[0.5, 0], [1.5, 2], [2.5, 2], [-0.5, -0], [-1.5, -2], [-2.5, -2], [2.4999, 2],
      [2 ** 51 + 0.5, 2 ** 51], [2 ** 51 + 1.5, 2 ** 51 + 2], [-(2 ** 51) - 0.5, -(2 ** 51)], [2 ** 60, 2 ** 60]];
    for (const [x, want] of cases) expect(rint(x) === want, `rint(${x})`).toBe(true); // -0 == 0
    expect(Number.isNaN(rint(NaN))).toBe(true);
  });
});

describe('QuantizeLinear / DequantizeLinear vs onnxruntime', () => {
  it('per tensor, per axis and blocked, integer types', async () => {
    for (let t = 0; t < 14; t++) {
      const out = pick(['int8', 'uint8', 'int16', 'uint16', 'int4', 'uint4'] as const);
      const rank = ri(1, 4);
      const dims = Array.from({ length: rank }, () => ri(1, 6));
      const mode = pick(['tensor', 'axis', 'block'] as const);
      const axis = ri(-rank, rank - 1);
      const ax = axis < 0 ? axis + rank : axis;
      const block = mode === 'block' ? ri(1, 3) : 0;
      const pDims = mode === 'tensor' ? [] : mode === 'axis' ? [dims[ax]!]
        : dims.map((d, i) => (i === ax ? Math.ceil(d / block) : d));
      const [lo, hi] = RANGE[out]!;
      const scale = floats(pDims, 0.01, 0.2);
      const zp = ints(out, pDims, lo, hi);
      // Values span beyond the type's range so saturation is exercised; x.5 ties are frequent at scale 0.25.
      const x = floats(dims, (lo - hi) * 0.3, (hi - lo) * 0.3);
      const attrs = { axis, ...(block ? { block_size: block } : {}) };
      const label = `${out} ${mode} dims [${dims}] axis ${axis} block ${block}`;
      const q = ints(out, dims, lo, hi);
      if (out === 'int4' || out === 'uint4') {
        await checkQdq(x, scale, zp, attrs, label);
        await check({ opType: 'DequantizeLinear', attrs, inputs: [q, scale, zp], constInputs: [0, 2], opset: 21 }, label);
        continue;
      }
      await check({ opType: 'QuantizeLinear', attrs, inputs: [x, scale, zp], opset: 21 }, label);
      await check({ opType: 'DequantizeLinear', attrs, inputs: [q, scale, zp], opset: 21 }, label);
    }
  });

  it('ties round half to even, no zero point = uint8, output_dtype', async () => {
    const x = HostTensor.fromNumbers('float32', [10], [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 300, -300, 127.5, 128.5]);
    const s = HostTensor.scalar('float32', 1);
    await check({ opType: 'QuantizeLinear', inputs: [x, s], opset: 21 }, 'uint8 default');
    await check({ opType: 'QuantizeLinear', attrs: { output_dtype: 3 }, inputs: [x, s], opset: 21 }, 'output_dtype int8');
    await check({ opType: 'QuantizeLinear', inputs: [x, s, HostTensor.scalar('int8', 3)], opset: 13 }, 'opset 13');
  });

  it('float16 input and scale', async () => {
    const x = floats([3, 5], -20, 20, 'float16');
    const s = floats([5], 0.05, 0.3, 'float16');
    const z = ints('int8', [5], -10, 10);
    await check({ opType: 'QuantizeLinear', attrs: { axis: 1 }, inputs: [x, s, z], opset: 21 }, 'f16');
    await check({ opType: 'DequantizeLinear', attrs: { axis: 1 }, inputs: [ints('int8', [3, 5], -128, 127), s, z], opset: 21 }, 'f16');
  });

  it('float8 outputs with and without saturation', async () => {
    for (const out of ['float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz'] as const) {
      const x = floats([2, 8], -150000, 150000);
      x.numbers.set([0, 0.001, -0.001, 1e-9, 448 * 0.5, 449 * 0.5, 57344 * 0.5, 60000 * 0.5], 0);
      // (61440, the tie between e5m2's max and overflow, is left out: without saturation onnxruntime
      // gives NaN where IEEE rounding, ml_dtypes and twinfer give inf.)
      const s = HostTensor.scalar('float32', 0.5);
      const z = new HostTensor(out, [], new Float32Array(1));
      for (const saturate of [1, 0]) await checkQdq(x, s, z, { saturate }, `${out} saturate ${saturate}`);
    }
  });

  it('int32 dequantization', async () => {
    const x = ints('int32', [4, 3], -100000, 100000);
    await check({ opType: 'DequantizeLinear', inputs: [x, HostTensor.scalar('float32', 0.003)], opset: 21 }, 'int32');
  });
});

describe('DynamicQuantizeLinear vs onnxruntime', () => {
  it('random ranges, all-positive, all-negative, zeros', async () => {
    const inputs = [floats([3, 7], -3, 5), floats([20], 0.5, 9), floats([4, 4], -6, -1),
      new HostTensor('float32', [5]), floats([2, 3, 4], -100, 100)];
    for (const [i, x] of inputs.entries()) {
      await check({ opType: 'DynamicQuantizeLinear', inputs: [x], outputs: 3, opset: 11 }, `case ${i}`);
    }
  });
});

describe('integer matmuls vs onnxruntime', () => {
  it('MatMulInteger: batched, broadcast, per-column b zero point', async () => {
    for (let t = 0; t < 8; t++) {
      const [M, K, N] = [ri(1, 9), ri(1, 40), ri(1, 9)];
      const batchA = pick([[], [2], [3, 2], [1]]);
      const batchB = pick([[], batchA, batchA.map(() => 1)]);
      const at = pick(['uint8', 'int8'] as const), bt = pick(['uint8', 'int8'] as const);
      if (at === 'int8' && bt === 'uint8') continue; // onnxruntime has no s8u8 kernel
      const [alo, ahi] = RANGE[at]!, [blo, bhi] = RANGE[bt]!;
      const a = ints(at, [...batchA, M, K], alo, ahi), b = ints(bt, [...batchB, K, N], blo, bhi);
      const az = ints(at, [], alo, ahi);
      // onnxruntime takes a per-column b zero point for 2-D B only.
      const bz = rand() < 0.5 || batchB.length ? ints(bt, [], blo, bhi) : ints(bt, [N], blo, bhi);
      await check({ opType: 'MatMulInteger', inputs: [a, b, az, bz], opset: 10 }, `${at}x${bt} [${batchA},${M},${K}]x[${batchB},${K},${N}]`);
    }
  });

  it('QLinearMatMul: float32 and float16 scales, per-column b', async () => {
    for (let t = 0; t < 8; t++) {
      const [M, K, N] = [ri(1, 8), ri(1, 32), ri(1, 8)];
      const batch = pick([[], [2], [2, 3]]);
      const ty = pick(['uint8', 'int8'] as const);
      const st = pick(['float32', 'float16'] as const);
      const [lo, hi] = RANGE[ty]!;
      const perCol = st === 'float32' && rand() < 0.5;
      const spec: SingleOpSpec = {
        opType: 'QLinearMatMul', opset: 21,
        inputs: [
          ints(ty, [...batch, M, K], lo, hi), floats([], 0.01, 0.05, st), ints(ty, [], lo, hi),
          ints(ty, [K, N], lo, hi), floats(perCol ? [N] : [], 0.01, 0.05, st), ints(ty, perCol ? [N] : [], lo, hi),
          floats([], 0.5, 2, st), ints(ty, [], lo, hi),
        ],
      };
      await check(spec, `${ty} ${st} [${batch},${M},${K}]x[${K},${N}] perCol ${perCol}`, ONE_STEP);
    }
  });
});

/** Random conv geometry: rank, groups, kernel, strides, dilations, pads or auto_pad. */
function convCase(spatial: number, ortCompatible = true, depthwise = false) {
  const G = depthwise ? ri(2, 6) : pick([1, 1, 2, 3]);
  const Cg = depthwise ? 1 : ri(1, 4), Mg = depthwise ? 1 : ri(1, 4);
  const kernel = Array.from({ length: spatial }, () => (depthwise ? 3 : ri(1, 3)));
  const strides = Array.from({ length: spatial }, () => ri(1, 2));
  const dilations = Array.from({ length: spatial }, () => ri(1, 2));
  const inSp = kernel.map((k, i) => (k - 1) * dilations[i]! + 1 + ri(0, 6));
  const autoPad = pick(['NOTSET', 'NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID']);
  const attrs: Record<string, number[] | number | string> = { kernel_shape: kernel, strides, dilations, group: G };
  if (autoPad === 'NOTSET') attrs.pads = Array.from({ length: 2 * spatial }, () => ri(0, 2));
  else attrs.auto_pad = autoPad;
  // onnxruntime rejects dilations with SAME_* padding.
  if (ortCompatible && autoPad.startsWith('SAME')) attrs.dilations = dilations.fill(1);
  return { N: ri(1, 2), C: Cg * G, M: Mg * G, kernel, inSp, attrs };
}

describe('integer convolutions vs onnxruntime', () => {
  it('ConvInteger 1-D/2-D, groups, strides, dilations, pads', async () => {
    for (let t = 0; t < 8; t++) {
      const c = convCase(ri(1, 2));
      const x = ints('uint8', [c.N, c.C, ...c.inSp], 0, 255);
      const w = ints('uint8', [c.M, c.C / (c.attrs.group as number), ...c.kernel], 0, 255);
      const wz = ints('uint8', [], 0, 255); // onnxruntime: per-tensor only (per-channel: naive test below)
      await check({ opType: 'ConvInteger', attrs: c.attrs, inputs: [x, w, ints('uint8', [], 0, 255), wz], opset: 10 },
        JSON.stringify(c));
    }
  });

  it('QLinearConv: u8/s8 activations, s8 weights, per-channel scales, bias, depthwise', async () => {
    for (let t = 0; t < 10; t++) {
      const c = convCase(ri(1, 2), true, t < 3);
      const xt = pick(['uint8', 'int8'] as const);
      const [lo, hi] = RANGE[xt]!;
      const G = c.attrs.group as number;
      const perCh = rand() < 0.5;
      const inputs = [
        ints(xt, [c.N, c.C, ...c.inSp], lo, hi), floats([], 0.01, 0.05), ints(xt, [], lo, hi),
        ints('int8', [c.M, c.C / G, ...c.kernel], -127, 127), floats(perCh ? [c.M] : [], 0.005, 0.03),
        new HostTensor('int8', perCh ? [c.M] : []), floats([], 0.05, 0.5), ints(xt, [], lo, hi),
        ints('int32', [c.M], -2000, 2000),
      ];
      await check({ opType: 'QLinearConv', attrs: c.attrs, inputs, opset: 10 }, `${xt} ${JSON.stringify(c)}`, ONE_STEP);
    }
  });
});

/** Naive integer conv (any spatial rank) straight from the definition. */
function naiveConv(x: HostTensor, xz: number, w: HostTensor, wz: number[], attrs: ReturnType<typeof convCase>['attrs'], outDims: number[]): Int32Array {
  const [N, C] = x.dims as [number, number];
  const M = w.dims[0]!, G = attrs.group as number, Cg = C / G, Mg = M / G;
  const sp = x.dims.length - 2;
  const inSp = x.dims.slice(2), outSp = outDims.slice(2), k = w.dims.slice(2);
  const strides = attrs.strides as number[], dil = attrs.dilations as number[];
  // SAME_* pads re-derived by hand from the output dims (independently of the schema helper).
  const pads = new Array<number>(2 * sp).fill(0);
  const ap = (attrs.auto_pad as string | undefined) ?? 'NOTSET';
  for (let i = 0; i < sp; i++) {
    if (ap === 'NOTSET') { pads[i] = (attrs.pads as number[])[i]!; continue; }
    if (ap === 'VALID') continue;
    const total = Math.max(0, (outSp[i]! - 1) * strides[i]! + (k[i]! - 1) * dil[i]! + 1 - inSp[i]!);
    pads[i] = ap === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
  }
  const out = new Int32Array(outDims.reduce((a, b) => a * b, 1));
  const P = outSp.reduce((a, b) => a * b, 1), KS = k.reduce((a, b) => a * b, 1);
  const xd = x.numbers, wd = w.numbers;
  for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) for (let p = 0; p < P; p++) {
    const o: number[] = []; let r = p;
    for (let i = sp - 1; i >= 0; i--) { o[i] = r % outSp[i]!; r = Math.floor(r / outSp[i]!); }
    let s = 0;
    const g = Math.floor(m / Mg);
    for (let c = 0; c < Cg; c++) for (let kp = 0; kp < KS; kp++) {
      const kk: number[] = []; let q = kp;
      for (let i = sp - 1; i >= 0; i--) { kk[i] = q % k[i]!; q = Math.floor(q / k[i]!); }
      let idx = n * C + g * Cg + c, ok = true;
      for (let i = 0; i < sp; i++) {
        const pos = o[i]! * strides[i]! + kk[i]! * dil[i]! - pads[i]!;
        if (pos < 0 || pos >= inSp[i]!) { ok = false; break; }
        idx = idx * inSp[i]! + pos;
      }
      if (!ok) continue;
      s += (xd[idx]! - xz) * (wd[(m * Cg + c) * KS + kp]! - wz[wz.length === 1 ? 0 : m]!);
    }
    out[(n * M + m) * P + p] = s;
  }
  return out;
}

describe('ConvInteger vs a naive reference (1-D to 3-D)', () => {
  it('matches exactly', () => {
    for (let t = 0; t < 30; t++) {
      const c = convCase(ri(1, 3), false);
      const xt = pick(['uint8', 'int8'] as const);
      const [lo, hi] = RANGE[xt]!;
      const x = ints(xt, [c.N, c.C, ...c.inSp], lo, hi);
      const w = ints(xt, [c.M, c.C / (c.attrs.group as number), ...c.kernel], lo, hi);
      const xz = ints(xt, [], lo, hi), wz = rand() < 0.5 ? ints(xt, [], lo, hi) : ints(xt, [c.M], lo, hi);
      const node = { name: 'n', opType: 'ConvInteger', domain: '', inputs: ['x', 'w', 'xz', 'wz'], outputs: ['y'], attrs: c.attrs };
      const ins = [x, w, xz, wz];
      const types = schemas.ConvInteger!.infer({
        node, opset: 10, inputs: ins.map((i) => ({ dtype: i.dtype, shape: i.dims.slice() })), value: (i) => ins[i], freshDim: (h) => h,
      });
      const [y] = kernels.ConvInteger!({ node, inputs: ins, outputTypes: types });
      const want = naiveConv(x, xz.num(), w, wz.toNumberArray(), c.attrs, y!.dims.slice());
      expect(Array.from(y!.numbers), JSON.stringify(c)).toEqual(Array.from(want));
    }
  });
});

describe('MatMulInteger vs a naive reference (per-row a / per-column b zero points, broadcasting)', () => {
  it('matches exactly', () => {
    for (let t = 0; t < 20; t++) {
      const [M, K, N] = [ri(1, 7), ri(1, 20), ri(1, 7)];
      const batchA = pick([[], [2], [3, 1]]), batchB = pick([[], [1], [2], [1, 2]]);
      const aDims = rand() < 0.15 ? [K] : [...batchA, M, K];
      const bDims = rand() < 0.15 ? [K] : [...batchB, K, N];
      const rows = aDims.length === 1 ? 1 : M, cols = bDims.length === 1 ? 1 : N;
      const a = ints('int8', aDims, -128, 127), b = ints('uint8', bDims, 0, 255);
      const az = ints('int8', rand() < 0.5 ? [] : [rows], -128, 127), bz = ints('uint8', rand() < 0.5 ? [] : [cols], 0, 255);
      const node = { name: 'n', opType: 'MatMulInteger', domain: '', inputs: ['a', 'b', 'az', 'bz'], outputs: ['y'], attrs: {} };
      const ins = [a, b, az, bz];
      const types = schemas.MatMulInteger!.infer({
        node, opset: 10, inputs: ins.map((i) => ({ dtype: i.dtype, shape: i.dims.slice() })), value: (i) => ins[i], freshDim: (h) => h,
      });
      const [y] = kernels.MatMulInteger!({ node, inputs: ins, outputTypes: types });
      // Naive: broadcast batches by hand (batch dims here are at most 2, right-aligned).
      const ab = aDims.length === 1 ? [] : batchA, bb = bDims.length === 1 ? [] : batchB;
      const rank = Math.max(ab.length, bb.length);
      const pad = (d: number[]) => [...new Array<number>(rank - d.length).fill(1), ...d];
      const pa = pad(ab), pb = pad(bb), po = pa.map((d, i) => Math.max(d, pb[i]!));
      const total = po.reduce((x, v) => x * v, 1);
      const want: number[] = [];
      for (let ob = 0; ob < total; ob++) {
        let r = ob, ai = 0, bi = 0, sa = 1, sb = 1;
        for (let i = rank - 1; i >= 0; i--) {
          const idx = r % po[i]!; r = Math.floor(r / po[i]!);
          ai += (pa[i] === 1 ? 0 : idx) * sa; bi += (pb[i] === 1 ? 0 : idx) * sb;
          sa *= pa[i]!; sb *= pb[i]!;
        }
        for (let m = 0; m < rows; m++) for (let n = 0; n < cols; n++) {
          let s = 0;
          for (let k = 0; k < K; k++) {
            const av = a.numbers[(ai * rows + m) * K + k]! - az.numbers[az.size === 1 ? 0 : m]!;
            const bv = b.numbers[(bi * K + k) * cols + n]! - bz.numbers[bz.size === 1 ? 0 : n]!;
            s += av * bv;
          }
          want.push(s);
        }
      }
      expect(Array.from(y!.numbers), `[${aDims}] x [${bDims}]`).toEqual(want);
    }
  });
});
