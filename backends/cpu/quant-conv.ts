/**
 * Integer convolution (ConvInteger, QLinearConv): im2col of (x - x_zero_point) into int16 columns,
 * then the integer GEMM of quant-gemm.ts against (w - w_zero_point), per image and group, with
 * int32 accumulation. Padding contributes zero after the zero point is subtracted, i.e. the input is
 * padded with its zero point, as the ONNX reference and onnxruntime do. N-d (1-D, 2-D, 3-D...).
 * Columns are built in chunks of output rows so the scratch stays small on large feature maps.
 */
import type { NumericArray } from '../../src/ir/dtype.js';
import type { ConvGeometry } from '../../src/ir/ops/quant-shapes.js';
import { stridesOf } from '../../src/ir/tensor.js';
import { igemm } from './quant-gemm.js';

/** Upper bound (elements) of one im2col chunk: 2 MiB of int16. */
const COL_BUDGET = 1 << 20;

export interface IntConvProblem {
  x: NumericArray;
  /** [N, C, spatial...] */
  xDims: readonly number[];
  xZero: number;
  w: NumericArray;
  /** [M, C/group, kernel...] */
  wDims: readonly number[];
  /** One zero point for all output channels (length 1) or one per output channel (length M). */
  wZero: ArrayLike<number> | undefined;
  /** [N, M, outSpatial...] from shape inference. */
  outDims: readonly number[];
  geom: ConvGeometry;
  bias?: ArrayLike<number>;
}

/**
 * Runs the convolution and hands each image's int32 result ([M, P], P = output spatial size) to
 * `emit(n, acc)`; `acc` is reused between images. Returns nothing: the caller stores or requantizes.
 */
export function intConv(p: IntConvProblem, emit: (n: number, acc: Int32Array) => void): void {
  const { xDims, wDims, outDims, geom } = p;
  const N = xDims[0]!, C = xDims[1]!, M = wDims[0]!, G = geom.group;
  const Cg = C / G, Mg = M / G;
  const nsp = xDims.length - 2;
  const inSp = xDims.slice(2), outSp = outDims.slice(2);
  const kSize = geom.kernel.reduce((s, k) => s * k, 1);
  const Kg = Cg * kSize;
  const P = outSp.reduce((s, d) => s * d, 1);
  const inImg = inSp.reduce((s, d) => s * d, 1);

  // Weights with their zero point subtracted, [M, Kg] row-major (the layout w already has).
  const wq = new Int16Array(M * Kg);
  const wz = p.wZero;
  if (wz && wz.length !== 1 && wz.length !== M) throw new Error(`w_zero_point has ${wz.length} elements, expected 1 or ${M}`);
  for (let m = 0; m < M; m++) {
    const z = wz ? (wz.length === 1 ? wz[0]! : wz[m]!) : 0;
    const o = m * Kg;
    for (let k = 0; k < Kg; k++) wq[o + k] = p.w[o + k]! - z;
  }
  if (p.bias && p.bias.length !== M) throw new Error(`B has ${p.bias.length} elements, expected ${M}`);

  const lastOut = outSp[nsp - 1]!;
  const outerCount = P / lastOut;
  const qChunk = Math.max(1, Math.min(outerCount, Math.floor(COL_BUDGET / Math.max(1, Kg * lastOut))));
  const col = new Int16Array(Cg === 1 && nsp <= 2 ? 0 : Kg * qChunk * lastOut);
  const acc = new Int32Array(M * P);
  const cfg: Im2colCfg = {
    Cg, inSp, inImg, kernel: geom.kernel, strides: geom.strides, dilations: geom.dilations,
    padsBegin: geom.pads.slice(0, nsp), outSp, kSize,
    inStrides: stridesOf(inSp), kIdx: new Array<number>(nsp).fill(0), oIdx: new Array<number>(nsp).fill(0),
  };

  // Depthwise-like (one input channel per group) 1-D / 2-D convs: direct row updates beat im2col,
  // whose GEMM would have a K of only kh * kw.
  const direct = Cg === 1 && nsp <= 2;
  const img = direct ? new Int16Array(inImg) : col;

  for (let n = 0; n < N; n++) {
    if (p.bias) for (let m = 0; m < M; m++) acc.fill(p.bias[m]!, m * P, (m + 1) * P);
    else acc.fill(0);
    if (direct) {
      for (let g = 0; g < G; g++) {
        const xOff = (n * C + g) * inImg;
        for (let i = 0; i < inImg; i++) img[i] = p.x[xOff + i]! - p.xZero;
        for (let m = g * Mg; m < (g + 1) * Mg; m++) directConv(img, wq, m * Kg, acc, m * P, cfg);
      }
      emit(n, acc);
      continue;
    }
    for (let g = 0; g < G; g++) {
      const xOff = (n * C + g * Cg) * inImg;
      for (let q0 = 0; q0 < outerCount; q0 += qChunk) {
        const q1 = Math.min(outerCount, q0 + qChunk);
        const L = (q1 - q0) * lastOut;
        im2col(p.x, xOff, p.xZero, cfg, q0, q1, col);
        igemm(Mg, L, Kg, wq, g * Mg * Kg, col, 0, L, acc, g * Mg * P + q0 * lastOut, P);
      }
    }
    emit(n, acc);
  }
}

interface Im2colCfg {
  Cg: number; inSp: readonly number[]; inImg: number; inStrides: number[];
  kernel: readonly number[]; strides: readonly number[]; dilations: readonly number[];
  padsBegin: readonly number[]; outSp: readonly number[]; kSize: number;
  /** Scratch multi-indices (kernel position, outer output position), reused across calls. */
  kIdx: number[]; oIdx: number[];
}

/**
 * col[r, j] for r = (c, kernel position) and j over the output positions whose outer flat index
 * (all spatial dims but the last) is in [q0, q1) times the last output dim: x - zero, or 0 in padding.
 */
function im2col(x: NumericArray, xOff: number, zero: number, cfg: Im2colCfg, q0: number, q1: number, col: Int16Array): void {
  const { Cg, inSp, inImg, inStrides, kernel, strides, dilations, padsBegin, outSp, kSize, kIdx, oIdx } = cfg;
  const nsp = inSp.length, last = nsp - 1;
  const OL = outSp[last]!, IL = inSp[last]!, sL = strides[last]!;
  const L = (q1 - q0) * OL;
  let r = 0;
  for (let c = 0; c < Cg; c++) {
    const cBase = xOff + c * inImg;
    kIdx.fill(0);
    for (let kp = 0; kp < kSize; kp++, r++) {
      const kOffL = kIdx[last]! * dilations[last]! - padsBegin[last]!;
      // Output columns of the last dim whose input column lies inside the image.
      const jStart = Math.min(OL, Math.max(0, Math.ceil(-kOffL / sL)));
      const jEnd = Math.max(jStart, Math.min(OL, Math.floor((IL - 1 - kOffL) / sL) + 1));
      let dst = r * L;
      // Outer output position multi-index for q0.
      let rem = q0;
      for (let d = last - 1; d >= 0; d--) { oIdx[d] = rem % outSp[d]!; rem = Math.floor(rem / outSp[d]!); }
      for (let q = q0; q < q1; q++) {
        let base = cBase;
        let inside = true;
        for (let d = 0; d < last; d++) {
          const i = oIdx[d]! * strides[d]! + kIdx[d]! * dilations[d]! - padsBegin[d]!;
          if (i < 0 || i >= inSp[d]!) { inside = false; break; }
          base += i * inStrides[d]!;
        }
        if (!inside) {
          col.fill(0, dst, dst + OL);
        } else {
          if (jStart > 0) col.fill(0, dst, dst + jStart);
          let src = base + jStart * sL + kOffL;
          for (let j = jStart; j < jEnd; j++, src += sL) col[dst + j] = x[src]! - zero;
          if (jEnd < OL) col.fill(0, dst + jEnd, dst + OL);
        }
        dst += OL;
        for (let d = last - 1; d >= 0; d--) { if (++oIdx[d] < outSp[d]!) break; oIdx[d] = 0; }
      }
      for (let d = last; d >= 0; d--) { if (++kIdx[d] < kernel[d]!) break; kIdx[d] = 0; }
    }
  }
}

/**
 * acc[accOff + output position] += sum over kernel positions of w * img (one centered input
 * channel, 1-D or 2-D; a 1-D conv is a 2-D one of height 1), row by row over the valid range.
 */
function directConv(img: Int16Array, w: Int16Array, wOff: number, acc: Int32Array, accOff: number, cfg: Im2colCfg): void {
  const two = cfg.inSp.length === 2;
  const IH = two ? cfg.inSp[0]! : 1, IW = cfg.inSp[two ? 1 : 0]!;
  const OH = two ? cfg.outSp[0]! : 1, OW = cfg.outSp[two ? 1 : 0]!;
  const KH = two ? cfg.kernel[0]! : 1, KW = cfg.kernel[two ? 1 : 0]!;
  const sh = two ? cfg.strides[0]! : 1, sw = cfg.strides[two ? 1 : 0]!;
  const dh = two ? cfg.dilations[0]! : 1, dw = cfg.dilations[two ? 1 : 0]!;
  const ph = two ? cfg.padsBegin[0]! : 0, pw = cfg.padsBegin[two ? 1 : 0]!;
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      const wv = w[wOff + kh * KW + kw]!;
      if (wv === 0) continue;
      const kOff = kw * dw - pw;
      const j0 = Math.min(OW, Math.max(0, Math.ceil(-kOff / sw)));
      const j1 = Math.max(j0, Math.min(OW, Math.floor((IW - 1 - kOff) / sw) + 1));
      for (let oh = 0; oh < OH; oh++) {
        const ih = oh * sh + kh * dh - ph;
        if (ih < 0 || ih >= IH) continue;
        const dst = accOff + oh * OW;
        let src = ih * IW + j0 * sw + kOff;
        for (let j = j0; j < j1; j++, src += sw) acc[dst + j] += wv * img[src]!;
      }
    }
  }
}
