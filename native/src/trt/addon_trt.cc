// Node-API glue of the TensorRT addon (twinfer_trt.node, built only when TENSORRT_ROOT is set; see
// native/README.md for why it is a second addon). Exports:
//   probe()  -> { available, error?, headerVersion, libraryVersion, dlaCores, cudaDevices }
//   build(json, buffers: ArrayBufferView[], options) -> Promise<{ plan: ArrayBuffer, timingCache: ArrayBuffer, log }>
//            options: { weakTyping, fp16, int8, tf32, dlaCore, gpuFallback, workspaceBytes,
//                       optimizationLevel, timingCache: ArrayBufferView }  (all optional)
//            The build runs on a worker thread (it takes seconds to minutes): the event loop goes on.
//   Engine -> new Engine(plan, device = 0, dlaCore = -1): io() -> [{ name, input, dtype }],
//             profiles(), run([{ name, dims, data }]) -> [{ name, dtype, dims, data: ArrayBuffer }], dispose()
// Every C++ exception becomes a JavaScript Error with its message (TensorRT's log included).
#include <napi.h>

#include <cuda_runtime_api.h>

#include <memory>
#include <string>
#include <vector>

#include "engine.h"

namespace twinfer {
namespace trt {
namespace {

template <class F>
auto guard(const Napi::Env& env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

std::pair<const uint8_t*, size_t> bytesOf(const Napi::Value& v, const std::string& what) {
  if (v.IsTypedArray()) {
    Napi::TypedArray t = v.As<Napi::TypedArray>();
    return {static_cast<const uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset(), t.ByteLength()};
  }
  if (v.IsArrayBuffer()) {
    Napi::ArrayBuffer b = v.As<Napi::ArrayBuffer>();
    return {static_cast<const uint8_t*>(b.Data()), b.ByteLength()};
  }
  if (v.IsDataView()) {
    Napi::DataView d = v.As<Napi::DataView>();
    return {static_cast<const uint8_t*>(d.ArrayBuffer().Data()) + d.ByteOffset(), d.ByteLength()};
  }
  throw std::runtime_error(what + " must be a TypedArray or an ArrayBuffer");
}

const char* typeName(nvinfer1::DataType t) {
  switch (t) {
    case nvinfer1::DataType::kFLOAT: return "float";
    case nvinfer1::DataType::kHALF: return "half";
    case nvinfer1::DataType::kBF16: return "bf16";
    case nvinfer1::DataType::kINT8: return "int8";
    case nvinfer1::DataType::kUINT8: return "uint8";
    case nvinfer1::DataType::kINT32: return "int32";
    case nvinfer1::DataType::kINT64: return "int64";
    case nvinfer1::DataType::kBOOL: return "bool";
    default: return "other";
  }
}

Napi::Value Probe(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    Napi::Object o = Napi::Object::New(env);
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    const LibraryInfo lib = libraryInfo();
    o.Set("headerVersion", lib.headerVersion);
    o.Set("libraryVersion", lib.libraryVersion);
    o.Set("dlaCores", lib.dlaCores);
    o.Set("cudaDevices", e == cudaSuccess ? count : 0);
    if (e != cudaSuccess) {
      o.Set("available", false);
      o.Set("error", std::string(cudaGetErrorName(e)) + " (" + std::to_string(static_cast<int>(e)) + "): " + cudaGetErrorString(e));
      cudaGetLastError();
    } else if (count == 0) {
      o.Set("available", false);
      o.Set("error", "no CUDA device");
    } else {
      o.Set("available", true);
    }
    return o;
  });
}

class BuildWorker : public Napi::AsyncWorker {
 public:
  BuildWorker(Napi::Env env, std::string json, std::vector<Buffer> buffers, BuildOptions opts, Napi::Object keep)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), json_(std::move(json)), buffers_(std::move(buffers)), opts_(std::move(opts)) {
    keep_ = Napi::Persistent(keep);  // the weight buffers stay alive until the build ends
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      result_ = buildEngine(json_, buffers_, opts_);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    const Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    Napi::ArrayBuffer plan = Napi::ArrayBuffer::New(env, result_.plan.size());
    std::copy(result_.plan.begin(), result_.plan.end(), static_cast<uint8_t*>(plan.Data()));
    Napi::ArrayBuffer tc = Napi::ArrayBuffer::New(env, result_.timingCache.size());
    std::copy(result_.timingCache.begin(), result_.timingCache.end(), static_cast<uint8_t*>(tc.Data()));
    o.Set("plan", plan);
    o.Set("timingCache", tc);
    o.Set("log", result_.log);
    keep_.Reset();
    deferred_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override {
    keep_.Reset();
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string json_;
  std::vector<Buffer> buffers_;
  BuildOptions opts_;
  Napi::ObjectReference keep_;
  BuildResult result_;
};

Napi::Value Build(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray()) throw std::runtime_error("build(json: string, buffers: ArrayBufferView[], options?)");
    Napi::Array arr = info[1].As<Napi::Array>();
    std::vector<Buffer> buffers;
    for (uint32_t i = 0; i < arr.Length(); i++) {
      const auto b = bytesOf(arr.Get(i), "buffer " + std::to_string(i));
      buffers.push_back({b.first, b.second});
    }
    BuildOptions opts;
    Napi::Object keep = Napi::Object::New(env);
    keep.Set("buffers", arr);
    if (info.Length() > 2 && info[2].IsObject()) {
      Napi::Object o = info[2].As<Napi::Object>();
      auto flag = [&](const char* k, bool def) { return o.Has(k) && o.Get(k).IsBoolean() ? o.Get(k).As<Napi::Boolean>().Value() : def; };
      auto num = [&](const char* k, double def) { return o.Has(k) && o.Get(k).IsNumber() ? o.Get(k).As<Napi::Number>().DoubleValue() : def; };
      opts.weakTyping = flag("weakTyping", false);
      opts.fp16 = flag("fp16", false);
      opts.int8 = flag("int8", false);
      opts.tf32 = flag("tf32", true);
      opts.gpuFallback = flag("gpuFallback", true);
      opts.dlaCore = static_cast<int>(num("dlaCore", -1));
      opts.workspaceBytes = static_cast<int64_t>(num("workspaceBytes", 0));
      opts.optimizationLevel = static_cast<int>(num("optimizationLevel", -1));
      if (o.Has("timingCache") && !o.Get("timingCache").IsUndefined()) {
        const auto tc = bytesOf(o.Get("timingCache"), "timingCache");
        opts.timingCache.assign(tc.first, tc.first + tc.second);
      }
    }
    BuildWorker* w = new BuildWorker(env, info[0].As<Napi::String>().Utf8Value(), std::move(buffers), std::move(opts), keep);
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  });
}

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod<&EngineWrap::Io>("io"),
                           InstanceMethod<&EngineWrap::Profiles>("profiles"),
                           InstanceMethod<&EngineWrap::Run>("run"),
                           InstanceMethod<&EngineWrap::Dispose>("dispose"),
                       });
  }

  explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    guard(info.Env(), [&]() {
      if (info.Length() < 1) throw std::runtime_error("new Engine(plan, device = 0, dlaCore = -1)");
      const auto plan = bytesOf(info[0], "plan");
      const int device = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
      const int dla = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : -1;
      engine_ = std::make_unique<Engine>(plan.first, plan.second, device, dla);
      return 0;
    });
  }

 private:
  Engine& engine() {
    if (!engine_) throw std::runtime_error("TensorRT engine was disposed");
    return *engine_;
  }
  Napi::Value Io(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      const auto& io = engine().io();
      Napi::Array a = Napi::Array::New(info.Env(), io.size());
      for (size_t i = 0; i < io.size(); i++) {
        Napi::Object o = Napi::Object::New(info.Env());
        o.Set("name", io[i].name);
        o.Set("input", io[i].input);
        o.Set("dtype", typeName(io[i].type));
        a.Set(static_cast<uint32_t>(i), o);
      }
      return a;
    });
  }
  Napi::Value Profiles(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), engine().profiles()); });
  }
  Napi::Value Run(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (info.Length() < 1 || !info[0].IsArray()) throw std::runtime_error("run([{ name, dims, data }])");
      Napi::Array arr = info[0].As<Napi::Array>();
      std::vector<Engine::HostTensor> inputs;
      for (uint32_t i = 0; i < arr.Length(); i++) {
        Napi::Object t = arr.Get(i).As<Napi::Object>();
        Engine::HostTensor h;
        h.name = t.Get("name").As<Napi::String>().Utf8Value();
        Napi::Array d = t.Get("dims").As<Napi::Array>();
        for (uint32_t k = 0; k < d.Length(); k++) h.dims.push_back(d.Get(k).As<Napi::Number>().Int64Value());
        const auto b = bytesOf(t.Get("data"), "input " + h.name);
        h.data = b.first;
        h.bytes = b.second;
        inputs.push_back(std::move(h));
      }
      const std::vector<Engine::Output> outs = engine().run(inputs);
      Napi::Array res = Napi::Array::New(info.Env(), outs.size());
      for (size_t i = 0; i < outs.size(); i++) {
        Napi::Object o = Napi::Object::New(info.Env());
        o.Set("name", outs[i].name);
        o.Set("dtype", typeName(outs[i].type));
        Napi::Array d = Napi::Array::New(info.Env(), outs[i].dims.size());
        for (size_t k = 0; k < outs[i].dims.size(); k++) d.Set(static_cast<uint32_t>(k), static_cast<double>(outs[i].dims[k]));
        o.Set("dims", d);
        Napi::ArrayBuffer data = Napi::ArrayBuffer::New(info.Env(), outs[i].data.size());
        std::copy(outs[i].data.begin(), outs[i].data.end(), static_cast<uint8_t*>(data.Data()));
        o.Set("data", data);
        res.Set(static_cast<uint32_t>(i), o);
      }
      return res;
    });
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    engine_.reset();
    return info.Env().Undefined();
  }

  std::unique_ptr<Engine> engine_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  exports.Set("build", Napi::Function::New(env, Build, "build"));
  exports.Set("Engine", EngineWrap::Define(env));
  return exports;
}

}  // namespace
}  // namespace trt
}  // namespace twinfer

static Napi::Object InitTwinferTrt(Napi::Env env, Napi::Object exports) { return twinfer::trt::Init(env, exports); }

NODE_API_MODULE(twinfer_trt, InitTwinferTrt)
