// Store: the read and write paths, rollback after a failed commit, open and close.
#include "store.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "coding.h"
#include "log_format.h"

namespace hashlog {
namespace {

uint64_t NowMillis() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

uint64_t Store::NowMs() const { return NowMillis() + clock_offset_ms_; }

Store::Store(FileSystem* fs, std::string dir, const StoreOptions& options)
    : fs_(fs), dir_(std::move(dir)), options_(options), lock_(fs), hash_key_(HashKey::Random()) {
  // A table a resize or clear replaced may still be probed by a reader on another thread.
  index_.set_retire([this](void* p, size_t n) { epochs_->Retire([p, n] { ::munmap(p, n); }); });
}

Store::~Store() {
  Close();
  epochs_->FreeAll();  // after a failed open too (Close did nothing)
}

Status Store::Open(FileSystem* fs, const std::string& dir, const StoreOptions& options, Notify notify,
                   std::unique_ptr<Store>* out) {
  std::unique_ptr<Store> store(new Store(fs, dir, options));
  Status s;
  if (options.read_only)
    s = store->lock_.AcquireShared(dir);
  else {
    s = fs->CreateDir(dir);
    if (s.ok()) s = store->lock_.Acquire(dir);
  }
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
  ro.read_only = options_.read_only;
  ro.use_checkpoint = options_.use_checkpoint;
  ro.progress = options_.progress;
  s = hashlog::Recover(fs_, dir_, ro, &hash_key_, &segments_, &index_, &expiry_, &recovery_);
  if (!s.ok()) return s;
  for (const auto& seg : segments_) {
    log_.push_back(seg.get());
    readable_[seg->slot()].store(seg.get(), std::memory_order_release);
  }
  RecountLogBytes();
  // What a checkpoint would save the next open: the log its last one does not cover.
  appended_ = recovery_.replayed_bytes;
  seq_ = recovery_.max_seq;
  if (options_.read_only) return Status::OK();  // no writer, no new segment
  next_file_number_ = recovery_.next_file_number;
  // Appends never go to a compacted segment (it must stay a copy of older records).
  if (log_.empty() || !log_.back()->writable() || log_.back()->compacted()) {
    auto seg = std::make_unique<Segment>(fs_, dir_, next_file_number_++, 0);
    seg->reserve = options_.segment_size;
    s = seg->Create(seg->reserve);
    if (s.ok()) s = fs_->SyncDir(dir_);
    if (!s.ok()) return s;
    seg->end = kSegmentHeaderSize;
    s = AddSegment(std::move(seg));
    if (!s.ok()) return s;
  }
  active_ = log_.back();
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
  if (options_.read_only) return Status::ReadOnly();
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

const char* Store::FindLive(Slice key, std::unique_lock<std::mutex>* lk, RecordHeader* h) const {
  HashIndex::Ref ref = FindKey(SipHash13(hash_key_, key.data, key.size), key, lk);
  if (!ref) return nullptr;
  const char* rec = RecordAt(ref.location(), lk);
  DecodeHeader(rec, h);
  return Expired(*h) ? nullptr : rec;
}

Status Store::Get(Slice key, char* out, size_t cap, size_t* size) {
  if (closed_) return Status::Closed();
  std::unique_lock<std::mutex> lk(WriterMutex(), std::defer_lock);
  RecordHeader h;
  const char* rec = FindLive(key, &lk, &h);
  if (rec == nullptr) return Status::NotFound();
  *size = h.value_size;
  if (h.value_size <= cap) std::memcpy(out, rec + kRecordHeaderSize + h.key_size, h.value_size);
  return Status::OK();
}

bool Store::Has(Slice key) {
  if (closed_) return false;
  std::unique_lock<std::mutex> lk(WriterMutex(), std::defer_lock);
  RecordHeader h;
  return FindLive(key, &lk, &h) != nullptr;
}

Status Store::Reserve(size_t n, Location* loc) {
  // Roll when the record would pass the segment size (unless the segment is empty: a large
  // record gets a segment of its own), or when it would pass the address space reserved for
  // the segment's mapping.
  const bool too_big = active_->end + n > options_.segment_size && active_->end > kSegmentHeaderSize;
  const bool roll = roll_requested_ && active_->end > kSegmentHeaderSize;
  if (too_big || roll || active_->end + n > active_->reserve) {
    roll_requested_ = false;
    auto seg = std::make_unique<Segment>(fs_, dir_, next_file_number_, 0);
    seg->reserve = std::max<uint64_t>(options_.segment_size, kSegmentHeaderSize + n);
    seg->end = kSegmentHeaderSize;
    Status s = AddSegment(std::move(seg));
    if (!s.ok()) return s;
    next_file_number_++;
    active_->sealed_at = active_->end;
    active_ = log_.back();
  }
  if (active_->first_gen == Segment::kNoGen) active_->first_gen = writer_->open_gen();
  // Before the index points at the record (whose bucket write releases this store): a reader
  // that sees the record sees its group too (SharedBarrierGen).
  shared_last_gen_.store(writer_->open_gen(), std::memory_order_relaxed);
  *loc = MakeLocation(active_->slot(), static_cast<uint32_t>(active_->end));
  active_->end += n;
  log_bytes_ += n;
  appended_ += n;
  return Status::OK();
}

Status Store::CheckLimits(bool new_key, size_t n) {
  if (new_key && options_.max_keys != 0 && LiveKeys() >= options_.max_keys)
    return Status::Full("maxKeys (" + std::to_string(options_.max_keys) + ") reached");
  if (options_.max_disk_bytes != 0 && log_bytes_ + n > options_.max_disk_bytes)
    return Status::Full("maxDiskBytes (" + std::to_string(options_.max_disk_bytes) + ") reached");
  return Status::OK();
}

void Store::Index(RecordType type, uint64_t hash, HashIndex::Ref ref, const RecordHeader& old, Location loc,
                  size_t n, uint64_t expires_at) {
  UndoEntry undo{hash, kNoLocation, kNoLocation, 0, 0, 0, 0};
  if (ref) {
    undo.old_loc = ref.location();
    undo.old_size = static_cast<uint32_t>(old.total_size());
    undo.old_expires_at = old.expires_at;
    segments_[LocationSlot(undo.old_loc)]->live_bytes -= undo.old_size;
    expiry_.Remove(old.expires_at);
  }
  if (type == kTypePut) {
    undo.new_loc = loc;
    undo.new_size = static_cast<uint32_t>(n);
    undo.new_expires_at = expires_at;
    if (ref)
      index_.Replace(ref, loc);
    else
      index_.Insert(hash, loc);
    segments_[LocationSlot(loc)]->live_bytes += n;
    expiry_.Add(expires_at);
  } else if (ref) {
    index_.Erase(ref);
  }
  writer_->AddUndo(undo);
}

bool Store::Finish(uint64_t* gen) {
  *gen = last_gen_ = writer_->open_gen();
  return writer_->open_group_is_large();
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
  RecordHeader old;
  if (ref) DecodeHeader(RecordAt(ref.location(), &lk), &old);
  s = CheckLimits(!ref || Expired(old), n);
  if (!s.ok()) return s;
  Location loc;
  s = Reserve(n, &loc);
  if (!s.ok()) return s;
  EncodeRecord(writer_->Append(active_, LocationOffset(loc), n), kTypePut, ++seq_, expires_at, key, value);
  Index(kTypePut, hash, ref, old, loc, n, expires_at);
  const bool kick_now = Finish(gen);
  lk.unlock();
  if (kick_now) writer_->Kick();
  return Status::OK();
}

Status Store::Delete(Slice key, bool* existed, uint64_t* gen) {
  Status s = CheckWritable();
  if (!s.ok()) return s;
  if (key.size == 0 || key.size > kMaxKeySize) return Status::InvalidArgument("key size out of range");
  const uint64_t hash = SipHash13(hash_key_, key.data, key.size);
  index_.Step();  // resize work (a shrink may start) before the mutex, as Put grows before it
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
  Location loc;
  s = Reserve(n, &loc);  // deletes pass maxDiskBytes: they are how space is won back
  if (!s.ok()) return s;
  EncodeRecord(writer_->Append(active_, LocationOffset(loc), n), kTypeDelete, ++seq_, 0, key, Slice());
  Index(kTypeDelete, hash, ref, old, loc, n, 0);
  const bool kick_now = Finish(gen);
  lk.unlock();
  if (kick_now) writer_->Kick();
  return Status::OK();
}

namespace {

struct BatchOp {
  RecordType type;
  Slice key;
  Slice value;
  uint64_t expires_at;
};

Status ParseBatch(Slice ops, uint32_t max_value_size, std::vector<BatchOp>* out, size_t* record_bytes) {
  const char* p = ops.data;
  const char* end = ops.data + ops.size;
  *record_bytes = 0;
  while (p < end) {
    if (end - p < static_cast<ptrdiff_t>(kBatchOpHeaderSize)) return Status::InvalidArgument("truncated batch");
    BatchOp op;
    uint8_t type = static_cast<uint8_t>(p[0]);
    uint32_t klen = DecodeFixed32(p + 4), vlen = DecodeFixed32(p + 8);
    op.expires_at = DecodeFixed64(p + 16);
    if (type != kTypePut && type != kTypeDelete) return Status::InvalidArgument("bad batch operation");
    if (klen == 0 || klen > kMaxKeySize) return Status::InvalidArgument("key size out of range");
    if (vlen > max_value_size || (type == kTypeDelete && vlen != 0)) return Status::InvalidArgument("value too large");
    if (static_cast<uint64_t>(end - p) < kBatchOpHeaderSize + uint64_t{klen} + vlen)
      return Status::InvalidArgument("truncated batch");
    op.type = static_cast<RecordType>(type);
    op.key = Slice(p + kBatchOpHeaderSize, klen);
    op.value = Slice(p + kBatchOpHeaderSize + klen, vlen);
    *record_bytes += RecordSize(klen, vlen);
    out->push_back(op);
    p += kBatchOpHeaderSize + klen + vlen;
  }
  if (*record_bytes > kMaxValueSize) return Status::InvalidArgument("batch too large");
  return Status::OK();
}

}  // namespace

Status Store::Batch(Slice ops, uint64_t* gen) {
  Status s = CheckWritable();
  if (!s.ok()) return s;
  std::vector<BatchOp> parsed;
  size_t inner_bytes = 0;
  s = ParseBatch(ops, options_.max_value_size, &parsed, &inner_bytes);
  if (!s.ok()) return s;
  if (parsed.empty()) {
    *gen = last_gen_;
    return Status::OK();
  }
  s = index_.EnsureRoomFor(parsed.size());
  if (!s.ok()) return s;
  const size_t n = kRecordHeaderSize + inner_bytes;
  std::unique_lock<std::mutex> lk(writer_->mu());
  if (options_.max_keys != 0) {
    uint64_t fresh = 0;  // keys the batch would add (a key put twice counts twice: conservative)
    for (const BatchOp& op : parsed) {
      if (op.type != kTypePut) continue;
      HashIndex::Ref ref = FindKey(SipHash13(hash_key_, op.key.data, op.key.size), op.key, &lk);
      if (!ref) fresh++;
    }
    if (fresh > 0 && LiveKeys() + fresh > options_.max_keys)
      return Status::Full("maxKeys (" + std::to_string(options_.max_keys) + ") reached");
  }
  // A batch of deletes only passes maxDiskBytes, like a delete.
  const bool has_put = std::any_of(parsed.begin(), parsed.end(), [](const BatchOp& op) { return op.type == kTypePut; });
  if (has_put) {
    s = CheckLimits(false, n);
    if (!s.ok()) return s;
  }
  Location loc;
  s = Reserve(n, &loc);
  if (!s.ok()) return s;
  char* outer = writer_->Append(active_, LocationOffset(loc), n);
  // Inner records are encoded one by one and indexed at once, so that a later operation on
  // the same key finds the earlier one (in the group buffer) like any other record.
  size_t off = kRecordHeaderSize;
  for (const BatchOp& op : parsed) {
    const uint64_t hash = SipHash13(hash_key_, op.key.data, op.key.size);
    HashIndex::Ref ref = FindKey(hash, op.key, &lk);
    RecordHeader old;
    if (ref) DecodeHeader(RecordAt(ref.location(), &lk), &old);
    const size_t rn = RecordSize(op.key.size, op.value.size);
    // Append() may not be called again in this batch: `outer` stays valid.
    EncodeRecord(outer + off, op.type, ++seq_, op.expires_at, op.key, op.value);
    Index(op.type, hash, ref, old, loc + off, rn, op.expires_at);
    off += rn;
  }
  // The batch's own header: keyLen 0, the inner records as its value, the last inner seq.
  EncodeHeaderInPlace(outer, kTypeBatch, seq_, 0, 0, static_cast<uint32_t>(inner_bytes));
  const bool kick_now = Finish(gen);
  lk.unlock();
  if (kick_now) writer_->Kick();
  return Status::OK();
}

int64_t Store::ExpiresAt(Slice key) {
  if (closed_) return -1;
  std::unique_lock<std::mutex> lk(WriterMutex(), std::defer_lock);
  RecordHeader h;
  if (FindLive(key, &lk, &h) == nullptr) return -1;
  return static_cast<int64_t>(h.expires_at);
}

Status Store::SetExpiry(Slice key, uint64_t expires_at, bool only_if_expiring, bool* changed, uint64_t* gen) {
  Status s = CheckWritable();
  if (!s.ok()) return s;
  *changed = false;
  *gen = last_gen_;
  std::string value;
  {
    std::unique_lock<std::mutex> lk(WriterMutex(), std::defer_lock);
    RecordHeader h;
    const char* rec = FindLive(key, &lk, &h);
    if (rec == nullptr || (only_if_expiring && h.expires_at == 0)) return Status::OK();
    // Copy the value: Put appends to the group buffer, which may move under a pointer into it.
    value.assign(rec + kRecordHeaderSize + h.key_size, h.value_size);
  }
  s = Put(key, Slice(value.data(), value.size()), expires_at, gen);
  if (s.ok()) *changed = true;
  return s;
}

Status Store::AppendClear(uint64_t* gen) {
  Status s = CheckWritable();
  if (!s.ok()) return s;
  std::unique_lock<std::mutex> lk(writer_->mu());
  Location loc;
  s = Reserve(kRecordHeaderSize, &loc);
  if (!s.ok()) return s;
  EncodeRecord(writer_->Append(active_, LocationOffset(loc), kRecordHeaderSize), kTypeClear, ++seq_, 0, Slice(),
               Slice());
  writer_->AddUndo(UndoEntry{0, kNoLocation, kNoLocation, 0, 0, 0, 0});  // nothing indexed to undo
  Finish(gen);
  lk.unlock();
  writer_->Kick();
  return Status::OK();
}

void Store::ApplyClear() {
  if (closed_) return;
  index_.Clear();
  expiry_.Clear();
  for (const auto& seg : segments_)
    if (seg) seg->live_bytes = 0;
  index_.ShrinkToFit();
}

void Store::Scan(uint64_t cursor, size_t count, std::vector<std::string>* keys, uint64_t* next) {
  keys->clear();
  *next = 0;
  if (closed_) return;
  constexpr uint64_t kTagSpace = uint64_t{1} << 32;
  const uint64_t step = kTagSpace / index_.bucket_count();  // one bucket's share of the tags
  std::unique_lock<std::mutex> lk(WriterMutex(), std::defer_lock);
  uint64_t at = cursor;
  while (at < kTagSpace && keys->size() < count) {
    const uint64_t until = std::min(kTagSpace, (at / step + 1) * step);
    index_.ForEachInTagRange(at, until, [&](uint32_t, Location loc) {
      const char* rec = RecordAt(loc, &lk);
      RecordHeader h;
      DecodeHeader(rec, &h);
      if (!Expired(h)) keys->emplace_back(rec + kRecordHeaderSize, h.key_size);
    });
    at = until;
  }
  *next = at >= kTagSpace ? 0 : at;
}

size_t Store::GetMany(const char* keys, const uint32_t* lengths, size_t n, char* out, size_t cap,
                      int64_t* sizes) {
  constexpr size_t kWindow = 32;
  uint64_t hashes[kWindow];
  std::unique_lock<std::mutex> lk(WriterMutex(), std::defer_lock);
  size_t used = 0;
  size_t done = 0;
  const char* kp = keys;
  while (done < n) {
    const size_t w = std::min(kWindow, n - done);
    // Pass 1: hash and prefetch every bucket of the window; pass 2: prefetch the records
    // the tags point at; pass 3: confirm and copy. Independent misses overlap.
    const char* p = kp;
    for (size_t i = 0; i < w; i++) {
      hashes[i] = SipHash13(hash_key_, p, lengths[done + i]);
      index_.Prefetch(hashes[i]);
      p += lengths[done + i];
    }
    for (size_t i = 0; i < w; i++) {
      index_.Find(hashes[i], [&](Location l) {
        const Segment* seg = segments_[LocationSlot(l)].get();
        if (LocationOffset(l) < seg->flushed_end()) __builtin_prefetch(seg->base() + LocationOffset(l));
        return false;
      });
    }
    p = kp;
    for (size_t i = 0; i < w; i++) {
      Slice key(p, lengths[done + i]);
      HashIndex::Ref ref = FindKey(hashes[i], key, &lk);
      int64_t size = -1;
      if (ref) {
        const char* rec = RecordAt(ref.location(), &lk);
        RecordHeader h;
        DecodeHeader(rec, &h);
        if (!Expired(h)) {
          if (used + h.value_size > cap) return done + i;  // the caller continues from here
          std::memcpy(out + used, rec + kRecordHeaderSize + h.key_size, h.value_size);
          used += h.value_size;
          size = h.value_size;
        }
      }
      sizes[done + i] = size;
      p += key.size;
    }
    kp = p;
    done += w;
  }
  return done;
}

void Store::Locate(Slice key, std::vector<const char*>* records, bool* resolved, bool* found, std::string* value) {
  records->clear();
  *resolved = *found = false;
  if (closed_) {
    *resolved = true;
    return;
  }
  const uint64_t hash = SipHash13(hash_key_, key.data, key.size);
  bool pending = false;
  // The probe touches only the index (RAM); the records may be cold and are read later.
  index_.Find(hash, [&](Location l) {
    const Segment* seg = segments_[LocationSlot(l)].get();
    if (LocationOffset(l) < seg->flushed_end())
      records->push_back(seg->base() + LocationOffset(l));
    else
      pending = true;
    return false;
  });
  if (!pending) return;
  // A candidate is still in memory: answer now, on this thread.
  *resolved = true;
  std::unique_lock<std::mutex> lk(WriterMutex(), std::defer_lock);
  RecordHeader h;
  const char* rec = FindLive(key, &lk, &h);
  if (rec == nullptr) return;
  *found = true;
  value->assign(rec + kRecordHeaderSize + h.key_size, h.value_size);
}

bool Store::ReadLocated(const std::vector<const char*>& records, Slice key, std::string* value) const {
  for (const char* rec : records) {
    if (!RecordHasKey(rec, key)) continue;
    RecordHeader h;
    DecodeHeader(rec, &h);
    if (h.type != kTypePut || Expired(h)) return false;
    value->assign(rec + kRecordHeaderSize + h.key_size, h.value_size);
    return true;
  }
  return false;
}

uint64_t Store::LiveKeys() {
  const uint64_t expired = expiry_.Expired(NowMs());
  return index_.size() > expired ? index_.size() - expired : 0;
}

void Store::Kick() {
  if (!closed_ && writer_) writer_->Kick();
}

uint64_t Store::Flush() {
  if (closed_ || !writer_) return 0;
  return writer_->RequestSync();
}

void Store::Undo(const UndoEntry& u) {
  if (u.new_loc != kNoLocation) {
    HashIndex::Ref ref = index_.Find(u.hash, [&](Location l) { return l == u.new_loc; });
    if (!ref) return;
    segments_[LocationSlot(u.new_loc)]->live_bytes -= u.new_size;
    expiry_.Remove(u.new_expires_at);
    if (u.old_loc != kNoLocation) {
      index_.Replace(ref, u.old_loc);
      segments_[LocationSlot(u.old_loc)]->live_bytes += u.old_size;
      expiry_.Add(u.old_expires_at);
    } else {
      index_.Erase(ref);
    }
  } else if (u.old_loc != kNoLocation) {
    // A delete: put the old entry back.
    if (!index_.EnsureRoomForOneMore().ok()) return;  // out of memory: the index stays short
    index_.Insert(u.hash, u.old_loc);
    segments_[LocationSlot(u.old_loc)]->live_bytes += u.old_size;
    expiry_.Add(u.old_expires_at);
  }
}

void Store::HandleFlushEvent(const FlushEvent& ev, uint64_t* reject_first, uint64_t* reject_last) {
  *reject_first = *reject_last = 0;
  if (ev.status.ok()) synced_gen_ = std::max(synced_gen_, ev.synced_gen);
  if (closed_) return;
  if (ev.status.ok()) shared_durable_gen_.store(options_.sync ? ev.synced_gen : ev.written_gen, std::memory_order_release);
  epochs_->Reclaim();
  if (epochs_->readers() > 0) PublishStats();
  if (ev.status.ok()) return;
  failures_++;
  const bool resume = ev.status.code() != Status::kFailed;
  if (!resume) failed_ = ev.status;
  rollbacks_++;
  std::vector<UndoEntry> undo;
  Segment* start = nullptr;
  uint64_t offset = 0;
  writer_->TakeForRollback(&undo, reject_first, reject_last, &start, &offset);
  for (const UndoEntry& u : undo) Undo(u);  // newest first
  if (!resume || start == nullptr) return;
  // No record of the failed groups reached a file: append again from where they started,
  // dropping segments they opened (a file may exist with just its header).
  // (File numbers are not reused: a compaction may have reserved the next ones.)
  bool removed_files = false;
  while (log_.back() != start) {
    Segment* seg = log_.back();
    if (seg->created()) {
      seg->Discard();
      removed_files = true;
    }
    log_.pop_back();
    FreeSlot(seg->slot());
  }
  if (removed_files) fs_->SyncDir(dir_);  // best effort: an empty segment is harmless
  active_ = start;
  active_->end = offset;
  active_->sealed_at = 0;
  if (offset == kSegmentHeaderSize) active_->first_gen = Segment::kNoGen;
  RecountLogBytes();
  // A segment the failed groups were to create was never left by the flush thread's
  // predecessor, which is therefore still in the log (compaction takes none it may use).
  Segment* current = start->created() ? start : log_[log_.size() - 2];
  writer_->Resume(current);
}

Status Store::BeginCheckpoint(std::unique_ptr<CheckpointImage>* image, uint64_t* gen) {
  Status s = CheckWritable();
  if (!s.ok()) return s;
  auto img = std::make_unique<CheckpointImage>();
  // Owner thread: nothing changes the index or the segments' ends while this runs. Records
  // still in a commit group are covered too; the sync requested below makes them durable
  // before the file may be written.
  s = BuildCheckpoint(hash_key_, seq_, log_, index_, expiry_, img.get());
  if (!s.ok()) return s;
  img->rollbacks = rollbacks_;
  img->appended = appended_;
  checkpoint_pause_ms_ = img->build_millis;
  *gen = writer_->RequestSync();
  *image = std::move(img);
  return Status::OK();
}

Status Store::CheckCheckpoint(CheckpointImage* image) const {
  Status s = CheckWritable();
  if (!s.ok()) return s;
  if (image->rollbacks != rollbacks_)
    return Status::FromErrno("checkpoint", dir_ + " (a commit group failed while it was taken)", ECANCELED);
  // A compaction may have retired (freed) a listed segment meanwhile: check before reading it.
  for (size_t i = 0; i < image->segments.size(); i++) {
    if (i >= log_.size() || log_[i] != image->segments[i])
      return Status::FromErrno("checkpoint", dir_ + " (a compaction changed the log while it was taken)", ECANCELED);
  }
  FinishCheckpoint(image);
  return Status::OK();
}

void Store::CheckpointWritten(const CheckpointImage& image) {
  checkpoint_appended_ = std::max(checkpoint_appended_, image.appended);
}

Status Store::Close() {
  if (closed_) return Status::OK();
  closed_ = true;
  // Readers on other threads fail from now on; wait for the reads in flight.
  epochs_->Shutdown();
  // A copy or unlink running on another thread reads the segments: stop it and wait.
  CancelBackground();
  { std::lock_guard<std::mutex> wait_for_background(bg_mu_); }
  if (writer_) writer_->Stop();
  writer_.reset();
  active_ = nullptr;
  job_.reset();
  log_.clear();
  epochs_->FreeAll();
  segments_.clear();
  lock_.Release();
  return Status::OK();
}

Status Store::AddSegment(std::unique_ptr<Segment> seg) {
  Segment* raw = seg.get();
  Status s = TakeSlot(std::move(seg));
  if (s.ok()) log_.push_back(raw);
  return s;
}

Status Store::TakeSlot(std::unique_ptr<Segment> seg) {
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    if (segments_.size() >= kMaxSegmentSlots) return Status::Full("too many segments");
    slot = static_cast<uint32_t>(segments_.size());
    segments_.emplace_back();
  }
  seg->set_slot(slot);
  readable_[slot].store(seg.get(), std::memory_order_release);
  segments_[slot] = std::move(seg);
  return Status::OK();
}

void Store::FreeSlot(uint32_t slot) {
  // A reader on another thread may hold a location in it: unmap it, and reuse the slot
  // (which would make old locations name the new segment's bytes), only after its epoch.
  readable_[slot].store(nullptr, std::memory_order_release);
  Segment* seg = segments_[slot].release();
  epochs_->Retire([this, seg, slot] {
    delete seg;
    free_slots_.push_back(slot);
  });
}

void Store::RecountLogBytes() {
  log_bytes_ = 0;
  for (const Segment* seg : log_) log_bytes_ += seg->end - kSegmentHeaderSize;
}

std::vector<Store::WrittenSegment> Store::WrittenSegments() const {
  std::vector<WrittenSegment> out;
  for (const Segment* seg : log_) {
    const uint64_t written = seg->flushed_end();
    if (written > kSegmentHeaderSize)
      out.push_back({Segment::FileName(seg->file_number()), written, seg->end, seg->flags});
  }
  return out;
}

StoreStats Store::Stats() const {
  StoreStats st;
  st.keys = const_cast<Store*>(this)->LiveKeys();
  st.indexed = index_.size();
  for (const Segment* seg : log_) {
    st.live_bytes += seg->live_bytes;
    st.log_bytes += seg->end - kSegmentHeaderSize;
  }
  // While install moves entries, the outputs already hold live records but are not yet in
  // the log order.
  if (job_ && !job_->installed) {
    for (const Segment* seg : job_->mapped) {
      st.live_bytes += seg->live_bytes;
      st.log_bytes += seg->end - kSegmentHeaderSize;
    }
  }
  st.segments = log_.size();
  st.compactions = compactions_;
  st.compacted_bytes_read = compacted_read_;
  st.compacted_bytes_written = compacted_written_;
  st.index_capacity = index_.capacity();
  st.index_bytes = index_.bytes();
  st.fsyncs = writer_ ? writer_->fsyncs() : 0;
  st.seq = seq_;
  st.bytes_since_checkpoint = BytesSinceCheckpoint();
  st.checkpoint_pause_ms = checkpoint_pause_ms_;
  st.shared_readers = static_cast<uint64_t>(epochs_->readers());
  return st;
}

}  // namespace hashlog
