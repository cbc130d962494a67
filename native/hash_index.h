// HashIndex: an open-addressed hash table in RAM that holds no key bytes, only 48 bits of
// each key's hash and the location of its newest record in the log.
//
// Layout: 64-byte buckets (one cache line), each with a version word and five entries of
// a 32-bit tag (the hash's high half; 0 = empty) and a 64-bit word (offset in the low 32
// bits, segment slot in bits 32..47, 16 more hash bits in 48..63): 12.8 bytes per entry.
// A key's home bucket is the top `log2(buckets)` bits of its tag, so the table can be
// resized from the tags alone, without reading a key from the log. Collisions spill into
// the next bucket (linear probing over buckets); a lookup stops at the first bucket with an
// empty entry, and Erase shifts entries back so that rule stays true (no tombstones).
//
// A tag match is confirmed by the caller comparing the key stored in the log record.
//
// Thread-safety: one writer (the store's owner thread). Each bucket's version word is
// bumped to odd before and to even after every change, a seqlock that lets readers on
// other threads (docs/DESIGN.md, "Concurrency") read a bucket without a lock.
#ifndef HASHLOG_NATIVE_HASH_INDEX_H_
#define HASHLOG_NATIVE_HASH_INDEX_H_

#include <cstddef>
#include <cstdint>

#include "status.h"

namespace hashlog {

// A record's place in the log: segment slot (16 bits) and byte offset (32 bits).
using Location = uint64_t;
constexpr Location MakeLocation(uint32_t slot, uint32_t offset) {
  return (static_cast<uint64_t>(slot) << 32) | offset;
}
constexpr uint32_t LocationSlot(Location loc) { return static_cast<uint32_t>(loc >> 32) & 0xffff; }
constexpr uint32_t LocationOffset(Location loc) { return static_cast<uint32_t>(loc); }
constexpr uint32_t kMaxSegmentSlots = 0xffff;
// Offset 0 is a segment header, never a record, so 0 means "no location".
constexpr Location kNoLocation = 0;

class HashIndex {
 public:
  static constexpr int kWays = 5;
  // Grow when entries would exceed 7/8 of capacity: 14.6 bytes per key at the threshold.
  static constexpr uint64_t kMaxLoadNum = 7, kMaxLoadDen = 8;

  struct alignas(64) Bucket {
    uint32_t version;
    uint32_t tags[kWays];
    uint64_t words[kWays];
  };
  static_assert(sizeof(Bucket) == 64, "a bucket is one cache line");

  // A found entry. Valid until the next change to the index.
  struct Ref {
    Bucket* bucket = nullptr;
    int way = 0;
    explicit operator bool() const { return bucket != nullptr; }
    Location location() const { return bucket->words[way] & kLocationMask; }
  };

  HashIndex() = default;
  ~HashIndex();
  HashIndex(const HashIndex&) = delete;
  HashIndex& operator=(const HashIndex&) = delete;

  // Allocates a table that holds at least `keys` entries below the load threshold.
  Status Init(uint64_t keys);

  // Returns the entry whose hash matches and for which confirm(location) is true.
  template <typename Confirm>
  Ref Find(uint64_t hash, Confirm&& confirm) const;

  // Adds an entry. REQUIRES: no entry for this key; EnsureRoomForOneMore() succeeded.
  void Insert(uint64_t hash, Location loc);
  void Replace(Ref ref, Location loc);
  void Erase(Ref ref);

  // Doubles the table when one more entry would pass the load threshold.
  Status EnsureRoomForOneMore();
  // Grows the table (if needed) so that `more` entries fit below the load threshold.
  Status EnsureRoomFor(uint64_t more);
  // Removes every entry (keeps the table).
  void Clear();
  // Calls fn(tag, location) for each entry whose home bucket lies in [first, last) of the
  // 2^32 tag space, each exactly once while the table does not change (resize-proof: a
  // range of tags maps to the same entries at any table size). Used by Store::Scan.
  template <typename Fn>
  void ForEachInTagRange(uint64_t first, uint64_t last, Fn&& fn) const;
  // Calls fn(tag, word) for every entry in bucket order (checkpoints): word is the location
  // with the 16 extra hash bits above it, as InsertWord takes it back.
  template <typename Fn>
  void ForEachEntry(Fn&& fn) const {
    for (uint64_t b = 0; b <= mask_; b++)
      for (int w = 0; w < kWays; w++)
        if (buckets_[b].tags[w] != 0) fn(buckets_[b].tags[w], buckets_[b].words[w]);
  }
  // Adds an entry as ForEachEntry reported it. REQUIRES: no entry for this key; room for it.
  void InsertWord(uint32_t tag, uint64_t word) {
    Place(tag, word);
    count_++;
  }
  // Rebuilds into the smallest table that holds the entries when it is under a quarter
  // full (after recovery sized it for every record of a log with many overwrites).
  Status ShrinkToFit();

  // Hints the CPU to load the bucket for `hash` (used to overlap batched lookups).
  void Prefetch(uint64_t hash) const { __builtin_prefetch(&buckets_[Home(Tag(hash))]); }

  uint64_t size() const { return count_; }
  uint64_t capacity() const { return (mask_ + 1) * kWays; }
  uint64_t bytes() const { return (mask_ + 1) * sizeof(Bucket); }
  uint64_t bucket_count() const { return mask_ + 1; }

 private:
  static constexpr uint64_t kLocationMask = (uint64_t{1} << 48) - 1;

  static uint32_t Tag(uint64_t hash) {
    uint32_t t = static_cast<uint32_t>(hash >> 32);
    return t != 0 ? t : 1;  // 0 marks an empty entry
  }
  static uint64_t Extra(uint64_t hash) { return hash << 48; }
  uint64_t Home(uint32_t tag) const { return tag >> shift_; }

  Status Allocate(int log2_buckets, Bucket** out);
  static int Log2For(uint64_t keys);
  // Moves every entry into a fresh table of 2^log2 buckets.
  Status Rebuild(int log2);
  void Free(Bucket* b, uint64_t count);
  void Place(uint32_t tag, uint64_t word);
  static void BeginWrite(Bucket* b) { __atomic_store_n(&b->version, b->version + 1, __ATOMIC_RELAXED); __atomic_thread_fence(__ATOMIC_RELEASE); }
  static void EndWrite(Bucket* b) { __atomic_store_n(&b->version, b->version + 1, __ATOMIC_RELEASE); }

  Bucket* buckets_ = nullptr;
  uint64_t mask_ = 0;
  int shift_ = 32;
  uint64_t count_ = 0;
  uint64_t max_count_ = 0;
};

template <typename Fn>
void HashIndex::ForEachInTagRange(uint64_t first, uint64_t last, Fn&& fn) const {
  const uint64_t nb = mask_ + 1;
  // Buckets whose home range is [first, last): tags t with first <= t < last.
  const uint64_t b0 = first >> shift_;
  const uint64_t b1 = (last + (uint64_t{1} << shift_) - 1) >> shift_;  // exclusive
  if (b0 >= b1) return;
  // An entry homed in [b0, b1) is stored at or after its home, within the run of full
  // buckets that follows it: scan on past b1 while the run continues (wrapping at the end).
  bool prev_full = true;
  for (uint64_t i = b0; i < b1 || prev_full; i++) {
    if (i - b0 >= nb) break;  // a full circle
    const Bucket* bucket = &buckets_[i & mask_];
    bool full = true;
    for (int w = 0; w < kWays; w++) {
      uint32_t t = bucket->tags[w];
      if (t == 0) {
        full = false;
        continue;
      }
      uint64_t home = Home(t);
      if (home >= b0 && home < b1 && t >= first && t < last) fn(t, bucket->words[w] & kLocationMask);
    }
    prev_full = full;
  }
}

template <typename Confirm>
HashIndex::Ref HashIndex::Find(uint64_t hash, Confirm&& confirm) const {
  const uint32_t tag = Tag(hash);
  const uint64_t extra = Extra(hash);
  for (uint64_t b = Home(tag);; b = (b + 1) & mask_) {
    Bucket* bucket = &buckets_[b];
    bool full = true;
    for (int w = 0; w < kWays; w++) {
      uint32_t t = bucket->tags[w];
      if (t == 0) {
        full = false;
      } else if (t == tag && (bucket->words[w] & ~kLocationMask) == extra &&
                 confirm(bucket->words[w] & kLocationMask)) {
        return Ref{bucket, w};
      }
    }
    if (!full) return Ref{};
  }
}

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_HASH_INDEX_H_
