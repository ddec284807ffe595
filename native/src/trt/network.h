// Builds a TensorRT INetworkDefinition from twinfer's network description (JSON, see
// backends/tensorrt/network.ts) and its weight buffers. Free of Node-API, so it compiles and can be
// driven from any host program.
#pragma once

#include <NvInfer.h>

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "json.h"

namespace twinfer {
namespace trt {

// One weight buffer as passed by the caller: bytes that must outlive the engine build.
struct Buffer {
  const void* data;
  size_t bytes;
};

nvinfer1::DataType dataType(const std::string& name);
size_t dataTypeBytes(nvinfer1::DataType t);
nvinfer1::Dims dims(const std::vector<int64_t>& v, const char* what);

// Fills `net` (created by the caller with the flags of the build) from the description. Throws
// std::runtime_error naming the layer and its twinfer node on any inconsistency or refusal by
// TensorRT. The object holds the constants it made (shape vectors) and must outlive the build.
class NetworkFromDescription {
 public:
  NetworkFromDescription(nvinfer1::INetworkDefinition& net, const Json& desc, const std::vector<Buffer>& buffers);
  // Whether any layer quantizes (the network is explicitly quantized).
  bool hasQuantization() const { return quantized_; }

 private:
  struct WeightRef {
    nvinfer1::DataType type;
    std::vector<int64_t> dims;
    const void* data;
    int64_t count;
  };
  nvinfer1::ITensor& tensor(const std::string& name);
  nvinfer1::Weights weights(const std::string& name);
  bool isWeight(const std::string& name) const { return weights_.count(name) > 0; }
  nvinfer1::ITensor& int64Constant(const std::vector<int64_t>& v);
  void addLayer(const Json& layer);
  void setOutputs(nvinfer1::ILayer* l, const Json& layer);

  nvinfer1::INetworkDefinition& net_;
  std::map<std::string, nvinfer1::ITensor*> tensors_;
  std::map<std::string, WeightRef> weights_;
  std::deque<std::vector<int64_t>> owned_;  // int64 constants made here (TensorRT keeps pointers)
  bool quantized_ = false;
};

}  // namespace trt
}  // namespace twinfer
