// The tiled f32 GEMM main loop shared by the SGEMM and the implicit-GEMM convolution.
//
// C[z](m, n) = sum_k A[z](m, k) * B[z](k, n), with the operands read through small functor
// structs (LoadA, LoadB) and the result written through a Store functor that applies the epilogue.
// The convolution's LoadB is the im2col gather (nothing is materialised), its Store writes NCHW.
//
// Tiles: 64x64 outputs per 256-thread block, K in steps of 16 through shared memory; each thread
// accumulates a 4x4 micro-tile strided by 16 (rows ty+16i, columns tx+16j), so the stores of a
// warp are coalesced along n. Loads go k-fast or m/n-fast following each operand's memory order
// (the functors' kFast / nFast) so global reads are coalesced either way. The next K step's global
// loads go to registers while the current one computes (one shared buffer, register prefetch); no
// vector loads. tiledGemmBodyTC is the same tile on TF32 tensor cores.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <functional>
#include <stdexcept>
#include <string>

namespace twinfer {

constexpr int kTileM = 64;
constexpr int kTileN = 64;
constexpr int kTileK = 16;
constexpr int kGemmThreads = 256;

// One K step's operand tiles, in two halves so the global loads of step k+1 are in flight while
// step k computes (register prefetch: fetchTiles into registers, storeTiles into shared memory
// after the step's last read of it). Zero outside the problem; each value goes through `cv`
// (identity, or the TF32 rounding of the tensor-core body) on its way to shared memory. Loads go
// k-fast or m/n-fast following each operand's memory order, so global reads are coalesced either way.
constexpr int kRegsA = (kTileM * kTileK) / kGemmThreads;
constexpr int kRegsB = (kTileN * kTileK) / kGemmThreads;
struct TileRegs {
  float a[kRegsA];
  float b[kRegsB];
};

template <class LoadA, class LoadB>
__device__ __forceinline__ void fetchTiles(TileRegs& r, const LoadA& la, const LoadB& lb, int M, int N, int K, int m0, int n0, int k0, int tid) {
#pragma unroll
  for (int i = 0; i < kRegsA; i++) {
    const int e = tid + i * kGemmThreads;
    const int m = m0 + (la.kFast ? e / kTileK : e % kTileM), k = k0 + (la.kFast ? e % kTileK : e / kTileM);
    r.a[i] = (m < M && k < K) ? la(m, k) : 0.f;
  }
#pragma unroll
  for (int i = 0; i < kRegsB; i++) {
    const int e = tid + i * kGemmThreads;
    const int n = n0 + (lb.nFast ? e % kTileN : e / kTileK), k = k0 + (lb.nFast ? e / kTileN : e % kTileK);
    r.b[i] = (n < N && k < K) ? lb(k, n) : 0.f;
  }
}

template <int PadM, int PadN, class Cv>
__device__ __forceinline__ void storeTiles(float (&As)[kTileK][kTileM + PadM], float (&Bs)[kTileK][kTileN + PadN], const TileRegs& r, bool aKFast, bool bNFast, int tid, Cv cv) {
#pragma unroll
  for (int i = 0; i < kRegsA; i++) {
    const int e = tid + i * kGemmThreads;
    As[aKFast ? e % kTileK : e / kTileM][aKFast ? e / kTileK : e % kTileM] = cv(r.a[i]);
  }
#pragma unroll
  for (int i = 0; i < kRegsB; i++) {
    const int e = tid + i * kGemmThreads;
    Bs[bNFast ? e / kTileN : e % kTileK][bNFast ? e % kTileN : e / kTileK] = cv(r.b[i]);
  }
}

// The main loop of one block: tile (blockIdx.x, blockIdx.y) of problem z over k in [0, K).
template <class LoadA, class LoadB, class Store>
__device__ __forceinline__ void tiledGemmBody(int M, int N, int K, int z, LoadA la, LoadB lb, Store st) {
  __shared__ float As[kTileK][kTileM + 1];
  __shared__ float Bs[kTileK][kTileN + 1];
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

  TileRegs regs;
  fetchTiles(regs, la, lb, M, N, K, m0, n0, 0, tid);
  for (int k0 = 0; k0 < K; k0 += kTileK) {
    storeTiles<1, 1>(As, Bs, regs, la.kFast, lb.nFast, tid, [](float v) { return v; });
    __syncthreads();
    if (k0 + kTileK < K) fetchTiles(regs, la, lb, M, N, K, m0, n0, k0 + kTileK, tid);
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

// The same tile on tensor cores (TF32 mma.sync m16n8k8, sm_80 and later; issue 6's own tensor-core
// tactic): the loads are those of tiledGemmBody, converted to TF32 (round to nearest) as they go to
// shared memory; 8 warps each own a 16x32 block of the 64x64 tile (4 along m, 2 along n) and issue
// 4 mma per k-step of 8. Shared rows are padded by 8 floats, so the fragment reads of a warp
// (rows k + threadID_in_group, columns + groupID) fall in 32 different banks. Below sm_80 the body
// is the FMA one, so a TF32 launch stays correct there. float16 values are exact in TF32, so on
// them the products are exact and only the f32 summation order differs from the FMA kernel.
template <class LoadA, class LoadB, class Store>
__device__ __forceinline__ void tiledGemmBodyTC(int M, int N, int K, int z, LoadA la, LoadB lb, Store st) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  __shared__ float As[kTileK][kTileM + 8];
  __shared__ float Bs[kTileK][kTileN + 8];
  la.setZ(z);
  lb.setZ(z);
  st.setZ(z);
  const int m0 = blockIdx.y * kTileM;
  const int n0 = blockIdx.x * kTileN;
  const int tid = threadIdx.x;
  const int warp = tid >> 5, lane = tid & 31;
  const int gid = lane >> 2, tig = lane & 3;
  const int wm = (warp & 3) * 16, wn = (warp >> 2) * 32;
  float acc[4][4];
#pragma unroll
  for (int j = 0; j < 4; j++)
#pragma unroll
    for (int r = 0; r < 4; r++) acc[j][r] = 0.f;
  auto tf32 = [](float v) {
    unsigned u;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(u) : "f"(v));
    return __uint_as_float(u);
  };
  TileRegs regs;
  fetchTiles(regs, la, lb, M, N, K, m0, n0, 0, tid);
  for (int k0 = 0; k0 < K; k0 += kTileK) {
    storeTiles<8, 8>(As, Bs, regs, la.kFast, lb.nFast, tid, tf32);
    __syncthreads();
    if (k0 + kTileK < K) fetchTiles(regs, la, lb, M, N, K, m0, n0, k0 + kTileK, tid);
#pragma unroll
    for (int kk = 0; kk < kTileK; kk += 8) {
      // A fragment (16x8, row major): a0 (gid, tig), a1 (gid + 8, tig), a2 (gid, tig + 4), a3 (gid + 8, tig + 4).
      const unsigned a0 = __float_as_uint(As[kk + tig][wm + gid]);
      const unsigned a1 = __float_as_uint(As[kk + tig][wm + gid + 8]);
      const unsigned a2 = __float_as_uint(As[kk + tig + 4][wm + gid]);
      const unsigned a3 = __float_as_uint(As[kk + tig + 4][wm + gid + 8]);
#pragma unroll
      for (int j = 0; j < 4; j++) {
        // B fragment (8x8, column major): b0 (tig, gid), b1 (tig + 4, gid).
        const unsigned b0 = __float_as_uint(Bs[kk + tig][wn + j * 8 + gid]);
        const unsigned b1 = __float_as_uint(Bs[kk + tig + 4][wn + j * 8 + gid]);
        asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                     : "+f"(acc[j][0]), "+f"(acc[j][1]), "+f"(acc[j][2]), "+f"(acc[j][3])
                     : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
      }
    }
    __syncthreads();
  }
  // C fragment (16x8): c0 (gid, 2 tig), c1 (gid, 2 tig + 1), c2 (gid + 8, 2 tig), c3 (gid + 8, 2 tig + 1).
#pragma unroll
  for (int j = 0; j < 4; j++) {
#pragma unroll
    for (int r = 0; r < 4; r++) {
      const int m = m0 + wm + gid + (r >> 1) * 8;
      const int n = n0 + wn + j * 8 + tig * 2 + (r & 1);
      if (m < M && n < N) st(m, n, acc[j][r]);
    }
  }
#else
  tiledGemmBody(M, N, K, z, la, lb, st);
#endif
}

template <bool TC, class LoadA, class LoadB, class Store>
__device__ __forceinline__ void gemmBody(int M, int N, int K, int z, LoadA la, LoadB lb, Store st) {
  if constexpr (TC) tiledGemmBodyTC(M, N, K, z, la, lb, st); else tiledGemmBody(M, N, K, z, la, lb, st);
}

template <bool TC, class LoadA, class LoadB, class Store>
__global__ void __launch_bounds__(kGemmThreads) tiledGemm(int M, int N, int K, int zBase, LoadA la, LoadB lb, Store st) {
  gemmBody<TC>(M, N, K, zBase + static_cast<int>(blockIdx.z), la, lb, st);
}

// Split-K helpers: a store adding raw partial sums with atomics, and a loader view whose k starts
// at the slice's first k.
struct AtomicAddStore {
  float* out;
  int N;
  __device__ void setZ(int) {}
  __device__ void operator()(int m, int n, float acc) const { atomicAdd(out + static_cast<long long>(m) * N + n, acc); }
};

template <class Load, bool IsA>
struct ShiftK {
  Load l;
  int k0;
  bool kFast;  // the main loop reads kFast of A and nFast of B: both carry the wrapped flag
  bool nFast;
  __device__ ShiftK(const Load& load, int k, bool fast) : l(load), k0(k), kFast(fast), nFast(fast) {}
  __device__ void setZ(int g) { l.setZ(g); }
  __device__ float operator()(int a, int b) const { return IsA ? l(a, b + k0) : l(a + k0, b); }
};

// Split-K, first pass: block (x, y, z) computes the partial product of K slice z % S of problem
// z / S and adds it into part[problem][m][n] (zeroed beforehand) with atomics.
template <bool TC, class LoadA, class LoadB>
__global__ void __launch_bounds__(kGemmThreads) tiledGemmPartial(int M, int N, int K, int zBase, int S, int KC, LoadA la, LoadB lb, float* part) {
  const int zz = zBase + blockIdx.z;
  const int z = zz / S, ks = zz - z * S;
  const int kBeg = ks * KC, kEnd = min(K, kBeg + KC);
  float* out = part + static_cast<long long>(z) * M * N;
  gemmBody<TC>(M, N, kEnd - kBeg, z, ShiftK<LoadA, true>{la, kBeg, la.kFast}, ShiftK<LoadB, false>{lb, kBeg, lb.nFast}, AtomicAddStore{out, N});
}

// Split-K, second pass: the epilogue of every (problem, m, n) over the summed partials (float sums
// here, int32 ones for the int8 GEMM of qconv.cu).
template <class Store, class T>
__global__ void splitKStore(int M, int N, long long total, const T* part, int zBase, Store st) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  const long long per = static_cast<long long>(M) * N;
  const int z = static_cast<int>(i / per);
  const long long r = i - z * per;
  Store s = st;
  s.setZ(zBase + z);
  s(static_cast<int>(r / N), static_cast<int>(r % N), part[i]);
}

// Tactic timing (conv.cu's cuDNN and gemm.cu's cuBLASLt choices): one warm-up call, then the best
// of three timings of three calls each on the stream, in ms (divide by 3 for one call). The best of
// three: single timings of the 20-60 us batch-1 kernels moved enough from run to run to pick the
// slower tactic now and then.
inline float timeOnStream(cudaStream_t stream, const std::function<void()>& f) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  f();
  float best = 3.4e38f;
  for (int rep = 0; rep < 3; rep++) {
    cudaEventRecord(a, stream);
    for (int r = 0; r < 3; r++) f();
    cudaEventRecord(b, stream);
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    best = std::min(best, ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return best;
}

inline int smCount() {
  static int sms = 0;
  if (!sms) {
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || sms <= 0) sms = 80;
  }
  return sms;
}

// K slices for a grid of `tiles` blocks: enough to give every SM about two blocks when the grid is
// small and K deep (ResNet-50's 7x7 layers at batch 1 run 8 blocks on 132 SMs otherwise), each
// slice at least 64 deep; 1 when splitting does not pay. (Slices of at least 256, the first
// choice, left ResNet-50 fp16 at batch 1 at 2.22 ms on the H100 with the own kernel forced; 128:
// 1.52, 64: 1.41, 32: 1.49; more blocks per SM did not help.)
inline int splitKSlices(long long tiles, int K) {
  constexpr int kMinDepth = 64;
  const long long want = 2LL * smCount();
  if (tiles >= want / 2 || K < 2 * kMinDepth) return 1;
  const long long s = std::min<long long>({(want + tiles - 1) / tiles, K / kMinDepth, 32});
  return s > 1 ? static_cast<int>(s) : 1;
}

// Launches tiledGemm over `batches` independent problems (blockIdx.z, in chunks of the grid's
// z limit); small grids over deep K go through split-K (partials summed with atomics into a
// stream-ordered scratch buffer, then the Store epilogue). Throws when M or N needs more tiles
// than a grid dimension holds. `tensorCores`: the TF32 mma.sync body (tiledGemmBodyTC).
template <class LoadA, class LoadB, class Store>
void launchTiledGemm(int M, int N, int K, long long batches, const LoadA& la, const LoadB& lb, const Store& st, cudaStream_t stream, bool tensorCores = false) {
  if (M <= 0 || N <= 0 || batches <= 0) return;
  const long long tilesN = (static_cast<long long>(N) + kTileN - 1) / kTileN;
  const long long tilesM = (static_cast<long long>(M) + kTileM - 1) / kTileM;
  if (tilesN > 0x7fffffffLL || tilesM > 65535) {
    throw std::runtime_error("gemm: M=" + std::to_string(M) + ", N=" + std::to_string(N) + " needs more tiles than a grid holds");
  }
  const int S = splitKSlices(tilesN * tilesM * batches, K);
  const long long total = static_cast<long long>(M) * N * batches;
  if (S > 1 && total <= (1LL << 28)) {
    const int KC = ((K + S - 1) / S + kTileK - 1) / kTileK * kTileK;
    const int slices = (K + KC - 1) / KC;
    float* part = nullptr;
    if (cudaMallocAsync(reinterpret_cast<void**>(&part), total * sizeof(float), stream) != cudaSuccess) throw std::runtime_error("gemm: split-K scratch allocation failed");
    cudaMemsetAsync(part, 0, total * sizeof(float), stream);
    const long long zTotal = batches * slices;
    for (long long z0 = 0; z0 < zTotal; z0 += 65535) {
      const unsigned zs = static_cast<unsigned>(std::min<long long>(65535, zTotal - z0));
      const dim3 grid(static_cast<unsigned>(tilesN), static_cast<unsigned>(tilesM), zs);
      if (tensorCores) tiledGemmPartial<true><<<grid, kGemmThreads, 0, stream>>>(M, N, K, static_cast<int>(z0), slices, KC, la, lb, part);
      else tiledGemmPartial<false><<<grid, kGemmThreads, 0, stream>>>(M, N, K, static_cast<int>(z0), slices, KC, la, lb, part);
    }
    const int threads = 256;
    splitKStore<<<static_cast<unsigned>((total + threads - 1) / threads), threads, 0, stream>>>(M, N, total, part, 0, st);
    cudaFreeAsync(part, stream);
    return;
  }
  for (long long z0 = 0; z0 < batches; z0 += 65535) {
    const unsigned zs = static_cast<unsigned>(std::min<long long>(65535, batches - z0));
    const dim3 grid(static_cast<unsigned>(tilesN), static_cast<unsigned>(tilesM), zs);
    if (tensorCores) tiledGemm<true><<<grid, kGemmThreads, 0, stream>>>(M, N, K, static_cast<int>(z0), la, lb, st);
    else tiledGemm<false><<<grid, kGemmThreads, 0, stream>>>(M, N, K, static_cast<int>(z0), la, lb, st);
  }
}

}  // namespace twinfer
