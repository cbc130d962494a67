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
// Resizing is incremental, both ways (docs/DESIGN.md, "The index resizing both ways"): a
// resize allocates the new table and then migrates a few old home buckets per write, so
// no single operation pays for the whole table. During a migration an entry whose home in
// the OLD table is below the cursor lives in the new table, every other entry in the old
// one; each table is on its own a valid table of the kind above, so a lookup probes one.
//
// A tag match is confirmed by the caller comparing the key stored in the log record.
//
// Thread-safety: one writer (the store's owner thread); readers on other threads use
// FindShared and ForEachInTagRangeShared, which take no lock (docs/DESIGN.md, "Worker
// threads"). Two seqlocks make that safe: each bucket's version word is odd while the
// writer changes the bucket, so a reader copies a bucket whole; the index-wide `moves_`
// word is odd while entries move between buckets or tables (a back-shift erase, a migration
// step, a clear) or the tables themselves change, so a reader that found nothing knows
// whether it may have probed past an entry in motion and must look again. A found entry
// needs no such check: it was the key's entry at the moment its bucket was copied. The
// writer stores every field a reader loads atomically (relaxed), so there is no data race;
// a table it frees goes to `retire_` (epoch reclamation) when readers may hold it.
#ifndef HASHLOG_NATIVE_HASH_INDEX_H_
#define HASHLOG_NATIVE_HASH_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>

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
  // Shrink when entries fall under 1/8 of that threshold (7/64 of capacity). The new size
  // puts the load in (7/32, 7/16], a factor of 2 or more from either trigger: no oscillation.
  static constexpr uint64_t kShrinkDen = 8;
  // Buckets of the SMALLER table migrated per write (per entry reserved). 4 finishes a
  // migration within small-buckets/4 reservations, so the small table (7/8 full when a grow
  // starts, 7/16 after a shrink starts) takes at most 1/20 of its capacity in inserts meanwhile
  // and can never fill; a shrink (at most 4x at a time) moves 16 mostly empty buckets a step.
  static constexpr uint64_t kStepBuckets = 4;

  struct alignas(64) Bucket {
    uint32_t version;
    uint32_t tags[kWays];
    uint64_t words[kWays];
  };
  static_assert(sizeof(Bucket) == 64, "a bucket is one cache line");

  // A found entry. Valid until the next change to the index; a migration step (run by
  // EnsureRoomFor*, Step, ShrinkToFit) is a change: never hold a Ref across one.
  struct Ref {
    Bucket* bucket = nullptr;
    int way = 0;
    bool in_old = false;  // in the table being migrated from
    explicit operator bool() const { return bucket != nullptr; }
    Location location() const { return bucket->words[way] & kLocationMask; }
  };

  // What a reader's check says of one candidate location (a tag match): the key's record,
  // another key's, not yet readable, or no record any more (look again).
  enum class Candidate { kMatch, kOther, kPending, kStale };
  enum class SharedFind { kFound, kAbsent, kPending };

  HashIndex() = default;
  ~HashIndex();
  HashIndex(const HashIndex&) = delete;
  HashIndex& operator=(const HashIndex&) = delete;

  // Allocates a table that holds at least `keys` entries below the load threshold (and
  // drops any migration in progress with every entry).
  Status Init(uint64_t keys);

  // Returns the entry whose hash matches and for which confirm(location) is true.
  template <typename Confirm>
  Ref Find(uint64_t hash, Confirm&& confirm) const;
  // Any thread, inside an epoch (epoch.h): check(location) reads the candidate's record and,
  // on kMatch, copies what the caller wants. kFound once a match was confirmed against an
  // unchanged bucket; kPending if a candidate's record is not readable yet (the caller
  // waits and calls again); kAbsent when no entry matched in a probe that nothing disturbed.
  template <typename Check>
  SharedFind FindShared(uint64_t hash, Check&& check) const;
  // Any thread, inside an epoch: as ForEachInTagRange, but false (after some calls of fn)
  // when entries moved meanwhile; the caller drops what fn collected and calls again.
  template <typename Fn>
  bool ForEachInTagRangeShared(uint64_t first, uint64_t last, Fn&& fn) const;
  // Where a table no longer reachable goes instead of munmap while readers may hold it:
  // retire(address, bytes) must unmap it once they cannot (the store's EpochDomain).
  void set_retire(std::function<void(void*, size_t)> retire) { retire_ = std::move(retire); }
  // Test hook: runs in FindShared after the tables are read and after each bucket is
  // copied, to widen the windows in which the writer can move entries under a reader.
  static void SetProbeHookForTesting(void (*hook)()) { probe_hook_ = hook; }

  // Adds an entry. REQUIRES: no entry for this key; EnsureRoomForOneMore() succeeded.
  void Insert(uint64_t hash, Location loc);
  // Adds an entry exactly as ForEachEntry reported it (word = location | extra hash bits).
  // REQUIRES: as Insert.
  void InsertWord(uint32_t tag, uint64_t word);
  void Replace(Ref ref, Location loc);
  void Erase(Ref ref);

  // Room for one more insert: a migration step, and a new migration (doubling) when one
  // more entry would pass the load threshold. Invalidates Refs.
  Status EnsureRoomForOneMore() { return EnsureRoomFor(1); }
  // Room for `more` inserts, none of which can then fail: advances a migration in progress
  // by `more` steps (finishing it if that many would) and grows if needed (starting a
  // migration that this call already advances by `more` steps). Invalidates Refs.
  Status EnsureRoomFor(uint64_t more);
  // One migration step, or the start of a shrink when entries fell far below capacity: for
  // deletes, which reserve no room. Call it outside locks (it may allocate or unmap), not
  // while holding a Ref. An allocation failure just leaves the larger table.
  void Step();
  // Removes every entry (keeps the new table of a migration, frees the old one).
  void Clear();
  // Calls fn(tag, location) for each entry whose tag lies in [first, last) of the 2^32 tag
  // space, each exactly once while the index does not change, in both tables during a
  // migration (resize-proof: a range of tags names the same entries at any table size and
  // in either table). Used by Store::Scan.
  template <typename Fn>
  void ForEachInTagRange(uint64_t first, uint64_t last, Fn&& fn) const;
  // Calls fn(tag, word) for every entry (word: location in the low 48 bits, 16 more hash
  // bits above), in both tables during a migration. For checkpoints (with InsertWord).
  template <typename Fn>
  void ForEachEntry(Fn&& fn) const;
  // Finishes any migration and rebuilds at once into the smallest table that holds the
  // entries when it is under a quarter full (after recovery sized it for every record of a
  // log with many overwrites, and after clear()). Pauses for O(buckets): open and clear only.
  Status ShrinkToFit();

  // Hints the CPU to load the bucket for `hash` (used to overlap batched lookups).
  void Prefetch(uint64_t hash) const {
    const uint32_t tag = Tag(hash);
    const Table& t = TableFor(tag);
    __builtin_prefetch(&t.buckets[t.Home(tag)]);
  }

  uint64_t size() const { return count_; }
  // Of the table being filled (the new one during a migration).
  uint64_t capacity() const { return cur_.count() * kWays; }
  // Both tables during a migration: what the index holds in RAM.
  uint64_t bytes() const { return (cur_.count() + old_.count()) * sizeof(Bucket); }
  // Of the new table during a migration. Scan uses it only to size its tag ranges.
  uint64_t bucket_count() const { return cur_.count(); }
  uint64_t bucket_count_shared() const { return __atomic_load_n(&cur_.mask, __ATOMIC_RELAXED) + 1; }
  bool migrating() const { return old_.buckets != nullptr; }

 private:
  static constexpr uint64_t kLocationMask = (uint64_t{1} << 48) - 1;

  // A bucket as one reader saw it.
  struct BucketCopy {
    uint32_t version;
    uint32_t tags[kWays];
    uint64_t words[kWays];
  };
  // Owner: a plain copy. Readers: a consistent copy (retries while the writer changes it).
  template <bool kShared>
  static void Snapshot(const Bucket* b, BucketCopy* out);
  static bool Unchanged(const Bucket* b, uint32_t version) {
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(&b->version, __ATOMIC_RELAXED) == version;
  }
  // The writer's stores of what readers load.
  static void SetEntry(Bucket* b, int w, uint32_t tag, uint64_t word) {
    __atomic_store_n(&b->words[w], word, __ATOMIC_RELAXED);
    __atomic_store_n(&b->tags[w], tag, __ATOMIC_RELAXED);
  }

  // One open-addressed table: valid on its own (every entry reachable from its home).
  struct Table {
    Bucket* buckets = nullptr;
    uint64_t mask = 0;
    int shift = 32;
    uint64_t count() const { return buckets != nullptr ? mask + 1 : 0; }
    uint64_t Home(uint32_t tag) const { return tag >> shift; }
    void Place(uint32_t tag, uint64_t word);
    // Empties (bucket, way) and shifts later entries back (no tombstones).
    void EraseAt(Bucket* bucket, int way);
    template <bool kShared, typename Fn>
    void ForEachInTagRange(uint64_t first, uint64_t last, Fn&& fn) const;
  };
  // The tables and cursor as a reader saw them, consistent (false while they change).
  struct Layout {
    Table cur, old;
    uint64_t cursor;
    const Table& For(uint32_t tag) const { return old.buckets != nullptr && old.Home(tag) >= cursor ? old : cur; }
  };
  bool ReadLayout(uint64_t moves, Layout* out) const;
  // Owner: publishes a table field by field (readers load them under `moves_`).
  static void Publish(Table* dst, const Table& src) {
    __atomic_store_n(&dst->buckets, src.buckets, __ATOMIC_RELAXED);
    __atomic_store_n(&dst->mask, src.mask, __ATOMIC_RELAXED);
    __atomic_store_n(&dst->shift, src.shift, __ATOMIC_RELAXED);
  }
  void SetCursor(uint64_t c) { __atomic_store_n(&cursor_, c, __ATOMIC_RELAXED); }
  // Brackets a change that moves entries or replaces tables (odd while it runs).
  void BeginMove() { __atomic_store_n(&moves_, moves_ + 1, __ATOMIC_RELAXED); __atomic_thread_fence(__ATOMIC_RELEASE); }
  void EndMove() { __atomic_store_n(&moves_, moves_ + 1, __ATOMIC_RELEASE); }
  uint64_t Moves() const { return __atomic_load_n(&moves_, __ATOMIC_ACQUIRE); }
  bool MovesStill(uint64_t m) const {
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(&moves_, __ATOMIC_RELAXED) == m;
  }

  static uint32_t Tag(uint64_t hash) {
    uint32_t t = static_cast<uint32_t>(hash >> 32);
    return t != 0 ? t : 1;  // 0 marks an empty entry
  }
  static uint64_t Extra(uint64_t hash) { return hash << 48; }
  // The table that holds (or would hold) `tag`: the migration cursor splits the old homes.
  const Table& TableFor(uint32_t tag) const {
    return old_.buckets != nullptr && old_.Home(tag) >= cursor_ ? old_ : cur_;
  }
  Table& TableFor(uint32_t tag) { return old_.buckets != nullptr && old_.Home(tag) >= cursor_ ? old_ : cur_; }

  static Status Allocate(int log2_buckets, Table* out);
  // Unlinks the table (readers no longer find it) and unmaps or retires it.
  void Free(Table* t);
  static int Log2For(uint64_t keys);
  static int Log2Of(const Table& t) { return 32 - t.shift; }
  // Starts migrating every entry into a fresh table of 2^log2 buckets (finishing any
  // migration in progress first).
  Status BeginMigration(int log2);
  // Migrates the entries of the next `buckets` old home buckets; frees the old table when
  // the cursor reaches its end.
  void Migrate(uint64_t buckets);
  uint64_t StretchEnd(uint64_t end) const;
  void MoveRangeByReinsertion(uint64_t end, uint64_t stretch_end);
  void MoveRangeByErase(uint64_t end);
  void FinishMigration() { Migrate(~uint64_t{0}); }
  // Starts a shrink when entries are under 1/kShrinkDen of the threshold. Allocation
  // failure leaves the big table, which still works.
  void MaybeShrink();
  static void BeginWrite(Bucket* b) { __atomic_store_n(&b->version, b->version + 1, __ATOMIC_RELAXED); __atomic_thread_fence(__ATOMIC_RELEASE); }
  static void EndWrite(Bucket* b) { __atomic_store_n(&b->version, b->version + 1, __ATOMIC_RELEASE); }

  Table cur_;             // the table being filled (the only one outside a migration)
  Table old_;             // the table being emptied; buckets == nullptr outside a migration
  uint64_t cursor_ = 0;   // old home buckets below it have been migrated
  uint64_t step_ = kStepBuckets;  // old buckets per reserved entry in this migration
  uint64_t count_ = 0;    // entries in both tables
  uint64_t max_count_ = 0;  // the load threshold of cur_
  uint64_t moves_ = 0;      // seqlock: odd while entries move or tables change
  std::function<void(void*, size_t)> retire_;
  static void (*probe_hook_)();
};

template <bool kShared>
void HashIndex::Snapshot(const Bucket* b, BucketCopy* out) {
  if (!kShared) {
    out->version = b->version;
    for (int w = 0; w < kWays; w++) {
      out->tags[w] = b->tags[w];
      out->words[w] = b->words[w];
    }
    return;
  }
  for (;;) {
    const uint32_t v = __atomic_load_n(&b->version, __ATOMIC_ACQUIRE);
    if ((v & 1) == 0) {
      for (int w = 0; w < kWays; w++) {
        out->tags[w] = __atomic_load_n(&b->tags[w], __ATOMIC_RELAXED);
        out->words[w] = __atomic_load_n(&b->words[w], __ATOMIC_RELAXED);
      }
      if (Unchanged(b, v)) {
        out->version = v;
        return;
      }
    }
    __builtin_ia32_pause();
  }
}

template <bool kShared, typename Fn>
void HashIndex::Table::ForEachInTagRange(uint64_t first, uint64_t last, Fn&& fn) const {
  if (buckets == nullptr) return;
  const uint64_t nb = mask + 1;
  // Buckets whose home range is [first, last): tags t with first <= t < last.
  const uint64_t b0 = first >> shift;
  const uint64_t b1 = (last + (uint64_t{1} << shift) - 1) >> shift;  // exclusive
  if (b0 >= b1) return;
  // An entry homed in [b0, b1) is stored at or after its home, within the run of full
  // buckets that follows it: scan on past b1 while the run continues (wrapping at the end).
  bool prev_full = true;
  for (uint64_t i = b0; i < b1 || prev_full; i++) {
    if (i - b0 >= nb) break;  // a full circle
    BucketCopy bucket;
    Snapshot<kShared>(&buckets[i & mask], &bucket);
    bool full = true;
    for (int w = 0; w < kWays; w++) {
      uint32_t t = bucket.tags[w];
      if (t == 0) {
        full = false;
        continue;
      }
      uint64_t home = Home(t);
      if (home >= b0 && home < b1 && t >= first && t < last) fn(t, bucket.words[w]);
    }
    prev_full = full;
  }
}

template <typename Fn>
void HashIndex::ForEachInTagRange(uint64_t first, uint64_t last, Fn&& fn) const {
  // Each entry is in exactly one table, and each table reports its entries of the range
  // once: the union is exactly once.
  auto report = [&](uint32_t t, uint64_t word) { fn(t, word & kLocationMask); };
  old_.ForEachInTagRange<false>(first, last, report);
  cur_.ForEachInTagRange<false>(first, last, report);
}

template <typename Fn>
bool HashIndex::ForEachInTagRangeShared(uint64_t first, uint64_t last, Fn&& fn) const {
  const uint64_t m = Moves();
  Layout l;
  if (!ReadLayout(m, &l)) return false;
  auto report = [&](uint32_t t, uint64_t word) { fn(t, word & kLocationMask); };
  l.old.ForEachInTagRange<true>(first, last, report);
  l.cur.ForEachInTagRange<true>(first, last, report);
  return MovesStill(m);
}

template <typename Check>
HashIndex::SharedFind HashIndex::FindShared(uint64_t hash, Check&& check) const {
  const uint32_t tag = Tag(hash);
  const uint64_t extra = Extra(hash);
  for (;;) {
    const uint64_t m = Moves();
    Layout l;
    if (!ReadLayout(m, &l)) {
      __builtin_ia32_pause();
      continue;
    }
    if (__builtin_expect(probe_hook_ != nullptr, 0)) probe_hook_();
    const Table& table = l.For(tag);
    if (table.buckets == nullptr) {  // between tables (only while a store opens)
      if (MovesStill(m)) return SharedFind::kAbsent;
      continue;
    }
    bool pending = false, retry = false;
    for (uint64_t b = table.Home(tag);; b = (b + 1) & table.mask) {
      const Bucket* bucket = &table.buckets[b];
      BucketCopy copy;
      Snapshot<true>(bucket, &copy);
      if (__builtin_expect(probe_hook_ != nullptr, 0)) probe_hook_();
      bool full = true;
      for (int w = 0; w < kWays && !retry; w++) {
        if (copy.tags[w] == 0) {
          full = false;
        } else if (copy.tags[w] == tag && (copy.words[w] & ~kLocationMask) == extra) {
          const Candidate c = check(copy.words[w] & kLocationMask);
          // The record was read after the bucket was copied; if the bucket still holds
          // the entry, that record was the key's newest at that moment (a rolled-back
          // write's space may since hold other records: only the entry vouches for it).
          if (c == Candidate::kStale || !Unchanged(bucket, copy.version))
            retry = true;
          else if (c == Candidate::kMatch)
            return SharedFind::kFound;
          else if (c == Candidate::kPending)
            pending = true;
        }
      }
      if (retry || !full) break;
    }
    if (retry) continue;
    if (pending) return SharedFind::kPending;
    if (MovesStill(m)) return SharedFind::kAbsent;
  }
}

template <typename Fn>
void HashIndex::ForEachEntry(Fn&& fn) const {
  for (const Table* t : {&old_, &cur_}) {
    for (uint64_t b = 0; b < t->count(); b++) {
      const Bucket& bucket = t->buckets[b];
      for (int w = 0; w < kWays; w++)
        if (bucket.tags[w] != 0) fn(bucket.tags[w], bucket.words[w]);
    }
  }
}

template <typename Confirm>
HashIndex::Ref HashIndex::Find(uint64_t hash, Confirm&& confirm) const {
  const uint32_t tag = Tag(hash);
  const uint64_t extra = Extra(hash);
  const Table& table = TableFor(tag);
  const bool in_old = &table == &old_;
  for (uint64_t b = table.Home(tag);; b = (b + 1) & table.mask) {
    Bucket* bucket = &table.buckets[b];
    bool full = true;
    for (int w = 0; w < kWays; w++) {
      uint32_t t = bucket->tags[w];
      if (t == 0) {
        full = false;
      } else if (t == tag && (bucket->words[w] & ~kLocationMask) == extra &&
                 confirm(bucket->words[w] & kLocationMask)) {
        return Ref{bucket, w, in_old};
      }
    }
    if (!full) return Ref{};
  }
}

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_HASH_INDEX_H_
