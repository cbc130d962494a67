// Workload driver: the whole Store API (put, delete, batch, get, getMany, scan, locate +
// readLocated, expiries, clear) against a std::map model, in both durability modes, with
// segment rolls, large values and reopens. Its purpose is to run every engine path under
// AddressSanitizer/UBSan (scripts/test-asan.sh); it checks the model as it goes.
//
//   workload_driver <seed> <rounds> <scratch-dir>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>

#include "workload.h"

using namespace hashlog;
using namespace hashlog::workload;

namespace {

using Model = std::map<std::string, std::string>;

uint64_t g_ops = 0;  // operations acknowledged, for the summary line

// Applies the acknowledged effects of ops[from, end) to the model.
void Apply(const std::vector<Op>& ops, size_t from, Model* model) {
  for (size_t i = from; i < ops.size(); i++) {
    WL_CHECK(ops[i].fate == Op::kAcked, "op " + std::to_string(i) + " was not acknowledged");
    for (const Effect& e : ops[i].effects) {
      if (e.put)
        (*model)[KeyName(e.key)] = e.value;
      else
        model->erase(KeyName(e.key));
    }
  }
}

void CheckReads(Store* store, const Model& model, int keys, std::mt19937_64* rng, const std::string& where) {
  std::vector<char> buf(1 << 20);
  // get
  for (int k = 0; k < keys; k++) {
    const std::string key = KeyName(k);
    size_t size = 0;
    Status s = store->Get(Slice(key.data(), key.size()), buf.data(), buf.size(), &size);
    auto it = model.find(key);
    WL_CHECK(s.ok() == (it != model.end()), where + ": get " + key + ": " + s.message());
    if (s.ok()) WL_CHECK(std::string(buf.data(), size) == it->second, where + ": get " + key + " value");
    WL_CHECK(store->Has(Slice(key.data(), key.size())) == s.ok(), where + ": has " + key);
  }
  // getMany over a random subset, with a small output buffer (continuations)
  std::string all;
  std::vector<uint32_t> lengths;
  std::vector<std::string> names;
  for (int i = 0; i < 20; i++) {
    names.push_back(KeyName(static_cast<int>((*rng)() % (keys + 4))));
    all += names.back();
    lengths.push_back(static_cast<uint32_t>(names.back().size()));
  }
  std::vector<int64_t> sizes(names.size());
  size_t done = 0;
  size_t offset = 0;  // into `all`
  while (done < names.size()) {
    size_t n = store->GetMany(all.data() + offset, lengths.data() + done, names.size() - done, buf.data(), 8192,
                              sizes.data() + done);
    if (n == 0) {  // the next value alone is larger than the window: read it with get()
      size_t size = 0;
      Status s = store->Get(Slice(names[done].data(), names[done].size()), buf.data(), buf.size(), &size);
      sizes[done] = s.ok() ? static_cast<int64_t>(size) : -1;
      n = 1;
    } else {
      size_t at = 0;
      for (size_t i = done; i < done + n; i++) {
        auto it = model.find(names[i]);
        WL_CHECK((sizes[i] >= 0) == (it != model.end()), where + ": getMany " + names[i]);
        if (sizes[i] >= 0) {
          WL_CHECK(std::string(buf.data() + at, static_cast<size_t>(sizes[i])) == it->second,
                   where + ": getMany value " + names[i]);
          at += static_cast<size_t>(sizes[i]);
        }
      }
    }
    for (size_t i = done; i < done + n; i++) offset += lengths[i];
    done += n;
  }
  // scan: every key once
  std::vector<std::string> scanned;
  std::map<std::string, int> seen;
  uint64_t cursor = 0, next = 0;
  do {
    store->Scan(cursor, 7, &scanned, &next);
    for (const std::string& k : scanned) seen[k]++;
    cursor = next;
  } while (next != 0);
  WL_CHECK(seen.size() == model.size(), where + ": scan count");
  for (const auto& kv : seen) WL_CHECK(kv.second == 1 && model.count(kv.first), where + ": scan " + kv.first);
  // locate + readLocated (the getAsync path)
  for (int k = 0; k < keys; k += 3) {
    const std::string key = KeyName(k);
    std::vector<const char*> records;
    bool resolved = false, found = false;
    std::string value;
    store->Locate(Slice(key.data(), key.size()), &records, &resolved, &found, &value);
    if (!resolved) found = store->ReadLocated(records, Slice(key.data(), key.size()), &value);
    auto it = model.find(key);
    WL_CHECK(found == (it != model.end()), where + ": locate " + key);
    if (found) WL_CHECK(value == it->second, where + ": locate value " + key);
  }
  WL_CHECK(store->LiveKeys() == model.size(), where + ": live keys");
}

void RunSeed(uint64_t seed, int rounds, const std::string& scratch) {
  std::mt19937_64 rng(seed);
  const std::string dir = scratch + "/store";
  RemoveTree(dir);
  Model model;
  WorkloadOptions wo;
  wo.keys = 40;
  wo.ops = 60;
  wo.max_pad = 20000;
  for (int round = 0; round < rounds; round++) {
    StoreOptions o;
    o.sync = rng() % 3 != 0;
    o.flush_interval_ms = 2;
    o.segment_size = (rng() % 2 == 0 ? 32 : 256) * 1024;
    o.prealloc_chunk = 8192;
    const std::string where = "seed " + std::to_string(seed) + " round " + std::to_string(round);
    Driver d(DefaultFileSystem(), dir, o, [] { return uint64_t{0}; });
    Status s = d.Open();
    WL_CHECK(s.ok(), where + ": open: " + s.message());
    CheckReads(d.store(), model, wo.keys, &rng, where + " after open");
    d.Run(wo, &rng);
    Apply(d.ops(), 0, &model);
    g_ops += d.ops().size();
    CheckReads(d.store(), model, wo.keys, &rng, where + " after writes");
    // Expiries: set one far in the future, read it back, remove it again.
    const std::string key = KeyName(static_cast<int>(rng() % wo.keys));
    bool changed = false;
    uint64_t gen = 0;
    const uint64_t far = 4102444800000ull;  // 2100-01-01
    s = d.store()->SetExpiry(Slice(key.data(), key.size()), far, false, &changed, &gen);
    WL_CHECK(s.ok() && changed == (model.count(key) == 1), where + ": setExpiry");
    d.Track(gen);
    WL_CHECK(d.store()->ExpiresAt(Slice(key.data(), key.size())) == (changed ? static_cast<int64_t>(far) : -1),
             where + ": expiresAt");
    s = d.store()->SetExpiry(Slice(key.data(), key.size()), 0, true, &changed, &gen);
    WL_CHECK(s.ok(), where + ": persist");
    d.Track(gen);
    d.store()->Kick();
    d.Settle();
    // Now and then, clear everything.
    if (rng() % 5 == 0) {
      s = d.store()->AppendClear(&gen);
      WL_CHECK(s.ok(), where + ": clear");
      d.Track(gen);
      d.Settle();
      d.store()->ApplyClear();
      model.clear();
      CheckReads(d.store(), model, wo.keys, &rng, where + " after clear");
    }
    WL_CHECK(d.Close().ok(), where + ": close");
  }
  RemoveTree(dir);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s <seed> <rounds> <scratch-dir>\n", argv[0]);
    return 2;
  }
  const uint64_t seed = std::strtoull(argv[1], nullptr, 10);
  const int rounds = std::atoi(argv[2]);
  RunSeed(seed, rounds, argv[3]);
  std::printf("ok seed=%llu rounds=%d ops=%llu\n", static_cast<unsigned long long>(seed), rounds,
              static_cast<unsigned long long>(g_ops));
  return 0;
}
