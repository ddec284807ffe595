// Reductions, arg-reductions, CumSum and TopK on any device type (dtype.cuh).
//
//   reduce     ints [nOut, op, xType, yType, keptRank, keptDims[kr], keptStrides[kr], redRank, redDims[rr], redStrides[rr]]  ptrs [x, y]
//   argreduce  ints [nOut, xType, isMin, selectLast, axisDim, inner]                        ptrs [x, y (int64)]
//   cumsum     ints [lines, dtype, axisDim, inner, exclusive, reverse]                      ptrs [x, y]
//   topk       ints [lines, xType, axisDim, inner, k, largest]                              ptrs [x, values, indices (int64)]
//
// reduce: output element o (row-major over keptDims) reduces the elements at sum(kept coord *
// keptStride) + sum(red coord * redStride): any set of axes, no transpose first; one warp per output.
// op: 0 Sum, 1 Mean, 2 Max, 3 Min, 4 Prod, 5 L1, 6 L2, 7 LogSum, 8 LogSumExp, 9 SumSquare; an empty
// reduction gives the op's identity (0, 1, -inf, +inf; Mean NaN). kr / rr are 1..8 (a scalar is [1]).
// Lines of argreduce / cumsum / topk: element k of line (o, i) is at (o * axisDim + k) * inner + i.
// argreduce keeps the first extremum unless selectLast; topk orders by value (largest first unless
// largest = 0) then by lower index, the ONNX tie rule, and writes k values and their indices.
// Float-family inputs compute in f32, others in double (exact integers to 2^53).
#include <cuda_runtime.h>

#include <string>

#include "common.h"
#include "dtype.cuh"

namespace twinfer {
namespace {

constexpr int kR = 8;

struct RedMap {
  int kr, rr;
  long long kd[kR], ks[kR], rd[kR], rs[kR];
  long long redN;
};

enum RedOp { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP, R_SUMSQ };

template <class C>
__device__ __forceinline__ C combine(int op, C a, C b) {
  switch (op) {
    case R_MAX: case R_LOGSUMEXP: return (a >= b || a != a) ? a : b;
    case R_MIN: return (a <= b || a != a) ? a : b;
    case R_PROD: return a * b;
    default: return a + b;
  }
}

template <class C>
__device__ __forceinline__ C identityOf(int op) {
  switch (op) {
    case R_MAX: case R_LOGSUMEXP: return -C(INFINITY);
    case R_MIN: return C(INFINITY);
    case R_PROD: return C(1);
    default: return C(0);
  }
}

template <class C>
__device__ __forceinline__ C warpAll(int op, C v) {
  for (int o = 16; o > 0; o >>= 1) v = combine<C>(op, v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

template <class C>
__global__ void reduceKernel(long long nOut, int op, int xt, int yt, RedMap m, const void* __restrict__ x, void* __restrict__ y) {
  const long long warp = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  const long long warps = ((long long)gridDim.x * blockDim.x) >> 5;
  for (long long o = warp; o < nOut; o += warps) {
    long long rem = o, base = 0;
    for (int d = m.kr - 1; d >= 0; d--) { base += (rem % m.kd[d]) * m.ks[d]; rem /= m.kd[d]; }
    auto at = [&](long long r) {
      long long off = base;
      for (int d = m.rr - 1; d >= 0; d--) { off += (r % m.rd[d]) * m.rs[d]; r /= m.rd[d]; }
      return ldT<C>(x, xt, off);
    };
    const int pass1 = op == R_LOGSUMEXP ? R_MAX : op;
    C acc = identityOf<C>(pass1);
    for (long long r = lane; r < m.redN; r += 32) {
      C v = at(r);
      if (op == R_L1) v = v < C(0) ? -v : v;
      else if (op == R_L2 || op == R_SUMSQ) v = v * v;
      acc = combine<C>(pass1, acc, v);
    }
    acc = warpAll<C>(pass1, acc);
    if (op == R_LOGSUMEXP) {
      const C mx = acc;
      C s = C(0);
      if (mx != -C(INFINITY) && mx == mx) for (long long r = lane; r < m.redN; r += 32) s += exp(at(r) - mx);
      s = warpAll<C>(R_SUM, s);
      acc = mx == -C(INFINITY) || mx != mx ? mx : mx + log(s);
    } else if (op == R_MEAN) {
      acc = acc / C(m.redN);
    } else if (op == R_L2) {
      acc = sqrt(acc);
    } else if (op == R_LOGSUM) {
      acc = log(acc);
    }
    if (lane == 0) stT<C>(y, yt, o, acc);
  }
}

template <class C>
__global__ void argKernel(long long nOut, int xt, bool isMin, bool last, long long axisDim, long long inner, const void* __restrict__ x, long long* __restrict__ y) {
  TWINFER_GRID_LOOP(i, nOut) {
    const long long o = i / inner, in = i % inner;
    const long long base = o * axisDim * inner + in;
    C best = ldT<C>(x, xt, base);
    long long bi = 0;
    for (long long k = 1; k < axisDim; k++) {
      const C v = ldT<C>(x, xt, base + k * inner);
      const bool better = isMin ? (last ? v <= best : v < best) : (last ? v >= best : v > best);
      if (better) { best = v; bi = k; }
    }
    y[i] = bi;
  }
}

template <class C>
__global__ void cumsumKernel(long long lines, int dt, long long axisDim, long long inner, bool exclusive, bool reverse, const void* __restrict__ x, void* __restrict__ y) {
  TWINFER_GRID_LOOP(i, lines) {
    const long long o = i / inner, in = i % inner;
    const long long base = o * axisDim * inner + in;
    C acc = C(0);
    for (long long j = 0; j < axisDim; j++) {
      const long long k = reverse ? axisDim - 1 - j : j;
      const C v = ldT<C>(x, dt, base + k * inner);
      if (exclusive) { stT<C>(y, dt, base + k * inner, acc); acc += v; }
      else { acc += v; stT<C>(y, dt, base + k * inner, acc); }
    }
  }
}

template <class C>
__global__ void topkKernel(long long lines, int xt, long long axisDim, long long inner, long long k, bool largest, const void* __restrict__ x, void* __restrict__ vals, long long* __restrict__ idx) {
  TWINFER_GRID_LOOP(i, lines) {
    const long long o = i / inner, in = i % inner;
    const long long base = o * axisDim * inner + in;
    const long long obase = o * k * inner + in;
    // Pick j is the best element strictly after pick j-1 in the order (value, then lower index).
    C pv = C(0);
    long long pi = -1;
    for (long long j = 0; j < k; j++) {
      C bv = C(0);
      long long bi = -1;
      for (long long a = 0; a < axisDim; a++) {
        const C v = ldT<C>(x, xt, base + a * inner);
        if (pi >= 0) {
          const bool after = largest ? (v < pv || (v == pv && a > pi)) : (v > pv || (v == pv && a > pi));
          if (!after) continue;
        }
        if (bi < 0 || (largest ? v > bv : v < bv)) { bv = v; bi = a; }
      }
      stT<C>(vals, xt, obase + j * inner, bv);
      idx[obase + j * inner] = bi;
      pv = bv;
      pi = bi;
    }
  }
}

void readAxes(const char* kernel, const LaunchArgs& a, size_t at, int* rank, long long* dims, long long* strides, size_t* next) {
  const long long r = a.i.at(at);
  if (r < 1 || r > kR) throw std::runtime_error(std::string(kernel) + ": rank " + std::to_string(r) + " is outside 1.." + std::to_string(kR));
  *rank = static_cast<int>(r);
  if (a.i.size() < at + 1 + 2 * r) throw std::runtime_error(std::string(kernel) + ": ints too short");
  for (int d = 0; d < r; d++) { dims[d] = a.i[at + 1 + d]; strides[d] = a.i[at + 1 + r + d]; }
  *next = at + 1 + 2 * r;
}

void launchReduce(const LaunchArgs& a) {
  if (a.i.size() < 6 || !a.f.empty() || a.ptr.size() != 2) throw std::runtime_error("reduce: expected ints [nOut, op, xType, yType, keptRank, ...], no floats, 2 bindings");
  requirePtrs("reduce", a, {1});
  const long long nOut = a.i[0];
  const int op = static_cast<int>(a.i[1]);
  if (op < 0 || op > R_SUMSQ) throw std::runtime_error("reduce: unknown op " + std::to_string(op));
  const int xt = checkDType("reduce", a.i[2]), yt = checkDType("reduce", a.i[3]);
  RedMap m{};
  size_t next;
  readAxes("reduce", a, 4, &m.kr, m.kd, m.ks, &next);
  size_t end;
  readAxes("reduce", a, next, &m.rr, m.rd, m.rs, &end);
  if (end != a.i.size()) throw std::runtime_error("reduce: wrong number of ints");
  m.redN = 1;
  for (int d = 0; d < m.rr; d++) m.redN *= m.rd[d];
  if (m.redN > 0 && !a.ptr[0]) throw std::runtime_error("reduce: binding 0 is required");
  if (nOut <= 0) return;
  const unsigned blocks = typedGrid(nOut * 32);
  if (wantsDouble({xt})) reduceKernel<double><<<blocks, kTypedThreads, 0, a.stream>>>(nOut, op, xt, yt, m, a.ptr[0], a.ptr[1]);
  else reduceKernel<float><<<blocks, kTypedThreads, 0, a.stream>>>(nOut, op, xt, yt, m, a.ptr[0], a.ptr[1]);
}

void needInts(const char* kernel, const LaunchArgs& a, size_t ni, size_t nptr) {
  if (a.i.size() != ni || !a.f.empty() || a.ptr.size() != nptr) {
    throw std::runtime_error(std::string(kernel) + ": expected " + std::to_string(ni) + " ints, no floats, " + std::to_string(nptr) + " bindings");
  }
}

void launchArg(const LaunchArgs& a) {
  needInts("argreduce", a, 6, 2);
  requirePtrs("argreduce", a, {0, 1});
  const long long n = a.i[0];
  const int xt = checkDType("argreduce", a.i[1]);
  if (a.i[4] < 1 || a.i[5] < 1) throw std::runtime_error("argreduce: axisDim and inner must be positive");
  if (n <= 0) return;
  auto y = static_cast<long long*>(a.ptr[1]);
  if (wantsDouble({xt})) argKernel<double><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, xt, a.i[2] != 0, a.i[3] != 0, a.i[4], a.i[5], a.ptr[0], y);
  else argKernel<float><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, xt, a.i[2] != 0, a.i[3] != 0, a.i[4], a.i[5], a.ptr[0], y);
}

void launchCumsum(const LaunchArgs& a) {
  needInts("cumsum", a, 6, 2);
  requirePtrs("cumsum", a, {0, 1});
  const long long n = a.i[0];
  const int dt = checkDType("cumsum", a.i[1]);
  if (a.i[2] < 0 || a.i[3] < 1) throw std::runtime_error("cumsum: bad axisDim / inner");
  if (n <= 0 || a.i[2] == 0) return;
  if (wantsDouble({dt})) cumsumKernel<double><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, dt, a.i[2], a.i[3], a.i[4] != 0, a.i[5] != 0, a.ptr[0], a.ptr[1]);
  else cumsumKernel<float><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, dt, a.i[2], a.i[3], a.i[4] != 0, a.i[5] != 0, a.ptr[0], a.ptr[1]);
}

void launchTopk(const LaunchArgs& a) {
  needInts("topk", a, 6, 3);
  requirePtrs("topk", a, {0, 1, 2});
  const long long n = a.i[0];
  const int xt = checkDType("topk", a.i[1]);
  if (a.i[2] < 1 || a.i[3] < 1 || a.i[4] < 0 || a.i[4] > a.i[2]) throw std::runtime_error("topk: bad axisDim / inner / k");
  if (n <= 0 || a.i[4] == 0) return;
  auto idx = static_cast<long long*>(a.ptr[2]);
  if (wantsDouble({xt})) topkKernel<double><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, xt, a.i[2], a.i[3], a.i[4], a.i[5] != 0, a.ptr[0], a.ptr[1], idx);
  else topkKernel<float><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, xt, a.i[2], a.i[3], a.i[4], a.i[5] != 0, a.ptr[0], a.ptr[1], idx);
}

}  // namespace

void registerReduce(Registry& r) {
  r["reduce"] = {launchReduce, 0};
  r["argreduce"] = {launchArg, 0};
  r["cumsum"] = {launchCumsum, 0};
  r["topk"] = {launchTopk, 0};
}

}  // namespace twinfer
