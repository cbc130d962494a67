// Segment: one numbered log file, its descriptor and its read-only mapping.
//
// The mapping lives in an address range reserved up front for the segment's maximum size,
// so its base never moves while the file grows; only bytes that exist in the file are
// mapped (a page past EOF would SIGBUS). The file grows ahead of the writer by zero-filling
// (an fdatasync into blocks written before skips the metadata commit that an append pays).
//
// Thread-safety: base(), slot(), file_number() and flushed_end() are safe from any thread.
// Create/Open/EnsureAllocated/Write/Sync/Seal run on one thread at a time (the log writer's
// flush thread once the store is open); the owner thread hands segments over through the
// log writer's mutex. flushed_end() is published with release semantics after the bytes
// below it were written and mapped.
#ifndef HASHLOG_NATIVE_SEGMENT_H_
#define HASHLOG_NATIVE_SEGMENT_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "file.h"
#include "log_format.h"
#include "status.h"

namespace hashlog {

class Segment {
 public:
  Segment(FileSystem* fs, const std::string& dir, uint64_t file_number, uint32_t slot);
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  static std::string FileName(uint64_t file_number);
  // Parses "<digits>.hlog"; false for any other name.
  static bool ParseFileName(const std::string& name, uint64_t* file_number);
  // A compaction output before it is renamed into place: "<digits>.hlog.tmp".
  static std::string TempFileName(uint64_t file_number) { return FileName(file_number) + ".tmp"; }
  static bool ParseTempFileName(const std::string& name, uint64_t* file_number);

  // Creates the file (which must not exist), writes and syncs its header. The caller syncs
  // the directory. `reserve` is the largest size the segment may reach.
  Status Create(uint64_t reserve);
  // Opens an existing file and maps all of it. `writable` also keeps it open for appends.
  Status Open(bool writable, uint64_t reserve);
  // Makes [0, end) exist in the file (zero-filling ahead by up to `chunk`, never past the
  // reservation) and mapped. With chunk 0 nothing is allocated: Write extends the file.
  Status EnsureAllocated(uint64_t end, uint64_t chunk);
  // Writes at off; maps what an appending write added to the file.
  Status Write(const char* data, size_t n, uint64_t off);
  Status Sync();
  // Shrinks the file to `end`, dropping zero-filled space: a sealed segment ends at its
  // last record. Not synced: the writer syncs the segment after its last records.
  Status Seal(uint64_t end);
  // Seal, then fdatasync (recovery cutting a torn tail).
  Status TruncateTo(uint64_t end);
  // Removes the file (used when a commit group that created it is rolled back).
  void Discard();

  const char* base() const { return base_; }
  uint32_t slot() const { return slot_; }
  // Only before the segment is shared with the flush thread or any reader.
  void set_slot(uint32_t slot) { slot_ = slot; }
  uint64_t file_number() const { return file_number_; }
  uint64_t file_size() const { return file_size_; }
  // Bytes of address space reserved for the mapping: the segment can never grow past it.
  uint64_t reserved() const { return reserved_; }
  bool created() const { return fd_ >= 0; }
  bool writable() const { return writable_; }
  const std::string& path() const { return path_; }

  uint64_t flushed_end() const { return flushed_end_.load(std::memory_order_acquire); }
  void set_flushed_end(uint64_t end) { flushed_end_.store(end, std::memory_order_release); }

  // Owner-thread bookkeeping.
  uint64_t live_bytes = 0;  // bytes of records that the index points at
  uint64_t end = 0;         // where the next record goes (records and pending ones)
  uint64_t sealed_at = 0;   // nonzero once the owner moved to a newer segment
  uint64_t reserve = 0;     // address space reserved (or to reserve when the flush thread creates it)
  uint32_t flags = 0;       // header flags (kSegmentCompacted)
  // The commit group of its first record (kNoGen until one is placed; 0 when recovered):
  // once that group is synced, the flush thread has left every older segment for good.
  static constexpr uint64_t kNoGen = ~uint64_t{0};
  uint64_t first_gen = kNoGen;
  bool compacted() const { return (flags & kSegmentCompacted) != 0; }

 private:
  Status CreateFile(uint64_t reserve);
  Status Map(uint64_t new_mapped);

  FileSystem* fs_;
  std::string dir_;
  std::string path_;
  uint64_t file_number_;
  uint32_t slot_;
  int fd_ = -1;
  bool writable_ = false;
  char* base_ = nullptr;
  uint64_t reserved_ = 0;
  uint64_t mapped_ = 0;
  uint64_t file_size_ = 0;
  std::atomic<uint64_t> flushed_end_{0};
};

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_SEGMENT_H_
