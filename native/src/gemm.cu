// SGEMM with batches, broadcasting and the fused epilogue: Gemm, MatMul, FusedGemm, FusedMatMul.
//
//   gemm  ints   [M, N, K, transA, transB, lda, ldb,
//                 batchDims[4], aBatchStrides[4], bBatchStrides[4],   (outer batch axes, padded with 1 / 0)
//                 biasStrideM, biasStrideN, act, post]
//         floats [alpha, beta, act a, act b, post a, post b]
//         ptrs   [A, B, bias?, Z?, Y]
//
//   Y[z](m, n) = post(act(alpha * sum_k op(A)[z](m, k) op(B)[z](k, n) + beta * bias[m*bsM + n*bsN]) + Z[z](m, n))
//
// Y and Z are contiguous [batches, M, N]; A and B are row-major with leading dimensions lda / ldb
// (op = transpose when trans*), offset per batch by the broadcast strides (0 along broadcast axes).
#include <cuda_runtime.h>

#include "activation.cuh"
#include "common.h"
#include "gemm.cuh"

namespace twinfer {
namespace {

constexpr int kBatchRank = 4;

struct BatchMap {
  int dims[kBatchRank];
  long long as[kBatchRank];
  long long bs[kBatchRank];
};

struct LoadA {
  const float* p;
  BatchMap bm;
  int lda;
  bool trans;
  bool kFast;
  long long off;
  __device__ void setZ(int z) {
    off = 0;
    for (int d = kBatchRank - 1; d >= 0; d--) { off += (z % bm.dims[d]) * bm.as[d]; z /= bm.dims[d]; }
  }
  __device__ float operator()(int m, int k) const {
    return p[off + (trans ? static_cast<long long>(k) * lda + m : static_cast<long long>(m) * lda + k)];
  }
};

struct LoadB {
  const float* p;
  BatchMap bm;
  int ldb;
  bool trans;
  bool nFast;
  long long off;
  __device__ void setZ(int z) {
    off = 0;
    for (int d = kBatchRank - 1; d >= 0; d--) { off += (z % bm.dims[d]) * bm.bs[d]; z /= bm.dims[d]; }
  }
  __device__ float operator()(int k, int n) const {
    return p[off + (trans ? static_cast<long long>(n) * ldb + k : static_cast<long long>(k) * ldb + n)];
  }
};

struct StoreY {
  float* y;
  const float* bias;
  const float* z;
  int M, N;
  long long bsM, bsN;
  float alpha, beta;
  Epilogue e;
  long long off;
  __device__ void setZ(int zi) { off = static_cast<long long>(zi) * M * N; }
  __device__ void operator()(int m, int n, float acc) const {
    float v = alpha * acc;
    if (bias) v += beta * bias[m * bsM + n * bsN];
    const long long i = off + static_cast<long long>(m) * N + n;
    y[i] = applyEpilogue(e, v, z, i);
  }
};

void launchGemm(const LaunchArgs& a) {
  needArgs("gemm", a, 7 + 3 * kBatchRank + 4, 6, 5);
  requirePtrs("gemm", a, {0, 1, 4});
  const auto& i = a.i;
  const int M = static_cast<int>(i[0]), N = static_cast<int>(i[1]), K = static_cast<int>(i[2]);
  const bool transA = i[3] != 0, transB = i[4] != 0;
  BatchMap bm{};
  long long batches = 1;
  for (int d = 0; d < kBatchRank; d++) {
    bm.dims[d] = static_cast<int>(i[7 + d]);
    bm.as[d] = i[7 + kBatchRank + d];
    bm.bs[d] = i[7 + 2 * kBatchRank + d];
    if (bm.dims[d] < 1) throw std::runtime_error("gemm: batch dims must be positive");
    batches *= bm.dims[d];
  }
  const int t = 7 + 3 * kBatchRank;
  const Epilogue e{checkFn("gemm", i[t + 2]), checkFn("gemm", i[t + 3]), a.f[2], a.f[3], a.f[4], a.f[5]};
  const LoadA la{static_cast<const float*>(a.ptr[0]), bm, static_cast<int>(i[5]), transA, !transA, 0};
  const LoadB lb{static_cast<const float*>(a.ptr[1]), bm, static_cast<int>(i[6]), transB, !transB, 0};
  const StoreY st{static_cast<float*>(a.ptr[4]), static_cast<const float*>(a.ptr[2]), static_cast<const float*>(a.ptr[3]),
                  M, N, i[t], i[t + 1], a.f[0], a.f[1], e, 0};
  launchTiledGemm(M, N, K, batches, la, lb, st, a.stream);
}

}  // namespace

void registerGemm(Registry& r) { r["gemm"] = {launchGemm, 0}; }

}  // namespace twinfer
