// Compaction: the phases that run off the owner thread (copy, unlink).
#include "compaction.h"

#include <fcntl.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "log_format.h"

namespace hashlog {
namespace {

// One output file being written: records are gathered in a buffer and written in large
// pwrites, because the sources are read through their mappings, record by record.
class OutputWriter {
 public:
  OutputWriter(FileSystem* fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}
  ~OutputWriter() {
    if (fd_ >= 0) fs_->Close(fd_);
  }

  Status Start(uint64_t number) {
    number_ = number;
    path_ = dir_ + "/" + Segment::TempFileName(number);
    Status s = fs_->Open(path_, O_WRONLY | O_CREAT | O_EXCL, 0644, &fd_);
    if (!s.ok()) return s;
    buffer_.resize(kSegmentHeaderSize);
    EncodeSegmentHeader(buffer_.data(), number, kSegmentCompacted);
    size_ = kSegmentHeaderSize;
    flushed_ = 0;
    return Status::OK();
  }

  // Appends a record; returns its offset in the file.
  Status Add(const char* rec, size_t n, uint64_t* offset) {
    *offset = size_;
    buffer_.append(rec, n);
    size_ += n;
    return buffer_.size() >= kWriteSize ? Write() : Status::OK();
  }

  // Writes, syncs and closes the file (still under its temporary name).
  Status Finish() {
    Status s = Write();
    if (s.ok()) s = fs_->Fdatasync(fd_, path_);
    fs_->Close(fd_);
    fd_ = -1;
    return s;
  }

  uint64_t size() const { return size_; }
  uint64_t number() const { return number_; }

 private:
  static constexpr size_t kWriteSize = 1 << 20;

  Status Write() {
    if (buffer_.empty()) return Status::OK();
    Status s = fs_->Pwrite(fd_, buffer_.data(), buffer_.size(), flushed_, path_);
    if (s.ok()) flushed_ += buffer_.size();
    buffer_.clear();
    return s;
  }

  FileSystem* fs_;
  std::string dir_;
  std::string path_;
  uint64_t number_ = 0;
  int fd_ = -1;
  std::string buffer_;
  uint64_t size_ = 0;
  uint64_t flushed_ = 0;
};

// Sleeps as needed so that `bytes` since `start` stay under the rate; false if cancelled.
bool Throttle(double bytes_per_second, uint64_t bytes, std::chrono::steady_clock::time_point start,
              const std::atomic<bool>* cancel) {
  if (bytes_per_second <= 0) return !cancel->load(std::memory_order_relaxed);
  using Clock = std::chrono::steady_clock;
  const Clock::time_point due =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(static_cast<double>(bytes) / bytes_per_second));
  for (Clock::time_point now = Clock::now(); now < due; now = Clock::now()) {
    if (cancel->load(std::memory_order_relaxed)) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(due - now, std::chrono::milliseconds(20)));
  }
  return !cancel->load(std::memory_order_relaxed);
}

Status CopyInto(FileSystem* fs, const std::string& dir, CompactionJob* job, const std::atomic<bool>* cancel) {
  OutputWriter out(fs, dir);
  const auto start = std::chrono::steady_clock::now();
  bool started = false;
  for (CompactionJob::Move& m : job->moves) {
    const Segment* src = job->sources[m.source];
    RecordHeader h;
    // The copy is the only place the bytes are read again: a record that no longer checks
    // out stops the compaction instead of spreading.
    if (m.offset + uint64_t{m.size} > src->end ||
        DecodeRecord(src->base() + m.offset, m.size, &h) != DecodeResult::kOk || h.total_size() != m.size)
      return Status::Corruption("corrupt record in " + src->path() + " at offset " + std::to_string(m.offset));
    if (started && out.size() + m.size > job->max_output_size) {
      Status s = out.Finish();
      if (!s.ok()) return s;
      job->outputs.push_back({out.number(), out.size()});
      started = false;
    }
    if (!started) {
      if (job->outputs.size() >= job->output_numbers) return Status::Full("compaction ran out of file numbers");
      Status s = out.Start(job->first_output_number + job->outputs.size());
      if (!s.ok()) return s;
      started = true;
    }
    uint64_t offset;
    Status s = out.Add(src->base() + m.offset, m.size, &offset);
    if (!s.ok()) return s;
    m.output = static_cast<uint32_t>(job->outputs.size());
    m.to_offset = static_cast<uint32_t>(offset);
    job->bytes_written += m.size;
    if (!Throttle(job->bytes_per_second, job->bytes_written, start, cancel)) return Status::Closed();
  }
  if (started) {
    Status s = out.Finish();
    if (!s.ok()) return s;
    job->outputs.push_back({out.number(), out.size()});
  }
  return Status::OK();
}

}  // namespace

Status CopyLiveRecords(FileSystem* fs, const std::string& dir, CompactionJob* job, const std::atomic<bool>* cancel) {
  Status s = CopyInto(fs, dir, job, cancel);
  size_t renamed = 0;
  while (s.ok() && renamed < job->outputs.size()) {
    const uint64_t n = job->outputs[renamed].file_number;
    s = fs->Rename(dir + "/" + Segment::TempFileName(n), dir + "/" + Segment::FileName(n));
    if (s.ok()) renamed++;
  }
  if (s.ok()) s = fs->SyncDir(dir);
  if (s.ok()) return s;
  // Leave nothing behind: an output under its final name with its sources still there is
  // harmless (its records are copies), but it is garbage. Best effort: recovery removes
  // what stays of the temporary files.
  for (size_t i = 0; i < job->outputs.size() + 1 && i < job->output_numbers; i++) {
    const uint64_t n = job->first_output_number + i;
    Status u = fs->Unlink(dir + "/" + (i < renamed ? Segment::FileName(n) : Segment::TempFileName(n)));
    if (!u.ok() && i < renamed) job->orphaned = true;
  }
  if (renamed > 0 && !fs->SyncDir(dir).ok()) job->orphaned = true;
  job->outputs.clear();
  return s;
}

Status UnlinkSources(FileSystem* fs, const std::string& dir, CompactionJob* job) {
  if (!job->settled) return Status::InvalidArgument("compaction: unlink before settle");
  if (job->keep_sources) return Status::OK();
  for (; job->unlinked < job->sources.size(); job->unlinked++) {
    Status s = fs->Unlink(job->sources[job->unlinked]->path());
    // Already gone: an earlier unlink went through but its directory sync failed, and the
    // source stayed in the log; a later job deletes it again.
    if (!s.ok() && s.err() == ENOENT) s = Status::OK();
    if (s.ok()) s = fs->SyncDir(dir);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace hashlog
