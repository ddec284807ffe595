// See engine.h.
#include "engine.h"

#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace twinfer {
namespace trt {

using namespace nvinfer1;

void Logger::log(Severity severity, const char* msg) noexcept {
  if (echo) std::fprintf(stderr, "[TensorRT] %s\n", msg);
  if (severity <= keep_) {
    text_ += severity <= Severity::kERROR ? "error: " : "warning: ";
    text_ += msg;
    text_ += '\n';
  }
}

std::string Logger::take() {
  std::string s;
  s.swap(text_);
  return s;
}

namespace {

// TensorRT objects are released with delete since TensorRT 10.
template <class T>
struct Deleter {
  void operator()(T* p) const { delete p; }
};
template <class T>
using Ptr = std::unique_ptr<T, Deleter<T>>;

void cudaCheck(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorName(e) + " (" + std::to_string(static_cast<int>(e)) + "): " + cudaGetErrorString(e));
}

[[noreturn]] void fail(Logger& log, const std::string& what) {
  const std::string detail = log.take();
  throw std::runtime_error("TensorRT: " + what + (detail.empty() ? "" : "\n" + detail));
}

Dims dimsOf(const Json& v, const char* what) {
  std::vector<int64_t> d;
  for (const Json& x : v.array()) d.push_back(x.integer());
  return dims(d, what);
}

bool verbose() {
  const char* v = std::getenv("TWINFER_TRT_VERBOSE");
  return v && std::strcmp(v, "1") == 0;
}

}  // namespace

BuildResult buildEngine(const std::string& json, const std::vector<Buffer>& buffers, const BuildOptions& opts) {
  Logger log;
  log.echo = verbose();
  const Json desc = Json::parse(json);
  Ptr<IBuilder> builder(createInferBuilder(log));
  if (!builder) fail(log, "createInferBuilder failed");

  NetworkDefinitionCreationFlags flags = 0;
#if NV_TENSORRT_MAJOR >= 11
  // Strongly typed is the only mode (the flag is deprecated and ignored); no precision flags exist.
  if (opts.weakTyping || opts.fp16 || opts.int8) {
    throw std::runtime_error("TensorRT 11 has no weakly typed networks (BuilderFlag kFP16 / kINT8 were removed): build with strong typing and let the network's types (Cast layers, half weights, Q/DQ) say the precision");
  }
#else
  if (!opts.weakTyping) flags |= 1U << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);
#endif
  Ptr<INetworkDefinition> net(builder->createNetworkV2(flags));
  if (!net) fail(log, "createNetworkV2 failed");
  NetworkFromDescription from(*net, desc, buffers);

  Ptr<IBuilderConfig> config(builder->createBuilderConfig());
  if (!config) fail(log, "createBuilderConfig failed");
#if NV_TENSORRT_MAJOR < 11
  if (opts.weakTyping) {
    // Deprecated in 10.x in favour of strong typing, which 11 made the only mode.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    if (opts.fp16) config->setFlag(BuilderFlag::kFP16);
    if (opts.int8 || from.hasQuantization()) config->setFlag(BuilderFlag::kINT8);
#pragma GCC diagnostic pop
  }
#endif
  if (!opts.tf32) config->clearFlag(BuilderFlag::kTF32);
  if (opts.workspaceBytes > 0) config->setMemoryPoolLimit(MemoryPoolType::kWORKSPACE, static_cast<size_t>(opts.workspaceBytes));
  if (opts.optimizationLevel >= 0) config->setBuilderOptimizationLevel(opts.optimizationLevel);
  if (opts.dlaCore >= 0) {
    const int n = builder->getNbDLACores();
    if (opts.dlaCore >= n) throw std::runtime_error("TensorRT: DLA core " + std::to_string(opts.dlaCore) + " requested, this device has " + std::to_string(n) + " (DLA is on Jetson AGX / NX modules)");
    config->setDefaultDeviceType(DeviceType::kDLA);
    config->setDLACore(opts.dlaCore);
    if (opts.gpuFallback) config->setFlag(BuilderFlag::kGPU_FALLBACK);
  }

  // Optimization profiles: one per entry, min / opt / max of every dynamic input.
  for (const Json& p : desc.at("profiles").array()) {
    IOptimizationProfile* prof = builder->createOptimizationProfile();
    for (const auto& kv : p.object()) {
      const char* name = kv.first.c_str();
      if (!prof->setDimensions(name, OptProfileSelector::kMIN, dimsOf(kv.second.at("min"), "min")) ||
          !prof->setDimensions(name, OptProfileSelector::kOPT, dimsOf(kv.second.at("opt"), "opt")) ||
          !prof->setDimensions(name, OptProfileSelector::kMAX, dimsOf(kv.second.at("max"), "max"))) {
        fail(log, std::string("optimization profile of '") + name + "' refused");
      }
    }
    if (config->addOptimizationProfile(prof) < 0) fail(log, "optimization profile refused");
  }

  Ptr<ITimingCache> cache(config->createTimingCache(opts.timingCache.data(), opts.timingCache.size()));
  if (!cache) fail(log, "createTimingCache failed");
  // ignoreMismatch: a cache from another device or version is discarded, not an error.
  config->setTimingCache(*cache, true);

  Ptr<IHostMemory> plan(builder->buildSerializedNetwork(*net, *config));
  if (!plan || plan->size() == 0) fail(log, "engine build failed");
  BuildResult r;
  const uint8_t* p = static_cast<const uint8_t*>(plan->data());
  r.plan.assign(p, p + plan->size());
  const ITimingCache* used = config->getTimingCache();
  if (used) {
    Ptr<IHostMemory> tc(used->serialize());
    if (tc) {
      const uint8_t* t = static_cast<const uint8_t*>(tc->data());
      r.timingCache.assign(t, t + tc->size());
    }
  }
  r.log = log.take();
  return r;
}

LibraryInfo libraryInfo() {
  Logger log;
  LibraryInfo info{NV_TENSORRT_MAJOR * 10000 + NV_TENSORRT_MINOR * 100 + NV_TENSORRT_PATCH, getInferLibVersion(), 0};
  Ptr<IBuilder> b(createInferBuilder(log));
  if (b) info.dlaCores = b->getNbDLACores();
  return info;
}

Engine::Engine(const void* plan, size_t bytes, int device, int dlaCore) : device_(device) {
  logger_.echo = verbose();
  try {
    cudaCheck(cudaSetDevice(device_), "cudaSetDevice");
    runtime_ = createInferRuntime(logger_);
    if (!runtime_) fail(logger_, "createInferRuntime failed");
    if (dlaCore >= 0) runtime_->setDLACore(dlaCore);
    engine_ = runtime_->deserializeCudaEngine(plan, bytes);
    if (!engine_) fail(logger_, "the plan does not deserialize (built by another TensorRT version or for another GPU?)");
    context_ = engine_->createExecutionContext();
    if (!context_) fail(logger_, "createExecutionContext failed");
    cudaCheck(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    for (int32_t i = 0; i < engine_->getNbIOTensors(); i++) {
      const char* n = engine_->getIOTensorName(i);
      io_.push_back({n, engine_->getTensorIOMode(n) == TensorIOMode::kINPUT, engine_->getTensorDataType(n)});
    }
  } catch (...) {
    release();
    throw;
  }
}

Engine::~Engine() { release(); }

void Engine::release() {
  if (stream_) {
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
    stream_ = nullptr;
  }
  delete context_;
  context_ = nullptr;
  delete engine_;
  engine_ = nullptr;
  delete runtime_;
  runtime_ = nullptr;
}

int Engine::profiles() const { return engine_ ? engine_->getNbOptimizationProfiles() : 0; }

std::vector<Engine::Output> Engine::run(const std::vector<HostTensor>& inputs) {
  cudaCheck(cudaSetDevice(device_), "cudaSetDevice");
  // The first profile whose [min, max] holds every input's dims.
  int chosen = -1;
  for (int p = 0; p < engine_->getNbOptimizationProfiles() && chosen < 0; p++) {
    bool fits = true;
    for (const HostTensor& t : inputs) {
      const Dims lo = engine_->getProfileShape(t.name.c_str(), p, OptProfileSelector::kMIN);
      const Dims hi = engine_->getProfileShape(t.name.c_str(), p, OptProfileSelector::kMAX);
      if (lo.nbDims < 0) continue;  // a static input: no range
      if (lo.nbDims != static_cast<int32_t>(t.dims.size())) { fits = false; break; }
      for (int32_t k = 0; k < lo.nbDims; k++) fits = fits && t.dims[k] >= lo.d[k] && t.dims[k] <= hi.d[k];
    }
    if (fits) chosen = p;
  }
  if (engine_->getNbOptimizationProfiles() > 1) {
    if (chosen < 0) throw std::runtime_error("TensorRT: the input shapes fit none of the engine's optimization profiles");
    if (chosen != profile_) {
      if (!context_->setOptimizationProfileAsync(chosen, stream_)) fail(logger_, "setOptimizationProfileAsync failed");
      profile_ = chosen;
    }
  }

  std::vector<void*> device;
  auto freeAll = [&]() {
    for (void* p : device) cudaFree(p);
    device.clear();
  };
  try {
    for (const HostTensor& t : inputs) {
      if (!context_->setInputShape(t.name.c_str(), dims(t.dims, t.name.c_str()))) fail(logger_, "input '" + t.name + "': shape refused (outside the profile?)");
      void* p = nullptr;
      cudaCheck(cudaMalloc(&p, t.bytes ? t.bytes : 1), "cudaMalloc");
      device.push_back(p);
      cudaCheck(cudaMemcpyAsync(p, t.data, t.bytes, cudaMemcpyHostToDevice, stream_), "upload");
      if (!context_->setTensorAddress(t.name.c_str(), p)) fail(logger_, "setTensorAddress(" + t.name + ")");
    }
    std::vector<Output> outs;
    std::vector<void*> outPtrs;
    for (const IoTensor& io : io_) {
      if (io.input) continue;
      const Dims d = context_->getTensorShape(io.name.c_str());
      Output o{io.name, io.type, {}, {}};
      size_t n = 1;
      for (int32_t k = 0; k < d.nbDims; k++) {
        if (d.d[k] < 0) throw std::runtime_error("TensorRT: output '" + io.name + "' has a data-dependent shape (not supported by twinfer's TensorRT runner)");
        o.dims.push_back(d.d[k]);
        n *= static_cast<size_t>(d.d[k]);
      }
      o.data.resize(n * dataTypeBytes(io.type));
      void* p = nullptr;
      cudaCheck(cudaMalloc(&p, o.data.size() ? o.data.size() : 1), "cudaMalloc");
      device.push_back(p);
      outPtrs.push_back(p);
      if (!context_->setTensorAddress(io.name.c_str(), p)) fail(logger_, "setTensorAddress(" + io.name + ")");
      outs.push_back(std::move(o));
    }
    if (!context_->enqueueV3(stream_)) fail(logger_, "enqueueV3 failed");
    for (size_t i = 0; i < outs.size(); i++) {
      cudaCheck(cudaMemcpyAsync(outs[i].data.data(), outPtrs[i], outs[i].data.size(), cudaMemcpyDeviceToHost, stream_), "download");
    }
    cudaCheck(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    freeAll();
    return outs;
  } catch (...) {
    cudaStreamSynchronize(stream_);
    freeAll();
    throw;
  }
}

}  // namespace trt
}  // namespace twinfer
