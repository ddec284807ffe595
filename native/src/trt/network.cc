// See network.h. One branch per layer kind of backends/tensorrt/network.ts; attributes arrive in
// TensorRT's terms, so each branch only translates names into enums and calls INetworkDefinition.
#include "network.h"

#include <cfloat>
#include <functional>
#include <stdexcept>

namespace twinfer {
namespace trt {

using namespace nvinfer1;

DataType dataType(const std::string& n) {
  if (n == "float") return DataType::kFLOAT;
  if (n == "half") return DataType::kHALF;
  if (n == "bf16") return DataType::kBF16;
  if (n == "int8") return DataType::kINT8;
  if (n == "uint8") return DataType::kUINT8;
  if (n == "int32") return DataType::kINT32;
  if (n == "int64") return DataType::kINT64;
  if (n == "bool") return DataType::kBOOL;
  throw std::runtime_error("unknown data type '" + n + "'");
}

size_t dataTypeBytes(DataType t) {
  switch (t) {
    case DataType::kFLOAT:
    case DataType::kINT32: return 4;
    case DataType::kHALF:
    case DataType::kBF16: return 2;
    case DataType::kINT64: return 8;
    default: return 1;
  }
}

Dims dims(const std::vector<int64_t>& v, const char* what) {
  if (v.size() > static_cast<size_t>(Dims::MAX_DIMS)) throw std::runtime_error(std::string(what) + ": rank " + std::to_string(v.size()) + " is over TensorRT's " + std::to_string(Dims::MAX_DIMS));
  Dims d{};
  d.nbDims = static_cast<int32_t>(v.size());
  for (size_t i = 0; i < v.size(); i++) d.d[i] = v[i];
  return d;
}

namespace {

template <class E>
E pick(const std::string& v, std::initializer_list<std::pair<const char*, E>> table, const char* what) {
  for (const auto& kv : table) {
    if (v == kv.first) return kv.second;
  }
  throw std::runtime_error(std::string("unknown ") + what + " '" + v + "'");
}

Permutation permutation(const std::vector<int64_t>& p) {
  Permutation out{};
  if (p.size() > static_cast<size_t>(Dims::MAX_DIMS)) throw std::runtime_error("permutation longer than TensorRT's rank limit");
  for (size_t i = 0; i < p.size(); i++) out.order[i] = static_cast<int32_t>(p[i]);
  return out;
}

template <class T>
T* need(T* layer, const std::string& what) {
  if (!layer) throw std::runtime_error("TensorRT refused " + what + " (see the TensorRT log above)");
  return layer;
}

}  // namespace

NetworkFromDescription::NetworkFromDescription(INetworkDefinition& net, const Json& desc, const std::vector<Buffer>& buffers) : net_(net) {
  if (desc.str("format", "") != "twinfer-trt-network") throw std::runtime_error("not a twinfer TensorRT network description");
  if (desc.integer("version", 0) != 1) throw std::runtime_error("network description version " + std::to_string(desc.integer("version", 0)) + " is not 1");
  for (const Json& w : desc.at("weights").array()) {
    const std::string name = w.at("name").string();
    const DataType t = dataType(w.at("dtype").string());
    const std::vector<int64_t> d = w.ints("dims");
    int64_t count = 1;
    for (int64_t x : d) count *= x;
    const int64_t b = w.at("buffer").integer();
    if (b < 0 || static_cast<size_t>(b) >= buffers.size()) throw std::runtime_error("weight '" + name + "' names buffer " + std::to_string(b) + " of " + std::to_string(buffers.size()));
    if (buffers[b].bytes != static_cast<size_t>(count) * dataTypeBytes(t)) {
      throw std::runtime_error("weight '" + name + "': buffer of " + std::to_string(buffers[b].bytes) + " bytes for " + std::to_string(count) + " elements");
    }
    weights_[name] = {t, d, buffers[b].data, count};
  }
  for (const Json& in : desc.at("inputs").array()) {
    const std::string name = in.at("name").string();
    ITensor* t = need(net_.addInput(name.c_str(), dataType(in.at("dtype").string()), dims(in.ints("dims"), name.c_str())), "input " + name);
    tensors_[name] = t;
  }
  for (const Json& l : desc.at("layers").array()) {
    const std::string name = l.str("name", "?");
    try {
      addLayer(l);
    } catch (const std::exception& e) {
      throw std::runtime_error("layer '" + name + "' (node '" + l.str("node", "") + "', " + l.str("kind", "?") + "): " + e.what());
    }
  }
  for (const Json& o : desc.at("outputs").array()) {
    ITensor& t = tensor(o.string());
    net_.markOutput(t);
  }
}

ITensor& NetworkFromDescription::tensor(const std::string& name) {
  const auto it = tensors_.find(name);
  if (it != tensors_.end()) return *it->second;
  const auto w = weights_.find(name);
  if (w == weights_.end()) throw std::runtime_error("unknown tensor '" + name + "'");
  IConstantLayer* c = need(net_.addConstant(dims(w->second.dims, name.c_str()), weights(name)), "constant " + name);
  c->setName(("const:" + name).c_str());
  ITensor* t = c->getOutput(0);
  t->setName(name.c_str());
  tensors_[name] = t;
  return *t;
}

Weights NetworkFromDescription::weights(const std::string& name) {
  const auto w = weights_.find(name);
  if (w == weights_.end()) throw std::runtime_error("'" + name + "' is not a weight");
  return Weights{w->second.type, w->second.data, w->second.count};
}

ITensor& NetworkFromDescription::int64Constant(const std::vector<int64_t>& v) {
  owned_.push_back(v);
  const std::vector<int64_t>& kept = owned_.back();
  IConstantLayer* c = need(net_.addConstant(dims({static_cast<int64_t>(kept.size())}, "shape constant"), Weights{DataType::kINT64, kept.data(), static_cast<int64_t>(kept.size())}), "shape constant");
  return *c->getOutput(0);
}

void NetworkFromDescription::setOutputs(ILayer* l, const Json& layer) {
  l->setName(layer.at("name").string().c_str());
  const auto& outs = layer.at("outputs").array();
  if (static_cast<int32_t>(outs.size()) > l->getNbOutputs()) throw std::runtime_error("more outputs named than the layer has");
  for (size_t i = 0; i < outs.size(); i++) {
    const std::string& n = outs[i].string();
    if (tensors_.count(n) || weights_.count(n)) throw std::runtime_error("tensor '" + n + "' is defined twice");
    ITensor* t = l->getOutput(static_cast<int32_t>(i));
    t->setName(n.c_str());
    tensors_[n] = t;
  }
}

void NetworkFromDescription::addLayer(const Json& L) {
  const std::string kind = L.at("kind").string();
  const Json& a = L.has("attrs") ? L.at("attrs") : L;
  std::vector<std::string> in;
  for (const Json& v : L.at("inputs").array()) in.push_back(v.string());
  auto input = [&](size_t i) -> ITensor& {
    if (i >= in.size()) throw std::runtime_error("input " + std::to_string(i) + " is missing");
    return tensor(in[i]);
  };
  auto setWindow = [&](auto* layer) {
    if (a.has("stride")) layer->setStrideNd(dims(a.ints("stride"), "stride"));
    const std::string mode = a.str("padMode", "");
    if (mode == "same_upper") layer->setPaddingMode(PaddingMode::kSAME_UPPER);
    else if (mode == "same_lower") layer->setPaddingMode(PaddingMode::kSAME_LOWER);
    else if (!mode.empty()) throw std::runtime_error("unknown padMode '" + mode + "'");
    if (a.has("prePad")) layer->setPrePadding(dims(a.ints("prePad"), "prePad"));
    if (a.has("postPad")) layer->setPostPadding(dims(a.ints("postPad"), "postPad"));
  };
  ILayer* layer = nullptr;

  if (kind == "convolution" || kind == "deconvolution") {
    const Dims k = dims(a.ints("kernel"), "kernel");
    const int64_t maps = a.integer("outMaps", 0);
    // Kernel and bias: weights when named so, else tensors (dequantized int8 kernels) set as inputs.
    const bool kw = in.size() > 1 && isWeight(in[1]);
    const bool bw = in.size() > 2 && isWeight(in[2]);
    const Weights kernel = kw ? weights(in[1]) : Weights{DataType::kFLOAT, nullptr, 0};
    const Weights bias = bw ? weights(in[2]) : Weights{DataType::kFLOAT, nullptr, 0};
    auto finish = [&](auto* c) {
      c->setNbGroups(a.integer("groups", 1));
      if (a.has("dilation")) c->setDilationNd(dims(a.ints("dilation"), "dilation"));
      setWindow(c);
      if (!kw) c->setInput(1, input(1));
      if (in.size() > 2 && !bw) c->setInput(2, input(2));
      return c;
    };
    if (kind == "convolution") layer = finish(need(net_.addConvolutionNd(input(0), maps, k, kernel, bias), "convolution"));
    else layer = finish(need(net_.addDeconvolutionNd(input(0), maps, k, kernel, bias), "deconvolution"));
  } else if (kind == "activation") {
    const std::string t = a.at("type").string();
    const ActivationType type = pick<ActivationType>(t, {{"relu", ActivationType::kRELU}, {"sigmoid", ActivationType::kSIGMOID}, {"tanh", ActivationType::kTANH},
        {"leaky_relu", ActivationType::kLEAKY_RELU}, {"elu", ActivationType::kELU}, {"selu", ActivationType::kSELU}, {"softsign", ActivationType::kSOFTSIGN},
        {"softplus", ActivationType::kSOFTPLUS}, {"clip", ActivationType::kCLIP}, {"hard_sigmoid", ActivationType::kHARD_SIGMOID},
        {"scaled_tanh", ActivationType::kSCALED_TANH}, {"thresholded_relu", ActivationType::kTHRESHOLDED_RELU},
        {"gelu_erf", ActivationType::kGELU_ERF}, {"gelu_tanh", ActivationType::kGELU_TANH}}, "activation");
    IActivationLayer* l = need(net_.addActivation(input(0), type), "activation");
    // JSON has no infinities (the serializer's +-Infinity arrive as null): clip's open ends become +-FLT_MAX.
    const bool clip = type == ActivationType::kCLIP;
    if (a.has("alpha") || clip) l->setAlpha(static_cast<float>(a.num("alpha", clip ? -FLT_MAX : 0)));
    if (a.has("beta") || clip) l->setBeta(static_cast<float>(a.num("beta", clip ? FLT_MAX : 0)));
    layer = l;
  } else if (kind == "elementwise") {
    const ElementWiseOperation op = pick<ElementWiseOperation>(a.at("op").string(), {{"sum", ElementWiseOperation::kSUM}, {"prod", ElementWiseOperation::kPROD},
        {"max", ElementWiseOperation::kMAX}, {"min", ElementWiseOperation::kMIN}, {"sub", ElementWiseOperation::kSUB}, {"div", ElementWiseOperation::kDIV},
        {"pow", ElementWiseOperation::kPOW}, {"floor_div", ElementWiseOperation::kFLOOR_DIV}, {"and", ElementWiseOperation::kAND},
        {"or", ElementWiseOperation::kOR}, {"xor", ElementWiseOperation::kXOR}, {"equal", ElementWiseOperation::kEQUAL},
        {"greater", ElementWiseOperation::kGREATER}, {"less", ElementWiseOperation::kLESS}}, "element-wise op");
    layer = need(net_.addElementWise(input(0), input(1), op), "element-wise");
  } else if (kind == "unary") {
    const UnaryOperation op = pick<UnaryOperation>(a.at("op").string(), {{"exp", UnaryOperation::kEXP}, {"log", UnaryOperation::kLOG}, {"sqrt", UnaryOperation::kSQRT},
        {"recip", UnaryOperation::kRECIP}, {"abs", UnaryOperation::kABS}, {"neg", UnaryOperation::kNEG}, {"sin", UnaryOperation::kSIN}, {"cos", UnaryOperation::kCOS},
        {"tan", UnaryOperation::kTAN}, {"sinh", UnaryOperation::kSINH}, {"cosh", UnaryOperation::kCOSH}, {"asin", UnaryOperation::kASIN},
        {"acos", UnaryOperation::kACOS}, {"atan", UnaryOperation::kATAN}, {"asinh", UnaryOperation::kASINH}, {"acosh", UnaryOperation::kACOSH},
        {"atanh", UnaryOperation::kATANH}, {"ceil", UnaryOperation::kCEIL}, {"floor", UnaryOperation::kFLOOR}, {"erf", UnaryOperation::kERF},
        {"not", UnaryOperation::kNOT}, {"sign", UnaryOperation::kSIGN}, {"round", UnaryOperation::kROUND}, {"isinf", UnaryOperation::kISINF},
        {"isnan", UnaryOperation::kISNAN}}, "unary op");
    layer = need(net_.addUnary(input(0), op), "unary");
  } else if (kind == "matmul") {
    auto op = [&](const char* k) {
      return pick<MatrixOperation>(a.str(k, "none"), {{"none", MatrixOperation::kNONE}, {"transpose", MatrixOperation::kTRANSPOSE}, {"vector", MatrixOperation::kVECTOR}}, "matrix op");
    };
    layer = need(net_.addMatrixMultiply(input(0), op("opA"), input(1), op("opB")), "matrix multiply");
  } else if (kind == "pooling") {
    const PoolingType t = pick<PoolingType>(a.at("type").string(), {{"max", PoolingType::kMAX}, {"average", PoolingType::kAVERAGE}}, "pooling");
    IPoolingLayer* l = need(net_.addPoolingNd(input(0), t, dims(a.ints("window"), "window")), "pooling");
    // Explicit padding, rounding the output size up (ceil_mode) or down; SAME modes replace both.
    if (a.integer("roundUp", 0)) l->setPaddingMode(PaddingMode::kEXPLICIT_ROUND_UP);
    setWindow(l);
    if (t == PoolingType::kAVERAGE) l->setAverageCountExcludesPadding(a.integer("excludePadding", 1) != 0);
    layer = l;
  } else if (kind == "reduce") {
    const ReduceOperation op = pick<ReduceOperation>(a.at("op").string(), {{"sum", ReduceOperation::kSUM}, {"prod", ReduceOperation::kPROD},
        {"max", ReduceOperation::kMAX}, {"min", ReduceOperation::kMIN}, {"avg", ReduceOperation::kAVG}}, "reduce op");
    layer = need(net_.addReduce(input(0), op, static_cast<uint32_t>(a.integer("axes", 0)), a.integer("keepDims", 1) != 0), "reduce");
  } else if (kind == "softmax") {
    ISoftMaxLayer* l = need(net_.addSoftMax(input(0)), "softmax");
    l->setAxes(static_cast<uint32_t>(a.integer("axes", 2)));
    layer = l;
  } else if (kind == "concatenation") {
    std::vector<ITensor*> xs;
    for (size_t i = 0; i < in.size(); i++) xs.push_back(&input(i));
    IConcatenationLayer* l = need(net_.addConcatenation(xs.data(), static_cast<int32_t>(xs.size())), "concatenation");
    l->setAxis(static_cast<int32_t>(a.integer("axis", 0)));
    layer = l;
  } else if (kind == "shuffle") {
    IShuffleLayer* l = need(net_.addShuffle(input(0)), "shuffle");
    if (a.has("first")) l->setFirstTranspose(permutation(a.ints("first")));
    if (a.has("reshape")) l->setReshapeDimensions(dims(a.ints("reshape"), "reshape"));  // 0 copies, -1 infers (zeroIsPlaceholder)
    if (a.has("second")) l->setSecondTranspose(permutation(a.ints("second")));
    layer = l;
  } else if (kind == "slice") {
    ITensor& x = input(0);
    const std::vector<int64_t> start = a.ints("start"), size = a.ints("size"), stride = a.ints("stride");
    bool dynamic = false;
    for (int64_t s : size) dynamic = dynamic || s < 0;
    ISliceLayer* l = need(net_.addSlice(x, dims(start, "start"), dims(size, "size"), dims(stride, "stride")), "slice");
    if (dynamic) {
      // Size -1: the input's extent on that axis, known at run time: a size tensor from the input's shape.
      ITensor* shape = need(net_.addShape(x), "shape")->getOutput(0);
      std::vector<ITensor*> parts;
      for (size_t i = 0; i < size.size(); i++) {
        if (size[i] >= 0) {
          parts.push_back(&int64Constant({size[i]}));
        } else {
          ISliceLayer* s = need(net_.addSlice(*shape, dims({static_cast<int64_t>(i)}, "axis"), dims({1}, "one"), dims({1}, "one")), "shape slice");
          parts.push_back(s->getOutput(0));
        }
      }
      IConcatenationLayer* c = need(net_.addConcatenation(parts.data(), static_cast<int32_t>(parts.size())), "size concatenation");
      l->setInput(2, *c->getOutput(0));
    }
    l->setMode(pick<SampleMode>(a.str("mode", "strict"), {{"strict", SampleMode::kSTRICT_BOUNDS}, {"wrap", SampleMode::kWRAP}, {"clamp", SampleMode::kCLAMP},
        {"fill", SampleMode::kFILL}, {"reflect", SampleMode::kREFLECT}}, "slice mode"));
    if (in.size() > 1) l->setInput(4, input(1));  // the fill value
    layer = l;
  } else if (kind == "resize") {
    IResizeLayer* l = need(net_.addResize(input(0)), "resize");
    l->setResizeMode(pick<InterpolationMode>(a.str("mode", "nearest"), {{"nearest", InterpolationMode::kNEAREST}, {"linear", InterpolationMode::kLINEAR}, {"cubic", InterpolationMode::kCUBIC}}, "resize mode"));
    l->setCoordinateTransformation(pick<ResizeCoordinateTransformation>(a.str("coordinate", "half_pixel"), {{"align_corners", ResizeCoordinateTransformation::kALIGN_CORNERS},
        {"asymmetric", ResizeCoordinateTransformation::kASYMMETRIC}, {"half_pixel", ResizeCoordinateTransformation::kHALF_PIXEL}}, "coordinate transformation"));
    if (a.has("nearestRounding")) {
      l->setNearestRounding(pick<ResizeRoundMode>(a.at("nearestRounding").string(), {{"half_up", ResizeRoundMode::kHALF_UP}, {"half_down", ResizeRoundMode::kHALF_DOWN},
          {"floor", ResizeRoundMode::kFLOOR}, {"ceil", ResizeRoundMode::kCEIL}}, "nearest rounding"));
    }
    if (a.has("cubicCoeff")) l->setCubicCoeff(static_cast<float>(a.num("cubicCoeff", -0.75)));
    if (a.has("excludeOutside")) l->setExcludeOutside(a.integer("excludeOutside", 0) != 0);
    if (a.has("scales")) {
      std::vector<float> s;
      for (double v : a.nums("scales")) s.push_back(static_cast<float>(v));
      l->setScales(s.data(), static_cast<int32_t>(s.size()));
    } else {
      l->setOutputDimensions(dims(a.ints("outDims"), "outDims"));
    }
    layer = l;
  } else if (kind == "normalization") {
    const uint32_t axes = static_cast<uint32_t>(a.integer("axes", 0));
#if NV_TENSORRT_MAJOR > 10 || (NV_TENSORRT_MAJOR == 10 && NV_TENSORRT_MINOR >= 15)
    INormalizationLayer* l = need(net_.addNormalizationV2(input(0), input(1), input(2), axes), "normalization");
#else
    INormalizationLayer* l = need(net_.addNormalization(input(0), input(1), input(2), axes), "normalization");
#endif
    l->setEpsilon(static_cast<float>(a.num("epsilon", 1e-5)));
    if (a.has("groups")) l->setNbGroups(a.integer("groups", 1));
    layer = l;
  } else if (kind == "scale") {
    const Weights none{DataType::kFLOAT, nullptr, 0};
    auto w = [&](size_t i) { return in.size() > i && !in[i].empty() ? weights(in[i]) : none; };
    const ScaleMode mode = pick<ScaleMode>(a.str("mode", "channel"), {{"uniform", ScaleMode::kUNIFORM}, {"channel", ScaleMode::kCHANNEL}, {"elementwise", ScaleMode::kELEMENTWISE}}, "scale mode");
    layer = need(net_.addScaleNd(input(0), mode, w(1), w(2), w(3), static_cast<int32_t>(a.integer("channelAxis", 1))), "scale");
  } else if (kind == "cast") {
    layer = need(net_.addCast(input(0), dataType(a.at("to").string())), "cast");
  } else if (kind == "quantize" || kind == "dequantize") {
    // The three-argument forms: TensorRT 11 removed the two-argument ones (10 deprecated them).
    const DataType to = dataType(a.at("to").string());
    const int64_t axis = a.integer("axis", -1);
    if (kind == "quantize") {
      IQuantizeLayer* l = need(net_.addQuantize(input(0), input(1), to), "quantize");
      if (axis >= 0) l->setAxis(static_cast<int32_t>(axis));
      layer = l;
    } else {
      IDequantizeLayer* l = need(net_.addDequantize(input(0), input(1), to), "dequantize");
      if (axis >= 0) l->setAxis(static_cast<int32_t>(axis));
      layer = l;
    }
    quantized_ = true;
  } else if (kind == "gather") {
    layer = need(net_.addGather(input(0), input(1), static_cast<int32_t>(a.integer("axis", 0))), "gather");
  } else if (kind == "select") {
    layer = need(net_.addSelect(input(0), input(1), input(2)), "select");
  } else if (kind == "prelu") {
    layer = need(net_.addParametricReLU(input(0), input(1)), "parametric ReLU");
  } else if (kind == "identity") {
    layer = need(net_.addIdentity(input(0)), "identity");
  } else if (kind == "shape") {
    layer = need(net_.addShape(input(0)), "shape");
  } else {
    throw std::runtime_error("unknown layer kind '" + kind + "'");
  }
  setOutputs(layer, L);
}

}  // namespace trt
}  // namespace twinfer
