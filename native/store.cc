// Store: the read and write paths, rollback after a failed commit, open and close.
#include "store.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "log_format.h"

namespace hashlog {
namespace {

uint64_t NowMillis() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

bool Expired(const RecordHeader& h) { return h.expires_at != 0 && h.expires_at <= NowMillis(); }

}  // namespace

Store::Store(FileSystem* fs, std::string dir, const StoreOptions& options)
    : fs_(fs), dir_(std::move(dir)), options_(options), lock_(fs), hash_key_(HashKey::Random()) {}

Store::~Store() { Close(); }

Status Store::Open(FileSystem* fs, const std::string& dir, const StoreOptions& options, Notify notify,
                   std::unique_ptr<Store>* out) {
  std::unique_ptr<Store> store(new Store(fs, dir, options));
  Status s = fs->CreateDir(dir);
  if (s.ok()) s = store->lock_.Acquire(dir);
  if (s.ok()) s = store->Recover(std::move(notify));
  if (!s.ok()) {
    store->closed_ = true;  // nothing to flush; the destructor just releases
    return s;
  }
  *out = std::move(store);
  return Status::OK();
}

Status Store::Recover(Notify notify) {
  Status s = index_.Init(0);
  if (!s.ok()) return s;
  RecoveryOptions ro;
  ro.repair = options_.repair;
  ro.segment_size = options_.segment_size;
  s = hashlog::Recover(fs_, dir_, ro, hash_key_, &segments_, &index_, &recovery_);
  if (!s.ok()) return s;
  seq_ = recovery_.max_seq;
  next_file_number_ = recovery_.next_file_number;
  if (segments_.empty() || !segments_.back()->writable()) {
    if (segments_.size() >= kMaxSegmentSlots) return Status::Full("too many segments");
    auto seg = std::make_unique<Segment>(fs_, dir_, next_file_number_++, static_cast<uint32_t>(segments_.size()));
    seg->reserve = options_.segment_size;
    s = seg->Create(seg->reserve);
    if (s.ok()) s = fs_->SyncDir(dir_);
    if (!s.ok()) return s;
    seg->end = kSegmentHeaderSize;
    segments_.push_back(std::move(seg));
  }
  active_ = segments_.back().get();
  // Zero-fill ahead only when every group is synced: with durability "none" syncs are rare,
  // and writing each byte twice would cost more than the metadata commits it saves.
  const uint64_t chunk =
      options_.sync ? std::min(options_.prealloc_chunk, RoundUp(options_.segment_size, PageSize())) : 0;
  writer_ = std::make_unique<LogWriter>(fs_, dir_, options_.sync, options_.flush_interval_ms, chunk, active_,
                                        std::move(notify));
  writer_->Start();
  return Status::OK();
}

Status Store::CheckWritable() const {
  if (closed_) return Status::Closed();
  if (!failed_.ok()) return failed_;
  return Status::OK();
}

const char* Store::RecordAt(Location loc, std::unique_lock<std::mutex>* lk) const {
  const Segment* seg = segments_[LocationSlot(loc)].get();
  uint64_t off = LocationOffset(loc);
  // Commit groups hold whole records, so a record that starts below flushed_end is whole.
  if (off < seg->flushed_end()) return seg->base() + off;
  if (!lk->owns_lock()) lk->lock();
  if (off < seg->flushed_end()) return seg->base() + off;
  return writer_->FindPending(seg, off, kRecordHeaderSize);
}

HashIndex::Ref Store::FindKey(uint64_t hash, Slice key, std::unique_lock<std::mutex>* lk) const {
  return index_.Find(hash, [&](Location l) { return RecordHasKey(RecordAt(l, lk), key); });
}

Status Store::Get(Slice key, char* out, size_t cap, size_t* size) {
  if (closed_) return Status::Closed();
  uint64_t hash = SipHash13(hash_key_, key.data, key.size);
  std::unique_lock<std::mutex> lk(writer_->mu(), std::defer_lock);
  HashIndex::Ref ref = FindKey(hash, key, &lk);
  if (!ref) return Status::NotFound();
  const char* rec = RecordAt(ref.location(), &lk);
  RecordHeader h;
  DecodeHeader(rec, &h);
  if (Expired(h)) return Status::NotFound();
  *size = h.value_size;
  if (h.value_size <= cap) std::memcpy(out, rec + kRecordHeaderSize + h.key_size, h.value_size);
  return Status::OK();
}

bool Store::Has(Slice key) {
  if (closed_) return false;
  uint64_t hash = SipHash13(hash_key_, key.data, key.size);
  std::unique_lock<std::mutex> lk(writer_->mu(), std::defer_lock);
  HashIndex::Ref ref = FindKey(hash, key, &lk);
  if (!ref) return false;
  RecordHeader h;
  DecodeHeader(RecordAt(ref.location(), &lk), &h);
  return !Expired(h);
}

Status Store::Reserve(size_t n, Location* loc) {
  // Roll when the record would pass the segment size (unless the segment is empty: a large
  // record gets a segment of its own), or when it would pass the address space reserved for
  // the segment's mapping.
  const bool too_big = active_->end + n > options_.segment_size && active_->end > kSegmentHeaderSize;
  if (too_big || active_->end + n > active_->reserve) {
    if (segments_.size() >= kMaxSegmentSlots) return Status::Full("too many segments");
    auto seg = std::make_unique<Segment>(fs_, dir_, next_file_number_++, static_cast<uint32_t>(segments_.size()));
    seg->reserve = std::max<uint64_t>(options_.segment_size, kSegmentHeaderSize + n);
    seg->end = kSegmentHeaderSize;
    active_->sealed_at = active_->end;
    segments_.push_back(std::move(seg));
    active_ = segments_.back().get();
  }
  *loc = MakeLocation(active_->slot(), static_cast<uint32_t>(active_->end));
  active_->end += n;
  return Status::OK();
}

Status Store::Put(Slice key, Slice value, uint64_t expires_at, uint64_t* gen) {
  Status s = CheckWritable();
  if (!s.ok()) return s;
  if (key.size == 0 || key.size > kMaxKeySize) return Status::InvalidArgument("key size out of range");
  if (value.size > options_.max_value_size) return Status::InvalidArgument("value too large");
  // Grow before taking the writer's mutex: a resize must not stall the flush thread.
  s = index_.EnsureRoomForOneMore();
  if (!s.ok()) return s;
  const uint64_t hash = SipHash13(hash_key_, key.data, key.size);
  const size_t n = RecordSize(key.size, value.size);
  std::unique_lock<std::mutex> lk(writer_->mu());
  HashIndex::Ref ref = FindKey(hash, key, &lk);
  UndoEntry undo{hash, kNoLocation, kNoLocation, static_cast<uint32_t>(n), 0};
  if (ref) {
    RecordHeader old;
    DecodeHeader(RecordAt(ref.location(), &lk), &old);
    undo.old_loc = ref.location();
    undo.old_size = static_cast<uint32_t>(old.total_size());
  }
  s = Reserve(n, &undo.new_loc);
  if (!s.ok()) return s;
  char* dst = writer_->Append(active_, LocationOffset(undo.new_loc), n);
  EncodeRecord(dst, kTypePut, ++seq_, expires_at, key, value);
  if (ref) {
    index_.Replace(ref, undo.new_loc);
    segments_[LocationSlot(undo.old_loc)]->live_bytes -= undo.old_size;
  } else {
    index_.Insert(hash, undo.new_loc);
  }
  active_->live_bytes += n;
  writer_->AddUndo(undo);
  *gen = last_gen_ = writer_->open_gen();
  const bool kick_now = writer_->open_group_is_large();
  lk.unlock();
  if (kick_now) writer_->Kick();
  return Status::OK();
}

Status Store::Delete(Slice key, bool* existed, uint64_t* gen) {
  Status s = CheckWritable();
  if (!s.ok()) return s;
  if (key.size == 0 || key.size > kMaxKeySize) return Status::InvalidArgument("key size out of range");
  const uint64_t hash = SipHash13(hash_key_, key.data, key.size);
  std::unique_lock<std::mutex> lk(writer_->mu());
  HashIndex::Ref ref = FindKey(hash, key, &lk);
  if (!ref) {
    // Nothing to write; the caller still waits for the writes before it (a barrier).
    *existed = false;
    *gen = last_gen_;
    return Status::OK();
  }
  RecordHeader old;
  DecodeHeader(RecordAt(ref.location(), &lk), &old);
  // An expired record still gets a tombstone, so that replay never depends on the clock.
  *existed = !Expired(old);
  const size_t n = RecordSize(key.size, 0);
  UndoEntry undo{hash, kNoLocation, ref.location(), 0, static_cast<uint32_t>(old.total_size())};
  Location loc;
  s = Reserve(n, &loc);
  if (!s.ok()) return s;
  char* dst = writer_->Append(active_, LocationOffset(loc), n);
  EncodeRecord(dst, kTypeDelete, ++seq_, 0, key, Slice());
  segments_[LocationSlot(undo.old_loc)]->live_bytes -= undo.old_size;
  index_.Erase(ref);
  writer_->AddUndo(undo);
  *gen = last_gen_ = writer_->open_gen();
  const bool kick_now = writer_->open_group_is_large();
  lk.unlock();
  if (kick_now) writer_->Kick();
  return Status::OK();
}

void Store::Kick() {
  if (!closed_) writer_->Kick();
}

uint64_t Store::Flush() {
  if (closed_) return 0;
  return writer_->RequestSync();
}

void Store::Undo(const UndoEntry& u) {
  if (u.new_loc != kNoLocation) {
    HashIndex::Ref ref = index_.Find(u.hash, [&](Location l) { return l == u.new_loc; });
    if (!ref) return;
    segments_[LocationSlot(u.new_loc)]->live_bytes -= u.new_size;
    if (u.old_loc != kNoLocation) {
      index_.Replace(ref, u.old_loc);
      segments_[LocationSlot(u.old_loc)]->live_bytes += u.old_size;
    } else {
      index_.Erase(ref);
    }
  } else {
    // A delete: put the old entry back.
    if (!index_.EnsureRoomForOneMore().ok()) return;  // out of memory: the index stays short
    index_.Insert(u.hash, u.old_loc);
    segments_[LocationSlot(u.old_loc)]->live_bytes += u.old_size;
  }
}

void Store::HandleFlushEvent(const FlushEvent& ev, uint64_t* reject_first, uint64_t* reject_last) {
  *reject_first = *reject_last = 0;
  if (ev.status.ok() || closed_) return;
  const bool resume = ev.status.code() != Status::kFailed;
  if (!resume) failed_ = ev.status;
  std::vector<UndoEntry> undo;
  Segment* start = nullptr;
  uint64_t offset = 0;
  writer_->TakeForRollback(&undo, reject_first, reject_last, &start, &offset);
  for (const UndoEntry& u : undo) Undo(u);  // newest first
  if (!resume || start == nullptr) return;
  // No record of the failed groups reached a file: append again from where they started,
  // dropping segments they opened (a file may exist with just its header).
  bool removed_files = false;
  while (segments_.back().get() != start) {
    if (segments_.back()->created()) {
      segments_.back()->Discard();
      removed_files = true;
    }
    segments_.pop_back();
  }
  if (removed_files) fs_->SyncDir(dir_);  // best effort: an empty segment is harmless
  active_ = start;
  active_->end = offset;
  active_->sealed_at = 0;
  next_file_number_ = active_->file_number() + 1;
  Segment* current = start->created() ? start : segments_[start->slot() - 1].get();
  writer_->Resume(current);
}

Status Store::Close() {
  if (closed_) return Status::OK();
  closed_ = true;
  if (writer_) writer_->Stop();
  writer_.reset();
  active_ = nullptr;
  segments_.clear();
  lock_.Release();
  return Status::OK();
}

StoreStats Store::Stats() const {
  StoreStats st;
  st.keys = index_.size();
  for (const auto& seg : segments_) {
    st.live_bytes += seg->live_bytes;
    st.log_bytes += seg->end - kSegmentHeaderSize;
  }
  st.segments = segments_.size();
  st.index_capacity = index_.capacity();
  st.index_bytes = index_.bytes();
  st.fsyncs = writer_ ? writer_->fsyncs() : 0;
  st.seq = seq_;
  return st;
}

}  // namespace hashlog
