// SGEMM with batches, broadcasting and the fused epilogue: Gemm, MatMul, FusedGemm, FusedMatMul.
//
//   gemm  ints   [M, N, K, transA, transB, lda, ldb,
//                 batchDims[4], aBatchStrides[4], bBatchStrides[4],   (outer batch axes, padded with 1 / 0)
//                 biasStrideM, biasStrideN, act, post, flags]
//         floats [alpha, beta, act a, act b, post a, post b]
//         ptrs   [A, B, bias?, Z?, Y]
//
//   Y[z](m, n) = post(act(alpha * sum_k op(A)[z](m, k) op(B)[z](k, n) + beta * bias[m*bsM + n*bsN]) + Z[z](m, n))
//
// flags (common.h): 1 = TF32 tensor cores allowed (float16 values, exact in TF32; or TWINFER_TF32=1):
// the own kernel's mma.sync body and cuBLASLt's FAST_TF32 compute; 2 = a float16 output, rounded in the store.
// Y and Z are contiguous [batches, M, N]; A and B are row-major with leading dimensions lda / ldb
// (op = transpose when trans*), offset per batch by the broadcast strides (0 along broadcast axes).
//
// Tactics: where the build found cublasLt.h (TWINFER_HAVE_CUBLASLT) and libcublasLt opens at run
// time (dlopen, never linked), the first launch of each GEMM shape times cuBLASLt's best heuristic
// algorithm (plain FP32 compute; the product alone, then one element-wise pass for alpha, bias,
// activation and residual) against the own tiled kernel and keeps the faster, as conv.cu does with
// cuDNN; the decisions join the timing cache ("gemm <ints>: cublaslt" / ": own"). Only one problem
// (batches folded into M where B is shared and A contiguous) goes to cuBLASLt; other batched shapes
// stay on the own kernel. TWINFER_GEMM_TACTIC=own|cublaslt forces one.
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>
#if TWINFER_HAVE_CUBLASLT
#include <cublasLt.h>
#endif

#include "activation.cuh"
#include "common.h"
#include "gemm.cuh"

namespace twinfer {
namespace {

constexpr int kBatchRank = 4;

struct BatchMap {
  int dims[kBatchRank];
  long long as[kBatchRank];
  long long bs[kBatchRank];
};

struct LoadA {
  const float* p;
  BatchMap bm;
  int lda;
  bool trans;
  bool kFast;
  long long off;
  __device__ void setZ(int z) {
    off = 0;
    for (int d = kBatchRank - 1; d >= 0; d--) { off += (z % bm.dims[d]) * bm.as[d]; z /= bm.dims[d]; }
  }
  __device__ float operator()(int m, int k) const {
    return p[off + (trans ? static_cast<long long>(k) * lda + m : static_cast<long long>(m) * lda + k)];
  }
};

struct LoadB {
  const float* p;
  BatchMap bm;
  int ldb;
  bool trans;
  bool nFast;
  long long off;
  __device__ void setZ(int z) {
    off = 0;
    for (int d = kBatchRank - 1; d >= 0; d--) { off += (z % bm.dims[d]) * bm.bs[d]; z /= bm.dims[d]; }
  }
  __device__ float operator()(int k, int n) const {
    return p[off + (trans ? static_cast<long long>(n) * ldb + k : static_cast<long long>(k) * ldb + n)];
  }
};

struct StoreY {
  float* y;
  const float* bias;
  const float* z;
  int M, N;
  long long bsM, bsN;
  float alpha, beta;
  Epilogue e;
  bool f16;
  long long off;
  __device__ void setZ(int zi) { off = static_cast<long long>(zi) * M * N; }
  __device__ void operator()(int m, int n, float acc) const {
    float v = alpha * acc;
    if (bias) v += beta * bias[m * bsM + n * bsN];
    const long long i = off + static_cast<long long>(m) * N + n;
    y[i] = storeLowp(applyEpilogue(e, v, z, i), f16);
  }
};

#if TWINFER_HAVE_CUBLASLT
// cuBLASLt entry points, resolved with dlsym so the addon never links (or needs) libcublasLt.
struct LtApi {
  bool ok = false;
  decltype(&cublasLtCreate) create;
  decltype(&cublasLtMatmulDescCreate) descCreate;
  decltype(&cublasLtMatmulDescSetAttribute) descSet;
  decltype(&cublasLtMatrixLayoutCreate) layoutCreate;
  decltype(&cublasLtMatmulPreferenceCreate) prefCreate;
  decltype(&cublasLtMatmulPreferenceSetAttribute) prefSet;
  decltype(&cublasLtMatmulAlgoGetHeuristic) heuristic;
  decltype(&cublasLtMatmul) matmul;
};

const LtApi& ltApi() {
  static const LtApi api = [] {
    LtApi a;
    void* h = optionalLibrary(OptionalLibrary::CublasLt);
    if (!h) return a;
    bool all = true;
    auto sym = [&](auto& f, const char* name) { all = resolveSymbol(h, f, name) && all; };
    sym(a.create, "cublasLtCreate"); sym(a.descCreate, "cublasLtMatmulDescCreate"); sym(a.descSet, "cublasLtMatmulDescSetAttribute");
    sym(a.layoutCreate, "cublasLtMatrixLayoutCreate"); sym(a.prefCreate, "cublasLtMatmulPreferenceCreate");
    sym(a.prefSet, "cublasLtMatmulPreferenceSetAttribute"); sym(a.heuristic, "cublasLtMatmulAlgoGetHeuristic"); sym(a.matmul, "cublasLtMatmul");
    a.ok = all;
    return a;
  }();
  return api;
}

void ltCheck(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) throw std::runtime_error(std::string("cuBLASLt ") + what + ": status " + std::to_string(static_cast<int>(s)));
}

// One GEMM shape's cuBLASLt plan: descriptors and the heuristic's algorithm.
struct LtPlan {
  bool use = false;
  cublasLtMatmulDesc_t desc{};
  cublasLtMatrixLayout_t aL{}, bL{}, dL{};
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
};

// y = post(act(alpha * y + beta * bias[m * bsM + n * bsN]) + z) in place, after cuBLASLt's product.
__global__ void gemmEpilogue(float* y, const float* bias, const float* z, int M, int N, long long bsM, long long bsN, float alpha, float beta, Epilogue e, bool f16, long long total) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  const long long mn = i % (static_cast<long long>(M) * N);
  const int m = static_cast<int>(mn / N), n = static_cast<int>(mn % N);
  float v = alpha * y[i];
  if (bias) v += beta * bias[m * bsM + n * bsN];
  y[i] = storeLowp(applyEpilogue(e, v, z, i), f16);
}


struct GemmDecision { bool lt; bool loaded; };
std::map<std::vector<long long>, GemmDecision>& gemmDecisions() {
  static std::map<std::vector<long long>, GemmDecision> d;
  return d;
}
int gemmTimed = 0, gemmReused = 0;

// Row-major Y[M,N] = op(A)[M,K] op(B)[K,N] is column-major Y^T = op(B)^T op(A)^T: cuBLASLt's first
// operand is B's memory (N x K after its op), the second A's (K x M), D is N x M with ld N.
void runLt(const LtApi& api, cublasLtHandle_t h, const LtPlan& p, const float* A, const float* B, float* Y, cudaStream_t stream) {
  void* ws = nullptr;
  if (p.workspace && cudaMallocAsync(&ws, p.workspace, stream) != cudaSuccess) throw std::runtime_error("gemm: cuBLASLt workspace allocation failed");
  const float one = 1.f, zero = 0.f;
  const cublasStatus_t s = api.matmul(h, p.desc, &one, B, p.bL, A, p.aL, &zero, Y, p.dL, Y, p.dL, &p.algo, ws, p.workspace, stream);
  if (ws) cudaFreeAsync(ws, stream);
  ltCheck(s, "cublasLtMatmul");
}

// Chooses (once per shape and stream) and runs the faster tactic for one problem. False: own kernel.
template <class RunOwn>
bool tryLt(int M, int N, int K, bool transA, bool transB, int lda, int ldb, const float* A, const float* B, float* Y,
           const float* bias, const float* z, long long bsM, long long bsN, float alpha, float beta, const Epilogue& e, bool tf32, bool f16,
           cudaStream_t stream, const RunOwn& runOwn) {
  const char* forced = std::getenv("TWINFER_GEMM_TACTIC");
  const std::string mode = forced ? forced : "auto";
  if (mode == "own") return false;
  const LtApi& api = ltApi();
  if (!api.ok) return false;
  // The plan asks for 16-byte aligned operands (views may start anywhere in a pooled buffer).
  if ((reinterpret_cast<uintptr_t>(A) | reinterpret_cast<uintptr_t>(B) | reinterpret_cast<uintptr_t>(Y)) % 16 != 0) return false;
  static std::map<cudaStream_t, cublasLtHandle_t> handles;
  static std::map<std::vector<long long>, LtPlan> plans;
  cublasLtHandle_t& h = handles[stream];
  if (!h) ltCheck(api.create(&h), "cublasLtCreate");
  const std::vector<long long> shape{M, N, K, transA, transB, lda, ldb, tf32};
  std::vector<long long> key = shape;
  key.push_back(static_cast<long long>(reinterpret_cast<uintptr_t>(stream)));
  const long long total = static_cast<long long>(M) * N;
  const bool epi = bias || z || e.act != 0 || e.post != 0 || alpha != 1.f || f16;
  auto epilogue = [&] {
    if (epi) gemmEpilogue<<<static_cast<unsigned>((total + 255) / 256), 256, 0, stream>>>(Y, bias, z, M, N, bsM, bsN, alpha, beta, e, f16, total);
  };
  auto it = plans.find(key);
  if (it == plans.end()) {
    LtPlan p;
    ltCheck(api.descCreate(&p.desc, tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUDA_R_32F), "matmul descriptor");
    const cublasOperation_t opB = transB ? CUBLAS_OP_T : CUBLAS_OP_N, opA = transA ? CUBLAS_OP_T : CUBLAS_OP_N;
    ltCheck(api.descSet(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &opB, sizeof(opB)), "transA");
    ltCheck(api.descSet(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &opA, sizeof(opA)), "transB");
    // B's memory: row-major [K, N] (or [N, K] transposed) is column-major N x K (K x N) with ld ldb.
    ltCheck(api.layoutCreate(&p.bL, CUDA_R_32F, transB ? K : N, transB ? N : K, ldb), "B layout");
    ltCheck(api.layoutCreate(&p.aL, CUDA_R_32F, transA ? M : K, transA ? K : M, lda), "A layout");
    ltCheck(api.layoutCreate(&p.dL, CUDA_R_32F, N, M, N), "D layout");
    cublasLtMatmulPreference_t pref{};
    ltCheck(api.prefCreate(&pref), "preference");
    const uint64_t maxWs = 32ull << 20;
    ltCheck(api.prefSet(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &maxWs, sizeof(maxWs)), "workspace preference");
    const uint32_t align = 16;
    for (auto attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES}) {
      ltCheck(api.prefSet(pref, attr, &align, sizeof(align)), "alignment preference");
    }
    cublasLtMatmulHeuristicResult_t res[1];
    int found = 0;
    if (api.heuristic(h, p.desc, p.bL, p.aL, p.dL, p.dL, pref, 1, res, &found) == CUBLAS_STATUS_SUCCESS && found > 0 && res[0].state == CUBLAS_STATUS_SUCCESS) {
      p.algo = res[0].algo;
      p.workspace = res[0].workspaceSize;
      p.use = true;
    }
    auto known = gemmDecisions().find(shape);
    if (p.use && mode == "auto") {
      if (known != gemmDecisions().end()) {
        p.use = known->second.lt;
        if (known->second.loaded) gemmReused++;
        known->second.loaded = false;
      } else {
        const float tOwn = timeOnStream(stream, runOwn);
        const float tLt = timeOnStream(stream, [&] { runLt(api, h, p, A, B, Y, stream); epilogue(); });
        p.use = tLt < tOwn;
        gemmDecisions()[shape] = GemmDecision{p.use, false};
        gemmTimed++;
        if (tacticVerbose()) {
          std::fprintf(stderr, "gemm M%d N%d K%d tA%d tB%d tf32 %d: cublaslt %.3f ms, own %.3f ms -> %s\n", M, N, K, transA ? 1 : 0, transB ? 1 : 0, tf32 ? 1 : 0, tLt / 3, tOwn / 3,
                       p.use ? "cublaslt" : "own");
        }
      }
    }
    it = plans.emplace(key, p).first;
  }
  if (!it->second.use) return false;
  runLt(api, h, it->second, A, B, Y, stream);
  epilogue();
  return true;
}
#endif

void launchGemm(const LaunchArgs& a) {
  needArgs("gemm", a, 7 + 3 * kBatchRank + 5, 6, 5);
  requirePtrs("gemm", a, {0, 1, 4});
  const auto& i = a.i;
  const int M = static_cast<int>(i[0]), N = static_cast<int>(i[1]), K = static_cast<int>(i[2]);
  const bool transA = i[3] != 0, transB = i[4] != 0;
  BatchMap bm{};
  long long batches = 1;
  for (int d = 0; d < kBatchRank; d++) {
    bm.dims[d] = static_cast<int>(i[7 + d]);
    bm.as[d] = i[7 + kBatchRank + d];
    bm.bs[d] = i[7 + 2 * kBatchRank + d];
    if (bm.dims[d] < 1) throw std::runtime_error("gemm: batch dims must be positive");
    batches *= bm.dims[d];
  }
  const int t = 7 + 3 * kBatchRank;
  const Epilogue e{checkFn("gemm", i[t + 2]), checkFn("gemm", i[t + 3]), a.f[2], a.f[3], a.f[4], a.f[5]};
  const LoadA la{static_cast<const float*>(a.ptr[0]), bm, static_cast<int>(i[5]), transA, !transA, 0};
  const LoadB lb{static_cast<const float*>(a.ptr[1]), bm, static_cast<int>(i[6]), transB, !transB, 0};
  const LowpFlags flags = lowpFlags("gemm", i[t + 4]);
  const bool tf32 = flags.tf32, f16 = flags.f16Out;
  const StoreY st{static_cast<float*>(a.ptr[4]), static_cast<const float*>(a.ptr[2]), static_cast<const float*>(a.ptr[3]),
                  M, N, i[t], i[t + 1], a.f[0], a.f[1], e, f16, 0};
#if TWINFER_HAVE_CUBLASLT
  // One problem for cuBLASLt: no batch, or batches over a shared B (strides 0) with A contiguous
  // ([batches, M, K] row-major), folded into M. Bias by row cannot fold (its index is m * bsM).
  int Mf = M;
  bool single = batches == 1;
  if (!single && !transA && i[5] == K && i[t] == 0) {
    bool shared = true;
    long long expect = static_cast<long long>(M) * K;
    for (int d = kBatchRank - 1; d >= 0; d--) {
      if (bm.dims[d] == 1) continue;
      if (bm.bs[d] != 0 || bm.as[d] != expect) { shared = false; break; }
      expect *= bm.dims[d];
    }
    if (shared && batches * M <= 0x7fffffffLL) { single = true; Mf = static_cast<int>(batches * M); }
  }
  if (single && K > 0 && Mf > 0 && N > 0) {
    const auto runOwn = [&] { launchTiledGemm(M, N, K, batches, la, lb, st, a.stream, tf32); };
    if (tryLt(Mf, N, K, transA, transB, static_cast<int>(i[5]), static_cast<int>(i[6]), la.p, lb.p, st.y, st.bias, st.z, st.bsM, st.bsN,
              st.alpha, st.beta, e, tf32, f16, a.stream, runOwn)) return;
  }
#endif
  launchTiledGemm(M, N, K, batches, la, lb, st, a.stream, tf32);
}

}  // namespace

std::vector<std::string> gemmTimingCacheLines() {
  std::vector<std::string> out;
#if TWINFER_HAVE_CUBLASLT
  for (const auto& [shape, d] : gemmDecisions()) out.push_back(tacticLine("gemm", shape, d.lt ? "cublaslt" : "own"));
#endif
  return out;
}

int gemmTimingCacheLoad(const std::vector<std::string>& lines) {
  int accepted = 0;
#if TWINFER_HAVE_CUBLASLT
  std::vector<long long> shape;
  std::string what;
  for (const std::string& line : lines) {
    if (!parseTacticLine(line, "gemm", 8, shape, what) || (what != "cublaslt" && what != "own")) continue;
    // A decision timed in this process wins over the file's.
    if (gemmDecisions().emplace(shape, GemmDecision{what == "cublaslt", true}).second) accepted++;
  }
#endif
  return accepted;
}

ConvTimingStats gemmTimingStats() {
#if TWINFER_HAVE_CUBLASLT
  return {gemmTimed, gemmReused};
#else
  return {0, 0};
#endif
}

void registerGemm(Registry& r) { r["gemm"] = {launchGemm, 0}; }

}  // namespace twinfer
