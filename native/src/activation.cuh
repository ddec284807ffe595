// Device-side unary functions: the element-wise ops and the fused epilogue activations share them,
// so a fused Conv+Relu and a Conv followed by a Relu compute exactly the same thing. Formulas and
// NaN handling follow the CPU reference (backends/cpu/elementwise-unary.ts, epilogue.ts); math is
// f32 with the precise CUDA functions (no --use_fast_math).
#pragma once

#include <cuda_fp16.h>

#include <cuda_runtime.h>

#include "functions.h"

namespace twinfer {

enum Fn : int {
#define TWINFER_ENUM(name) FN_##name,
  TWINFER_FUNCTIONS(TWINFER_ENUM)
#undef TWINFER_ENUM
  FN_COUNT
};

__device__ __forceinline__ float softplusf(float x) {
  return x > 0.f ? x + log1pf(expf(-x)) : log1pf(expf(x));
}

__device__ __forceinline__ float applyFn(int fn, float x, float a, float b) {
  switch (fn) {
    case FN_Identity: return x;
    case FN_Relu: return x > 0.f ? x : (x != x ? x : 0.f);
    case FN_Sigmoid: return 1.f / (1.f + expf(-x));
    case FN_Tanh: return tanhf(x);
    case FN_HardSwish: return x * fminf(fmaxf(x / 6.f + 0.5f, 0.f), 1.f);
    case FN_Silu: return x / (1.f + expf(-x));
    case FN_LeakyRelu: return x < 0.f ? a * x : x;
    case FN_Elu: return x >= 0.f ? x : a * expm1f(x);
    case FN_Gelu: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
    case FN_GeluTanh: return 0.5f * x * (1.f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case FN_Clip: return x != x ? x : fminf(fmaxf(x, a), b);
    case FN_HardSigmoid: { const float v = a * x + b; return v != v ? v : fminf(fmaxf(v, 0.f), 1.f); }
    case FN_Affine: return a * x + b;
    case FN_Abs: return fabsf(x);
    case FN_Neg: return -x;
    case FN_Exp: return expf(x);
    case FN_Log: return logf(x);
    case FN_Sqrt: return sqrtf(x);
    case FN_Reciprocal: return 1.f / x;
    case FN_Floor: return floorf(x);
    case FN_Ceil: return ceilf(x);
    case FN_Round: return rintf(x);  // half to even (the default rounding mode)
    case FN_Sign: return x > 0.f ? 1.f : x < 0.f ? -1.f : x;
    case FN_Sin: return sinf(x);
    case FN_Cos: return cosf(x);
    case FN_Tan: return tanf(x);
    case FN_Asin: return asinf(x);
    case FN_Acos: return acosf(x);
    case FN_Atan: return atanf(x);
    case FN_Sinh: return sinhf(x);
    case FN_Cosh: return coshf(x);
    case FN_Asinh: return asinhf(x);
    case FN_Acosh: return acoshf(x);
    case FN_Atanh: return atanhf(x);
    case FN_Erf: return erff(x);
    case FN_Softplus: return softplusf(x);
    case FN_Softsign: return x / (1.f + fabsf(x));
    case FN_Mish: return x * tanhf(softplusf(x));
    case FN_Selu: return x > 0.f ? b * x : b * a * expm1f(x);
    case FN_Celu: return x > 0.f ? x : a * expm1f(x / a);
    case FN_ThresholdedRelu: return x > a ? x : 0.f;
    case FN_Not: return x == 0.f ? 1.f : 0.f;
    case FN_IsNaN: return x != x ? 1.f : 0.f;
    case FN_IsInf: return (a != 0.f && x == __int_as_float(0x7f800000)) || (b != 0.f && x == __int_as_float(0xff800000)) ? 1.f : 0.f;
    default: return __int_as_float(0x7fc00000);  // unreachable: launchers check the code
  }
}

// The fused epilogue of twinfer.Fused* (src/ir/ops/fused.ts):
//   y = post(act(acc + bias) + z)
// where act/post are FN_Identity when absent and z is 0 when there is no residual.
struct Epilogue {
  int act, post;
  float a0, a1, p0, p1;
};

__device__ __forceinline__ float applyEpilogue(const Epilogue& e, float v, const float* z, long long zi) {
  v = applyFn(e.act, v, e.a0, e.a1);
  if (z) v += z[zi];
  return applyFn(e.post, v, e.p0, e.p1);
}

// A stored value of a float16 tensor (kept as f32 on the device) rounds to float16, to nearest even,
// as the CPU reference's float16 storage does: conv2d and gemm with their float16-output flag.
__device__ __forceinline__ float storeLowp(float v, bool f16) { return f16 ? __half2float(__float2half_rn(v)) : v; }

}  // namespace twinfer
