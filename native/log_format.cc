// Encoding and validation of segment headers and records (docs/FORMAT.md).
#include "log_format.h"

#include <cstring>

#include "coding.h"
#include "crc32c.h"

namespace hashlog {
namespace {

bool AllZero(const char* p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0) return false;
  return true;
}

}  // namespace

void EncodeHeaderInPlace(char* dst, RecordType type, uint64_t seq, uint64_t expires_at, uint32_t key_size,
                         uint32_t value_size) {
  dst[4] = static_cast<char>(type);
  dst[5] = 0;
  EncodeFixed16(dst + 6, 0);
  EncodeFixed32(dst + 8, key_size);
  EncodeFixed32(dst + 12, value_size);
  EncodeFixed64(dst + 16, seq);
  EncodeFixed64(dst + 24, expires_at);
  uint32_t crc = crc32c::Value(dst + 4, kRecordHeaderSize - 4 + key_size + value_size);
  EncodeFixed32(dst, crc32c::Mask(crc));
}

void EncodeRecord(char* dst, RecordType type, uint64_t seq, uint64_t expires_at, Slice key, Slice value) {
  if (key.size > 0) std::memcpy(dst + kRecordHeaderSize, key.data, key.size);
  if (value.size > 0) std::memcpy(dst + kRecordHeaderSize + key.size, value.data, value.size);
  EncodeHeaderInPlace(dst, type, seq, expires_at, static_cast<uint32_t>(key.size), static_cast<uint32_t>(value.size));
}

void DecodeHeader(const char* p, RecordHeader* h) {
  h->type = static_cast<uint8_t>(p[4]);
  h->key_size = DecodeFixed32(p + 8);
  h->value_size = DecodeFixed32(p + 12);
  h->seq = DecodeFixed64(p + 16);
  h->expires_at = DecodeFixed64(p + 24);
}

DecodeResult DecodeRecord(const char* p, size_t avail, RecordHeader* h) {
  if (avail < kRecordHeaderSize) return AllZero(p, avail) ? DecodeResult::kZero : DecodeResult::kTruncated;
  if (AllZero(p, kRecordHeaderSize)) return DecodeResult::kZero;
  DecodeHeader(p, h);
  bool sane_type = h->type >= kTypePut && h->type <= kTypeClear;
  if (!sane_type || p[5] != 0 || DecodeFixed16(p + 6) != 0) return DecodeResult::kBadHeader;
  if (h->key_size > kMaxKeySize || (h->type == kTypePut && h->value_size > kMaxValueSize))
    return DecodeResult::kBadHeader;
  const bool keyless = h->type == kTypeBatch || h->type == kTypeClear;
  if (keyless ? h->key_size != 0 : h->key_size == 0) return DecodeResult::kBadHeader;
  if ((h->type == kTypeDelete || h->type == kTypeClear) && h->value_size != 0) return DecodeResult::kBadHeader;
  if (h->total_size() > avail) return DecodeResult::kTruncated;
  uint32_t crc = crc32c::Value(p + 4, h->total_size() - 4);
  if (crc32c::Mask(crc) != DecodeFixed32(p)) return DecodeResult::kBadChecksum;
  return DecodeResult::kOk;
}

void EncodeSegmentHeader(char* dst, uint64_t file_number, uint32_t flags) {
  std::memset(dst, 0, kSegmentHeaderSize);
  std::memcpy(dst, kSegmentMagic, sizeof(kSegmentMagic));
  EncodeFixed16(dst + 8, flags != 0 ? kCompactedFormatMajor : kFormatMajor);
  EncodeFixed16(dst + 10, kFormatMinor);
  EncodeFixed32(dst + 12, flags);
  EncodeFixed64(dst + 16, file_number);
  EncodeFixed32(dst + 28, crc32c::Mask(crc32c::Value(dst, 28)));
}

HeaderResult DecodeSegmentHeader(const char* p, uint64_t* file_number, uint16_t* major, uint16_t* minor,
                                 uint32_t* flags) {
  if (AllZero(p, kSegmentHeaderSize)) return HeaderResult::kZero;
  if (std::memcmp(p, kSegmentMagic, sizeof(kSegmentMagic)) != 0) return HeaderResult::kBadMagic;
  if (crc32c::Mask(crc32c::Value(p, 28)) != DecodeFixed32(p + 28)) return HeaderResult::kBadChecksum;
  *major = DecodeFixed16(p + 8);
  *minor = DecodeFixed16(p + 10);
  *file_number = DecodeFixed64(p + 16);
  *flags = DecodeFixed32(p + 12);
  // A newer minor version only adds what older readers may ignore; a newer major does not.
  if (*major > kCompactedFormatMajor) return HeaderResult::kNewerMajor;
  return HeaderResult::kOk;
}

}  // namespace hashlog
