/**
 * Conv / ConvTranspose / Gemm / MatMul / Einsum / pooling kernels against onnxruntime-node on
 * single-op models with seeded random shapes and attributes. Every float32 case runs three times:
 * on the WebAssembly SIMD kernels with fused multiply-add, without it, and on the scalar JS twins.
 *
 * Tolerances: float32 products are summed in a different order than onnxruntime's (blocked GEMM,
 * FMA vs separate rounding, Winograd-free but im2col-fused), so results differ by a few ulps of
 * the largest partial sum: with inputs in [-1, 1] and reductions of up to ~600 terms, partial sums
 * stay below ~25, whose float32 ulp is ~2e-6; rtol 1e-4 / atol 1e-4 leaves a 10x margin over the
 * observed ~1e-5. Pools only sum up to a window (AveragePool: rtol 1e-5, atol 1e-6); MaxPool,
 * Indices and integer MatMul/Gemm/Einsum are exact; float64 gets 1e-10.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { HostTensor } from '../../src/ir/tensor.js';
import type { DType } from '../../src/ir/dtype.js';
import { arena, setGemmSimd } from '../../backends/cpu/gemm.js';
import { setWinograd } from '../../backends/cpu/convgemm-conv.js';
import { buildGraph } from '../../src/api/session.js';
import { CpuExecutor } from '../../backends/cpu/executor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { SCHEMAS } from '../../src/ir/ops/index.js';
import type { Node } from '../../src/ir/graph.js';
import type { KernelContext } from '../../backends/cpu/kernel.js';
import { kernels as convgemmKernels, runConvGemmFused } from '../../backends/cpu/ops/convgemm.js';
import { addLastAxis, applyActivation } from '../../backends/cpu/epilogue.js';
import {
  assertClose, compareSingleOp, randomTensor, seededRandom, singleOpModel, type SingleOpSpec,
} from '../helpers/ort-single-op.js';

const EXACT = { rtol: 0, atol: 0 };
const F32 = { rtol: 1e-4, atol: 1e-4 };
const F64 = { rtol: 1e-10, atol: 1e-10 };
const POOL = { rtol: 1e-5, atol: 1e-6 };
const rand = seededRandom(Number(process.env['CONVGEMM_SEED'] ?? 20240601)); // env override to explore other cases
const ri = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const rt = (dims: number[], dtype: DType = 'float32', lo = -1, hi = 1): HostTensor => randomTensor(dtype, dims, rand, lo, hi);

const KERNELS: [string, boolean, boolean][] = [['wasm-fma', true, true], ['wasm', true, false], ['js', false, false]];

/** Runs the spec on each kernel set (float32) or once (other types). */
async function check(spec: SingleOpSpec, label: string, tol = F32): Promise<void> {
  const f32 = spec.inputs.some((t) => t?.dtype === 'float32');
  for (const [name, simd, fma] of f32 ? KERNELS : KERNELS.slice(0, 1)) {
    setGemmSimd(simd, fma);
    const r = await compareSingleOp(spec);
    assertClose(r, tol, `${spec.opType} ${label} [${name}]`);
  }
}

afterAll(() => setGemmSimd(true, true));

/** Random window attributes for `rank` spatial axes over input size `sp`; returns attrs and whether it fits. */
function windowAttrs(sp: number[], kernel: number[], opts: { pool?: boolean } = {}): Record<string, number | number[] | string> {
  const rank = sp.length;
  const attrs: Record<string, number | number[] | string> = {};
  const strides = sp.map(() => ri(1, 3));
  const dil = sp.map(() => (rand() < 0.3 ? 2 : 1));
  if (rand() < 0.7) attrs['strides'] = strides;
  if (rand() < 0.5) attrs['dilations'] = dil;
  const d = (attrs['dilations'] as number[] | undefined) ?? dil.map(() => 1);
  const mode = pick(['NOTSET', 'NOTSET', 'NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID']);
  if (mode !== 'NOTSET') attrs['auto_pad'] = mode;
  if (mode.startsWith('SAME')) {
    // onnxruntime rejects dilations with SAME, and with a stride above the kernel size its SAME
    // pads go negative (shifted windows) where twinfer clamps them at 0 as TensorFlow does.
    delete attrs['dilations'];
    attrs['strides'] = kernel.map((k, i) => Math.min(k, strides[i]!));
  }
  if (mode === 'NOTSET' && rand() < 0.7) {
    // pools: pads smaller than the kernel, as onnxruntime requires
    const hi = (k: number, i: number): number => Math.min(2, opts.pool ? k - 1 : (k - 1) * d[i]!);
    attrs['pads'] = [...kernel.map((k, i) => ri(0, hi(k, i))), ...kernel.map((k, i) => ri(0, hi(k, i)))];
  }
  if (opts.pool) attrs['kernel_shape'] = kernel;
  void rank;
  return attrs;
}

describe('convolution vs onnxruntime', () => {
  it('Conv: 1-D/2-D/3-D, groups, depthwise, strides, dilations, pads, auto_pad, bias', async () => {
    for (let t = 0; t < 24; t++) {
      const rank = pick([1, 2, 2, 2, 3]);
      const depthwise = rank < 3 && rand() < 0.35;
      const group = depthwise ? ri(2, 8) : pick([1, 1, 1, 2, 3]);
      const cg = depthwise ? 1 : ri(1, rank === 3 ? 3 : 12);
      const mg = depthwise ? pick([1, 1, 2]) : ri(1, rank === 3 ? 4 : 20);
      const kernel = Array.from({ length: rank }, () => (rank === 3 ? ri(1, 3) : pick([1, 2, 3, 3, 5])));
      const sp = kernel.map((k) => ri(2 * k + 1, rank === 3 ? 7 : rank === 1 ? 40 : 19));
      const x = rt([ri(1, 2), cg * group, ...sp]);
      const w = rt([mg * group, cg, ...kernel]);
      const b = rand() < 0.6 ? rt([mg * group]) : undefined;
      const attrs = windowAttrs(sp, kernel);
      if (group > 1) attrs['group'] = group;
      if (rand() < 0.5) attrs['kernel_shape'] = kernel;
      await check({ opType: 'Conv', attrs, inputs: [x, w, b], constInputs: [1, 2] }, `x[${x.dims}] w[${w.dims}] ${JSON.stringify(attrs)}`);
    }
  });

  it('Conv: sizes on the blocked GEMM, pointwise and depthwise fast paths', async () => {
    const cases: [number[], number[], Record<string, number | number[]>][] = [
      [[1, 24, 33, 35], [40, 24, 3, 3], { pads: [1, 1, 1, 1], strides: [1, 2] }],
      [[1, 48, 20, 21], [72, 48, 1, 1], {}],
      [[2, 16, 30, 30], [16, 1, 3, 3], { group: 16, pads: [1, 1, 1, 1], strides: [2, 2] }],
      [[1, 32, 23, 29], [32, 1, 5, 5], { group: 32, pads: [2, 2, 2, 2] }],
      [[1, 8, 17, 41], [8, 1, 3, 3], { group: 8, pads: [2, 2, 2, 2], dilations: [2, 2] }],
      [[1, 3, 64, 64], [16, 3, 3, 3], { pads: [1, 1, 1, 1], strides: [2, 2] }],
      [[1, 300, 9, 9], [20, 300, 3, 3], { pads: [0, 1, 2, 1] }],
    ];
    for (const [xd, wd, attrs] of cases) {
      await check({ opType: 'Conv', attrs, inputs: [rt(xd), rt(wd), rt([wd[0]!])], constInputs: [1, 2] }, `x[${xd}] w[${wd}]`);
    }
  });

  it('Conv: Winograd F(4x4, 3x3) (forced on small maps, automatic on a large one)', async () => {
    // Winograd's transforms scale values by up to ~10 and back: float32 error grows to ~3e-5 of
    // the output's magnitude (|y| <= ~15 here), hence 1e-3.
    const WINO = { rtol: 1e-3, atol: 1e-3 };
    const cases: [number[], number[], Record<string, number[]>, 'force' | 'auto'][] = [
      [[1, 16, 9, 13], [8, 16, 3, 3], { pads: [1, 1, 1, 1] }, 'force'],
      [[2, 20, 11, 18], [12, 20, 3, 3], { pads: [0, 1, 1, 0] }, 'force'],
      [[1, 17, 8, 8], [9, 17, 3, 3], {}, 'force'],
      [[1, 24, 40, 48], [16, 24, 3, 3], { pads: [1, 1, 1, 1] }, 'auto'],
    ];
    try {
      for (const [xd, wd, attrs, mode] of cases) {
        setWinograd(mode);
        const r = await compareSingleOp({ opType: 'Conv', attrs, inputs: [rt(xd), rt(wd), rt([wd[0]!])], constInputs: [1, 2] });
        assertClose(r, WINO, `Conv winograd x[${xd}] w[${wd}]`);
      }
    } finally { setWinograd('auto'); }
  });

  it('Conv, ConvTranspose: float64 (direct loops) against onnxruntime on the float32 model', async () => {
    // onnxruntime has no float64 Conv: run ours in float64 and compare with its float32 result.
    const asF64 = (t: HostTensor): HostTensor => HostTensor.fromNumbers('float64', t.dims, t.numbers);
    for (const [op, xd, wd, attrs] of [
      ['Conv', [1, 4, 9, 8], [6, 2, 3, 3], { group: 2, pads: [1, 0, 1, 2], strides: [2, 1] }],
      ['ConvTranspose', [2, 4, 5, 6], [4, 3, 3, 2], { group: 2, pads: [1, 0, 0, 1], strides: [2, 3], dilations: [1, 2] }],
    ] as [string, number[], number[], Record<string, number[] | number>][]) {
      const inputs = [rt(xd), rt(wd), rt([wd[op === 'Conv' ? 0 : 1]! * (op === 'Conv' ? 1 : 2)])];
      const ref = await compareSingleOp({ opType: op, attrs, inputs, constInputs: [1, 2] });
      const mine = new CpuExecutor(buildGraph(singleOpModel({ opType: op, attrs, inputs: inputs.map(asF64), constInputs: [1, 2] })))
        .run(new Map([['in0', asF64(inputs[0]!)]]), ['out0']).get('out0')!;
      const c = compareTensors(HostTensor.fromNumbers('float32', mine.dims, mine.numbers), ref.ort[0]!, 1e-5, 1e-5);
      expect(c.ok, `${op} float64: ${c.reason}`).toBe(true);
      expect(mine.dtype).toBe('float64');
    }
  });

  it('ConvTranspose: groups, strides, dilations, pads, output_padding, output_shape, auto_pad', async () => {
    for (let t = 0; t < 18; t++) {
      const rank = pick([1, 2, 2, 3]);
      const group = pick([1, 1, 2]);
      const cg = ri(1, rank === 3 ? 3 : 6), mg = ri(1, rank === 3 ? 3 : 6);
      const kernel = Array.from({ length: rank }, () => ri(1, 3));
      const sp = kernel.map(() => ri(2, rank === 3 ? 5 : 12));
      const strides = sp.map(() => ri(1, 3));
      const dil = sp.map(() => (rand() < 0.3 ? 2 : 1));
      const attrs: Record<string, number | number[] | string> = { strides };
      if (rand() < 0.4) attrs['dilations'] = dil;
      const d = (attrs['dilations'] as number[] | undefined) ?? sp.map(() => 1);
      if (group > 1) attrs['group'] = group;
      // Not SAME_*: onnxruntime's ConvTranspose ignores it (output (in-1)*s + k, no pads) where the
      // spec and the ONNX reference (which the conformance tests pin, and twinfer follows) give in*s.
      const mode = pick(['pads', 'pads', 'output_shape', 'VALID', 'none']);
      if (mode === 'pads') attrs['pads'] = [...kernel.map((k, i) => ri(0, Math.min(1, (k - 1) * d[i]!))), ...kernel.map((k, i) => ri(0, Math.min(1, (k - 1) * d[i]!)))];
      if (mode === 'VALID') attrs['auto_pad'] = mode;
      if (mode !== 'output_shape' && rand() < 0.4) attrs['output_padding'] = strides.map((s) => ri(0, s - 1));
      if (mode === 'output_shape') {
        // total padding 0 or 2: onnxruntime puts an odd pixel at the end, the spec at the begin
        attrs['output_shape'] = sp.map((n, i) => strides[i]! * (n - 1) + (kernel[i]! - 1) * d[i]! + 1 - ((kernel[i]! - 1) * d[i]! >= 2 ? pick([0, 2]) : 0));
      }
      const x = rt([ri(1, 2), cg * group, ...sp]);
      const w = rt([cg * group, mg, ...kernel]);
      const b = rand() < 0.5 ? rt([mg * group]) : undefined;
      await check({ opType: 'ConvTranspose', attrs, inputs: [x, w, b], constInputs: [1, 2] }, `x[${x.dims}] w[${w.dims}] ${JSON.stringify(attrs)}`);
    }
    // PaddleOCR's head: 2x2 stride-2 upsampling on a larger map
    await check({ opType: 'ConvTranspose', attrs: { strides: [2, 2] }, inputs: [rt([1, 24, 40, 40]), rt([24, 24, 2, 2]), rt([24])], constInputs: [1, 2] }, 'ppocr head');
    // the same path (kernel width 2 = stride, width % 4 = 0) with groups, batches, a 3-high kernel, no bias
    await check({ opType: 'ConvTranspose', attrs: { strides: [3, 2], group: 2 }, inputs: [rt([2, 6, 7, 12]), rt([6, 5, 3, 2])], constInputs: [1] }, 'stride = kernel, kw 2, groups');
  });
});

describe('denormal weights', () => {
  it('are flushed to 0 on their way into the arena (everything else bit for bit: -0, NaN, infinities)', () => {
    const vals = [0, -0, 1e-39, -1e-39, 1.1754943508222875e-38, -1.17549421e-38, 1e-45, 1, -2.5, Infinity, -Infinity, NaN, 3.4e38, 5e-30];
    const src = new Float32Array(vals);
    setGemmSimd(true, true);
    const ar = arena();
    const mark = ar.top;
    const p = ar.weights(src, 0, src.length);
    const got = Array.from(ar.f32.subarray(p >> 2, (p >> 2) + src.length));
    ar.top = mark;
    const want = Array.from(src, (v) => (v !== 0 && Math.abs(v) < 1.1754943508222875e-38 ? 0 : v));
    expect(got.map((v) => Object.is(v, -0) ? '-0' : String(v))).toEqual(want.map((v) => Object.is(v, -0) ? '-0' : String(v)));
  });

  it('a convolution with denormal weights matches onnxruntime (which runs with denormals-are-zero)', async () => {
    const w = rt([24, 40, 1, 1]);
    const wd = w.data as Float32Array;
    for (let i = 0; i < wd.length; i += 3) wd[i] = (i % 2 ? -1 : 1) * 1e-39 * (1 + (i % 7));
    await check({ opType: 'Conv', inputs: [rt([1, 40, 6, 9]), w, rt([24])], constInputs: [1, 2] }, 'denormal weights');
  });
});

describe('matrix products vs onnxruntime', () => {
  it('Gemm: transA/transB, alpha/beta, C broadcast, float32/float64', async () => {
    for (let t = 0; t < 14; t++) {
      const big = rand() < 0.4;
      const M = ri(1, big ? 90 : 9), N = ri(1, big ? 90 : 9), K = ri(1, big ? 200 : 9);
      const transA = rand() < 0.5 ? 1 : 0, transB = rand() < 0.5 ? 1 : 0;
      const dtype: DType = rand() < 0.8 ? 'float32' : 'float64';
      const a = rt(transA ? [K, M] : [M, K], dtype), b = rt(transB ? [N, K] : [K, N], dtype);
      const cShape = pick([undefined, [], [N], [1, N], [M, 1], [M, N]]);
      const attrs: Record<string, number> = { transA, transB };
      if (rand() < 0.5) attrs['alpha'] = pick([0.5, -1.25, 2]);
      if (rand() < 0.5) attrs['beta'] = pick([0, 0.5, 3]);
      const inputs = [a, b, cShape ? rt(cShape, dtype) : undefined];
      await check({ opType: 'Gemm', attrs, attrTypes: { alpha: 'float', beta: 'float' }, inputs, constInputs: [1] },
        `M${M} N${N} K${K} ${JSON.stringify(attrs)} C[${cShape ?? '-'}]`, dtype === 'float64' ? F64 : F32);
    }
  });

  it('Gemm: classifier heads (M = 1, vector paths)', async () => {
    for (const transB of [0, 1]) {
      const K = 300, N = 200;
      const inputs = [rt([1, K]), rt(transB ? [N, K] : [K, N]), rt([N])];
      await check({ opType: 'Gemm', attrs: { transB }, inputs, constInputs: [1, 2] }, `1x${K}x${N} transB=${transB}`);
    }
    await check({ opType: 'Gemm', attrs: { transA: 1 }, inputs: [rt([300, 1]), rt([300, 150]), undefined], constInputs: [1] }, 'transA 1x300x150');
  });

  it('MatMul: batch broadcasting, 1-D operands, dtypes', async () => {
    const shapes: [number[], number[]][] = [
      [[7], [7]], [[5], [5, 3]], [[4, 6], [6]], [[2, 3, 4], [4]], [[4], [2, 4, 5]],
      [[3, 1, 5, 6], [4, 6, 2]], [[2, 40, 120], [120, 64]], [[1, 8, 40, 16], [1, 8, 16, 40]],
      [[2, 1, 33, 70], [3, 70, 45]], [[130, 257], [257, 129]],
    ];
    for (const [as, bs] of shapes) {
      await check({ opType: 'MatMul', inputs: [rt(as), rt(bs)] }, `[${as}] x [${bs}]`);
    }
    for (const dtype of ['float64', 'int32', 'int64'] as DType[]) {
      const tol = dtype === 'float64' ? F64 : EXACT;
      await check({ opType: 'MatMul', inputs: [rt([2, 3, 4], dtype, -20, 20), rt([4, 5], dtype, -20, 20)] }, dtype, tol);
    }
  });

  it('Einsum: transposes, contractions, batch matmul, diagonals, ellipsis, reductions', async () => {
    const cases: [string, number[][], DType?][] = [
      ['ij->ji', [[3, 4]]], ['ij', [[3, 4]]], ['ii->i', [[4, 4]]], ['ii', [[5, 5]]], ['ij->', [[3, 4]]],
      ['i,i', [[6], [6]]], ['i,j->ij', [[3], [4]]], ['ij,jk->ik', [[20, 30], [30, 25]]],
      ['bij,bjk->bik', [[3, 20, 17], [3, 17, 22]]], ['bij,bkj->bik', [[2, 18, 30], [2, 21, 30]]],
      ['...ij,...jk->...ik', [[2, 3, 4, 5], [2, 3, 5, 6]]], ['bii->bi', [[3, 4, 4]]], ['...ii->...i', [[2, 3, 3]]],
      ['ijk,ikl->jl', [[2, 3, 4], [2, 4, 5]]], ['abc,cd,de->abe', [[2, 3, 4], [4, 5], [5, 2]]],
      ['bhqd,bhkd->bhqk', [[1, 2, 24, 16], [1, 2, 20, 16]]], ['ij,ij->i', [[5, 7], [5, 7]]],
      ['ij,jk->ik', [[4, 5], [5, 3]], 'int32'], ['i,i->', [[9], [9]], 'int64'], ['ij->i', [[3, 4]], 'float64'],
    ];
    for (const [equation, shapes, dtype] of cases) {
      const dt = dtype ?? 'float32';
      const tol = dt === 'float32' ? F32 : dt === 'float64' ? F64 : EXACT;
      await check({ opType: 'Einsum', attrs: { equation }, inputs: shapes.map((s) => rt(s, dt, -5, 5)) }, equation, tol);
    }
  });
});

describe('fused activations in the kernels', () => {
  it('runConvGemmFused (activation, then Affine) matches the base kernel followed by the reference epilogue', () => {
    const ctxFor = (opType: string, attrs: Record<string, number | number[]>, inputs: HostTensor[]): KernelContext => {
      const node: Node = { name: 'n', opType, domain: '', inputs: inputs.map((_, i) => `i${i}`), outputs: ['y'], attrs };
      const outputTypes = SCHEMAS[opType]!.infer({
        node, opset: 21, inputs: inputs.map((t) => ({ dtype: t.dtype, shape: t.dims.slice() })),
        value: (i) => inputs[i], freshDim: (h) => h,
      });
      return { node, inputs, outputTypes };
    };
    const bases: [string, Record<string, number | number[]>, HostTensor[]][] = [
      ['Conv', { pads: [1, 1, 1, 1], strides: [2, 1] }, [rt([1, 6, 11, 12]), rt([10, 6, 3, 3]), rt([10])]],
      ['Conv', {}, [rt([1, 20, 9, 10]), rt([12, 20, 1, 1]), rt([12])]],
      ['Conv', { group: 8, pads: [2, 2, 2, 2] }, [rt([1, 8, 13, 19]), rt([8, 1, 5, 5]), rt([8])]],
      ['Conv', { pads: [1, 1, 1, 1] }, [rt([1, 16, 12, 16]), rt([8, 16, 3, 3]), rt([8])]],
      ['ConvTranspose', { strides: [2, 2] }, [rt([1, 4, 5, 6]), rt([4, 3, 2, 2]), rt([3])]],
      ['ConvTranspose', { strides: [2, 2], group: 2 }, [rt([2, 4, 5, 8]), rt([4, 3, 2, 2]), rt([6])]],
      ['Gemm', { transB: 1 }, [rt([20, 30]), rt([25, 30]), rt([25])]],
      ['MatMul', {}, [rt([2, 20, 30]), rt([30, 25])]],
    ];
    const acts: [string, number[]][] = [['Relu', []], ['Clip', [-0.2, 0.3]], ['HardSwish', []], ['HardSigmoid', [0.3, 0.4]], ['LeakyRelu', [0.1]]];
    const chains: [string, number[]][][] = [...acts.map((a) => [a]), ...acts.map((a) => [a, ['Affine', [1.5, -0.25]]] as [string, number[]][]), [['Affine', [0.5, 2]]]];
    setWinograd('force');
    try {
      for (const [simdName, simd, fma] of KERNELS) {
        setGemmSimd(simd, fma);
        for (const [op, attrs, inputs] of bases) {
          const ctx = ctxFor(op, attrs, inputs);
          const bias = op === 'MatMul' ? rt([25]) : undefined;
          for (const chain of chains) {
            const { y, applied } = runConvGemmFused(op, ctx, chain, bias);
            expect(applied).toBe(chain.length);
            const ref = convgemmKernels[op]!(ctx)[0]!;
            if (bias) addLastAxis(ref.numbers, bias.numbers);
            for (const [act, params] of chain) applyActivation(ref.numbers, act, params);
            const c = compareTensors(y, ref, 1e-4, 1e-4);
            expect(c.ok, `${op} ${JSON.stringify(chain)} [${simdName}]: ${c.reason}`).toBe(true);
          }
          expect(runConvGemmFused(op, ctx, [['Sigmoid', []]], bias).applied).toBe(0);
          expect(runConvGemmFused(op, ctx, [['Relu', []], ['Tanh', []]], bias).applied).toBe(1);
        }
      }
    } finally { setWinograd('auto'); setGemmSimd(true, true); }
  });
});

describe('pooling vs onnxruntime', () => {
  it('MaxPool (+ Indices, storage_order) and AveragePool (count_include_pad): ceil_mode, dilations, pads, auto_pad', async () => {
    for (let t = 0; t < 30; t++) {
      const rank = pick([1, 2, 2, 3]);
      const kernel = Array.from({ length: rank }, () => ri(1, 3));
      const sp = kernel.map((k) => ri(Math.max(4, 2 * k - 1), rank === 3 ? 7 : 12));
      const avg = t % 2 === 1;
      const attrs = windowAttrs(sp, kernel, { pool: true });
      // onnxruntime's ceil_mode applies with explicit pads only (its SAME/VALID ignore it)
      if (rand() < 0.4 && !attrs['auto_pad']) attrs['ceil_mode'] = 1;
      const dtype: DType = !avg && rand() < 0.2 ? pick(['uint8', 'int8'] as DType[]) : 'float32';
      const x = dtype === 'float32' ? rt([ri(1, 2), ri(1, 3), ...sp]) : rt([ri(1, 2), ri(1, 3), ...sp], dtype, -50, 50);
      if (avg) {
        if (rand() < 0.5) attrs['count_include_pad'] = 1;
        await check({ opType: 'AveragePool', attrs, inputs: [x] }, `[${x.dims}] ${JSON.stringify(attrs)}`, POOL);
      } else {
        const withIdx = x.dtype === 'float32' && rand() < 0.5;
        if (withIdx && rand() < 0.5) attrs['storage_order'] = 1;
        await check({ opType: 'MaxPool', attrs, inputs: [x], outputs: withIdx ? 2 : 1 }, `${x.dtype}[${x.dims}] ${JSON.stringify(attrs)}`, EXACT);
      }
    }
  });

  it('GlobalAveragePool, GlobalMaxPool', async () => {
    for (const dims of [[1, 3, 5, 7], [2, 4, 9], [1, 2, 3, 4, 5], [1, 96, 40, 40]]) {
      await check({ opType: 'GlobalAveragePool', inputs: [rt(dims)] }, `[${dims}]`, POOL);
      await check({ opType: 'GlobalMaxPool', inputs: [rt(dims)] }, `[${dims}]`, EXACT);
    }
  });
});
