// Randomised test of HashIndex's incremental resize against std::unordered_map: the live set
// swings between ~16,000 and ~100 entries, so the table grows and shrinks many times, and
// every check (lookups, erases, tag-range walks exactly once, ForEachEntry/InsertWord round
// trips, Clear, EnsureRoomFor(n), ShrinkToFit) also runs while a migration is in progress.
// Some tags are forced near 2^32 (their runs wrap to bucket 0) and near 0.
// Built and run by test/native/cc.test.ts; exits non-zero on the first mismatch.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../../../native/hash_index.h"
#include "check.h"

using hashlog::HashIndex;
using hashlog::Location;


namespace {

const int kKeys = 20000;
std::vector<uint64_t> hash_of;

// A location encodes the key (offset = 32 + key) so confirm() can check it.
Location LocOf(int key, uint32_t version) { return hashlog::MakeLocation(version & 0xffff, 32 + key); }
int KeyOf(Location loc) { return static_cast<int>(hashlog::LocationOffset(loc)) - 32; }

HashIndex::Ref FindKey(const HashIndex& index, int key) {
  return index.Find(hash_of[key], [&](Location l) { return KeyOf(l) == key; });
}

struct Stats {
  int grows = 0, shrinks = 0, checks_mid = 0, clears_mid = 0, batches_mid = 0;
};

// Every live key found with its location, a sample of dead keys not found, and every entry
// walked exactly once by tag ranges cut at awkward points and by ForEachEntry.
void CheckAll(const HashIndex& index, const std::unordered_map<int, Location>& model, std::mt19937_64& rng) {
  CHECK(index.size() == model.size());
  for (const auto& kv : model) {
    HashIndex::Ref r = FindKey(index, kv.first);
    CHECK(r);
    CHECK(r.location() == kv.second);
  }
  for (int i = 0; i < 200; i++) {
    int k = static_cast<int>(rng() % kKeys);
    if (model.count(k) == 0) CHECK(!FindKey(index, k));
  }
  std::vector<uint64_t> cuts = {0, 1, 0x12345678, 0x80000000, 0xfffff000, 0xffffffff, uint64_t{1} << 32};
  for (int i = 0; i < 3; i++) cuts.push_back(rng() & 0xffffffff);
  std::sort(cuts.begin(), cuts.end());
  std::vector<Location> seen;
  for (size_t i = 0; i + 1 < cuts.size(); i++) {
    index.ForEachInTagRange(cuts[i], cuts[i + 1], [&](uint32_t tag, Location loc) {
      CHECK(tag >= cuts[i] && tag < cuts[i + 1]);
      seen.push_back(loc);
    });
  }
  // As Store::Scan walks it: ranges of one (new-table) bucket's share of the tags.
  std::vector<Location> scanned;
  const uint64_t step = (uint64_t{1} << 32) / index.bucket_count();
  for (uint64_t at = 0; at < (uint64_t{1} << 32); at += step)
    index.ForEachInTagRange(at, at + step, [&](uint32_t, Location loc) { scanned.push_back(loc); });
  std::vector<Location> entries;
  index.ForEachEntry([&](uint32_t tag, uint64_t word) {
    const int key = KeyOf(word & ((uint64_t{1} << 48) - 1));
    CHECK(key >= 0 && key < kKeys);
    const uint32_t want_tag = static_cast<uint32_t>(hash_of[key] >> 32) != 0 ? static_cast<uint32_t>(hash_of[key] >> 32) : 1;
    CHECK(tag == want_tag);
    CHECK((word >> 48) == (hash_of[key] & 0xffff));
    entries.push_back(word & ((uint64_t{1} << 48) - 1));
  });
  std::vector<Location> want;
  for (const auto& kv : model) want.push_back(kv.second);
  std::sort(want.begin(), want.end());
  for (auto* v : {&seen, &scanned, &entries}) {
    std::sort(v->begin(), v->end());
    CHECK(*v == want);
  }
  CHECK(index.bytes() >= index.bucket_count() * sizeof(HashIndex::Bucket));
  CHECK(index.size() <= index.capacity() * HashIndex::kMaxLoadNum / HashIndex::kMaxLoadDen);
}

// ForEachEntry into a fresh index through InsertWord: the copy answers every lookup alike.
void CheckRoundTrip(const HashIndex& index, const std::unordered_map<int, Location>& model, std::mt19937_64& rng) {
  HashIndex copy;
  CHECK(copy.Init(0).ok());
  // Reserve one at a time for half of them, so that the copy migrates while being filled.
  uint64_t n = 0;
  index.ForEachEntry([&](uint32_t tag, uint64_t word) {
    if ((n++ & 1) == 0) CHECK(copy.EnsureRoomFor(1).ok());
    else CHECK(copy.EnsureRoomFor(2).ok());
    copy.InsertWord(tag, word);
  });
  CHECK(n == model.size());
  CheckAll(copy, model, rng);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1;
  std::mt19937_64 rng(seed);
  hash_of.resize(kKeys);
  for (int k = 0; k < kKeys; k++) {
    uint64_t h = rng();
    if (k % 40 == 0) h = (h & 0x000003ffffffffffull) | 0xfffffc0000000000ull;  // homed at the end: runs wrap
    if (k % 40 == 1) h = h & 0x000003ffffffffffull;                             // tags near 0 (and 0 itself)
    if (k % 97 == 2) h = hash_of[k - 1];                                       // full 64-bit collisions
    hash_of[k] = h;
  }

  HashIndex index;
  CHECK(index.Init(0).ok());
  std::unordered_map<int, Location> model;
  Stats st;
  uint64_t last_buckets = index.bucket_count();
  bool grow_phase = true;
  for (int step = 0; step < 600000; step++) {
    // Alternate between filling up to ~16,000 and draining to ~100 live entries.
    if (grow_phase && model.size() > 16000) grow_phase = false;
    if (!grow_phase && model.size() < 100) grow_phase = true;
    const bool write = grow_phase ? rng() % 8 != 0 : rng() % 8 == 0;
    int key = static_cast<int>(rng() % kKeys);
    if (!write && !model.empty()) {
      // Deletes mostly hit live keys, so that draining reaches a small live set.
      for (int tries = 0; tries < 1000 && model.count(key) == 0; tries++) key = static_cast<int>(rng() % kKeys);
    }
    auto it = model.find(key);
    if (write) {
      // As Store::Put: room first (a migration step), then the lookup, then the change.
      CHECK(index.EnsureRoomForOneMore().ok());
      HashIndex::Ref ref = FindKey(index, key);
      CHECK(static_cast<bool>(ref) == (it != model.end()));
      Location loc = LocOf(key, static_cast<uint32_t>(step));
      if (ref) index.Replace(ref, loc);
      else index.Insert(hash_of[key], loc);
      model[key] = loc;
    } else {
      // As Store::Delete: a step (which may start a shrink), then the lookup and the erase.
      index.Step();
      HashIndex::Ref ref = FindKey(index, key);
      CHECK(static_cast<bool>(ref) == (it != model.end()));
      if (ref) {
        CHECK(ref.location() == it->second);
        index.Erase(ref);
        model.erase(it);
      }
    }
    CHECK(index.size() == model.size());
    if (index.bucket_count() > last_buckets) st.grows++;
    if (index.bucket_count() < last_buckets) st.shrinks++;
    last_buckets = index.bucket_count();

    if (index.migrating() && rng() % 64 == 0) {
      st.checks_mid++;
      CheckAll(index, model, rng);
      if (rng() % 8 == 0) CheckRoundTrip(index, model, rng);
      const uint64_t r = rng() % 100;
      if (r < 3) {
        // Clear in the middle of a migration.
        st.clears_mid++;
        index.Clear();
        model.clear();
        CHECK(!index.migrating());
        CheckAll(index, model, rng);
      } else if (r < 30) {
        // A batch: EnsureRoomFor(n), then n inserts of absent keys that must all fit.
        st.batches_mid++;
        const uint64_t n = 1 + rng() % (r < 10 ? 2000 : 20);
        CHECK(index.EnsureRoomFor(n).ok());
        for (uint64_t i = 0, tries = 0; i < n && tries < 100000; tries++) {
          const int k = static_cast<int>(rng() % kKeys);
          if (model.count(k) != 0) continue;
          CHECK(!FindKey(index, k));
          const Location loc = LocOf(k, static_cast<uint32_t>(step));
          index.Insert(hash_of[k], loc);
          model[k] = loc;
          i++;
        }
        CheckAll(index, model, rng);
      } else if (r < 33) {
        CHECK(index.ShrinkToFit().ok());
        CHECK(!index.migrating());
        CheckAll(index, model, rng);
      }
      last_buckets = index.bucket_count();
    }
  }
  CheckAll(index, model, rng);
  CheckRoundTrip(index, model, rng);
  // Memory follows the data down: drain everything with deletes only.
  for (int k = 0; k < kKeys; k++) {
    index.Step();
    HashIndex::Ref ref = FindKey(index, k);
    if (ref) {
      index.Erase(ref);
      model.erase(k);
    }
  }
  for (int i = 0; i < 10000; i++) index.Step();
  CHECK(index.size() == 0);
  CHECK(index.bucket_count() == 8);
  CHECK(!index.migrating());
  // Recovery sizes the table for every put record, then reserves one entry at a time: a
  // table that looks far too big must not start shrinking before the deletes come.
  HashIndex presized;
  CHECK(presized.Init(kKeys).ok());
  const uint64_t presized_buckets = presized.bucket_count();
  for (int k = 0; k < 100; k++) {
    CHECK(presized.EnsureRoomForOneMore().ok());
    presized.Insert(hash_of[k], LocOf(k, 0));
  }
  CHECK(presized.bucket_count() == presized_buckets && !presized.migrating());
  std::printf("ok seed=%llu grows=%d shrinks=%d checks_mid=%d clears_mid=%d batches_mid=%d\n",
              static_cast<unsigned long long>(seed), st.grows, st.shrinks, st.checks_mid, st.clears_mid,
              st.batches_mid);
  CHECK(st.grows >= 10 && st.shrinks >= 10 && st.checks_mid >= 20);
  return 0;
}
