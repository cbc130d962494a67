// Store: the owner-thread phases of a compaction (compaction.h) and the segment listing
// that the policy in lib/compaction.ts reads.
#include <cerrno>

#include <algorithm>

#include "store.h"

namespace hashlog {

size_t Store::CompactableCount() const {
  size_t n = 0;
  while (n < log_.size() && log_[n]->compacted()) n++;
  // An ordinary segment may go once the segment after it has a synced group: every record
  // in it is then durable (a failed group can no longer roll back to it), and the flush
  // thread has moved on for good. The active segment never goes.
  while (n + 1 < log_.size() && !log_[n]->compacted() && log_[n + 1]->first_gen != Segment::kNoGen &&
         log_[n + 1]->first_gen <= synced_gen_)
    n++;
  return n;
}

std::vector<Store::SegmentInfo> Store::Segments() const {
  std::vector<SegmentInfo> out;
  const size_t compactable = closed_ ? 0 : CompactableCount();
  for (size_t i = 0; i < log_.size(); i++) {
    const Segment* seg = log_[i];
    out.push_back({Segment::FileName(seg->file_number()), seg->flags, seg->end - kSegmentHeaderSize,
                   seg->live_bytes, i < compactable});
  }
  return out;
}

Status Store::CompactStart(const CompactOptions& options, bool* started) {
  *started = false;
  Status s = CheckWritable();
  if (!s.ok()) return s;
  if (job_) return Status::InvalidArgument("a compaction is already running");
  size_t n = CompactableCount();
  if (options.keep_from_file != 0) {
    size_t keep = 0;
    while (keep < n && (log_[keep]->compacted() || log_[keep]->file_number() < options.keep_from_file)) keep++;
    n = keep;
  }
  uint64_t bytes = 0, live = 0;
  for (size_t i = 0; i < n; i++) {
    bytes += log_[i]->end - kSegmentHeaderSize;
    live += log_[i]->live_bytes;
  }
  // No garbage in reach (or nothing at all), unless keys expired: their records count as
  // live bytes until a job drops them.
  if (bytes == live && expiry_.Expired(NowMs()) == 0) return Status::OK();
  auto job = std::make_unique<CompactionJob>();
  job->sources.assign(log_.begin(), log_.begin() + n);
  // Offsets in a segment are 32-bit: an output stays below 4 GiB.
  const uint64_t max_out = options.max_output_size != 0 ? options.max_output_size : options_.segment_size;
  job->max_output_size = std::min<uint64_t>(std::max<uint64_t>(max_out, kSegmentHeaderSize + 1), 0xffffffffull);
  // An output is closed only when the next record does not fit after the header, so any two
  // consecutive outputs hold more than (max - header) record bytes: at most
  // 2 * live / (max - header) + 1 of them (with max alone, records just under half of it,
  // one per output, ran out of numbers). Numbers are reserved now because the writer takes
  // new ones too.
  job->output_numbers = 2 * live / (job->max_output_size - kSegmentHeaderSize) + 2;
  job->first_output_number = next_file_number_;
  next_file_number_ += job->output_numbers;
  job->bytes_per_second = options.bytes_per_second;
  job->bytes_read = bytes;
  job->failures_at_start = failures_;
  job_ = std::move(job);
  *started = true;
  return Status::OK();
}

void Store::MarkRecord(const MarkCandidate& c) {
  const Location loc = MakeLocation(job_->sources[c.source]->slot(), c.offset);
  // Live means the index points at exactly this record: no key comparison needed.
  if (!index_.Find(c.hash, [&](Location l) { return l == loc; })) return;
  if (c.expires_at != 0 && c.expires_at <= NowMs())
    job_->drops.push_back({c.source, c.offset, c.hash, c.size, c.expires_at});
  else
    job_->moves.push_back({c.source, c.offset, c.hash, c.size});
}

size_t Store::MarkRecords(size_t source, size_t budget) {
  const Segment* seg = job_->sources[source];
  const char* base = seg->base();
  uint64_t pos = std::max<uint64_t>(job_->mark_offset, kSegmentHeaderSize);
  size_t done = 0;
  // Puts are probed in windows: hash a window's keys and prefetch their buckets first, so
  // that the index's cache misses overlap (as recovery's scan does).
  constexpr int kWindow = 16;
  MarkCandidate window[kWindow];
  int pending = 0;
  auto flush = [&]() {
    for (int i = 0; i < pending; i++) MarkRecord(window[i]);
    pending = 0;
  };
  auto candidate = [&](uint64_t offset, const RecordHeader& h) {
    const uint64_t hash = SipHash13(hash_key_, base + offset + kRecordHeaderSize, h.key_size);
    index_.Prefetch(hash);
    window[pending++] = {static_cast<uint32_t>(source), static_cast<uint32_t>(offset), hash,
                         static_cast<uint32_t>(h.total_size()), h.expires_at};
    if (pending == kWindow) flush();
  };
  while (pos < seg->end && done < budget) {
    RecordHeader h;
    if (DecodeRecord(base + pos, seg->end - pos, &h) != DecodeResult::kOk) {
      // Only a store opened with repair has damaged ranges inside its segments (recovery
      // stepped over them); step over them the same way, to the next intact record.
      uint64_t next = pos + 1;
      while (next + kRecordHeaderSize <= seg->end && DecodeRecord(base + next, seg->end - next, &h) != DecodeResult::kOk)
        next++;
      if (next + kRecordHeaderSize > seg->end) next = seg->end;
      job_->skipped_bytes += next - pos;
      pos = next;
      continue;
    }
    if (h.type == kTypePut) {
      candidate(pos, h);
    } else if (h.type == kTypeBatch) {
      // Inner records are indexed one by one; the copies are plain records (a batch's
      // all-or-nothing promise is kept: it is whole on disk already).
      for (uint64_t p = pos + kRecordHeaderSize; p < pos + h.total_size();) {
        RecordHeader inner;
        DecodeHeader(base + p, &inner);
        if (inner.type == kTypePut) candidate(p, inner);
        p += inner.total_size();
        done++;
      }
    }
    // Deletes and clears are dropped: nothing older than the job's sources exists for them
    // to delete, and the records they deleted are not copied.
    pos += h.total_size();
    done++;
  }
  flush();
  job_->mark_offset = pos;
  return done;
}

bool Store::CompactMark(size_t budget) {
  if (!job_) return true;
  size_t used = 0;
  while (job_->mark_source < job_->sources.size() && used < budget) {
    used += MarkRecords(job_->mark_source, budget - used);
    if (job_->mark_offset >= job_->sources[job_->mark_source]->end) {
      job_->mark_source++;
      job_->mark_offset = 0;
    }
  }
  return job_->mark_source >= job_->sources.size();
}

Status Store::CompactCopy() {
  std::lock_guard<std::mutex> lk(bg_mu_);
  if (cancel_.load(std::memory_order_relaxed)) return Status::Closed();
  if (!job_) return Status::InvalidArgument("no compaction is running");
  return CopyLiveRecords(fs_, dir_, job_.get(), &cancel_);
}

Status Store::MapOutputs() {
  for (size_t i = job_->mapped.size(); i < job_->outputs.size(); i++) {
    const CompactionJob::Output& o = job_->outputs[i];
    auto seg = std::make_unique<Segment>(fs_, dir_, o.file_number, 0);
    Status s = seg->Open(false, 0);
    if (!s.ok()) return s;
    seg->flags = kSegmentCompacted;
    seg->end = o.size;
    seg->set_flushed_end(o.size);
    seg->first_gen = 0;
    Segment* raw = seg.get();
    s = TakeSlot(std::move(seg));
    if (!s.ok()) return s;
    job_->mapped.push_back(raw);
  }
  return Status::OK();
}

Status Store::CompactInstall(size_t budget, bool* done) {
  *done = true;
  if (closed_) return Status::Closed();
  if (!job_) return Status::OK();
  CompactionJob* job = job_.get();
  if (job->installed) return Status::OK();
  *done = false;
  Status s = MapOutputs();
  if (!s.ok()) return s;
  size_t used = 0;
  for (; job->install_next < job->moves.size() && used < budget; job->install_next++, used++) {
    const CompactionJob::Move& m = job->moves[job->install_next];
    Segment* src = job->sources[m.source];
    Segment* dst = job->mapped[m.output];
    const Location from = MakeLocation(src->slot(), m.offset);
    HashIndex::Ref ref = index_.Find(m.hash, [&](Location l) { return l == from; });
    if (!ref) continue;  // overwritten or deleted since it was marked: the newer record wins
    index_.Replace(ref, MakeLocation(dst->slot(), m.to_offset));
    src->live_bytes -= m.size;
    dst->live_bytes += m.size;
  }
  for (; job->drop_next < job->drops.size() && used < budget; job->drop_next++, used++) {
    const CompactionJob::Drop& d = job->drops[job->drop_next];
    Segment* src = job->sources[d.source];
    const Location at = MakeLocation(src->slot(), d.offset);
    HashIndex::Ref ref = index_.Find(d.hash, [&](Location l) { return l == at; });
    if (!ref) continue;
    index_.Erase(ref);
    expiry_.Remove(d.expires_at);
    src->live_bytes -= d.size;
  }
  if (job->install_next < job->moves.size() || job->drop_next < job->drops.size()) return Status::OK();
  // The sources were the front of the log, and nothing but a job removes from the front.
  std::vector<Segment*> log(job->mapped);
  log.insert(log.end(), log_.begin() + job->sources.size(), log_.end());
  log_.swap(log);
  RecountLogBytes();
  job->gen_after_install = last_gen_;
  job->installed = true;
  *done = true;
  return Status::OK();
}

bool Store::CompactSettle() {
  if (!job_ || !job_->installed) return false;
  CompactionJob* job = job_.get();
  if (job->settled) return true;
  if (failures_ == job->failures_at_start && synced_gen_ < job->gen_after_install) return false;
  if (failures_ != job->failures_at_start) {
    job->keep_sources = true;
    KeepRemainingSources();
  }
  job->settled = true;
  return true;
}

void Store::KeepRemainingSources() {
  CompactionJob* job = job_.get();
  if (job->sources_in_log || job->unlinked >= job->sources.size()) return;
  // The log starts with the outputs (nothing but a job removes from its front, and this is
  // the only job). Kept sources after them: the state "outputs and the sources after a
  // deleted prefix of them" of docs/FORMAT.md, which recovery reads the same way. Out of the
  // log, a later job would neither copy nor delete them, and the reopen after it would
  // replay their old records over the newer ones.
  log_.insert(log_.begin() + job->mapped.size(), job->sources.begin() + job->unlinked, job->sources.end());
  RecountLogBytes();
  job->sources_in_log = true;
}

Status Store::CompactUnlink() {
  std::lock_guard<std::mutex> lk(bg_mu_);
  if (cancel_.load(std::memory_order_relaxed)) return Status::Closed();
  if (!job_) return Status::InvalidArgument("no compaction is running");
  return UnlinkSources(fs_, dir_, job_.get());
}

bool Store::CompactRetire(bool readers_idle) {
  if (!job_) return true;
  CompactionJob* job = job_.get();
  // A source unlink did not delete (it failed, or the job kept them) stays in the log.
  if (job->installed) KeepRemainingSources();
  const size_t gone = job->keep_sources ? 0 : job->unlinked;
  if (failures_ == job->failures_at_start) {
    // A write that was in flight during install may still roll back to a source record:
    // wait until it is durable.
    if (synced_gen_ < job->gen_after_install || !readers_idle) return false;
    for (size_t i = 0; i < gone; i++) FreeSlot(job->sources[i]->slot());
  }
  // else: a rollback may have pointed an entry back at a source; the sources stay mapped
  // (and their slots taken) until Close.
  compactions_++;
  if (!job->keep_sources) compacted_read_ += job->bytes_read;
  compacted_written_ += job->bytes_written;
  job_.reset();
  return true;
}

void Store::CompactAbort() {
  if (!job_) return;
  // No entry points at an output yet (install moves none before every output is mapped).
  // Outputs already renamed into place must go, like a failed copy's (compaction.h).
  bool orphaned = job_->orphaned;
  for (Segment* seg : job_->mapped) FreeSlot(seg->slot());
  for (const CompactionJob::Output& o : job_->outputs)
    if (!fs_->Unlink(dir_ + "/" + Segment::FileName(o.file_number)).ok()) orphaned = true;
  if (!job_->outputs.empty() && !fs_->SyncDir(dir_).ok()) orphaned = true;
  if (orphaned && failed_.ok())
    failed_ = Status::Failed(Status::FromErrno("unlink", dir_ + " (a compaction output)", EIO));
  job_.reset();
}

}  // namespace hashlog
