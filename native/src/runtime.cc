// Device probing, optional libraries and the execution context. See runtime.h.
#include "runtime.h"

#include <dlfcn.h>

#include <cstdlib>
#include <stdexcept>

#ifndef TWINFER_HAVE_CUBLASLT
#define TWINFER_HAVE_CUBLASLT 0
#endif
#ifndef TWINFER_HAVE_CUDNN
#define TWINFER_HAVE_CUDNN 0
#endif

namespace twinfer {

std::string cudaErrorText(cudaError_t e) {
  return std::string(cudaGetErrorName(e)) + " (" + std::to_string(static_cast<int>(e)) + "): " + cudaGetErrorString(e);
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaErrorText(e));
}

void needArgs(const char* kernel, const LaunchArgs& a, size_t ni, size_t nf, size_t nptr) {
  if (a.i.size() != ni || a.f.size() != nf || a.ptr.size() != nptr) {
    throw std::runtime_error(std::string(kernel) + ": expected " + std::to_string(ni) + " ints, " + std::to_string(nf) + " floats, " +
                             std::to_string(nptr) + " bindings; got " + std::to_string(a.i.size()) + ", " + std::to_string(a.f.size()) + ", " +
                             std::to_string(a.ptr.size()));
  }
}

void requirePtrs(const char* kernel, const LaunchArgs& a, std::initializer_list<int> required) {
  for (int i : required) {
    if (!a.ptr.at(static_cast<size_t>(i))) throw std::runtime_error(std::string(kernel) + ": binding " + std::to_string(i) + " is required");
  }
}

int checkFn(const char* kernel, int64_t code) {
  if (code < 0 || code >= kFunctionCount) throw std::runtime_error(std::string(kernel) + ": unknown function code " + std::to_string(code));
  return static_cast<int>(code);
}

const Registry& registry() {
  static const Registry r = [] {
    Registry x;
    registerElementwise(x);
    registerGemm(x);
    registerConv(x);
    registerTyped(x);
    registerMovement(x);
    registerReduce(x);
    registerNorm(x);
    registerQConv(x);
    registerNhwc(x);
    return x;
  }();
  return r;
}

namespace {

// Optional libraries are opened at run time, never linked: the addon loads and runs without them.
struct Opened {
  void* handle = nullptr;
  std::string soname;
};
Opened openFirst(std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (void* h = dlopen(n, RTLD_NOW | RTLD_LOCAL)) return {h, n};  // kept open for the process
  }
  return {};
}

}  // namespace

void* optionalLibrary(OptionalLibrary which, std::string* soname) {
  // The toolkit's lib64 last: where cuBLASLt lives when the loader path does not name it.
  static const Opened cublasLt = openFirst({"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so", "/usr/local/cuda/lib64/libcublasLt.so.13",
                                            "/usr/local/cuda/lib64/libcublasLt.so.12"});
  static const Opened cudnn = openFirst({"libcudnn.so.9", "libcudnn.so"});
  const Opened& o = which == OptionalLibrary::Cudnn ? cudnn : cublasLt;
  if (soname) *soname = o.soname;
  return o.handle;
}

void* dlsymOf(void* handle, const char* name) { return handle ? dlsym(handle, name) : nullptr; }

std::string tacticLine(const char* kernel, const std::vector<long long>& shape, const std::string& choice) {
  std::string line = kernel;
  for (long long v : shape) line += " " + std::to_string(v);
  return line + ": " + choice;
}

bool parseTacticLine(const std::string& line, const char* kernel, size_t ints, std::vector<long long>& shape, std::string& choice) {
  const std::string head = std::string(kernel) + " ";
  const size_t colon = line.find(':');
  if (line.rfind(head, 0) != 0 || colon == std::string::npos || colon + 2 > line.size() || line[colon + 1] != ' ') return false;
  shape.clear();
  const char* c = line.c_str() + head.size();
  const char* end = line.c_str() + colon;
  while (c < end) {
    char* next = nullptr;
    const long long v = std::strtoll(c, &next, 10);
    if (next == c) return false;
    shape.push_back(v);
    c = next;
    while (c < end && *c == ' ') c++;
  }
  choice = line.substr(colon + 2);
  return shape.size() == ints;
}

bool envStartsWith(const char* name, char c) {
  const char* v = std::getenv(name);
  return v && v[0] == c;
}

bool tacticVerbose() {
  static const bool v = envStartsWith("TWINFER_CONV_VERBOSE", '1');
  return v;
}

LowpFlags lowpFlags(const char* kernel, int64_t flags) {
  if (flags < 0 || flags > (kFlagTf32 | kFlagF16Out)) throw std::runtime_error(std::string(kernel) + ": flags must be a combination of 1 (TF32 allowed) and 2 (float16 output)");
  return {(flags & kFlagTf32) != 0 || envStartsWith("TWINFER_TF32", '1'), (flags & kFlagF16Out) != 0};
}

Probe probe() {
  Probe p{};
  cudaRuntimeGetVersion(&p.runtimeVersion);
  if (cudaDriverGetVersion(&p.driverVersion) != cudaSuccess) p.driverVersion = 0;
  std::string cublasLt, cudnn;
  optionalLibrary(OptionalLibrary::CublasLt, &cublasLt);
  optionalLibrary(OptionalLibrary::Cudnn, &cudnn);
  p.libraries.push_back({"cublasLt", TWINFER_HAVE_CUBLASLT != 0, cublasLt});
  p.libraries.push_back({"cudnn", TWINFER_HAVE_CUDNN != 0, cudnn});
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    p.available = false;
    p.errorCode = static_cast<int>(e);
    p.error = cudaErrorText(e);
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return p;
  }
  for (int d = 0; d < count; d++) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, d) != cudaSuccess) continue;
    DeviceInfo info{d, prop.name, prop.major, prop.minor, prop.totalGlobalMem, prop.multiProcessorCount, false, ""};
    if (cudaSetDevice(d) == cudaSuccess) {
      const cudaError_t k = kernelImageCheck();
      info.kernelImage = k == cudaSuccess;
      if (!info.kernelImage) info.kernelImageError = cudaErrorText(k);
      cudaGetLastError();
    }
    p.devices.push_back(info);
  }
  bool any = false;
  for (const auto& d : p.devices) any = any || d.kernelImage;
  p.available = any;
  if (count == 0) {
    p.error = "no CUDA device";
  } else if (!any) {
    p.error = "no device can run this build's kernels (" + p.devices[0].kernelImageError + "); rebuild with TWINFER_CUDA_ARCHS=" +
              std::to_string(p.devices[0].major) + std::to_string(p.devices[0].minor);
  }
  return p;
}

DeviceMemory::~DeviceMemory() {
  cudaSetDevice(device_);
  for (auto& b : buffers_) {
    if (b.ptr) cudaFree(b.ptr);
  }
  cudaGetLastError();
}

const DeviceMemory::Buffer& DeviceMemory::buffer(uint32_t id) const {
  if (id >= buffers_.size() || !buffers_[id].ptr) throw std::runtime_error("unknown device buffer " + std::to_string(id));
  return buffers_[id];
}

uint32_t DeviceMemory::alloc(size_t bytes) {
  void* p = nullptr;
  check(cudaMalloc(&p, bytes ? bytes : 4), "cudaMalloc");
  allocated_ += bytes;
  if (!freeIds_.empty()) {
    const uint32_t id = freeIds_.back();
    freeIds_.pop_back();
    buffers_[id] = {p, bytes};
    return id;
  }
  buffers_.push_back({p, bytes});
  return static_cast<uint32_t>(buffers_.size() - 1);
}

void DeviceMemory::free(uint32_t id) {
  const Buffer b = buffer(id);
  // Work queued on any fork's stream may still read the buffer: cudaFree waits for the device.
  check(cudaFree(b.ptr), "cudaFree");
  allocated_ -= b.bytes;
  buffers_[id] = {nullptr, 0};
  freeIds_.push_back(id);
}

char* DeviceMemory::at(uint32_t id, size_t offset, size_t n, const char* what) const {
  const Buffer& b = buffer(id);
  if (offset > b.bytes || n > b.bytes - offset) throw std::runtime_error(std::string(what) + " out of the buffer's bounds");
  return static_cast<char*>(b.ptr) + offset;
}

size_t DeviceMemory::bytes(uint32_t id) const { return buffer(id).bytes; }

Context::Context(int device) {
  check(cudaSetDevice(device), "cudaSetDevice");
  memory_ = std::make_shared<DeviceMemory>(device);
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
}

Context::Context(std::shared_ptr<DeviceMemory> memory) : memory_(std::move(memory)) {
  if (!memory_) throw std::runtime_error("fork of a disposed CUDA context");
  use();
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
}

Context::~Context() {
  try {
    dispose();
  } catch (...) {
  }
}

void Context::use() const {
  if (disposed_) throw std::runtime_error("CUDA context was disposed");
  check(cudaSetDevice(memory_->device()), "cudaSetDevice");
}

DeviceMemory& Context::mem() const {
  if (disposed_ || !memory_) throw std::runtime_error("CUDA context was disposed");
  return *memory_;
}

std::shared_ptr<DeviceMemory> Context::memory() const {
  mem();
  return memory_;
}

uint32_t Context::alloc(size_t bytes) {
  use();
  return mem().alloc(bytes);
}

void Context::free(uint32_t id) {
  mem().bytes(id);  // unknown ids throw before any CUDA call
  use();
  mem().free(id);
}

size_t Context::bytes(uint32_t id) const { return mem().bytes(id); }

void Context::upload(uint32_t id, size_t offset, const void* src, size_t n) {
  char* dst = mem().at(id, offset, n, "upload");
  use();
  // Either way it returns once the source has been read, so the caller may reuse it. Large ones go
  // through pinned staging with several copy threads (staging.h); TWINFER_CUDA_STAGING=0 turns it off.
  const char* off = n >= StagedUploader::kMinBytes ? std::getenv("TWINFER_CUDA_STAGING") : nullptr;  // read per call: benches switch it
  if (n >= StagedUploader::kMinBytes && !(off && off[0] == '0') && staging_.upload(dst, src, n, stream_)) return;
  check(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream_), "upload");
}

void Context::download(uint32_t id, size_t offset, void* dst, size_t n) {
  const void* src = downloadSource(id, offset, n);
  use();
  copyOut(src, dst, n);
}

const void* Context::downloadSource(uint32_t id, size_t offset, size_t n) const { return mem().at(id, offset, n, "download"); }

void Context::copyOut(const void* src, void* dst, size_t n) {
  // cudaSetDevice is per thread: a worker thread needs it too.
  check(cudaSetDevice(memory_->device()), "cudaSetDevice");
  if (n) check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream_), "download");
  check(cudaStreamSynchronize(stream_), "download (stream)");
}

void Context::copy(uint32_t dst, size_t dstOffset, uint32_t src, size_t srcOffset, size_t n) {
  char* d = mem().at(dst, dstOffset, n, "copy destination");
  const char* s = mem().at(src, srcOffset, n, "copy source");
  use();
  if (n) check(cudaMemcpyAsync(d, s, n, cudaMemcpyDeviceToDevice, stream_), "copy");
}

void Context::launch(const std::string& kernel, const std::vector<int64_t>& ints, const std::vector<float>& floats, const std::vector<Binding>& bindings) {
  const auto& reg = registry();
  const auto it = reg.find(kernel);
  if (it == reg.end()) throw std::runtime_error("unknown CUDA kernel '" + kernel + "'");
  std::vector<void*> ptrs;
  ptrs.reserve(bindings.size());
  for (const auto& b : bindings) {
    if (b.buffer < 0) {
      ptrs.push_back(nullptr);
      continue;
    }
    if (b.offset < 0) throw std::runtime_error(kernel + ": binding offset outside its buffer");
    ptrs.push_back(mem().at(static_cast<uint32_t>(b.buffer), static_cast<size_t>(b.offset), 0, (kernel + ": binding offset").c_str()));
  }
  use();
  it->second.fn(LaunchArgs{it->second.code, ints, floats, ptrs, stream_});
  check(cudaGetLastError(), kernel.c_str());
}

void Context::synchronize() {
  use();
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

void Context::captureBegin() {
  use();
  if (capturing()) throw std::runtime_error("captureBegin: the stream is already capturing");
  // Thread-local mode: an unsafe call (cudaMalloc, a synchronization) on this thread invalidates the
  // capture instead of running, so captureEnd reports it and the caller replays without a graph.
  check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
}

bool Context::capturing() {
  use();
  cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
  check(cudaStreamIsCapturing(stream_, &st), "cudaStreamIsCapturing");
  return st != cudaStreamCaptureStatusNone;
}

uint32_t Context::captureEnd() {
  use();
  cudaGraph_t g = nullptr;
  const cudaError_t e = cudaStreamEndCapture(stream_, &g);
  if (e != cudaSuccess || !g) {
    if (g) cudaGraphDestroy(g);
    cudaGetLastError();  // capture errors are not sticky: clear them so later calls start clean
    throw std::runtime_error("cudaStreamEndCapture: " + cudaErrorText(e != cudaSuccess ? e : cudaErrorStreamCaptureInvalidated));
  }
  cudaGraphExec_t x = nullptr;
  const cudaError_t ei = cudaGraphInstantiate(&x, g, 0);
  cudaGraphDestroy(g);
  if (ei != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error("cudaGraphInstantiate: " + cudaErrorText(ei));
  }
  const uint32_t id = nextGraph_++;
  graphs_[id] = x;
  return id;
}

void Context::captureAbort() {
  if (!capturing()) return;
  cudaGraph_t g = nullptr;
  cudaStreamEndCapture(stream_, &g);
  if (g) cudaGraphDestroy(g);
  cudaGetLastError();
}

void Context::graphLaunch(uint32_t id) {
  const auto it = graphs_.find(id);
  if (it == graphs_.end()) throw std::runtime_error("unknown CUDA graph " + std::to_string(id));
  use();
  check(cudaGraphLaunch(it->second, stream_), "cudaGraphLaunch");
}

void Context::graphDestroy(uint32_t id) {
  const auto it = graphs_.find(id);
  if (it == graphs_.end()) throw std::runtime_error("unknown CUDA graph " + std::to_string(id));
  use();
  // A launch of it may still be queued: the executable graph must outlive it.
  check(cudaStreamSynchronize(stream_), "graphDestroy (stream)");
  check(cudaGraphExecDestroy(it->second), "cudaGraphExecDestroy");
  graphs_.erase(it);
}

void Context::memInfo(size_t* freeBytes, size_t* totalBytes) {
  use();
  check(cudaMemGetInfo(freeBytes, totalBytes), "cudaMemGetInfo");
}

void Context::dispose() {
  if (disposed_) return;
  cudaSetDevice(memory_->device());
  if (stream_) {
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    if (cudaStreamIsCapturing(stream_, &st) == cudaSuccess && st != cudaStreamCaptureStatusNone) {
      cudaGraph_t g = nullptr;
      cudaStreamEndCapture(stream_, &g);
      if (g) cudaGraphDestroy(g);
    }
    cudaStreamSynchronize(stream_);
  }
  staging_.release();
  for (auto& kv : graphs_) cudaGraphExecDestroy(kv.second);
  graphs_.clear();
  cudaGetLastError();
  if (stream_) cudaStreamDestroy(stream_);
  stream_ = nullptr;
  memory_.reset();  // the buffers go with the last context holding them
  disposed_ = true;
}

}  // namespace twinfer
