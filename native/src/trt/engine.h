// Building a TensorRT engine from twinfer's network description, and running a built plan.
// Free of Node-API (addon_trt.cc is the glue).
//
// Versions: compiled against TensorRT 10.x and 11.x headers. Differences handled here:
//  - 11 networks are always strongly typed (kSTRONGLY_TYPED is ignored) and BuilderFlag kFP16 /
//    kINT8 are gone; 10 takes either: strongly typed (the default here, as on 11) or weakly typed
//    with the precision flags (`weakTyping`, 10 only: a clear error on 11).
//  - INT8 is explicit quantization on both (Q/DQ layers in the network); IInt8Calibrator is unused.
#pragma once

#include <NvInfer.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "network.h"

namespace twinfer {
namespace trt {

// Collects TensorRT's messages: warnings and errors are kept for the exception text.
class Logger : public nvinfer1::ILogger {
 public:
  explicit Logger(Severity keep = Severity::kWARNING) : keep_(keep) {}
  void log(Severity severity, const char* msg) noexcept override;
  // The errors (and warnings) logged since the last take(), one per line.
  std::string take();
  // Echo to stderr as well (TWINFER_TRT_VERBOSE=1).
  bool echo = false;

 private:
  Severity keep_;
  std::string text_;
};

struct BuildOptions {
  // Weak typing with precision flags: TensorRT 10 only (11 has strongly typed networks alone).
  bool weakTyping = false;
  bool fp16 = false;  // weak typing: BuilderFlag::kFP16
  bool int8 = false;  // weak typing: BuilderFlag::kINT8 (set anyway when the network has Q/DQ layers)
  bool tf32 = true;   // clear BuilderFlag::kTF32 when false
  int dlaCore = -1;   // >= 0: build for that DLA core (Jetson)
  bool gpuFallback = true;  // with DLA: layers DLA cannot run go to the GPU (BuilderFlag::kGPU_FALLBACK)
  int64_t workspaceBytes = 0;  // 0: TensorRT's default (the device memory)
  int optimizationLevel = -1;  // builder optimization level 0..5; -1: TensorRT's default (3)
  std::vector<uint8_t> timingCache;  // a serialized timing cache to start from (may be empty)
};

struct BuildResult {
  std::vector<uint8_t> plan;
  std::vector<uint8_t> timingCache;  // the cache after the build, for the next one
  std::string log;                   // warnings TensorRT printed
};

// Builds and serializes an engine. Throws std::runtime_error with TensorRT's messages on failure.
BuildResult buildEngine(const std::string& json, const std::vector<Buffer>& buffers, const BuildOptions& opts);

// Library facts for probe(): headers compiled against and the library loaded.
struct LibraryInfo {
  int headerVersion;  // NV_TENSORRT_MAJOR * 10000 + MINOR * 100 + PATCH
  int libraryVersion;  // getInferLibVersion()
  int dlaCores;        // IBuilder::getNbDLACores() (0 off Jetson)
};
LibraryInfo libraryInfo();

struct IoTensor {
  std::string name;
  bool input;
  nvinfer1::DataType type;
};

// A deserialized plan with one execution context and its own stream.
class Engine {
 public:
  Engine(const void* plan, size_t bytes, int device, int dlaCore);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const std::vector<IoTensor>& io() const { return io_; }
  int profiles() const;

  struct HostTensor {
    std::string name;
    std::vector<int64_t> dims;
    const void* data;  // inputs
    size_t bytes;
  };
  struct Output {
    std::string name;
    nvinfer1::DataType type;
    std::vector<int64_t> dims;
    std::vector<uint8_t> data;
  };
  // Copies the inputs to the device, picks the first profile whose ranges hold their dims, runs
  // enqueueV3 on the engine's stream and copies every output back.
  std::vector<Output> run(const std::vector<HostTensor>& inputs);

 private:
  void release();
  Logger logger_;
  int device_;
  nvinfer1::IRuntime* runtime_ = nullptr;
  nvinfer1::ICudaEngine* engine_ = nullptr;
  nvinfer1::IExecutionContext* context_ = nullptr;
  cudaStream_t stream_ = nullptr;
  std::vector<IoTensor> io_;
  int profile_ = 0;
};

}  // namespace trt
}  // namespace twinfer
