// Data movement, written once per element SIZE (1, 2, 4, 8 bytes) so every dtype shares it.
//
//   copy            ints [n, elemSize, rank, dims[rank], xStrides[rank], yStrides[rank]]            ptrs [x, y]
//   pad             ints [n, elemSize, mode, rank, outDims[rank], inDims[rank], padsBegin[rank], valueLo, valueHi]  ptrs [x, y]
//   gather          ints [n, elemSize, idxType, axisDim, nIdx, inner]                               ptrs [data, indices, y]
//   gatherElements  ints [n, elemSize, idxType, rank, axis, axisDim, dims[rank], dataStrides[rank]] ptrs [data, indices, y]
//   gatherND        ints [n, elemSize, idxType, k, slice, tuplesPerBatch, batchStride, dataDims[k], dataStrides[k]]  ptrs [data, indices, y]
//   scatterElements ints [n, dtype, idxType, reduction, rank, axis, axisDim, dims[rank], dataStrides[rank]]  ptrs [indices, updates, y]
//   scatterND       ints [tuples, slice, dtype, idxType, reduction, k, dataDims[k], dataStrides[k]]  ptrs [indices, updates, y]
//   trilu           ints [n, elemSize, rows, cols, k, upper]                                        ptrs [x, y]
//   oneHot          ints [n, elemSize, idxType, depth, inner]                                       ptrs [indices, values, y]
//
// copy walks the dims in row-major order and reads / writes at element strides (negative for Slice
// with negative steps, 0 for Expand; the bindings' byte offsets place the first element): Transpose,
// Slice, Expand, Tile (as a copy of twice the rank), Concat and Split (one copy per input / output
// into its region), DepthToSpace / SpaceToDepth (6-D transposes). rank <= 12.
// pad modes: 0 constant (value = the element's bit pattern, low and high 32 bits), 1 reflect, 2 edge,
// 3 wrap. Negative indices count from the end of their axis (idxType is 6 int32 or 7 int64; oneHot's
// indices may be any numeric type); an index still out of range reads 0 / writes nothing.
// The scatters update y, which the caller has filled with a copy of data; reduction 0 none (parallel,
// duplicates race as ONNX leaves them undefined), 1 add, 2 mul, 3 max, 4 min (applied in index order).
// trilu keeps y[r][c] where c - r >= k (upper) or c - r <= k (lower), else 0, over the last two axes.
// oneHot: y[o, d, i] = values[indices[o, i] == d ? 1 : 0] with depth d inserted at the axis.
#include <cuda_runtime.h>

#include <string>

#include "common.h"
#include "dtype.cuh"

namespace twinfer {
namespace {

#define TWINFER_BY_SIZE(es, T, ...)                                                  \
  switch (es) {                                                                      \
    case 1: { using T = uint8_t; __VA_ARGS__; break; }                               \
    case 2: { using T = uint16_t; __VA_ARGS__; break; }                              \
    case 4: { using T = uint32_t; __VA_ARGS__; break; }                              \
    case 8: { using T = unsigned long long; __VA_ARGS__; break; }                    \
    default: throw std::runtime_error("element size " + std::to_string(es) + " (1, 2, 4 or 8)"); \
  }

struct CopyMap {
  int rank;
  long long dims[kMaxAxes];
  long long xs[kMaxAxes];
  long long ys[kMaxAxes];
};

template <class T>
__global__ void copyKernel(long long n, CopyMap m, const T* __restrict__ x, T* __restrict__ y) {
  TWINFER_GRID_LOOP(i, n) {
    long long rem = i, ix = 0, iy = 0;
    for (int d = m.rank - 1; d >= 0; d--) {
      const long long c = rem % m.dims[d];
      rem /= m.dims[d];
      ix += c * m.xs[d];
      iy += c * m.ys[d];
    }
    y[iy] = x[ix];
  }
}

struct PadMap {
  int rank, mode;
  long long out[kMaxAxes], in[kMaxAxes], begin[kMaxAxes];
};

template <class T>
__global__ void padKernel(long long n, PadMap m, T value, const T* __restrict__ x, T* __restrict__ y) {
  TWINFER_GRID_LOOP(i, n) {
    long long rem = i, ix = 0, stride = 1;
    bool inside = true;
    for (int d = m.rank - 1; d >= 0; d--) {
      const long long c = rem % m.out[d];
      rem /= m.out[d];
      const long long D = m.in[d];
      long long k = c - m.begin[d];
      if (k < 0 || k >= D) {
        if (m.mode == 0 || D == 0) { inside = false; break; }
        if (m.mode == 1) {
          if (D == 1) k = 0;
          else { const long long p = 2 * (D - 1); k = ((k % p) + p) % p; if (k >= D) k = p - k; }
        } else if (m.mode == 2) {
          k = k < 0 ? 0 : D - 1;
        } else {
          k = ((k % D) + D) % D;
        }
      }
      ix += k * stride;
      stride *= D;
    }
    y[i] = inside ? x[ix] : value;
  }
}

template <class T>
__global__ void gatherKernel(long long n, int it, long long axisDim, long long nIdx, long long inner, const T* __restrict__ data, const void* __restrict__ idx, T* __restrict__ y) {
  TWINFER_GRID_LOOP(i, n) {
    const long long in = i % inner, t = i / inner, j = t % nIdx, o = t / nIdx;
    long long k = ldIdx(idx, it, j);
    if (k < 0) k += axisDim;
    y[i] = k >= 0 && k < axisDim ? data[(o * axisDim + k) * inner + in] : T(0);
  }
}

struct ElemMap {
  int rank, axis;
  long long axisDim;
  long long dims[kMaxAxes];
  long long ds[kMaxAxes];
};

// Offset into data of element i of the index / update tensor, the axis coordinate taken from idx[i];
// -1 when that index is out of range.
__device__ __forceinline__ long long elemOffset(const ElemMap& m, long long i, const void* idx, int it) {
  long long rem = i, off = 0;
  for (int d = m.rank - 1; d >= 0; d--) {
    const long long c = rem % m.dims[d];
    rem /= m.dims[d];
    if (d == m.axis) {
      long long k = ldIdx(idx, it, i);
      if (k < 0) k += m.axisDim;
      if (k < 0 || k >= m.axisDim) return -1;
      off += k * m.ds[d];
    } else {
      off += c * m.ds[d];
    }
  }
  return off;
}

template <class T>
__global__ void gatherElementsKernel(long long n, int it, ElemMap m, const T* __restrict__ data, const void* __restrict__ idx, T* __restrict__ y) {
  TWINFER_GRID_LOOP(i, n) {
    const long long off = elemOffset(m, i, idx, it);
    y[i] = off >= 0 ? data[off] : T(0);
  }
}

struct NdMap {
  int k;
  long long slice, perBatch, batchStride;
  long long dims[kMaxAxes];
  long long ds[kMaxAxes];
};

__device__ __forceinline__ long long ndOffset(const NdMap& m, long long t, const void* idx, int it) {
  long long off = (t / m.perBatch) * m.batchStride;
  for (int q = 0; q < m.k; q++) {
    long long v = ldIdx(idx, it, t * m.k + q);
    if (v < 0) v += m.dims[q];
    if (v < 0 || v >= m.dims[q]) return -1;
    off += v * m.ds[q];
  }
  return off;
}

template <class T>
__global__ void gatherNDKernel(long long n, int it, NdMap m, const T* __restrict__ data, const void* __restrict__ idx, T* __restrict__ y) {
  TWINFER_GRID_LOOP(i, n) {
    const long long t = i / m.slice, j = i - t * m.slice;
    const long long off = ndOffset(m, t, idx, it);
    y[i] = off >= 0 ? data[off + j] : T(0);
  }
}

__device__ __forceinline__ double reduceWith(int red, double a, double b) {
  switch (red) {
    case 1: return a + b;
    case 2: return a * b;
    case 3: return a >= b ? a : b;
    case 4: return a <= b ? a : b;
    default: return b;
  }
}

__global__ void scatterElementsKernel(long long n, int dt, int it, int red, ElemMap m, const void* __restrict__ idx, const void* __restrict__ upd, void* __restrict__ y) {
  if (red == 0) {
    TWINFER_GRID_LOOP(i, n) {
      const long long off = elemOffset(m, i, idx, it);
      if (off >= 0) stT<double>(y, dt, off, ldT<double>(upd, dt, i));
    }
  } else if (blockIdx.x == 0 && threadIdx.x == 0) {
    for (long long i = 0; i < n; i++) {
      const long long off = elemOffset(m, i, idx, it);
      if (off >= 0) stT<double>(y, dt, off, reduceWith(red, ldT<double>(y, dt, off), ldT<double>(upd, dt, i)));
    }
  }
}

__global__ void scatterNDKernel(long long tuples, int dt, int it, int red, NdMap m, const void* __restrict__ idx, const void* __restrict__ upd, void* __restrict__ y) {
  if (red == 0) {
    TWINFER_GRID_LOOP(i, tuples * m.slice) {
      const long long t = i / m.slice, j = i - t * m.slice;
      const long long off = ndOffset(m, t, idx, it);
      if (off >= 0) stT<double>(y, dt, off + j, ldT<double>(upd, dt, i));
    }
  } else {
    // One thread per slice element, the tuples in order: duplicates reduce deterministically.
    TWINFER_GRID_LOOP(j, m.slice) {
      for (long long t = 0; t < tuples; t++) {
        const long long off = ndOffset(m, t, idx, it);
        if (off >= 0) stT<double>(y, dt, off + j, reduceWith(red, ldT<double>(y, dt, off + j), ldT<double>(upd, dt, t * m.slice + j)));
      }
    }
  }
}

template <class T>
__global__ void triluKernel(long long n, long long rows, long long cols, long long k, bool upper, const T* __restrict__ x, T* __restrict__ y) {
  TWINFER_GRID_LOOP(i, n) {
    const long long c = i % cols, r = (i / cols) % rows;
    const bool keep = upper ? c - r >= k : c - r <= k;
    y[i] = keep ? x[i] : T(0);
  }
}

template <class T>
__global__ void oneHotKernel(long long n, int it, long long depth, long long inner, const void* __restrict__ idx, const T* __restrict__ values, T* __restrict__ y) {
  TWINFER_GRID_LOOP(i, n) {
    const long long in = i % inner, t = i / inner, d = t % depth, o = t / depth;
    double v = trunc(ldT<double>(idx, it, o * inner + in));
    if (v < 0) v += static_cast<double>(depth);
    y[i] = values[v == static_cast<double>(d) ? 1 : 0];
  }
}

int rankArg(const char* kernel, int64_t r) {
  if (r < 1 || r > kMaxAxes) throw std::runtime_error(std::string(kernel) + ": rank " + std::to_string(r) + " is outside 1.." + std::to_string(kMaxAxes));
  return static_cast<int>(r);
}

void needInts(const char* kernel, const LaunchArgs& a, size_t ni, size_t nptr) {
  if (a.i.size() != ni || !a.f.empty() || a.ptr.size() != nptr) {
    throw std::runtime_error(std::string(kernel) + ": expected " + std::to_string(ni) + " ints, no floats, " + std::to_string(nptr) + " bindings; got " +
                             std::to_string(a.i.size()) + ", " + std::to_string(a.f.size()) + ", " + std::to_string(a.ptr.size()));
  }
}

int idxArg(const char* kernel, int64_t t) {
  if (t != DT_I32 && t != DT_I64) throw std::runtime_error(std::string(kernel) + ": indices must be int32 or int64");
  return static_cast<int>(t);
}

void launchCopy(const LaunchArgs& a) {
  if (a.i.size() < 3) throw std::runtime_error("copy: expected ints [n, elemSize, rank, ...]");
  const int rank = rankArg("copy", a.i[2]);
  needInts("copy", a, 3 + 3 * static_cast<size_t>(rank), 2);
  requirePtrs("copy", a, {0, 1});
  const long long n = a.i[0];
  CopyMap m{};
  m.rank = rank;
  long long total = 1;
  for (int d = 0; d < rank; d++) {
    m.dims[d] = a.i[3 + d];
    m.xs[d] = a.i[3 + rank + d];
    m.ys[d] = a.i[3 + 2 * rank + d];
    total *= m.dims[d];
  }
  if (total != n) throw std::runtime_error("copy: n does not match the product of dims");
  if (n <= 0) return;
  TWINFER_BY_SIZE(a.i[1], T, copyKernel<T><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, m, static_cast<const T*>(a.ptr[0]), static_cast<T*>(a.ptr[1])));
}

void launchPad(const LaunchArgs& a) {
  if (a.i.size() < 4) throw std::runtime_error("pad: expected ints [n, elemSize, mode, rank, ...]");
  const int rank = rankArg("pad", a.i[3]);
  needInts("pad", a, 4 + 3 * static_cast<size_t>(rank) + 2, 2);
  requirePtrs("pad", a, {1});
  const long long n = a.i[0];
  PadMap m{};
  m.rank = rank;
  m.mode = static_cast<int>(a.i[2]);
  if (m.mode < 0 || m.mode > 3) throw std::runtime_error("pad: unknown mode " + std::to_string(m.mode));
  for (int d = 0; d < rank; d++) {
    m.out[d] = a.i[4 + d];
    m.in[d] = a.i[4 + rank + d];
    m.begin[d] = a.i[4 + 2 * rank + d];
  }
  const unsigned long long bits = (static_cast<unsigned long long>(a.i[4 + 3 * rank + 1]) << 32) | (static_cast<unsigned long long>(a.i[4 + 3 * rank]) & 0xffffffffULL);
  if (n <= 0) return;
  TWINFER_BY_SIZE(a.i[1], T, padKernel<T><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, m, static_cast<T>(bits), static_cast<const T*>(a.ptr[0]), static_cast<T*>(a.ptr[1])));
}

void launchGather(const LaunchArgs& a) {
  needInts("gather", a, 6, 3);
  requirePtrs("gather", a, {0, 1, 2});
  const long long n = a.i[0];
  const int it = idxArg("gather", a.i[2]);
  if (a.i[3] < 1 || a.i[4] < 1 || a.i[5] < 1) throw std::runtime_error("gather: axisDim, nIdx, inner must be positive");
  if (n <= 0) return;
  TWINFER_BY_SIZE(a.i[1], T, gatherKernel<T><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, it, a.i[3], a.i[4], a.i[5], static_cast<const T*>(a.ptr[0]), a.ptr[1], static_cast<T*>(a.ptr[2])));
}

ElemMap readElemMap(const char* kernel, const LaunchArgs& a, size_t at) {
  const int rank = rankArg(kernel, a.i.at(at));
  ElemMap m{};
  m.rank = rank;
  m.axis = static_cast<int>(a.i.at(at + 1));
  m.axisDim = a.i.at(at + 2);
  if (m.axis < 0 || m.axis >= rank) throw std::runtime_error(std::string(kernel) + ": axis out of range");
  if (a.i.size() != at + 3 + 2 * static_cast<size_t>(rank)) throw std::runtime_error(std::string(kernel) + ": wrong number of ints for rank " + std::to_string(rank));
  for (int d = 0; d < rank; d++) {
    m.dims[d] = a.i[at + 3 + d];
    m.ds[d] = a.i[at + 3 + rank + d];
  }
  return m;
}

void launchGatherElements(const LaunchArgs& a) {
  if (a.i.size() < 6 || !a.f.empty() || a.ptr.size() != 3) throw std::runtime_error("gatherElements: expected ints [n, elemSize, idxType, rank, axis, axisDim, ...], 3 bindings");
  requirePtrs("gatherElements", a, {0, 1, 2});
  const long long n = a.i[0];
  const int it = idxArg("gatherElements", a.i[2]);
  const ElemMap m = readElemMap("gatherElements", a, 3);
  if (n <= 0) return;
  TWINFER_BY_SIZE(a.i[1], T, gatherElementsKernel<T><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, it, m, static_cast<const T*>(a.ptr[0]), a.ptr[1], static_cast<T*>(a.ptr[2])));
}

NdMap readNdMap(const char* kernel, const LaunchArgs& a, size_t kAt, long long slice, long long perBatch, long long batchStride) {
  NdMap m{};
  m.k = rankArg(kernel, a.i.at(kAt));
  m.slice = slice;
  m.perBatch = perBatch;
  m.batchStride = batchStride;
  if (slice < 1 || perBatch < 1) throw std::runtime_error(std::string(kernel) + ": slice and tuplesPerBatch must be positive");
  if (a.i.size() != kAt + 1 + 2 * static_cast<size_t>(m.k) + (kAt == 3 ? 3 : 0)) throw std::runtime_error(std::string(kernel) + ": wrong number of ints for k " + std::to_string(m.k));
  return m;
}

void launchGatherND(const LaunchArgs& a) {
  if (a.i.size() < 7 || !a.f.empty() || a.ptr.size() != 3) throw std::runtime_error("gatherND: expected ints [n, elemSize, idxType, k, slice, tuplesPerBatch, batchStride, ...], 3 bindings");
  requirePtrs("gatherND", a, {0, 1, 2});
  const long long n = a.i[0];
  const int it = idxArg("gatherND", a.i[2]);
  NdMap m = readNdMap("gatherND", a, 3, a.i[4], a.i[5], a.i[6]);
  for (int q = 0; q < m.k; q++) { m.dims[q] = a.i[7 + q]; m.ds[q] = a.i[7 + m.k + q]; }
  if (n <= 0) return;
  TWINFER_BY_SIZE(a.i[1], T, gatherNDKernel<T><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, it, m, static_cast<const T*>(a.ptr[0]), a.ptr[1], static_cast<T*>(a.ptr[2])));
}

void launchScatterElements(const LaunchArgs& a) {
  if (a.i.size() < 7 || !a.f.empty() || a.ptr.size() != 3) throw std::runtime_error("scatterElements: expected ints [n, dtype, idxType, reduction, rank, axis, axisDim, ...], 3 bindings");
  requirePtrs("scatterElements", a, {0, 1, 2});
  const long long n = a.i[0];
  const int dt = checkDType("scatterElements", a.i[1]);
  const int it = idxArg("scatterElements", a.i[2]);
  const int red = static_cast<int>(a.i[3]);
  if (red < 0 || red > 4) throw std::runtime_error("scatterElements: unknown reduction");
  const ElemMap m = readElemMap("scatterElements", a, 4);
  if (n <= 0) return;
  scatterElementsKernel<<<red ? 1 : typedGrid(n), red ? 1 : kTypedThreads, 0, a.stream>>>(n, dt, it, red, m, a.ptr[0], a.ptr[1], a.ptr[2]);
}

void launchScatterND(const LaunchArgs& a) {
  if (a.i.size() < 6 || !a.f.empty() || a.ptr.size() != 3) throw std::runtime_error("scatterND: expected ints [tuples, slice, dtype, idxType, reduction, k, ...], 3 bindings");
  requirePtrs("scatterND", a, {0, 1, 2});
  const long long tuples = a.i[0];
  const int dt = checkDType("scatterND", a.i[2]);
  const int it = idxArg("scatterND", a.i[3]);
  const int red = static_cast<int>(a.i[4]);
  if (red < 0 || red > 4) throw std::runtime_error("scatterND: unknown reduction");
  NdMap m{};
  m.k = rankArg("scatterND", a.i[5]);
  if (a.i.size() != 6 + 2 * static_cast<size_t>(m.k)) throw std::runtime_error("scatterND: wrong number of ints for k");
  m.slice = a.i[1];
  m.perBatch = 1;
  m.batchStride = 0;
  for (int q = 0; q < m.k; q++) { m.dims[q] = a.i[6 + q]; m.ds[q] = a.i[6 + m.k + q]; }
  if (tuples <= 0 || m.slice <= 0) return;
  const long long work = red ? m.slice : tuples * m.slice;
  scatterNDKernel<<<typedGrid(work), kTypedThreads, 0, a.stream>>>(tuples, dt, it, red, m, a.ptr[0], a.ptr[1], a.ptr[2]);
}

void launchTrilu(const LaunchArgs& a) {
  needInts("trilu", a, 6, 2);
  requirePtrs("trilu", a, {0, 1});
  const long long n = a.i[0];
  if (a.i[2] < 1 || a.i[3] < 1) throw std::runtime_error("trilu: rows and cols must be positive");
  if (n <= 0) return;
  TWINFER_BY_SIZE(a.i[1], T, triluKernel<T><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, a.i[2], a.i[3], a.i[4], a.i[5] != 0, static_cast<const T*>(a.ptr[0]), static_cast<T*>(a.ptr[1])));
}

void launchOneHot(const LaunchArgs& a) {
  needInts("oneHot", a, 5, 3);
  requirePtrs("oneHot", a, {0, 1, 2});
  const long long n = a.i[0];
  const int it = checkDType("oneHot", a.i[2]);
  if (a.i[3] < 1 || a.i[4] < 1) throw std::runtime_error("oneHot: depth and inner must be positive");
  if (n <= 0) return;
  TWINFER_BY_SIZE(a.i[1], T, oneHotKernel<T><<<typedGrid(n), kTypedThreads, 0, a.stream>>>(n, it, a.i[3], a.i[4], a.ptr[0], static_cast<const T*>(a.ptr[1]), static_cast<T*>(a.ptr[2])));
}

}  // namespace

void registerMovement(Registry& r) {
  r["copy"] = {launchCopy, 0};
  r["pad"] = {launchPad, 0};
  r["gather"] = {launchGather, 0};
  r["gatherElements"] = {launchGatherElements, 0};
  r["gatherND"] = {launchGatherND, 0};
  r["scatterElements"] = {launchScatterElements, 0};
  r["scatterND"] = {launchScatterND, 0};
  r["trilu"] = {launchTrilu, 0};
  r["oneHot"] = {launchOneHot, 0};
}

}  // namespace twinfer
