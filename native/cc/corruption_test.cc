// Corruption loop: writes a store with a known history, then over and over copies it and
// damages a segment (bit flips, zeroed pages, truncation, garbage, duplicated or reordered
// byte ranges; seeded), and opens the copy. Open must either succeed, or fail with
// kCorruption naming the file and offset; with repair it must succeed. Never a crash, and
// never a value the key did not really have. Damage that cannot forge a checksummed record
// (flips, zeroes, truncation, garbage) must leave, on a plain open, exactly the state after
// some prefix of the history. docs/RELIABILITY.md, "Corruption".
//
//   corruption_test <seed> <iterations> <scratch-dir>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "workload.h"

using namespace hashlog;
using namespace hashlog::workload;

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  WL_CHECK(out.good(), "write " + path);
}

StoreOptions Options(bool repair) {
  StoreOptions o;
  o.segment_size = 12 * 1024;
  o.prealloc_chunk = 4096;
  o.repair = repair;
  return o;
}

enum Damage { kFlip, kZeroPage, kTruncate, kGarbage, kDuplicate, kReorder, kDamageCount };
const char* const kDamageNames[] = {"flip", "zero-page", "truncate", "garbage", "duplicate", "reorder"};

// Damages `data` in place; returns a description.
std::string Mutate(std::string* data, Damage d, std::mt19937_64* rng) {
  if (data->empty()) return "empty";
  const size_t n = data->size();
  auto pos = [&] { return static_cast<size_t>((*rng)() % n); };
  std::string what = kDamageNames[d];
  switch (d) {
    case kFlip: {
      int flips = 1 + static_cast<int>((*rng)() % 3);
      for (int i = 0; i < flips; i++) {
        size_t at = pos();
        (*data)[at] = static_cast<char>((*data)[at] ^ (1 << ((*rng)() % 8)));
        what += " @" + std::to_string(at);
      }
      break;
    }
    case kZeroPage: {
      size_t at = pos() / 4096 * 4096;
      size_t len = std::min<size_t>(4096, n - at);
      std::fill(data->begin() + at, data->begin() + at + len, '\0');
      what += " @" + std::to_string(at);
      break;
    }
    case kTruncate: {
      size_t at = pos();
      data->resize(at);
      what += " @" + std::to_string(at);
      break;
    }
    case kGarbage: {
      size_t at = pos();
      size_t len = std::min<size_t>(1 + (*rng)() % 200, n - at);
      for (size_t i = 0; i < len; i++) (*data)[at + i] = static_cast<char>((*rng)());
      what += " @" + std::to_string(at) + "+" + std::to_string(len);
      break;
    }
    case kDuplicate: {
      size_t from = pos();
      size_t len = std::min<size_t>(1 + (*rng)() % 2000, n - from);
      size_t to = pos();
      data->insert(to, data->substr(from, len));
      what += " " + std::to_string(from) + "+" + std::to_string(len) + "->" + std::to_string(to);
      break;
    }
    case kReorder: {
      size_t a = pos(), b = pos();
      if (a > b) std::swap(a, b);
      size_t len = std::min<size_t>({1 + (*rng)() % 1000, b - a, n - b});
      if (len == 0) return what + " (none)";
      std::string first = data->substr(a, len), second = data->substr(b, len);
      data->replace(a, len, second);
      data->replace(b, len, first);
      what += " " + std::to_string(a) + "<->" + std::to_string(b) + "+" + std::to_string(len);
      break;
    }
    case kDamageCount:
      break;
  }
  return what;
}

using State = std::map<int, std::string>;  // key -> value (absent keys are missing)

struct Totals {
  uint64_t files = 0;
  uint64_t opened = 0;
  uint64_t corruption_reported = 0;
  uint64_t repaired = 0;
  uint64_t values_checked = 0;
  uint64_t undetected_cuts = 0;
};

// Reads every key; checks each value is one the key really had. Returns the state read.
State ReadAll(Store* store, int keys, const std::vector<std::set<std::string>>& ever, const std::string& where,
              Totals* totals) {
  State st;
  std::vector<char> buf(1 << 16);
  for (int k = 0; k < keys; k++) {
    const std::string key = KeyName(k);
    size_t size = 0;
    Status s = store->Get(Slice(key.data(), key.size()), buf.data(), buf.size(), &size);
    WL_CHECK(s.ok() || s.IsNotFound(), where + ": get: " + s.message());
    if (!s.ok()) continue;
    WL_CHECK(size <= buf.size(), where + ": impossible value size for " + key);
    std::string v(buf.data(), size);
    WL_CHECK(ever[k].count(v) == 1, where + ": " + key + " returned a value it never had: '" + v.substr(0, 40) + "'");
    st[k] = v;
    totals->values_checked++;
  }
  std::vector<std::string> scanned;
  uint64_t cursor = 0, next = 0;
  size_t total = 0;
  do {
    store->Scan(cursor, 1000, &scanned, &next);
    for (const std::string& key : scanned) WL_CHECK(key.compare(0, 3, "key") == 0, where + ": unknown key");
    total += scanned.size();
    cursor = next;
  } while (next != 0);
  WL_CHECK(total == st.size(), where + ": scan disagrees with get");
  return st;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s <seed> <iterations> <scratch-dir>\n", argv[0]);
    return 2;
  }
  const uint64_t seed = std::strtoull(argv[1], nullptr, 10);
  const int iterations = std::atoi(argv[2]);
  const std::string scratch = argv[3];
  std::mt19937_64 rng(seed);
  const std::string pristine = scratch + "/pristine";
  RemoveTree(pristine);
  WorkloadOptions wo;
  wo.keys = 24;
  wo.ops = 250;
  std::vector<Op> ops;
  {
    Driver d(DefaultFileSystem(), pristine, Options(false), [] { return uint64_t{0}; });
    WL_CHECK(d.Open().ok(), "open");
    d.Run(wo, &rng);
    WL_CHECK(d.Close().ok(), "close");
    ops = d.ops();
  }
  // Every value each key ever had, and the state after each prefix of the history.
  std::vector<std::set<std::string>> ever(wo.keys);
  std::vector<State> prefix(1);
  for (const Op& op : ops) {
    State st = prefix.back();
    for (const Effect& e : op.effects) {
      if (e.put) {
        ever[e.key].insert(e.value);
        st[e.key] = e.value;
      } else {
        st.erase(e.key);
      }
    }
    prefix.push_back(std::move(st));
  }
  std::vector<std::string> segments;  // in file order: the newest last
  {
    std::vector<std::string> names;
    DefaultFileSystem()->ListDir(pristine, &names);
    for (const std::string& n : names)
      if (n.size() > 5 && n.compare(n.size() - 5, 5, ".hlog") == 0) segments.push_back(n);
    std::sort(segments.begin(), segments.end());
  }
  WL_CHECK(segments.size() >= 3, "the workload should span several segments");
  Totals totals;
  const std::string dir = scratch + "/damaged";
  for (int it = 0; it < iterations; it++) {
    RemoveTree(dir);
    WL_CHECK(::mkdir(dir.c_str(), 0755) == 0, "mkdir");
    const std::string victim = segments[rng() % segments.size()];
    const Damage damage = static_cast<Damage>(rng() % kDamageCount);
    std::string what;
    for (const std::string& seg : segments) {
      std::string data = ReadFile(pristine + "/" + seg);
      if (seg == victim) what = Mutate(&data, damage, &rng);
      WriteFile(dir + "/" + seg, data);
    }
    const std::string where = "iteration " + std::to_string(it) + ": " + victim + " " + what;
    totals.files++;
    std::unique_ptr<Store> store;
    Status s = Store::Open(DefaultFileSystem(), dir, Options(false), [](const FlushEvent&) {}, &store);
    if (s.ok()) {
      totals.opened++;
      State st = ReadAll(store.get(), wo.keys, ever, where, &totals);
      if (damage != kDuplicate && damage != kReorder) {
        // Only the tail can have been cut: the state is that of a prefix of the history.
        bool found = false;
        for (size_t p = prefix.size(); p-- > 0 && !found;) found = prefix[p] == st;
        // Known limit (docs/RELIABILITY.md, "Corruption"): a sealed segment cut exactly at a
        // record boundary looks like a shorter, intact segment, so the records cut off
        // vanish without an error (the values returned are still ones the keys had).
        if (!found && damage == kTruncate && victim != segments.back()) {
          totals.undetected_cuts++;
          store.reset();
          continue;
        }
        WL_CHECK(found, where + ": a plain open recovered a state that no prefix of the history had");
      }
      store.reset();
      continue;
    }
    WL_CHECK(s.code() == Status::kCorruption, where + ": open failed with " + s.message());
    WL_CHECK(s.message().find(dir + "/") != std::string::npos && s.message().find("offset") != std::string::npos,
             where + ": the error does not name the file and offset: " + s.message());
    totals.corruption_reported++;
    s = Store::Open(DefaultFileSystem(), dir, Options(true), [](const FlushEvent&) {}, &store);
    WL_CHECK(s.ok(), where + ": repair failed: " + s.message());
    totals.repaired++;
    ReadAll(store.get(), wo.keys, ever, where + " (repaired)", &totals);
    uint64_t gen = 0;
    WL_CHECK(store->Put(Slice("after", 5), Slice("repair", 6), 0, &gen).ok(), where + ": put after repair");
    store.reset();
  }
  RemoveTree(dir);
  RemoveTree(pristine);
  std::printf("ok files=%llu opened=%llu corruption_reported=%llu repaired=%llu values_checked=%llu undetected_mid_log_cuts=%llu wrong_values=0\n",
              static_cast<unsigned long long>(totals.files), static_cast<unsigned long long>(totals.opened),
              static_cast<unsigned long long>(totals.corruption_reported),
              static_cast<unsigned long long>(totals.repaired), static_cast<unsigned long long>(totals.values_checked),
              static_cast<unsigned long long>(totals.undetected_cuts));
  return 0;
}
