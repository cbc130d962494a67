// Checkpoint: the index, the segment list and the counters written to one file, so that
// open replays only the log written after it instead of scanning everything. Layout:
// docs/FORMAT.md, "Checkpoint" (normative; lib/js/checkpoint.ts writes the same bytes).
//
// A checkpoint only ever names records that were durable when it was written (the store
// syncs the log up to its covered ends first), and open checks it against the segment files
// before trusting it: anything that does not match falls back to a full scan, never to
// wrong data.
//
// Thread-safety: BuildCheckpoint runs on the owner thread (it reads the index);
// WriteCheckpoint touches only the image and the file system, from any thread.
#ifndef HASHLOG_NATIVE_CHECKPOINT_H_
#define HASHLOG_NATIVE_CHECKPOINT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "expiry_counter.h"
#include "file.h"
#include "hash.h"
#include "hash_index.h"
#include "segment.h"
#include "status.h"

namespace hashlog {

constexpr char kCheckpointMagic[8] = {'H', 'L', 'C', 'K', 'P', 'T', '\n', '\0'};
constexpr uint16_t kCheckpointMajor = 1;
constexpr uint16_t kCheckpointMinor = 0;
constexpr size_t kCheckpointHeaderSize = 64;
constexpr size_t kCheckpointSegmentSize = 32;
constexpr size_t kCheckpointExpirySize = 16;
constexpr size_t kCheckpointEntrySize = 12;
// Which keyed hash the index's tags come from: an engine that finds another's id cannot use
// the tags and scans the log instead.
constexpr uint32_t kHashSipHash13 = 1;      // native/hash.cc
constexpr uint32_t kHashHalfSipHash13 = 2;  // lib/js/hash.ts
// Each listed segment carries a CRC of the last bytes it covers, so that a log changed under
// a checkpoint (cut, overwritten, restored from another time) is caught where it is most
// likely, at its end, without reading the rest (docs/DESIGN.md, "Checkpoints").
constexpr uint64_t kCheckpointTailBytes = 64 * 1024;
constexpr char kCheckpointName[] = "CHECKPOINT";
constexpr char kCheckpointTmpName[] = "CHECKPOINT.tmp";

// Bytes in an anonymous mapping: a 10M-key checkpoint is 120 MB, and huge pages make both
// the snapshot and the load fault in 2 MiB at a time instead of 4 KiB (and skip the zero
// fill a std::string would do).
class CheckpointBuffer {
 public:
  CheckpointBuffer() = default;
  ~CheckpointBuffer() { Free(); }
  CheckpointBuffer(const CheckpointBuffer&) = delete;
  CheckpointBuffer& operator=(const CheckpointBuffer&) = delete;
  Status Allocate(size_t n);
  void Free();
  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
};

// One segment as a checkpoint lists it, in log order.
struct CheckpointSegment {
  uint64_t file_number = 0;
  uint32_t flags = 0;        // the segment header's flags word
  uint32_t tail_crc = 0;     // CheckpointTailCrc of the covered bytes
  uint64_t covered_end = 0;  // records below this are reflected in the checkpoint
  uint64_t live_bytes = 0;
};

// The bytes of a checkpoint file, built on the owner thread and written on another.
struct CheckpointImage {
  CheckpointBuffer bytes;  // everything but the trailing CRC, which WriteCheckpoint adds
  uint64_t max_seq = 0;
  uint64_t rollbacks = 0;  // the store's rollback count when it was taken (store.cc)
  uint64_t appended = 0;   // the store's appended-bytes count when it was taken
  double build_millis = 0;
  std::vector<const Segment*> segments;  // as listed; live until the store closes
};

// The masked CRC32C of [max(header, end - kCheckpointTailBytes), end) of a mapped segment.
uint32_t CheckpointTailCrc(const Segment& seg, uint64_t end);

// Owner thread, once every record the image covers is written: fills in the segments'
// tail CRCs (they read the file, so they wait for the sync).
void FinishCheckpoint(CheckpointImage* image);

// Serialises the store's state. `segments` in log order; every index entry's slot must be
// one of theirs.
Status BuildCheckpoint(const HashKey& key, uint64_t max_seq, const std::vector<Segment*>& segments, const HashIndex& index,
                     const ExpiryCounter& expiry, CheckpointImage* out);

// Writes CHECKPOINT.tmp, fdatasyncs it, renames it over CHECKPOINT and syncs the directory.
// On failure the old checkpoint (or none) stays, and the temporary file is removed.
Status WriteCheckpoint(FileSystem* fs, const std::string& dir, const CheckpointImage& image);

// A checkpoint read back and checked for internal consistency (not yet against the files).
struct LoadedCheckpoint {
  CheckpointBuffer bytes;  // the whole file
  HashKey key;
  uint64_t max_seq = 0;
  uint64_t bucket_count = 0;
  uint64_t entry_count = 0;
  std::vector<CheckpointSegment> segments;
  size_t expiry_at = 0;  // offset of the expiry pairs in bytes
  size_t expiry_count = 0;
  size_t entries_at = 0;  // offset of the index entries in bytes
};

// Reads and checks CHECKPOINT. Returns false with *why set when there is none or it cannot
// be used; I/O errors other than "no such file" are reported the same way (a full scan is
// always a correct answer).
bool ReadCheckpoint(FileSystem* fs, const std::string& dir, LoadedCheckpoint* out, std::string* why);

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_CHECKPOINT_H_
