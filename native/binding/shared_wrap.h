// Sharing one open store with worker threads (docs/DESIGN.md, "Worker threads").
//
// The owner's db.share() registers the store under a process-wide id (the addon's only
// process-wide state: an id is how a store crosses from one Node environment to another);
// NativeSharedReader.attach(id) in a worker thread then reads it through Store::Shared*,
// inside epochs, with no lock. The owner's close() unregisters the id and shuts the epoch
// domain down (reads in flight finish, later ones fail with HASHLOG_CLOSED); a reader's
// slot is released by close(), by garbage collection or by its thread's cleanup hook.
#ifndef HASHLOG_NATIVE_BINDING_SHARED_WRAP_H_
#define HASHLOG_NATIVE_BINDING_SHARED_WRAP_H_

#include <napi.h>

#include <cstdint>
#include <memory>

#include "../store.h"
#include "registered_buffers.h"

namespace hashlog {

struct SharedCore {
  Store* store;  // valid inside an epoch of `epochs` (Close shuts the domain down first)
  std::shared_ptr<EpochDomain> epochs;
};

// Owner thread: a new id for the store (never 0, never reused).
uint64_t RegisterSharedStore(Store* store);
// Owner thread, before the store closes.
void UnregisterSharedStore(uint64_t id);

// The JavaScript-visible NativeSharedReader. Keys and small values travel through registered
// buffers, as with NativeStore (store_wrap.h).
class SharedReaderWrap : public Napi::ObjectWrap<SharedReaderWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit SharedReaderWrap(const Napi::CallbackInfo& info);
  ~SharedReaderWrap() override;

 private:
  static void CleanupHook(void* arg) {
    auto* self = static_cast<SharedReaderWrap*>(arg);
    self->hook_registered_ = false;
    self->Release();
  }
  void Release();
  bool Ready(Napi::Env env);
  Slice Key(const Napi::CallbackInfo& info) const;
  // Runs one Store::Shared* call (returning SharedFind) as this reader.
  template <typename Fn>
  Status Read(Fn&& read) {
    Store* store = core_->store;
    return ReadShared(core_->epochs.get(), slot_, [&] { return read(store); });
  }

  // What the owner published after its latest commit group.
  Status ReadStats(StoreStats* st);

  Napi::Value JS_Attach(const Napi::CallbackInfo& info);
  Napi::Value JS_Close(const Napi::CallbackInfo& info);
  Napi::Value JS_Get(const Napi::CallbackInfo& info);
  Napi::Value JS_GetInto(const Napi::CallbackInfo& info);
  Napi::Value JS_Has(const Napi::CallbackInfo& info);
  Napi::Value JS_ExpiresAt(const Napi::CallbackInfo& info);
  Napi::Value JS_GetMany(const Napi::CallbackInfo& info);
  Napi::Value JS_GetAsync(const Napi::CallbackInfo& info);
  Napi::Value JS_Scan(const Napi::CallbackInfo& info);
  Napi::Value JS_Size(const Napi::CallbackInfo& info);
  Napi::Value JS_Stats(const Napi::CallbackInfo& info);
  Napi::Value JS_BarrierGen(const Napi::CallbackInfo& info);

  std::shared_ptr<SharedCore> core_;
  int slot_ = -1;
  RegisteredBuffers bufs_;
  napi_env env_ = nullptr;
  bool hook_registered_ = false;
};

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_BINDING_SHARED_WRAP_H_
