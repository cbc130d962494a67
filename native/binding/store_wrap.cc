// StoreWrap: N-API entry points of NativeStore.
#include "store_wrap.h"

#include <cmath>
#include <thread>

#include "addon_data.h"
#include "js_status.h"
#include "shared_wrap.h"

namespace hashlog {

// The flush thread's way back to the JavaScript thread. It outlives the wrap until the
// thread-safe function is finalised, so a late event finds `wrap == nullptr`, not garbage.
struct FlushChannel {
  StoreWrap* wrap = nullptr;
  Napi::ThreadSafeFunction tsfn;
};

namespace {

class OpenWorker : public Napi::AsyncWorker {
 public:
  OpenWorker(Napi::Env env, StoreWrap* wrap, FileSystem* fs, std::string dir, StoreOptions options,
             FlushChannel* channel)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        wrap_(wrap),
        fs_(fs),
        self_(Napi::Persistent(wrap->Value())),
        dir_(std::move(dir)),
        options_(options),
        channel_(channel) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override { status_ = Store::Open(fs_, dir_, options_, MakeNotify(), &store_); }

  void OnOK() override {
    Napi::Env env = Env();
    bool ok = status_.ok();
    wrap_->FinishOpen(std::move(store_));
    if (ok)
      deferred_.Resolve(env.Undefined());
    else
      deferred_.Reject(StatusToError(env, status_));
  }

 private:
  Store::Notify MakeNotify() {
    FlushChannel* channel = channel_;
    return [channel](const FlushEvent& ev) {
      channel->tsfn.NonBlockingCall(new FlushEvent(ev), [channel](Napi::Env env, Napi::Function, FlushEvent* e) {
        if (env != nullptr && channel->wrap != nullptr) channel->wrap->OnFlushEvent(env, *e);
        delete e;
      });
    };
  }

  Napi::Promise::Deferred deferred_;
  StoreWrap* wrap_;
  FileSystem* fs_;
  Napi::ObjectReference self_;  // keeps the wrap alive until the open settles
  std::string dir_;
  StoreOptions options_;
  FlushChannel* channel_;
  Status status_;
  std::unique_ptr<Store> store_;
};

// getAsync: reads (and page-faults) a batch of located records on the libuv pool.
class ReadBatchWorker : public Napi::AsyncWorker {
 public:
  ReadBatchWorker(Napi::Env env, StoreWrap* wrap, std::vector<StoreWrap::AsyncRead> reads)
      : Napi::AsyncWorker(env),
        wrap_(wrap),
        store_(wrap->store()),
        self_(Napi::Persistent(wrap->Value())),
        reads_(std::move(reads)) {}

  void Execute() override {
    for (StoreWrap::AsyncRead& r : reads_)
      r.found = store_->ReadLocated(r.records, Slice(r.key.data(), r.key.size()), &r.value);
    wrap_->ReadDone();  // after this, Close may unmap
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    for (StoreWrap::AsyncRead& r : reads_) {
      if (r.found)
        r.deferred.Resolve(Napi::Buffer<char>::Copy(env, r.value.data(), r.value.size()));
      else
        r.deferred.Resolve(env.Undefined());
    }
    wrap_->ReadBatchDone(env, reads_.size());
  }

 private:
  StoreWrap* wrap_;
  const Store* store_;
  Napi::ObjectReference self_;
  std::vector<StoreWrap::AsyncRead> reads_;
};

// Writes a checkpoint file on the libuv pool: serialising 10M keys is ~120 MB of I/O
// that must not hold up GETs on the JavaScript thread.
class CheckpointWorker : public Napi::AsyncWorker {
 public:
  CheckpointWorker(Napi::Env env, StoreWrap* wrap, FileSystem* fs, std::string dir,
                   std::unique_ptr<CheckpointImage> image)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        wrap_(wrap),
        fs_(fs),
        self_(Napi::Persistent(wrap->Value())),
        dir_(std::move(dir)),
        image_(std::move(image)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override { status_ = WriteCheckpoint(fs_, dir_, *image_); }

  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.ok()) {
      deferred_.Reject(StatusToError(env, status_));
      return;
    }
    if (wrap_->store() != nullptr) wrap_->store()->CheckpointWritten(*image_);
    deferred_.Resolve(env.Undefined());
  }

 private:
  Napi::Promise::Deferred deferred_;
  StoreWrap* wrap_;
  FileSystem* fs_;               // owned by the wrap, which self_ keeps alive
  Napi::ObjectReference self_;
  std::string dir_;
  std::unique_ptr<CheckpointImage> image_;
  Status status_;
};


}  // namespace

Napi::Function StoreWrap::Init(Napi::Env env) {
  return DefineClass(env, "NativeStore",
                     {
                         InstanceMethod<&StoreWrap::JS_Open>("open"),
                         InstanceMethod<&StoreWrap::JS_Get>("get"),
                         InstanceMethod<&StoreWrap::JS_GetInto>("getInto"),
                         InstanceMethod<&StoreWrap::JS_Has>("has"),
                         InstanceMethod<&StoreWrap::JS_Put>("put"),
                         InstanceMethod<&StoreWrap::JS_Del>("del"),
                         InstanceMethod<&StoreWrap::JS_Flush>("flush"),
                         InstanceMethod<&StoreWrap::JS_Kick>("kick"),
                         InstanceMethod<&StoreWrap::JS_Close>("close"),
                         InstanceMethod<&StoreWrap::JS_SetActive>("setActive"),
                         InstanceMethod<&StoreWrap::JS_Stats>("stats"),
                         InstanceMethod<&StoreWrap::JS_Recovery>("recovery"),
                         InstanceMethod<&StoreWrap::JS_RecoveryProgress>("recoveryProgress"),
                         InstanceMethod<&StoreWrap::JS_WrittenSegments>("writtenSegments"),
                         InstanceMethod<&StoreWrap::JS_SetFault>("setFault"),
                         InstanceMethod<&StoreWrap::JS_Batch>("batch"),
                         InstanceMethod<&StoreWrap::JS_ExpiresAt>("expiresAt"),
                         InstanceMethod<&StoreWrap::JS_SetExpiry>("setExpiry"),
                         InstanceMethod<&StoreWrap::JS_AppendClear>("appendClear"),
                         InstanceMethod<&StoreWrap::JS_ApplyClear>("applyClear"),
                         InstanceMethod<&StoreWrap::JS_Scan>("scan"),
                         InstanceMethod<&StoreWrap::JS_GetMany>("getMany"),
                         InstanceMethod<&StoreWrap::JS_GetAsync>("getAsync"),
                         InstanceMethod<&StoreWrap::JS_Size>("size"),
                         InstanceMethod<&StoreWrap::JS_SetClockOffset>("setClockOffset"),
                         InstanceMethod<&StoreWrap::JS_Segments>("listSegments"),
                         InstanceMethod<&StoreWrap::JS_CompactStart>("compactStart"),
                         InstanceMethod<&StoreWrap::JS_CompactMark>("compactMark"),
                         InstanceMethod<&StoreWrap::JS_CompactCopy>("compactCopy"),
                         InstanceMethod<&StoreWrap::JS_CompactInstall>("compactInstall"),
                         InstanceMethod<&StoreWrap::JS_CompactSettle>("compactSettle"),
                         InstanceMethod<&StoreWrap::JS_CompactUnlink>("compactUnlink"),
                         InstanceMethod<&StoreWrap::JS_CompactRetire>("compactRetire"),
                         InstanceMethod<&StoreWrap::JS_CompactAbort>("compactAbort"),
                         InstanceMethod<&StoreWrap::JS_RollSegment>("rollSegment"),
                         InstanceMethod<&StoreWrap::JS_CheckpointBegin>("checkpointBegin"),
                         InstanceMethod<&StoreWrap::JS_CheckpointWrite>("checkpointWrite"),
                         InstanceMethod<&StoreWrap::JS_BytesSinceCheckpoint>("bytesSinceCheckpoint"),
                         InstanceMethod<&StoreWrap::JS_Share>("share"),
                     });
}

// new NativeStore(keyBuffer, valueBuffer, metaBuffer, onFlush)
StoreWrap::StoreWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<StoreWrap>(info) {
  Napi::Env env = info.Env();
  data_ = env.GetInstanceData<AddonData>();
  fs_ = std::make_unique<FaultInjectingFileSystem>(DefaultFileSystem());
  if (info.Length() < 4 || !info[0].IsBuffer() || !info[1].IsBuffer() || !info[2].IsBuffer() ||
      !info[3].IsFunction()) {
    Napi::TypeError::New(env, "NativeStore(keyBuffer, valueBuffer, metaBuffer, onFlush)").ThrowAsJavaScriptException();
    return;
  }
  bufs_.Register(info[0].As<Napi::Buffer<char>>(), info[1].As<Napi::Buffer<char>>(), info[2].As<Napi::Buffer<char>>());
  on_flush_ = Napi::Persistent(info[3].As<Napi::Function>());
  channel_ = new FlushChannel();
  channel_->wrap = this;
  channel_->tsfn = Napi::ThreadSafeFunction::New(
      env, info[3].As<Napi::Function>(), "hashlog-flush", 0, 1, channel_,
      [](Napi::Env, FlushChannel* ch) { delete ch; });
  channel_->tsfn.Unref(env);
  env_ = env;
  hook_registered_ = napi_add_env_cleanup_hook(env, &StoreWrap::CleanupHook, this) == napi_ok;
}

StoreWrap::~StoreWrap() { CloseNow(); }

void StoreWrap::FinishOpen(std::unique_ptr<Store> store) {
  opening_ = false;
  if (store && !closed_) {
    store_ = std::move(store);
    return;
  }
  if (store) store->Close();  // closed while it was opening
  closed_ = false;
  CloseNow();
}

void StoreWrap::CloseNow() {
  if (closed_) return;
  closed_ = true;
  // A getAsync read in flight on the pool reads mapped segments: let it finish (a memcpy).
  while (async_reads_.load(std::memory_order_acquire) > 0) std::this_thread::yield();
  // A compaction copy may be sleeping under its rate limit: cancel, then wait for it.
  if (store_) store_->CancelBackground();
  while (background_.load(std::memory_order_acquire) > 0) std::this_thread::yield();
  if (shared_id_ != 0) UnregisterSharedStore(shared_id_);  // no new reader attaches
  shared_id_ = 0;
  if (store_) store_->Close();  // shared readers' reads in flight end first  // joins the flush thread: no event is sent after this
  store_.reset();
  if (hook_registered_) {
    napi_remove_env_cleanup_hook(env_, &StoreWrap::CleanupHook, this);
    hook_registered_ = false;
  }
  if (channel_ != nullptr && !opening_) {
    channel_->wrap = nullptr;
    channel_->tsfn.Release();
    channel_ = nullptr;
  }
}

bool StoreWrap::Ready(Napi::Env env) {
  if (store_ && !closed_) return true;
  ThrowStatus(env, Status::Closed());
  return false;
}

Slice StoreWrap::Key(const Napi::CallbackInfo& info) const { return bufs_.Key(info[0]); }

// open(dir, sync, flushIntervalMs, segmentSize, maxValueSize, repair, maxKeys, maxDiskBytes, readOnly,
//      useCheckpoint)
Napi::Value StoreWrap::JS_Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (store_ || opening_ || closed_) return ThrowStatus(env, Status::InvalidArgument("store already opened"));
  StoreOptions o;
  o.sync = info[1].ToBoolean();
  o.flush_interval_ms = U32(info[2]);
  o.segment_size = static_cast<uint64_t>(F64(info[3]));
  o.max_value_size = U32(info[4]);
  o.repair = info[5].ToBoolean();
  o.max_keys = static_cast<uint64_t>(F64(info[6]));
  o.max_disk_bytes = static_cast<uint64_t>(F64(info[7]));
  o.read_only = info[8].ToBoolean();
  o.use_checkpoint = info.Length() < 10 || info[9].ToBoolean();
  o.progress = &progress_;
  opening_ = true;
  auto* worker = new OpenWorker(env, this, fs_.get(), info[0].As<Napi::String>().Utf8Value(), o, channel_);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// get(keyLen): value length (value copied into the value buffer when it fits), or -1.
Napi::Value StoreWrap::JS_Get(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  size_t size = 0;
  Status s = store_->Get(Key(info), bufs_.value, bufs_.value_cap, &size);
  if (s.IsNotFound()) return Napi::Number::New(env, -1);
  if (!s.ok()) return ThrowStatus(env, s);
  return Napi::Number::New(env, static_cast<double>(size));
}

// getInto(keyLen, target): as get, copying into target (for values larger than the buffer).
Napi::Value StoreWrap::JS_GetInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  auto target = info[1].As<Napi::Buffer<char>>();
  size_t size = 0;
  Status s = store_->Get(Key(info), target.Data(), target.Length(), &size);
  if (s.IsNotFound()) return Napi::Number::New(env, -1);
  if (!s.ok()) return ThrowStatus(env, s);
  return Napi::Number::New(env, static_cast<double>(size));
}

Napi::Value StoreWrap::JS_Has(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  return Napi::Boolean::New(env, store_->Has(Key(info)));
}

// put(keyLen, valueOrNull, valueLen, expiresAt): generation. A null value means the first
// valueLen bytes of the value buffer.
Napi::Value StoreWrap::JS_Put(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  Slice value;
  if (info[1].IsNull()) {
    value = Slice(bufs_.value, std::min<size_t>(U32(info[2]), bufs_.value_cap));
  } else {
    auto v = info[1].As<Napi::Uint8Array>();
    value = Slice(reinterpret_cast<const char*>(v.Data()), v.ByteLength());
  }
  uint64_t gen = 0;
  Status s = store_->Put(Key(info), value, static_cast<uint64_t>(F64(info[3])), &gen);
  if (!s.ok()) return ThrowStatus(env, s);
  return Napi::Number::New(env, static_cast<double>(gen));
}

// del(keyLen): generation * 2 + (existed ? 1 : 0).
Napi::Value StoreWrap::JS_Del(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  bool existed = false;
  uint64_t gen = 0;
  Status s = store_->Delete(Key(info), &existed, &gen);
  if (!s.ok()) return ThrowStatus(env, s);
  return Napi::Number::New(env, static_cast<double>(gen * 2 + (existed ? 1 : 0)));
}

// flush(): the generation whose fdatasync covers everything written so far.
Napi::Value StoreWrap::JS_Flush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  return Napi::Number::New(env, static_cast<double>(store_->Flush()));
}

// kick(): start committing what this turn wrote.
Napi::Value StoreWrap::JS_Kick(const Napi::CallbackInfo& info) {
  if (store_ && !closed_) store_->Kick();
  return info.Env().Undefined();
}

Napi::Value StoreWrap::JS_Close(const Napi::CallbackInfo& info) {
  CloseNow();
  return info.Env().Undefined();
}

// setActive(bool): keeps the event loop alive while writes wait for their commit.
Napi::Value StoreWrap::JS_SetActive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (channel_ != nullptr) {
    if (info[0].ToBoolean())
      channel_->tsfn.Ref(env);
    else
      channel_->tsfn.Unref(env);
  }
  return env.Undefined();
}

void StoreWrap::OnFlushEvent(Napi::Env env, const FlushEvent& ev) {
  if (!store_ || closed_) return;
  Napi::HandleScope scope(env);
  uint64_t first = 0, last = 0;
  store_->HandleFlushEvent(ev, &first, &last);
  Napi::Value err = ev.status.ok() ? env.Undefined() : StatusToError(env, ev.status);
  on_flush_.Call({Napi::Number::New(env, static_cast<double>(ev.written_gen)),
                  Napi::Number::New(env, static_cast<double>(ev.synced_gen)),
                  Napi::Number::New(env, static_cast<double>(first)), Napi::Number::New(env, static_cast<double>(last)),
                  err});
}

Napi::Value StoreWrap::JS_Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  return StatsToJs(env, store_->Stats());
}

Napi::Object StatsToJs(Napi::Env env, const StoreStats& st) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("keys", static_cast<double>(st.keys));
  o.Set("indexedKeys", static_cast<double>(st.indexed));
  o.Set("liveBytes", static_cast<double>(st.live_bytes));
  o.Set("garbageBytes", static_cast<double>(st.log_bytes - st.live_bytes));
  o.Set("logBytes", static_cast<double>(st.log_bytes));
  o.Set("segments", static_cast<double>(st.segments));
  o.Set("indexCapacity", static_cast<double>(st.index_capacity));
  o.Set("indexBytes", static_cast<double>(st.index_bytes));
  o.Set("fsyncs", static_cast<double>(st.fsyncs));
  o.Set("seq", static_cast<double>(st.seq));
  o.Set("compactions", static_cast<double>(st.compactions));
  o.Set("compactedBytesRead", static_cast<double>(st.compacted_bytes_read));
  o.Set("compactedBytesWritten", static_cast<double>(st.compacted_bytes_written));
  o.Set("bytesSinceCheckpoint", static_cast<double>(st.bytes_since_checkpoint));
  o.Set("checkpointPauseMs", st.checkpoint_pause_ms);
  o.Set("sharedReaders", static_cast<double>(st.shared_readers));
  return o;
}

// [bytes scanned, bytes to scan] of the recovery open() runs; callable while it runs.
Napi::Value StoreWrap::JS_RecoveryProgress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, static_cast<double>(progress_.done.load(std::memory_order_relaxed)));
  out.Set(1u, static_cast<double>(progress_.total.load(std::memory_order_relaxed)));
  return out;
}

Napi::Value StoreWrap::JS_Recovery(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  const RecoveryReport& r = store_->recovery();
  Napi::Object o = Napi::Object::New(env);
  o.Set("segments", static_cast<double>(r.segments));
  o.Set("records", static_cast<double>(r.records));
  o.Set("bytesScanned", static_cast<double>(r.bytes_scanned));
  o.Set("discardedBytes", static_cast<double>(r.discarded_bytes));
  Napi::Array dropped = Napi::Array::New(env, r.dropped.size());
  for (size_t i = 0; i < r.dropped.size(); i++) dropped.Set(static_cast<uint32_t>(i), r.dropped[i]);
  o.Set("dropped", dropped);
  o.Set("millis", r.millis);
  o.Set("checkpoint", r.checkpoint);
  o.Set("checkpointEntries", static_cast<double>(r.checkpoint_entries));
  o.Set("replayedBytes", static_cast<double>(r.replayed_bytes));
  return o;
}

}  // namespace hashlog

namespace hashlog {

// setFault(op, afterCalls, errno, sticky) arms a failure; setFault() disarms. Tests only.
Napi::Value StoreWrap::JS_SetFault(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() == 0) {
    fs_->Disarm();
    return env.Undefined();
  }
  FaultInjectingFileSystem::Op op;
  if (!info[0].IsString() || !FaultInjectingFileSystem::ParseOp(info[0].As<Napi::String>().Utf8Value(), &op))
    return ThrowStatus(env, Status::InvalidArgument("unknown fault op"));
  fs_->Arm(op, static_cast<uint64_t>(F64(info[1])), static_cast<int>(F64(info[2])), info[3].ToBoolean());
  return env.Undefined();
}

}  // namespace hashlog

namespace hashlog {

// batch(encodedOps): generation.
Napi::Value StoreWrap::JS_Batch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  auto ops = info[0].As<Napi::Uint8Array>();
  uint64_t gen = 0;
  Status s = store_->Batch(Slice(reinterpret_cast<const char*>(ops.Data()), ops.ByteLength()), &gen);
  if (!s.ok()) return ThrowStatus(env, s);
  return Napi::Number::New(env, static_cast<double>(gen));
}

// expiresAt(keyLen): -1 absent or expired, 0 no expiry, else ms since the epoch.
Napi::Value StoreWrap::JS_ExpiresAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  return Napi::Number::New(env, static_cast<double>(store_->ExpiresAt(Key(info))));
}

// setExpiry(keyLen, expiresAt, onlyIfExpiring): generation * 2 + (changed ? 1 : 0).
Napi::Value StoreWrap::JS_SetExpiry(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  bool changed = false;
  uint64_t gen = 0;
  Status s = store_->SetExpiry(Key(info), static_cast<uint64_t>(F64(info[1])), info[2].ToBoolean(), &changed, &gen);
  if (!s.ok()) return ThrowStatus(env, s);
  return Napi::Number::New(env, static_cast<double>(gen * 2 + (changed ? 1 : 0)));
}

Napi::Value StoreWrap::JS_AppendClear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  uint64_t gen = 0;
  Status s = store_->AppendClear(&gen);
  if (!s.ok()) return ThrowStatus(env, s);
  return Napi::Number::New(env, static_cast<double>(gen));
}

Napi::Value StoreWrap::JS_ApplyClear(const Napi::CallbackInfo& info) {
  if (store_ && !closed_) store_->ApplyClear();
  return info.Env().Undefined();
}

// scan(cursor, count): [nextCursor, keys[]].
Napi::Value StoreWrap::JS_Scan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  std::vector<std::string> keys;
  uint64_t next = 0;
  store_->Scan(static_cast<uint64_t>(F64(info[0])), U32(info[1]), &keys, &next);
  return ScanPageToJs(env, next, keys);
}

// getMany(n): keys end to end in the key buffer, lengths in the meta buffer; values end to
// end in the value buffer, sizes (or -1) in the meta buffer. Returns how many were answered.
Napi::Value StoreWrap::JS_GetMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  size_t n = std::min<size_t>(U32(info[0]), bufs_.many_max);
  int64_t sizes[256];
  size_t done = 0;
  const char* keys = bufs_.key;
  char* out = bufs_.value;
  size_t cap = bufs_.value_cap;
  while (done < n) {
    size_t chunk = std::min<size_t>(n - done, 256);
    size_t got = store_->GetMany(keys, bufs_.many_lengths + done, chunk, out, cap, sizes);
    for (size_t i = 0; i < got; i++) {
      bufs_.many_sizes[done + i] = static_cast<int32_t>(sizes[i]);
      keys += bufs_.many_lengths[done + i];
      if (sizes[i] > 0) {
        out += sizes[i];
        cap -= static_cast<size_t>(sizes[i]);
      }
    }
    done += got;
    if (got < chunk) break;  // the value buffer is full
  }
  return Napi::Number::New(env, static_cast<double>(done));
}

// getAsync(keyLen): Promise<Buffer | undefined>, the record read on the libuv pool.
Napi::Value StoreWrap::JS_GetAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  Slice key = Key(info);
  std::vector<const char*> records;
  bool resolved = false, found = false;
  std::string value;
  store_->Locate(key, &records, &resolved, &found, &value);
  if (resolved || records.empty()) {
    auto d = Napi::Promise::Deferred::New(env);
    if (found)
      d.Resolve(Napi::Buffer<char>::Copy(env, value.data(), value.size()));
    else
      d.Resolve(env.Undefined());
    return d.Promise();
  }
  auto deferred = Napi::Promise::Deferred::New(env);
  queued_reads_.push_back(AsyncRead{std::string(key.data, key.size), std::move(records), deferred, {}, false});
  reads_located_++;
  if (!read_batch_running_) StartReadBatch(env);
  return deferred.Promise();
}

void StoreWrap::StartReadBatch(Napi::Env env) {
  if (!store_ || closed_) return;  // close() waited for every read it had handed out
  read_batch_running_ = true;
  async_reads_.fetch_add(1, std::memory_order_acq_rel);
  std::vector<AsyncRead> batch;
  batch.swap(queued_reads_);
  (new ReadBatchWorker(env, this, std::move(batch)))->Queue();
}

// [[file name, bytes written, end, flags], ...] of every segment with records, in log order
// (backup, replication).
Napi::Value StoreWrap::JS_WrittenSegments(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  const auto segments = store_->WrittenSegments();
  Napi::Array out = Napi::Array::New(env, segments.size());
  for (size_t i = 0; i < segments.size(); i++) {
    Napi::Array row = Napi::Array::New(env, 4);
    row.Set(0u, segments[i].name);
    row.Set(1u, static_cast<double>(segments[i].written));
    row.Set(2u, static_cast<double>(segments[i].end));
    row.Set(3u, static_cast<double>(segments[i].flags));
    out.Set(static_cast<uint32_t>(i), row);
  }
  return out;
}

Napi::Value StoreWrap::JS_Size(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  return Napi::Number::New(env, static_cast<double>(store_->LiveKeys()));
}

// setClockOffset(ms): tests move the clock that decides expiry.
Napi::Value StoreWrap::JS_SetClockOffset(const Napi::CallbackInfo& info) {
  if (store_ && !closed_) store_->SetClockOffsetForTesting(static_cast<int64_t>(F64(info[0])));
  return info.Env().Undefined();
}

}  // namespace hashlog

namespace hashlog {

// checkpointBegin(): snapshots the store for a checkpoint; returns the generation whose
// fdatasync must be reported before checkpointWrite() (lib/store.ts waits for it).
Napi::Value StoreWrap::JS_CheckpointBegin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  uint64_t gen = 0;
  Status s = store_->BeginCheckpoint(&checkpoint_, &gen);
  if (!s.ok()) return ThrowStatus(env, s);
  return Napi::Number::New(env, static_cast<double>(gen));
}

// checkpointWrite(): Promise<void>; writes the snapshot of checkpointBegin() on the pool.
Napi::Value StoreWrap::JS_CheckpointWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  if (!checkpoint_) return ThrowStatus(env, Status::InvalidArgument("checkpointWrite() without checkpointBegin()"));
  std::unique_ptr<CheckpointImage> image = std::move(checkpoint_);
  Status s = store_->CheckCheckpoint(image.get());
  if (!s.ok()) return ThrowStatus(env, s);
  auto* worker = new CheckpointWorker(env, this, fs_.get(), store_->dir(), std::move(image));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// bytesSinceCheckpoint(): what the background checkpoint policy reads after each commit.
Napi::Value StoreWrap::JS_BytesSinceCheckpoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!store_ || closed_) return Napi::Number::New(env, 0);
  return Napi::Number::New(env, static_cast<double>(store_->BytesSinceCheckpoint()));
}

// share(): the id under which worker threads attach a NativeSharedReader (shared_wrap.h).
Napi::Value StoreWrap::JS_Share(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  if (shared_id_ == 0) shared_id_ = RegisterSharedStore(store_.get());
  store_->PublishStats();
  return Napi::Number::New(env, static_cast<double>(shared_id_));
}

}  // namespace hashlog
