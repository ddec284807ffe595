// The host-side runtime of the addon, free of Node-API: device probing, optional libraries, and the
// execution context (one stream, device buffers from cudaMalloc, launches by kernel name).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common.h"
#include "staging.h"

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

// The device buffers of one engine: cudaMalloc'd memory under small integer ids, shared by every
// execution context forked from the context that created it (weights uploaded once serve them all).
// Freed when the last context holding it goes.
class DeviceMemory {
 public:
  explicit DeviceMemory(int device) : device_(device) {}
  ~DeviceMemory();
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  int device() const { return device_; }
  uint32_t alloc(size_t bytes);
  void free(uint32_t id);
  // The device address of [offset, offset + n) of a buffer; throws when out of its bounds.
  char* at(uint32_t id, size_t offset, size_t n, const char* what) const;
  size_t bytes(uint32_t id) const;
  size_t allocatedBytes() const { return allocated_; }

 private:
  struct Buffer {
    void* ptr;
    size_t bytes;
  };
  const Buffer& buffer(uint32_t id) const;
  int device_;
  std::vector<Buffer> buffers_;
  std::vector<uint32_t> freeIds_;
  size_t allocated_ = 0;
};

// One execution context: a stream and its CUDA graphs, over a DeviceMemory that forks share. Two
// contexts forked from one run concurrently on their own streams; buffer ids mean the same in both.
class Context {
 public:
  explicit Context(int device);
  // A fork: a new stream over `memory`.
  explicit Context(std::shared_ptr<DeviceMemory> memory);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device() const { return memory_ ? memory_->device() : -1; }
  std::shared_ptr<DeviceMemory> memory() const;
  // cudaMalloc (never managed memory). Returns a buffer id, valid in every fork.
  uint32_t alloc(size_t bytes);
  void free(uint32_t id);
  size_t bytes(uint32_t id) const;
  // Copies on the context's stream; download waits for the stream (and so for earlier launches).
  void upload(uint32_t id, size_t offset, const void* src, size_t bytes);
  void download(uint32_t id, size_t offset, void* dst, size_t bytes);
  // The two halves of a download that waits off the JavaScript thread: the source address, taken on
  // the calling thread (the buffer table is not thread-safe), and the copy + wait, which may run on
  // any thread (a worker); nothing else may be queued on the stream in between.
  const void* downloadSource(uint32_t id, size_t offset, size_t bytes) const;
  void copyOut(const void* src, void* dst, size_t bytes);
  // Device to device on the context's stream (buffers of the same memory: inputs and outputs kept on the GPU).
  void copy(uint32_t dst, size_t dstOffset, uint32_t src, size_t srcOffset, size_t bytes);
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
  // Ends the stream and its graphs and lets go of the memory (freed when no fork holds it).
  void dispose();
  size_t allocatedBytes() const { return memory_ ? memory_->allocatedBytes() : 0; }
  void memInfo(size_t* freeBytes, size_t* totalBytes);

 private:
  void use() const;
  DeviceMemory& mem() const;
  std::shared_ptr<DeviceMemory> memory_;
  cudaStream_t stream_ = nullptr;
  StagedUploader staging_;  // large uploads (staging.h)
  bool disposed_ = false;
  std::map<uint32_t, cudaGraphExec_t> graphs_;
  uint32_t nextGraph_ = 1;
};

}  // namespace twinfer
