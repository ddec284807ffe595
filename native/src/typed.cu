// Dtype-aware element-wise kernels (every device type of dtype.cuh): Cast and the unary functions on
// any type, binary ops with broadcasting (arithmetic, Mod, comparisons and logic to bool), Where.
//
//   unaryT   ints [n, fn, xType, yType]                                  floats [a, b]  ptrs [x, y]
//   binaryT  ints [n, op, aType, bType, yType, rank, dims[rank], aStrides[rank], bStrides[rank]]  ptrs [a, b, y]
//   where    ints [n, elemSize, rank, dims[rank], cStrides[rank], xStrides[rank], yStrides[rank]] ptrs [cond, x, y, out]
//
// fn is a code of TWINFER_FUNCTIONS, op of TWINFER_TYPED_BINARY (functions.h); types are ONNX codes.
// unaryT with fn Identity is Cast. Float-family inputs compute in f32 with the same functions as the
// f32 kernels; other inputs compute in double (exact for Identity, Abs, Neg, Sign, Relu, Floor, Ceil,
// Round, Not, IsNaN, IsInf; other functions of a float64 input go through f32). Integer Div truncates
// toward zero and gives 0 for a zero divisor; Mod takes the divisor's sign (FMod: the dividend's), as
// the CPU reference. Broadcasting is by element strides (0 along broadcast axes), rank <= 8.
#include <cuda_runtime.h>

#include <string>

#include "activation.cuh"
#include "common.h"
#include "dtype.cuh"

namespace twinfer {
namespace {

enum TOp : int {
#define TWINFER_ENUM(name) TOP_##name,
  TWINFER_TYPED_BINARY(TWINFER_ENUM)
#undef TWINFER_ENUM
  TOP_COUNT
};

constexpr int kRank = 8;

struct Strides3 {
  int rank;
  long long dims[kRank];
  long long s[3][kRank];
};

template <class C>
__device__ __forceinline__ C unaryExact(int fn, C x, float a, float b, bool* ok) {
  *ok = true;
  switch (fn) {
    case FN_Identity: return x;
    case FN_Abs: return x < C(0) ? -x : x;
    case FN_Neg: return -x;
    case FN_Sign: return x > C(0) ? C(1) : x < C(0) ? C(-1) : x;
    case FN_Relu: return x > C(0) ? x : (x != x ? x : C(0));
    case FN_Floor: return floor(x);
    case FN_Ceil: return ceil(x);
    case FN_Round: return rint(x);
    case FN_Not: return x == C(0) ? C(1) : C(0);
    case FN_IsNaN: return x != x ? C(1) : C(0);
    case FN_IsInf: return (a != 0.f && x > C(0) && isinf(static_cast<double>(x))) || (b != 0.f && x < C(0) && isinf(static_cast<double>(x))) ? C(1) : C(0);
    default: *ok = false; return x;
  }
}

__global__ void unaryTKernel(int fn, long long n, int xt, int yt, float a, float b, const void* __restrict__ x, void* __restrict__ y) {
  const bool f = isFloatFamily(xt);
  TWINFER_GRID_LOOP(i, n) {
    if (f) {
      stT<float>(y, yt, i, applyFn(fn, ldT<float>(x, xt, i), a, b));
    } else {
      bool ok;
      const double v = unaryExact<double>(fn, ldT<double>(x, xt, i), a, b, &ok);
      stT<double>(y, yt, i, ok ? v : static_cast<double>(applyFn(fn, static_cast<float>(ldT<double>(x, xt, i)), a, b)));
    }
  }
}

template <class C>
__device__ __forceinline__ C binaryT(int op, C x, C y, bool intOut) {
  switch (op) {
    case TOP_Add: return x + y;
    case TOP_Sub: return x - y;
    case TOP_Mul: return x * y;
    case TOP_Div: return intOut ? (y == C(0) ? C(0) : trunc(x / y)) : x / y;
    case TOP_Pow: { const C p = pow(x, y); return intOut ? trunc(p) : p; }
    case TOP_Max: return (x >= y || x != x) ? x : y;
    case TOP_Min: return (x <= y || x != x) ? x : y;
    case TOP_PRelu: return x < C(0) ? x * y : x;
    case TOP_Mod: {
      if (intOut && y == C(0)) return C(0);
      C r = fmod(x, y);
      if (r != C(0) && ((r < C(0)) != (y < C(0)))) r += y;
      return r;
    }
    case TOP_FMod: return intOut && y == C(0) ? C(0) : fmod(x, y);
    case TOP_Equal: return x == y ? C(1) : C(0);
    case TOP_Less: return x < y ? C(1) : C(0);
    case TOP_LessOrEqual: return x <= y ? C(1) : C(0);
    case TOP_Greater: return x > y ? C(1) : C(0);
    case TOP_GreaterOrEqual: return x >= y ? C(1) : C(0);
    case TOP_And: return (x != C(0) && y != C(0)) ? C(1) : C(0);
    case TOP_Or: return (x != C(0) || y != C(0)) ? C(1) : C(0);
    case TOP_Xor: return ((x != C(0)) != (y != C(0))) ? C(1) : C(0);
    case TOP_SafeDiv: return y == C(0) ? C(0) : x / y;
    default: return C(0);
  }
}

__device__ __forceinline__ void offsets(const Strides3& s, long long i, long long* o0, long long* o1, long long* o2) {
  long long rem = i, a = 0, b = 0, c = 0;
  for (int d = s.rank - 1; d >= 0; d--) {
    const long long k = rem % s.dims[d];
    rem /= s.dims[d];
    a += k * s.s[0][d];
    b += k * s.s[1][d];
    c += k * s.s[2][d];
  }
  *o0 = a; *o1 = b; *o2 = c;
}

template <class C>
__global__ void binaryTKernel(int op, long long n, int at, int bt, int yt, bool intOut, Strides3 s, const void* __restrict__ a, const void* __restrict__ b, void* __restrict__ y) {
  TWINFER_GRID_LOOP(i, n) {
    long long ia, ib, unused;
    offsets(s, i, &ia, &ib, &unused);
    stT<C>(y, yt, i, binaryT<C>(op, ldT<C>(a, at, ia), ldT<C>(b, bt, ib), intOut));
  }
}

template <class E>
__global__ void whereKernel(long long n, Strides3 s, const uint8_t* __restrict__ c, const E* __restrict__ x, const E* __restrict__ y, E* __restrict__ out) {
  TWINFER_GRID_LOOP(i, n) {
    long long ic, ix, iy;
    offsets(s, i, &ic, &ix, &iy);
    out[i] = c[ic] ? x[ix] : y[iy];
  }
}

// Reads [rank, dims[rank], strides[k][rank]...] starting at ints[at].
Strides3 readStrides(const char* kernel, const LaunchArgs& a, size_t at, int k, long long n) {
  if (a.i.size() <= at) throw std::runtime_error(std::string(kernel) + ": missing rank");
  const int rank = static_cast<int>(a.i[at]);
  if (rank < 1 || rank > kRank) throw std::runtime_error(std::string(kernel) + ": rank " + std::to_string(rank) + " is outside 1.." + std::to_string(kRank));
  if (a.i.size() != at + 1 + static_cast<size_t>(rank) * (1 + k)) throw std::runtime_error(std::string(kernel) + ": wrong number of ints for rank " + std::to_string(rank));
  Strides3 s{};
  s.rank = rank;
  long long total = 1;
  for (int d = 0; d < rank; d++) {
    s.dims[d] = a.i[at + 1 + d];
    if (s.dims[d] < 1) throw std::runtime_error(std::string(kernel) + ": dims must be positive");
    total *= s.dims[d];
    for (int j = 0; j < k; j++) s.s[j][d] = a.i[at + 1 + rank * (1 + j) + d];
  }
  if (total != n) throw std::runtime_error(std::string(kernel) + ": n does not match the product of dims");
  return s;
}

void launchUnaryT(const LaunchArgs& a) {
  needArgs("unaryT", a, 4, 2, 2);
  requirePtrs("unaryT", a, {0, 1});
  const long long n = a.i[0];
  const int fn = checkFn("unaryT", a.i[1]);
  const int xt = checkDType("unaryT", a.i[2]), yt = checkDType("unaryT", a.i[3]);
  if (n <= 0) return;
  unaryTKernel<<<typedGrid(n), kTypedThreads, 0, a.stream>>>(fn, n, xt, yt, a.f[0], a.f[1], a.ptr[0], a.ptr[1]);
}

void launchBinaryT(const LaunchArgs& a) {
  if (a.i.size() < 6 || a.f.size() != 0 || a.ptr.size() != 3) throw std::runtime_error("binaryT: expected ints [n, op, aType, bType, yType, rank, ...], no floats, 3 bindings");
  requirePtrs("binaryT", a, {0, 1, 2});
  const long long n = a.i[0];
  const int op = static_cast<int>(a.i[1]);
  if (op < 0 || op >= TOP_COUNT) throw std::runtime_error("binaryT: unknown op code " + std::to_string(op));
  const int at = checkDType("binaryT", a.i[2]), bt = checkDType("binaryT", a.i[3]), yt = checkDType("binaryT", a.i[4]);
  const Strides3 s = readStrides("binaryT", a, 5, 2, n);
  if (n <= 0) return;
  const bool intOut = isIntCode(yt) && yt != DT_BOOL;
  if (wantsDouble({at, bt})) binaryTKernel<double><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(op, n, at, bt, yt, intOut, s, a.ptr[0], a.ptr[1], a.ptr[2]);
  else binaryTKernel<float><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(op, n, at, bt, yt, intOut, s, a.ptr[0], a.ptr[1], a.ptr[2]);
}

void launchWhere(const LaunchArgs& a) {
  if (a.i.size() < 3 || a.f.size() != 0 || a.ptr.size() != 4) throw std::runtime_error("where: expected ints [n, elemSize, rank, ...], no floats, 4 bindings");
  requirePtrs("where", a, {0, 1, 2, 3});
  const long long n = a.i[0];
  const int es = static_cast<int>(a.i[1]);
  const Strides3 s = readStrides("where", a, 2, 3, n);
  if (n <= 0) return;
  const auto c = static_cast<const uint8_t*>(a.ptr[0]);
  switch (es) {
    case 1: whereKernel<uint8_t><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, s, c, static_cast<const uint8_t*>(a.ptr[1]), static_cast<const uint8_t*>(a.ptr[2]), static_cast<uint8_t*>(a.ptr[3])); break;
    case 2: whereKernel<uint16_t><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, s, c, static_cast<const uint16_t*>(a.ptr[1]), static_cast<const uint16_t*>(a.ptr[2]), static_cast<uint16_t*>(a.ptr[3])); break;
    case 4: whereKernel<uint32_t><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, s, c, static_cast<const uint32_t*>(a.ptr[1]), static_cast<const uint32_t*>(a.ptr[2]), static_cast<uint32_t*>(a.ptr[3])); break;
    case 8: whereKernel<unsigned long long><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, s, c, static_cast<const unsigned long long*>(a.ptr[1]), static_cast<const unsigned long long*>(a.ptr[2]), static_cast<unsigned long long*>(a.ptr[3])); break;
    default: throw std::runtime_error("where: element size " + std::to_string(es) + " (1, 2, 4 or 8)");
  }
}

}  // namespace

void registerTyped(Registry& r) {
  r["unaryT"] = {launchUnaryT, 0};
  r["binaryT"] = {launchBinaryT, 0};
  r["where"] = {launchWhere, 0};
}

}  // namespace twinfer
