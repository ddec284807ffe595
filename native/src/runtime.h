// The host-side runtime of the addon, free of Node-API: device probing, optional libraries, and the
// execution context (one stream, device buffers from cudaMalloc, launches by kernel name).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common.h"

namespace twinfer {

struct DeviceInfo {
  int index;
  std::string name;
  int major, minor;
  size_t totalMemory;
  int multiprocessors;
  // Whether this addon holds code that runs on the device (SASS for its arch or PTX to JIT).
  bool kernelImage;
  std::string kernelImageError;
};

struct LibraryInfo {
  std::string name;
  bool headersAtBuild;  // CMake found the library's headers (TWINFER_HAVE_*)
  std::string loaded;   // soname that dlopen accepted, empty when none
};

struct Probe {
  bool available;
  std::string error;  // why not available (CUDA error text), empty when available
  int errorCode;      // cudaError_t value, 0 when available
  int runtimeVersion;
  int driverVersion;  // 0 when there is no driver
  std::vector<DeviceInfo> devices;
  std::vector<LibraryInfo> libraries;
};

Probe probe();

// Kernel names known to this build.
const Registry& registry();

// Returns the first kernel's attributes on the current device (used to test for a kernel image).
cudaError_t kernelImageCheck();

// One binding of a launch: a buffer and a byte offset into it; buffer -1 is an absent optional tensor.
struct Binding {
  int64_t buffer;
  int64_t offset;
};

class Context {
 public:
  explicit Context(int device);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device() const { return device_; }
  // cudaMalloc (never managed memory). Returns a buffer id.
  uint32_t alloc(size_t bytes);
  void free(uint32_t id);
  size_t bytes(uint32_t id) const;
  // Copies on the context's stream; download waits for the stream (and so for earlier launches).
  void upload(uint32_t id, size_t offset, const void* src, size_t bytes);
  void download(uint32_t id, size_t offset, void* dst, size_t bytes);
  void launch(const std::string& kernel, const std::vector<int64_t>& ints, const std::vector<float>& floats, const std::vector<Binding>& bindings);
  void synchronize();
  // CUDA graphs: captureBegin puts the stream in capture mode (nothing launched runs until the graph
  // does); captureEnd ends it, instantiates the graph and returns its id (throws, out of capture
  // mode, when the capture was invalidated, e.g. by a synchronizing call inside it); captureAbort
  // leaves capture mode discarding what was captured (a no-op when not capturing).
  void captureBegin();
  uint32_t captureEnd();
  void captureAbort();
  bool capturing();
  void graphLaunch(uint32_t id);
  void graphDestroy(uint32_t id);
  size_t graphCount() const { return graphs_.size(); }
  void dispose();
  size_t allocatedBytes() const { return allocated_; }
  void memInfo(size_t* freeBytes, size_t* totalBytes);

 private:
  struct Buffer {
    void* ptr;
    size_t bytes;
  };
  void use();
  const Buffer& buffer(uint32_t id) const;
  int device_;
  cudaStream_t stream_ = nullptr;
  std::vector<Buffer> buffers_;
  std::vector<uint32_t> freeIds_;
  size_t allocated_ = 0;
  bool disposed_ = false;
  std::map<uint32_t, cudaGraphExec_t> graphs_;
  uint32_t nextGraph_ = 1;
};

}  // namespace twinfer
