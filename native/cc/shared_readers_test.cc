// Readers on other threads while the owner writes (docs/DESIGN.md, "Worker threads").
//
// The owner thread overwrites a set of stable keys, puts and deletes churn keys (the index
// grows and shrinks), writes batches and runs compaction jobs; reader threads look keys up
// through Store::SharedGet/SharedExpiresAt/SharedScan inside epochs. Every value names its
// key and is self-checking, so a torn or wrong read is caught; a stable key must always be
// found. At the end the owner closes the store while the readers still run: they must get
// Closed, never a crash. Built with the sanitizers by scripts/test-asan.sh.
//   shared_readers_test <seed> <rounds> <scratch dir> [readers=2]
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../coding.h"
#include "workload.h"

namespace hashlog {
namespace {

constexpr int kStable = 512;

std::string KeyOf(int k) { return "key" + std::to_string(k); }

// "k<k>v<version>|" and then padding whose length and byte follow from the version.
std::string ValueOf(int k, uint64_t version) {
  std::string v = "k" + std::to_string(k) + "v" + std::to_string(version) + "|";
  v.append(version % 700, static_cast<char>('a' + (k + version) % 26));
  return v;
}

// True if v is a whole value that ValueOf(k, some version) produced.
bool Valid(int k, const std::string& v) {
  const std::string prefix = "k" + std::to_string(k) + "v";
  if (v.compare(0, prefix.size(), prefix) != 0) return false;
  size_t bar = v.find('|', prefix.size());
  if (bar == std::string::npos || bar == prefix.size()) return false;
  uint64_t version = std::strtoull(v.c_str() + prefix.size(), nullptr, 10);
  return v == ValueOf(k, version);
}

// The owner's side of the flush thread's events.
class Events {
 public:
  void Push(const FlushEvent& ev) {
    std::lock_guard<std::mutex> lk(mu_);
    q_.push_back(ev);
    cv_.notify_one();
  }
  // Hands every queued event to the store; waits for one first if `block`.
  void Drain(Store* store, bool block) {
    std::deque<FlushEvent> got;
    {
      std::unique_lock<std::mutex> lk(mu_);
      if (block) cv_.wait(lk, [&] { return !q_.empty(); });
      got.swap(q_);
    }
    for (const FlushEvent& ev : got) {
      WL_CHECK(ev.status.ok(), ev.status.message());
      uint64_t first = 0, last = 0;
      store->HandleFlushEvent(ev, &first, &last);
      synced_ = std::max(synced_, ev.synced_gen);
    }
  }
  void WaitSynced(Store* store, uint64_t gen) {
    while (synced_ < gen) {
      store->Flush();
      Drain(store, true);
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<FlushEvent> q_;
  uint64_t synced_ = 0;
};

struct ReaderStats {
  uint64_t gets = 0, found = 0, scans = 0, closed = 0;
};

void Reader(Store* store, std::shared_ptr<EpochDomain> epochs, uint64_t seed, int churn_max,
            ReaderStats* out) {
  const int slot = epochs->AcquireSlot();
  WL_CHECK(slot >= 0, "no reader slot");
  std::mt19937_64 rng(seed);
  std::string value;
  std::vector<std::string> keys;
  for (;;) {
    const uint64_t dice = rng() % 100;
    if (dice < 2) {  // a page of keys: every one well-formed
      keys.clear();
      uint64_t next = 0;
      Status s = ReadShared(epochs.get(), slot, [&] {
        return store->SharedScan(rng() % (uint64_t{1} << 32), 64, &keys, &next) ? HashIndex::SharedFind::kFound
                                                                                : HashIndex::SharedFind::kPending;
      });
      if (s.code() == Status::kClosed) break;
      for (const std::string& k : keys) WL_CHECK(k.compare(0, 3, "key") == 0, "scan returned " + k);
      out->scans++;
      continue;
    }
    const int k = dice < 70 ? static_cast<int>(rng() % kStable) : kStable + static_cast<int>(rng() % churn_max);
    const std::string key = KeyOf(k);
    const Slice ks(key.data(), key.size());
    Status s;
    if (dice < 5) {
      uint64_t at = 1;
      s = ReadShared(epochs.get(), slot, [&] { return store->SharedExpiresAt(ks, &at); });
      if (s.ok()) WL_CHECK(at == 0, "a key without expiry has one");
    } else {
      value.clear();
      s = ReadShared(epochs.get(), slot, [&] { return store->SharedGet(ks, &value); });
      if (s.ok()) WL_CHECK(Valid(k, value), "torn or wrong value for " + key + ": " + value.substr(0, 40));
    }
    if (s.code() == Status::kClosed) break;
    WL_CHECK(s.ok() || s.IsNotFound(), s.message());
    if (k < kStable) WL_CHECK(s.ok(), "stable key not found: " + key);
    out->gets++;
    out->found += s.ok();
  }
  out->closed++;  // the loop ends only when the store closed
  epochs->ReleaseSlot(slot);
}

// Runs a whole compaction job, handing flush events to the store while it settles.
int Compact(Store* store, Events* events) {
  bool started = false;
  Status s = store->CompactStart(CompactOptions(), &started);
  WL_CHECK(s.ok(), s.message());
  if (!started) return 0;
  while (!store->CompactMark(4096)) {
  }
  s = store->CompactCopy();
  WL_CHECK(s.ok(), s.message());
  bool done = false;
  while (!done) {
    s = store->CompactInstall(4096, &done);
    WL_CHECK(s.ok(), s.message());
  }
  while (!store->CompactSettle()) {
    store->Flush();
    events->Drain(store, true);
  }
  s = store->CompactUnlink();
  WL_CHECK(s.ok(), s.message());
  return store->CompactRetire(true) ? 1 : 0;
}

void Run(uint64_t seed, int rounds, const std::string& dir, int readers, bool sync) {
  workload::RemoveTree(dir);
  StoreOptions o;
  o.sync = sync;
  o.flush_interval_ms = 5;
  o.segment_size = 256 << 10;  // many segments: compaction has work every few rounds
  Events events;
  std::unique_ptr<Store> store;
  Status s = Store::Open(DefaultFileSystem(), dir, o, [&](const FlushEvent& ev) { events.Push(ev); }, &store);
  WL_CHECK(s.ok(), s.message());
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> version(kStable, 0);
  uint64_t gen = 0;
  auto put = [&](int k, uint64_t ver) {
    const std::string key = KeyOf(k), value = ValueOf(k, ver);
    Status st = store->Put(Slice(key.data(), key.size()), Slice(value.data(), value.size()), 0, &gen);
    WL_CHECK(st.ok(), st.message());
  };
  for (int k = 0; k < kStable; k++) put(k, 0);
  store->Kick();
  events.WaitSynced(store.get(), gen);

  // Churn keys run up to 40,000: the index grows from 1,024 entries through several doublings,
  // and shrinks when a round deletes most of them.
  const int churn_max = 40000;
  std::vector<ReaderStats> stats(readers);
  std::vector<std::thread> threads;
  for (int r = 0; r < readers; r++)
    threads.emplace_back(Reader, store.get(), store->epochs(), seed * 31 + r, churn_max, &stats[r]);

  int compactions = 0;
  uint64_t next_version = 1;
  for (int round = 0; round < rounds; round++) {
    const int live = round % 4 == 3 ? 2000 : churn_max;  // every fourth round deletes most churn keys
    for (int i = 0; i < 3000; i++) {
      const uint64_t dice = rng() % 100;
      const int c = kStable + static_cast<int>(rng() % churn_max);
      if (dice < 45) {
        const int k = static_cast<int>(rng() % kStable);
        put(k, version[k] = next_version++);
      } else if (dice < 70 && c < kStable + live) {
        put(c, next_version++);
      } else if (dice < 95) {
        const std::string key = KeyOf(c);
        bool existed = false;
        Status st = store->Delete(Slice(key.data(), key.size()), &existed, &gen);
        WL_CHECK(st.ok(), st.message());
      } else {  // a batch: two stable overwrites and a churn delete, all or nothing
        std::string enc;
        auto add = [&](uint8_t type, int k, const std::string& value) {
          char h[kBatchOpHeaderSize] = {0};
          h[0] = static_cast<char>(type);
          const std::string key = KeyOf(k);
          EncodeFixed32(h + 4, static_cast<uint32_t>(key.size()));
          EncodeFixed32(h + 8, static_cast<uint32_t>(value.size()));
          enc.append(h, sizeof(h));
          enc += key;
          enc += value;
        };
        for (int j = 0; j < 2; j++) {
          const int k = static_cast<int>(rng() % kStable);
          add(1, k, ValueOf(k, version[k] = next_version++));
        }
        add(2, c, "");
        Status st = store->Batch(Slice(enc.data(), enc.size()), &gen);
        WL_CHECK(st.ok(), st.message());
      }
      if (i % 64 == 63) {
        store->Kick();
        events.Drain(store.get(), false);
      }
    }
    store->Kick();
    events.WaitSynced(store.get(), gen);
    if (round % 3 == 2) compactions += Compact(store.get(), &events);
  }
  // The owner reads its own writes: every stable key holds its newest version.
  for (int k = 0; k < kStable; k++) {
    const std::string key = KeyOf(k);
    char buf[1024];
    size_t size = 0;
    s = store->Get(Slice(key.data(), key.size()), buf, sizeof(buf), &size);
    WL_CHECK(s.ok() && std::string(buf, size) == ValueOf(k, version[k]), "owner lost " + key);
  }
  const uint64_t capacity = store->Stats().index_capacity;
  // Close while the readers run: they must see Closed and stop.
  s = store->Close();
  WL_CHECK(s.ok(), s.message());
  store.reset();
  for (std::thread& t : threads) t.join();
  uint64_t gets = 0, found = 0, scans = 0, closed = 0;
  for (const ReaderStats& st : stats) {
    gets += st.gets;
    found += st.found;
    scans += st.scans;
    closed += st.closed;
  }
  WL_CHECK(gets > 0 && scans > 0, "the readers did not run");
  WL_CHECK(closed == static_cast<uint64_t>(readers), "a reader did not see the store close");
  std::printf("ok sync=%d gets=%llu found=%llu scans=%llu compactions=%d capacity=%llu\n", sync ? 1 : 0,
              static_cast<unsigned long long>(gets), static_cast<unsigned long long>(found),
              static_cast<unsigned long long>(scans), compactions, static_cast<unsigned long long>(capacity));
  WL_CHECK(compactions > 0 || rounds < 3, "no compaction ran");
  workload::RemoveTree(dir);
}

}  // namespace
}  // namespace hashlog

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s <seed> <rounds> <scratch dir> [readers=2]\n", argv[0]);
    return 2;
  }
  const uint64_t seed = std::strtoull(argv[1], nullptr, 10);
  const int rounds = std::atoi(argv[2]);
  const std::string dir = std::string(argv[3]) + "/shared-readers-" + std::to_string(seed);
  const int readers = argc > 4 ? std::atoi(argv[4]) : 2;
  hashlog::Run(seed, rounds, dir, readers, true);
  hashlog::Run(seed + 1000, rounds, dir, readers, false);
  return 0;
}
