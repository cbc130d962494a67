// LogWriter: group commit. The owner thread appends encoded records to the open commit
// group in memory; a dedicated flush thread takes the whole group, writes it with one
// pwrite per segment, makes it durable with one fdatasync, and reports the group's
// generation number back. Every write that arrives while a sync runs shares the next one.
//
// Thread-safety: Append/FindPending/TakeForRollback/RequestSync are called by the owner
// thread with mu() held where marked. The flush thread touches only the group it took,
// the segments named in it, and the counters below under mu().
//
// Failure: an error before any byte of a group reached a file (ENOSPC while growing a file,
// a failed create) stalls the writer with a resumable status; any error after (a failed
// pwrite of records, any failed fdatasync) stalls it with a fail-stop status. Either way
// the owner rolls the non-durable groups back (TakeForRollback) before anything resumes.
#ifndef HASHLOG_NATIVE_LOG_WRITER_H_
#define HASHLOG_NATIVE_LOG_WRITER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hash_index.h"
#include "segment.h"
#include "status.h"

namespace hashlog {

// How to undo one not-yet-durable record in the index if its group fails.
struct UndoEntry {
  uint64_t hash;
  Location new_loc;  // kNoLocation for a delete
  Location old_loc;  // kNoLocation when the key was absent
  uint32_t new_size;
  uint32_t old_size;
  uint64_t new_expires_at;
  uint64_t old_expires_at;
};

// A byte buffer that grows without zero-filling (a 64 MiB value is copied once, not twice).
class ByteBuffer {
 public:
  char* data() { return data_.get(); }
  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }
  void clear() { size_ = 0; }
  // Grows by n bytes and returns the first of them.
  char* Extend(size_t n);

 private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

struct CommitGroup {
  struct Chunk {
    Segment* segment;
    uint64_t file_offset;
    size_t buffer_offset;
    size_t size;
  };
  uint64_t gen = 0;
  ByteBuffer buffer;
  std::vector<Chunk> chunks;
  std::vector<UndoEntry> undo;

  bool empty() const { return chunks.empty(); }
  void Clear() {
    buffer.clear();
    chunks.clear();
    undo.clear();
  }
};

// What the flush thread reports after each group or sync.
struct FlushEvent {
  uint64_t written_gen = 0;  // every group up to this one is in the OS (pwrite returned)
  uint64_t synced_gen = 0;   // every group up to this one is on disk (fdatasync returned)
  Status status;             // not ok: the writer is stalled until the owner rolls back
};

class LogWriter {
 public:
  using Notify = std::function<void(const FlushEvent&)>;

  // sync_each_group: fdatasync every group (durability "sync"); otherwise sync every
  // flush_interval_ms and on RequestSync. notify runs on the flush thread.
  LogWriter(FileSystem* fs, std::string dir, bool sync_each_group, uint32_t flush_interval_ms,
            uint64_t prealloc_chunk, Segment* active, Notify notify);
  ~LogWriter();  // Stop()s

  void Start();
  // Writes and syncs everything appended, then joins the flush thread. Idempotent.
  void Stop();

  std::mutex& mu() { return mu_; }

  // REQUIRES: mu() held. Reserves n bytes at (segment, offset) in the open group and
  // returns where to encode them. Offsets must follow the previous append in that segment.
  char* Append(Segment* segment, uint64_t offset, size_t n);
  // REQUIRES: mu() held. Records how to undo the record just appended.
  void AddUndo(const UndoEntry& u) { open_.undo.push_back(u); }
  // REQUIRES: mu() held. The generation the next Append goes into.
  uint64_t open_gen() const { return open_.gen; }
  bool has_open_records() const { return !open_.empty(); }
  // REQUIRES: mu() held. Bytes of a record that is not yet written, or null.
  const char* FindPending(const Segment* segment, uint64_t offset, size_t n) const;

  // Asks for an fdatasync covering everything appended so far; returns its generation.
  uint64_t RequestSync();
  // Wakes the flush thread if an Append found it asleep (call without mu() held). The owner
  // calls it once per JavaScript turn, so a burst of writes starts one group, not a group
  // for its first write and another for the rest.
  void Kick();
  // REQUIRES: mu() held. Enough is buffered that waiting for the end of the turn would only
  // delay the first group (a long synchronous loop of writes streams instead).
  bool open_group_is_large() const { return open_.buffer.size() >= kEagerKickBytes; }
  static constexpr size_t kEagerKickBytes = 256 * 1024;

  // Owner thread, after a failed FlushEvent: collects the undo entries of every group that
  // is not durable (newest first) and the range of their generations, clears those groups,
  // and says where they started (nullptr if nowhere). The writer stays stalled.
  void TakeForRollback(std::vector<UndoEntry>* undo, uint64_t* first_gen, uint64_t* last_gen,
                       Segment** start_segment, uint64_t* start_offset);
  // Owner thread, after a resumable failure was rolled back: appends continue in `current`
  // (the segment the flush thread last wrote to, or a new one it will create).
  void Resume(Segment* current);

  uint64_t fsyncs() const { return fsyncs_; }
  // Any thread, without mu(): wakes the flush thread so that it writes the open group now
  // (a reader on another thread waits for a record in it). A wake-up that comes while the
  // thread is about to sleep is lost; the reader asks again after a moment.
  void WakeForReader() { cv_.notify_one(); }

 private:
  void Run();
  // Creates and allocates every segment the group needs (no record is written yet).
  Status Prepare(const CommitGroup& g);
  Status WriteGroup(const CommitGroup& g, bool* wrote_records);
  Status SyncDirty();

  FileSystem* fs_;
  std::string dir_;
  const bool sync_each_group_;
  const std::chrono::milliseconds interval_;
  const uint64_t prealloc_chunk_;
  Notify notify_;

  std::mutex mu_;
  std::condition_variable cv_;
  CommitGroup open_;     // owner appends (mu_)
  CommitGroup writing_;  // flush thread writes; read-only to others (mu_ to look)
  uint64_t written_gen_ = 0;
  uint64_t synced_gen_ = 0;
  uint64_t sync_requested_gen_ = 0;
  bool stalled_ = false;
  bool stop_ = false;
  bool sleeping_ = false;
  bool kick_ = false;  // owner thread only: Append found the flush thread asleep
  std::thread thread_;

  // Flush-thread state.
  Segment* current_ = nullptr;         // the segment the flush thread appends to
  std::vector<Segment*> dirty_;        // written since the last fdatasync
  std::atomic<uint64_t> fsyncs_{0};
};

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_LOG_WRITER_H_
