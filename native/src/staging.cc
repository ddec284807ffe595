// Pinned, double-buffered, multi-threaded uploads. See staging.h.
#include "staging.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace twinfer {

namespace {

// A small pool of copy threads, started on first use and kept for the process.
class CopyPool {
 public:
  static CopyPool& get() {
    static CopyPool* pool = new CopyPool();  // never destroyed: threads may outlive static destructors
    return *pool;
  }
  int size() const { return static_cast<int>(workers_.size()); }
  // Runs job(i) for i in [0, n) on the pool and the calling thread; returns when all are done.
  void run(int n, const std::function<void(int)>& job) {
    std::lock_guard<std::mutex> one(run_);  // one job at a time
    std::unique_lock<std::mutex> lock(m_);
    job_ = &job;
    next_ = 0;
    count_ = n;
    pending_ = n;
    lock.unlock();
    cv_.notify_all();
    lock.lock();
    take(lock);
    doneCv_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  CopyPool() {
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    const int n = static_cast<int>(std::min(3u, hw > 1 ? hw - 1 : 0u));
    for (int i = 0; i < n; i++) workers_.emplace_back([this] { loop(); });
    for (auto& t : workers_) t.detach();
  }
  // Runs parts of the current job until none is left (called with m_ held; returns with it held).
  void take(std::unique_lock<std::mutex>& lock) {
    while (job_ && next_ < count_) {
      const int i = next_++;
      const std::function<void(int)>* job = job_;
      lock.unlock();
      (*job)(i);
      lock.lock();
      if (--pending_ == 0) doneCv_.notify_all();
    }
  }
  void loop() {
    std::unique_lock<std::mutex> lock(m_);
    while (true) {
      cv_.wait(lock, [&] { return job_ && next_ < count_; });
      take(lock);
    }
  }
  std::mutex run_;
  std::mutex m_;
  std::condition_variable cv_, doneCv_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;
  int next_ = 0, count_ = 0, pending_ = 0;
};

}  // namespace

void parallelCopy(void* dst, const void* src, size_t bytes, int threads) {
  CopyPool& pool = CopyPool::get();
  const int parts = std::max(1, std::min(threads, pool.size() + 1));
  if (parts == 1 || bytes < (size_t{1} << 20)) {
    std::memcpy(dst, src, bytes);
    return;
  }
  const size_t per = (bytes / parts + 63) & ~size_t{63};
  pool.run(parts, [&](int i) {
    const size_t b = std::min(bytes, per * static_cast<size_t>(i));
    const size_t e = std::min(bytes, b + per);
    if (e > b) std::memcpy(static_cast<char*>(dst) + b, static_cast<const char*>(src) + b, e - b);
  });
}

StagedUploader::~StagedUploader() { release(); }

bool StagedUploader::ready() {
  if (pinned_[0]) return true;
  if (failed_) return false;
  for (int i = 0; i < 2; i++) {
    if (cudaHostAlloc(&pinned_[i], kMaxChunk, cudaHostAllocDefault) != cudaSuccess || cudaEventCreateWithFlags(&done_[i], cudaEventDisableTiming) != cudaSuccess) {
      cudaGetLastError();
      release();
      failed_ = true;
      return false;
    }
  }
  return true;
}

bool StagedUploader::upload(void* dst, const void* src, size_t bytes, cudaStream_t stream) {
  if (!ready()) return false;
  const size_t chunk = std::min(kMaxChunk, std::max(kMinChunk, ((bytes / 8) + (size_t{1} << 20) - 1) & ~((size_t{1} << 20) - 1)));
  for (size_t off = 0, i = 0; off < bytes; off += chunk, i++) {
    const int b = static_cast<int>(i & 1);
    const size_t n = std::min(chunk, bytes - off);
    // The DMA that last read this buffer (two chunks ago, or a previous upload) must be done.
    if (cudaEventSynchronize(done_[b]) != cudaSuccess) return false;
    parallelCopy(pinned_[b], static_cast<const char*>(src) + off, n, 4);
    if (cudaMemcpyAsync(static_cast<char*>(dst) + off, pinned_[b], n, cudaMemcpyHostToDevice, stream) != cudaSuccess) return false;
    if (cudaEventRecord(done_[b], stream) != cudaSuccess) return false;
  }
  return true;
}

void StagedUploader::release() {
  for (int i = 0; i < 2; i++) {
    if (done_[i]) {
      cudaEventSynchronize(done_[i]);
      cudaEventDestroy(done_[i]);
      done_[i] = nullptr;
    }
    if (pinned_[i]) {
      cudaFreeHost(pinned_[i]);
      pinned_[i] = nullptr;
    }
  }
  cudaGetLastError();
}

}  // namespace twinfer
