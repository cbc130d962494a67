// Workload: a seeded mix of puts, deletes and batches issued through Store (no N-API), with
// every operation's fate tracked (acknowledged = the fdatasync of its commit group returned,
// or rejected), and a checker that a reopened store agrees with that history. Shared by the
// standalone reliability programs in native/cc/ (docs/RELIABILITY.md). Test-only.
//
// Thread-safety: a Driver belongs to one thread (the "owner" of the Store); the flush thread
// only pushes events into its queue.
#ifndef HASHLOG_NATIVE_CC_WORKLOAD_H_
#define HASHLOG_NATIVE_CC_WORKLOAD_H_

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "../coding.h"
#include "../store.h"

namespace hashlog {
namespace workload {

// A failed expectation: prints where and why, and exits (the vitest wrapper shows stderr).
[[noreturn]] inline void Fail(const std::string& what) {
  std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  std::exit(1);
}

#define WL_CHECK(cond, msg)                                                                     \
  do {                                                                                          \
    if (!(cond)) ::hashlog::workload::Fail(std::string(__FILE__ ":") + std::to_string(__LINE__) + \
                                            ": " #cond ": " + (msg));                           \
  } while (0)

constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

struct Effect {
  int key;
  bool put;           // false: delete
  std::string value;  // puts: unique to this operation
};

struct Op {
  enum Fate { kPending, kAcked, kRejected, kMaybe };  // kMaybe: rejected after fail-stop
  std::vector<Effect> effects;  // one for a put or delete, several for a batch
  bool batch = false;
  uint64_t gen = 0;
  Fate fate = kPending;
  uint64_t acked_at = kNever;  // the clock (e.g. recorded-op count) when it was acknowledged
  Status::Code reject_code = Status::kOk;
};

// Removes a scratch store directory (flat: segment files, LOCK).
inline void RemoveTree(const std::string& dir) {
  std::vector<std::string> names;
  if (DefaultFileSystem()->ListDir(dir, &names).ok())
    for (const std::string& n : names)
      if (n != "." && n != "..") ::unlink((dir + "/" + n).c_str());
  ::rmdir(dir.c_str());
}

inline std::string KeyName(int k) { return "key" + std::to_string(k); }

struct WorkloadOptions {
  int keys = 24;
  int ops = 150;
  int max_burst = 8;      // operations issued before waiting (one or more commit groups)
  int max_pad = 3000;     // value padding: crosses pages and segments
  int batch_percent = 15;
  int delete_percent = 20;
};

// Owns the store under test and the history of what was issued.
class Driver {
 public:
  // `clock` is read on the flush thread when a group is reported synced.
  Driver(FileSystem* fs, std::string dir, StoreOptions options, std::function<uint64_t()> clock)
      : fs_(fs), dir_(std::move(dir)), options_(options), clock_(std::move(clock)) {}
  ~Driver() { store_.reset(); }

  Status Open() {
    return Store::Open(fs_, dir_, options_, [this](const FlushEvent& ev) { Push(ev); }, &store_);
  }
  Store* store() { return store_.get(); }
  // Values name their operation by index; a second driver over the same store starts its
  // indexes here so that its values differ from the first one's.
  void set_id_base(size_t base) { id_base_ = base; }
  std::vector<Op>& ops() { return ops_; }

  // Issues options.ops operations in bursts, waiting for each burst to settle, and calls
  // `after_burst` (if set) after each.
  void Run(const WorkloadOptions& wo, std::mt19937_64* rng, const std::function<void()>& after_burst = nullptr) {
    int issued = 0;
    while (issued < wo.ops) {
      int burst = 1 + static_cast<int>((*rng)() % wo.max_burst);
      for (int b = 0; b < burst && issued < wo.ops; b++, issued++) Issue(MakeOp(wo, rng));
      store_->Kick();
      Settle();
      if (after_burst) after_burst();
    }
  }

  // Issues one operation; a synchronous error rejects it at once.
  void Issue(Op op) {
    uint64_t gen = 0;
    Status s;
    if (op.batch) {
      std::string enc;
      for (const Effect& e : op.effects) {
        char h[kBatchOpHeaderSize] = {0};
        h[0] = e.put ? 1 : 2;
        const std::string key = KeyName(e.key);
        EncodeFixed32(h + 4, static_cast<uint32_t>(key.size()));
        EncodeFixed32(h + 8, static_cast<uint32_t>(e.value.size()));
        enc.append(h, sizeof(h));
        enc += key;
        enc += e.value;
      }
      s = store_->Batch(Slice(enc.data(), enc.size()), &gen);
    } else if (op.effects[0].put) {
      const std::string key = KeyName(op.effects[0].key);
      s = store_->Put(Slice(key.data(), key.size()), Slice(op.effects[0].value.data(), op.effects[0].value.size()),
                      0, &gen);
    } else {
      const std::string key = KeyName(op.effects[0].key);
      bool existed = false;
      s = store_->Delete(Slice(key.data(), key.size()), &existed, &gen);
    }
    if (!s.ok()) {
      op.fate = Op::kRejected;
      op.reject_code = s.code();
      sync_errors_.push_back(s);
    }
    op.gen = gen;
    ops_.push_back(std::move(op));
  }

  // Tracks a write made directly on store() (SetExpiry, AppendClear) as an operation with
  // no modelled effect, so that Settle() waits for it too.
  void Track(uint64_t gen) {
    Op op;
    op.gen = gen;
    ops_.push_back(std::move(op));
  }

  // Waits until every issued operation is acknowledged or rejected.
  void Settle() {
    if (!options_.sync) store_->Flush();
    for (;;) {
      MarkAcked();
      bool pending = false;
      for (const Op& op : ops_) pending |= op.fate == Op::kPending;
      if (!pending) return;
      if (std::getenv("HASHLOG_DEBUG_EVENTS") != nullptr)
        for (const Op& op : ops_)
          if (op.fate == Op::kPending) std::fprintf(stderr, "waiting for gen %llu\n", static_cast<unsigned long long>(op.gen));
      FlushEvent ev;
      uint64_t at;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return !events_.empty(); });
        ev = events_.front().first;
        at = events_.front().second;
        events_.pop_front();
      }
      if (std::getenv("HASHLOG_DEBUG_EVENTS") != nullptr)
        std::fprintf(stderr, "event written=%llu synced=%llu status=%s\n",
                     static_cast<unsigned long long>(ev.written_gen), static_cast<unsigned long long>(ev.synced_gen),
                     ev.status.message().c_str());
      if (ev.synced_gen > synced_gen_) {
        synced_gen_ = ev.synced_gen;
        synced_at_ = at;
      }
      uint64_t first = 0, last = 0;
      // Every event goes to the store (it tracks what is synced: compaction needs it).
      store_->HandleFlushEvent(ev, &first, &last);
      if (!ev.status.ok()) {
        if (std::getenv("HASHLOG_DEBUG_EVENTS") != nullptr)
          std::fprintf(stderr, "rolled back %llu..%llu\n", static_cast<unsigned long long>(first),
                       static_cast<unsigned long long>(last));
        async_errors_.push_back(ev.status);
        MarkAcked();  // what synced before the failure stays acknowledged
        const bool fail_stop = ev.status.code() == Status::kFailed;
        for (Op& op : ops_) {
          if (op.fate != Op::kPending) continue;
          // After a fail-stop nothing pending will ever be synced: a rolled-back group, or one
          // written but not synced (durability "none"), may be on disk in any state. A
          // resumable failure means none of the rolled-back groups reached a file.
          if (fail_stop) {
            op.fate = Op::kMaybe;
            op.reject_code = ev.status.code();
          } else if (op.gen >= first && op.gen <= last) {
            op.fate = Op::kRejected;
            op.reject_code = ev.status.code();
          }
        }
      }
    }
  }

  // Writes a checkpoint the way lib/store.ts does: snapshot, wait until the sync that
  // covers it is reported (a failed commit event abandons it), check, write.
  Status Checkpoint() {
    std::unique_ptr<CheckpointImage> image;
    uint64_t gen = 0;
    Status s = store_->BeginCheckpoint(&image, &gen);
    if (!s.ok()) return s;
    const size_t errors = async_errors_.size();
    Track(gen);
    Settle();
    if (async_errors_.size() != errors) return async_errors_.back();
    s = store_->CheckCheckpoint(image.get());
    if (!s.ok()) return s;
    s = WriteCheckpoint(fs_, dir_, *image);
    if (s.ok()) store_->CheckpointWritten(*image);
    return s;
  }

  Status Close() {
    Status s = store_ ? store_->Close() : Status::OK();
    store_.reset();
    return s;
  }

  // Runs a whole compaction job (native/compaction.h) on the calling thread, as lib/compaction.ts
  // does in slices. Returns the job's status; OK also when there was nothing to compact.
  Status Compact() {
    bool started = false;
    Status s = store_->CompactStart(CompactOptions(), &started);
    if (!s.ok() || !started) return s;
    while (!store_->CompactMark(1 << 20)) {
    }
    s = store_->CompactCopy();
    bool done = false;
    while (s.ok() && !done) s = store_->CompactInstall(1 << 20, &done);
    if (!s.ok()) {
      store_->CompactAbort();
      return s;
    }
    // Every write is settled (durable) before a job runs, so nothing holds settle or retire off.
    if (!store_->CompactSettle()) return Status::InvalidArgument("compaction did not settle");
    s = store_->CompactUnlink();
    compactions_ += store_->CompactRetire(true);
    return s;
  }
  int compactions() const { return compactions_; }

  const std::vector<Status>& sync_errors() const { return sync_errors_; }
  const std::vector<Status>& async_errors() const { return async_errors_; }

 private:
  int compactions_ = 0;
  void Push(const FlushEvent& ev) {
    uint64_t at = clock_();
    std::lock_guard<std::mutex> lk(mu_);
    events_.emplace_back(ev, at);
    cv_.notify_one();
  }

  void MarkAcked() {
    for (Op& op : ops_) {
      if (op.fate == Op::kPending && op.gen <= synced_gen_) {
        op.fate = Op::kAcked;
        op.acked_at = synced_at_;
      }
    }
  }

  Op MakeOp(const WorkloadOptions& wo, std::mt19937_64* rng) {
    Op op;
    const size_t id = id_base_ + ops_.size();
    auto effect = [&](int sub) {
      Effect e;
      e.key = static_cast<int>((*rng)() % wo.keys);
      e.put = static_cast<int>((*rng)() % 100) >= wo.delete_percent;
      if (e.put) {
        size_t pad = (*rng)() % 8 == 0 ? (*rng)() % (wo.max_pad + 1) : (*rng)() % 64;
        e.value = KeyName(e.key) + "#" + std::to_string(id) + "." + std::to_string(sub) + std::string(pad, '.');
      }
      return e;
    };
    op.batch = static_cast<int>((*rng)() % 100) < wo.batch_percent;
    if (op.batch) {
      int n = 2 + static_cast<int>((*rng)() % 5);
      for (int i = 0; i < n; i++) op.effects.push_back(effect(i));
    } else {
      op.effects.push_back(effect(0));
    }
    return op;
  }

  FileSystem* fs_;
  std::string dir_;
  StoreOptions options_;
  std::function<uint64_t()> clock_;
  std::unique_ptr<Store> store_;
  std::vector<Op> ops_;
  size_t id_base_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<FlushEvent, uint64_t>> events_;
  uint64_t synced_gen_ = 0;
  uint64_t synced_at_ = 0;
  std::vector<Status> sync_errors_;
  std::vector<Status> async_errors_;
};

// The fault loops' matrix (docs/RELIABILITY.md, "Faults at the Nth call"): both durabilities,
// each op (or only $HASHLOG_FAULT_OP, for debugging), each errno, once and sticky, and the Nth
// call for N = 0, 1, 2, ... until run(sync, op, err, sticky, n) reports that it injected
// nothing (capped against a runaway).
template <size_t kOpCount, size_t kErrnoCount, typename Run>
void ForEachFault(const char* const (&ops)[kOpCount], const int (&errnos)[kErrnoCount], Run&& run) {
  const char* only = std::getenv("HASHLOG_FAULT_OP");
  for (bool sync : {true, false}) {
    for (const char* op : ops) {
      if (only != nullptr && std::string(only) != op) continue;
      for (int err : errnos) {
        for (bool sticky : {false, true}) {
          for (uint64_t n = 0; n < 5000; n++) {
            if (run(sync, op, err, sticky, n) == 0) break;
          }
        }
      }
    }
  }
}

// Checks an open store against the history, for a crash at clock `at`: operations
// acknowledged by then must be reflected; later ones (and fail-stop rejections) may or may
// not be; resumable rejections must not be; no batch may be half-applied; no other key
// exists. `where` names the state for the failure message. If `half_batches` is set, a
// half-applied batch is counted there instead of failing (a store opened with repair: see
// docs/RELIABILITY.md, "Power cuts").
inline void CheckAgainstHistory(Store* store, const std::vector<Op>& ops, int keys, uint64_t at,
                                const std::string& where, uint64_t* half_batches = nullptr) {
  // Per key: the operations on it in issue order (op index, effect index).
  std::vector<std::vector<std::pair<size_t, size_t>>> by_key(keys);
  for (size_t i = 0; i < ops.size(); i++)
    for (size_t j = 0; j < ops[i].effects.size(); j++) by_key[ops[i].effects[j].key].emplace_back(i, j);
  auto counts = [&](const Op& op) {
    return op.fate == Op::kMaybe || op.fate == Op::kPending || (op.fate == Op::kAcked);
  };
  std::vector<std::string> observed(keys);
  std::vector<bool> present(keys);
  // For each key, the candidates consistent with what was read: op indexes (or -1: the
  // initial absence). The batch check below needs them.
  std::vector<std::vector<long>> matches(keys);
  size_t present_count = 0;
  std::vector<char> buf(1 << 16);
  for (int k = 0; k < keys; k++) {
    const std::string key = KeyName(k);
    size_t size = 0;
    Status s = store->Get(Slice(key.data(), key.size()), buf.data(), buf.size(), &size);
    if (s.ok() && size > buf.size()) {
      buf.resize(size);
      s = store->Get(Slice(key.data(), key.size()), buf.data(), buf.size(), &size);
    }
    WL_CHECK(s.ok() || s.IsNotFound(), where + ": get " + key + ": " + s.message());
    present[k] = s.ok();
    if (s.ok()) {
      observed[k].assign(buf.data(), size);
      present_count++;
    }
    // The newest operation on the key acknowledged by `at` (-1: none, the key started absent).
    long floor = -1;
    for (const auto& e : by_key[k])
      if (ops[e.first].fate == Op::kAcked && ops[e.first].acked_at <= at) floor = static_cast<long>(e.first);
    std::vector<long>& m = matches[k];
    if (floor < 0 && !present[k]) m.push_back(-1);
    for (const auto& e : by_key[k]) {
      const Op& op = ops[e.first];
      if (static_cast<long>(e.first) < floor || !counts(op)) continue;
      const Effect& ef = op.effects[e.second];
      if (ef.put ? (present[k] && observed[k] == ef.value) : !present[k]) m.push_back(static_cast<long>(e.first));
    }
    if (m.empty()) {
      std::string want = floor < 0 ? "absent" : "";
      if (floor >= 0) {
        for (const auto& e : by_key[k])
          if (static_cast<long>(e.first) == floor) {
            const Effect& ef = ops[e.first].effects[e.second];
            want = ef.put ? ef.value.substr(0, 24) : "deleted";
          }
      }
      Fail(where + ": " + key + " is " + (present[k] ? "'" + observed[k].substr(0, 24) + "'" : "absent") +
           " but the last acknowledged write (op " + std::to_string(floor) + ") made it " + want +
           " and no later write matches");
    }
  }
  // A batch whose put is visible must be visible (or overwritten later) on every key it touched.
  std::vector<bool> half(ops.size());
  for (int k = 0; k < keys; k++) {
    if (!present[k]) continue;
    for (long i : matches[k]) {
      if (i < 0 || !ops[i].batch) continue;
      for (const Effect& ef : ops[i].effects) {
        bool ok = false;
        for (long j : matches[ef.key]) ok |= j >= i;
        if (ok) continue;
        if (half_batches == nullptr)
          Fail(where + ": batch op " + std::to_string(i) + " is visible on " + KeyName(k) + " but not on " +
               KeyName(ef.key));
        if (!half[i]) (*half_batches)++;
        half[i] = true;
      }
    }
  }
  // No key outside the workload's set, and the index agrees with the reads.
  std::vector<std::string> scanned;
  uint64_t cursor = 0, next = 0;
  size_t total = 0;
  do {
    store->Scan(cursor, 1000, &scanned, &next);
    for (const std::string& key : scanned) {
      bool known = key.compare(0, 3, "key") == 0 && key.size() > 3;
      WL_CHECK(known, where + ": unexpected key " + key);
    }
    total += scanned.size();
    cursor = next;
  } while (next != 0);
  WL_CHECK(total == present_count, where + ": scan found " + std::to_string(total) + " keys, gets found " +
                                       std::to_string(present_count));
}

}  // namespace workload
}  // namespace hashlog

#endif  // HASHLOG_NATIVE_CC_WORKLOAD_H_
