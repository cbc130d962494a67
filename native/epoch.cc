// EpochDomain: reader slots, retirement and reclamation.
#include "epoch.h"

#include <thread>

namespace hashlog {

EpochDomain::EpochDomain() : slots_(new Slot[kMaxSlots]) {}

EpochDomain::~EpochDomain() {
  FreeAll();
  delete[] slots_;
}

int EpochDomain::AcquireSlot() {
  for (int i = 0; i < kMaxSlots; i++) {
    bool expected = false;
    if (!slots_[i].taken.load(std::memory_order_relaxed) &&
        slots_[i].taken.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
      int high = high_.load(std::memory_order_relaxed);
      while (high <= i && !high_.compare_exchange_weak(high, i + 1, std::memory_order_acq_rel)) {
      }
      readers_.fetch_add(1, std::memory_order_relaxed);
      return i;
    }
  }
  return -1;
}

void EpochDomain::ReleaseSlot(int slot) {
  slots_[slot].epoch.store(0, std::memory_order_release);
  slots_[slot].taken.store(false, std::memory_order_release);
  readers_.fetch_sub(1, std::memory_order_relaxed);
}

bool EpochDomain::Enter(int slot) {
  // Announce, then look: the fence pairs with the one in OldestActive. Either the owner
  // sees this slot and keeps what it retired, or this reader sees the object unlinked
  // (Dekker's pattern). The acquire load makes the unlinks before a retire visible to a
  // reader that read the epoch that retire advanced to.
  slots_[slot].epoch.store(global_.load(std::memory_order_acquire), std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (shutdown_.load(std::memory_order_relaxed)) {
    Exit(slot);
    return false;
  }
  return true;
}

uint64_t EpochDomain::OldestActive() const {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  uint64_t oldest = UINT64_MAX;
  const int high = high_.load(std::memory_order_acquire);
  for (int i = 0; i < high; i++) {
    uint64_t e = slots_[i].epoch.load(std::memory_order_acquire);
    if (e != 0 && e < oldest) oldest = e;
  }
  return oldest;
}

void EpochDomain::Retire(std::function<void()> free_fn) {
  // Readers that enter from now on load e + 1 or later (and see the unlink: the acquire in
  // Enter); those that announced e or less might still hold the object.
  const uint64_t e = global_.fetch_add(1, std::memory_order_acq_rel);
  retired_.push_back(Retired{e, std::move(free_fn)});
  Reclaim();
}

void EpochDomain::Reclaim() {
  if (retired_.empty()) return;
  const uint64_t oldest = OldestActive();
  // Retired in epoch order: free the prefix that every active reader entered after.
  size_t n = 0;
  while (n < retired_.size() && retired_[n].epoch < oldest) n++;
  if (n == 0) return;
  std::vector<Retired> done(std::make_move_iterator(retired_.begin()), std::make_move_iterator(retired_.begin() + n));
  retired_.erase(retired_.begin(), retired_.begin() + n);
  for (Retired& r : done) r.free_fn();
}

void EpochDomain::Shutdown() {
  shutdown_.store(true, std::memory_order_seq_cst);
  // A read either saw the flag (and never started) or is visible in its slot: wait for it.
  while (OldestActive() != UINT64_MAX) std::this_thread::yield();
}

void EpochDomain::FreeAll() {
  std::vector<Retired> all;
  all.swap(retired_);
  for (Retired& r : all) r.free_fn();
}

}  // namespace hashlog
