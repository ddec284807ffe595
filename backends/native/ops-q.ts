/**
 * CUDA INT8 family (native/src/qconv.cu): twinfer.QConv, QGemm, QMatMul (semantics:
 * src/ir/ops/qfused.ts; CPU reference: backends/cpu/ops/qfused.ts) on __dp4a with int32 accumulation.
 *
 * W, W_scale and B are constants read on the host (hostInputs): the weights are packed here, once
 * per weight tensor (a WeakMap on the initializer), 4 int8 per int32 word along the reduction (Conv:
 * [M][taps][ceil(Cg / 4)], channels of a tap in a word; Gemm / MatMul: [N][ceil(K / 4)]), and each
 * node gets a per-channel table: sc[c] = f32(x_scale * W_scale[c]), bias[c], and the zero-point
 * correction corr[c] = (off - zp) * sum(W[c]) (off = 128 for uint8 activations, packed as xq - 128).
 * Both go to the device through the runner's upload: into buffers of the recorded program, so a
 * replayed run (the default) uploads nothing. Depthwise and other groups of few output channels
 * take the direct kernel on the int8 weights as given.
 */
import type { Node, ValueType } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { forwardGeom, groupAttr, readWindowAttrs } from '../../src/ir/ops/convgemm-geom.js';
import { qBaseNode, qChannelAxis, quantParams } from '../../src/ir/ops/qfused.js';
import type { CudaKernel, CudaKernelContext, CudaKernelRegistry } from './kernel.js';
import { din, outDims } from './kernel.js';
import { convInts, convShape, fusedFn, type Fn } from './lower.js';

/** Largest reduction (elements) whose int32 accumulation cannot overflow: 256 * 128 * 2^16 = 2^31. */
export const Q_MAX_REDUCTION = 65536;
/** Groups with fewer output channels than this take qconvDirect (a 64-channel GEMM tile would idle). */
export const Q_DIRECT_BELOW = 8;

export interface PackedQ {
  /** int32 words, 4 int8 each (byte j = element 4w + j of the reduction; 0 past its end). */
  words: Int32Array;
  /** Sum of each output channel's weights. */
  rowSum: Int32Array;
}

const packCache = new WeakMap<HostTensor, Map<string, PackedQ>>();

function cached(w: HostTensor, key: string, make: () => PackedQ): PackedQ {
  let m = packCache.get(w);
  if (!m) packCache.set(w, (m = new Map()));
  let p = m.get(key);
  if (!p) m.set(key, (p = make()));
  return p;
}

/** Conv weights [M, Cg, k...] -> words [M][taps][ceil(Cg / 4)]. */
export function packConvWeights(w: HostTensor): PackedQ {
  return cached(w, 'conv', () => {
    const M = w.dims[0]!, Cg = w.dims[1]!, taps = w.dims.slice(2).reduce((a, b) => a * b, 1), Cg4 = Math.ceil(Cg / 4);
    const src = w.numbers, words = new Int32Array(M * taps * Cg4), rowSum = new Int32Array(M);
    for (let m = 0; m < M; m++) {
      let sum = 0;
      for (let c = 0; c < Cg; c++) {
        for (let t = 0; t < taps; t++) {
          const v = src[(m * Cg + c) * taps + t]!;
          sum += v;
          words[(m * taps + t) * Cg4 + (c >> 2)]! |= (v & 0xff) << (8 * (c & 3));
        }
      }
      rowSum[m] = sum;
    }
    return { words, rowSum };
  });
}

/** Gemm / MatMul weights ([K, N], or [N, K] with transB) -> words [N][ceil(K / 4)]. */
export function packGemmWeights(w: HostTensor, transB: boolean): PackedQ {
  return cached(w, transB ? 'gemmT' : 'gemm', () => {
    const [K, N] = transB ? [w.dims[1]!, w.dims[0]!] : [w.dims[0]!, w.dims[1]!];
    const K4 = Math.ceil(K / 4), src = w.numbers, words = new Int32Array(N * K4), rowSum = new Int32Array(N);
    for (let n = 0; n < N; n++) {
      let sum = 0;
      for (let k = 0; k < K; k++) {
        const v = src[transB ? n * K + k : k * N + n]!;
        sum += v;
        words[n * K4 + (k >> 2)]! |= (v & 0xff) << (8 * (k & 3));
      }
      rowSum[n] = sum;
    }
    return { words, rowSum };
  });
}

/** The per-channel table of qconv.cu: [sc (float bits), bias (float bits), corr] x channels. */
export function qAux(node: Node, wScale: HostTensor, bias: HostTensor | undefined, rowSum: Int32Array | undefined, channels: number): HostTensor {
  const q = quantParams(node);
  const off = q.qmin < 0 ? 0 : 128;
  const t = new HostTensor('int32', [3 * channels]);
  const ints = t.numbers as Int32Array;
  const floats = new Float32Array(ints.buffer, ints.byteOffset, 2 * channels);
  const ws = wScale.numbers, b = bias?.numbers;
  for (let c = 0; c < channels; c++) {
    floats[c] = Math.fround(q.scale * ws[ws.length === 1 ? 0 : c]!);
    floats[channels + c] = b ? b[c]! : 0;
    ints[2 * channels + c] = rowSum ? (off - q.zeroPoint) * rowSum[c]! : 0;
  }
  return t;
}

function epilogueFns(node: Node): [Fn, Fn] {
  return [fusedFn(node.attrs['activation'], node.attrs['activation_params']), fusedFn(node.attrs['post_activation'], node.attrs['post_activation_params'])];
}

/** ints / floats shared by the three kernels: zp, qmin, qmax and x_scale with the epilogue's parameters. */
function quantLists(ctx: CudaKernelContext): { q: number[]; f: number[]; act: number; post: number; f16: number } {
  const q = quantParams(ctx.node);
  const [act, post] = epilogueFns(ctx.node);
  return {
    q: [q.zeroPoint, q.qmin, q.qmax],
    f: [q.scale, act.a, act.b, post.a, post.b],
    act: ctx.cuda.fn(act.name),
    post: ctx.cuda.fn(post.name),
    f16: ctx.outputTypes[0]!.dtype === 'float16' ? 1 : 0,
  };
}

function commonUnsupported(node: Node, inputs: (ValueType | undefined)[], kernel: string, have: (name: string) => boolean, constant?: (i: number) => HostTensor | undefined): string | undefined {
  if (!have(kernel)) return `the addon has no ${kernel} kernel`;
  const x = inputs[0];
  if (x && x.dtype !== 'float32' && x.dtype !== 'float16') return `${node.opType} on ${x.dtype} (float32 / float16 on CUDA)`;
  if (constant) {
    for (const [i, what] of [[1, 'W'], [2, 'W_scale'], [3, 'B']] as const) {
      if (node.inputs[i] && !constant(i)) return `${node.opType}: ${what} is not a constant`;
    }
  }
  for (const f of epilogueFns(node)) if (!have(f.name)) return `activation ${f.name} is not in the addon's function table`;
  return undefined;
}

function hostIn(ctx: CudaKernelContext, i: number): HostTensor {
  const h = ctx.host(i);
  if (!h) throw new Error(`${ctx.node.opType}: input ${i} must be a constant on the host`);
  return h;
}

const qconv: CudaKernel = {
  hostInputs: [1, 2, 3],
  unsupported(node, inputs, _outputs, have, constant) {
    const why = commonUnsupported(node, inputs, 'qconv', have, constant) ?? (have('qconvDirect') ? undefined : 'the addon has no qconvDirect kernel');
    if (why) return why;
    const r = (inputs[0]?.shape?.length ?? 0) - 2;
    if (r !== 1 && r !== 2) return `QConv over ${r} spatial axes (1 or 2 on CUDA)`;
    const w = inputs[1]?.shape;
    if (w?.every((d) => typeof d === 'number')) {
      const taps = (w as number[]).slice(2).reduce((a, b) => a * b, 1);
      if (Math.ceil((w[1] as number) / 4) * 4 * taps > Q_MAX_REDUCTION) return `QConv reduction beyond ${Q_MAX_REDUCTION} (int32 accumulation)`;
    }
    return undefined;
  },
  run(ctx) {
    const node = ctx.node, base = qBaseNode(node);
    const x = din(ctx, 0), w = hostIn(ctx, 1);
    const dims = outDims(ctx);
    const y = ctx.cuda.alloc(dims, ctx.outputTypes[0]!.dtype);
    if (!y.size) return [y];
    const geom = forwardGeom(readWindowAttrs(base, x.dims.length - 2, w.dims.slice(2)), x.dims.slice(2));
    const c = convShape(x.dims, w.dims, geom, groupAttr(base));
    if (dims[1] !== c.K || dims.slice(2).join() !== geom.outSize.join()) throw new Error(`QConv: output dims [${dims}] disagree with the geometry`);
    const direct = c.K / c.groups < Q_DIRECT_BELOW;
    const packed = direct ? undefined : packConvWeights(w);
    const wDev = ctx.cuda.upload(packed ? new HostTensor('int32', [packed.words.length], packed.words) : w);
    const aux = ctx.cuda.upload(qAux(node, hostIn(ctx, 2), ctx.host(3), packed?.rowSum, c.K));
    const l = quantLists(ctx);
    ctx.cuda.launch(direct ? 'qconvDirect' : 'qconv', [...convInts(c, l.act, l.post), ...l.q, l.f16], l.f, [x, wDev, aux, ctx.inputs[4], y]);
    return [y];
  },
};

const qgemm: CudaKernel = {
  hostInputs: [1, 2, 3],
  unsupported(node, inputs, _outputs, have, constant) {
    const why = commonUnsupported(node, inputs, 'qgemm', have, constant);
    if (why) return why;
    const k = inputs[0]?.shape?.at(-1);
    if (k === 0) return `${node.opType} with an empty reduction`;
    if (typeof k === 'number' && Math.ceil(k / 4) * 4 > Q_MAX_REDUCTION) return `${node.opType} reduction beyond ${Q_MAX_REDUCTION} (int32 accumulation)`;
    return undefined;
  },
  run(ctx) {
    const node = ctx.node;
    const a = din(ctx, 0), w = hostIn(ctx, 1);
    const y = ctx.cuda.alloc(outDims(ctx), ctx.outputTypes[0]!.dtype);
    if (!y.size) return [y];
    const transB = node.opType === 'QGemm' && node.attrs['transB'] === 1;
    const K = a.dims[a.dims.length - 1]!, N = w.dims[qChannelAxis(node)]!;
    const rows = a.size / K;
    const packed = packGemmWeights(w, transB);
    const wDev = ctx.cuda.upload(new HostTensor('int32', [packed.words.length], packed.words));
    const aux = ctx.cuda.upload(qAux(node, hostIn(ctx, 2), ctx.host(3), packed.rowSum, N));
    const l = quantLists(ctx);
    ctx.cuda.launch('qgemm', [rows, N, K, l.act, l.post, ...l.q, l.f16], l.f, [a, wDev, aux, ctx.inputs[4], y]);
    return [y];
  },
};

export const Q_KERNELS: CudaKernelRegistry = {
  'twinfer.QConv': qconv,
  'twinfer.QGemm': qgemm,
  'twinfer.QMatMul': qgemm,
};
