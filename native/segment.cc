// Segment: file creation, zero-fill growth, mapping and sealing.
#include "segment.h"

#include <fcntl.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>

#include "log_format.h"

namespace hashlog {

Segment::Segment(FileSystem* fs, const std::string& dir, uint64_t file_number, uint32_t slot)
    : fs_(fs), dir_(dir), path_(dir + "/" + FileName(file_number)), file_number_(file_number), slot_(slot) {}

Segment::~Segment() {
  if (base_ != nullptr) fs_->Release(base_, reserved_);
  if (fd_ >= 0) fs_->Close(fd_);
}

std::string Segment::FileName(uint64_t file_number) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%010" PRIu64 ".hlog", file_number);
  return buf;
}

bool Segment::ParseFileName(const std::string& name, uint64_t* file_number) {
  const std::string suffix = ".hlog";
  if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  std::string digits = name.substr(0, name.size() - suffix.size());
  if (digits.empty() || digits.size() > 19) return false;
  for (char c : digits)
    if (c < '0' || c > '9') return false;
  *file_number = std::strtoull(digits.c_str(), nullptr, 10);
  return true;
}

bool Segment::ParseTempFileName(const std::string& name, uint64_t* file_number) {
  const std::string suffix = ".tmp";
  if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  return ParseFileName(name.substr(0, name.size() - suffix.size()), file_number);
}

Status Segment::Create(uint64_t reserve) {
  Status s = CreateFile(reserve);
  if (!s.ok()) {
    // Leave no half-made segment behind: a later attempt starts from scratch.
    if (fd_ >= 0) {
      fs_->Close(fd_);
      fs_->Unlink(path_);
      fd_ = -1;
    }
    if (base_ != nullptr) fs_->Release(base_, reserved_);
    base_ = nullptr;
    mapped_ = file_size_ = 0;
  }
  return s;
}

Status Segment::CreateFile(uint64_t reserve) {
  reserved_ = RoundUp(std::max<uint64_t>(reserve, kSegmentHeaderSize), PageSize());
  void* p;
  Status s = fs_->Reserve(reserved_, &p);
  if (!s.ok()) return s;
  base_ = static_cast<char*>(p);
  s = fs_->Open(path_, O_RDWR | O_CREAT | O_EXCL, 0644, &fd_);
  if (!s.ok()) return s;
  char header[kSegmentHeaderSize];
  EncodeSegmentHeader(header, file_number_);
  s = fs_->Pwrite(fd_, header, sizeof(header), 0, path_);
  if (!s.ok()) return s;
  file_size_ = kSegmentHeaderSize;
  s = Map(PageSize());
  if (!s.ok()) return s;
  s = Sync();
  if (!s.ok()) return s;
  set_flushed_end(kSegmentHeaderSize);
  writable_ = true;
  return Status::OK();
}

Status Segment::Open(bool writable, uint64_t reserve) {
  Status s = fs_->Open(path_, writable ? O_RDWR : O_RDONLY, 0, &fd_);
  if (!s.ok()) return s;
  writable_ = writable;
  s = fs_->FileSize(fd_, &file_size_, path_);
  if (!s.ok()) return s;
  reserved_ = RoundUp(std::max<uint64_t>({reserve, file_size_, kSegmentHeaderSize}), PageSize());
  void* p;
  s = fs_->Reserve(reserved_, &p);
  if (!s.ok()) return s;
  base_ = static_cast<char*>(p);
  return Map(RoundUp(file_size_, PageSize()));
}

Status Segment::Map(uint64_t new_mapped) {
  if (new_mapped <= mapped_) return Status::OK();
  Status s = fs_->MapFile(base_ + mapped_, new_mapped - mapped_, fd_, mapped_, path_);
  if (s.ok()) mapped_ = new_mapped;
  return s;
}

Status Segment::EnsureAllocated(uint64_t need, uint64_t chunk) {
  if (chunk == 0) return Status::OK();
  if (need > file_size_) {
    // Whole chunks, at least half a chunk past `need`, never past the reservation.
    uint64_t target = std::max(need, std::min(RoundUp(need + chunk / 2, chunk), reserved_));
    Status s = fs_->Allocate(fd_, file_size_, target - file_size_, path_);
    if (!s.ok()) return s;
    file_size_ = target;
  }
  // Also when the file is already long enough: if mapping failed after a successful
  // allocation last time (a resumable error), the retry must map, or the records written
  // there would be read from unmapped memory (found by native/cc/fault_loop_test.cc).
  return Map(std::min(RoundUp(file_size_, PageSize()), reserved_));
}

Status Segment::Write(const char* data, size_t n, uint64_t off) {
  Status s = fs_->Pwrite(fd_, data, n, off, path_);
  if (!s.ok() || off + n <= file_size_) return s;
  file_size_ = off + n;
  return Map(std::min(RoundUp(file_size_, PageSize()), reserved_));
}

Status Segment::Sync() { return fs_->Fdatasync(fd_, path_); }

Status Segment::Seal(uint64_t at) {
  if (at >= file_size_) return Status::OK();
  // Never shrink a file under a live mapping: drop the mapped pages past the new end first.
  uint64_t keep = RoundUp(at, PageSize());
  if (keep < mapped_) {
    fs_->UnmapFile(base_ + keep, mapped_ - keep);
    mapped_ = keep;
  }
  Status s = fs_->Ftruncate(fd_, at, path_);
  if (s.ok()) file_size_ = at;
  return s;
}

Status Segment::TruncateTo(uint64_t at) {
  Status s = Seal(at);
  return s.ok() ? Sync() : s;
}

void Segment::Discard() {
  if (fd_ < 0) return;
  fs_->Unlink(path_);
}

}  // namespace hashlog
