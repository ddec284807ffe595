// cuDNN operation graphs for the packed float16 convolution and its epilogue (cudnn_graph.h).
//
// The graph: X (half NHWC) * W (half KRSC) -> conv (float, virtual) -> + bias (float [1, K, 1, 1])
// -> act -> + Z (half NHWC) -> post -> Y (half NHWC); each step only where the epilogue has it, the
// last op writing Y. Virtual tensors are float (compute in float, one rounding to half at the end:
// the same single rounding as the two-pass path's epilogue kernel). Engines whose numerical notes
// say FFT, Winograd, half accumulation or nondeterminism are skipped (the same rule as halfSafe for
// the legacy algorithms, plus deterministic replays).
#if TWINFER_HAVE_CUDNN

#include "cudnn_graph.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

#include "activation.cuh"
#include "common.h"
#include "gemm.cuh"

namespace twinfer {
namespace {

// The backend API's entry points, resolved with dlsym (the addon never links libcudnn).
struct BackendApi {
  bool ok = false;
  decltype(&cudnnBackendCreateDescriptor) create;
  decltype(&cudnnBackendDestroyDescriptor) destroy;
  decltype(&cudnnBackendSetAttribute) set;
  decltype(&cudnnBackendGetAttribute) get;
  decltype(&cudnnBackendFinalize) finalize;
  decltype(&cudnnBackendExecute) execute;
  decltype(&cudnnGetErrorString) errorString;
};

const BackendApi& backendApi() {
  static const BackendApi api = [] {
    BackendApi a;
    void* h = optionalLibrary(OptionalLibrary::Cudnn);
    if (!h) return a;
    bool all = true;
    auto sym = [&](auto& f, const char* name) { all = resolveSymbol(h, f, name) && all; };
    sym(a.create, "cudnnBackendCreateDescriptor"); sym(a.destroy, "cudnnBackendDestroyDescriptor");
    sym(a.set, "cudnnBackendSetAttribute"); sym(a.get, "cudnnBackendGetAttribute");
    sym(a.finalize, "cudnnBackendFinalize"); sym(a.execute, "cudnnBackendExecute");
    sym(a.errorString, "cudnnGetErrorString");
    a.ok = all;
    return a;
  }();
  return api;
}

// A failed call of the graph's construction: not an error of the run (the caller falls back to the
// legacy path), so it carries cuDNN's text up to build()'s `why`.
struct Refused {
  std::string what;
};

void check(cudnnStatus_t s, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS) throw Refused{std::string(what) + ": " + backendApi().errorString(s)};
}

// One backend descriptor, destroyed with its owner.
class Desc {
 public:
  Desc() = default;
  explicit Desc(cudnnBackendDescriptorType_t type) { check(backendApi().create(type, &d_), "cudnnBackendCreateDescriptor"); }
  Desc(Desc&& o) noexcept : d_(o.d_) { o.d_ = nullptr; }
  Desc& operator=(Desc&& o) noexcept { std::swap(d_, o.d_); return *this; }
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
  ~Desc() { if (d_) backendApi().destroy(d_); }
  cudnnBackendDescriptor_t get() const { return d_; }

  template <class T>
  Desc& set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, const T* values, int64_t count = 1) {
    check(backendApi().set(d_, name, type, count, values), "cudnnBackendSetAttribute");
    return *this;
  }
  Desc& setDesc(cudnnBackendAttributeName_t name, const Desc& other) {
    cudnnBackendDescriptor_t v = other.get();
    return set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, &v);
  }
  Desc& finalize(const char* what) { check(backendApi().finalize(d_), what); return *this; }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

enum Uid : int64_t { kX = 1, kW, kBias, kZ, kY, kVirtual = 100 };

Desc tensor(int64_t uid, cudnnDataType_t type, const std::vector<int64_t>& dims, const std::vector<int64_t>& strides, bool isVirtual) {
  Desc t(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  const int64_t align = 16;
  const bool virt = isVirtual;
  t.set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, &type)
      .set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, dims.data(), static_cast<int64_t>(dims.size()))
      .set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, strides.data(), static_cast<int64_t>(strides.size()))
      .set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, &uid)
      .set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, &align)
      .set(CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, &virt)
      .finalize("tensor descriptor");
  return t;
}

// NHWC strides of an [n, c, h, w] tensor, in cuDNN's NCHW dimension order.
std::vector<int64_t> nhwcStrides(int64_t c, int64_t h, int64_t w) { return {c * h * w, 1, w * c, c}; }

// The activation's kind in the graph: 0 none, 1 ReLU, 2 Clip; -1 not expressible.
int activationKind(int fn) {
  if (fn == FN_Identity) return 0;
  if (fn == FN_Relu) return 1;
  if (fn == FN_Clip) return 2;
  return -1;
}

// Milliseconds per call of an execution, from timeOnStream's three calls.
float perCall(float threeCalls) { return threeCalls / 3; }

}  // namespace

bool graphConvExpressible(const GraphConvEpilogue& e) { return activationKind(e.act) >= 0 && activationKind(e.post) >= 0; }

int graphConvPatternCode(const GraphConvEpilogue& e) {
  return (e.bias ? 1 : 0) | (e.z ? 2 : 0) | (activationKind(e.act) << 2) | (activationKind(e.post) << 4);
}

struct GraphConv::Impl {
  std::vector<Desc> keep;  // tensors and ops the graph refers to
  Desc graph;
  Desc plan;
  int64_t workspaceBytes = 0;
  void* workspace = nullptr;  // the plan's own (cudaMalloc): capturable, one plan per stream
  int rank = -1;
  int64_t engineIndex = -1;
  float ms = -1;
  bool hasBias = false, hasZ = false;
  ~Impl() { if (workspace) cudaFree(workspace); }
};

GraphConv::GraphConv(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GraphConv::~GraphConv() = default;
int GraphConv::rank() const { return impl_->rank; }
float GraphConv::ms() const { return impl_->ms; }
std::string GraphConv::engine() const { return impl_->engineIndex >= 0 ? "engine " + std::to_string(impl_->engineIndex) : "a serialized plan"; }

namespace {

// The operation graph of the pattern, finalized on the handle.
void buildGraph(cudnnHandle_t h, const GraphConvShape& s, const GraphConvEpilogue& e, GraphConv::Impl& g) {
  const cudnnDataType_t half = CUDNN_DATA_HALF, flt = CUDNN_DATA_FLOAT;
  const int Cg = s.C / s.groups;
  const std::vector<int64_t> yDims{s.N, s.K, s.P, s.Q}, yStrides = nhwcStrides(s.K, s.P, s.Q);
  g.keep.reserve(32);  // x and w are referred to below while more are added
  g.keep.push_back(tensor(kX, half, {s.N, s.C, s.H, s.W}, nhwcStrides(s.C, s.H, s.W), false));
  g.keep.push_back(tensor(kW, half, {s.K, Cg, s.R, s.S}, nhwcStrides(Cg, s.R, s.S), false));
  const Desc& x = g.keep[0];
  const Desc& w = g.keep[1];

  // The steps after the convolution, in order; the last writes Y.
  struct Step { cudnnPointwiseMode_t mode; int64_t operand; int kind; float lo, hi; };
  std::vector<Step> steps;
  if (e.bias) steps.push_back({CUDNN_POINTWISE_ADD, kBias, 0, 0, 0});
  if (activationKind(e.act) == 1) steps.push_back({CUDNN_POINTWISE_RELU_FWD, 0, 1, 0.f, 0});
  if (activationKind(e.act) == 2) steps.push_back({CUDNN_POINTWISE_RELU_FWD, 0, 2, e.a0, e.a1});
  if (e.z) steps.push_back({CUDNN_POINTWISE_ADD, kZ, 0, 0, 0});
  if (activationKind(e.post) == 1) steps.push_back({CUDNN_POINTWISE_RELU_FWD, 0, 1, 0.f, 0});
  if (activationKind(e.post) == 2) steps.push_back({CUDNN_POINTWISE_RELU_FWD, 0, 2, e.p0, e.p1});

  int64_t nextVirtual = kVirtual;
  auto output = [&](bool last) -> Desc {
    return last ? tensor(kY, half, yDims, yStrides, false) : tensor(nextVirtual++, flt, yDims, yStrides, true);
  };

  Desc conv(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  const int64_t dims = 2;
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  const int64_t pads[2] = {s.ph, s.pw}, strides[2] = {s.sh, s.sw}, dil[2] = {s.dh, s.dw};
  // cuDNN pads both sides alike (the caller checked that the ONNX pads are symmetric).
  conv.set(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, &flt)
      .set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, &mode)
      .set(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, &dims)
      .set(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, pads, 2)
      .set(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, pads, 2)
      .set(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, strides, 2)
      .set(CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, dil, 2)
      .finalize("convolution descriptor");

  std::vector<cudnnBackendDescriptor_t> ops;
  Desc convOut = output(steps.empty());
  Desc convOp(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
  const float one = 1.f, zero = 0.f;
  convOp.setDesc(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, x)
      .setDesc(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, w)
      .setDesc(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, convOut)
      .setDesc(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, conv)
      .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, &one)
      .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, &zero)
      .finalize("convolution operation");
  ops.push_back(convOp.get());
  g.keep.push_back(std::move(conv));
  g.keep.push_back(std::move(convOut));
  g.keep.push_back(std::move(convOp));
  size_t prev = g.keep.size() - 2;  // the last op's output tensor

  for (size_t i = 0; i < steps.size(); i++) {
    const Step& st = steps[i];
    Desc pw(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
    pw.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, &st.mode).set(CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, &flt);
    if (st.mode == CUDNN_POINTWISE_RELU_FWD) {
      const double lo = st.lo;
      pw.set(CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP, CUDNN_TYPE_DOUBLE, &lo);
      if (st.kind == 2) { const double hi = st.hi; pw.set(CUDNN_ATTR_POINTWISE_RELU_UPPER_CLIP, CUDNN_TYPE_DOUBLE, &hi); }
    }
    pw.finalize("pointwise descriptor");
    Desc out = output(i + 1 == steps.size());
    Desc op(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
    op.setDesc(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw).setDesc(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, g.keep[prev]);
    if (st.operand == kBias) {
      g.keep.push_back(tensor(kBias, flt, {1, s.K, 1, 1}, {s.K, 1, s.K, s.K}, false));
      op.setDesc(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, g.keep.back());
    } else if (st.operand == kZ) {
      g.keep.push_back(tensor(kZ, half, yDims, yStrides, false));
      op.setDesc(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, g.keep.back());
    }
    op.setDesc(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, out).finalize("pointwise operation");
    ops.push_back(op.get());
    g.keep.push_back(std::move(pw));
    g.keep.push_back(std::move(out));
    prev = g.keep.size() - 1;
    g.keep.push_back(std::move(op));
  }

  g.graph = Desc(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  g.graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, ops.data(), static_cast<int64_t>(ops.size()))
      .set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, &h)
      .finalize("operation graph");
}

// The heuristics' engine configurations for the graph, best first (mode A).
std::vector<Desc> heuristics(const Desc& graph) {
  Desc heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  const cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
  heur.setDesc(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph).set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, &mode).finalize("engine heuristics");
  int64_t count = 0;
  check(backendApi().get(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, nullptr), "heuristics count");
  std::vector<Desc> cfgs;
  for (int64_t i = 0; i < count; i++) cfgs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
  std::vector<cudnnBackendDescriptor_t> raw;
  for (auto& c : cfgs) raw.push_back(c.get());
  int64_t got = 0;
  if (count > 0) check(backendApi().get(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &got, raw.data()), "heuristics results");
  cfgs.resize(static_cast<size_t>(std::min(got, count)));
  return cfgs;
}

// The engine's global index and whether its numerical notes allow it here.
struct EngineInfo {
  int64_t index = -1;
  bool allowed = true;
  bool runtimeCompiled = false;
};
EngineInfo engineInfo(const Desc& cfg) {
  EngineInfo info;
  Desc engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  cudnnBackendDescriptor_t raw = engine.get();
  int64_t n = 0;
  check(backendApi().get(cfg.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &raw), "engine of a configuration");
  check(backendApi().get(raw, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n, &info.index), "engine index");
  cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  if (backendApi().get(raw, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE, CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &n, notes) == CUDNN_STATUS_SUCCESS) {
    for (int64_t i = 0; i < n; i++) {
      if (notes[i] == CUDNN_NUMERICAL_NOTE_FFT || notes[i] == CUDNN_NUMERICAL_NOTE_WINOGRAD || notes[i] == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION ||
          notes[i] == CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC) info.allowed = false;
    }
  }
  cudnnBackendBehaviorNote_t behavior[CUDNN_BEHAVIOR_NOTE_TYPE_COUNT];
  if (backendApi().get(raw, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE, CUDNN_BEHAVIOR_NOTE_TYPE_COUNT, &n, behavior) == CUDNN_STATUS_SUCCESS) {
    for (int64_t i = 0; i < n; i++) if (behavior[i] == CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION) info.runtimeCompiled = true;
  }
  return info;
}

Desc executionPlan(cudnnHandle_t h, const Desc& cfg) {
  Desc plan(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
  plan.setDesc(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, cfg).set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, &h).finalize("execution plan");
  return plan;
}

// The plan as cuDNN's JSON (it carries the compiled kernel: restoring it skips the compilation,
// 1-5 ms instead of 35-1,100 on an H100); "" where cuDNN declines.
std::string serialize(const Desc& plan) {
  int64_t n = 0;
  if (backendApi().get(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, 0, &n, nullptr) != CUDNN_STATUS_SUCCESS || n <= 0) return "";
  std::string json(static_cast<size_t>(n), '\0');
  if (backendApi().get(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, n, &n, json.data()) != CUDNN_STATUS_SUCCESS) return "";
  json.resize(static_cast<size_t>(std::min<int64_t>(n, static_cast<int64_t>(json.size()))));
  while (!json.empty() && json.back() == '\0') json.pop_back();
  // One timing-cache line each: a plan with a line break is not kept.
  return json.find_first_of("\r\n") == std::string::npos ? json : "";
}

Desc deserialize(cudnnHandle_t h, const std::string& json) {
  Desc plan(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
  plan.set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, &h)
      .set(CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, json.data(), static_cast<int64_t>(json.size()))
      .finalize("execution plan from JSON");
  return plan;
}

int64_t workspaceOf(const Desc& plan) {
  int64_t bytes = 0, n = 0;
  check(backendApi().get(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n, &bytes), "workspace size");
  return bytes;
}

void execute(cudnnHandle_t h, const Desc& plan, const GraphConvIo& io, void* workspace, bool bias, bool z) {
  std::vector<int64_t> uids{kX, kW, kY};
  std::vector<void*> ptrs{const_cast<void*>(io.x), const_cast<void*>(io.w), io.y};
  if (bias) { uids.push_back(kBias); ptrs.push_back(const_cast<float*>(io.bias)); }
  if (z) { uids.push_back(kZ); ptrs.push_back(const_cast<void*>(io.z)); }
  Desc pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, uids.data(), static_cast<int64_t>(uids.size()))
      .set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, ptrs.data(), static_cast<int64_t>(ptrs.size()))
      .set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, &workspace)
      .finalize("variant pack");
  const cudnnStatus_t s = backendApi().execute(h, plan.get(), pack.get());
  if (s != CUDNN_STATUS_SUCCESS) throw std::runtime_error(std::string("cuDNN cudnnBackendExecute: ") + backendApi().errorString(s));
}

}  // namespace

// The plan from the operation graph and cuDNN's heuristics: the candidate of `rank` (a timing
// cache's), or for rank < 0 the fastest of the first `candidates`. False, with `why`, when none.
static bool planFromHeuristics(cudnnHandle_t h, const GraphConvShape& s, const GraphConvEpilogue& e, int rank, int candidates, const GraphConvIo& io, cudaStream_t stream,
                               GraphConv::Impl* g, std::string& why) {
  const auto t0 = std::chrono::steady_clock::now();
  buildGraph(h, s, e, *g);
  const auto t1 = std::chrono::steady_clock::now();
  std::vector<Desc> cfgs = heuristics(g->graph);
  const auto t2 = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  if (cfgs.empty()) { why = "no engine in the heuristics"; return false; }
  if (rank >= 0) {
    // From the timing cache: that rank, if it still finalizes (the same GPU and cuDNN give the same list).
    if (rank >= static_cast<int>(cfgs.size())) { why = "the cached rank is past the heuristics' list"; return false; }
    g->plan = executionPlan(h, cfgs[static_cast<size_t>(rank)]);
    g->engineIndex = engineInfo(cfgs[static_cast<size_t>(rank)]).index;
    g->rank = rank;
    if (tacticVerbose()) std::fprintf(stderr, "  graph %.1f ms, heuristics %.1f ms (%zu engines), plan %.1f ms\n", ms(t0, t1), ms(t1, t2), cfgs.size(), ms(t2, std::chrono::steady_clock::now()));
  } else {
    // The candidates: the heuristics' first `candidates` allowed engines. Their plans are
    // finalized on threads of their own (finalizing compiles the runtime-fused kernels, a few
    // hundred ms each on an H100; the same handle may finalize plans concurrently), then timed
    // one after the other on the stream.
    std::vector<size_t> picks;
    std::vector<EngineInfo> infos;
    for (size_t i = 0; i < cfgs.size() && static_cast<int>(picks.size()) < candidates; i++) {
      EngineInfo info;
      try { info = engineInfo(cfgs[i]); } catch (const Refused&) { continue; }
      if (!info.allowed) continue;
      picks.push_back(i);
      infos.push_back(info);
    }
    std::vector<Desc> plans(picks.size());
    std::vector<std::string> refusals(picks.size());
    std::vector<double> finalizeMs(picks.size(), 0);
    int device = 0;
    cudaGetDevice(&device);
    {
      std::vector<std::thread> threads;
      for (size_t c = 0; c < picks.size(); c++) {
        threads.emplace_back([&, c] {
          cudaSetDevice(device);
          const auto t0 = std::chrono::steady_clock::now();
          try { plans[c] = executionPlan(h, cfgs[picks[c]]); } catch (const Refused& r) { refusals[c] = r.what; }
          finalizeMs[c] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        });
      }
      for (auto& t : threads) t.join();
    }
    for (size_t c = 0; c < picks.size(); c++) {
      const size_t i = picks[c];
      const long long index = static_cast<long long>(infos[c].index);
      if (!refusals[c].empty()) {
        if (tacticVerbose()) std::fprintf(stderr, "  graph rank %zu engine %lld: %s\n", i, index, refusals[c].c_str());
        continue;
      }
      const int64_t wsBytes = workspaceOf(plans[c]);
      void* ws = nullptr;
      if (wsBytes > 0 && cudaMalloc(&ws, static_cast<size_t>(wsBytes)) != cudaSuccess) { cudaGetLastError(); continue; }
      float ms = -1;
      try {
        ms = perCall(timeOnStream(stream, [&] { execute(h, plans[c], io, ws, e.bias, e.z); }));
      } catch (const std::exception& x) {
        if (tacticVerbose()) std::fprintf(stderr, "  graph rank %zu engine %lld: %s\n", i, index, x.what());
      }
      if (ws) cudaFree(ws);
      if (tacticVerbose()) std::fprintf(stderr, "  graph rank %zu engine %lld%s: %.4f ms, workspace %lld, plan built in %.0f ms\n", i, index,
                                  infos[c].runtimeCompiled ? " (runtime compiled)" : "", ms, static_cast<long long>(wsBytes), finalizeMs[c]);
      if (ms >= 0 && (g->ms < 0 || ms < g->ms)) { g->plan = std::move(plans[c]); g->rank = static_cast<int>(i); g->engineIndex = infos[c].index; g->ms = ms; }
    }
    if (g->rank < 0) { why = "no engine finalized and ran"; return false; }
  }
  return true;
}

std::unique_ptr<GraphConv> GraphConv::build(cudnnHandle_t h, const GraphConvShape& s, const GraphConvEpilogue& e, int rank, const std::string& planJson,
                                            int candidates, const GraphConvIo& io, cudaStream_t stream, std::string& why) {
  if (!backendApi().ok) { why = "cuDNN's backend API is missing"; return nullptr; }
  if (!graphConvExpressible(e)) { why = "an activation the graph does not express"; return nullptr; }
  auto g = std::make_unique<Impl>();
  g->hasBias = e.bias;
  g->hasZ = e.z;
  if (rank >= 0 && !planJson.empty()) {
    // A cached plan: restored as it was (no graph, heuristics or compilation); one cuDNN no longer
    // takes (another version or GPU behind the same cache key) falls through to the rank.
    try {
      g->plan = deserialize(h, planJson);
      g->rank = rank;
    } catch (const Refused&) {
      g->plan = Desc();
    }
  }
  try {
    if (!g->plan.get()) {
      if (!planFromHeuristics(h, s, e, rank, candidates, io, stream, g.get(), why)) return nullptr;
    }
    g->workspaceBytes = workspaceOf(g->plan);
    if (g->workspaceBytes > 0 && cudaMalloc(&g->workspace, static_cast<size_t>(g->workspaceBytes)) != cudaSuccess) {
      cudaGetLastError();
      why = "no memory for the workspace";
      return nullptr;
    }
  } catch (const Refused& r) {
    why = r.what;
    return nullptr;
  }
  return std::make_unique<GraphConv>(std::move(g));
}

void GraphConv::run(cudnnHandle_t h, const GraphConvIo& io) const {
  execute(h, impl_->plan, io, impl_->workspace, impl_->hasBias, impl_->hasZ);
}

std::string GraphConv::serialized() const { return serialize(impl_->plan); }

}  // namespace twinfer

#endif
