// Store: the engine. One owner thread (the JavaScript thread) calls every method; the log
// writer's flush thread does the writing and syncing (log_writer.h).
//
// Reads see every write as soon as Put/Delete returns (read-your-writes); a write is
// durable when the generation Put/Delete returned is reported synced (durability "sync")
// or written (durability "none": in the OS, fdatasynced within flush_interval_ms).
#ifndef HASHLOG_NATIVE_STORE_H_
#define HASHLOG_NATIVE_STORE_H_

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdint>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "checkpoint.h"
#include "epoch.h"
#include "file.h"
#include "compaction.h"
#include "hash.h"
#include "expiry_counter.h"
#include "hash_index.h"
#include "lock_file.h"
#include "log_writer.h"
#include "recovery.h"
#include "slice.h"
#include "status.h"

namespace hashlog {

struct StoreOptions {
  bool sync = true;                       // durability "sync"; false = "none"
  uint32_t flush_interval_ms = 100;       // durability "none" only
  uint64_t segment_size = 256ull << 20;   // a segment is sealed once it would pass this
  uint32_t max_value_size = 64u << 20;
  uint64_t prealloc_chunk = 1ull << 20;   // zero-fill run-ahead of the writer
  bool repair = false;
  uint64_t max_keys = 0;                  // 0 = no limit
  uint64_t max_disk_bytes = 0;            // 0 = no limit
  bool read_only = false;                 // change no file; writes fail with kReadOnly
  bool use_checkpoint = true;             // load a valid CHECKPOINT at open
  RecoveryProgress* progress = nullptr;   // updated while Open recovers, if given
};

// One operation of a batch, as lib/store.ts encodes it (docs/DESIGN.md, "Batches"):
//   u8 type (1 put, 2 del), 3 bytes 0, u32 keyLen, u32 valueLen, u32 0, u64 expiresAt,
//   then the key and the value.
constexpr size_t kBatchOpHeaderSize = 24;

struct StoreStats {
  uint64_t keys = 0;
  uint64_t indexed = 0;  // index entries: the live keys plus expired ones not yet dropped
  uint64_t live_bytes = 0;
  uint64_t log_bytes = 0;  // every record byte in every segment (live + garbage)
  uint64_t segments = 0;
  uint64_t index_capacity = 0;
  uint64_t index_bytes = 0;
  uint64_t fsyncs = 0;
  uint64_t seq = 0;
  uint64_t compactions = 0;          // jobs that completed
  uint64_t compacted_bytes_read = 0;  // record bytes of the segments they removed
  uint64_t compacted_bytes_written = 0;
  uint64_t bytes_since_checkpoint = 0;  // log appended since the last checkpoint (or open without one)
  double checkpoint_pause_ms = 0;       // how long the last checkpoint's snapshot held the owner thread
  uint64_t shared_readers = 0;          // reader handles on other threads (and their pool reads)
};

struct CompactOptions {
  uint64_t max_output_size = 0;  // 0 = the segment size
  double bytes_per_second = 0;   // 0 = no limit
  // Leave ordinary segments numbered from here on (a replica still streams them); 0 = none.
  uint64_t keep_from_file = 0;
};

class Store {
 public:
  using Notify = LogWriter::Notify;

  // Opens (creating if needed) the store in `dir`, recovering it from its segments.
  // `notify` runs on the flush thread after each commit group (see LogWriter).
  static Status Open(FileSystem* fs, const std::string& dir, const StoreOptions& options, Notify notify,
                     std::unique_ptr<Store>* out);
  ~Store();

  // Copies the value into out[0, cap) when it fits and sets *size to its length either way.
  // NotFound when the key is absent or expired.
  Status Get(Slice key, char* out, size_t cap, size_t* size);
  bool Has(Slice key);
  // *gen: the commit group that makes this write durable.
  Status Put(Slice key, Slice value, uint64_t expires_at, uint64_t* gen);
  // *gen: as Put; for an absent key, the last group appended (nothing is written).
  Status Delete(Slice key, bool* existed, uint64_t* gen);
  // Applies every operation of an encoded batch (kBatchOpHeaderSize) as one record: after a
  // crash either all of them are there or none.
  Status Batch(Slice ops, uint64_t* gen);
  // The key's expiry: -1 if absent or expired, 0 if none, else ms since the epoch.
  int64_t ExpiresAt(Slice key);
  // Rewrites a live key's record with a new expiry (0 removes it). *changed is false (and
  // nothing is written) if the key is absent or expired, or if `only_if_expiring` and it has
  // no expiry.
  Status SetExpiry(Slice key, uint64_t expires_at, bool only_if_expiring, bool* changed, uint64_t* gen);
  // Appends a clear record in a commit group of its own; the index changes only when
  // ApplyClear() is called after that group is durable. REQUIRES: nothing else pending.
  Status AppendClear(uint64_t* gen);
  void ApplyClear();
  // Keys whose home lies in the tag range from `cursor` on, at least `count` of them unless
  // the table ends first; *next is 0 at the end. Expired keys are skipped.
  void Scan(uint64_t cursor, size_t count, std::vector<std::string>* keys, uint64_t* next);
  // Looks up n keys (laid end to end in `keys`, lengths in `lengths`) with their memory
  // accesses overlapped. Values are copied end to end into out[0, cap) while they fit;
  // sizes[i] is the value length or -1. Returns how many keys were answered (at least one
  // unless the first value alone exceeds cap).
  size_t GetMany(const char* keys, const uint32_t* lengths, size_t n, char* out, size_t cap, int64_t* sizes);
  // Live keys (without expired ones; exact to the second for keys with a TTL).
  uint64_t LiveKeys();
  // For a read off the owner thread (getAsync): the records the key's hash points at, as
  // pointers into mapped segments that stay valid until Close(). A record still in a commit
  // group is resolved here instead: *resolved is set, with *found and *value.
  void Locate(Slice key, std::vector<const char*>* records, bool* resolved, bool* found, std::string* value);
  // Any thread: the value of the first of `records` that holds `key` and has not expired.
  bool ReadLocated(const std::vector<const char*>& records, Slice key, std::string* value) const;
  // Reads from other threads (docs/DESIGN.md, "Worker threads"). Each call runs inside an
  // epoch of epochs() (EpochGuard) and takes no lock. kPending: the key's newest record is
  // still in a commit group; the flush thread was asked to write it, and the caller leaves
  // the epoch, waits a moment and calls again.
  const std::shared_ptr<EpochDomain>& epochs() const { return epochs_; }
  // The value copied into out[0, cap) when it fits, its length in *size either way.
  HashIndex::SharedFind SharedGet(Slice key, char* out, size_t cap, size_t* size) const;
  HashIndex::SharedFind SharedGet(Slice key, std::string* value) const;
  // *expires_at: 0 if none, else ms since the epoch (kAbsent if no live key).
  HashIndex::SharedFind SharedExpiresAt(Slice key, uint64_t* expires_at) const;
  // As Scan, appending to *keys; false if a key's record is still in a commit group: call
  // again from *next after a wait.
  bool SharedScan(uint64_t cursor, size_t count, std::vector<std::string>* keys, uint64_t* next) const;
  // What Stats() said after the latest commit group while readers are registered.
  StoreStats SharedStats() const;
  // 0 if every record placed so far is durable (in the store's durability mode), else the
  // commit group to wait for: a read that must not show a write a crash could take back
  // (the server's read barrier) waits for it.
  uint64_t SharedBarrierGen() const {
    const uint64_t last = shared_last_gen_.load(std::memory_order_acquire);
    return shared_durable_gen_.load(std::memory_order_acquire) >= last ? 0 : last;
  }
  // Owner: refreshes what SharedStats returns (after each commit group while readers exist).
  void PublishStats();
  // Test hook: milliseconds added to the clock that decides expiry.
  void SetClockOffsetForTesting(int64_t ms) { clock_offset_ms_ = ms; }
  // Starts the flush thread on what Put/Delete appended (once per JavaScript turn).
  void Kick();
  // Requests an fdatasync of everything written so far; returns the generation to wait for.
  uint64_t Flush();
  // Owner thread, for each FlushEvent. On failure rolls back every non-durable write and
  // sets [*reject_first, *reject_last] to the generations that failed (else both 0).
  void HandleFlushEvent(const FlushEvent& ev, uint64_t* reject_first, uint64_t* reject_last);
  // Checkpoints, step 1 (owner thread): snapshots the index and segment list into *image
  // and requests an fdatasync of every record it covers; *gen is that sync's generation.
  Status BeginCheckpoint(std::unique_ptr<CheckpointImage>* image, uint64_t* gen);
  // Step 2 (owner thread), once *gen is reported synced: OK if the image may be written (no
  // commit group failed since the snapshot, whose rollback would leave it naming records
  // that never reached the disk). Then WriteCheckpoint(fs, dir(), image) off the thread.
  // It also fills in what only the written bytes can say (FinishCheckpoint).
  Status CheckCheckpoint(CheckpointImage* image) const;
  // Step 3 (owner thread), after the file was written.
  void CheckpointWritten(const CheckpointImage& image);
  // Record bytes appended since the last checkpoint (or since an open that loaded none).
  uint64_t BytesSinceCheckpoint() const { return appended_ - std::min(appended_, checkpoint_appended_); }
  FileSystem* fs() const { return fs_; }
  const std::string& dir() const { return dir_; }
  // Writes and syncs what is pending, stops the flush thread, unmaps, releases the lock.
  Status Close();

  // Compaction (compaction.h), driven by the caller phase by phase. Owner thread unless
  // marked; at most one job at a time.
  // Any thread: makes a running or queued copy/unlink return kClosed soon (Close waits for it).
  void CancelBackground() { cancel_.store(true, std::memory_order_relaxed); }
  // Starts a job on the compacted segments and the oldest ordinary ones the writer has left
  // for good. *started is false when there is nothing to compact.
  Status CompactStart(const CompactOptions& options, bool* started);
  // Marks up to `budget` records; true when every source is marked.
  bool CompactMark(size_t budget);
  // Any thread, one at a time: the copy phase. Close() cancels it and waits.
  Status CompactCopy();
  // Points the index at the copies, up to `budget` entries; true when done.
  Status CompactInstall(size_t budget, bool* done);
  // After install: true once every write placed before install ended is durable (call again
  // after the next commit). If a commit group failed since the job started, a rollback may
  // have pointed an entry back at a source record that mark did not copy: the sources then
  // stay, in the log after the outputs, and unlink deletes none of them.
  bool CompactSettle();
  // Any thread, after CompactSettle returned true: deletes the sources.
  Status CompactUnlink();
  // Unmaps the sources when nothing can read them any more (every write that might roll
  // back to them is durable, and `readers_idle`: no getAsync read located before install
  // still holds a record address).
  // True when the job is over.
  bool CompactRetire(bool readers_idle);
  // Ends a job that failed in copy or at the start of install (REQUIRES: no entry moved);
  // removes the outputs, failing-stop if one cannot be removed.
  void CompactAbort();
  bool compacting() const { return job_ != nullptr; }
  // Seals the active segment at the next write, so that compaction can reach its garbage
  // (a small store's garbage may all be in the active segment).
  void RollActive() { roll_requested_ = true; }

  struct SegmentInfo {
    std::string name;
    uint32_t flags;
    uint64_t bytes;       // record bytes
    uint64_t live_bytes;  // of records the index points at
    bool compactable;     // a job started now would take it
  };
  std::vector<SegmentInfo> Segments() const;

  StoreStats Stats() const;
  struct WrittenSegment {
    std::string name;
    uint64_t written;  // bytes in the file: whole commit groups, so whole records
    uint64_t end;      // where its records end once all are written (final unless it is the newest)
    uint32_t flags;    // kSegmentCompacted: sorts before the others, never streamed
  };
  // Every segment with records: what an online backup copies and a replication feed streams.
  std::vector<WrittenSegment> WrittenSegments() const;
  const RecoveryReport& recovery() const { return recovery_; }
  // The fail-stop status, or OK.
  const Status& failure() const { return failed_; }

 private:
  Store(FileSystem* fs, std::string dir, const StoreOptions& options);
  Status Recover(Notify notify);
  Status CheckWritable() const;
  // Where the record at loc is: the map, or (with *lk locked on demand) a pending group.
  const char* RecordAt(Location loc, std::unique_lock<std::mutex>* lk) const;
  HashIndex::Ref FindKey(uint64_t hash, Slice key, std::unique_lock<std::mutex>* lk) const;
  // The record of a live (present, unexpired) key, its header in *h; null otherwise. Valid
  // while *lk is held (a record still in a commit group) or until Close (a written one).
  const char* FindLive(Slice key, std::unique_lock<std::mutex>* lk, RecordHeader* h) const;
  // REQUIRES: writer mutex held. Places a record of n bytes, rolling to a new segment.
  Status Reserve(size_t n, Location* loc);
  // REQUIRES: writer mutex held; the record of one put or delete was encoded at `loc`.
  // Points the index at it and keeps the accounting and the undo log. `ref` is the key's
  // entry (or empty), `old` that entry's record header.
  void Index(RecordType type, uint64_t hash, HashIndex::Ref ref, const RecordHeader& old, Location loc, size_t n,
             uint64_t expires_at);
  // REQUIRES: writer mutex held. Publishes the generation and decides whether to wake the
  // flush thread now (returns true) or at the end of the JavaScript turn.
  bool Finish(uint64_t* gen);
  Status CheckLimits(bool new_key, size_t n);
  // The mutex that guards records not yet written (a read-only store has none: any mutex).
  std::mutex& WriterMutex() const { return writer_ ? writer_->mu() : read_only_mu_; }
  uint64_t NowMs() const;
  // SharedGet and SharedExpiresAt: take(record, header) copies what the caller wants.
  template <typename Take>
  HashIndex::SharedFind SharedFindLive(Slice key, Take&& take) const;
  // The record at loc if a reader may read it: kOther with *rec set, kPending if not yet
  // written, kStale if the location no longer names a record (the index moved on).
  HashIndex::Candidate SharedRecordAt(Location loc, const char** rec, RecordHeader* h) const;
  // Gives a segment a slot (reusing one that compaction freed) and takes ownership.
  Status TakeSlot(std::unique_ptr<Segment> seg);
  // TakeSlot, then appends it to the log.
  Status AddSegment(std::unique_ptr<Segment> seg);
  void FreeSlot(uint32_t slot);
  void RecountLogBytes();
  // How many segments at the front of the log a compaction may take.
  size_t CompactableCount() const;
  // Marks the records of one source from job_->mark_offset, at most `budget` of them.
  size_t MarkRecords(size_t source, size_t budget);
  // A put record mark looks at: where it is, its key's hash, its size and expiry.
  struct MarkCandidate {
    uint32_t source;
    uint32_t offset;
    uint64_t hash;
    uint32_t size;
    uint64_t expires_at;
  };
  // Notes the candidate as a move (the index points at it) or a drop (it also expired).
  void MarkRecord(const MarkCandidate& c);
  Status MapOutputs();
  // Puts the sources unlink did not delete back into the log, after the outputs.
  void KeepRemainingSources();
  bool Expired(const RecordHeader& h) const { return h.expires_at != 0 && h.expires_at <= NowMs(); }
  void Undo(const UndoEntry& u);

  FileSystem* fs_;
  const std::string dir_;
  const StoreOptions options_;
  LockFile lock_;
  HashKey hash_key_;
  HashIndex index_;
  ExpiryCounter expiry_;
  // Shared with the reader handles, which may outlive the store; Close runs what it holds.
  std::shared_ptr<EpochDomain> epochs_ = std::make_shared<EpochDomain>();
  SegmentTable segments_;           // by slot; compaction leaves holes, reused first
  // The same segments for readers on other threads: a slot is cleared before its segment
  // is retired, and reused only once the epoch passed (no reader holds its locations).
  // calloc: the pages stay untouched (and unbacked) but for the slots in use.
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<std::atomic<Segment*>[], FreeDeleter> readable_{
      static_cast<std::atomic<Segment*>*>(std::calloc(kMaxSegmentSlots + 1, sizeof(std::atomic<Segment*>)))};
  std::atomic<uint64_t> shared_last_gen_{0};     // the group of the newest record placed
  std::atomic<uint64_t> shared_durable_gen_{0};  // groups up to it are durable
  mutable std::mutex shared_stats_mu_;  // guards shared_stats_ only (a copy, never across work)
  StoreStats shared_stats_;
  std::vector<uint32_t> free_slots_;
  std::vector<Segment*> log_;       // log order: compacted segments first, the active one last
  Segment* active_ = nullptr;
  std::unique_ptr<CompactionJob> job_;
  std::atomic<bool> cancel_{false};
  std::mutex bg_mu_;                 // held by CompactCopy/CompactUnlink while they run
  uint64_t synced_gen_ = 0;          // owner's view: every group up to it is durable
  bool roll_requested_ = false;
  uint64_t failures_ = 0;            // failed flush events seen
  uint64_t compactions_ = 0;
  uint64_t compacted_read_ = 0;
  uint64_t compacted_written_ = 0;
  std::unique_ptr<LogWriter> writer_;
  RecoveryReport recovery_;
  uint64_t seq_ = 0;
  uint64_t next_file_number_ = 1;
  uint64_t last_gen_ = 0;  // the newest generation a record went into
  uint64_t log_bytes_ = 0;  // record bytes in every segment (for max_disk_bytes)
  int64_t clock_offset_ms_ = 0;
  uint64_t appended_ = 0;             // record bytes reserved since open, never decreasing
  uint64_t checkpoint_appended_ = 0;  // appended_ that the last checkpoint covers
  uint64_t rollbacks_ = 0;            // failed commit events handled (checkpoints check it)
  double checkpoint_pause_ms_ = 0;
  Status failed_;
  bool closed_ = false;
  mutable std::mutex read_only_mu_;
};

// A read from another thread: runs read() (a Store::Shared* call) inside an epoch of
// `epochs` until it is not kPending, sleeping outside the epoch in between (the flush
// thread was asked to write the record; a write takes one pwrite, after any fdatasync in
// progress). OK, NotFound, or Closed once the store began to close. The store must not be
// touched outside read(): it may be destroyed as soon as no read is inside an epoch.
template <typename Read>
Status ReadShared(EpochDomain* epochs, int slot, Read&& read) {
  for (;;) {
    HashIndex::SharedFind r;
    {
      EpochGuard guard(epochs, slot);
      if (!guard.ok()) return Status::Closed();
      r = read();
    }
    if (r == HashIndex::SharedFind::kFound) return Status::OK();
    if (r == HashIndex::SharedFind::kAbsent) return Status::NotFound();
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_STORE_H_
