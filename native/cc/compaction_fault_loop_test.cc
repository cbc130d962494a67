// Compaction fault loop: the I/O fault loop (fault_loop_test.cc) with a compaction job driven
// phase by phase between the workload's bursts (as lib/compaction.ts drives it, with small
// slices so that writes, failures and rollbacks land between the phases). For each seam call
// and errno, the Nth call fails, N = 0, 1, 2, ... until the run reaches no call N. Whatever
// failed (a write, a job's copy, rename, mapping or unlink), nothing acknowledged is lost on
// reopen and nothing deleted or overwritten comes back; a store closed in the middle of a
// job opens cleanly. docs/RELIABILITY.md, "I/O faults"; docs/FORMAT.md, "Compaction".
//
//   compaction_fault_loop_test <seed> <workload-ops> <scratch-dir>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "workload.h"

using namespace hashlog;
using namespace hashlog::workload;

namespace {

const char* const kOps[] = {"open", "pwrite", "allocate", "fdatasync", "syncdir",
                            "ftruncate", "mmap", "rename", "unlink"};
const int kErrnos[] = {EIO, ENOSPC};

StoreOptions Options(bool sync) {
  StoreOptions o;
  o.sync = sync;
  o.flush_interval_ms = 1;
  o.segment_size = 8 * 1024;
  o.prealloc_chunk = 4096;
  return o;
}

// One job at a time, one phase step per call, restarting after each job (so a run holds
// several jobs, on logs that start with compacted segments).
class Compactor {
 public:
  explicit Compactor(Store* st) : st_(st) {}
  // True if a phase failed (the caller takes the fault as seen).
  bool Step() {
    switch (phase_) {
      case kIdle: {
        bool started = false;
        Status s = st_->CompactStart(CompactOptions{}, &started);
        if (s.ok() && started) phase_ = kMark;
        return false;
      }
      case kMark:
        if (st_->CompactMark(mark_budget_)) phase_ = kCopy;
        return false;
      case kCopy: {
        Status s = st_->CompactCopy();
        if (!s.ok()) return Abort();
        phase_ = kInstall;
        return false;
      }
      case kInstall: {
        bool done = false;
        Status s = st_->CompactInstall(3, &done);
        if (!s.ok()) return Abort();
        if (done) phase_ = kSettle;
        return false;
      }
      case kSettle:
        if (st_->CompactSettle()) phase_ = kUnlink;
        return false;
      case kUnlink: {
        Status s = st_->CompactUnlink();
        phase_ = kRetire;
        return !s.ok();
      }
      case kRetire:
        if (st_->CompactRetire(true)) {
          phase_ = kIdle;
          jobs_++;
        }
        return false;
    }
    return false;
  }
  uint64_t jobs() const { return jobs_; }

 private:
  bool Abort() {
    st_->CompactAbort();
    phase_ = kIdle;
    return true;
  }
  enum Phase { kIdle, kMark, kCopy, kInstall, kSettle, kUnlink, kRetire };
  Store* st_;
  Phase phase_ = kIdle;

 public:
  size_t mark_budget_ = 3;

 private:
  uint64_t jobs_ = 0;
};

struct Totals {
  uint64_t runs = 0;
  uint64_t injected = 0;
  uint64_t jobs = 0;
  uint64_t job_failures = 0;
  uint64_t acked_checked = 0;
};

uint64_t RunOne(bool sync, const std::string& op_name, int err, bool sticky, uint64_t n, uint64_t seed,
                int workload_ops, const std::string& scratch, Totals* totals) {
  const std::string dir = scratch + "/store";
  RemoveTree(dir);
  const std::string where = std::string(sync ? "sync " : "none ") + op_name + " errno " + std::to_string(err) +
                            (sticky ? " sticky" : " once") + " N=" + std::to_string(n);
  if (std::getenv("HASHLOG_DEBUG_EVENTS") != nullptr) std::fprintf(stderr, "run: %s\n", where.c_str());
  std::mt19937_64 rng(seed);
  WorkloadOptions wo;
  wo.ops = workload_ops;
  wo.keys = 60;  // many keys: a lost record is seldom hidden by a later write of its key
  wo.max_pad = 2500;
  std::vector<Op> history;
  {
    // History written without faults: several sealed segments of garbage for the jobs.
    Driver d(DefaultFileSystem(), dir, Options(sync), [] { return uint64_t{0}; });
    WL_CHECK(d.Open().ok(), where + ": setup open");
    WorkloadOptions pre = wo;
    pre.ops = 30;
    d.Run(pre, &rng);
    WL_CHECK(d.Close().ok(), where + ": setup close");
    history = d.ops();
  }
  FaultInjectingFileSystem faulty(DefaultFileSystem());
  FaultInjectingFileSystem::Op op;
  WL_CHECK(FaultInjectingFileSystem::ParseOp(op_name, &op), op_name);
  Driver d(&faulty, dir, Options(sync), [] { return uint64_t{0}; });
  Status s = d.Open();  // recovery is not under test here: arm after it
  WL_CHECK(s.ok(), where + ": open: " + s.message());
  faulty.Arm(op, n, err, sticky);
  Compactor c(d.store());
  uint64_t extra = 0;
  d.Run(wo, &rng, [&] {
    // A write or two left pending while the job's phases run: its group may fail and be
    // rolled back (at the next burst's settle) after mark or install passed its key.
    for (int i = 0, k = 1 + static_cast<int>(rng() % 2); i < k; i++) {
      Op o;
      const bool put = rng() % 2 == 0;
      o.effects.push_back(Effect{static_cast<int>(rng() % wo.keys), put, put ? "hook#" + std::to_string(extra++) : ""});
      d.Issue(o);
    }
    // Mark in one go or in small slices: either way, records it passes may be rolled back to.
    c.mark_budget_ = rng() % 2 == 0 ? 3 : 1 << 20;
    for (int i = 0; i < 2; i++)
      if (c.Step()) totals->job_failures++;
    d.store()->Kick();
    if (faulty.injected() > 0) faulty.Disarm();  // the error is over once something saw it
  });
  d.Settle();
  faulty.Disarm();
  std::vector<Op> ops = d.ops();
  totals->jobs += c.jobs();
  d.Close();  // possibly in the middle of a job
  const uint64_t injected = faulty.injected();
  for (Op& o : ops) history.push_back(o);
  std::unique_ptr<Store> store;
  s = Store::Open(DefaultFileSystem(), dir, Options(sync), [](const FlushEvent&) {}, &store);
  WL_CHECK(s.ok(), where + ": reopen: " + s.message());
  CheckAgainstHistory(store.get(), history, wo.keys, kNever, where);
  WL_CHECK(store->Close().ok(), where + ": close after reopen");
  for (const Op& o : history) totals->acked_checked += o.fate == Op::kAcked;
  totals->runs++;
  totals->injected += injected;
  return injected;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s <seed> <workload-ops> <scratch-dir>\n", argv[0]);
    return 2;
  }
  const uint64_t seed = std::strtoull(argv[1], nullptr, 10);
  const int workload_ops = std::atoi(argv[2]);
  const std::string scratch = argv[3];
  Totals totals;
  ForEachFault(kOps, kErrnos, [&](bool sync, const char* op, int err, bool sticky, uint64_t n) {
    return RunOne(sync, op, err, sticky, n, seed + n, workload_ops, scratch, &totals);
  });
  RemoveTree(scratch + "/store");
  WL_CHECK(totals.jobs > 0, "no compaction job completed");
  std::printf("ok runs=%llu faults_injected=%llu jobs=%llu job_failures=%llu acked_ops_checked=%llu lost=0\n",
              static_cast<unsigned long long>(totals.runs), static_cast<unsigned long long>(totals.injected),
              static_cast<unsigned long long>(totals.jobs), static_cast<unsigned long long>(totals.job_failures),
              static_cast<unsigned long long>(totals.acked_checked));
  return 0;
}
