// Store: reads from other threads (worker threads holding a shared handle). They run inside
// an epoch and take no lock; see docs/DESIGN.md, "Worker threads", for why each step is safe.
#include <cstring>

#include "store.h"

namespace hashlog {

HashIndex::Candidate Store::SharedRecordAt(Location loc, const char** rec, RecordHeader* h) const {
  const Segment* seg = readable_[LocationSlot(loc)].load(std::memory_order_acquire);
  if (seg == nullptr) return HashIndex::Candidate::kStale;  // retired since the bucket was copied
  const uint64_t off = LocationOffset(loc);
  const uint64_t written = seg->flushed_end();  // acquire: the bytes below it are mapped
  if (off >= written) {
    // Still in a commit group, which only the writer's mutex could read: ask the flush
    // thread to write the open group now instead (it may be asleep until the owner's
    // JavaScript turn ends). Inside the epoch, so the writer still exists.
    if (writer_) writer_->WakeForReader();
    return HashIndex::Candidate::kPending;
  }
  if (off + kRecordHeaderSize > written) return HashIndex::Candidate::kStale;
  DecodeHeader(seg->base() + off, h);
  // Only a rolled-back write leaves a location whose bytes were since overwritten; never
  // read past what is written, whatever the header says.
  if (h->key_size > kMaxKeySize || off + h->total_size() > written) return HashIndex::Candidate::kStale;
  *rec = seg->base() + off;
  return HashIndex::Candidate::kOther;
}

template <typename Take>
HashIndex::SharedFind Store::SharedFindLive(Slice key, Take&& take) const {
  const uint64_t hash = SipHash13(hash_key_, key.data, key.size);
  bool expired = false;
  HashIndex::SharedFind r = index_.FindShared(hash, [&](Location loc) {
    const char* rec = nullptr;
    RecordHeader h;
    HashIndex::Candidate c = SharedRecordAt(loc, &rec, &h);
    if (c != HashIndex::Candidate::kOther || !RecordHasKey(rec, key)) return c;
    expired = h.type != kTypePut || Expired(h);
    if (!expired) take(rec, h);
    return HashIndex::Candidate::kMatch;
  });
  return r == HashIndex::SharedFind::kFound && expired ? HashIndex::SharedFind::kAbsent : r;
}

HashIndex::SharedFind Store::SharedGet(Slice key, char* out, size_t cap, size_t* size) const {
  return SharedFindLive(key, [&](const char* rec, const RecordHeader& h) {
    *size = h.value_size;
    if (h.value_size <= cap) std::memcpy(out, rec + kRecordHeaderSize + h.key_size, h.value_size);
  });
}

HashIndex::SharedFind Store::SharedGet(Slice key, std::string* value) const {
  return SharedFindLive(key, [&](const char* rec, const RecordHeader& h) {
    value->assign(rec + kRecordHeaderSize + h.key_size, h.value_size);
  });
}

HashIndex::SharedFind Store::SharedExpiresAt(Slice key, uint64_t* expires_at) const {
  return SharedFindLive(key, [&](const char*, const RecordHeader& h) { *expires_at = h.expires_at; });
}

bool Store::SharedScan(uint64_t cursor, size_t count, std::vector<std::string>* keys, uint64_t* next) const {
  *next = 0;
  constexpr uint64_t kTagSpace = uint64_t{1} << 32;
  uint64_t at = cursor;
  const size_t want = keys->size() + count;
  while (at < kTagSpace && keys->size() < want) {
    // One table's bucket at a time, as Scan does (any size: a range of tags names the same
    // entries at every table size).
    const uint64_t step = kTagSpace / std::max<uint64_t>(1, index_.bucket_count_shared());
    const uint64_t until = std::min(kTagSpace, (at / step + 1) * step);
    const size_t mark = keys->size();
    bool pending = false, again = false;
    const bool still = index_.ForEachInTagRangeShared(at, until, [&](uint32_t, Location loc) {
      const char* rec = nullptr;
      RecordHeader h;
      HashIndex::Candidate c = SharedRecordAt(loc, &rec, &h);
      if (c == HashIndex::Candidate::kPending) pending = true;
      if (c == HashIndex::Candidate::kStale) again = true;
      if (c == HashIndex::Candidate::kOther && h.type == kTypePut && !Expired(h))
        keys->emplace_back(rec + kRecordHeaderSize, h.key_size);
    });
    if (!still || again || pending) {
      keys->resize(mark);
      if (pending) {
        *next = at;
        return false;
      }
      continue;
    }
    at = until;
  }
  *next = at >= kTagSpace ? 0 : at;
  return true;
}

void Store::PublishStats() {
  StoreStats st = Stats();
  std::lock_guard<std::mutex> lk(shared_stats_mu_);
  shared_stats_ = st;
}

StoreStats Store::SharedStats() const {
  std::lock_guard<std::mutex> lk(shared_stats_mu_);
  return shared_stats_;
}

}  // namespace hashlog
