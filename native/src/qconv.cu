// INT8 compute ops (twinfer.QConv / QGemm / QMatMul, src/ir/ops/qfused.ts) on __dp4a (int8x4 dot
// products with int32 accumulation), matching the CPU reference (backends/cpu/ops/qfused.ts)
// exactly on the integer part and in the float epilogue's two roundings:
//     xq  = clamp(rne(x / x_scale) + zp, qmin, qmax)        (the quotient decided as in float64)
//     acc = sum (xq - zp) * W                                (int32; padding adds 0)
//     y   = post(act(f32(f32(acc) * sc[c]) + bias[c]) + Z)   sc[c] = f32(x_scale * W_scale[c])
// The TypeScript side (backends/native/ops-q.ts) packs the weights and the per-channel table once.
//
// The activation is quantized into s = xq - off, a signed byte (off = 0 for int8, 128 for uint8),
// packed 4 per int32 by a small kernel into stream-ordered scratch, then the GEMM's dp4a sums s * w;
// the zero point comes back per channel: acc = sum s * w + corr[c], corr[c] = (off - zp) * sum(W[c]).
// Spatial padding is the word (zp - off) x 4, so a padded tap adds (zp - off + off - zp) * w = 0.
//
//   qconv        ints   [N, C, H, W, K, P, Q, R, S, strideH, strideW, padTop, padLeft, dilH, dilW, groups,
//                        act, post, zp, qmin, qmax, f16]
//                floats [x_scale, act a, act b, post a, post b]
//                ptrs   [X, Wp, aux, Z?, Y]
//     Wp:  int32 words [K][R*S][Cg4], Cg4 = ceil(Cg / 4): output channel m, tap (r, s), channels
//          4cw..4cw+3 of its group in bytes 0..3 (0 past Cg).
//     aux: int32 [3K]: sc[c] (float bits), bias[c] (float bits, 0 when absent), corr[c].
//     X is packed to [N][groups][H][W][Cg4] words; per group a GEMM of Mg = K/groups channels by
//     N*P*Q pixels over R*S*Cg4 words (the im2col gathered in the loads, a word per 4 channels).
//   qconvDirect  the same lists with Wp = the int8 weights as given ([K, Cg, R, S]; corr unused):
//     X quantized once into bytes (s = xq - off), then one thread per output. For depthwise and other groups of few output
//     channels, where a GEMM tile of 64 channels would idle.
//   qgemm        ints   [rows, N, K, act, post, zp, qmin, qmax, f16]
//                floats [x_scale, act a, act b, post a, post b]
//                ptrs   [A, Wp, aux, Z?, Y]
//     A [rows, K] (float32 storage), Wp int32 [N][K4] (K4 = ceil(K / 4); column n of W, k-fast),
//     aux as above with N channels, Y / Z [rows, N].
// 1-D convs arrive as H = P = R = 1. f16 = 1: X, Z and Y are float16 stored as float32; Y is rounded
// to float16 in the store.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "activation.cuh"
#include "common.h"
#include "gemm.cuh"

namespace twinfer {
namespace {

struct Quant {
  float scale;
  int zp, qmin, qmax, off;
};

// xq as the CPU computes it: rne of the float64 quotient x / scale (both float32). The float32
// quotient (correctly rounded: no fast math) decides every element except those within 1e-3 of a
// .5 tie, which take the float64 quotient; |q| >= 4096 clamps whatever the rounding. NaN -> zp.
__device__ __forceinline__ int quantize(float x, const Quant& q) {
  const float qf = x / q.scale;
  if (qf != qf) return q.zp;
  const float a = fabsf(qf);
  float r;
  if (a < 4096.f && fabsf(a - floorf(a) - 0.5f) < 1e-3f) r = static_cast<float>(rint(static_cast<double>(x) / static_cast<double>(q.scale)));
  else r = rintf(qf);
  r = fminf(fmaxf(r + static_cast<float>(q.zp), static_cast<float>(q.qmin)), static_cast<float>(q.qmax));
  return static_cast<int>(r);
}

struct Out {
  const int* aux;  // sc, bias (float bits), corr: 3 * channels
  int channels;
  const float* z;
  float* y;
  Epilogue e;
  bool f16;
};

__device__ __forceinline__ void store(const Out& o, int c, long long i, int acc) {
  const float sc = __int_as_float(o.aux[c]), b = __int_as_float(o.aux[o.channels + c]);
  float v = __fadd_rn(__fmul_rn(__int2float_rn(acc), sc), b);
  v = applyEpilogue(o.e, v, o.z, i);
  o.y[i] = o.f16 ? __half2float(__float2half_rn(v)) : v;
}

struct ConvGeom {
  int N, C, H, W, K, P, Q, R, S, sh, sw, ph, pw, dh, dw, groups, Cg, Mg, Cg4;
};

// X NCHW -> words [N][G][H][W][Cg4] of s = xq - off; thread order (b, g, word, pixel), pixel fastest
// so the reads of X coalesce.
__global__ void packConvX(const float* x, int* xp, ConvGeom g, Quant q, long long total) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  const int HW = g.H * g.W;
  const int pix = static_cast<int>(i % HW);
  long long r = i / HW;
  const int cw = static_cast<int>(r % g.Cg4);
  const long long bg = r / g.Cg4;
  const int grp = static_cast<int>(bg % g.groups), b = static_cast<int>(bg / g.groups);
  const float* xb = x + (static_cast<long long>(b) * g.C + grp * g.Cg) * HW + pix;
  unsigned w = 0;
#pragma unroll
  for (int k = 0; k < 4; k++) {
    const int c = cw * 4 + k;
    if (c < g.Cg) w |= (static_cast<unsigned>(quantize(xb[static_cast<long long>(c) * HW], q) - q.off) & 0xffu) << (8 * k);
  }
  xp[(bg * HW + pix) * g.Cg4 + cw] = static_cast<int>(w);
}

// A [rows, K] -> words [rows][K4] (bytes past K are 0: their weights are 0).
__global__ void packRows(const float* a, int* ap, int K, int K4, Quant q, long long total) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  const int cw = static_cast<int>(i % K4);
  const long long row = i / K4;
  unsigned w = 0;
#pragma unroll
  for (int k = 0; k < 4; k++) {
    const int c = cw * 4 + k;
    if (c < K) w |= (static_cast<unsigned>(quantize(a[row * K + c], q) - q.off) & 0xffu) << (8 * k);
  }
  ap[i] = static_cast<int>(w);
}

unsigned blocks(long long n, int threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

// Stream-ordered scratch for the packed activation (as the split-K partials in gemm.cuh).
int* scratch(long long words, cudaStream_t stream, const char* kernel) {
  void* p = nullptr;
  if (cudaMallocAsync(&p, static_cast<size_t>(words) * 4, stream) != cudaSuccess) throw std::runtime_error(std::string(kernel) + ": scratch allocation failed");
  return static_cast<int*>(p);
}

// The int8 tile loop: C(m, n) = sum over kw of the 4 int8 products of words A(m, kw), B(kw, n), for
// tile (blockIdx.x: n, blockIdx.y: m) of problem z, over K slice `slice` of S (KC words each; S = 1:
// all of K). 64x64 outputs per 256 threads, K in steps of 16 words (64 int8 products) through shared
// memory (rows padded to 72 words: 16-byte aligned; the tensor-core fragment reads of a warp fall in
// 32 different banks). Two bodies on the same tiles:
//  - TC = false: __dp4a, 4x4 outputs per thread (rows 4ty.., columns 4tx..: one 16-byte shared read
//    of each operand per 16 dp4a);
//  - TC = true (sm_80 and later): int8 tensor cores, mma.sync m16n8k32 s8 x s8 -> s32; 8 warps each
//    own a 16x32 block (4 along m, 2 along n), 4 mma per 8-word (32-product) step.
// Integer sums are exact in any order, so both give the same int32 accumulators bit for bit.
constexpr int kQTM = 64, kQTN = 64, kQTK = 16, kQThreads = 256, kQPad = 72;

template <bool TC, class LoadA, class LoadB, class Store>
__global__ void __launch_bounds__(kQThreads) qgemmTiles(int M, int N, int KW, int S, int KC, LoadA la, LoadB lb, Store st) {
  __shared__ __align__(16) int As[kQTK][kQPad];
  __shared__ __align__(16) int Bs[kQTK][kQPad];
  const int z = blockIdx.z / S, slice = blockIdx.z - z * S;
  const int kBeg = slice * KC, kEnd = min(KW, kBeg + KC);
  la.setZ(z);
  lb.setZ(z);
  st.setZ(z);
  const int m0 = blockIdx.y * kQTM, n0 = blockIdx.x * kQTN;
  const int tid = threadIdx.x;
  [[maybe_unused]] const int tx = tid % 16, ty = tid / 16;  // the dp4a body's thread tile
  [[maybe_unused]] const int warp = tid >> 5, gid = (tid & 31) >> 2, tig = tid & 3;  // the mma fragments
  [[maybe_unused]] const int wm = (warp & 3) * 16, wn = (warp >> 2) * 32;
  int acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 4; j++) acc[i][j] = 0;
  for (int k0 = kBeg; k0 < kEnd; k0 += kQTK) {
#pragma unroll
    for (int r = 0; r < (kQTM * kQTK) / kQThreads; r++) {
      const int e = tid + r * kQThreads;
      const int mi = e / kQTK, ki = e % kQTK;  // weights are k-fast
      const int m = m0 + mi, k = k0 + ki;
      As[ki][mi] = (m < M && k < kEnd) ? la(m, k) : 0;
    }
#pragma unroll
    for (int r = 0; r < (kQTN * kQTK) / kQThreads; r++) {
      const int e = tid + r * kQThreads;
      const int ni = lb.nFast ? e % kQTN : e / kQTK;
      const int ki = lb.nFast ? e / kQTN : e % kQTK;
      const int n = n0 + ni, k = k0 + ki;
      Bs[ki][ni] = (n < N && k < kEnd) ? lb(k, n) : 0;
    }
    __syncthreads();
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    if constexpr (TC) {
#pragma unroll
      for (int kk = 0; kk < kQTK; kk += 8) {
        // A (16x32 int8, row major): a0 (gid, k 4tig..), a1 (gid + 8, ..), a2 (gid, k 16 + 4tig..), a3 (gid + 8, ..): word kk + tig / kk + 4 + tig.
        const int a0 = As[kk + tig][wm + gid], a1 = As[kk + tig][wm + gid + 8];
        const int a2 = As[kk + 4 + tig][wm + gid], a3 = As[kk + 4 + tig][wm + gid + 8];
#pragma unroll
        for (int j = 0; j < 4; j++) {
          // B (32x8 int8, column major): b0 (k 4tig.., column gid), b1 (k 16 + 4tig.., column gid).
          const int b0 = Bs[kk + tig][wn + j * 8 + gid], b1 = Bs[kk + 4 + tig][wn + j * 8 + gid];
          asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                       : "+r"(acc[j][0]), "+r"(acc[j][1]), "+r"(acc[j][2]), "+r"(acc[j][3])
                       : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
        }
      }
    } else
#endif
    {
#pragma unroll
      for (int kk = 0; kk < kQTK; kk++) {
        const int4 av = *reinterpret_cast<const int4*>(&As[kk][ty * 4]);
        const int4 bv = *reinterpret_cast<const int4*>(&Bs[kk][tx * 4]);
        const int a[4] = {av.x, av.y, av.z, av.w}, b[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
          for (int j = 0; j < 4; j++) acc[i][j] = __dp4a(a[i], b[j], acc[i][j]);
      }
    }
    __syncthreads();
  }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (TC) {
    // C (16x8): c0 (gid, 2tig), c1 (gid, 2tig + 1), c2 (gid + 8, 2tig), c3 (gid + 8, 2tig + 1).
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
      for (int r = 0; r < 4; r++) {
        const int m = m0 + wm + gid + (r >> 1) * 8, n = n0 + wn + j * 8 + tig * 2 + (r & 1);
        if (m < M && n < N) st(m, n, acc[j][r]);
      }
  } else
#endif
  {
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int m = m0 + ty * 4 + i;
      if (m >= M) continue;
#pragma unroll
      for (int j = 0; j < 4; j++) {
        const int n = n0 + tx * 4 + j;
        if (n < N) st(m, n, acc[i][j]);
      }
    }
  }
}

// Split-K: slices add their int32 partial sums into part[problem][m][n] (integer atomics: exact and
// order-free), then gemm.cuh's splitKStore applies the real store to each sum.
struct PartialStore {
  int* part;
  int M, N;
  long long off;
  __device__ void setZ(int z) { off = static_cast<long long>(z) * M * N; }
  __device__ void operator()(int m, int n, int acc) const { atomicAdd(part + off + static_cast<long long>(m) * N + n, acc); }
};

// Whether the int8 GEMM runs on tensor cores: sm_80 and later, unless TWINFER_INT8_TC=0 (read per
// launch, so a bench can compare both bodies in one process).
bool int8TensorCores() {
  static const int major = [] {
    int dev = 0, m = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&m, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) return 0;
    return m;
  }();
  return major >= 8 && !envStartsWith("TWINFER_INT8_TC", '0');
}

// Runs problems [0, Z) of an M x N x KW int8 GEMM: one pass when the grid fills the GPU, else K
// split in slices of at least 64 words so that every SM gets about two blocks (ResNet-50's 7x7
// layers at batch 1 are 8 tiles deep over 1152 words).
template <class LoadA, class LoadB, class Store>
void runQGemm(int M, int N, int KW, int Z, const LoadA& la, const LoadB& lb, const Store& st, cudaStream_t stream, const char* kernel) {
  const long long tilesN = (static_cast<long long>(N) + kQTN - 1) / kQTN, tilesM = (static_cast<long long>(M) + kQTM - 1) / kQTM;
  if (tilesN > 0x7fffffffLL || tilesM > 65535) throw std::runtime_error(std::string(kernel) + ": too many tiles for one grid");
  const long long tiles = tilesN * tilesM * Z, want = 2LL * smCount();
  const long long total = static_cast<long long>(M) * N * Z;
  int S = 1;
  if (tiles < want / 2 && KW >= 128 && total <= (1LL << 28)) S = static_cast<int>(std::min<long long>({(want + tiles - 1) / tiles, KW / 64, 32}));
  const int KC = S > 1 ? ((KW + S - 1) / S + kQTK - 1) / kQTK * kQTK : KW;
  if (S > 1) S = (KW + KC - 1) / KC;
  if (static_cast<long long>(Z) * S > 65535) throw std::runtime_error(std::string(kernel) + ": too many groups for one grid");
  const dim3 grid(static_cast<unsigned>(tilesN), static_cast<unsigned>(tilesM), static_cast<unsigned>(Z * S));
  const bool tc = int8TensorCores();
  if (S == 1) {
    if (tc) qgemmTiles<true><<<grid, kQThreads, 0, stream>>>(M, N, KW, 1, KW, la, lb, st);
    else qgemmTiles<false><<<grid, kQThreads, 0, stream>>>(M, N, KW, 1, KW, la, lb, st);
    return;
  }
  int* part = scratch(total, stream, kernel);
  cudaMemsetAsync(part, 0, static_cast<size_t>(total) * 4, stream);
  if (tc) qgemmTiles<true><<<grid, kQThreads, 0, stream>>>(M, N, KW, S, KC, la, lb, PartialStore{part, M, N, 0});
  else qgemmTiles<false><<<grid, kQThreads, 0, stream>>>(M, N, KW, S, KC, la, lb, PartialStore{part, M, N, 0});
  splitKStore<<<blocks(total, 256), 256, 0, stream>>>(M, N, total, static_cast<const int*>(part), 0, st);
  cudaFreeAsync(part, stream);
}

// Rows of int32 words, k-fast: weights [problem][M][KW] and packed activation rows.
struct LoadRowsK {
  const int* p;
  int KW;
  long long zStride;
  bool nFast;
  long long off;
  __device__ void setZ(int z) { off = z * zStride; }
  __device__ int operator()(int m, int k) const { return p[off + static_cast<long long>(m) * KW + k]; }
};

// B(kw, n) of the conv: kw = tap * Cg4 + cw, n = output pixel; the packed X word or the pad word.
struct LoadIm2colQ {
  const int* xp;
  ConvGeom g;
  int pad;
  bool nFast;
  int grp;
  __device__ void setZ(int z) { grp = z; }
  __device__ int operator()(int k, int n) const {
    const int tap = k / g.Cg4, cw = k - tap * g.Cg4;
    const int r = tap / g.S, s = tap - r * g.S;
    const int PQ = g.P * g.Q;
    const int b = n / PQ, pq = n - b * PQ, p = pq / g.Q, q = pq - p * g.Q;
    const int h = p * g.sh - g.ph + r * g.dh, w = q * g.sw - g.pw + s * g.dw;
    if (h < 0 || h >= g.H || w < 0 || w >= g.W) return pad;
    return xp[(((static_cast<long long>(b) * g.groups + grp) * g.H + h) * g.W + w) * g.Cg4 + cw];
  }
};

// B(kw, n) of the Gemm: packed activation row n, k-fast.
struct LoadRowsB {
  const int* p;
  int KW;
  bool nFast;
  __device__ void setZ(int) {}
  __device__ int operator()(int k, int n) const { return p[static_cast<long long>(n) * KW + k]; }
};

struct StoreConvQ {
  Out o;
  ConvGeom g;
  int k0;
  __device__ void setZ(int z) { k0 = z * g.Mg; }
  __device__ void operator()(int m, int n, int acc) const {
    const int PQ = g.P * g.Q, b = n / PQ, pq = n - b * PQ, k = k0 + m;
    store(o, k, (static_cast<long long>(b) * g.K + k) * PQ + pq, acc + o.aux[2 * o.channels + k]);
  }
};

// Gemm: m = output channel (weights), n = activation row.
struct StoreRowsQ {
  Out o;
  __device__ void setZ(int) {}
  __device__ void operator()(int m, int n, int acc) const {
    store(o, m, static_cast<long long>(n) * o.channels + m, acc + o.aux[2 * o.channels + m]);
  }
};

// X NCHW -> one signed byte per element, s = xq - off (as packConvX, unpacked): quantized once, not
// once per tap.
__global__ void quantizeBytes(const float* x, signed char* xs, Quant q, long long total) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i < total) xs[i] = static_cast<signed char>(quantize(x[i], q) - q.off);
}

__global__ void qconvDirectKernel(const signed char* xs, const signed char* w, ConvGeom g, int shift, Out o, long long total) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  const int PQ = g.P * g.Q;
  const int pq = static_cast<int>(i % PQ);
  const long long bk = i / PQ;
  const int k = static_cast<int>(bk % g.K), b = static_cast<int>(bk / g.K);
  const int p = pq / g.Q, qq = pq - p * g.Q;
  const int grp = k / g.Mg;
  const signed char* xb = xs + (static_cast<long long>(b) * g.C + grp * g.Cg) * g.H * g.W;
  const signed char* wk = w + static_cast<long long>(k) * g.Cg * g.R * g.S;
  int acc = 0;
  for (int c = 0; c < g.Cg; c++) {
    for (int r = 0; r < g.R; r++) {
      const int h = p * g.sh - g.ph + r * g.dh;
      if (h < 0 || h >= g.H) continue;
      for (int s = 0; s < g.S; s++) {
        const int ww = qq * g.sw - g.pw + s * g.dw;
        if (ww < 0 || ww >= g.W) continue;
        // xq - zp = s + off - zp
        const int v = static_cast<int>(xb[(static_cast<long long>(c) * g.H + h) * g.W + ww]) + shift;
        acc += v * static_cast<int>(wk[(c * g.R + r) * g.S + s]);
      }
    }
  }
  store(o, k, i, acc);
}

Quant readQuant(const char* kernel, float scale, int64_t zp, int64_t qmin, int64_t qmax) {
  const bool i8 = qmin == -128 && qmax == 127, u8 = qmin == 0 && qmax == 255;
  if (!i8 && !u8) throw std::runtime_error(std::string(kernel) + ": [qmin, qmax] must be [-128, 127] or [0, 255]");
  if (zp < qmin || zp > qmax) throw std::runtime_error(std::string(kernel) + ": zero point outside [qmin, qmax]");
  if (!(scale > 0.f) || !std::isfinite(scale)) throw std::runtime_error(std::string(kernel) + ": x_scale must be finite and > 0");
  return Quant{scale, static_cast<int>(zp), static_cast<int>(qmin), static_cast<int>(qmax), u8 ? 128 : 0};
}

ConvGeom readConv(const char* kernel, const LaunchArgs& a) {
  const auto& i = a.i;
  for (int j = 0; j < 16; j++) {
    const bool isPad = j == 11 || j == 12;
    if (i[j] < (isPad ? 0 : 1) || i[j] > 0x7fffffffLL) throw std::runtime_error(std::string(kernel) + ": int param " + std::to_string(j) + " is out of range");
  }
  auto at = [&](int j) { return static_cast<int>(i[j]); };
  ConvGeom g{at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7), at(8), at(9), at(10), at(11), at(12), at(13), at(14), at(15), 0, 0, 0};
  if (g.C % g.groups || g.K % g.groups) throw std::runtime_error(std::string(kernel) + ": channels are not divisible by groups");
  g.Cg = g.C / g.groups;
  g.Mg = g.K / g.groups;
  g.Cg4 = (g.Cg + 3) / 4;
  return g;
}

Out readOut(const char* kernel, const LaunchArgs& a, int channels, int actAt, int f16At) {
  const Epilogue e{checkFn(kernel, a.i[actAt]), checkFn(kernel, a.i[actAt + 1]), a.f[1], a.f[2], a.f[3], a.f[4]};
  return Out{static_cast<const int*>(a.ptr[2]), channels, static_cast<const float*>(a.ptr[3]), static_cast<float*>(a.ptr[4]), e, a.i[f16At] != 0};
}

void launchQConv(const LaunchArgs& a) {
  needArgs("qconv", a, 22, 5, 5);
  requirePtrs("qconv", a, {0, 1, 2, 4});
  const ConvGeom g = readConv("qconv", a);
  const Quant q = readQuant("qconv", a.f[0], a.i[18], a.i[19], a.i[20]);
  const Out o = readOut("qconv", a, g.K, 16, 21);
  const long long gemmN = static_cast<long long>(g.N) * g.P * g.Q;
  const long long KW = static_cast<long long>(g.R) * g.S * g.Cg4;
  if (gemmN > 0x7fffffffLL || KW * 4 > 65536) throw std::runtime_error("qconv: problem too large (pixels beyond 2^31 or a reduction beyond 65536)");
  const long long words = static_cast<long long>(g.N) * g.groups * g.H * g.W * g.Cg4;
  if (gemmN == 0 || g.K == 0) return;
  int* xp = scratch(words, a.stream, "qconv");
  packConvX<<<blocks(words, 256), 256, 0, a.stream>>>(static_cast<const float*>(a.ptr[0]), xp, g, q, words);
  const unsigned pb = static_cast<unsigned>((q.zp - q.off) & 0xff);
  const int pad = static_cast<int>(pb | (pb << 8) | (pb << 16) | (pb << 24));
  const LoadRowsK la{static_cast<const int*>(a.ptr[1]), static_cast<int>(KW), static_cast<long long>(g.Mg) * KW, false, 0};
  // Few channel words per tap: consecutive pixels are the contiguous direction.
  const LoadIm2colQ lb{xp, g, pad, g.Cg4 < 8, 0};
  const StoreConvQ st{o, g, 0};
  runQGemm(g.Mg, static_cast<int>(gemmN), static_cast<int>(KW), g.groups, la, lb, st, a.stream, "qconv");
  cudaFreeAsync(xp, a.stream);
}

void launchQConvDirect(const LaunchArgs& a) {
  needArgs("qconvDirect", a, 22, 5, 5);
  requirePtrs("qconvDirect", a, {0, 1, 2, 4});
  const ConvGeom g = readConv("qconvDirect", a);
  const Quant q = readQuant("qconvDirect", a.f[0], a.i[18], a.i[19], a.i[20]);
  const Out o = readOut("qconvDirect", a, g.K, 16, 21);
  if (static_cast<long long>(g.Cg) * g.R * g.S > 65536) throw std::runtime_error("qconvDirect: reduction beyond 65536");
  const long long total = static_cast<long long>(g.N) * g.K * g.P * g.Q;
  if (total == 0) return;
  const long long xTotal = static_cast<long long>(g.N) * g.C * g.H * g.W;
  signed char* xs = nullptr;
  if (cudaMallocAsync(reinterpret_cast<void**>(&xs), static_cast<size_t>(std::max(xTotal, 1LL)), a.stream) != cudaSuccess) throw std::runtime_error("qconvDirect: scratch allocation failed");
  quantizeBytes<<<blocks(xTotal, 256), 256, 0, a.stream>>>(static_cast<const float*>(a.ptr[0]), xs, q, xTotal);
  qconvDirectKernel<<<blocks(total, 256), 256, 0, a.stream>>>(xs, static_cast<const signed char*>(a.ptr[1]), g, q.off - q.zp, o, total);
  cudaFreeAsync(xs, a.stream);
}

void launchQGemm(const LaunchArgs& a) {
  needArgs("qgemm", a, 9, 5, 5);
  requirePtrs("qgemm", a, {0, 1, 2, 4});
  const long long rows = a.i[0], N = a.i[1], K = a.i[2];
  if (rows < 0 || N < 0 || K < 1 || rows > 0x7fffffffLL || N > 0x7fffffffLL || K > 65536) throw std::runtime_error("qgemm: sizes out of range (K in [1, 65536])");
  const Quant q = readQuant("qgemm", a.f[0], a.i[5], a.i[6], a.i[7]);
  const Out o = readOut("qgemm", a, static_cast<int>(N), 3, 8);
  if (rows == 0 || N == 0) return;
  const int K4 = static_cast<int>((K + 3) / 4);
  const long long words = rows * K4;
  int* ap = scratch(words, a.stream, "qgemm");
  packRows<<<blocks(words, 256), 256, 0, a.stream>>>(static_cast<const float*>(a.ptr[0]), ap, static_cast<int>(K), K4, q, words);
  const LoadRowsK la{static_cast<const int*>(a.ptr[1]), K4, 0, false, 0};
  const LoadRowsB lb{ap, K4, false};
  const StoreRowsQ st{o};
  runQGemm(static_cast<int>(N), static_cast<int>(rows), K4, 1, la, lb, st, a.stream, "qgemm");
  cudaFreeAsync(ap, a.stream);
}

}  // namespace

void registerQConv(Registry& r) {
  r["qconv"] = {launchQConv, 0};
  r["qconvDirect"] = {launchQConvDirect, 0};
  r["qgemm"] = {launchQGemm, 0};
}

}  // namespace twinfer
