/**
 * Host-side preparation of the int8 weights of twinfer.QConv / QGemm / QMatMul for WebGPU, done once
 * per weight tensor and kept on the GPU for the session (cached by the host tensor, like the
 * Winograd weights): W packed 4 int8 per u32 (little-endian bytes, the operand layout of WGSL's
 * dot4I8Packed), one row per output channel, the reduction axis padded with zero bytes; plus one
 * aux array per row of [x_scale * W_scale[m] as f32 bits, sum of W[m, ...] as i32].
 *
 * Row sums let the kernels work on s = xq - off (off = 0 for int8, 128 for uint8, so s fits in a
 * signed byte) and correct afterwards:  sum (xq - zp) W = sum s W + (off - zp) * sum W.  Padding
 * taps hold s = zp - off, so that they add exactly 0, as the semantics ask.
 *
 * Reduction order (k words): Conv  k = (tap, c) with c padded to Cg4 = ceil(Cg / 4) words, so
 * 4 channels of one input pixel are one word of the channel-packed activations (qfused-quantize.ts);
 * Gemm / MatMul  k = 0..K-1 in order. Words per row are padded to a multiple of the K block.
 */
import type { HostTensor } from '../../../src/ir/tensor.js';
import { f32Bits } from '../program.js';
import { GpuTensor } from '../tensor.js';

export interface PackedWeights {
  /** [rows, K4p] u32. */
  w: GpuTensor;
  /** [2 * rows] u32: multiplier bits then row sums. */
  aux: GpuTensor;
  rows: number;
  /** Words per row holding data, and the padded row length. */
  K4: number;
  K4p: number;
}

const cache = new WeakMap<HostTensor, Map<string, PackedWeights>>();

function upload(device: GPUDevice, data: Uint32Array, dims: number[]): GpuTensor {
  const size = Math.max(16, data.byteLength);
  const buf = device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, mappedAtCreation: true });
  new Uint32Array(buf.getMappedRange()).set(data);
  buf.unmap();
  return new GpuTensor(buf, 'uint32', dims);
}

/** Per-row multipliers: float32(x_scale * W_scale[m]) (W_scale of one element applies to every row). */
function multipliers(rows: number, xScale: number, wScale: HostTensor): Float32Array {
  const ws = wScale.numbers;
  if (ws.length !== 1 && ws.length !== rows) throw new Error(`W_scale has ${ws.length} elements, expected 1 or ${rows}`);
  const out = new Float32Array(rows);
  for (let m = 0; m < rows; m++) out[m] = Math.fround(xScale * ws[ws.length === 1 ? 0 : m]!);
  return out;
}

function finish(device: GPUDevice, packed: Uint32Array, sums: Int32Array, mult: Float32Array, rows: number, K4: number, K4p: number): PackedWeights {
  const aux = new Uint32Array(2 * rows);
  for (let m = 0; m < rows; m++) { aux[m] = f32Bits(mult[m]!); aux[rows + m] = sums[m]! >>> 0; }
  return { w: upload(device, packed, [rows, K4p]), aux: upload(device, aux, [2 * rows]), rows, K4, K4p };
}

function cached(w: HostTensor, key: string, make: () => PackedWeights): PackedWeights {
  let m = cache.get(w);
  if (!m) { m = new Map(); cache.set(w, m); }
  let p = m.get(key);
  if (!p) { p = make(); m.set(key, p); }
  return p;
}

const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;

/** Conv W [M, Cg, ...kernel] -> rows m, words (tap, channel word). */
export function packConvWeights(device: GPUDevice, w: HostTensor, wScale: HostTensor, xScale: number, tkw: number): PackedWeights {
  return cached(w, `conv:${tkw}:${xScale}:${wScale.numbers.join(',')}`, () => {
    const [M, Cg] = w.dims as [number, number];
    const KS = w.dims.slice(2).reduce((p, x) => p * x, 1);
    const Cg4 = Math.ceil(Cg / 4), K4 = KS * Cg4, K4p = roundUp(K4, tkw);
    const d = w.numbers;
    const packed = new Uint32Array(M * K4p);
    const sums = new Int32Array(M);
    for (let m = 0; m < M; m++) {
      let s = 0;
      for (let c = 0; c < Cg; c++) {
        for (let tap = 0; tap < KS; tap++) {
          const v = d[(m * Cg + c) * KS + tap]!;
          s += v;
          const word = m * K4p + tap * Cg4 + (c >> 2);
          packed[word] = (packed[word]! | ((v & 0xff) << ((c & 3) * 8))) >>> 0;
        }
      }
      sums[m] = s;
    }
    return finish(device, packed, sums, multipliers(M, xScale, wScale), M, K4, K4p);
  });
}

/** Gemm / MatMul B: [K, N] (or [N, K] when transB) -> rows n, words k/4. */
export function packGemmWeights(device: GPUDevice, w: HostTensor, transB: boolean, wScale: HostTensor, xScale: number, tkw: number): PackedWeights {
  return cached(w, `gemm:${transB ? 'T' : 'N'}:${tkw}:${xScale}:${wScale.numbers.join(',')}`, () => {
    const [d0, d1] = w.dims as [number, number];
    const K = transB ? d1 : d0, N = transB ? d0 : d1;
    const K4 = Math.ceil(K / 4), K4p = roundUp(K4, tkw);
    const d = w.numbers;
    const packed = new Uint32Array(N * K4p);
    const sums = new Int32Array(N);
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const v = d[transB ? n * K + k : k * N + n]!;
        s += v;
        const word = n * K4p + (k >> 2);
        packed[word] = (packed[word]! | ((v & 0xff) << ((k & 3) * 8))) >>> 0;
      }
      sums[n] = s;
    }
    return finish(device, packed, sums, multipliers(N, xScale, wScale), N, K4, K4p);
  });
}

/** Depthwise W [M, 1, kh, kw] as i32 (one weight per element: the direct kernel needs no packing). */
export function depthwiseWeights(device: GPUDevice, w: HostTensor, wScale: HostTensor, xScale: number): { w: GpuTensor; aux: GpuTensor } {
  const p = cached(w, `dw:${xScale}:${wScale.numbers.join(',')}`, () => {
    const M = w.dims[0]!;
    const d = w.numbers;
    const words = Uint32Array.from(d, (v) => v >>> 0);
    const sums = new Int32Array(M);
    const KS = d.length / M;
    for (let m = 0; m < M; m++) for (let k = 0; k < KS; k++) sums[m] += d[m * KS + k]!;
    return finish(device, words, sums, multipliers(M, xScale, wScale), M, KS, KS);
  });
  return { w: p.w, aux: p.aux };
}
