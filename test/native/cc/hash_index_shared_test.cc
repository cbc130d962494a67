// HashIndex read from other threads while its owner writes: FindShared and
// ForEachInTagRangeShared against inserts, back-shift erases, replaces, incremental grows
// and shrinks. Stable keys are present throughout (their locations change, every one a
// valid version), so a reader must always find them; churn keys come and go. A probe hook
// makes readers yield between buckets, widening the windows in which entries move under
// them: without the `moves_` check a reader misses a stable key within seconds.
// Tables the owner frees are retired through an EpochDomain, so a reader never probes
// unmapped memory (ASan/TSan builds in scripts/test-asan.sh).
//   hash_index_shared_test <seed> [rounds=40] [readers=2]
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <sys/mman.h>
#include <thread>
#include <vector>

#include "../../../native/epoch.h"
#include "../../../native/hash_index.h"
#include "check.h"

using hashlog::EpochDomain;
using hashlog::EpochGuard;
using hashlog::HashIndex;
using hashlog::Location;

namespace {

constexpr int kStable = 2000;
constexpr int kChurn = 30000;
std::vector<uint64_t> hash_of;

// A location names its key (offset) and a version (slot bits).
Location LocOf(int key, uint32_t version) { return hashlog::MakeLocation(1 + version % 0xfff0, 32 + key); }
int KeyOf(Location loc) { return static_cast<int>(hashlog::LocationOffset(loc)) - 32; }

thread_local std::mt19937 hook_rng(std::random_device{}());
// A pause of a few microseconds now and then: the owner makes a few changes meanwhile.
void YieldSometimes() {
  const uint32_t r = hook_rng();
  if (r % 4 != 0) return;
  if (r % 64 == 0) std::this_thread::yield();
  for (uint32_t i = (r >> 8) % 2048; i > 0; i--) __builtin_ia32_pause();
}

// Interleavings, on one thread: the probe hook performs an owner operation at a chosen
// point of a FindShared (after the tables are read, or after the first, second... bucket),
// which is what a reader on another core sees when the owner gets there first. Erases
// back-shift entries across the probe, inserts step migrations and start new ones; the
// looked-up key is present throughout and must be found every time.
std::function<void()> interleave;
int hook_calls = 0, hook_at = 0;
void InterleaveHook() {
  if (++hook_calls == hook_at && interleave) interleave();
}

void Interleavings(uint64_t seed, int trials) {
  std::mt19937_64 rng(seed);
  EpochDomain epochs;
  const int slot = epochs.AcquireSlot();
  HashIndex::SetProbeHookForTesting(InterleaveHook);
  int misses_caught = 0;
  for (int t = 0; t < trials; t++) {
    HashIndex index;
    index.set_retire([&](void* p, size_t n) { epochs.Retire([p, n] { ::munmap(p, n); }); });
    CHECK(index.Init(0).ok());
    const int n = 20 + static_cast<int>(rng() % 3000);
    auto find = [&](int k) { return index.Find(hash_of[k], [&](Location l) { return KeyOf(l) == k; }); };
    auto insert = [&](int k) {
      CHECK(index.EnsureRoomForOneMore().ok());
      index.Insert(hash_of[k], LocOf(k, 1));
    };
    for (int k = 0; k < n; k++) insert(k);
    const int s = static_cast<int>(rng() % n);
    const int c = static_cast<int>(rng() % n);
    const int kind = static_cast<int>(rng() % 3);
    int extra = n;
    interleave = [&] {
      if (kind == 0 && c != s) {
        index.Erase(find(c));  // back-shifts entries of c's run, maybe s
        index.Step();
      } else if (kind == 1) {
        for (int i = 0; i < 64; i++) insert(extra++);  // migration steps, maybe a new migration
      } else {
        CHECK(index.EnsureRoomFor(4096).ok());  // a big step: may finish a migration (and retire a table)
      }
    };
    hook_calls = 0;
    hook_at = 1 + static_cast<int>(rng() % 4);
    HashIndex::SharedFind r;
    {
      EpochGuard guard(&epochs, slot);
      r = index.FindShared(hash_of[s], [&](Location l) {
        return KeyOf(l) == s ? HashIndex::Candidate::kMatch : HashIndex::Candidate::kOther;
      });
    }
    if (r != HashIndex::SharedFind::kFound) {
      std::fprintf(stderr, "trial %d: key %d lost (kind %d at hook %d)\n", t, s, kind, hook_at);
      std::exit(1);
    }
    misses_caught += hook_calls > hook_at;  // the probe went on (or retried) after the change
    interleave = nullptr;
    epochs.Reclaim();
  }
  HashIndex::SetProbeHookForTesting(nullptr);
  epochs.ReleaseSlot(slot);
  std::printf("ok interleavings=%d probes-continued=%d\n", trials, misses_caught);
}

struct ReaderResult {
  uint64_t finds = 0, found = 0, walks = 0;
};

void Reader(const HashIndex* index, EpochDomain* epochs, uint64_t seed, const std::atomic<bool>* stop,
            ReaderResult* out) {
  const int slot = epochs->AcquireSlot();
  CHECK(slot >= 0);
  std::mt19937_64 rng(seed);
  std::vector<int> seen;
  while (!stop->load(std::memory_order_relaxed)) {
    EpochGuard guard(epochs, slot);
    CHECK(guard.ok());
    if (rng() % 64 == 0) {  // a tag range: every entry reported names a real key
      const uint64_t first = rng() % (uint64_t{1} << 32);
      seen.clear();
      if (index->ForEachInTagRangeShared(first, first + (uint64_t{1} << 24),
                                         [&](uint32_t, Location l) { seen.push_back(KeyOf(l)); })) {
        for (int k : seen) CHECK(k >= 0 && k < kStable + kChurn);
        out->walks++;
      }
      continue;
    }
    const int key = rng() % 2 == 0 ? static_cast<int>(rng() % kStable) : kStable + static_cast<int>(rng() % kChurn);
    HashIndex::SharedFind r = index->FindShared(hash_of[key], [&](Location l) {
      return KeyOf(l) == key ? HashIndex::Candidate::kMatch : HashIndex::Candidate::kOther;
    });
    CHECK(r != HashIndex::SharedFind::kPending);
    if (key < kStable && r != HashIndex::SharedFind::kFound) {
      std::fprintf(stderr, "stable key %d not found\n", key);
      std::exit(1);
    }
    out->finds++;
    out->found += r == HashIndex::SharedFind::kFound;
  }
  epochs->ReleaseSlot(slot);
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t seed = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 40;
  const int readers = argc > 3 ? std::atoi(argv[3]) : 2;
  std::mt19937_64 rng(seed);
  hash_of.resize(kStable + kChurn);
  for (uint64_t& h : hash_of) h = rng();
  // A few tags near the ends of the tag space: runs that wrap to bucket 0.
  for (int i = 0; i < 8; i++) hash_of[kStable + i] = (uint64_t{0xffffffffu - i} << 32) | rng() % 1000;

  Interleavings(seed, 8000);

  EpochDomain epochs;
  HashIndex index;
  index.set_retire([&](void* p, size_t n) { epochs.Retire([p, n] { ::munmap(p, n); }); });
  CHECK(index.Init(0).ok());
  std::vector<uint32_t> version(kStable + kChurn, 0);
  std::vector<bool> live(kStable + kChurn, false);
  auto find = [&](int k) { return index.Find(hash_of[k], [&](Location l) { return KeyOf(l) == k; }); };
  auto put = [&](int k) {
    version[k]++;
    HashIndex::Ref ref = find(k);
    if (ref) {
      index.Replace(ref, LocOf(k, version[k]));
      return;
    }
    CHECK(index.EnsureRoomForOneMore().ok());
    index.Insert(hash_of[k], LocOf(k, version[k]));
    live[k] = true;
  };
  for (int k = 0; k < kStable; k++) put(k);
  HashIndex::SetProbeHookForTesting(YieldSometimes);

  std::atomic<bool> stop{false};
  std::vector<ReaderResult> results(readers);
  std::vector<std::thread> threads;
  for (int r = 0; r < readers; r++) threads.emplace_back(Reader, &index, &epochs, seed * 7 + r, &stop, &results[r]);

  uint64_t max_capacity = 0, min_capacity = ~uint64_t{0};
  for (int round = 0; round < rounds; round++) {
    // Odd rounds fill the churn keys (grows), even ones empty them (shrinks, back-shifts).
    const bool fill = round % 2 == 0;
    for (int i = 0; i < 150000; i++) {
      const int dice = static_cast<int>(rng() % 10);
      if (dice < 3) {
        put(static_cast<int>(rng() % kStable));
      } else {
        const int c = kStable + static_cast<int>(rng() % kChurn);
        if (fill && dice < 9) {
          put(c);
        } else if (live[c]) {
          HashIndex::Ref ref = find(c);
          CHECK(ref);
          index.Erase(ref);
          live[c] = false;
          index.Step();
        }
      }
      if (i % 1024 == 0) {
        epochs.Reclaim();
        max_capacity = std::max(max_capacity, index.capacity());
        if (round > 0) min_capacity = std::min(min_capacity, index.capacity());
      }
    }
  }
  stop.store(true);
  for (std::thread& t : threads) t.join();
  HashIndex::SetProbeHookForTesting(nullptr);
  epochs.Reclaim();
  CHECK(epochs.pending() == 0);  // every retired table freed once the readers left
  uint64_t finds = 0, found = 0, walks = 0;
  for (const ReaderResult& r : results) {
    finds += r.finds;
    found += r.found;
    walks += r.walks;
  }
  CHECK(finds > 0 && walks > 0);
  CHECK(max_capacity >= 4 * min_capacity);  // it grew and shrank
  std::printf("ok finds=%llu found=%llu walks=%llu capacity=%llu..%llu\n", static_cast<unsigned long long>(finds),
              static_cast<unsigned long long>(found), static_cast<unsigned long long>(walks),
              static_cast<unsigned long long>(min_capacity), static_cast<unsigned long long>(max_capacity));
  return 0;
}
