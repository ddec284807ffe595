// Shared declarations of the addon: the kernel launch ABI and the kernel registry.
//
// A kernel is launched by name with three flat parameter lists, the same shape as a Step of the
// static program (../../docs/architecture.md): integer params, float params, and bindings (device
// pointers, nullptr where an optional tensor is absent). The TypeScript side builds these lists
// (backends/native/kernels.ts); each launcher checks their lengths before touching memory.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace twinfer {

struct LaunchArgs {
  int code;  // which variant of the launcher (e.g. the unary function), from the registry entry
  const std::vector<int64_t>& i;
  const std::vector<float>& f;
  const std::vector<void*>& ptr;
  cudaStream_t stream;
};

using LaunchFn = void (*)(const LaunchArgs&);

struct KernelEntry {
  LaunchFn fn;
  int code;
};

// Kernel name -> launcher. Filled once by the register* functions below (one per source file).
using Registry = std::map<std::string, KernelEntry>;

void registerElementwise(Registry& r);
void registerGemm(Registry& r);
void registerConv(Registry& r);
void registerTyped(Registry& r);
void registerMovement(Registry& r);
void registerReduce(Registry& r);
void registerNorm(Registry& r);
void registerQConv(Registry& r);
void registerNhwc(Registry& r);

// "cudaErrorInsufficientDriver (35): CUDA driver version is insufficient for CUDA runtime version"
std::string cudaErrorText(cudaError_t e);

// Throws std::runtime_error with cudaErrorText when e is not cudaSuccess.
void check(cudaError_t e, const char* what);

// A parameter-list length check for launchers: throws naming the kernel.
void needArgs(const char* kernel, const LaunchArgs& a, size_t ni, size_t nf, size_t nptr);

// Throws when one of the listed bindings (indices into a.ptr) is null.
void requirePtrs(const char* kernel, const LaunchArgs& a, std::initializer_list<int> required);

// A unary-function code from a parameter list, checked against the table (throws when unknown).
int checkFn(const char* kernel, int64_t code);

// Unary functions shared by the element-wise kernels and the GEMM / conv epilogues, in the order of
// the enum in activation.cuh. The addon exports this list so TypeScript never hard-codes the codes.
extern const char* const kFunctionNames[];
extern const int kFunctionCount;

// The conv tactic timing cache (conv.cu): each decision as a line "conv2d <17 ints>: cudnn <algo>" or
// "conv2d <17 ints>: own"; loading returns the lines accepted (malformed ones are skipped). Empty / 0
// in a build without cuDNN.
std::vector<std::string> convTimingCacheLines();
int convTimingCacheLoad(const std::vector<std::string>& lines);
struct ConvTimingStats {
  int timed;   // shapes timed in this process
  int reused;  // shapes decided from loaded lines
};
ConvTimingStats convTimingStats();
// The same for GEMM shapes (gemm.cu, cuBLASLt against the own kernel): "gemm <8 ints>: cublaslt" / ": own".
std::vector<std::string> gemmTimingCacheLines();
int gemmTimingCacheLoad(const std::vector<std::string>& lines);
ConvTimingStats gemmTimingStats();

// Optional libraries, opened at run time (never linked) with one list of sonames each, shared by
// probe() and the tactics that use them (conv.cu: cuDNN, gemm.cu: cuBLASLt). The handle stays open
// for the process; nullptr when none of the names opens. `soname`: the name that opened, or "".
enum class OptionalLibrary { Cudnn, CublasLt };
void* optionalLibrary(OptionalLibrary which, std::string* soname = nullptr);

// Whether the environment variable `name` is set and starts with `c` (the TWINFER_* switches).
bool envStartsWith(const char* name, char c);
// TWINFER_CONV_VERBOSE=1: the tactic choices (conv, GEMM, cuDNN graphs) print what they saw. Read once.
bool tacticVerbose();

// Resolves `name` from `handle` into `f`; false (f nullptr) when the library lacks it.
void* dlsymOf(void* handle, const char* name);
template <class F>
bool resolveSymbol(void* handle, F& f, const char* name) {
  f = reinterpret_cast<F>(dlsymOf(handle, name));
  return f != nullptr;
}

// Timing-cache lines, the format both tactic caches (conv.cu, gemm.cu) write and read:
// "<kernel> <int> <int> ...: <choice>". parseTacticLine returns false for another kernel's line, a
// line that is not of this form, or one with another count of ints than `ints`.
std::string tacticLine(const char* kernel, const std::vector<long long>& shape, const std::string& choice);
bool parseTacticLine(const std::string& line, const char* kernel, size_t ints, std::vector<long long>& shape, std::string& choice);

// Flags of the float kernels that run float16 values stored as f32 (conv2d, gemm): TF32 tensor
// cores allowed (float16 values are exact in TF32), and a float16 output rounded in the store.
constexpr int64_t kFlagTf32 = 1, kFlagF16Out = 2;
// The flags parameter checked; TF32 also when TWINFER_TF32=1 allows it for float32.
struct LowpFlags {
  bool tf32;
  bool f16Out;
};
LowpFlags lowpFlags(const char* kernel, int64_t flags);

}  // namespace twinfer
