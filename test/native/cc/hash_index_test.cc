// Randomised test of HashIndex against std::unordered_map, kept near the load threshold so
// that overflow runs, wrap-around and backward-shift erase are exercised hard.
// Built and run by test/native/cc.test.ts; exits non-zero on the first mismatch.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <unordered_map>
#include <vector>

#include "../../../native/hash_index.h"
#include "check.h"

using hashlog::HashIndex;
using hashlog::Location;


int main(int argc, char** argv) {
  uint64_t seed = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1;
  std::mt19937_64 rng(seed);
  // Keys are small integers; their "hash" is drawn once. A few share hashes (forcing key
  // confirmation) and some share a home bucket by design (low-entropy high bits).
  const int kKeys = 20000;
  std::vector<uint64_t> hash_of(kKeys);
  for (int k = 0; k < kKeys; k++) {
    uint64_t h = rng();
    if (k % 50 == 0) h = (h & 0x0000ffffffffffffull) | 0x1234000000000000ull;  // one crowded home
    if (k % 97 == 1) h = hash_of[k - 1];         // full 64-bit collisions
    hash_of[k] = h;
  }
  // A location encodes the key (offset = 32 + key) so confirm() can check it.
  auto loc_of = [](int key, uint32_t version) { return hashlog::MakeLocation(version & 0xffff, 32 + key); };
  auto key_of = [](Location loc) { return static_cast<int>(hashlog::LocationOffset(loc)) - 32; };

  HashIndex index;
  CHECK(index.Init(0).ok());
  std::unordered_map<int, Location> model;
  for (int step = 0; step < 400000; step++) {
    int key = static_cast<int>(rng() % kKeys);
    auto confirm = [&](Location l) { return key_of(l) == key; };
    HashIndex::Ref ref = index.Find(hash_of[key], confirm);
    auto it = model.find(key);
    CHECK(static_cast<bool>(ref) == (it != model.end()));
    if (ref) CHECK(ref.location() == it->second);
    // Bias towards a live set near 75% of kKeys so the table sits near its threshold.
    bool insert = model.size() < kKeys * 3 / 4 ? (rng() % 4 != 0) : (rng() % 4 == 0);
    if (insert) {
      Location loc = loc_of(key, static_cast<uint32_t>(step));
      if (ref) {
        index.Replace(ref, loc);
      } else {
        CHECK(index.EnsureRoomForOneMore().ok());
        index.Insert(hash_of[key], loc);
      }
      model[key] = loc;
    } else if (ref) {
      index.Erase(ref);
      model.erase(it);
    }
    CHECK(index.size() == model.size());
    if (step % 50000 == 0) {
      for (int k = 0; k < kKeys; k++) {
        HashIndex::Ref r = index.Find(hash_of[k], [&](Location l) { return key_of(l) == k; });
        auto m = model.find(k);
        CHECK(static_cast<bool>(r) == (m != model.end()));
      }
    }
  }
  std::printf("ok seed=%llu keys=%zu buckets=%llu\n", static_cast<unsigned long long>(seed), model.size(),
              static_cast<unsigned long long>(index.bucket_count()));
  return 0;
}
