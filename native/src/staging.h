// Large uploads from pageable host memory (a JavaScript array) through pinned staging buffers.
//
// cudaMemcpyAsync from pageable memory stages through the driver's own pinned buffer with one
// thread's memcpy (about 6-7 GB/s on the H100 machine: 24 ms of a 61 ms ResNet-50 batch-256 run for
// its 154 MB input). Here the host-side copy into pinned memory is split over a few threads and
// double-buffered against the DMA: chunk i is copied into one pinned buffer while chunk i-1's DMA
// reads the other. Like the pageable path, upload() returns once the source has been read (the
// caller may reuse it); the DMAs may still run, queued on the stream.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace twinfer {

class StagedUploader {
 public:
  // Uploads below this size take the plain pageable path (staging does not pay for small copies).
  static constexpr size_t kMinBytes = size_t{16} << 20;
  StagedUploader() = default;
  ~StagedUploader();
  StagedUploader(const StagedUploader&) = delete;
  StagedUploader& operator=(const StagedUploader&) = delete;
  // False when pinned memory could not be had (the caller falls back to the pageable path).
  bool upload(void* dst, const void* src, size_t bytes, cudaStream_t stream);
  // Waits for the DMAs still reading the staging buffers, then frees them (before the stream goes).
  void release();

 private:
  // Chunks of an eighth of the upload, between 4 and 16 MB (H100: 4 MB chunks copied 16-32 MB
  // fastest, 16 MB ones 154 MB; each pinned buffer holds the largest).
  static constexpr size_t kMinChunk = size_t{4} << 20, kMaxChunk = size_t{16} << 20;
  bool ready();
  void* pinned_[2] = {nullptr, nullptr};
  cudaEvent_t done_[2] = {nullptr, nullptr};
  bool failed_ = false;
};

// memcpy over up to `threads` threads of a process-wide pool (the calling thread takes a share).
void parallelCopy(void* dst, const void* src, size_t bytes, int threads);

}  // namespace twinfer
