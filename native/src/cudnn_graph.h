// A float16 NHWC convolution and its epilogue as one cuDNN operation graph (the backend API, the one
// PyTorch's cuDNN convolutions go through): conv -> + bias -> act -> + z -> post, where act and post
// are Identity, Relu or Clip (cuDNN's RELU_FWD with clips). The legacy API (cudnnConvolutionForward,
// cudnnConvolutionBiasActivationForward) reaches only a few of cuDNN's engines and fuses only
// Identity/ReLU; the graph API's heuristics list every engine that supports the whole pattern,
// including the ones that fuse the epilogue into the convolution's store.
//
// Only for the packed path (conv.cu runNhwcHalf), only where cuDNN (9.x) is present: built when the
// build found cuDNN's headers, and every entry point is resolved with dlsym like the rest of cuDNN.
#pragma once
#if TWINFER_HAVE_CUDNN

#include <cuda_runtime.h>
#include <cudnn.h>

#include <memory>
#include <string>

namespace twinfer {

struct GraphConvShape {
  int N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, dh, dw, groups;
};

// act and post are activation ids (activation.cuh FN_*), with their two parameters.
struct GraphConvEpilogue {
  bool bias, z;
  int act, post;
  float a0, a1, p0, p1;
};

struct GraphConvIo {
  const void* x;      // half NHWC [N, C, H, W]
  const void* w;      // half KRSC [K, C / groups, R, S]
  const float* bias;  // float [K], or nullptr
  const void* z;      // half NHWC [N, K, P, Q], or nullptr
  void* y;            // half NHWC [N, K, P, Q]
};

// Whether the epilogue can be expressed as the graph's pointwise ops (Identity, Relu, Clip); the
// code that tells patterns apart in the timing cache (bias, z and the two activations' kinds).
bool graphConvExpressible(const GraphConvEpilogue& e);
int graphConvPatternCode(const GraphConvEpilogue& e);

class GraphConv {
 public:
  struct Impl;
  explicit GraphConv(std::unique_ptr<Impl> impl);
  ~GraphConv();
  GraphConv(const GraphConv&) = delete;
  GraphConv& operator=(const GraphConv&) = delete;

  // Builds the operation graph and an execution plan. rank >= 0: from a timing cache, not timed:
  // `planJson` (serialized() of an earlier build) restored where cuDNN takes it, else the
  // heuristics' candidate of that rank. rank < 0: up to `candidates` of the heuristics' engines that
  // finalize are each timed on the stream, writing io.y (so the caller passes a scratch output), and
  // the fastest is kept. nullptr, with the reason in `why`, when the graph API is missing, the
  // pattern is not expressible, or no engine takes it.
  static std::unique_ptr<GraphConv> build(cudnnHandle_t h, const GraphConvShape& s, const GraphConvEpilogue& e, int rank, const std::string& planJson, int candidates,
                                          const GraphConvIo& io, cudaStream_t stream, std::string& why);

  // One execution on the handle's stream (capturable: the workspace is the plan's own).
  void run(cudnnHandle_t h, const GraphConvIo& io) const;

  int rank() const;          // the heuristics' rank of the engine that was kept
  float ms() const;          // its timed milliseconds per call (-1 when taken from a cache)
  std::string engine() const;  // "engine <global index>" for logs
  std::string serialized() const;  // the plan as cuDNN's one-line JSON (compiled kernel included), or ""

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace twinfer

#endif
