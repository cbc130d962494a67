// Store: the engine. One owner thread (the JavaScript thread) calls every method; the log
// writer's flush thread does the writing and syncing (log_writer.h).
//
// Reads see every write as soon as Put/Delete returns (read-your-writes); a write is
// durable when the generation Put/Delete returned is reported synced (durability "sync")
// or written (durability "none": in the OS, fdatasynced within flush_interval_ms).
#ifndef HASHLOG_NATIVE_STORE_H_
#define HASHLOG_NATIVE_STORE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "file.h"
#include "hash.h"
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
};

struct StoreStats {
  uint64_t keys = 0;
  uint64_t live_bytes = 0;
  uint64_t log_bytes = 0;  // every record byte in every segment (live + garbage)
  uint64_t segments = 0;
  uint64_t index_capacity = 0;
  uint64_t index_bytes = 0;
  uint64_t fsyncs = 0;
  uint64_t seq = 0;
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
  // Starts the flush thread on what Put/Delete appended (once per JavaScript turn).
  void Kick();
  // Requests an fdatasync of everything written so far; returns the generation to wait for.
  uint64_t Flush();
  // Owner thread, for each FlushEvent. On failure rolls back every non-durable write and
  // sets [*reject_first, *reject_last] to the generations that failed (else both 0).
  void HandleFlushEvent(const FlushEvent& ev, uint64_t* reject_first, uint64_t* reject_last);
  // Writes and syncs what is pending, stops the flush thread, unmaps, releases the lock.
  Status Close();

  StoreStats Stats() const;
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
  // REQUIRES: writer mutex held. Places a record of n bytes, rolling to a new segment.
  Status Reserve(size_t n, Location* loc);
  void Undo(const UndoEntry& u);

  FileSystem* fs_;
  const std::string dir_;
  const StoreOptions options_;
  LockFile lock_;
  HashKey hash_key_;
  HashIndex index_;
  SegmentTable segments_;
  Segment* active_ = nullptr;
  std::unique_ptr<LogWriter> writer_;
  RecoveryReport recovery_;
  uint64_t seq_ = 0;
  uint64_t next_file_number_ = 1;
  uint64_t last_gen_ = 0;  // the newest generation a record went into
  Status failed_;
  bool closed_ = false;
};

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_STORE_H_
