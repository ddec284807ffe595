// Normalization family on float types (float32, float16 / bfloat16 stored as f32, float64 computed
// in f32): softmax, row normalizations, BatchNormalization, LRN, pooling, Resize and the linear
// quantizers.
//
//   softmax    ints [outer, axisDim, inner, mode, xType]                                     ptrs [x, y]
//   norm       ints [rows, L, xType, rm, rs, jd, jm, js, statsType]    floats [eps]           ptrs [x, scale?, bias?, y, mean?, invStd?]
//   batchnorm  ints [n, C, inner, xType, pType]                        floats [eps]           ptrs [x, scale, B, mean, var, y]
//   lrn        ints [N, C, inner, size, xType]                         floats [alpha, beta, bias]  ptrs [x, y]
//   pool       ints [planes, mode, countIncludePad, storageOrder, xType, then per axis of 3 (front-padded with 1 / 0):
//                    in, out, kernel, stride, padBegin, padEnd, dilation]                     ptrs [x, y, indices? (int64)]
//   resize     ints [n, rank, xType, then per axis: outStride, inStride, taps, tableOffset]   floats [extrapolation]
//                                                                                           ptrs [x, idx (int32), w (f32), y]
//   quantize   ints [n, axisDim, inner, xType, yType, block, axisLen]                        ptrs [x, scale, zeroPoint?, y]
//   dequantize ints [n, axisDim, inner, xType, sType, block, axisLen]                        ptrs [x, scale, zeroPoint?, y]
//
// softmax: lines (o, i) of axisDim elements at (o * axisDim + k) * inner + i, one warp per line; mode
// 0 Softmax, 1 LogSoftmax, 2 Hardmax (1 at the first maximum). norm: row r is L contiguous elements,
// y = (x - mean) * invStd * scale[s] + bias[s] with s = (r % rm) * rs + ((j / jd) % jm) * js, one block
// per row (LayerNormalization: rm 1, jd 1, jm L, js 1; InstanceNormalization: rm C, rs 1, js 0;
// GroupNormalization: rm G, rs C/G, jd HW, jm C/G, js 1); mean / invStd are written per row when
// bound (statsType is their type). batchnorm: inference form, channel c = (i / inner) % C.
// lrn: the window of channels [c - floor((size-1)/2), c + ceil((size-1)/2)].
// pool mode 0 MaxPool (first maximum; indices are flat over the input, storageOrder 1 = column-major
// spatial axes), 1 AveragePool (divisor: the taps inside the input, or inside input + pads when
// countIncludePad), 2 LpPool is not used. resize: the host's tap tables (backends/native/ops-resize.ts,
// shared with the CPU and WebGPU): per axis `taps` entries per output index of (source index, weight)
// from tableOffset; a first index of -1 means extrapolate.
// quantize: y = saturate(roundHalfEven(x / scale) + zp); dequantize: y = (x - zp) * scale; scale and
// zp by channel c = (i / inner) % axisDim (axisDim 1 for per tensor), or by block along the axis when
// block > 0 (c = ((i / inner) % axisLen) / block, with axisDim = axisLen / block rounded up).
#include <cuda_runtime.h>

#include <string>

#include "common.h"
#include "dtype.cuh"

namespace twinfer {
namespace {

__device__ __forceinline__ float warpSum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warpMax(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__global__ void softmaxKernel(long long lines, long long axisDim, long long inner, int mode, int xt, const void* __restrict__ x, void* __restrict__ y) {
  const long long warp = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  const long long warps = ((long long)gridDim.x * blockDim.x) >> 5;
  for (long long l = warp; l < lines; l += warps) {
    const long long o = l / inner, in = l % inner;
    const long long base = o * axisDim * inner + in;
    float mx = -INFINITY;
    for (long long k = lane; k < axisDim; k += 32) mx = fmaxf(mx, ldT<float>(x, xt, base + k * inner));
    mx = warpMax(mx);
    if (mode == 2) {
      // first index holding the maximum
      long long first = axisDim;
      for (long long k = lane; k < axisDim; k += 32) if (ldT<float>(x, xt, base + k * inner) == mx) { first = k; break; }
      for (int off = 16; off > 0; off >>= 1) { const long long t = __shfl_xor_sync(0xffffffffu, first, off); first = t < first ? t : first; }
      for (long long k = lane; k < axisDim; k += 32) stT<float>(y, xt, base + k * inner, k == first ? 1.f : 0.f);
      continue;
    }
    float s = 0.f;
    for (long long k = lane; k < axisDim; k += 32) s += expf(ldT<float>(x, xt, base + k * inner) - mx);
    s = warpSum(s);
    const float ls = logf(s);
    for (long long k = lane; k < axisDim; k += 32) {
      const float v = ldT<float>(x, xt, base + k * inner) - mx;
      stT<float>(y, xt, base + k * inner, mode == 1 ? v - ls : expf(v) / s);
    }
  }
}

__device__ float blockSum(float v, float* sh) {
  v = warpSum(v);
  const int w = threadIdx.x >> 5, lane = threadIdx.x & 31;
  __syncthreads();
  if (lane == 0) sh[w] = v;
  __syncthreads();
  float t = 0.f;
  const int nw = (blockDim.x + 31) >> 5;
  for (int k = 0; k < nw; k++) t += sh[k];
  return t;
}

struct NormMap {
  long long L, rm, rs, jd, jm, js;
  int xt, st;
  float eps;
};

__global__ void normKernel(long long rows, NormMap m, const void* __restrict__ x, const void* __restrict__ scale, const void* __restrict__ bias, void* __restrict__ y, void* __restrict__ mean, void* __restrict__ invStd) {
  __shared__ float sh[32];
  for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
    const long long base = r * m.L;
    float s = 0.f;
    for (long long j = threadIdx.x; j < m.L; j += blockDim.x) s += ldT<float>(x, m.xt, base + j);
    const float mu = blockSum(s, sh) / static_cast<float>(m.L);
    float q = 0.f;
    for (long long j = threadIdx.x; j < m.L; j += blockDim.x) { const float d = ldT<float>(x, m.xt, base + j) - mu; q += d * d; }
    const float var = blockSum(q, sh) / static_cast<float>(m.L);
    const float inv = 1.f / sqrtf(var + m.eps);
    const long long sr = (r % m.rm) * m.rs;
    for (long long j = threadIdx.x; j < m.L; j += blockDim.x) {
      const long long si = sr + ((j / m.jd) % m.jm) * m.js;
      float v = (ldT<float>(x, m.xt, base + j) - mu) * inv;
      if (scale) v *= ldT<float>(scale, m.xt, si);
      if (bias) v += ldT<float>(bias, m.xt, si);
      stT<float>(y, m.xt, base + j, v);
    }
    if (threadIdx.x == 0) {
      if (mean) stT<float>(mean, m.st, r, mu);
      if (invStd) stT<float>(invStd, m.st, r, inv);
    }
  }
}

__global__ void batchnormKernel(long long n, long long C, long long inner, int xt, int pt, float eps, const void* __restrict__ x, const void* __restrict__ scale,
                                const void* __restrict__ b, const void* __restrict__ mean, const void* __restrict__ var, void* __restrict__ y) {
  TWINFER_GRID_LOOP(i, n) {
    const long long c = (i / inner) % C;
    const float inv = 1.f / sqrtf(ldT<float>(var, pt, c) + eps);
    stT<float>(y, xt, i, (ldT<float>(x, xt, i) - ldT<float>(mean, pt, c)) * inv * ldT<float>(scale, pt, c) + ldT<float>(b, pt, c));
  }
}

__global__ void lrnKernel(long long n, long long C, long long inner, int size, int xt, float alpha, float beta, float bias, const void* __restrict__ x, void* __restrict__ y) {
  TWINFER_GRID_LOOP(i, n) {
    const long long in = i % inner, c = (i / inner) % C, b = i / (inner * C);
    const long long lo = c - (size - 1) / 2, hi = c + size / 2;
    float s = 0.f;
    for (long long k = lo < 0 ? 0 : lo; k <= hi && k < C; k++) { const float v = ldT<float>(x, xt, (b * C + k) * inner + in); s += v * v; }
    stT<float>(y, xt, i, ldT<float>(x, xt, i) / powf(bias + alpha / static_cast<float>(size) * s, beta));
  }
}

struct PoolAxis {
  long long in, out, k, s, pb, pe, d;
};
struct PoolMap {
  PoolAxis ax[3];
  int mode, countPad, order, xt;
};

__global__ void poolKernel(long long n, PoolMap m, const void* __restrict__ x, void* __restrict__ y, long long* __restrict__ indices) {
  TWINFER_GRID_LOOP(i, n) {
    const PoolAxis &A = m.ax[0], &B = m.ax[1], &Cx = m.ax[2];
    const long long ox = i % Cx.out, oy = (i / Cx.out) % B.out, oz = (i / (Cx.out * B.out)) % A.out, plane = i / (Cx.out * B.out * A.out);
    const long long planeSize = A.in * B.in * Cx.in;
    const long long base = plane * planeSize;
    const long long z0 = oz * A.s - A.pb, y0 = oy * B.s - B.pb, x0 = ox * Cx.s - Cx.pb;
    float best = -INFINITY, sum = 0.f;
    long long bi = -1, count = 0;
    for (long long kz = 0; kz < A.k; kz++) {
      const long long iz = z0 + kz * A.d;
      if (iz < 0 || iz >= A.in) continue;
      for (long long ky = 0; ky < B.k; ky++) {
        const long long iy = y0 + ky * B.d;
        if (iy < 0 || iy >= B.in) continue;
        for (long long kx = 0; kx < Cx.k; kx++) {
          const long long ix = x0 + kx * Cx.d;
          if (ix < 0 || ix >= Cx.in) continue;
          const long long off = (iz * B.in + iy) * Cx.in + ix;
          const float v = ldT<float>(x, m.xt, base + off);
          if (v > best || bi < 0) { best = v; bi = off; }
          sum += v;
          count++;
        }
      }
    }
    if (m.mode == 0) {
      stT<float>(y, m.xt, i, best);
      if (indices) {
        long long flat = bi;
        if (m.order == 1 && bi >= 0) {
          // column-major over the spatial axes (the last axis has stride 1 in row-major order)
          const long long iz = bi / (B.in * Cx.in), iy = (bi / Cx.in) % B.in, ix = bi % Cx.in;
          flat = ix * (B.in * A.in) + iy * A.in + iz;
        }
        indices[i] = bi < 0 ? -1 : base + flat;
      }
    } else {
      if (m.countPad) {
        // taps inside [-padBegin, in + padEnd) on each axis
        auto inPadded = [](const PoolAxis& a, long long o) {
          long long c = 0;
          for (long long k = 0; k < a.k; k++) { const long long p = o * a.s - a.pb + k * a.d; if (p >= -a.pb && p < a.in + a.pe) c++; }
          return c;
        };
        count = inPadded(A, oz) * inPadded(B, oy) * inPadded(Cx, ox);
      }
      stT<float>(y, m.xt, i, count > 0 ? sum / static_cast<float>(count) : NAN);
    }
  }
}

struct ResizeAxis {
  long long os, is, taps, off;
};
struct ResizeMap {
  int rank, xt;
  float ev;
  ResizeAxis ax[8];
};

__global__ void resizeKernel(long long n, ResizeMap m, const void* __restrict__ x, const int* __restrict__ idx, const float* __restrict__ w, void* __restrict__ y) {
  TWINFER_GRID_LOOP(i, n) {
    long long oc[8];
    long long rem = i, tot = 1;
    bool extrap = false;
    for (int a = 0; a < m.rank; a++) {
      oc[a] = rem / m.ax[a].os;
      rem %= m.ax[a].os;
      tot *= m.ax[a].taps;
      if (idx[m.ax[a].off + oc[a] * m.ax[a].taps] < 0) extrap = true;
    }
    if (extrap) { stT<float>(y, m.xt, i, m.ev); continue; }
    float acc = 0.f;
    for (long long t = 0; t < tot; t++) {
      long long tr = t, s = 0;
      float wt = 1.f;
      for (int a = m.rank - 1; a >= 0; a--) {
        const long long nt = m.ax[a].taps;
        const long long e = m.ax[a].off + oc[a] * nt + tr % nt;
        tr /= nt;
        s += static_cast<long long>(idx[e]) * m.ax[a].is;
        wt *= w[e];
      }
      if (wt != 0.f) acc += wt * ldT<float>(x, m.xt, s);  // zero-weight taps skipped (0 * inf is NaN)
    }
    if (isIntCode(m.xt)) acc = truncf(acc);
    stT<float>(y, m.xt, i, acc);
  }
}

__device__ __forceinline__ void qrange(int t, float* lo, float* hi) {
  switch (t) {
    case DT_I8: *lo = -128.f; *hi = 127.f; break;
    case DT_U8: *lo = 0.f; *hi = 255.f; break;
    case DT_I16: *lo = -32768.f; *hi = 32767.f; break;
    case DT_U16: *lo = 0.f; *hi = 65535.f; break;
    case DT_I32: *lo = -2147483648.f; *hi = 2147483520.f; break;
    case DT_I4: *lo = -8.f; *hi = 7.f; break;
    case DT_U4: *lo = 0.f; *hi = 15.f; break;
    case DT_I2: *lo = -2.f; *hi = 1.f; break;
    case DT_U2: *lo = 0.f; *hi = 3.f; break;
    default: *lo = -INFINITY; *hi = INFINITY; break;
  }
}

__device__ __forceinline__ long long qchannel(long long i, long long axisDim, long long inner, long long block, long long axisLen) {
  if (block > 0) return (i / (inner * axisLen)) * axisDim * inner + (((i / inner) % axisLen) / block) * inner + i % inner;
  return (i / inner) % axisDim;
}

__global__ void quantizeKernel(long long n, long long axisDim, long long inner, long long block, long long axisLen, int xt, int yt, int st, const void* __restrict__ x,
                               const void* __restrict__ scale, const void* __restrict__ zp, void* __restrict__ y) {
  float lo, hi;
  qrange(yt, &lo, &hi);
  TWINFER_GRID_LOOP(i, n) {
    const long long c = qchannel(i, axisDim, inner, block, axisLen);
    // integer targets round half to even and saturate; float8 / float4 targets round in the store
    const bool toFloat = isFloatFamily(yt);
    float v = ldT<float>(x, xt, i) / ldT<float>(scale, st, c);
    if (!toFloat) v = rintf(v);
    if (zp) v += ldT<float>(zp, yt, c);
    if (!toFloat) v = fminf(fmaxf(v, lo), hi);
    stT<float>(y, yt, i, v);
  }
}

__global__ void dequantizeKernel(long long n, long long axisDim, long long inner, long long block, long long axisLen, int xt, int st, const void* __restrict__ x,
                                 const void* __restrict__ scale, const void* __restrict__ zp, void* __restrict__ y) {
  TWINFER_GRID_LOOP(i, n) {
    const long long c = qchannel(i, axisDim, inner, block, axisLen);
    float v = ldT<float>(x, xt, i);
    if (zp) v -= ldT<float>(zp, xt, c);
    stT<float>(y, st, i, v * ldT<float>(scale, st, c));
  }
}

void needArgsT(const char* kernel, const LaunchArgs& a, size_t ni, size_t nf, size_t np) { needArgs(kernel, a, ni, nf, np); }

void launchSoftmax(const LaunchArgs& a) {
  needArgsT("softmax", a, 5, 0, 2);
  requirePtrs("softmax", a, {0, 1});
  const long long outer = a.i[0], axisDim = a.i[1], inner = a.i[2];
  const int xt = checkDType("softmax", a.i[4]);
  if (outer < 0 || axisDim < 0 || inner < 1 || a.i[3] < 0 || a.i[3] > 2) throw std::runtime_error("softmax: bad parameters");
  const long long lines = outer * inner;
  if (lines <= 0 || axisDim == 0) return;
  softmaxKernel<<<typedGrid(lines * 32), kTypedThreads, 0, a.stream>>>(lines, axisDim, inner, static_cast<int>(a.i[3]), xt, a.ptr[0], a.ptr[1]);
}

void launchNorm(const LaunchArgs& a) {
  needArgsT("norm", a, 9, 1, 6);
  requirePtrs("norm", a, {0, 3});
  const long long rows = a.i[0];
  NormMap m{a.i[1], a.i[3], a.i[4], a.i[5], a.i[6], a.i[7], checkDType("norm", a.i[2]), checkDType("norm", a.i[8]), a.f[0]};
  if (m.L < 1 || m.rm < 1 || m.jd < 1 || m.jm < 1) throw std::runtime_error("norm: L, rm, jd, jm must be positive");
  if (rows <= 0) return;
  const unsigned blocks = static_cast<unsigned>(rows < (1 << 20) ? rows : (1 << 20));
  normKernel<<<blocks, m.L >= 256 ? 256 : 64, 0, a.stream>>>(rows, m, a.ptr[0], a.ptr[1], a.ptr[2], a.ptr[3], a.ptr[4], a.ptr[5]);
}

void launchBatchnorm(const LaunchArgs& a) {
  needArgsT("batchnorm", a, 5, 1, 6);
  requirePtrs("batchnorm", a, {0, 1, 2, 3, 4, 5});
  const long long n = a.i[0];
  if (a.i[1] < 1 || a.i[2] < 1) throw std::runtime_error("batchnorm: C and inner must be positive");
  const int xt = checkDType("batchnorm", a.i[3]), pt = checkDType("batchnorm", a.i[4]);
  if (n <= 0) return;
  batchnormKernel<<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, a.i[1], a.i[2], xt, pt, a.f[0], a.ptr[0], a.ptr[1], a.ptr[2], a.ptr[3], a.ptr[4], a.ptr[5]);
}

void launchLrn(const LaunchArgs& a) {
  needArgsT("lrn", a, 5, 3, 2);
  requirePtrs("lrn", a, {0, 1});
  const long long N = a.i[0], C = a.i[1], inner = a.i[2];
  if (C < 1 || inner < 1 || a.i[3] < 1) throw std::runtime_error("lrn: C, inner and size must be positive");
  const int xt = checkDType("lrn", a.i[4]);
  const long long n = N * C * inner;
  if (n <= 0) return;
  lrnKernel<<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, C, inner, static_cast<int>(a.i[3]), xt, a.f[0], a.f[1], a.f[2], a.ptr[0], a.ptr[1]);
}

void launchPool(const LaunchArgs& a) {
  needArgsT("pool", a, 5 + 21, 0, 3);
  requirePtrs("pool", a, {0, 1});
  const long long planes = a.i[0];
  PoolMap m{};
  m.mode = static_cast<int>(a.i[1]);
  m.countPad = static_cast<int>(a.i[2]);
  m.order = static_cast<int>(a.i[3]);
  m.xt = checkDType("pool", a.i[4]);
  if (m.mode < 0 || m.mode > 1) throw std::runtime_error("pool: unknown mode");
  long long outN = 1;
  for (int d = 0; d < 3; d++) {
    const int64_t* p = &a.i[5 + 7 * d];
    m.ax[d] = {p[0], p[1], p[2], p[3], p[4], p[5], p[6]};
    if (p[0] < 1 || p[1] < 0 || p[2] < 1 || p[3] < 1 || p[6] < 1) throw std::runtime_error("pool: bad geometry on axis " + std::to_string(d));
    outN *= p[1];
  }
  const long long n = planes * outN;
  if (n <= 0) return;
  poolKernel<<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, m, a.ptr[0], a.ptr[1], static_cast<long long*>(a.ptr[2]));
}

void launchResize(const LaunchArgs& a) {
  if (a.i.size() < 3 || a.f.size() != 1 || a.ptr.size() != 4) throw std::runtime_error("resize: expected ints [n, rank, xType, ...], 1 float, 4 bindings");
  requirePtrs("resize", a, {0, 1, 2, 3});
  const long long n = a.i[0];
  ResizeMap m{};
  m.rank = static_cast<int>(a.i[1]);
  if (m.rank < 1 || m.rank > 8) throw std::runtime_error("resize: rank outside 1..8");
  if (a.i.size() != 3 + 4 * static_cast<size_t>(m.rank)) throw std::runtime_error("resize: wrong number of ints for the rank");
  m.xt = checkDType("resize", a.i[2]);
  m.ev = a.f[0];
  for (int d = 0; d < m.rank; d++) {
    m.ax[d] = {a.i[3 + 4 * d], a.i[4 + 4 * d], a.i[5 + 4 * d], a.i[6 + 4 * d]};
    if (m.ax[d].os < 1 || m.ax[d].taps < 1) throw std::runtime_error("resize: bad axis table");
  }
  if (n <= 0) return;
  resizeKernel<<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, m, a.ptr[0], static_cast<const int*>(a.ptr[1]), static_cast<const float*>(a.ptr[2]), a.ptr[3]);
}

void launchQuant(const LaunchArgs& a, bool quant) {
  const char* k = quant ? "quantize" : "dequantize";
  needArgsT(k, a, 7, 0, 4);
  requirePtrs(k, a, {0, 1, 3});
  const long long n = a.i[0], axisDim = a.i[1], inner = a.i[2], block = a.i[5], axisLen = a.i[6];
  const int xt = checkDType(k, a.i[3]), t2 = checkDType(k, a.i[4]);
  if (axisDim < 1 || inner < 1 || block < 0 || (block > 0 && axisLen < 1)) throw std::runtime_error(std::string(k) + ": bad axis parameters");
  if (n <= 0) return;
  if (quant) quantizeKernel<<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, axisDim, inner, block, axisLen, xt, t2, xt, a.ptr[0], a.ptr[1], a.ptr[2], a.ptr[3]);
  else dequantizeKernel<<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, axisDim, inner, block, axisLen, xt, t2, a.ptr[0], a.ptr[1], a.ptr[2], a.ptr[3]);
}

}  // namespace

void registerNorm(Registry& r) {
  r["softmax"] = {launchSoftmax, 0};
  r["norm"] = {launchNorm, 0};
  r["batchnorm"] = {launchBatchnorm, 0};
  r["lrn"] = {launchLrn, 0};
  r["pool"] = {launchPool, 0};
  r["resize"] = {launchResize, 0};
  r["quantize"] = {[](const LaunchArgs& a) { launchQuant(a, true); }, 0};
  r["dequantize"] = {[](const LaunchArgs& a) { launchQuant(a, false); }, 0};
}

}  // namespace twinfer
