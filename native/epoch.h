// EpochDomain: epoch-based reclamation for readers on other threads (docs/DESIGN.md,
// "Worker threads"). A reader announces the epoch it entered in a slot of its own; the
// owner retires what it unlinked (an old index table, a compacted segment) at the epoch
// it advanced to, and frees it once no slot holds an older epoch. Readers never wait for
// the owner and the owner never waits for a reader, except at Shutdown.
//
// Why epochs and not reference counts: a count is a shared cache line that every read on
// every thread would write; an epoch slot is written only by its own reader.
//
// Thread-safety: Acquire/ReleaseSlot, Enter and Exit from any thread (a slot is used by one
// thread at a time); Retire, Reclaim, Shutdown and FreeAll on the owner thread only.
#ifndef HASHLOG_NATIVE_EPOCH_H_
#define HASHLOG_NATIVE_EPOCH_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace hashlog {

class EpochDomain {
 public:
  // Reader slots: one per worker handle, plus one per getAsync read in flight on the pool.
  static constexpr int kMaxSlots = 1024;

  EpochDomain();
  ~EpochDomain();  // FreeAll()
  EpochDomain(const EpochDomain&) = delete;
  EpochDomain& operator=(const EpochDomain&) = delete;

  // A free slot for one reader, or -1 when all are taken.
  int AcquireSlot();
  void ReleaseSlot(int slot);

  // Starts a read: until Exit, nothing retired after this point is freed. False (and the
  // read must not start) once Shutdown began.
  bool Enter(int slot);
  void Exit(int slot) { slots_[slot].epoch.store(0, std::memory_order_release); }

  // Owner: `free_fn` runs once no reader that might have seen the unlinked object is
  // inside a read. REQUIRES: the object is already unreachable for new reads.
  void Retire(std::function<void()> free_fn);
  // Owner: runs what may be freed now.
  void Reclaim();
  size_t pending() const { return retired_.size(); }
  // Owner: new reads fail from now on; waits for the reads in flight to end.
  void Shutdown();
  // Owner, when no reader can be inside (after Shutdown): runs everything retired.
  void FreeAll();
  // Readers that hold a slot now (the number of worker handles and pool reads).
  int readers() const { return readers_.load(std::memory_order_relaxed); }

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> epoch{0};  // 0: not inside a read
    std::atomic<bool> taken{false};
  };
  struct Retired {
    uint64_t epoch;
    std::function<void()> free_fn;
  };
  // The oldest epoch a reader inside a read entered, or UINT64_MAX.
  uint64_t OldestActive() const;

  Slot* slots_;                     // kMaxSlots of them
  std::atomic<int> high_{0};        // slots below it have been used
  std::atomic<int> readers_{0};
  std::atomic<uint64_t> global_{1};
  std::atomic<bool> shutdown_{false};
  std::vector<Retired> retired_;    // owner only
};

// Enter/Exit as a scope. ok() is false when the domain shut down (the read must not run).
class EpochGuard {
 public:
  EpochGuard(EpochDomain* d, int slot) : d_(d), slot_(slot), ok_(d->Enter(slot)) {}
  ~EpochGuard() {
    if (ok_) d_->Exit(slot_);
  }
  EpochGuard(const EpochGuard&) = delete;
  EpochGuard& operator=(const EpochGuard&) = delete;
  bool ok() const { return ok_; }

 private:
  EpochDomain* d_;
  int slot_;
  bool ok_;
};

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_EPOCH_H_
