// The unary functions of the element-wise kernels and the fused epilogues, as one X-macro list so
// the enum (activation.cuh) and the names exported to TypeScript cannot disagree. Parameters a, b
// are the ONNX attributes in the order given (e.g. Selu: alpha, gamma; Clip: min, max).
#pragma once

#define TWINFER_FUNCTIONS(X) \
  X(Identity)                \
  X(Relu)                    \
  X(Sigmoid)                 \
  X(Tanh)                    \
  X(HardSwish)               \
  X(Silu)                    \
  X(LeakyRelu)   /* a */     \
  X(Elu)         /* a */     \
  X(Gelu)        /* erf */   \
  X(GeluTanh)                \
  X(Clip)        /* a, b */  \
  X(HardSigmoid) /* a, b */  \
  X(Affine)      /* a*x+b */ \
  X(Abs)                     \
  X(Neg)                     \
  X(Exp)                     \
  X(Log)                     \
  X(Sqrt)                    \
  X(Reciprocal)              \
  X(Floor)                   \
  X(Ceil)                    \
  X(Round)                   \
  X(Sign)                    \
  X(Sin)                     \
  X(Cos)                     \
  X(Tan)                     \
  X(Asin)                    \
  X(Acos)                    \
  X(Atan)                    \
  X(Sinh)                    \
  X(Cosh)                    \
  X(Asinh)                   \
  X(Acosh)                   \
  X(Atanh)                   \
  X(Erf)                     \
  X(Softplus)                \
  X(Softsign)                \
  X(Mish)                    \
  X(Selu)        /* a, g */  \
  X(Celu)        /* a */     \
  X(ThresholdedRelu) /* a */ \
  X(Not)         /* x == 0 */ \
  X(IsNaN)                   \
  X(IsInf)       /* a: +inf, b: -inf */

// Binary element-wise operations (f32, with broadcasting).
#define TWINFER_BINARY(X) \
  X(Add)                  \
  X(Sub)                  \
  X(Mul)                  \
  X(Div)                  \
  X(Pow)                  \
  X(Max)                  \
  X(Min)                  \
  X(PRelu)

// Binary ops of the typed kernel `binaryT` (dtype-aware, native/src/typed.cu): the f32 list first, in
// the same order, then integer / comparison / logic ops (comparisons and logic produce bool).
#define TWINFER_TYPED_BINARY(X) \
  X(Add)                        \
  X(Sub)                        \
  X(Mul)                        \
  X(Div)                        \
  X(Pow)                        \
  X(Max)                        \
  X(Min)                        \
  X(PRelu)                      \
  X(Mod)                        \
  X(FMod)                       \
  X(Equal)                      \
  X(Less)                       \
  X(LessOrEqual)                \
  X(Greater)                    \
  X(GreaterOrEqual)             \
  X(And)                        \
  X(Or)                         \
  X(Xor)                        \
  X(SafeDiv) /* x / y, 0 where y == 0 (LpNormalization) */
