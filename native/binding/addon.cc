// Module initialisation: per-environment data and the NativeStore class.
#include <fcntl.h>
#include <napi.h>

#include "../crc32c.h"
#include "addon_data.h"
#include "shared_wrap.h"
#include "store_wrap.h"

namespace hashlog {
namespace {

// setErrorClass(HashlogError): the class every native error is constructed from.
Napi::Value JS_SetErrorClass(const Napi::CallbackInfo& info) {
  auto* data = info.Env().GetInstanceData<AddonData>();
  if (info.Length() > 0 && info[0].IsFunction()) data->error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// dupFd(fd): a new descriptor for the same socket (close-on-exec), or -1. The threaded
// server hands an accepted connection to a worker thread this way: Node cannot transfer a
// socket between threads, but a descriptor is the process's (lib/server/threads.ts).
Napi::Value JS_DupFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return Napi::Number::New(env, -1);
  return Napi::Number::New(env, ::fcntl(info[0].As<Napi::Number>().Int32Value(), F_DUPFD_CLOEXEC, 0));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  Napi::Function ctor = StoreWrap::Init(env);
  data->store_constructor = Napi::Persistent(ctor);
  exports.Set("NativeStore", ctor);
  exports.Set("NativeSharedReader", SharedReaderWrap::Init(env));
  exports.Set("setErrorClass", Napi::Function::New(env, JS_SetErrorClass, "setErrorClass"));
  exports.Set("dupFd", Napi::Function::New(env, JS_DupFd, "dupFd"));
  exports.Set("crc32cHardware", Napi::Boolean::New(env, crc32c::IsHardwareAccelerated()));
  return exports;
}

}  // namespace
}  // namespace hashlog

static Napi::Object InitHashlog(Napi::Env env, Napi::Object exports) { return hashlog::Init(env, exports); }

NODE_API_MODULE(hashlog, InitHashlog)
