// Convolution (1-D and 2-D, NCHW, any groups, pads, strides, dilations) as an implicit GEMM with the
// fused epilogue: Conv and twinfer.FusedConv.
//
//   conv2d  ints   [N, C, H, W, K, P, Q, R, S, strideH, strideW, padTop, padLeft, dilH, dilW, groups, act, post, flags]
//           floats [act a, act b, post a, post b]
//           ptrs   [X, W, bias?, Z?, Y]
//
// Per group g, a GEMM of M = K/groups output channels by N*P*Q output pixels over (C/groups)*R*S
// taps: A is the weight tensor as it is ([K, C/groups, R, S] is row-major (m, k) per group), B the
// im2col matrix gathered on the fly from X (zero outside the padded input), and the store adds the
// bias, applies the activation, the residual Z and the post-activation, and writes Y[N, K, P, Q].
// 1-D convs arrive as H = P = R = 1. Pads at the end are implied by P and Q.
//
//   convTranspose  ints [N, C, M, groups, then per axis of 3 (front-padded with 1 / 0): in, out, kernel,
//                        stride, padBegin, dilation]   ptrs [X, W, bias?, Y]
//
// ConvTranspose (1 to 3 spatial axes) as a direct gather, one thread per output: y[n, m, o] sums
// x[n, c, i] * W[c, m % (M/groups), k] over the group's input channels c and the taps k with
// o = i * stride - padBegin + k * dilation. W is [C, M/groups, k...]. f32 storage (float16 callers
// round the output afterwards). A simple kernel for coverage, not a tuned one.
//
// Conv tactics: where the build found cuDNN's headers (TWINFER_HAVE_CUDNN, CUDNN_ROOT) and libcudnn
// opens at run time (dlopen, never linked), the first launch of each convolution shape times the
// implicit GEMM against cuDNN's fastest algorithm (cudnnFindConvolutionForwardAlgorithm) on the
// actual GPU and keeps the faster for the process: TensorRT's per-layer auto-tuning, in small.
// `flags` (common.h) bit 0 (kFlagTf32): TF32 tensor cores are allowed: cuDNN with CUDNN_TENSOR_OP_MATH and the
// own implicit GEMM on mma.sync (gemm.cuh tiledGemmBodyTC); else both compute in plain FP32. The lowering sets it for float16 tensors (stored as f32 holding
// float16 values: their 11-bit significands are exact in TF32's, so TF32 products of them lose
// nothing) and TWINFER_TF32=1 allows TF32 for float32 too. Bit 1 (kFlagF16Out): the output is a
// float16 tensor, rounded to float16 in the store (one pass instead of a second kernel). The bias and epilogue then run as one element-wise
// kernel. TWINFER_CONV_TACTIC=own|cudnn forces one. Asymmetric pads (cuDNN pads both sides alike)
// always take the implicit GEMM.
//
// Timing cache: every decision (shape + math -> cuDNN algorithm or own) is kept for the process and
// exported as text lines (convTimingCacheLines, "conv2d <17 ints>: cudnn <algo>" or ": own"); lines
// loaded back (convTimingCacheLoad, from a file the TypeScript side keeps per GPU and cuDNN) are
// used without cudnnFind or timing, which is what makes a second build of a similar model fast.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>
#if TWINFER_HAVE_CUDNN
#include <cudnn.h>
#endif

#include "activation.cuh"
#if TWINFER_HAVE_CUDNN
#include "cudnn_graph.h"
#endif
#include "common.h"
#include "gemm.cuh"

namespace twinfer {
namespace {

struct ConvGeom {
  int N, C, H, W, K, P, Q, R, S, sh, sw, ph, pw, dh, dw, groups, Cg, Mg;
};

struct LoadW {
  const float* w;
  int taps;  // Cg * R * S: one output channel's weights
  int Mg;
  bool kFast;
  long long off;
  __device__ void setZ(int g) { off = static_cast<long long>(g) * Mg * taps; }
  __device__ float operator()(int m, int k) const { return w[off + static_cast<long long>(m) * taps + k]; }
};

struct LoadIm2col {
  const float* x;
  ConvGeom g;
  bool nFast;
  int c0;  // first input channel of the group
  __device__ void setZ(int grp) { c0 = grp * g.Cg; }
  __device__ float operator()(int k, int n) const {
    const int RS = g.R * g.S, PQ = g.P * g.Q;
    const int c = k / RS, rs = k - c * RS, r = rs / g.S, s = rs - r * g.S;
    const int b = n / PQ, pq = n - b * PQ, p = pq / g.Q, q = pq - p * g.Q;
    const int h = p * g.sh - g.ph + r * g.dh;
    const int w = q * g.sw - g.pw + s * g.dw;
    if (h < 0 || h >= g.H || w < 0 || w >= g.W) return 0.f;
    return x[((static_cast<long long>(b) * g.C + c0 + c) * g.H + h) * g.W + w];
  }
};

struct StoreNCHW {
  float* y;
  const float* bias;
  const float* z;
  ConvGeom g;
  Epilogue e;
  bool f16;
  int k0;  // first output channel of the group
  __device__ void setZ(int grp) { k0 = grp * g.Mg; }
  __device__ void operator()(int m, int n, float acc) const {
    const int PQ = g.P * g.Q;
    const int b = n / PQ, pq = n - b * PQ;
    const int k = k0 + m;
    const long long i = (static_cast<long long>(b) * g.K + k) * PQ + pq;
    const float v = bias ? acc + bias[k] : acc;
    y[i] = storeLowp(applyEpilogue(e, v, z, i), f16);
  }
};

struct ConvJob {
  ConvGeom g;
  Epilogue e;
  bool tf32;
  bool f16out;
  const float* x;
  const float* w;
  const float* bias;
  const float* z;
  float* y;
  cudaStream_t stream;
};

void runOwn(const ConvJob& j) {
  const long long gemmN = static_cast<long long>(j.g.N) * j.g.P * j.g.Q;
  const long long gemmK = static_cast<long long>(j.g.Cg) * j.g.R * j.g.S;
  const LoadW la{j.w, static_cast<int>(gemmK), j.g.Mg, true, 0};
  const LoadIm2col lb{j.x, j.g, true, 0};
  const StoreNCHW st{j.y, j.bias, j.z, j.g, j.e, j.f16out, 0};
  // TF32 allowed: the tensor-core body of the same implicit GEMM (gemm.cuh).
  launchTiledGemm(j.g.Mg, static_cast<int>(gemmN), static_cast<int>(gemmK), j.g.groups, la, lb, st, j.stream, j.tf32);
}

#if TWINFER_HAVE_CUDNN
// y = post(act(y + bias[k]) + z) in place, after cuDNN's plain convolution.
__global__ void convEpilogue(float* y, const float* bias, const float* z, Epilogue e, bool f16, long long total, int K, int PQ) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  const int k = static_cast<int>((i / PQ) % K);
  const float v = bias ? y[i] + bias[k] : y[i];
  y[i] = storeLowp(applyEpilogue(e, v, z, i), f16);
}

// cuDNN entry points, resolved with dlsym so the addon never links (or needs) libcudnn.
struct CudnnApi {
  bool ok = false;
  decltype(&cudnnCreate) create;
  decltype(&cudnnSetStream) setStream;
  decltype(&cudnnGetErrorString) errorString;
  decltype(&cudnnCreateTensorDescriptor) createTensor;
  decltype(&cudnnSetTensor4dDescriptor) setTensor4d;
  decltype(&cudnnCreateFilterDescriptor) createFilter;
  decltype(&cudnnSetFilter4dDescriptor) setFilter4d;
  decltype(&cudnnCreateConvolutionDescriptor) createConv;
  decltype(&cudnnSetConvolution2dDescriptor) setConv2d;
  decltype(&cudnnSetConvolutionGroupCount) setGroups;
  decltype(&cudnnSetConvolutionMathType) setMath;
  decltype(&cudnnGetConvolution2dForwardOutputDim) outputDim;
  decltype(&cudnnFindConvolutionForwardAlgorithm) findAlgo;
  decltype(&cudnnGetConvolutionForwardWorkspaceSize) workspaceSize;
  decltype(&cudnnConvolutionForward) forward;
  // The fused convolution + bias + z + activation (packed float16 form only; optional).
  bool fused = false;
  decltype(&cudnnCreateActivationDescriptor) createAct;
  decltype(&cudnnSetActivationDescriptor) setAct;
  decltype(&cudnnConvolutionBiasActivationForward) biasAct;
};

const CudnnApi& cudnnApi() {
  static const CudnnApi api = [] {
    CudnnApi a;
    void* h = optionalLibrary(OptionalLibrary::Cudnn);
    if (!h) return a;
    bool all = true;
    auto sym = [&](auto& f, const char* name) { all = resolveSymbol(h, f, name) && all; };
    sym(a.create, "cudnnCreate"); sym(a.setStream, "cudnnSetStream"); sym(a.errorString, "cudnnGetErrorString");
    sym(a.createTensor, "cudnnCreateTensorDescriptor"); sym(a.setTensor4d, "cudnnSetTensor4dDescriptor");
    sym(a.createFilter, "cudnnCreateFilterDescriptor"); sym(a.setFilter4d, "cudnnSetFilter4dDescriptor");
    sym(a.createConv, "cudnnCreateConvolutionDescriptor"); sym(a.setConv2d, "cudnnSetConvolution2dDescriptor");
    sym(a.setGroups, "cudnnSetConvolutionGroupCount"); sym(a.setMath, "cudnnSetConvolutionMathType");
    sym(a.outputDim, "cudnnGetConvolution2dForwardOutputDim"); sym(a.findAlgo, "cudnnFindConvolutionForwardAlgorithm");
    sym(a.workspaceSize, "cudnnGetConvolutionForwardWorkspaceSize"); sym(a.forward, "cudnnConvolutionForward");
    a.ok = all;
    a.fused = resolveSymbol(h, a.createAct, "cudnnCreateActivationDescriptor") && resolveSymbol(h, a.setAct, "cudnnSetActivationDescriptor") &&
              resolveSymbol(h, a.biasAct, "cudnnConvolutionBiasActivationForward");
    return a;
  }();
  return api;
}

// One convolution shape's tactic: cuDNN's descriptors and algorithm, or the implicit GEMM.
struct Plan {
  bool useCudnn = false;
  cudnnTensorDescriptor_t xd{}, yd{};
  cudnnFilterDescriptor_t wd{};
  cudnnConvolutionDescriptor_t cd{};
  cudnnConvolutionFwdAlgo_t algo{};
  size_t workspace = 0;
  // Packed float16 form: the half bias's descriptor, and whether cuDNN took the fused call.
  cudnnTensorDescriptor_t bd{};
  bool fusedRefused = false;
  // Packed float16 form: the operation graph per epilogue (cudnn_graph.h), null where the legacy
  // calls were faster or the graph API took no engine. Keyed by the epilogue's kinds and parameters.
  std::map<std::vector<float>, std::shared_ptr<GraphConv>> graphs;
};

// Tactic decisions by shape key (geometry + math, no stream): timed in this process or loaded.
struct Decision {
  bool cudnn;
  int algo;
  bool loaded;  // from a timing cache, not yet used
  std::string plan = "";  // an operation graph's serialized cuDNN plan (cudnn_graph.h), "" for the rest
};
std::map<std::vector<int>, Decision>& decisions() {
  static std::map<std::vector<int>, Decision> d;
  return d;
}
int timedShapes = 0, reusedShapes = 0;

void cudnnCheck(const CudnnApi& api, cudnnStatus_t s, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS) throw std::runtime_error(std::string("cuDNN ") + what + ": " + api.errorString(s));
}

// The workspace a cudnnFind result needs: the larger of what Find reported and what
// cudnnGetConvolutionForwardWorkspaceSize asks for the same algorithm. cudnnConvolutionForward
// answers BAD_PARAM to less than the latter, and Find's figure was seen smaller on an H100 (the
// packed 7x7 stem at batch 8, once in several runs).
size_t findWorkspace(const CudnnApi& api, cudnnHandle_t h, const Plan& p, size_t reported) {
  size_t asked = 0;
  if (api.workspaceSize(h, p.xd, p.wd, p.cd, p.yd, p.algo, &asked) != CUDNN_STATUS_SUCCESS) return reported;
  if (asked > reported && tacticVerbose()) std::fprintf(stderr, "cuDNN algo %d: cudnnFind reported %zu workspace bytes, the algorithm asks %zu\n", static_cast<int>(p.algo), reported, asked);
  return std::max(reported, asked);
}

// One cuDNN handle per stream (each execution context has its own stream), shared by both conv kernels.
cudnnHandle_t handleFor(const CudnnApi& api, cudaStream_t stream) {
  static std::map<cudaStream_t, cudnnHandle_t> handles;
  cudnnHandle_t& h = handles[stream];
  if (!h) { cudnnCheck(api, api.create(&h), "cudnnCreate"); cudnnCheck(api, api.setStream(h, stream), "cudnnSetStream"); }
  return h;
}

void runCudnn(const CudnnApi& api, cudnnHandle_t h, const Plan& p, const ConvJob& j) {
  void* ws = nullptr;
  if (p.workspace && cudaMallocAsync(&ws, p.workspace, j.stream) != cudaSuccess) throw std::runtime_error("conv2d: cuDNN workspace allocation failed");
  const float one = 1.f, zero = 0.f;
  const cudnnStatus_t s = api.forward(h, &one, p.xd, j.x, p.wd, j.w, p.cd, p.algo, ws, p.workspace, &zero, p.yd, j.y);
  if (ws) cudaFreeAsync(ws, j.stream);
  cudnnCheck(api, s, "cudnnConvolutionForward");
  const bool epi = j.bias || j.z || j.e.act != 0 || j.e.post != 0 || j.f16out;
  if (epi) {
    const long long total = static_cast<long long>(j.g.N) * j.g.K * j.g.P * j.g.Q;
    convEpilogue<<<static_cast<unsigned>((total + 255) / 256), 256, 0, j.stream>>>(j.y, j.bias, j.z, j.e, j.f16out, total, j.g.K, j.g.P * j.g.Q);
  }
}


// Chooses (once per shape and stream) and runs the faster tactic. False: not for cuDNN.
bool tryCudnn(const ConvJob& j) {
  const char* forced = std::getenv("TWINFER_CONV_TACTIC");
  const std::string mode = forced ? forced : "auto";
  if (mode == "own") return false;
  const CudnnApi& api = cudnnApi();
  if (!api.ok) return false;
  const ConvGeom& g = j.g;
  static std::map<std::vector<int>, Plan> plans;
  cudnnHandle_t h = handleFor(api, j.stream);
  const bool tf32 = j.tf32;  // the flag or TWINFER_TF32=1 (launchConv)
  const std::vector<int> shape{g.N, g.C, g.H, g.W, g.K, g.P, g.Q, g.R, g.S, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.groups, tf32 ? 1 : 0};
  std::vector<int> key = shape;
  key.push_back(static_cast<int>(reinterpret_cast<uintptr_t>(j.stream) & 0x7fffffff));
  auto it = plans.find(key);
  if (it == plans.end()) {
    Plan p;
    cudnnCheck(api, api.createTensor(&p.xd), "descriptor"); cudnnCheck(api, api.createTensor(&p.yd), "descriptor");
    cudnnCheck(api, api.createFilter(&p.wd), "descriptor"); cudnnCheck(api, api.createConv(&p.cd), "descriptor");
    cudnnCheck(api, api.setTensor4d(p.xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, g.N, g.C, g.H, g.W), "x descriptor");
    cudnnCheck(api, api.setFilter4d(p.wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, g.K, g.Cg, g.R, g.S), "w descriptor");
    cudnnCheck(api, api.setConv2d(p.cd, g.ph, g.pw, g.sh, g.sw, g.dh, g.dw, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), "conv descriptor");
    cudnnCheck(api, api.setGroups(p.cd, g.groups), "group count");
    cudnnCheck(api, api.setMath(p.cd, tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH), "math type");
    int n = 0, c = 0, hh = 0, ww = 0;
    cudnnCheck(api, api.outputDim(p.cd, p.xd, p.wd, &n, &c, &hh, &ww), "output dims");
    // Asymmetric pads give another output size than cuDNN's symmetric ones: implicit GEMM.
    if (n == g.N && c == g.K && hh == g.P && ww == g.Q) {
      cudnnCheck(api, api.setTensor4d(p.yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, hh, ww), "y descriptor");
      auto known = decisions().find(shape);
      bool decided = false;
      if (known != decisions().end() && mode == "auto") {
        // A remembered decision: no cudnnFind, no timing. A cuDNN algorithm must still accept the shape.
        if (!known->second.cudnn) {
          decided = true;
        } else {
          size_t ws = 0;
          const auto algo = static_cast<cudnnConvolutionFwdAlgo_t>(known->second.algo);
          if (api.workspaceSize(h, p.xd, p.wd, p.cd, p.yd, algo, &ws) == CUDNN_STATUS_SUCCESS) {
            p.algo = algo; p.workspace = ws; p.useCudnn = true; decided = true;
          }
        }
        if (decided) { if (known->second.loaded) reusedShapes++; known->second.loaded = false; }
      }
      if (!decided) {
        cudnnConvolutionFwdAlgoPerf_t perf[8];
        int found = 0, mathType = -1;
        if (api.findAlgo(h, p.xd, p.wd, p.cd, p.yd, 8, &found, perf) == CUDNN_STATUS_SUCCESS) {
          for (int i = 0; i < found; i++) {
            if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
            if (!tf32 && perf[i].mathType != CUDNN_FMA_MATH && perf[i].mathType != CUDNN_DEFAULT_MATH) continue;
            p.algo = perf[i].algo;
            p.workspace = findWorkspace(api, h, p, perf[i].memory);
            p.useCudnn = true;
            mathType = static_cast<int>(perf[i].mathType);
            break;
          }
        }
        float tOwn = -1, tDnn = -1;
        if (p.useCudnn && mode != "cudnn") {
          tOwn = timeOnStream(j.stream, [&] { runOwn(j); });
          tDnn = timeOnStream(j.stream, [&] { runCudnn(api, h, p, j); });
          p.useCudnn = tDnn < tOwn;
        }
        // TWINFER_CONV_VERBOSE=1: one line per timed shape (what the tactic choice saw).
        if (tacticVerbose()) {
          std::fprintf(stderr, "conv2d N%d C%d %dx%d K%d %dx%d s%d g%d tf32 %d: cudnn algo %d math %d (%d found) %.3f ms, own %.3f ms -> %s\n", g.N, g.C, g.H, g.W, g.K,
                       g.R, g.S, g.sh, g.groups, tf32 ? 1 : 0, static_cast<int>(p.algo), mathType, found, tDnn / 3, tOwn / 3, p.useCudnn ? "cudnn" : "own");
        }
        if (mode == "auto") { decisions()[shape] = Decision{p.useCudnn, static_cast<int>(p.algo), false}; timedShapes++; }
      }
    }
    it = plans.emplace(key, p).first;
  }
  if (!it->second.useCudnn) return false;
  runCudnn(api, h, it->second, j);
  return true;
}

// ---- The packed float16 form (nhwc.cu): x, z and y half NHWC, w half KRSC, bias f32. ----
//
//   conv2dNhwcHalf  ints and floats as conv2d   ptrs [X, W, bias?, Z?, Y]
//
// cuDNN's convolution with half data, float accumulation and tensor-op math (its fp16 tensor-core
// kernels), then, when there is a bias or an epilogue, one in-place pass over y in half: bias,
// activation, residual, post-activation, as the f32 form's store does. The algorithm is cuDNN's
// fastest for the shape (cudnnFind on first use), kept in the timing cache as a conv2d line whose
// math slot is 2 (0 FP32, 1 TF32), so a second build skips the search.
struct HalfConvJob {
  ConvGeom g;
  Epilogue e;
  const void* x;
  const void* w;
  const float* bias;
  const void* z;
  void* y;
  cudaStream_t stream;
};

constexpr int kMathNhwcHalf = 2;

// Two channels per thread (K even): y[i], y[i + 1] share a half2 load and store.
__global__ void convEpilogueNhwcHalf2(__half2* y, const float* bias, const __half2* z, Epilogue e, long long pairs, int K) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= pairs) return;
  const int k = static_cast<int>((2 * i) % K);
  float2 v = __half22float2(y[i]);
  if (bias) { v.x += bias[k]; v.y += bias[k + 1]; }
  v.x = applyFn(e.act, v.x, e.a0, e.a1);
  v.y = applyFn(e.act, v.y, e.a0, e.a1);
  if (z) { const float2 r = __half22float2(z[i]); v.x += r.x; v.y += r.y; }
  v.x = applyFn(e.post, v.x, e.p0, e.p1);
  v.y = applyFn(e.post, v.y, e.p0, e.p1);
  y[i] = __floats2half2_rn(v.x, v.y);
}

__global__ void convEpilogueNhwcHalf(__half* y, const float* bias, const __half* z, Epilogue e, long long total, int K) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  float v = __half2float(y[i]);
  if (bias) v += bias[i % K];
  v = applyFn(e.act, v, e.a0, e.a1);
  if (z) v += __half2float(z[i]);
  y[i] = __float2half_rn(applyFn(e.post, v, e.p0, e.p1));
}

// The GEMM-based algorithms only, by default: FFT and Winograd transform half data into half
// intermediates, where values can lose float16's few bits or leave its range, while the GEMM-based
// ones multiply the data as it is and accumulate in float (CUDNN_DATA_FLOAT compute). A MobileNetV2
// NaN at batch 256 seen while this was built is not evidence either way: its random-init activations
// overflow float16 in the plain form too. TWINFER_CUDNN_ANY_ALGO=1 takes cudnnFind's fastest as it
// is, to measure what the restriction costs.
bool halfSafe(cudnnConvolutionFwdAlgo_t a) {
  static const bool any = envStartsWith("TWINFER_CUDNN_ANY_ALGO", '1');
  return any || a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM || a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM || a == CUDNN_CONVOLUTION_FWD_ALGO_GEMM ||
         a == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
}

__global__ void biasToHalf(const float* __restrict__ b, __half* __restrict__ h, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) h[i] = __float2half_rn(b[i]);
}

cudnnActivationDescriptor_t activationOf(const CudnnApi& api, cudnnActivationMode_t mode) {
  static std::map<int, cudnnActivationDescriptor_t> made;
  cudnnActivationDescriptor_t& d = made[static_cast<int>(mode)];
  if (!d) {
    cudnnCheck(api, api.createAct(&d), "activation descriptor");
    cudnnCheck(api, api.setAct(d, mode, CUDNN_NOT_PROPAGATE_NAN, 0.0), "activation descriptor");
  }
  return d;
}

// cuDNN's activation for the fused call, -1 for what it lacks. (Clip(0, 6) as its clipped ReLU was
// tried: cuDNN 9.19 answers NOT_SUPPORTED for every MobileNetV2 shape on an H100.)
int fusedMode(int fn) {
  if (fn == FN_Identity) return CUDNN_ACTIVATION_IDENTITY;
  if (fn == FN_Relu) return CUDNN_ACTIVATION_RELU;
  return -1;
}

// cuDNN's one-pass y = act(conv(x) + z + bias) where the epilogue has that shape: act(conv + b)
// with act Identity or Relu and no z, or post(conv + b + z) with act Identity and post Identity or
// Relu (a ResNet block's last convolution). The identity activation needs the precomputed implicit
// GEMM (cuDNN's rule), which is what cudnnFind picks for these shapes at large batch on an H100. The
// bias goes in as half (the half configuration's bias type), converted in front of the workspace.
// A call cuDNN refuses leaves the plan on the two-pass path for good. TWINFER_CUDNN_FUSED=0 turns
// it off.
bool tryFusedHalf(const CudnnApi& api, cudnnHandle_t h, Plan& p, const HalfConvJob& j) {
  static const bool off = envStartsWith("TWINFER_CUDNN_FUSED", '0');
  if (off || !api.fused || p.fusedRefused || !j.bias) return false;
  const Epilogue& e = j.e;
  int mode = -1;  // the one activation, after the sum
  if (!j.z && e.post == FN_Identity) mode = fusedMode(e.act);
  if (j.z && e.act == FN_Identity) mode = fusedMode(e.post);
  if (mode < 0) return false;
  const auto am = static_cast<cudnnActivationMode_t>(mode);
  if (am == CUDNN_ACTIVATION_IDENTITY && p.algo != CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM) return false;
  const ConvGeom& g = j.g;
  if (!p.bd) {
    cudnnCheck(api, api.createTensor(&p.bd), "bias descriptor");
    cudnnCheck(api, api.setTensor4d(p.bd, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, 1, g.K, 1, 1), "bias descriptor");
  }
  const size_t biasOff = (p.workspace + 255) / 256 * 256;
  void* ws = nullptr;
  if (cudaMallocAsync(&ws, biasOff + static_cast<size_t>(g.K) * 2, j.stream) != cudaSuccess) throw std::runtime_error("conv2dNhwcHalf: cuDNN workspace allocation failed");
  __half* hb = reinterpret_cast<__half*>(static_cast<char*>(ws) + biasOff);
  biasToHalf<<<(g.K + 255) / 256, 256, 0, j.stream>>>(j.bias, hb, g.K);
  const float one = 1.f, zero = 0.f;
  const cudnnStatus_t s = api.biasAct(h, &one, p.xd, j.x, p.wd, j.w, p.cd, p.algo, p.workspace ? ws : nullptr, p.workspace, j.z ? &one : &zero, p.yd,
                                      j.z ? j.z : j.y, p.bd, hb, activationOf(api, am), p.yd, j.y);
  cudaFreeAsync(ws, j.stream);
  if (s == CUDNN_STATUS_SUCCESS) return true;
  if (s != CUDNN_STATUS_NOT_SUPPORTED && s != CUDNN_STATUS_BAD_PARAM) cudnnCheck(api, s, "cudnnConvolutionBiasActivationForward");
  p.fusedRefused = true;
  if (tacticVerbose()) std::fprintf(stderr, "conv2dNhwcHalf K%d: cuDNN refused the fused call (%s); two passes\n", g.K, api.errorString(s));
  return false;
}

void runLegacyHalf(const CudnnApi& api, cudnnHandle_t h, Plan& p, const HalfConvJob& j);

constexpr int kMathGraphBase = 16;  // timing-cache math slot of a graph decision: 16 + the pattern code

// The operation graph (cudnn_graph.h) for this epilogue, when it is faster than the legacy calls:
// on the first launch of each shape, epilogue and stream, the graph's candidate engines and the
// legacy path are timed (each into a scratch output) and the faster kept, in the timing cache as
// "graph <rank>" or "legacy". nullptr: run the legacy calls. TWINFER_CUDNN_GRAPH=0 turns it off;
// TWINFER_CUDNN_GRAPH_CANDIDATES (default 3) caps the engines timed: on ResNet-50 and MobileNetV2
// (H100, cuDNN 9.19) the best of the heuristics' first 3 is within 0.6% of the best of 8, and
// each candidate costs a kernel compilation.
const GraphConv* graphFor(const CudnnApi& api, cudnnHandle_t h, const std::vector<int>& shape, Plan& p, const HalfConvJob& j) {
  static const bool off = envStartsWith("TWINFER_CUDNN_GRAPH", '0');
  static const int candidates = [] { const char* v = std::getenv("TWINFER_CUDNN_GRAPH_CANDIDATES"); return v ? std::max(1, std::atoi(v)) : 3; }();
  if (off) return nullptr;
  const GraphConvEpilogue ge{j.bias != nullptr, j.z != nullptr, j.e.act, j.e.post, j.e.a0, j.e.a1, j.e.p0, j.e.p1};
  if (!graphConvExpressible(ge)) return nullptr;
  const std::vector<float> pkey{static_cast<float>(graphConvPatternCode(ge)), ge.a0, ge.a1, ge.p0, ge.p1};
  auto found = p.graphs.find(pkey);
  if (found != p.graphs.end()) return found->second.get();
  std::shared_ptr<GraphConv>& slot = p.graphs[pkey];
  const ConvGeom& g = j.g;
  const GraphConvShape gs{g.N, g.C, g.H, g.W, g.K, g.R, g.S, g.P, g.Q, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.groups};
  std::vector<int> dkey = shape;
  dkey.back() = kMathGraphBase + graphConvPatternCode(ge);
  std::string why;
  auto known = decisions().find(dkey);
  if (known != decisions().end()) {
    if (known->second.loaded) reusedShapes++;
    known->second.loaded = false;
    const auto t0 = std::chrono::steady_clock::now();
    if (known->second.cudnn) slot = GraphConv::build(h, gs, ge, known->second.algo, known->second.plan, candidates, GraphConvIo{j.x, j.w, j.bias, j.z, j.y}, j.stream, why);
    if (tacticVerbose() && known->second.cudnn) {
      std::fprintf(stderr, "conv2dNhwcHalf K%d pattern %d: cached graph rank %d %s in %.0f ms\n", j.g.K, graphConvPatternCode(ge), known->second.algo,
                   slot ? "built" : ("refused: " + why).c_str(), std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    return slot.get();
  }
  // Both timings write a scratch output, never j.y (which may alias an input read by the same call).
  const auto t0 = std::chrono::steady_clock::now();
  float legacyMs = -1;
  void* scratch = nullptr;
  if (cudaMalloc(&scratch, static_cast<size_t>(g.N) * g.K * g.P * g.Q * 2) != cudaSuccess) {
    cudaGetLastError();
    why = "no memory for the timing output";
  } else {
    slot = GraphConv::build(h, gs, ge, -1, "", candidates, GraphConvIo{j.x, j.w, j.bias, j.z, scratch}, j.stream, why);
    if (slot) {
      HalfConvJob t = j;
      t.y = scratch;
      legacyMs = timeOnStream(j.stream, [&] { runLegacyHalf(api, h, p, t); }) / 3;
      if (legacyMs < slot->ms()) slot.reset();
    }
    cudaFree(scratch);
  }
  if (tacticVerbose()) {
    std::fprintf(stderr, "conv2dNhwcHalf N%d C%d %dx%d K%d %dx%d s%d g%d pattern %d (%.0f ms): %s\n", g.N, g.C, g.H, g.W, g.K, g.R, g.S, g.sh, g.groups, graphConvPatternCode(ge),
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(),
                 slot ? ("graph rank " + std::to_string(slot->rank()) + " " + slot->engine() + " " + std::to_string(slot->ms()) + " ms, legacy " + std::to_string(legacyMs) + " ms").c_str()
                      : (why.empty() ? "legacy " + std::to_string(legacyMs) + " ms is faster" : "legacy (" + why + ")").c_str());
  }
  decisions()[dkey] = Decision{slot != nullptr, slot ? slot->rank() : 0, false, slot ? slot->serialized() : ""};
  timedShapes++;
  return slot.get();
}

void runNhwcHalf(const HalfConvJob& j) {
  const CudnnApi& api = cudnnApi();
  if (!api.ok) throw std::runtime_error("conv2dNhwcHalf: cuDNN is not available");
  const ConvGeom& g = j.g;
  static std::map<std::vector<int>, Plan> plans;
  cudnnHandle_t h = handleFor(api, j.stream);
  const std::vector<int> shape{g.N, g.C, g.H, g.W, g.K, g.P, g.Q, g.R, g.S, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.groups, kMathNhwcHalf};
  std::vector<int> key = shape;
  key.push_back(static_cast<int>(reinterpret_cast<uintptr_t>(j.stream) & 0x7fffffff));
  auto it = plans.find(key);
  if (it == plans.end()) {
    Plan p;
    cudnnCheck(api, api.createTensor(&p.xd), "descriptor"); cudnnCheck(api, api.createTensor(&p.yd), "descriptor");
    cudnnCheck(api, api.createFilter(&p.wd), "descriptor"); cudnnCheck(api, api.createConv(&p.cd), "descriptor");
    cudnnCheck(api, api.setTensor4d(p.xd, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, g.N, g.C, g.H, g.W), "x descriptor");
    cudnnCheck(api, api.setFilter4d(p.wd, CUDNN_DATA_HALF, CUDNN_TENSOR_NHWC, g.K, g.Cg, g.R, g.S), "w descriptor");
    cudnnCheck(api, api.setConv2d(p.cd, g.ph, g.pw, g.sh, g.sw, g.dh, g.dw, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), "conv descriptor");
    cudnnCheck(api, api.setGroups(p.cd, g.groups), "group count");
    cudnnCheck(api, api.setMath(p.cd, CUDNN_TENSOR_OP_MATH), "math type");
    int n = 0, c = 0, hh = 0, ww = 0;
    cudnnCheck(api, api.outputDim(p.cd, p.xd, p.wd, &n, &c, &hh, &ww), "output dims");
    if (n != g.N || c != g.K || hh != g.P || ww != g.Q) {
      throw std::runtime_error("conv2dNhwcHalf: cuDNN's output " + std::to_string(hh) + "x" + std::to_string(ww) + " is not the requested " + std::to_string(g.P) + "x" + std::to_string(g.Q) + " (asymmetric pads take conv2d)");
    }
    cudnnCheck(api, api.setTensor4d(p.yd, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, n, c, hh, ww), "y descriptor");
    auto known = decisions().find(shape);
    if (known != decisions().end() && known->second.cudnn && halfSafe(static_cast<cudnnConvolutionFwdAlgo_t>(known->second.algo))) {
      size_t ws = 0;
      const auto algo = static_cast<cudnnConvolutionFwdAlgo_t>(known->second.algo);
      if (api.workspaceSize(h, p.xd, p.wd, p.cd, p.yd, algo, &ws) == CUDNN_STATUS_SUCCESS) {
        p.algo = algo; p.workspace = ws; p.useCudnn = true;
        if (known->second.loaded) reusedShapes++;
        known->second.loaded = false;
      }
    }
    if (!p.useCudnn) {
      cudnnConvolutionFwdAlgoPerf_t perf[8];
      int found = 0;
      const auto t0 = std::chrono::steady_clock::now();
      cudnnCheck(api, api.findAlgo(h, p.xd, p.wd, p.cd, p.yd, 8, &found, perf), "cudnnFindConvolutionForwardAlgorithm");
      const double findMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      float ms = -1;
      for (int i = 0; i < found; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || !halfSafe(perf[i].algo)) continue;
        p.algo = perf[i].algo; p.workspace = findWorkspace(api, h, p, perf[i].memory); p.useCudnn = true; ms = perf[i].time;
        break;
      }
      if (!p.useCudnn) throw std::runtime_error("conv2dNhwcHalf: cuDNN has no algorithm for this convolution");
      if (tacticVerbose()) {
        std::fprintf(stderr, "conv2dNhwcHalf N%d C%d %dx%d K%d %dx%d s%d g%d: cudnn algo %d %.3f ms (%d found in %.0f ms)\n", g.N, g.C, g.H, g.W, g.K, g.R, g.S, g.sh, g.groups,
                     static_cast<int>(p.algo), ms, found, findMs);
      }
      decisions()[shape] = Decision{true, static_cast<int>(p.algo), false};
      timedShapes++;
    }
    it = plans.emplace(key, p).first;
  }
  Plan& p = it->second;
  if (const GraphConv* gc = graphFor(api, h, shape, p, j)) {
    gc->run(h, GraphConvIo{j.x, j.w, j.bias, j.z, j.y});
    return;
  }
  runLegacyHalf(api, h, p, j);
}

// The legacy calls: cuDNN's fused conv + bias + act where it takes it, else the convolution and the
// epilogue kernel.
void runLegacyHalf(const CudnnApi& api, cudnnHandle_t h, Plan& p, const HalfConvJob& j) {
  const ConvGeom& g = j.g;
  if (tryFusedHalf(api, h, p, j)) return;
  void* ws = nullptr;
  if (p.workspace && cudaMallocAsync(&ws, p.workspace, j.stream) != cudaSuccess) throw std::runtime_error("conv2dNhwcHalf: cuDNN workspace allocation failed");
  const float one = 1.f, zero = 0.f;
  const cudnnStatus_t s = api.forward(h, &one, p.xd, j.x, p.wd, j.w, p.cd, p.algo, ws, p.workspace, &zero, p.yd, j.y);
  if (ws) cudaFreeAsync(ws, j.stream);
  cudnnCheck(api, s, "cudnnConvolutionForward");
  if (!j.bias && !j.z && j.e.act == 0 && j.e.post == 0) return;
  const long long total = static_cast<long long>(g.N) * g.K * g.P * g.Q;
  if (g.K % 2 == 0) {
    const long long pairs = total / 2;
    convEpilogueNhwcHalf2<<<static_cast<unsigned>((pairs + 255) / 256), 256, 0, j.stream>>>(static_cast<__half2*>(j.y), j.bias, static_cast<const __half2*>(j.z), j.e, pairs, g.K);
  } else {
    convEpilogueNhwcHalf<<<static_cast<unsigned>((total + 255) / 256), 256, 0, j.stream>>>(static_cast<__half*>(j.y), j.bias, static_cast<const __half*>(j.z), j.e, total, g.K);
  }
}
#endif

}  // namespace

std::vector<std::string> convTimingCacheLines() {
  std::vector<std::string> out;
#if TWINFER_HAVE_CUDNN
  for (const auto& [shape, d] : decisions()) {
    const bool graph = shape.back() >= kMathGraphBase;
    // A graph's line carries its serialized plan (cuDNN's one-line JSON, tens of kB): a warm build
    // restores it instead of compiling the kernel again.
    const std::string choice = graph ? (d.cudnn ? "graph " + std::to_string(d.algo) + (d.plan.empty() ? "" : " " + d.plan) : "legacy") : (d.cudnn ? "cudnn " + std::to_string(d.algo) : "own");
    out.push_back(tacticLine("conv2d", std::vector<long long>(shape.begin(), shape.end()), choice));
  }
#endif
  return out;
}

int convTimingCacheLoad(const std::vector<std::string>& lines) {
  int accepted = 0;
#if TWINFER_HAVE_CUDNN
  std::vector<long long> shape;
  std::string what;
  for (const std::string& line : lines) {
    if (!parseTacticLine(line, "conv2d", 17, shape, what)) continue;
    Decision d{false, 0, true};
    const bool graph = shape.back() >= kMathGraphBase;
    if (graph) {
      if (what == "legacy") d.cudnn = false;
      else if (what.rfind("graph ", 0) == 0) {
        d.cudnn = true;
        d.algo = std::atoi(what.c_str() + 6);
        if (d.algo < 0) continue;
        const size_t plan = what.find(' ', 6);
        if (plan != std::string::npos) d.plan = what.substr(plan + 1);
      }
      else continue;
    } else if (what == "own") d.cudnn = false;
    else if (what.rfind("cudnn ", 0) == 0) { d.cudnn = true; d.algo = std::atoi(what.c_str() + 6); if (d.algo < 0 || d.algo >= CUDNN_CONVOLUTION_FWD_ALGO_COUNT) continue; }
    else continue;
    // A decision timed in this process wins over the file's.
    if (decisions().emplace(std::vector<int>(shape.begin(), shape.end()), d).second) accepted++;
  }
#endif
  return accepted;
}

ConvTimingStats convTimingStats() {
#if TWINFER_HAVE_CUDNN
  return {timedShapes, reusedShapes};
#else
  return {0, 0};
#endif
}

namespace {

// conv2d's and conv2dNhwcHalf's parameter lists (the same ABI): the geometry and the epilogue, checked.
ConvGeom readConvGeom(const char* kernel, const LaunchArgs& a, Epilogue& e) {
  needArgs(kernel, a, 19, 4, 5);
  requirePtrs(kernel, a, {0, 1, 4});
  const auto& i = a.i;
  for (int j = 0; j < 16; j++) {
    const bool isPad = j == 11 || j == 12;
    if (i[j] < (isPad ? 0 : 1) || i[j] > 0x7fffffffLL) throw std::runtime_error(std::string(kernel) + ": int param " + std::to_string(j) + " is out of range");
  }
  auto at = [&](int j) { return static_cast<int>(i[j]); };
  ConvGeom g{at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7), at(8), at(9), at(10), at(11), at(12), at(13), at(14), at(15), 0, 0};
  if (g.C % g.groups || g.K % g.groups) throw std::runtime_error(std::string(kernel) + ": channels are not divisible by groups");
  g.Cg = g.C / g.groups;
  g.Mg = g.K / g.groups;
  e = Epilogue{checkFn(kernel, i[16]), checkFn(kernel, i[17]), a.f[0], a.f[1], a.f[2], a.f[3]};
  const long long gemmN = static_cast<long long>(g.N) * g.P * g.Q;
  const long long gemmK = static_cast<long long>(g.Cg) * g.R * g.S;
  if (gemmN > 0x7fffffffLL || gemmK > 0x7fffffffLL) throw std::runtime_error(std::string(kernel) + ": problem too large for 32-bit GEMM indices");
  return g;
}

void launchConv(const LaunchArgs& a) {
  Epilogue e{};
  const ConvGeom g = readConvGeom("conv2d", a, e);
  const LowpFlags flags = lowpFlags("conv2d", a.i[18]);
  const ConvJob job{g, e, flags.tf32, flags.f16Out, static_cast<const float*>(a.ptr[0]), static_cast<const float*>(a.ptr[1]), static_cast<const float*>(a.ptr[2]),
                    static_cast<const float*>(a.ptr[3]), static_cast<float*>(a.ptr[4]), a.stream};
#if TWINFER_HAVE_CUDNN
  if (tryCudnn(job)) return;
#endif
  runOwn(job);
}

#if TWINFER_HAVE_CUDNN
void launchConvNhwcHalf(const LaunchArgs& a) {
  Epilogue e{};
  const ConvGeom g = readConvGeom("conv2dNhwcHalf", a, e);
  lowpFlags("conv2dNhwcHalf", a.i[18]);  // checked only: the packed form is float16 throughout
  runNhwcHalf(HalfConvJob{g, e, a.ptr[0], a.ptr[1], static_cast<const float*>(a.ptr[2]), a.ptr[3], a.ptr[4], a.stream});
}
#endif

// (The lead rewrote this ConvTranspose kernel at 07:50 after one of his edits dropped the first
// version by mistake: same ABI as the header comment and backends/native/ops.ts.)
struct ConvTGeom {
  int N, C, M, groups;
  int in[3], out[3], k[3], stride[3], pad[3], dil[3];
};

// One thread per output element: the direct gather of the header comment (3 axes, leading ones 1).
__global__ void convTransposeKernel(const float* x, const float* w, const float* bias, float* y, ConvTGeom g, long long total) {
  const long long idx = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (idx >= total) return;
  long long r = idx;
  const int o2 = static_cast<int>(r % g.out[2]); r /= g.out[2];
  const int o1 = static_cast<int>(r % g.out[1]); r /= g.out[1];
  const int o0 = static_cast<int>(r % g.out[0]); r /= g.out[0];
  const int m = static_cast<int>(r % g.M);
  const int n = static_cast<int>(r / g.M);
  const int Mg = g.M / g.groups, Cg = g.C / g.groups, grp = m / Mg, mg = m - grp * Mg;
  const long long inPlane = static_cast<long long>(g.in[0]) * g.in[1] * g.in[2];
  const int kVol = g.k[0] * g.k[1] * g.k[2];
  float acc = bias ? bias[m] : 0.f;
  for (int cl = 0; cl < Cg; cl++) {
    const int c = grp * Cg + cl;
    const float* xc = x + (static_cast<long long>(n) * g.C + c) * inPlane;
    const float* wc = w + (static_cast<long long>(c) * Mg + mg) * kVol;
    for (int k0 = 0; k0 < g.k[0]; k0++) {
      const int t0 = o0 + g.pad[0] - k0 * g.dil[0];
      if (t0 < 0 || t0 % g.stride[0]) continue;
      const int i0 = t0 / g.stride[0];
      if (i0 >= g.in[0]) continue;
      for (int k1 = 0; k1 < g.k[1]; k1++) {
        const int t1 = o1 + g.pad[1] - k1 * g.dil[1];
        if (t1 < 0 || t1 % g.stride[1]) continue;
        const int i1 = t1 / g.stride[1];
        if (i1 >= g.in[1]) continue;
        for (int k2 = 0; k2 < g.k[2]; k2++) {
          const int t2 = o2 + g.pad[2] - k2 * g.dil[2];
          if (t2 < 0 || t2 % g.stride[2]) continue;
          const int i2 = t2 / g.stride[2];
          if (i2 >= g.in[2]) continue;
          acc = fmaf(xc[(static_cast<long long>(i0) * g.in[1] + i1) * g.in[2] + i2], wc[(k0 * g.k[1] + k1) * g.k[2] + k2], acc);
        }
      }
    }
  }
  y[idx] = acc;
}

void launchConvTranspose(const LaunchArgs& a) {
  needArgs("convTranspose", a, 22, 0, 4);
  requirePtrs("convTranspose", a, {0, 1, 3});
  const auto& i = a.i;
  for (int j = 0; j < 22; j++) {
    const bool isPad = j >= 4 && (j - 4) % 6 == 4;
    if (i[j] < (isPad ? -0x7fffffffLL : 1) || i[j] > 0x7fffffffLL) throw std::runtime_error("convTranspose: int param " + std::to_string(j) + " is out of range");
  }
  ConvTGeom g{};
  g.N = static_cast<int>(i[0]); g.C = static_cast<int>(i[1]); g.M = static_cast<int>(i[2]); g.groups = static_cast<int>(i[3]);
  if (g.C % g.groups || g.M % g.groups) throw std::runtime_error("convTranspose: channels are not divisible by groups");
  for (int ax = 0; ax < 3; ax++) {
    const int b = 4 + ax * 6;
    g.in[ax] = static_cast<int>(i[b]); g.out[ax] = static_cast<int>(i[b + 1]); g.k[ax] = static_cast<int>(i[b + 2]);
    g.stride[ax] = static_cast<int>(i[b + 3]); g.pad[ax] = static_cast<int>(i[b + 4]); g.dil[ax] = static_cast<int>(i[b + 5]);
  }
  const long long total = static_cast<long long>(g.N) * g.M * g.out[0] * g.out[1] * g.out[2];
  if (total <= 0) return;
  convTransposeKernel<<<static_cast<unsigned>((total + 255) / 256), 256, 0, a.stream>>>(
      static_cast<const float*>(a.ptr[0]), static_cast<const float*>(a.ptr[1]), static_cast<const float*>(a.ptr[2]), static_cast<float*>(a.ptr[3]), g, total);
}

}  // namespace

void registerConv(Registry& r) {
  r["conv2d"] = {launchConv, 0};
#if TWINFER_HAVE_CUDNN
  // The packed float16 convolution is cuDNN's alone: listed only where libcudnn opens, so the
  // TypeScript side keeps the f32-storage path on machines without it.
  if (cudnnApi().ok) r["conv2dNhwcHalf"] = {launchConvNhwcHalf, 0};
#endif
  r["convTranspose"] = {launchConvTranspose, 0};
}

}  // namespace twinfer
