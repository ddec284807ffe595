// Element-wise f32 kernels: unary functions and binary ops with NumPy broadcasting.
//
//   unary/<Fn>    ints [n]                                    floats [a, b]  ptrs [x, y]
//   binary/<Op>   ints [n, rank, dims[rank], aStrides[rank], bStrides[rank]]  ptrs [a, b, y]
//
// Broadcasting is expressed by element strides (0 along broadcast axes) over the output's dims; the
// TypeScript side merges adjacent axes first (backends/native/kernels.ts), so the common cases
// (same shape, scalar, per-channel) reach here with rank 1 to 3.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "activation.cuh"
#include "common.h"
#include "runtime.h"

namespace twinfer {

const char* const kFunctionNames[] = {
#define TWINFER_NAME(name) #name,
    TWINFER_FUNCTIONS(TWINFER_NAME)
#undef TWINFER_NAME
};
const int kFunctionCount = FN_COUNT;

namespace {

enum BinOp : int {
#define TWINFER_ENUM(name) OP_##name,
  TWINFER_BINARY(TWINFER_ENUM)
#undef TWINFER_ENUM
  OP_COUNT
};

constexpr int kMaxRank = 8;
constexpr int kThreads = 256;

struct Bcast {
  int rank;
  long long dims[kMaxRank];
  long long as[kMaxRank];
  long long bs[kMaxRank];
};

unsigned gridFor(long long n) {
  const long long blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::min<long long>(std::max<long long>(blocks, 1), 1 << 20));
}

__global__ void unaryKernel(int fn, long long n, float a, float b, const float* __restrict__ x, float* __restrict__ y) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    y[i] = applyFn(fn, x[i], a, b);
  }
}

__device__ __forceinline__ float binary(int op, float x, float y) {
  switch (op) {
    case OP_Add: return x + y;
    case OP_Sub: return x - y;
    case OP_Mul: return x * y;
    case OP_Div: return x / y;
    case OP_Pow: return powf(x, y);
    // NaN in either operand propagates (as the CPU reference: x >= y || x != x ? x : y).
    case OP_Max: return (x >= y || x != x) ? x : y;
    case OP_Min: return (x <= y || x != x) ? x : y;
    case OP_PRelu: return x < 0.f ? x * y : x;
    default: return __int_as_float(0x7fc00000);
  }
}

__global__ void binaryKernel(int op, long long n, Bcast s, const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    long long rem = i, ia = 0, ib = 0;
    for (int d = s.rank - 1; d >= 0; d--) {
      const long long c = rem % s.dims[d];
      rem /= s.dims[d];
      ia += c * s.as[d];
      ib += c * s.bs[d];
    }
    y[i] = binary(op, a[ia], b[ib]);
  }
}

void launchUnary(const LaunchArgs& a) {
  needArgs("unary", a, 1, 2, 2);
  requirePtrs("unary", a, {0, 1});
  const long long n = a.i[0];
  if (n <= 0) return;
  unaryKernel<<<gridFor(n), kThreads, 0, a.stream>>>(a.code, n, a.f[0], a.f[1], static_cast<const float*>(a.ptr[0]), static_cast<float*>(a.ptr[1]));
}

void launchBinary(const LaunchArgs& a) {
  if (a.i.size() < 2) throw std::runtime_error("binary: expected ints [n, rank, ...]");
  const long long n = a.i[0];
  const int rank = static_cast<int>(a.i[1]);
  if (rank < 1 || rank > kMaxRank) throw std::runtime_error("binary: rank " + std::to_string(rank) + " is outside 1.." + std::to_string(kMaxRank));
  needArgs("binary", a, 2 + 3 * static_cast<size_t>(rank), 0, 3);
  requirePtrs("binary", a, {0, 1, 2});
  Bcast s{};
  s.rank = rank;
  long long total = 1;
  for (int d = 0; d < rank; d++) {
    s.dims[d] = a.i[2 + d];
    s.as[d] = a.i[2 + rank + d];
    s.bs[d] = a.i[2 + 2 * rank + d];
    if (s.dims[d] < 1) throw std::runtime_error("binary: dims must be positive");
    total *= s.dims[d];
  }
  if (total != n) throw std::runtime_error("binary: n does not match the product of dims");
  if (n <= 0) return;
  binaryKernel<<<gridFor(n), kThreads, 0, a.stream>>>(a.code, n, s, static_cast<const float*>(a.ptr[0]), static_cast<const float*>(a.ptr[1]), static_cast<float*>(a.ptr[2]));
}

}  // namespace

cudaError_t kernelImageCheck() {
  cudaFuncAttributes attr;
  return cudaFuncGetAttributes(&attr, unaryKernel);
}

void registerElementwise(Registry& r) {
  for (int i = 0; i < FN_COUNT; i++) r[std::string("unary/") + kFunctionNames[i]] = {launchUnary, i};
  static const char* const binNames[] = {
#define TWINFER_NAME(name) #name,
      TWINFER_BINARY(TWINFER_NAME)
#undef TWINFER_NAME
  };
  for (int i = 0; i < OP_COUNT; i++) r[std::string("binary/") + binNames[i]] = {launchBinary, i};
}

}  // namespace twinfer
