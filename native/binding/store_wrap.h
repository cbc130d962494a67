// StoreWrap: the JavaScript-visible NativeStore. Keys (and small values) travel through
// two buffers that lib/native-engine.ts allocates once and registers at construction, so
// a get or put passes only lengths and allocates nothing per call.
//
// Lifetime: open() runs Store::Open on the libuv pool; close() (or the environment's
// cleanup hook, or garbage collection) closes the store and releases the flush callback.
#ifndef HASHLOG_NATIVE_BINDING_STORE_WRAP_H_
#define HASHLOG_NATIVE_BINDING_STORE_WRAP_H_

#include <napi.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "../store.h"
#include "registered_buffers.h"

namespace hashlog {

struct AddonData;
struct FlushChannel;

// The stats() object of NativeStore and NativeSharedReader (lib/binding.ts NativeStats).
Napi::Object StatsToJs(Napi::Env env, const StoreStats& st);

class StoreWrap : public Napi::ObjectWrap<StoreWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit StoreWrap(const Napi::CallbackInfo& info);
  ~StoreWrap() override;

  // Closes the store (idempotent); used by close(), the cleanup hook and the destructor.
  void CloseNow();
  // Environment cleanup (a worker thread ending, process exit) without close(). Registered
  // after the flush callback's thread-safe function, so it runs before that function's own
  // cleanup (hooks run in reverse order): the flush thread stops while it can still call.
  static void CleanupHook(void* arg) {
    auto* self = static_cast<StoreWrap*>(arg);
    self->hook_registered_ = false;
    self->CloseNow();
  }
  void OnFlushEvent(Napi::Env env, const FlushEvent& ev);
  // Takes the opened store (null when the open failed) from the open worker.
  void FinishOpen(std::unique_ptr<Store> store);
  Store* store() const { return store_.get(); }
  void ReadDone() { async_reads_.fetch_sub(1, std::memory_order_acq_rel); }
  // A compaction phase running on the pool uses the store: Close cancels it and waits.
  void BackgroundDone() { background_.fetch_sub(1, std::memory_order_acq_rel); }

  // One getAsync read: what Locate found, and (after the pool ran) the value.
  struct AsyncRead {
    std::string key;
    std::vector<const char*> records;
    Napi::Promise::Deferred deferred;
    std::string value;
    bool found = false;
  };
  // getAsync reads queue up while a batch is on the pool; the next batch takes them all, so
  // 256 reads in flight cost a few pool round trips, not 256 (docs/DESIGN.md).
  void StartReadBatch(Napi::Env env);
  void ReadBatchDone(Napi::Env env, size_t reads) {
    reads_done_ += reads;
    read_batch_running_ = false;
    if (!queued_reads_.empty()) StartReadBatch(env);
  }

 private:
  Napi::Value JS_Open(const Napi::CallbackInfo& info);
  Napi::Value JS_Get(const Napi::CallbackInfo& info);
  Napi::Value JS_GetInto(const Napi::CallbackInfo& info);
  Napi::Value JS_Has(const Napi::CallbackInfo& info);
  Napi::Value JS_Put(const Napi::CallbackInfo& info);
  Napi::Value JS_Del(const Napi::CallbackInfo& info);
  Napi::Value JS_Flush(const Napi::CallbackInfo& info);
  Napi::Value JS_Kick(const Napi::CallbackInfo& info);
  Napi::Value JS_Close(const Napi::CallbackInfo& info);
  Napi::Value JS_SetActive(const Napi::CallbackInfo& info);
  Napi::Value JS_Stats(const Napi::CallbackInfo& info);
  Napi::Value JS_Recovery(const Napi::CallbackInfo& info);
  Napi::Value JS_RecoveryProgress(const Napi::CallbackInfo& info);
  Napi::Value JS_WrittenSegments(const Napi::CallbackInfo& info);
  Napi::Value JS_SetFault(const Napi::CallbackInfo& info);
  Napi::Value JS_Batch(const Napi::CallbackInfo& info);
  Napi::Value JS_ExpiresAt(const Napi::CallbackInfo& info);
  Napi::Value JS_SetExpiry(const Napi::CallbackInfo& info);
  Napi::Value JS_AppendClear(const Napi::CallbackInfo& info);
  Napi::Value JS_ApplyClear(const Napi::CallbackInfo& info);
  Napi::Value JS_Scan(const Napi::CallbackInfo& info);
  Napi::Value JS_GetMany(const Napi::CallbackInfo& info);
  Napi::Value JS_GetAsync(const Napi::CallbackInfo& info);
  Napi::Value JS_Size(const Napi::CallbackInfo& info);
  Napi::Value JS_SetClockOffset(const Napi::CallbackInfo& info);
  // Compaction (store_compaction_wrap.cc).
  Napi::Value JS_Segments(const Napi::CallbackInfo& info);
  Napi::Value JS_CompactStart(const Napi::CallbackInfo& info);
  Napi::Value JS_CompactMark(const Napi::CallbackInfo& info);
  Napi::Value JS_CompactCopy(const Napi::CallbackInfo& info);
  Napi::Value JS_CompactInstall(const Napi::CallbackInfo& info);
  Napi::Value JS_CompactSettle(const Napi::CallbackInfo& info);
  Napi::Value JS_CompactUnlink(const Napi::CallbackInfo& info);
  Napi::Value JS_CompactRetire(const Napi::CallbackInfo& info);
  Napi::Value JS_CompactAbort(const Napi::CallbackInfo& info);
  Napi::Value JS_RollSegment(const Napi::CallbackInfo& info);
  Napi::Value JS_CheckpointBegin(const Napi::CallbackInfo& info);
  Napi::Value JS_CheckpointWrite(const Napi::CallbackInfo& info);
  Napi::Value JS_BytesSinceCheckpoint(const Napi::CallbackInfo& info);
  Napi::Value JS_Share(const Napi::CallbackInfo& info);

  Slice Key(const Napi::CallbackInfo& info) const;
  bool Ready(Napi::Env env);

  AddonData* data_;
  // Declared before store_: the store uses it until it is destroyed.
  std::unique_ptr<FaultInjectingFileSystem> fs_;
  std::unique_ptr<Store> store_;
  RegisteredBuffers bufs_;
  // getAsync reads on the libuv pool; Close waits for them (they read mapped segments).
  std::atomic<int> async_reads_{0};
  std::atomic<int> background_{0};
  std::vector<AsyncRead> queued_reads_;
  bool read_batch_running_ = false;
  // getAsync reads that located records, and those answered. A compaction retires its
  // sources once every read located before its install is answered (reads located later
  // hold no address in them), so a steady stream of reads cannot hold it off.
  uint64_t reads_located_ = 0;
  uint64_t reads_done_ = 0;
  uint64_t retire_after_reads_ = 0;
  Napi::FunctionReference on_flush_;
  FlushChannel* channel_ = nullptr;
  bool opening_ = false;
  bool closed_ = false;
  napi_env env_ = nullptr;
  bool hook_registered_ = false;
  // The id db.share() registered the store under (shared_wrap.h), or 0.
  uint64_t shared_id_ = 0;
  // The snapshot between checkpointBegin() and checkpointWrite().
  std::unique_ptr<CheckpointImage> checkpoint_;
  // Written by the open worker's recovery, read by recoveryProgress() on the JS thread.
  RecoveryProgress progress_;
};

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_BINDING_STORE_WRAP_H_
