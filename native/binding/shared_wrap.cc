// SharedReaderWrap: N-API entry points of NativeSharedReader, and the registry of shared stores.
#include "shared_wrap.h"

#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "js_status.h"
#include "store_wrap.h"

namespace hashlog {
namespace {

std::mutex registry_mu;
std::unordered_map<uint64_t, std::shared_ptr<SharedCore>> registry;  // guarded by registry_mu
uint64_t next_id = 1;                                                 // guarded by registry_mu

std::shared_ptr<SharedCore> FindSharedStore(uint64_t id) {
  std::lock_guard<std::mutex> lk(registry_mu);
  auto it = registry.find(id);
  return it == registry.end() ? nullptr : it->second;
}

// getAsync of a shared reader: the whole lookup runs on the libuv pool, in an epoch slot of
// its own (the reader's slot belongs to its JavaScript thread).
class SharedReadWorker : public Napi::AsyncWorker {
 public:
  SharedReadWorker(Napi::Env env, std::shared_ptr<SharedCore> core, std::string key)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), core_(std::move(core)),
        key_(std::move(key)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    EpochDomain* epochs = core_->epochs.get();
    int slot;
    while ((slot = epochs->AcquireSlot()) < 0) std::this_thread::yield();  // 1,024 in use: rare
    Store* store = core_->store;
    status_ = ReadShared(epochs, slot, [&] { return store->SharedGet(Slice(key_.data(), key_.size()), &value_); });
    epochs->ReleaseSlot(slot);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (status_.ok())
      deferred_.Resolve(Napi::Buffer<char>::Copy(env, value_.data(), value_.size()));
    else if (status_.IsNotFound())
      deferred_.Resolve(env.Undefined());
    else
      deferred_.Reject(StatusToError(env, status_));
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<SharedCore> core_;
  std::string key_;
  std::string value_;
  Status status_;
};

}  // namespace

uint64_t RegisterSharedStore(Store* store) {
  auto core = std::make_shared<SharedCore>(SharedCore{store, store->epochs()});
  std::lock_guard<std::mutex> lk(registry_mu);
  const uint64_t id = next_id++;
  registry.emplace(id, std::move(core));
  return id;
}

void UnregisterSharedStore(uint64_t id) {
  std::lock_guard<std::mutex> lk(registry_mu);
  registry.erase(id);
}

Napi::Function SharedReaderWrap::Init(Napi::Env env) {
  return DefineClass(env, "NativeSharedReader",
                     {
                         InstanceMethod<&SharedReaderWrap::JS_Attach>("attach"),
                         InstanceMethod<&SharedReaderWrap::JS_Close>("close"),
                         InstanceMethod<&SharedReaderWrap::JS_Get>("get"),
                         InstanceMethod<&SharedReaderWrap::JS_GetInto>("getInto"),
                         InstanceMethod<&SharedReaderWrap::JS_Has>("has"),
                         InstanceMethod<&SharedReaderWrap::JS_ExpiresAt>("expiresAt"),
                         InstanceMethod<&SharedReaderWrap::JS_GetMany>("getMany"),
                         InstanceMethod<&SharedReaderWrap::JS_GetAsync>("getAsync"),
                         InstanceMethod<&SharedReaderWrap::JS_Scan>("scan"),
                         InstanceMethod<&SharedReaderWrap::JS_Size>("size"),
                         InstanceMethod<&SharedReaderWrap::JS_Stats>("stats"),
                         InstanceMethod<&SharedReaderWrap::JS_BarrierGen>("barrierGen"),
                     });
}

// new NativeSharedReader(keyBuffer, valueBuffer, metaBuffer)
SharedReaderWrap::SharedReaderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SharedReaderWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsBuffer() || !info[1].IsBuffer() || !info[2].IsBuffer()) {
    Napi::TypeError::New(env, "NativeSharedReader(keyBuffer, valueBuffer, metaBuffer)").ThrowAsJavaScriptException();
    return;
  }
  bufs_.Register(info[0].As<Napi::Buffer<char>>(), info[1].As<Napi::Buffer<char>>(), info[2].As<Napi::Buffer<char>>());
  env_ = env;
}

SharedReaderWrap::~SharedReaderWrap() { Release(); }

void SharedReaderWrap::Release() {
  if (core_ && slot_ >= 0) core_->epochs->ReleaseSlot(slot_);
  slot_ = -1;
  core_.reset();
  if (hook_registered_) {
    napi_remove_env_cleanup_hook(env_, &SharedReaderWrap::CleanupHook, this);
    hook_registered_ = false;
  }
}

bool SharedReaderWrap::Ready(Napi::Env env) {
  if (core_) return true;
  ThrowStatus(env, Status::Closed());
  return false;
}

Slice SharedReaderWrap::Key(const Napi::CallbackInfo& info) const { return bufs_.Key(info[0]); }

// attach(id): reads the store the owner shared under id from now on.
Napi::Value SharedReaderWrap::JS_Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (core_) return ThrowStatus(env, Status::InvalidArgument("reader already attached"));
  std::shared_ptr<SharedCore> core = FindSharedStore(static_cast<uint64_t>(F64(info[0])));
  if (!core) return ThrowStatus(env, Status::Closed());
  const int slot = core->epochs->AcquireSlot();
  if (slot < 0) return ThrowStatus(env, Status::Full("too many shared readers (1,024) of one store"));
  core_ = std::move(core);
  slot_ = slot;
  hook_registered_ = napi_add_env_cleanup_hook(env, &SharedReaderWrap::CleanupHook, this) == napi_ok;
  return env.Undefined();
}

Napi::Value SharedReaderWrap::JS_Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

// get(keyLen): value length (copied into the value buffer when it fits), or -1.
Napi::Value SharedReaderWrap::JS_Get(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  const Slice key = Key(info);
  size_t size = 0;
  Status s = Read([&](Store* st) { return st->SharedGet(key, bufs_.value, bufs_.value_cap, &size); });
  if (s.IsNotFound()) return Napi::Number::New(env, -1);
  if (!s.ok()) return ThrowStatus(env, s);
  return Napi::Number::New(env, static_cast<double>(size));
}

// getInto(keyLen, target): as get, copying into target (values larger than the buffer).
Napi::Value SharedReaderWrap::JS_GetInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  const Slice key = Key(info);
  auto target = info[1].As<Napi::Buffer<char>>();
  size_t size = 0;
  Status s = Read([&](Store* st) { return st->SharedGet(key, target.Data(), target.Length(), &size); });
  if (s.IsNotFound()) return Napi::Number::New(env, -1);
  if (!s.ok()) return ThrowStatus(env, s);
  return Napi::Number::New(env, static_cast<double>(size));
}

Napi::Value SharedReaderWrap::JS_Has(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  const Slice key = Key(info);
  size_t size = 0;
  Status s = Read([&](Store* st) { return st->SharedGet(key, nullptr, 0, &size); });
  if (!s.ok() && !s.IsNotFound()) return ThrowStatus(env, s);
  return Napi::Boolean::New(env, s.ok());
}

// expiresAt(keyLen): -1 if absent, 0 if it never expires, else ms since the epoch.
Napi::Value SharedReaderWrap::JS_ExpiresAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  const Slice key = Key(info);
  uint64_t at = 0;
  Status s = Read([&](Store* st) { return st->SharedExpiresAt(key, &at); });
  if (s.IsNotFound()) return Napi::Number::New(env, -1);
  if (!s.ok()) return ThrowStatus(env, s);
  return Napi::Number::New(env, static_cast<double>(at));
}

// getMany(n): as NativeStore.getMany (keys end to end in the key buffer, lengths in the
// meta buffer; values end to end in the value buffer, sizes or -1 in the meta buffer).
Napi::Value SharedReaderWrap::JS_GetMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  const size_t n = std::min<size_t>(U32(info[0]), bufs_.many_max);
  const char* key = bufs_.key;
  size_t used = 0;
  size_t done = 0;
  for (; done < n; done++) {
    const Slice k(key, bufs_.many_lengths[done]);
    size_t size = 0;
    Status s = Read([&](Store* st) { return st->SharedGet(k, bufs_.value + used, bufs_.value_cap - used, &size); });
    if (!s.ok() && !s.IsNotFound()) return ThrowStatus(env, s);
    if (s.ok() && size > bufs_.value_cap - used) break;  // the value buffer is full: answer the rest later
    bufs_.many_sizes[done] = s.ok() ? static_cast<int32_t>(size) : -1;
    if (s.ok()) used += size;
    key += k.size;
  }
  return Napi::Number::New(env, static_cast<double>(done));
}

// getAsync(keyLen): Promise<Buffer | undefined>, the lookup run on the libuv pool.
Napi::Value SharedReaderWrap::JS_GetAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  const Slice key = Key(info);
  auto* worker = new SharedReadWorker(env, core_, std::string(key.data, key.size));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// scan(cursor, count): [nextCursor, keys[]], as NativeStore.scan.
Napi::Value SharedReaderWrap::JS_Scan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  uint64_t at = static_cast<uint64_t>(F64(info[0]));
  const size_t count = U32(info[1]);
  std::vector<std::string> keys;
  uint64_t next = 0;
  Status s = Read([&](Store* st) {
    if (st->SharedScan(at, count - std::min(count, keys.size()), &keys, &next)) return HashIndex::SharedFind::kFound;
    at = next;  // keys before the pending record are kept; go on from it
    return HashIndex::SharedFind::kPending;
  });
  if (!s.ok()) return ThrowStatus(env, s);
  return ScanPageToJs(env, next, keys);
}

Status SharedReaderWrap::ReadStats(StoreStats* st) {
  return Read([&](Store* store) {
    *st = store->SharedStats();
    return HashIndex::SharedFind::kFound;
  });
}

// Live keys as of the owner's latest commit group.
Napi::Value SharedReaderWrap::JS_Size(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  StoreStats st;
  Status s = ReadStats(&st);
  if (!s.ok()) return ThrowStatus(env, s);
  return Napi::Number::New(env, static_cast<double>(st.keys));
}

// stats(): as NativeStore.stats, as of the owner's latest commit group.
Napi::Value SharedReaderWrap::JS_Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  StoreStats st;
  Status s = ReadStats(&st);
  if (!s.ok()) return ThrowStatus(env, s);
  return StatsToJs(env, st);
}

// barrierGen(): 0 if every write placed so far is durable, else the commit group to wait for.
Napi::Value SharedReaderWrap::JS_BarrierGen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  uint64_t gen = 0;
  Status s = Read([&](Store* store) {
    gen = store->SharedBarrierGen();
    return HashIndex::SharedFind::kFound;
  });
  if (!s.ok()) return ThrowStatus(env, s);
  return Napi::Number::New(env, static_cast<double>(gen));
}

}  // namespace hashlog
