/**
 * Pooling kernels: MaxPool (with optional Indices), AveragePool, GlobalAveragePool, GlobalMaxPool.
 * Windows are walked per axis through precomputed tap ranges (the taps that land inside the
 * input), so the inner loops carry no bounds checks; dilations and ceil_mode fall out of that.
 */
import type { NumericArray } from '../../src/ir/dtype.js';
import type { Geom3 } from './convgemm-conv.js';

/** For each output index o on one axis: the first and past-last kernel tap inside [lo, hi). */
function tapRanges(out: number, s: number, p: number, k: number, d: number, lo: number, hi: number): Int32Array {
  const r = new Int32Array(out * 2);
  for (let o = 0; o < out; o++) {
    const start = o * s - p; // input position of tap 0
    const k0 = Math.max(0, Math.ceil((lo - start) / d));
    const k1 = Math.min(k, Math.floor((hi - 1 - start) / d) + 1);
    r[2 * o] = k0;
    r[2 * o + 1] = Math.max(k0, k1);
  }
  return r;
}

export interface PoolArgs {
  x: NumericArray;
  y: NumericArray;
  /** N * C planes. */
  planes: number;
  g: Geom3;
}

/** Float32 2-D (or 1-D) pooling without dilation: the common case, in a tight loop. */
function fastPool(a: PoolArgs): boolean {
  const { g } = a;
  return a.x instanceof Float32Array && a.y instanceof Float32Array && g.id === 1 && g.od === 1 && g.kd === 1
    && g.dh === 1 && g.dw === 1;
}

/** Window [start, end) on one axis clipped to [lo, hi), per output index. */
function windows(out: number, s: number, p: number, k: number, lo: number, hi: number): Int32Array {
  const r = new Int32Array(out * 2);
  for (let o = 0; o < out; o++) {
    const b = o * s - p;
    r[2 * o] = Math.max(lo, b);
    r[2 * o + 1] = Math.max(Math.max(lo, b), Math.min(hi, b + k));
  }
  return r;
}

function maxPool2dF32(x: Float32Array, y: Float32Array, planes: number, g: Geom3): void {
  const { ih, iw, oh, ow } = g;
  const wy = windows(oh, g.sh, g.ph, g.kh, 0, ih), wx = windows(ow, g.sw, g.pw, g.kw, 0, iw);
  let o = 0;
  for (let pl = 0; pl < planes; pl++) {
    const base = pl * ih * iw;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = wy[2 * oy]!, y1 = wy[2 * oy + 1]!;
      for (let ox = 0; ox < ow; ox++, o++) {
        const x0 = wx[2 * ox]!, x1 = wx[2 * ox + 1]!;
        let best = -Infinity;
        for (let iy = y0; iy < y1; iy++) {
          const row = base + iy * iw;
          for (let ix = x0; ix < x1; ix++) { const v = x[row + ix]!; best = v > best ? v : best; }
        }
        y[o] = best;
      }
    }
  }
}

function avgPool2dF32(x: Float32Array, y: Float32Array, planes: number, g: Geom3, countIncludePad: boolean): void {
  const { ih, iw, oh, ow } = g;
  const wy = windows(oh, g.sh, g.ph, g.kh, 0, ih), wx = windows(ow, g.sw, g.pw, g.kw, 0, iw);
  // count_include_pad: the window clipped to the padded input (ceil_mode overhang excluded)
  const cy = windows(oh, g.sh, g.ph, g.kh, -g.ph, ih + g.qh), cx = windows(ow, g.sw, g.pw, g.kw, -g.pw, iw + g.qw);
  const ny = countIncludePad ? cy : wy, nx = countIncludePad ? cx : wx;
  let o = 0;
  for (let pl = 0; pl < planes; pl++) {
    const base = pl * ih * iw;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = wy[2 * oy]!, y1 = wy[2 * oy + 1]!, hy = ny[2 * oy + 1]! - ny[2 * oy]!;
      for (let ox = 0; ox < ow; ox++, o++) {
        const x0 = wx[2 * ox]!, x1 = wx[2 * ox + 1]!;
        let s = 0;
        for (let iy = y0; iy < y1; iy++) {
          const row = base + iy * iw;
          for (let ix = x0; ix < x1; ix++) s += x[row + ix]!;
        }
        const count = hy * (nx[2 * ox + 1]! - nx[2 * ox]!);
        y[o] = count > 0 ? s / count : NaN;
      }
    }
  }
}

export function maxPool(a: PoolArgs, indices: Float64Array | undefined, storageOrder: number, spatialRank: number): void {
  if (!indices && fastPool(a)) { maxPool2dF32(a.x as Float32Array, a.y as Float32Array, a.planes, a.g); return; }
  const { x, y, planes, g } = a;
  const IS = g.id * g.ih * g.iw;
  const rz = tapRanges(g.od, g.sd, g.pd, g.kd, g.dd, 0, g.id);
  const ry = tapRanges(g.oh, g.sh, g.ph, g.kh, g.dh, 0, g.ih);
  const rx = tapRanges(g.ow, g.sw, g.pw, g.kw, g.dw, 0, g.iw);
  // Column-major indices (storage_order 1) reverse the order of the spatial axes' strides.
  const dims = [g.id, g.ih, g.iw].slice(3 - spatialRank);
  const cm = [1, 1, 1];
  if (storageOrder === 1) {
    let acc = 1;
    for (let i = 0; i < spatialRank; i++) { cm[3 - spatialRank + i] = acc; acc *= dims[i]!; }
  }
  let o = 0;
  for (let pl = 0; pl < planes; pl++) {
    const base = pl * IS;
    for (let oz = 0; oz < g.od; oz++) {
      const z0 = oz * g.sd - g.pd;
      for (let oy = 0; oy < g.oh; oy++) {
        const y0 = oy * g.sh - g.ph;
        for (let ox = 0; ox < g.ow; ox++, o++) {
          const x0 = ox * g.sw - g.pw;
          let best = -Infinity, bi = -1;
          for (let kz = rz[2 * oz]!; kz < rz[2 * oz + 1]!; kz++) {
            const iz = z0 + kz * g.dd;
            for (let ky = ry[2 * oy]!; ky < ry[2 * oy + 1]!; ky++) {
              const iy = y0 + ky * g.dh;
              const row = base + (iz * g.ih + iy) * g.iw;
              for (let kx = rx[2 * ox]!; kx < rx[2 * ox + 1]!; kx++) {
                const ix = x0 + kx * g.dw;
                const v = x[row + ix]!;
                if (v > best || bi < 0) { best = v; bi = row + ix; }
              }
            }
          }
          y[o] = best;
          if (indices) {
            if (storageOrder === 0 || bi < 0) indices[o] = bi;
            else {
              const r = bi - base;
              const iz = Math.floor(r / (g.ih * g.iw)), iy = Math.floor(r / g.iw) % g.ih, ix = r % g.iw;
              indices[o] = base + iz * cm[0]! + iy * cm[1]! + ix * cm[2]!;
            }
          }
        }
      }
    }
  }
}

export function averagePool(a: PoolArgs, countIncludePad: boolean): void {
  if (fastPool(a)) { avgPool2dF32(a.x as Float32Array, a.y as Float32Array, a.planes, a.g, countIncludePad); return; }
  const { x, y, planes, g } = a;
  const IS = g.id * g.ih * g.iw;
  const rz = tapRanges(g.od, g.sd, g.pd, g.kd, g.dd, 0, g.id);
  const ry = tapRanges(g.oh, g.sh, g.ph, g.kh, g.dh, 0, g.ih);
  const rx = tapRanges(g.ow, g.sw, g.pw, g.kw, g.dw, 0, g.iw);
  // count_include_pad counts taps inside the padded input (pads included, ceil_mode overhang not).
  const cz = tapRanges(g.od, g.sd, g.pd, g.kd, g.dd, -g.pd, g.id + g.qd);
  const cy = tapRanges(g.oh, g.sh, g.ph, g.kh, g.dh, -g.ph, g.ih + g.qh);
  const cx = tapRanges(g.ow, g.sw, g.pw, g.kw, g.dw, -g.pw, g.iw + g.qw);
  let o = 0;
  for (let pl = 0; pl < planes; pl++) {
    const base = pl * IS;
    for (let oz = 0; oz < g.od; oz++) {
      const z0 = oz * g.sd - g.pd;
      for (let oy = 0; oy < g.oh; oy++) {
        const y0 = oy * g.sh - g.ph;
        for (let ox = 0; ox < g.ow; ox++, o++) {
          const x0 = ox * g.sw - g.pw;
          let s = 0;
          for (let kz = rz[2 * oz]!; kz < rz[2 * oz + 1]!; kz++) {
            const iz = z0 + kz * g.dd;
            for (let ky = ry[2 * oy]!; ky < ry[2 * oy + 1]!; ky++) {
              const row = base + (iz * g.ih + y0 + ky * g.dh) * g.iw + x0;
              for (let kx = rx[2 * ox]!; kx < rx[2 * ox + 1]!; kx++) s += x[row + kx * g.dw]!;
            }
          }
          const count = countIncludePad
            ? (cz[2 * oz + 1]! - cz[2 * oz]!) * (cy[2 * oy + 1]! - cy[2 * oy]!) * (cx[2 * ox + 1]! - cx[2 * ox]!)
            : (rz[2 * oz + 1]! - rz[2 * oz]!) * (ry[2 * oy + 1]! - ry[2 * oy]!) * (rx[2 * ox + 1]! - rx[2 * ox]!);
          y[o] = count > 0 ? s / count : NaN;
        }
      }
    }
  }
}

/** Global pools over the S spatial elements of each of `planes` planes. */
export function globalPool(x: NumericArray, y: NumericArray, planes: number, S: number, isMax: boolean): void {
  // float32 gets its own copy of the loop: one element type keeps its loads monomorphic
  if (x instanceof Float32Array && !isMax) { globalAvgF32(x, y, planes, S); return; }
  globalPoolAny(x, y, planes, S, isMax);
}

function globalAvgF32(x: Float32Array, y: NumericArray, planes: number, S: number): void {
  for (let p = 0; p < planes; p++) {
    const b = p * S, e = b + S, e4 = b + (S & ~3);
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = b;
    for (; i < e4; i += 4) { s0 += x[i]!; s1 += x[i + 1]!; s2 += x[i + 2]!; s3 += x[i + 3]!; }
    for (; i < e; i++) s0 += x[i]!;
    y[p] = (s0 + s1 + s2 + s3) / S;
  }
}

/** 4 partial results per plane for instruction-level parallelism. */
function globalPoolAny(x: NumericArray, y: NumericArray, planes: number, S: number, isMax: boolean): void {
  for (let p = 0; p < planes; p++) {
    const b = p * S, e = b + S, e4 = b + (S & ~3);
    let i = b;
    if (isMax) {
      let m0 = -Infinity, m1 = -Infinity, m2 = -Infinity, m3 = -Infinity, nan = false;
      for (; i < e4; i += 4) {
        const v0 = x[i]!, v1 = x[i + 1]!, v2 = x[i + 2]!, v3 = x[i + 3]!;
        if (v0 > m0) m0 = v0; if (v1 > m1) m1 = v1; if (v2 > m2) m2 = v2; if (v3 > m3) m3 = v3;
        if (v0 !== v0 || v1 !== v1 || v2 !== v2 || v3 !== v3) nan = true;
      }
      for (; i < e; i++) { const v = x[i]!; if (v > m0) m0 = v; if (v !== v) nan = true; }
      y[p] = nan ? NaN : Math.max(m0, m1, m2, m3);
    } else {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (; i < e4; i += 4) { s0 += x[i]!; s1 += x[i + 1]!; s2 += x[i + 2]!; s3 += x[i + 3]!; }
      for (; i < e; i++) s0 += x[i]!;
      y[p] = (s0 + s1 + s2 + s3) / S;
    }
  }
}
