// I/O fault loop (SQLite's approach): for each syscall of the seam and each errno, make the
// Nth call fail, for N = 0, 1, 2, ... until the workload runs without reaching a call N, and
// check what the store reported and what survives a reopen. Once-only faults model a
// transient error; sticky ones (ENOSPC until space comes back) are disarmed after the first
// error the workload sees. Both durability modes ("none": background syncs, flush() as the
// acknowledgement). docs/RELIABILITY.md, "I/O faults".
//
//   fault_loop_test <seed> <workload-ops> <scratch-dir>
//
// Expected (docs/errors.md): ENOSPC while growing or creating a file is HASHLOG_NO_SPACE and
// writes resume afterwards; a failed fdatasync of records, or a failed pwrite of records, is
// fail-stop (kFailed) and every later write fails the same way; anything else is kIOError
// (or kNoSpace for ENOSPC). Whatever happened, nothing acknowledged is lost on reopen,
// nothing rejected before reaching a file comes back, and the store opens cleanly.
#include <sys/stat.h>
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
const int kErrnos[] = {EIO, ENOSPC, EMFILE};

// durability "sync", or "none" (background syncs; flush() is the acknowledgement).
StoreOptions Options(bool sync) {
  StoreOptions o;
  o.sync = sync;
  o.flush_interval_ms = 1;
  o.segment_size = 8 * 1024;  // rolls: create, seal (ftruncate), directory syncs
  o.prealloc_chunk = 4096;
  return o;
}

struct Totals {
  uint64_t runs = 0;
  uint64_t injected = 0;
  uint64_t open_failures = 0;
  uint64_t no_space = 0;
  uint64_t io_errors = 0;
  uint64_t fail_stops = 0;
  uint64_t acked_checked = 0;
  uint64_t resumable_syncs = 0;
  uint64_t checkpoint_failures = 0;
};

bool ExpectedCode(Status::Code c) {
  return c == Status::kIOError || c == Status::kNoSpace || c == Status::kFailed;
}

// One run: a store with some history, reopened through the faulty file system (recovery
// I/O is in the loop too), a workload, a clean reopen and the check. Returns the number of
// faults injected (0: N is past the workload's last call of that op).
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
  wo.keys = 12;
  wo.max_pad = 2500;
  std::vector<Op> history;
  {
    // The first part of the history, written without faults (so recovery has work).
    Driver d(DefaultFileSystem(), dir, Options(sync), [] { return uint64_t{0}; });
    WL_CHECK(d.Open().ok(), where + ": setup open");
    WorkloadOptions pre = wo;
    pre.ops = 10;
    d.Run(pre, &rng);
    // A checkpoint, so that the faulty open loads one (and later ones replace it).
    WL_CHECK(d.Checkpoint().ok(), where + ": setup checkpoint");
    d.Run(pre, &rng);
    WL_CHECK(d.Close().ok(), where + ": setup close");
    history = d.ops();
  }
  FaultInjectingFileSystem faulty(DefaultFileSystem());
  FaultInjectingFileSystem::Op op;
  WL_CHECK(FaultInjectingFileSystem::ParseOp(op_name, &op), op_name);
  faulty.Arm(op, n, err, sticky);
  Driver d(&faulty, dir, Options(sync), [] { return uint64_t{0}; });
  Status s = d.Open();
  if (!s.ok()) {
    totals->open_failures++;
    WL_CHECK(ExpectedCode(s.code()) && s.code() != Status::kFailed, where + ": open: " + s.message());
    WL_CHECK(err != ENOSPC || s.code() == Status::kNoSpace, where + ": ENOSPC surfaced as " + s.message());
  } else {
    bool failed_stop = false;
    int bursts = 0;
    d.Run(wo, &rng, [&] {
      // A checkpoint every few bursts, so the faults reach its calls too: it may fail with
      // any expected code (the old checkpoint stays), never take the store down by itself.
      if (++bursts % 4 == 0 && d.store()->failure().ok()) {
        Status c = d.Checkpoint();
        if (!c.ok()) {
          totals->checkpoint_failures++;
          WL_CHECK(ExpectedCode(c.code()) || c.err() == ECANCELED, where + ": checkpoint: " + c.message());
        }
      }
      // Space comes back (or the transient error is over) once the workload has seen it.
      if (!d.async_errors().empty() || !d.sync_errors().empty()) faulty.Disarm();
    });
    for (const Status& e : d.async_errors()) {
      WL_CHECK(ExpectedCode(e.code()), where + ": unexpected error " + e.message());
      if (e.code() == Status::kFailed) {
        failed_stop = true;
        totals->fail_stops++;
      } else if (e.code() == Status::kNoSpace) {
        totals->no_space++;
      } else {
        totals->io_errors++;
      }
      // ENOSPC from a call that writes: never a plain I/O error.
      if (err == ENOSPC) WL_CHECK(e.code() != Status::kIOError, where + ": ENOSPC as " + e.message());
      // A failed fdatasync is fail-stop (the kernel may have dropped the pages), except the
      // sync of a new segment's header: that file is removed and nothing depends on it.
      if (op == FaultInjectingFileSystem::kFdatasync && e.code() != Status::kFailed) totals->resumable_syncs++;
    }
    for (const Status& e : d.sync_errors())
      WL_CHECK(e.code() == Status::kFailed, where + ": a write was refused with " + e.message());
    WL_CHECK(failed_stop || d.sync_errors().empty(), where + ": writes refused without a fail-stop");
    faulty.Disarm();
    if (!failed_stop) {
      // Writes resume once the fault is gone: one more put must be acknowledged.
      Op last;
      last.effects.push_back(Effect{0, true, "key0#resumed"});
      d.Issue(last);
      d.store()->Kick();
      d.Settle();
      WL_CHECK(d.ops().back().fate == Op::kAcked, where + ": a write after the fault was not acknowledged");
    } else {
      WL_CHECK(d.store()->failure().code() == Status::kFailed, where + ": no fail-stop state");
    }
  }
  std::vector<Op> ops = d.ops();
  d.Close();
  const uint64_t injected = faulty.injected();
  // Reopen without faults: everything acknowledged (before and during the faults) is there.
  for (Op& o : ops) history.push_back(o);
  std::unique_ptr<Store> store;
  s = Store::Open(DefaultFileSystem(), dir, Options(sync), [](const FlushEvent&) {}, &store);
  WL_CHECK(s.ok(), where + ": reopen: " + s.message());
  CheckAgainstHistory(store.get(), history, wo.keys, kNever, where);
  uint64_t gen;
  WL_CHECK(store->Put(Slice("z", 1), Slice("z", 1), 0, &gen).ok(), where + ": put after reopen");
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
  std::printf(
      "ok runs=%llu faults_injected=%llu open_failures=%llu no_space=%llu io_errors=%llu fail_stops=%llu "
      "resumable_sync_failures=%llu checkpoint_failures=%llu acked_ops_checked=%llu lost=0\n",
      static_cast<unsigned long long>(totals.runs), static_cast<unsigned long long>(totals.injected),
      static_cast<unsigned long long>(totals.open_failures), static_cast<unsigned long long>(totals.no_space),
      static_cast<unsigned long long>(totals.io_errors), static_cast<unsigned long long>(totals.fail_stops),
      static_cast<unsigned long long>(totals.resumable_syncs),
      static_cast<unsigned long long>(totals.checkpoint_failures), static_cast<unsigned long long>(totals.acked_checked));
  return 0;
}
