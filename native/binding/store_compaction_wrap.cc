// StoreWrap: the compaction entry points. lib/compaction.ts drives the phases: the owner
// thread's (mark, install, retire) run in slices between other work; copy and unlink run on
// the libuv pool and settle a promise.
#include <functional>

#include "addon_data.h"
#include "js_status.h"
#include "store_wrap.h"

namespace hashlog {
namespace {

// Runs one background phase of a compaction on the pool.
class CompactWorker : public Napi::AsyncWorker {
 public:
  CompactWorker(Napi::Env env, StoreWrap* wrap, std::function<Status(Store*)> phase)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        wrap_(wrap),
        store_(wrap->store()),
        self_(Napi::Persistent(wrap->Value())),
        phase_(std::move(phase)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    status_ = phase_(store_);
    wrap_->BackgroundDone();  // after this, Close may destroy the store
  }

  void OnOK() override {
    if (status_.ok())
      deferred_.Resolve(Env().Undefined());
    else
      deferred_.Reject(StatusToError(Env(), status_));
  }

 private:
  Napi::Promise::Deferred deferred_;
  StoreWrap* wrap_;
  Store* store_;
  Napi::ObjectReference self_;
  std::function<Status(Store*)> phase_;
  Status status_;
};

size_t Budget(const Napi::CallbackInfo& info) {
  const double b = info.Length() > 0 && info[0].IsNumber() ? F64(info[0]) : 0;
  return b >= 1 ? static_cast<size_t>(b) : 1;
}

}  // namespace

// listSegments(): [[name, flags, bytes, liveBytes, compactable], ...] in log order.
Napi::Value StoreWrap::JS_Segments(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  const auto segments = store_->Segments();
  Napi::Array out = Napi::Array::New(env, segments.size());
  for (size_t i = 0; i < segments.size(); i++) {
    Napi::Array row = Napi::Array::New(env, 5);
    row.Set(0u, segments[i].name);
    row.Set(1u, static_cast<double>(segments[i].flags));
    row.Set(2u, static_cast<double>(segments[i].bytes));
    row.Set(3u, static_cast<double>(segments[i].live_bytes));
    row.Set(4u, Napi::Boolean::New(env, segments[i].compactable));
    out.Set(static_cast<uint32_t>(i), row);
  }
  return out;
}

// compactStart(maxOutputSize, bytesPerSecond, keepFromFile): true if a job started.
Napi::Value StoreWrap::JS_CompactStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  CompactOptions o;
  o.max_output_size = static_cast<uint64_t>(F64(info[0]));
  o.bytes_per_second = F64(info[1]);
  o.keep_from_file = info.Length() > 2 && info[2].IsNumber() ? static_cast<uint64_t>(F64(info[2])) : 0;
  bool started = false;
  Status s = store_->CompactStart(o, &started);
  if (!s.ok()) return ThrowStatus(env, s);
  return Napi::Boolean::New(env, started);
}

// compactMark(budget): true when every source record is marked.
Napi::Value StoreWrap::JS_CompactMark(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  return Napi::Boolean::New(env, store_->CompactMark(Budget(info)));
}

Napi::Value StoreWrap::JS_CompactCopy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  background_.fetch_add(1, std::memory_order_acq_rel);
  auto* w = new CompactWorker(env, this, [](Store* st) { return st->CompactCopy(); });
  w->Queue();
  return w->Promise();
}

// compactInstall(budget): true when the index points at the copies.
Napi::Value StoreWrap::JS_CompactInstall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  bool done = false;
  Status s = store_->CompactInstall(Budget(info), &done);
  if (!s.ok()) return ThrowStatus(env, s);
  if (done) retire_after_reads_ = reads_located_;
  return Napi::Boolean::New(env, done);
}

// compactSettle(): true once unlink may run (false: call again after the next commit).
Napi::Value StoreWrap::JS_CompactSettle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  return Napi::Boolean::New(env, store_->CompactSettle());
}

Napi::Value StoreWrap::JS_CompactUnlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  background_.fetch_add(1, std::memory_order_acq_rel);
  auto* w = new CompactWorker(env, this, [](Store* st) { return st->CompactUnlink(); });
  w->Queue();
  return w->Promise();
}

// compactRetire(): true when the job is over (false: call again after the next commit).
Napi::Value StoreWrap::JS_CompactRetire(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ready(env)) return env.Undefined();
  return Napi::Boolean::New(env, store_->CompactRetire(reads_done_ >= retire_after_reads_));
}

Napi::Value StoreWrap::JS_CompactAbort(const Napi::CallbackInfo& info) {
  if (store_ && !closed_) store_->CompactAbort();
  return info.Env().Undefined();
}

// rollSegment(): the next write starts a new segment.
Napi::Value StoreWrap::JS_RollSegment(const Napi::CallbackInfo& info) {
  if (store_ && !closed_) store_->RollActive();
  return info.Env().Undefined();
}

}  // namespace hashlog
