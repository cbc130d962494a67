// The on-disk format: segment header and record layout. See docs/FORMAT.md, the normative
// description; lib/js/log-format.ts mirrors these constants byte for byte.
#ifndef HASHLOG_NATIVE_LOG_FORMAT_H_
#define HASHLOG_NATIVE_LOG_FORMAT_H_

#include <cstddef>
#include <cstdint>

#include "slice.h"

namespace hashlog {

// Segment file header: 32 bytes.
//   0  magic[8]  "HASHLOG\n"
//   8  u16       major version
//  10  u16       minor version
//  12  u32       flags: kSegmentCompacted or 0
//  16  u64       segment file number (also in the file name)
//  24  u32       reserved (0)
//  28  u32       masked CRC32C of bytes [0, 28)
constexpr char kSegmentMagic[8] = {'H', 'A', 'S', 'H', 'L', 'O', 'G', '\n'};
// An ordinary segment is version 1.0. Version 2 added compacted segments, which recovery
// scans before every other segment; only they are written as 2.0, so a store that never
// compacted stays readable by 1.x builds, and a 1.x build refuses a compacted segment
// instead of scanning it in the wrong order. This build reads both.
constexpr uint16_t kFormatMajor = 1;
constexpr uint16_t kFormatMinor = 0;
constexpr uint16_t kCompactedFormatMajor = 2;
// Segment flag: written by compaction; its records are copies of older records, in log order.
constexpr uint32_t kSegmentCompacted = 1;
constexpr size_t kSegmentHeaderSize = 32;

// Record: a 32-byte header, then the key, then the value.
//   0  u32  masked CRC32C of bytes [4, 32 + keyLen + valueLen)
//   4  u8   type (RecordType)
//   5  u8   flags (0)
//   6  u16  reserved (0)
//   8  u32  keyLen
//  12  u32  valueLen
//  16  u64  sequence number
//  24  u64  expiresAt, ms since the Unix epoch; 0 = never
constexpr size_t kRecordHeaderSize = 32;

enum RecordType : uint8_t {
  kTypeZero = 0,  // never written: a zero byte here means pre-allocated, unwritten space
  kTypePut = 1,
  kTypeDelete = 2,
  kTypeBatch = 3,  // keyLen 0; the value is a sequence of put/delete records, all or nothing
  kTypeClear = 4,  // keyLen 0, valueLen 0: every record before it is deleted
};

// Hard limits of the format (a store's configured limits are at most these).
constexpr uint32_t kMaxKeySize = 64 * 1024;
constexpr uint32_t kMaxValueSize = 1024u * 1024 * 1024;

struct RecordHeader {
  uint8_t type = 0;
  uint32_t key_size = 0;
  uint32_t value_size = 0;
  uint64_t seq = 0;
  uint64_t expires_at = 0;

  size_t total_size() const { return kRecordHeaderSize + key_size + value_size; }
};

inline size_t RecordSize(size_t key_size, size_t value_size) {
  return kRecordHeaderSize + key_size + value_size;
}

// Writes a complete record (header with CRC, key, value) to dst, which must hold RecordSize bytes.
void EncodeRecord(char* dst, RecordType type, uint64_t seq, uint64_t expires_at, Slice key, Slice value);
// Writes the header and CRC of a record whose key and value bytes are already at dst + 32
// (a batch, whose value is the inner records encoded in place).
void EncodeHeaderInPlace(char* dst, RecordType type, uint64_t seq, uint64_t expires_at, uint32_t key_size,
                         uint32_t value_size);

// Parses the header at p (kRecordHeaderSize bytes readable) without checking the CRC.
void DecodeHeader(const char* p, RecordHeader* h);

enum class DecodeResult {
  kOk,         // a whole, checksummed record
  kZero,       // the header bytes are all zero (pre-allocated space, or a zeroed page)
  kTruncated,  // fewer bytes available than the header claims
  kBadHeader,  // impossible type, flags or lengths
  kBadChecksum,
};

// Validates the record at p with `avail` readable bytes; fills *h when the header is sane.
DecodeResult DecodeRecord(const char* p, size_t avail, RecordHeader* h);

void EncodeSegmentHeader(char* dst, uint64_t file_number, uint32_t flags = 0);
// Validates a segment header; *file_number and *flags are set on kOk.
enum class HeaderResult { kOk, kZero, kBadMagic, kBadChecksum, kNewerMajor };
HeaderResult DecodeSegmentHeader(const char* p, uint64_t* file_number, uint16_t* major, uint16_t* minor,
                                 uint32_t* flags);

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_LOG_FORMAT_H_
