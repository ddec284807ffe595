/**
 * Data-movement kernels of the family: Pad, DepthToSpace, SpaceToDepth. They copy elements and never
 * look at values, so they work on every storage kind (typed arrays and string[]).
 */
import { attrInt, attrString } from '../../src/ir/graph.js';
import type { TensorStorage } from '../../src/ir/dtype.js';
import type { HostTensor } from '../../src/ir/tensor.js';
import { fullPads } from '../../src/ir/ops/normalization-pad.js';
import { input, type KernelContext } from './kernel.js';
import { newOutput } from './normalization-norms.js';

type Outs = (HostTensor | undefined)[];
// Element access shared by typed arrays and string[] (data movement never inspects values).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Store = { [i: number]: any; length: number };

/** dst[d0 .. d0+n) = src[s0 .. s0+n). */
function copyRun(dst: TensorStorage, d0: number, src: TensorStorage, s0: number, n: number): void {
  if (n <= 0) return;
  if (Array.isArray(dst)) {
    for (let k = 0; k < n; k++) dst[d0 + k] = (src as string[])[s0 + k]!;
  } else if (n > 16) {
    (dst as Float32Array).set((src as Float32Array).subarray(s0, s0 + n), d0);
  } else {
    for (let k = 0; k < n; k++) dst[d0 + k] = (src as Float32Array)[s0 + k]!;
  }
}

// ---------------------------------------------------------------- Pad

/**
 * Source index along one axis for each output index, or -1 where constant mode fills. Negative pads
 * crop first and the remaining window [lo, lo+m) is then padded (onnxruntime's semantics): reflect,
 * edge and wrap mirror/clamp/wrap inside that window. Reflect repeats like numpy's for pads >= m.
 */
function axisMap(mode: string, n: number, begin: number, end: number, out: number): Int32Array {
  const lo = Math.max(0, -begin);
  const m = n - lo - Math.max(0, -end);
  const pb = Math.max(0, begin);
  const map = new Int32Array(out);
  for (let o = 0; o < out; o++) {
    let p = o - pb;
    if (p < 0 || p >= m) {
      if (mode === 'constant') { map[o] = -1; continue; }
      if (m <= 0) throw new Error(`Pad: ${mode} mode cannot pad an axis cropped to nothing`);
      if (mode === 'edge') p = p < 0 ? 0 : m - 1;
      else if (mode === 'wrap') p = ((p % m) + m) % m;
      else if (m === 1) p = 0;
      else {
        const period = 2 * (m - 1);
        p = ((p % period) + period) % period;
        if (p >= m) p = period - p;
      }
    }
    map[o] = lo + p;
  }
  return map;
}

export function pad(ctx: KernelContext): Outs {
  const x = input(ctx, 0);
  const r = x.rank;
  const mode = attrString(ctx.node, 'mode', 'constant');
  const pads = fullPads(r, input(ctx, 1).toNumberArray(), ctx.inputs[3]?.toNumberArray());
  const y = newOutput(ctx);
  const cv = ctx.inputs[2];
  if (cv && cv.size > 0 && mode === 'constant') {
    const v = Array.isArray(y.data) ? String(cv.data[0]) : Number(cv.data[0]);
    (y.data as unknown as { fill(v: unknown): void }).fill(v);
  }
  if (y.size === 0) return [y];
  if (r === 0) { copyRun(y.data, 0, x.data, 0, 1); return [y]; }
  const od = y.dims;
  const maps = x.dims.map((n, a) => axisMap(mode, n, pads[a]!, pads[r + a]!, od[a]!));
  const inStr = new Array<number>(r);
  let acc = 1;
  for (let a = r - 1; a >= 0; a--) { inStr[a] = acc; acc *= x.dims[a]!; }
  const last = r - 1;
  const lastMap = maps[last]!;
  const rowLen = od[last]!;
  // Contiguous part of the last axis: output [b, b+len) reads input [lo, lo+len).
  const b = Math.max(0, pads[last]!);
  const lo = Math.max(0, -pads[last]!);
  const len = Math.max(0, Math.min(rowLen - b, x.dims[last]! - lo - Math.max(0, -pads[r + last]!)));
  const xs = x.data as TensorStorage;
  const ys = y.data as TensorStorage & Store;
  const rows = y.size / rowLen;
  const idx = new Array<number>(r).fill(0);
  for (let rw = 0; rw < rows; rw++) {
    let src = 0;
    let valid = true;
    for (let a = 0; a < last; a++) {
      const s = maps[a]![idx[a]!]!;
      if (s < 0) { valid = false; break; }
      src += s * inStr[a]!;
    }
    const o = rw * rowLen;
    if (valid) {
      copyRun(ys, o + b, xs, src + lo, len);
      if (mode !== 'constant') {
        // Only the borders go through the index map; the middle is the contiguous copy above.
        for (let k = 0; k < b; k++) ys[o + k] = (xs as Store)[src + lastMap[k]!];
        for (let k = b + len; k < rowLen; k++) ys[o + k] = (xs as Store)[src + lastMap[k]!];
      }
    }
    for (let a = last - 1; a >= 0; a--) {
      if (++idx[a]! < od[a]!) break;
      idx[a] = 0;
    }
  }
  return [y];
}

// ---------------------------------------------------------------- DepthToSpace / SpaceToDepth

export function depthToSpace(ctx: KernelContext): Outs {
  const x = input(ctx, 0);
  const bs = attrInt(ctx.node, 'blocksize', 1);
  const crd = attrString(ctx.node, 'mode', 'DCR') === 'CRD';
  const [n, c, h, w] = x.dims as [number, number, number, number];
  const oc = c / (bs * bs);
  const y = newOutput(ctx);
  const xs = x.data as Store;
  const ys = y.data as Store;
  const hw = h * w;
  const ow = w * bs;
  let o = 0;
  // y[b, ch, hh*bs + i, ww*bs + j] = x[b, DCR ? (i*bs + j)*oc + ch : ch*bs*bs + i*bs + j, hh, ww]
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < oc; ch++) {
      for (let hh = 0; hh < h; hh++) {
        for (let i = 0; i < bs; i++) {
          for (let ww = 0; ww < w; ww++) {
            for (let j = 0; j < bs; j++) {
              const ic = crd ? ch * bs * bs + i * bs + j : (i * bs + j) * oc + ch;
              ys[o + ww * bs + j] = xs[(b * c + ic) * hw + hh * w + ww];
            }
          }
          o += ow;
        }
      }
    }
  }
  return [y];
}

export function spaceToDepth(ctx: KernelContext): Outs {
  const x = input(ctx, 0);
  const bs = attrInt(ctx.node, 'blocksize', 1);
  const [n, c, h, w] = x.dims as [number, number, number, number];
  const oh = h / bs;
  const ow = w / bs;
  const oc = c * bs * bs;
  const y = newOutput(ctx);
  const xs = x.data as Store;
  const ys = y.data as Store;
  // y[b, (i*bs + j)*c + ch, hh, ww] = x[b, ch, hh*bs + i, ww*bs + j]
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < bs; i++) {
      for (let j = 0; j < bs; j++) {
        for (let ch = 0; ch < c; ch++) {
          const dst = (b * oc + (i * bs + j) * c + ch) * oh * ow;
          const srcC = (b * c + ch) * h * w;
          for (let hh = 0; hh < oh; hh++) {
            const s = srcC + (hh * bs + i) * w + j;
            const d = dst + hh * ow;
            for (let ww = 0; ww < ow; ww++) ys[d + ww] = xs[s + ww * bs];
          }
        }
      }
    }
  }
  return [y];
}
