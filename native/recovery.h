// Recovery: opens every segment of a store directory and rebuilds the index by scanning
// them in file order. The newer sequence number wins where a key appears twice.
//
// Damage rules (docs/FORMAT.md, "Recovery"): a bad record after which no intact record
// follows anywhere in the log is a torn tail (an interrupted, unacknowledged append): its
// segment is truncated there and the bytes dropped are reported. Any other damage fails
// with kCorruption naming the file and offset, unless `repair` is set: then every intact
// record is kept and the dropped ranges are reported.
#ifndef HASHLOG_NATIVE_RECOVERY_H_
#define HASHLOG_NATIVE_RECOVERY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint.h"
#include "expiry_counter.h"
#include "file.h"
#include "hash.h"
#include "hash_index.h"
#include "log_format.h"
#include "segment.h"
#include "status.h"

namespace hashlog {

using SegmentTable = std::vector<std::unique_ptr<Segment>>;

struct RecoveryReport {
  uint64_t segments = 0;
  uint64_t records = 0;
  uint64_t bytes_scanned = 0;
  uint64_t discarded_bytes = 0;  // torn tail plus, with repair, every dropped range
  std::vector<std::string> dropped;  // "file@offset+bytes" per dropped range
  uint64_t max_seq = 0;
  uint64_t next_file_number = 1;
  double millis = 0;
  // "used" when open loaded CHECKPOINT and replayed only the log after it; otherwise why
  // it scanned everything ("none", "bad CRC", "segment 0000000003.hlog is missing", ...).
  std::string checkpoint = "none";
  uint64_t checkpoint_entries = 0;  // index entries loaded from it
  uint64_t replayed_bytes = 0;      // record bytes applied by the scan (all of them without a checkpoint)
};

// How far a running recovery is, for a progress display on another thread (relaxed atomics:
// the numbers only have to be roughly current).
struct RecoveryProgress {
  std::atomic<uint64_t> done{0};   // bytes of log scanned
  std::atomic<uint64_t> total{0};  // bytes of log to scan
};

struct RecoveryOptions {
  bool repair = false;
  bool read_only = false;  // change no file: report a torn tail, do not cut it
  uint64_t segment_size = 0;
  bool use_checkpoint = true;  // false: scan the whole log even with a valid CHECKPOINT
  RecoveryProgress* progress = nullptr;
};

// Fills `segments` (slot i = i-th file) and `index`, cutting off a torn tail. A newest
// segment whose header never reached the disk is removed (it held nothing acknowledged).
// A valid CHECKPOINT is loaded first and only the log after it is scanned; its hash key then
// replaces *hash_key (the tags in it were made with that key).
Status Recover(FileSystem* fs, const std::string& dir, const RecoveryOptions& options, HashKey* hash_key,
               SegmentTable* segments, HashIndex* index, ExpiryCounter* expiry, RecoveryReport* report);

// True if the record at `rec` holds exactly `key`.
inline bool RecordHasKey(const char* rec, Slice key) {
  RecordHeader h;
  DecodeHeader(rec, &h);
  return h.key_size == key.size && std::memcmp(rec + kRecordHeaderSize, key.data, key.size) == 0;
}

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_RECOVERY_H_
