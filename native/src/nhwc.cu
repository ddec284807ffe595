// The packed float16 form of the CUDA backend (backends/native/tensor.ts "packed"): float16 values as
// 2-byte halves in NHWC (channels-last) order, the layout cuDNN's fp16 tensor-core convolutions
// read and write. The other kernels keep float16 as f32 in NCHW; these convert between the two
// forms (a filter [K, Cg, R, S] packs as an image batch: nchwToNhwcHalf [K, Cg, RS] gives cuDNN's
// KRSC), and pool in the packed form so a ResNet stem stays packed.
//
//   nchwToNhwcHalf  ints [N, C, HW]                         ptrs [x (f32 NCHW), y (half NHWC)]
//   nhwcHalfToNchw  ints [N, C, HW]                         ptrs [x (half NHWC), y (f32 NCHW)]
//   poolNhwcHalf    ints [N, C, H, W, P, Q, R, S, strideH, strideW, padTop, padLeft, padBottom, padRight,
//                         dilH, dilW, mode, countIncludePad]  ptrs [x (half NHWC), y (half NHWC)]
//
// The conversions are 32x32 tiled transposes through shared memory, so both the NCHW side and the
// NHWC side are read and written in whole rows. Rounding to float16 is round-to-nearest-even (the
// f32 side of a float16 tensor already holds float16 values, so packing is exact). poolNhwcHalf:
// mode 0 MaxPool, 1 AveragePool (divisor: the taps inside the input, or inside input + pads when
// countIncludePad), one thread per output element with the channel fastest (coalesced).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <string>

#include "common.h"
#include "dtype.cuh"

namespace twinfer {
namespace {

constexpr int kTile = 32, kRows = 8;

// x[n] is rows x cols (row-major), y[n] is cols x rows: blockIdx.z walks n.
template <class In, class Out, class Cvt>
__global__ void transposeTiles(const In* __restrict__ x, Out* __restrict__ y, int rows, int cols, Cvt cvt) {
  __shared__ float tile[kTile][kTile + 1];
  const long long plane = static_cast<long long>(rows) * cols;
  const In* xs = x + blockIdx.z * plane;
  Out* ys = y + blockIdx.z * plane;
  const int c0 = blockIdx.x * kTile, r0 = blockIdx.y * kTile;
  for (int j = threadIdx.y; j < kTile; j += kRows) {
    const int r = r0 + j, c = c0 + threadIdx.x;
    if (r < rows && c < cols) tile[j][threadIdx.x] = cvt.load(xs[static_cast<long long>(r) * cols + c]);
  }
  __syncthreads();
  for (int j = threadIdx.y; j < kTile; j += kRows) {
    const int c = c0 + j, r = r0 + threadIdx.x;
    if (r < rows && c < cols) ys[static_cast<long long>(c) * rows + r] = cvt.store(tile[threadIdx.x][j]);
  }
}

struct F32ToHalf {
  __device__ float load(float v) const { return v; }
  __device__ __half store(float v) const { return __float2half_rn(v); }
};
struct HalfToF32 {
  __device__ float load(__half v) const { return __half2float(v); }
  __device__ float store(float v) const { return v; }
};

struct Dims3 {
  int N, C, HW;
};

Dims3 readDims3(const char* kernel, const LaunchArgs& a) {
  needArgs(kernel, a, 3, 0, 2);
  requirePtrs(kernel, a, {0, 1});
  for (int j = 0; j < 3; j++) {
    if (a.i[j] < 1 || a.i[j] > 0x7fffffffLL) throw std::runtime_error(std::string(kernel) + ": int param " + std::to_string(j) + " is out of range");
  }
  if (a.i[0] > 65535) throw std::runtime_error(std::string(kernel) + ": batch above 65535");
  return {static_cast<int>(a.i[0]), static_cast<int>(a.i[1]), static_cast<int>(a.i[2])};
}

dim3 tilesOf(int rows, int cols, int planes) {
  return dim3(static_cast<unsigned>((cols + kTile - 1) / kTile), static_cast<unsigned>((rows + kTile - 1) / kTile), static_cast<unsigned>(planes));
}

// NCHW: per image a C x HW matrix; NHWC: its transpose.
void launchToNhwc(const LaunchArgs& a) {
  const Dims3 d = readDims3("nchwToNhwcHalf", a);
  transposeTiles<<<tilesOf(d.C, d.HW, d.N), dim3(kTile, kRows), 0, a.stream>>>(static_cast<const float*>(a.ptr[0]), static_cast<__half*>(a.ptr[1]), d.C, d.HW, F32ToHalf{});
}

void launchToNchw(const LaunchArgs& a) {
  const Dims3 d = readDims3("nhwcHalfToNchw", a);
  transposeTiles<<<tilesOf(d.HW, d.C, d.N), dim3(kTile, kRows), 0, a.stream>>>(static_cast<const __half*>(a.ptr[0]), static_cast<float*>(a.ptr[1]), d.HW, d.C, HalfToF32{});
}

struct PoolGeom {
  int N, C, H, W, P, Q, R, S, sh, sw, pt, pl, pb, pr, dh, dw, mode, countPad;
};

__global__ void poolKernel(const __half* __restrict__ x, __half* __restrict__ y, PoolGeom g, long long n) {
  TWINFER_GRID_LOOP(i, n) {
    const int c = static_cast<int>(i % g.C);
    long long t = i / g.C;
    const int q = static_cast<int>(t % g.Q); t /= g.Q;
    const int p = static_cast<int>(t % g.P);
    const long long b = t / g.P;
    const int h0 = p * g.sh - g.pt, w0 = q * g.sw - g.pl;
    float best = -INFINITY, sum = 0.f;
    int count = 0;
    for (int r = 0; r < g.R; r++) {
      const int h = h0 + r * g.dh;
      if (h < 0 || h >= g.H) continue;
      for (int s = 0; s < g.S; s++) {
        const int w = w0 + s * g.dw;
        if (w < 0 || w >= g.W) continue;
        const float v = __half2float(x[((b * g.H + h) * g.W + w) * g.C + c]);
        // NaN propagates as the NCHW kernel's first-maximum rule does (v > best is false for NaN).
        if (v > best || count == 0) best = v;
        sum += v;
        count++;
      }
    }
    if (g.mode == 0) {
      y[i] = __float2half_rn(count ? best : -INFINITY);
      continue;
    }
    if (g.countPad) {
      auto inPadded = [](int o, int stride, int pad0, int pad1, int k, int dil, int in) {
        int c2 = 0;
        for (int j = 0; j < k; j++) { const int pos = o * stride - pad0 + j * dil; if (pos >= -pad0 && pos < in + pad1) c2++; }
        return c2;
      };
      count = inPadded(p, g.sh, g.pt, g.pb, g.R, g.dh, g.H) * inPadded(q, g.sw, g.pl, g.pr, g.S, g.dw, g.W);
    }
    y[i] = __float2half_rn(count > 0 ? sum / static_cast<float>(count) : NAN);
  }
}

void launchPool(const LaunchArgs& a) {
  needArgs("poolNhwcHalf", a, 18, 0, 2);
  requirePtrs("poolNhwcHalf", a, {0, 1});
  const auto& i = a.i;
  for (int j = 0; j < 18; j++) {
    const bool zeroOk = (j >= 10 && j <= 13) || j >= 16;
    if (i[j] < (zeroOk ? 0 : 1) || i[j] > 0x7fffffffLL) throw std::runtime_error("poolNhwcHalf: int param " + std::to_string(j) + " is out of range");
  }
  auto at = [&](int j) { return static_cast<int>(i[j]); };
  const PoolGeom g{at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7), at(8), at(9), at(10), at(11), at(12), at(13), at(14), at(15), at(16), at(17)};
  if (g.mode > 1) throw std::runtime_error("poolNhwcHalf: unknown mode");
  const long long n = static_cast<long long>(g.N) * g.P * g.Q * g.C;
  poolKernel<<<typedGrid(n), kTypedThreads, 0, a.stream>>>(static_cast<const __half*>(a.ptr[0]), static_cast<__half*>(a.ptr[1]), g, n);
}

}  // namespace

void registerNhwc(Registry& r) {
  r["nchwToNhwcHalf"] = {launchToNhwc, 0};
  r["nhwcHalfToNchw"] = {launchToNchw, 0};
  r["poolNhwcHalf"] = {launchPool, 0};
}

}  // namespace twinfer
