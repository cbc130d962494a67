// Checkpoint: serialising the index and segment list, the atomic file replacement, and
// reading a checkpoint back (docs/FORMAT.md, "Checkpoint").
#include "checkpoint.h"

#include <fcntl.h>
#include <sys/mman.h>

#include <cerrno>
#include <chrono>

#include "coding.h"
#include "crc32c.h"
#include "log_format.h"

namespace hashlog {

Status CheckpointBuffer::Allocate(size_t n) {
  Free();
  void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return Status::FromErrno("mmap", "(checkpoint)", errno);
  if (n >= (2u << 20)) ::madvise(p, n, MADV_HUGEPAGE);
  data_ = static_cast<char*>(p);
  size_ = n;
  return Status::OK();
}

void CheckpointBuffer::Free() {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

Status BuildCheckpoint(const HashKey& key, uint64_t max_seq, const std::vector<Segment*>& segments,
                     const HashIndex& index, const ExpiryCounter& expiry, CheckpointImage* out) {
  const auto start = std::chrono::steady_clock::now();
  size_t expiry_count = 0;
  expiry.ForEachSecond([&](uint64_t, uint64_t) { expiry_count++; });
  const size_t size = kCheckpointHeaderSize + segments.size() * kCheckpointSegmentSize +
                      expiry_count * kCheckpointExpirySize + index.size() * kCheckpointEntrySize;
  Status s = out->bytes.Allocate(size);
  if (!s.ok()) return s;
  char* p = out->bytes.data();
  std::memcpy(p, kCheckpointMagic, 8);
  EncodeFixed16(p + 8, kCheckpointMajor);
  EncodeFixed16(p + 10, kCheckpointMinor);
  EncodeFixed32(p + 12, kHashSipHash13);
  EncodeFixed64(p + 16, key.k0);
  EncodeFixed64(p + 24, key.k1);
  EncodeFixed64(p + 32, max_seq);
  EncodeFixed32(p + 40, static_cast<uint32_t>(segments.size()));
  EncodeFixed32(p + 44, static_cast<uint32_t>(expiry_count));
  EncodeFixed64(p + 48, index.bucket_count());
  EncodeFixed64(p + 56, index.size());
  p += kCheckpointHeaderSize;
  // An entry names its segment by position in this list, not by slot: the slot is an
  // in-memory handle that need not survive a restart.
  constexpr uint64_t kUnlisted = ~uint64_t{0};
  std::vector<uint64_t> ordinal_of_slot(kMaxSegmentSlots + 1, kUnlisted);
  for (size_t i = 0; i < segments.size(); i++) {
    const Segment* seg = segments[i];
    // A segment the flush thread has not created yet gets the header it will write (flags 0).
    const uint32_t flags = seg->flushed_end() >= kSegmentHeaderSize ? DecodeFixed32(seg->base() + 12) : 0;
    EncodeFixed64(p, seg->file_number());
    EncodeFixed32(p + 8, flags);
    EncodeFixed32(p + 12, 0);
    EncodeFixed64(p + 16, seg->end);
    EncodeFixed64(p + 24, seg->live_bytes);
    ordinal_of_slot[seg->slot()] = i;
    out->segments.push_back(seg);
    p += kCheckpointSegmentSize;
  }
  expiry.ForEachSecond([&](uint64_t sec, uint64_t n) {
    EncodeFixed64(p, sec);
    EncodeFixed64(p + 8, n);
    p += kCheckpointExpirySize;
  });
  constexpr uint64_t kSlotMask = uint64_t{0xffff} << 32;
  bool unlisted = false;
  index.ForEachEntry([&](uint32_t tag, uint64_t word) {
    const uint64_t ordinal = ordinal_of_slot[LocationSlot(word)];
    unlisted |= ordinal == kUnlisted;
    EncodeFixed32(p, tag);
    EncodeFixed64(p + 4, (word & ~kSlotMask) | (ordinal << 32));
    p += kCheckpointEntrySize;
  });
  // An entry in a segment outside the log order: a compaction's output while it is being
  // installed, or a source kept after a rollback. Such a checkpoint could not be loaded.
  if (unlisted)
    return Status::FromErrno("checkpoint", "(an index entry points outside the log: a compaction is running)", EAGAIN);
  out->max_seq = max_seq;
  out->build_millis = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return Status::OK();
}

uint32_t CheckpointTailCrc(const Segment& seg, uint64_t end) {
  const uint64_t from = end > kSegmentHeaderSize + kCheckpointTailBytes ? end - kCheckpointTailBytes : kSegmentHeaderSize;
  return crc32c::Mask(end > from ? crc32c::Value(seg.base() + from, end - from) : 0);
}

void FinishCheckpoint(CheckpointImage* image) {
  char* p = image->bytes.data() + kCheckpointHeaderSize;
  for (const Segment* seg : image->segments) {
    EncodeFixed32(p + 12, CheckpointTailCrc(*seg, DecodeFixed64(p + 16)));
    p += kCheckpointSegmentSize;
  }
}

Status WriteCheckpoint(FileSystem* fs, const std::string& dir, const CheckpointImage& image) {
  const std::string tmp = dir + "/" + kCheckpointTmpName;
  const std::string path = dir + "/" + kCheckpointName;
  char crc[4];
  EncodeFixed32(crc, crc32c::Mask(crc32c::Value(image.bytes.data(), image.bytes.size())));
  int fd = -1;
  Status s = fs->Open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644, &fd);
  if (!s.ok()) return s;
  s = fs->Pwrite(fd, image.bytes.data(), image.bytes.size(), 0, tmp);
  if (s.ok()) s = fs->Pwrite(fd, crc, sizeof(crc), image.bytes.size(), tmp);
  // The contents must be on disk before the name points at them: a rename that reaches the
  // disk first would leave a CHECKPOINT with holes after a power cut.
  if (s.ok()) s = fs->Fdatasync(fd, tmp);
  fs->Close(fd);
  if (s.ok()) s = fs->Rename(tmp, path);
  if (!s.ok()) {
    fs->Unlink(tmp);  // best effort; open removes a stale one too
    return s;
  }
  return fs->SyncDir(dir);
}

bool ReadCheckpoint(FileSystem* fs, const std::string& dir, LoadedCheckpoint* out, std::string* why) {
  const std::string path = dir + "/" + kCheckpointName;
  int fd = -1;
  Status s = fs->Open(path, O_RDONLY, 0, &fd);
  if (!s.ok()) {
    *why = s.err() == ENOENT ? "none" : "unreadable: " + s.message();
    return false;
  }
  uint64_t size = 0;
  s = fs->FileSize(fd, &size, path);
  if (s.ok() && size >= kCheckpointHeaderSize + 4) {
    s = out->bytes.Allocate(size);
    size_t got = 0;
    if (s.ok()) s = fs->Pread(fd, out->bytes.data(), size, 0, &got, path);
    if (s.ok() && got != size) size = 0;
  }
  fs->Close(fd);
  if (!s.ok()) {
    *why = "unreadable: " + s.message();
    return false;
  }
  if (size < kCheckpointHeaderSize + 4) {
    *why = "truncated";
    return false;
  }
  const char* p = out->bytes.data();
  if (std::memcmp(p, kCheckpointMagic, 8) != 0) {
    *why = "bad magic";
    return false;
  }
  if (crc32c::Unmask(DecodeFixed32(p + size - 4)) != crc32c::Value(p, size - 4)) {
    *why = "bad CRC";
    return false;
  }
  if (DecodeFixed16(p + 8) != kCheckpointMajor) {
    *why = "version " + std::to_string(DecodeFixed16(p + 8)) + "." + std::to_string(DecodeFixed16(p + 10));
    return false;
  }
  if (DecodeFixed32(p + 12) != kHashSipHash13) {
    *why = "hash function " + std::to_string(DecodeFixed32(p + 12)) + " (another engine's)";
    return false;
  }
  out->key.k0 = DecodeFixed64(p + 16);
  out->key.k1 = DecodeFixed64(p + 24);
  out->max_seq = DecodeFixed64(p + 32);
  const uint64_t nseg = DecodeFixed32(p + 40);
  out->expiry_count = DecodeFixed32(p + 44);
  out->bucket_count = DecodeFixed64(p + 48);
  out->entry_count = DecodeFixed64(p + 56);
  const uint64_t nb = out->bucket_count;
  // A table of that many buckets must be one HashIndex can make, and hold the entries.
  if (nb < 8 || nb > (uint64_t{1} << 31) || (nb & (nb - 1)) != 0 || nseg > kMaxSegmentSlots ||
      out->entry_count > nb * HashIndex::kWays * HashIndex::kMaxLoadNum / HashIndex::kMaxLoadDen) {
    *why = "inconsistent header";
    return false;
  }
  const uint64_t want = kCheckpointHeaderSize + nseg * kCheckpointSegmentSize +
                        out->expiry_count * kCheckpointExpirySize + out->entry_count * kCheckpointEntrySize + 4;
  if (want != size) {
    *why = "size does not match its header";
    return false;
  }
  const char* q = p + kCheckpointHeaderSize;
  for (uint64_t i = 0; i < nseg; i++, q += kCheckpointSegmentSize) {
    CheckpointSegment seg;
    seg.file_number = DecodeFixed64(q);
    seg.flags = DecodeFixed32(q + 8);
    seg.tail_crc = DecodeFixed32(q + 12);
    seg.covered_end = DecodeFixed64(q + 16);
    seg.live_bytes = DecodeFixed64(q + 24);
    if (seg.covered_end < kSegmentHeaderSize || seg.covered_end > (uint64_t{1} << 32)) {
      *why = "inconsistent segment list";
      return false;
    }
    out->segments.push_back(seg);
  }
  out->expiry_at = static_cast<size_t>(q - p);
  out->entries_at = out->expiry_at + out->expiry_count * kCheckpointExpirySize;
  return true;
}

}  // namespace hashlog
