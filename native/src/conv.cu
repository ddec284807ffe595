// Convolution (1-D and 2-D, NCHW, any groups, pads, strides, dilations) as an implicit GEMM with the
// fused epilogue: Conv and twinfer.FusedConv.
//
//   conv2d  ints   [N, C, H, W, K, P, Q, R, S, strideH, strideW, padTop, padLeft, dilH, dilW, groups, act, post]
//           floats [act a, act b, post a, post b]
//           ptrs   [X, W, bias?, Z?, Y]
//
// Per group g, a GEMM of M = K/groups output channels by N*P*Q output pixels over (C/groups)*R*S
// taps: A is the weight tensor as it is ([K, C/groups, R, S] is row-major (m, k) per group), B the
// im2col matrix gathered on the fly from X (zero outside the padded input), and the store adds the
// bias, applies the activation, the residual Z and the post-activation, and writes Y[N, K, P, Q].
// 1-D convs arrive as H = P = R = 1. Pads at the end are implied by P and Q.
#include <cuda_runtime.h>

#include <string>

#include "activation.cuh"
#include "common.h"
#include "gemm.cuh"

namespace twinfer {
namespace {

struct ConvGeom {
  int N, C, H, W, K, P, Q, R, S, sh, sw, ph, pw, dh, dw, groups, Cg, Mg;
};

struct LoadW {
  const float* w;
  int taps;  // Cg * R * S: one output channel's weights
  int Mg;
  bool kFast;
  long long off;
  __device__ void setZ(int g) { off = static_cast<long long>(g) * Mg * taps; }
  __device__ float operator()(int m, int k) const { return w[off + static_cast<long long>(m) * taps + k]; }
};

struct LoadIm2col {
  const float* x;
  ConvGeom g;
  bool nFast;
  int c0;  // first input channel of the group
  __device__ void setZ(int grp) { c0 = grp * g.Cg; }
  __device__ float operator()(int k, int n) const {
    const int RS = g.R * g.S, PQ = g.P * g.Q;
    const int c = k / RS, rs = k - c * RS, r = rs / g.S, s = rs - r * g.S;
    const int b = n / PQ, pq = n - b * PQ, p = pq / g.Q, q = pq - p * g.Q;
    const int h = p * g.sh - g.ph + r * g.dh;
    const int w = q * g.sw - g.pw + s * g.dw;
    if (h < 0 || h >= g.H || w < 0 || w >= g.W) return 0.f;
    return x[((static_cast<long long>(b) * g.C + c0 + c) * g.H + h) * g.W + w];
  }
};

struct StoreNCHW {
  float* y;
  const float* bias;
  const float* z;
  ConvGeom g;
  Epilogue e;
  int k0;  // first output channel of the group
  __device__ void setZ(int grp) { k0 = grp * g.Mg; }
  __device__ void operator()(int m, int n, float acc) const {
    const int PQ = g.P * g.Q;
    const int b = n / PQ, pq = n - b * PQ;
    const int k = k0 + m;
    const long long i = (static_cast<long long>(b) * g.K + k) * PQ + pq;
    const float v = bias ? acc + bias[k] : acc;
    y[i] = applyEpilogue(e, v, z, i);
  }
};

void launchConv(const LaunchArgs& a) {
  needArgs("conv2d", a, 18, 4, 5);
  requirePtrs("conv2d", a, {0, 1, 4});
  const auto& i = a.i;
  for (int j = 0; j < 16; j++) {
    const bool isPad = j == 11 || j == 12;
    if (i[j] < (isPad ? 0 : 1) || i[j] > 0x7fffffffLL) throw std::runtime_error("conv2d: int param " + std::to_string(j) + " is out of range");
  }
  auto at = [&](int j) { return static_cast<int>(i[j]); };
  ConvGeom g{at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7), at(8), at(9), at(10), at(11), at(12), at(13), at(14), at(15), 0, 0};
  if (g.C % g.groups || g.K % g.groups) throw std::runtime_error("conv2d: channels are not divisible by groups");
  g.Cg = g.C / g.groups;
  g.Mg = g.K / g.groups;
  const Epilogue e{checkFn("conv2d", i[16]), checkFn("conv2d", i[17]), a.f[0], a.f[1], a.f[2], a.f[3]};
  const long long gemmN = static_cast<long long>(g.N) * g.P * g.Q;
  const long long gemmK = static_cast<long long>(g.Cg) * g.R * g.S;
  if (gemmN > 0x7fffffffLL || gemmK > 0x7fffffffLL) throw std::runtime_error("conv2d: problem too large for 32-bit GEMM indices");
  const LoadW la{static_cast<const float*>(a.ptr[1]), static_cast<int>(gemmK), g.Mg, true, 0};
  const LoadIm2col lb{static_cast<const float*>(a.ptr[0]), g, true, 0};
  const StoreNCHW st{static_cast<float*>(a.ptr[4]), static_cast<const float*>(a.ptr[2]), static_cast<const float*>(a.ptr[3]), g, e, 0};
  launchTiledGemm(g.Mg, static_cast<int>(gemmN), static_cast<int>(gemmK), g.groups, la, lb, st, a.stream);
}

}  // namespace

void registerConv(Registry& r) { r["conv2d"] = {launchConv, 0}; }

}  // namespace twinfer
