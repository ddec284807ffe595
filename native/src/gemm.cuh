// The tiled f32 GEMM main loop shared by the SGEMM and the implicit-GEMM convolution.
//
// C[z](m, n) = sum_k A[z](m, k) * B[z](k, n), with the operands read through small functor
// structs (LoadA, LoadB) and the result written through a Store functor that applies the epilogue.
// The convolution's LoadB is the im2col gather (nothing is materialised), its Store writes NCHW.
//
// Tiles: 64x64 outputs per 256-thread block, K in steps of 16 through shared memory; each thread
// accumulates a 4x4 micro-tile strided by 16 (rows ty+16i, columns tx+16j), so the stores of a
// warp are coalesced along n. Loads go k-fast or m/n-fast following each operand's memory order
// (the functors' kFast / nFast) so global reads are coalesced either way. A first, simple and
// correct kernel: no tensor cores, no double buffering, no vector loads (later tactics).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace twinfer {

constexpr int kTileM = 64;
constexpr int kTileN = 64;
constexpr int kTileK = 16;
constexpr int kGemmThreads = 256;

template <class LoadA, class LoadB, class Store>
__global__ void __launch_bounds__(kGemmThreads) tiledGemm(int M, int N, int K, int zBase, LoadA la, LoadB lb, Store st) {
  __shared__ float As[kTileK][kTileM + 1];
  __shared__ float Bs[kTileK][kTileN + 1];
  const int z = zBase + blockIdx.z;
  la.setZ(z);
  lb.setZ(z);
  st.setZ(z);
  const int m0 = blockIdx.y * kTileM;
  const int n0 = blockIdx.x * kTileN;
  const int tid = threadIdx.x;
  const int tx = tid % 16;
  const int ty = tid / 16;
  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 4; j++) acc[i][j] = 0.f;

  for (int k0 = 0; k0 < K; k0 += kTileK) {
#pragma unroll
    for (int r = 0; r < (kTileM * kTileK) / kGemmThreads; r++) {
      const int e = tid + r * kGemmThreads;
      const int mi = la.kFast ? e / kTileK : e % kTileM;
      const int ki = la.kFast ? e % kTileK : e / kTileM;
      const int m = m0 + mi, k = k0 + ki;
      As[ki][mi] = (m < M && k < K) ? la(m, k) : 0.f;
    }
#pragma unroll
    for (int r = 0; r < (kTileN * kTileK) / kGemmThreads; r++) {
      const int e = tid + r * kGemmThreads;
      const int ni = lb.nFast ? e % kTileN : e / kTileK;
      const int ki = lb.nFast ? e / kTileN : e % kTileK;
      const int n = n0 + ni, k = k0 + ki;
      Bs[ki][ni] = (n < N && k < K) ? lb(k, n) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; kk++) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; i++) a[i] = As[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; j++) b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const int m = m0 + ty + 16 * i;
    if (m >= M) continue;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const int n = n0 + tx + 16 * j;
      if (n < N) st(m, n, acc[i][j]);
    }
  }
}

// Launches tiledGemm over `batches` independent problems (blockIdx.z, in chunks of the grid's
// z limit). Throws when M or N needs more tiles than a grid dimension holds.
template <class LoadA, class LoadB, class Store>
void launchTiledGemm(int M, int N, int K, long long batches, const LoadA& la, const LoadB& lb, const Store& st, cudaStream_t stream) {
  if (M <= 0 || N <= 0 || batches <= 0) return;
  const long long tilesN = (static_cast<long long>(N) + kTileN - 1) / kTileN;
  const long long tilesM = (static_cast<long long>(M) + kTileM - 1) / kTileM;
  if (tilesN > 0x7fffffffLL || tilesM > 65535) {
    throw std::runtime_error("gemm: M=" + std::to_string(M) + ", N=" + std::to_string(N) + " needs more tiles than a grid holds");
  }
  for (long long z0 = 0; z0 < batches; z0 += 65535) {
    const unsigned zs = static_cast<unsigned>(std::min<long long>(65535, batches - z0));
    const dim3 grid(static_cast<unsigned>(tilesN), static_cast<unsigned>(tilesM), zs);
    tiledGemm<<<grid, kGemmThreads, 0, stream>>>(M, N, K, static_cast<int>(z0), la, lb, st);
  }
}

}  // namespace twinfer
