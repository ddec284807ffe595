// Element types on the device and typed loads / stores, shared by the dtype-aware kernels.
//
// Type codes are ONNX's TensorProto.DataType values (the TypeScript side passes onnxCodeOf(dtype)).
// Device storage: float32 4 bytes; float16 and bfloat16 are stored as float32 holding values already
// rounded to the type (the host representation of src/ir/dtype.ts, so upload is a plain copy; every
// typed store rounds); float64 8; int8/uint8/bool 1 (bool is 0/1); int16/uint16 2; int32/uint32 4;
// int64/uint64 8 (real 64-bit integers: the host's Float64Array is converted at upload / download).
//
// float8 (e4m3fn 17, e4m3fnuz 18, e5m2 19, e5m2fnuz 20) and float4e2m1 (23) are stored as float32
// holding values on their grid (as the host), int4 / uint4 / int2 / uint2 (22, 21, 26, 25) as one
// byte per element (as the host's unpacked storage); stores round / wrap to the type. A store type
// with bit 0x100 set does not saturate (Cast's saturate = 0, float8 only).
//
// Math kernels load into a compute type C (float when every operand is float32/float16/bfloat16,
// double otherwise: exact for every integer up to 2^53, as the host representation) and store with
// the ONNX conversion: float -> int truncates toward zero and wraps (through int64), -> bool is != 0.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>

namespace twinfer {

enum DTypeCode : int {
  DT_F32 = 1, DT_U8 = 2, DT_I8 = 3, DT_U16 = 4, DT_I16 = 5, DT_I32 = 6, DT_I64 = 7,
  DT_BOOL = 9, DT_F16 = 10, DT_F64 = 11, DT_U32 = 12, DT_U64 = 13, DT_BF16 = 16,
  DT_F8E4M3FN = 17, DT_F8E4M3FNUZ = 18, DT_F8E5M2 = 19, DT_F8E5M2FNUZ = 20, DT_U4 = 21, DT_I4 = 22,
  DT_F4E2M1 = 23, DT_U2 = 25, DT_I2 = 26,
  DT_NOSAT = 0x100,
};

// Bytes per element on the device, 0 for a code with no device form.
inline int dtypeSize(int64_t t) {
  switch (t & ~static_cast<int64_t>(DT_NOSAT)) {
    case DT_U8: case DT_I8: case DT_BOOL: case DT_U4: case DT_I4: case DT_U2: case DT_I2: return 1;
    case DT_U16: case DT_I16: return 2;
    case DT_F32: case DT_F16: case DT_BF16: case DT_I32: case DT_U32:
    case DT_F8E4M3FN: case DT_F8E4M3FNUZ: case DT_F8E5M2: case DT_F8E5M2FNUZ: case DT_F4E2M1: return 4;
    case DT_F64: case DT_I64: case DT_U64: return 8;
    default: return 0;
  }
}

inline int checkDType(const char* kernel, int64_t t) {
  if (t < 0 || !dtypeSize(t)) throw std::runtime_error(std::string(kernel) + ": type code " + std::to_string(t) + " has no device form");
  return static_cast<int>(t);
}

__host__ __device__ inline bool isFloatFamily(int t) {
  t &= ~DT_NOSAT;
  return t == DT_F32 || t == DT_F16 || t == DT_BF16 || (t >= DT_F8E4M3FN && t <= DT_F8E5M2FNUZ) || t == DT_F4E2M1;
}
__host__ __device__ inline bool isIntCode(int t) { return !isFloatFamily(t) && (t & ~DT_NOSAT) != DT_F64; }

template <class C>
__device__ __forceinline__ C ldT(const void* p, int t, long long i) {
  switch (t & ~DT_NOSAT) {
    case DT_F32: case DT_F16: case DT_BF16:
    case DT_F8E4M3FN: case DT_F8E4M3FNUZ: case DT_F8E5M2: case DT_F8E5M2FNUZ: case DT_F4E2M1: return static_cast<C>(static_cast<const float*>(p)[i]);
    case DT_I4: case DT_I2: return static_cast<C>(static_cast<const int8_t*>(p)[i]);
    case DT_U4: case DT_U2: return static_cast<C>(static_cast<const uint8_t*>(p)[i]);
    case DT_F64: return static_cast<C>(static_cast<const double*>(p)[i]);
    case DT_I8: return static_cast<C>(static_cast<const int8_t*>(p)[i]);
    case DT_U8: case DT_BOOL: return static_cast<C>(static_cast<const uint8_t*>(p)[i]);
    case DT_I16: return static_cast<C>(static_cast<const int16_t*>(p)[i]);
    case DT_U16: return static_cast<C>(static_cast<const uint16_t*>(p)[i]);
    case DT_I32: return static_cast<C>(static_cast<const int32_t*>(p)[i]);
    case DT_U32: return static_cast<C>(static_cast<const uint32_t*>(p)[i]);
    case DT_I64: return static_cast<C>(static_cast<const long long*>(p)[i]);
    case DT_U64: return static_cast<C>(static_cast<const unsigned long long*>(p)[i]);
    default: return C(0);
  }
}

// float / double -> int64 with truncation toward zero (NaN and out-of-range give INT64_MIN, as numpy).
template <class C>
__device__ __forceinline__ long long toI64(C v) {
  if (!(v >= C(-9.2233720368547758e18) && v < C(9.2233720368547758e18))) return (long long)0x8000000000000000ULL;
  return static_cast<long long>(v);
}

// Rounds x to a narrow float format (the CPU's lowp.ts semantics: nearest even; fn types have no
// infinity, fnuz types no -0 and one NaN; float4 has no NaN (NaN -> -0) and always saturates).
__device__ __forceinline__ float roundNarrow(int t, double x, bool sat) {
  int mbits, bias;
  double maxv;
  bool hasInf = false, hasNaN = true, uz = false;
  switch (t) {
    case DT_F8E4M3FN: mbits = 3; bias = 7; maxv = 448; break;
    case DT_F8E4M3FNUZ: mbits = 3; bias = 8; maxv = 240; uz = true; break;
    case DT_F8E5M2: mbits = 2; bias = 15; maxv = 57344; hasInf = true; break;
    case DT_F8E5M2FNUZ: mbits = 2; bias = 16; maxv = 57344; uz = true; break;
    default: mbits = 1; bias = 1; maxv = 6; hasNaN = false; sat = true; break;
  }
  if (x != x) return hasNaN ? __int_as_float(0x7fc00000) : -0.f;
  const bool neg = signbit(x);
  const double a = fabs(x);
  double r = a;
  if (!isinf(a) && a > 0) {
    int e = ilogb(a);
    if (e < 1 - bias) e = 1 - bias;
    const double q = ldexp(1.0, e - mbits);
    r = rint(a / q) * q;  // half to even
  }
  if (r > maxv) {
    if (sat || !hasNaN) r = maxv;
    else if (hasInf) r = INFINITY;
    else return __int_as_float(0x7fc00000);
  }
  if (neg) return uz && r == 0 ? 0.f : static_cast<float>(-r);
  return static_cast<float>(r);
}

// Wraps an integer to `bits` bits (two's complement when signed); NaN / inf give 0 (the CPU reference).
template <class C>
__device__ __forceinline__ int8_t wrapBits(C v, int bits, bool sgn) {
  if (v != v || isinf(static_cast<double>(v))) return 0;
  const long long m = 1LL << bits;
  long long k = ((toI64(v) % m) + m) % m;
  if (sgn && k >= m / 2) k -= m;
  return static_cast<int8_t>(k);
}

template <class C>
__device__ __forceinline__ void stT(void* p, int t, long long i, C v) {
  const bool sat = !(t & DT_NOSAT);
  switch (t & ~DT_NOSAT) {
    case DT_F8E4M3FN: case DT_F8E4M3FNUZ: case DT_F8E5M2: case DT_F8E5M2FNUZ: case DT_F4E2M1:
      static_cast<float*>(p)[i] = roundNarrow(t & ~DT_NOSAT, static_cast<double>(v), sat); break;
    case DT_I4: static_cast<int8_t*>(p)[i] = wrapBits(v, 4, true); break;
    case DT_U4: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(wrapBits(v, 4, false)); break;
    case DT_I2: static_cast<int8_t*>(p)[i] = wrapBits(v, 2, true); break;
    case DT_U2: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(wrapBits(v, 2, false)); break;
    case DT_F32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
    case DT_F16: static_cast<float*>(p)[i] = __half2float(__double2half(static_cast<double>(v))); break;
    case DT_BF16: static_cast<float*>(p)[i] = __bfloat162float(__double2bfloat16(static_cast<double>(v))); break;
    case DT_F64: static_cast<double*>(p)[i] = static_cast<double>(v); break;
    case DT_BOOL: static_cast<uint8_t*>(p)[i] = v != C(0) ? 1 : 0; break;
    case DT_I8: static_cast<int8_t*>(p)[i] = static_cast<int8_t>(toI64(v)); break;
    case DT_U8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(toI64(v)); break;
    case DT_I16: static_cast<int16_t*>(p)[i] = static_cast<int16_t>(toI64(v)); break;
    case DT_U16: static_cast<uint16_t*>(p)[i] = static_cast<uint16_t>(toI64(v)); break;
    case DT_I32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(toI64(v)); break;
    case DT_U32: static_cast<uint32_t*>(p)[i] = static_cast<uint32_t>(toI64(v)); break;
    case DT_I64: static_cast<long long*>(p)[i] = toI64(v); break;
    case DT_U64: {
      const double d = static_cast<double>(v);
      static_cast<unsigned long long*>(p)[i] = d >= 9.2233720368547758e18 && d < 1.8446744073709552e19 ? static_cast<unsigned long long>(d) : static_cast<unsigned long long>(toI64(v));
      break;
    }
    default: break;
  }
}

// An index tensor (int32 or int64) element as a long long.
__device__ __forceinline__ long long ldIdx(const void* p, int t, long long i) {
  return t == DT_I32 ? static_cast<long long>(static_cast<const int32_t*>(p)[i]) : static_cast<const long long*>(p)[i];
}

// Whether the kernel computes in double: any operand outside the float32 family.
inline bool wantsDouble(std::initializer_list<int> types) {
  for (int t : types) if (!isFloatFamily(t)) return true;
  return false;
}

constexpr int kTypedThreads = 256;

inline unsigned typedGrid(long long n) {
  const long long b = (n + kTypedThreads - 1) / kTypedThreads;
  return static_cast<unsigned>(b < 1 ? 1 : b > (1 << 20) ? (1 << 20) : b);
}

#define TWINFER_GRID_LOOP(i, n) for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

// Up to 12 axes (Tile and DepthToSpace double the rank) for index arithmetic passed by value.
constexpr int kMaxAxes = 12;

struct Axes {
  int rank;
  long long dims[kMaxAxes];
};

}  // namespace twinfer
