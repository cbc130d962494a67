// LogWriter: the group-commit flush thread and the owner's side of the hand-off.
#include "log_writer.h"

#include <algorithm>
#include <cstring>

#include "log_format.h"

namespace hashlog {

char* ByteBuffer::Extend(size_t n) {
  if (size_ + n > capacity_) {
    size_t cap = std::max<size_t>({size_ + n, capacity_ * 2, 64 * 1024});
    std::unique_ptr<char[]> fresh(new char[cap]);
    if (size_ > 0) std::memcpy(fresh.get(), data_.get(), size_);
    data_ = std::move(fresh);
    capacity_ = cap;
  }
  char* p = data_.get() + size_;
  size_ += n;
  return p;
}

LogWriter::LogWriter(FileSystem* fs, std::string dir, bool sync_each_group, uint32_t flush_interval_ms,
                     uint64_t prealloc_chunk, Segment* active, Notify notify)
    : fs_(fs),
      dir_(std::move(dir)),
      sync_each_group_(sync_each_group),
      interval_(flush_interval_ms),
      prealloc_chunk_(prealloc_chunk),
      notify_(std::move(notify)),
      current_(active) {
  open_.gen = 1;
}

LogWriter::~LogWriter() { Stop(); }

void LogWriter::Start() { thread_ = std::thread([this] { Run(); }); }

void LogWriter::Stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

char* LogWriter::Append(Segment* segment, uint64_t offset, size_t n) {
  if (sleeping_) {
    sleeping_ = false;
    kick_ = true;
  }
  if (!open_.chunks.empty()) {
    CommitGroup::Chunk& last = open_.chunks.back();
    if (last.segment == segment && last.file_offset + last.size == offset) {
      last.size += n;
      return open_.buffer.Extend(n);
    }
  }
  open_.chunks.push_back({segment, offset, open_.buffer.size(), n});
  return open_.buffer.Extend(n);
}

void LogWriter::Kick() {
  if (kick_) {
    kick_ = false;
    cv_.notify_one();
  }
}

const char* LogWriter::FindPending(const Segment* segment, uint64_t offset, size_t n) const {
  for (const CommitGroup* g : {&writing_, &open_}) {
    for (const CommitGroup::Chunk& c : g->chunks) {
      if (c.segment == segment && offset >= c.file_offset && offset + n <= c.file_offset + c.size)
        return g->buffer.data() + c.buffer_offset + (offset - c.file_offset);
    }
  }
  return nullptr;
}

uint64_t LogWriter::RequestSync() {
  uint64_t gen;
  {
    std::lock_guard<std::mutex> lk(mu_);
    // The newest generation holding records: the open group, else the one being written.
    gen = !open_.empty() ? open_.gen : !writing_.empty() ? writing_.gen : written_gen_;
    if (gen <= synced_gen_) return gen;
    sync_requested_gen_ = std::max(sync_requested_gen_, gen);
    sleeping_ = false;
  }
  cv_.notify_one();
  return gen;
}

void LogWriter::TakeForRollback(std::vector<UndoEntry>* undo, uint64_t* first_gen, uint64_t* last_gen,
                                Segment** start_segment, uint64_t* start_offset) {
  std::lock_guard<std::mutex> lk(mu_);
  undo->clear();
  for (const CommitGroup* g : {&open_, &writing_})
    for (auto it = g->undo.rbegin(); it != g->undo.rend(); ++it) undo->push_back(*it);
  const CommitGroup& first = writing_.empty() ? open_ : writing_;
  *first_gen = first.gen;
  *last_gen = open_.gen;
  *start_segment = first.empty() ? nullptr : first.chunks[0].segment;
  *start_offset = first.empty() ? 0 : first.chunks[0].file_offset;
  writing_.Clear();
  open_.Clear();
  open_.gen++;
  // Rolled-back generations count as written (the owner rejects them), so that later
  // generations can complete; the next sync still covers what was really written.
  written_gen_ = std::max(written_gen_, open_.gen - 1);
}

void LogWriter::Resume(Segment* current) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    current_ = current;
    stalled_ = false;
  }
  // Wake the thread from its stalled wait: the rolled-back generations count as written,
  // and a write that waits on one without appending (a delete of an absent key) would
  // otherwise wait for the next append's kick, forever if none comes (found by
  // native/cc/fault_loop_test.cc).
  cv_.notify_one();
}

void LogWriter::Run() {
  std::unique_lock<std::mutex> lk(mu_);
  auto last_sync = std::chrono::steady_clock::now();
  for (;;) {
    if (stalled_) {
      if (stop_) return;
      sleeping_ = true;
      cv_.wait(lk);
      continue;
    }
    auto now = std::chrono::steady_clock::now();
    const bool have = !open_.empty();
    const bool unsynced = written_gen_ > synced_gen_;
    const bool due = now - last_sync >= interval_;
    const bool sync_asked = sync_requested_gen_ > synced_gen_;
    if (!have && !(unsynced && (sync_asked || due || stop_))) {
      if (stop_) return;
      sleeping_ = true;
      if (unsynced)
        cv_.wait_until(lk, last_sync + interval_);
      else
        cv_.wait(lk);
      continue;
    }
    sleeping_ = false;
    if (have) {
      std::swap(open_, writing_);
      open_.gen = writing_.gen + 1;
    }
    const bool do_sync = sync_each_group_ || sync_asked || due || stop_;
    lk.unlock();

    bool wrote = false;
    Status s;
    if (have) s = WriteGroup(writing_, &wrote);
    if (s.ok() && do_sync) {
      s = SyncDirty();
      if (!s.ok()) s = Status::Failed(s);  // the kernel may have dropped the dirty pages
      last_sync = now;
    } else if (!s.ok() && wrote) {
      s = Status::Failed(s);  // records may be half on disk: only a reopen can tell
    }

    lk.lock();
    if (s.ok()) {
      if (have) {
        for (const CommitGroup::Chunk& c : writing_.chunks) c.segment->set_flushed_end(c.file_offset + c.size);
        written_gen_ = writing_.gen;
        writing_.Clear();
      }
      if (do_sync) synced_gen_ = written_gen_;
    } else {
      stalled_ = true;
    }
    FlushEvent ev{written_gen_, synced_gen_, s};
    lk.unlock();
    notify_(ev);
    lk.lock();
  }
}

Status LogWriter::Prepare(const CommitGroup& g) {
  for (const CommitGroup::Chunk& c : g.chunks) {
    Segment* seg = c.segment;
    if (!seg->created()) {
      if (current_ != nullptr && current_ != seg) {
        Status s = current_->Seal(current_->sealed_at);
        if (!s.ok()) return s;
        // The shrink must be durable before a successor exists: a power cut could otherwise
        // leave the sealed segment with its synced zero-filled tail, which recovery reads as
        // damage in the middle of the log (found by native/cc/power_cut_test.cc). The file
        // holds acknowledged records, so a failed sync here is fail-stop like any other.
        s = current_->Sync();
        if (!s.ok()) return Status::Failed(s);
        fsyncs_++;
      }
      Status s = seg->Create(seg->reserve);
      if (s.ok()) s = fs_->SyncDir(dir_);
      if (!s.ok()) return s;
      fsyncs_ += 2;
    }
    current_ = seg;
    Status s = seg->EnsureAllocated(c.file_offset + c.size, prealloc_chunk_);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Status LogWriter::WriteGroup(const CommitGroup& g, bool* wrote_records) {
  // Every file the group needs exists and is allocated before its first record is written,
  // so running out of space fails the group cleanly (resumable) rather than half-written.
  Status s = Prepare(g);
  if (!s.ok()) return s;
  for (size_t i = 0; i < g.chunks.size(); i++) {
    const CommitGroup::Chunk& c = g.chunks[i];
    *wrote_records = true;
    s = c.segment->Write(g.buffer.data() + c.buffer_offset, c.size, c.file_offset);
    if (!s.ok()) return s;
    if (dirty_.empty() || dirty_.back() != c.segment) dirty_.push_back(c.segment);
    if (i + 1 < g.chunks.size() && g.chunks[i + 1].segment != c.segment) {
      // A sealed segment is made durable before any record reaches its successor, so that
      // a crash leaves damage only at the very end of the log (recovery.h).
      s = SyncDirty();
      if (!s.ok()) return s;
    }
  }
  return Status::OK();
}

Status LogWriter::SyncDirty() {
  for (Segment* seg : dirty_) {
    Status s = seg->Sync();
    if (!s.ok()) return s;
    fsyncs_++;
  }
  dirty_.clear();
  return Status::OK();
}

}  // namespace hashlog
