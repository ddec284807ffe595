// Node-API glue (node-addon-api, Node-API version 8). Exports:
//   probe()      -> { available, error?, errorCode, runtimeVersion, driverVersion, devices[], libraries[], archs }
//   functions()  -> unary function names in code order (the epilogue's activation codes)
//   kernels()    -> kernel names this build can launch
//   timingCache() -> { lines, timed, reused }, loadTimingCache(lines) -> accepted (conv tactic cache, conv.cu),
//   timingStats() -> { timed, reused } (the counts without the lines)
//   Context      -> new Context(device): alloc(bytes) -> id, free(id), bytes(id),
//                   upload(id, byteOffset, typedArray), download(id, byteOffset, bytes) -> ArrayBuffer,
//                   launch(kernel, ints: Float64Array, floats: Float32Array, bindings: Float64Array [id, offset]...),
//                   synchronize(), memInfo() -> { free, total }, allocatedBytes(), dispose(),
//                   captureBegin(), captureEnd() -> graph id, captureAbort(), graphLaunch(id), graphDestroy(id)
//                   (CUDA graphs of the context's stream: backends/native/program.ts),
//                   fork() -> a Context with its own stream over the same buffers (execution contexts
//                   sharing weights), downloadAsync(id, byteOffset, bytes) -> Promise<ArrayBuffer>
//                   (the copy is queued now; the wait for the stream runs on a worker thread),
//                   synchronizeAsync() -> Promise (the same wait, no copy), copy(dst, dstOffset, src, srcOffset, bytes)
//                   (device to device on the stream)
// Every C++ exception becomes a JavaScript Error with the same message (CUDA error text included).
#include <napi.h>

#include <exception>
#include <memory>

#include "runtime.h"

#ifndef TWINFER_CUDA_ARCHS
#define TWINFER_CUDA_ARCHS ""
#endif

namespace twinfer {
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

Napi::Value Probe_(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    const Probe p = probe();
    Napi::Object o = Napi::Object::New(env);
    o.Set("available", p.available);
    if (!p.error.empty()) o.Set("error", p.error);
    o.Set("errorCode", p.errorCode);
    o.Set("runtimeVersion", p.runtimeVersion);
    o.Set("driverVersion", p.driverVersion);
    o.Set("archs", TWINFER_CUDA_ARCHS);
    Napi::Array devs = Napi::Array::New(env, p.devices.size());
    for (size_t i = 0; i < p.devices.size(); i++) {
      const DeviceInfo& d = p.devices[i];
      Napi::Object x = Napi::Object::New(env);
      x.Set("index", d.index);
      x.Set("name", d.name);
      x.Set("major", d.major);
      x.Set("minor", d.minor);
      x.Set("totalMemory", static_cast<double>(d.totalMemory));
      x.Set("multiprocessors", d.multiprocessors);
      x.Set("kernelImage", d.kernelImage);
      if (!d.kernelImageError.empty()) x.Set("kernelImageError", d.kernelImageError);
      devs.Set(static_cast<uint32_t>(i), x);
    }
    o.Set("devices", devs);
    Napi::Array libs = Napi::Array::New(env, p.libraries.size());
    for (size_t i = 0; i < p.libraries.size(); i++) {
      Napi::Object x = Napi::Object::New(env);
      x.Set("name", p.libraries[i].name);
      x.Set("headersAtBuild", p.libraries[i].headersAtBuild);
      if (!p.libraries[i].loaded.empty()) x.Set("loaded", p.libraries[i].loaded);
      libs.Set(static_cast<uint32_t>(i), x);
    }
    o.Set("libraries", libs);
    return o;
  });
}

Napi::Value Functions(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env(), kFunctionCount);
  for (int i = 0; i < kFunctionCount; i++) a.Set(static_cast<uint32_t>(i), kFunctionNames[i]);
  return a;
}

Napi::Value Kernels(const Napi::CallbackInfo& info) {
  const Registry& r = registry();
  Napi::Array a = Napi::Array::New(info.Env(), r.size());
  uint32_t i = 0;
  for (const auto& kv : r) a.Set(i++, kv.first);
  return a;
}

// timingStats() -> { timed, reused }: shapes timed / taken from loaded lines, conv and GEMM together
// (a session checks them after every run that may have timed something, without the lines).
Napi::Value TimingStats(const Napi::CallbackInfo& info) {
  const ConvTimingStats st = convTimingStats(), gt = gemmTimingStats();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("timed", st.timed + gt.timed);
  o.Set("reused", st.reused + gt.reused);
  return o;
}

// The tactic timing cache (conv.cu, gemm.cu): timingCache() -> { lines: string[], timed, reused };
// loadTimingCache(lines: string[]) -> number of lines accepted.
Napi::Value TimingCache(const Napi::CallbackInfo& info) {
  std::vector<std::string> lines = convTimingCacheLines();
  for (std::string& l : gemmTimingCacheLines()) lines.push_back(std::move(l));
  Napi::Array a = Napi::Array::New(info.Env(), lines.size());
  for (uint32_t i = 0; i < lines.size(); i++) a.Set(i, lines[i]);
  Napi::Object o = TimingStats(info).As<Napi::Object>();
  o.Set("lines", a);
  return o;
}

Napi::Value LoadTimingCache(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsArray()) {
    Napi::TypeError::New(info.Env(), "loadTimingCache(lines: string[])").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  Napi::Array a = info[0].As<Napi::Array>();
  std::vector<std::string> lines;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value v = a.Get(i);
    if (v.IsString()) lines.push_back(v.As<Napi::String>().Utf8Value());
  }
  return Napi::Number::New(info.Env(), convTimingCacheLoad(lines) + gemmTimingCacheLoad(lines));
}

// (pointer, byte length) of a TypedArray, DataView or ArrayBuffer argument.
std::pair<uint8_t*, size_t> bytesOf(const Napi::Value& v, const char* what) {
  if (v.IsTypedArray()) {
    Napi::TypedArray t = v.As<Napi::TypedArray>();
    return {static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset(), t.ByteLength()};
  }
  if (v.IsArrayBuffer()) {
    Napi::ArrayBuffer b = v.As<Napi::ArrayBuffer>();
    return {static_cast<uint8_t*>(b.Data()), b.ByteLength()};
  }
  if (v.IsDataView()) {
    Napi::DataView d = v.As<Napi::DataView>();
    return {static_cast<uint8_t*>(d.ArrayBuffer().Data()) + d.ByteOffset(), d.ByteLength()};
  }
  throw std::runtime_error(std::string(what) + " must be a TypedArray or an ArrayBuffer");
}

size_t sizeArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) throw std::runtime_error(std::string(what) + " must be a number");
  const double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740991.0 || d != static_cast<double>(static_cast<size_t>(d))) {
    throw std::runtime_error(std::string(what) + " must be a non-negative integer");
  }
  return static_cast<size_t>(d);
}

class ContextWrap : public Napi::ObjectWrap<ContextWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Context",
                       {
                           InstanceMethod<&ContextWrap::Alloc>("alloc"),
                           InstanceMethod<&ContextWrap::Free>("free"),
                           InstanceMethod<&ContextWrap::Bytes>("bytes"),
                           InstanceMethod<&ContextWrap::Upload>("upload"),
                           InstanceMethod<&ContextWrap::Download>("download"),
                           InstanceMethod<&ContextWrap::Launch>("launch"),
                           InstanceMethod<&ContextWrap::Synchronize>("synchronize"),
                           InstanceMethod<&ContextWrap::MemInfo>("memInfo"),
                           InstanceMethod<&ContextWrap::AllocatedBytes>("allocatedBytes"),
                           InstanceMethod<&ContextWrap::Dispose>("dispose"),
                           InstanceMethod<&ContextWrap::CaptureBegin>("captureBegin"),
                           InstanceMethod<&ContextWrap::CaptureEnd>("captureEnd"),
                           InstanceMethod<&ContextWrap::CaptureAbort>("captureAbort"),
                           InstanceMethod<&ContextWrap::GraphLaunch>("graphLaunch"),
                           InstanceMethod<&ContextWrap::GraphDestroy>("graphDestroy"),
                           InstanceMethod<&ContextWrap::Fork>("fork"),
                           InstanceMethod<&ContextWrap::DownloadAsync>("downloadAsync"),
                           InstanceMethod<&ContextWrap::SynchronizeAsync>("synchronizeAsync"),
                           InstanceMethod<&ContextWrap::Copy>("copy"),
                       });
  }

  explicit ContextWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ContextWrap>(info) {
    guard(info.Env(), [&]() {
      // fork() passes the parent's memory as an External; JavaScript passes a device index.
      if (info.Length() > 0 && info[0].IsExternal()) {
        ctx_ = std::make_shared<Context>(*info[0].As<Napi::External<std::shared_ptr<DeviceMemory>>>().Data());
        return 0;
      }
      const int device = info.Length() > 0 ? static_cast<int>(sizeArg(info, 0, "device")) : 0;
      ctx_ = std::make_shared<Context>(device);
      return 0;
    });
  }

 private:
  Context& ctx() {
    if (!ctx_) throw std::runtime_error("CUDA context is not open");
    return *ctx_;
  }

  uint32_t idArg(const Napi::CallbackInfo& info, size_t i) { return static_cast<uint32_t>(sizeArg(info, i, "buffer id")); }

  Napi::Value Alloc(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), ctx().alloc(sizeArg(info, 0, "bytes"))); });
  }
  Napi::Value Free(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      ctx().free(idArg(info, 0));
      return info.Env().Undefined();
    });
  }
  Napi::Value Bytes(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), static_cast<double>(ctx().bytes(idArg(info, 0)))); });
  }
  Napi::Value Upload(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (info.Length() < 3) throw std::runtime_error("upload(id, byteOffset, data)");
      const auto src = bytesOf(info[2], "data");
      ctx().upload(idArg(info, 0), sizeArg(info, 1, "byteOffset"), src.first, src.second);
      return info.Env().Undefined();
    });
  }
  Napi::Value Download(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      const size_t n = sizeArg(info, 2, "bytes");
      Napi::ArrayBuffer out = Napi::ArrayBuffer::New(info.Env(), n);
      ctx().download(idArg(info, 0), sizeArg(info, 1, "byteOffset"), out.Data(), n);
      return out;
    });
  }
  Napi::Value Launch(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (info.Length() < 4 || !info[0].IsString()) throw std::runtime_error("launch(kernel, ints, floats, bindings)");
      const std::string kernel = info[0].As<Napi::String>().Utf8Value();
      std::vector<int64_t> ints;
      std::vector<float> floats;
      std::vector<Binding> bindings;
      if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) throw std::runtime_error("launch: ints must be a Float64Array");
      if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) throw std::runtime_error("launch: floats must be a Float32Array");
      if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) throw std::runtime_error("launch: bindings must be a Float64Array");
      Napi::Float64Array is = info[1].As<Napi::Float64Array>();
      for (size_t i = 0; i < is.ElementLength(); i++) {
        const double d = is[i];
        if (d != static_cast<double>(static_cast<int64_t>(d))) throw std::runtime_error("launch: ints must be integers");
        ints.push_back(static_cast<int64_t>(d));
      }
      Napi::Float32Array fs = info[2].As<Napi::Float32Array>();
      for (size_t i = 0; i < fs.ElementLength(); i++) floats.push_back(fs[i]);
      Napi::Float64Array bs = info[3].As<Napi::Float64Array>();
      if (bs.ElementLength() % 2) throw std::runtime_error("launch: bindings are [buffer, byteOffset] pairs");
      for (size_t i = 0; i + 1 < bs.ElementLength(); i += 2) bindings.push_back({static_cast<int64_t>(bs[i]), static_cast<int64_t>(bs[i + 1])});
      ctx().launch(kernel, ints, floats, bindings);
      return info.Env().Undefined();
    });
  }
  Napi::Value Synchronize(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      ctx().synchronize();
      return info.Env().Undefined();
    });
  }
  Napi::Value MemInfo(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      size_t f = 0, t = 0;
      ctx().memInfo(&f, &t);
      Napi::Object o = Napi::Object::New(info.Env());
      o.Set("free", static_cast<double>(f));
      o.Set("total", static_cast<double>(t));
      return o;
    });
  }
  Napi::Value AllocatedBytes(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), static_cast<double>(ctx().allocatedBytes())); });
  }
  Napi::Value CaptureBegin(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      ctx().captureBegin();
      return info.Env().Undefined();
    });
  }
  Napi::Value CaptureEnd(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), ctx().captureEnd()); });
  }
  Napi::Value CaptureAbort(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      ctx().captureAbort();
      return info.Env().Undefined();
    });
  }
  Napi::Value GraphLaunch(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      ctx().graphLaunch(static_cast<uint32_t>(sizeArg(info, 0, "graph id")));
      return info.Env().Undefined();
    });
  }
  Napi::Value GraphDestroy(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      ctx().graphDestroy(static_cast<uint32_t>(sizeArg(info, 0, "graph id")));
      return info.Env().Undefined();
    });
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      // A download still waiting on a worker holds the context too: it is disposed when that ends.
      ctx_.reset();
      return info.Env().Undefined();
    });
  }
  Napi::Value Fork(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      std::shared_ptr<DeviceMemory> memory = ctx().memory();
      Napi::External<std::shared_ptr<DeviceMemory>> ext = Napi::External<std::shared_ptr<DeviceMemory>>::New(info.Env(), &memory);
      // The constructor copies the shared_ptr out of the External before this frame ends.
      return info.Env().GetInstanceData<Napi::FunctionReference>()->New({ext});
    });
  }
  Napi::Value DownloadAsync(const Napi::CallbackInfo& info);
  Napi::Value SynchronizeAsync(const Napi::CallbackInfo& info);
  Napi::Value Copy(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      ctx().copy(idArg(info, 0), sizeArg(info, 1, "dstOffset"), idArg(info, 2), sizeArg(info, 3, "srcOffset"), sizeArg(info, 4, "bytes"));
      return info.Env().Undefined();
    });
  }

  std::shared_ptr<Context> ctx_;
};

// downloadAsync / synchronizeAsync worker: the copy (if any) and the wait for the stream run off the JavaScript thread, so
// other execution contexts keep launching while this one's outputs come back.
class StreamWaitWorker : public Napi::AsyncWorker {
 public:
  // `withResult` false: only the wait (synchronizeAsync), resolving to undefined.
  StreamWaitWorker(Napi::Env env, std::shared_ptr<Context> ctx, const void* src, size_t bytes, bool withResult = true)
      : Napi::AsyncWorker(env, "twinfer.downloadAsync"), deferred_(Napi::Promise::Deferred::New(env)), ctx_(std::move(ctx)), src_(src), bytes_(bytes) {
    if (!withResult) return;
    Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, bytes);
    dst_ = out.Data();
    out_ = Napi::Persistent(out);
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      ctx_->copyOut(src_, dst_, bytes_);  // 0 bytes: the wait alone
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    if (out_.IsEmpty()) deferred_.Resolve(Env().Undefined());
    else deferred_.Resolve(out_.Value());
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Context> ctx_;
  const void* src_;
  size_t bytes_;
  void* dst_ = nullptr;
  Napi::Reference<Napi::ArrayBuffer> out_;
};

Napi::Value ContextWrap::DownloadAsync(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const size_t n = sizeArg(info, 2, "bytes");
    const void* src = ctx().downloadSource(idArg(info, 0), sizeArg(info, 1, "byteOffset"), n);
    if (ctx().capturing()) throw std::runtime_error("downloadAsync: the stream is capturing");
    auto* w = new StreamWaitWorker(info.Env(), ctx_, src, n);
    Napi::Promise p = w->Promise();
    w->Queue();  // the worker deletes itself after OnOK / OnError
    return p;
  });
}

Napi::Value ContextWrap::SynchronizeAsync(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (ctx().capturing()) throw std::runtime_error("synchronizeAsync: the stream is capturing");
    auto* w = new StreamWaitWorker(info.Env(), ctx_, nullptr, 0, false);
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe_, "probe"));
  exports.Set("functions", Napi::Function::New(env, Functions, "functions"));
  exports.Set("kernels", Napi::Function::New(env, Kernels, "kernels"));
  exports.Set("timingCache", Napi::Function::New(env, TimingCache, "timingCache"));
  exports.Set("loadTimingCache", Napi::Function::New(env, LoadTimingCache, "loadTimingCache"));
  exports.Set("timingStats", Napi::Function::New(env, TimingStats, "timingStats"));
  Napi::Function ctor = ContextWrap::Define(env);
  env.SetInstanceData(new Napi::FunctionReference(Napi::Persistent(ctor)));  // for fork(); freed with the env
  exports.Set("Context", ctor);
  return exports;
}

}  // namespace
}  // namespace twinfer

static Napi::Object InitTwinfer(Napi::Env env, Napi::Object exports) { return twinfer::Init(env, exports); }

NODE_API_MODULE(twinfer_native, InitTwinfer)
