// HashIndex: allocation, insertion, backward-shift erase and incremental migration.
#include "hash_index.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hashlog {
namespace {

constexpr int kMinLog2 = 3;
constexpr int kMaxLog2 = 31;  // 2^31 buckets = 128 GiB of index: far past any machine here
constexpr int kMaxShrinkLog2 = 2;  // a shrink at most quarters the table (see kStepBuckets)

uint64_t Threshold(uint64_t buckets) {
  return buckets * HashIndex::kWays * HashIndex::kMaxLoadNum / HashIndex::kMaxLoadDen;
}

uint64_t SaturatingMul(uint64_t a, uint64_t b) { return b != 0 && a > ~uint64_t{0} / b ? ~uint64_t{0} : a * b; }

}  // namespace

void (*HashIndex::probe_hook_)() = nullptr;

HashIndex::~HashIndex() {
  retire_ = nullptr;  // the store destroys the index after every reader is gone
  Free(&old_);
  Free(&cur_);
}

bool HashIndex::ReadLayout(uint64_t moves, Layout* out) const {
  if (moves & 1) return false;
  auto load = [](const Table& t, Table* o) {
    o->buckets = __atomic_load_n(&t.buckets, __ATOMIC_RELAXED);
    o->mask = __atomic_load_n(&t.mask, __ATOMIC_RELAXED);
    o->shift = __atomic_load_n(&t.shift, __ATOMIC_RELAXED);
  };
  load(cur_, &out->cur);
  load(old_, &out->old);
  out->cursor = __atomic_load_n(&cursor_, __ATOMIC_RELAXED);
  return MovesStill(moves);
}

Status HashIndex::Allocate(int log2_buckets, Table* out) {
  size_t bytes = (size_t{1} << log2_buckets) * sizeof(Bucket);
  // Anonymous mmap: page-aligned (so cache-line aligned), zeroed, returned to the OS on free.
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return Status::FromErrno("mmap", "(index)", errno);
  // A random probe into a table larger than the TLB reach costs a page walk; huge pages
  // make it ~2x cheaper here (THP is "madvise" on this kernel, so ask).
  if (bytes >= (2u << 20)) ::madvise(p, bytes, MADV_HUGEPAGE);
  out->buckets = static_cast<Bucket*>(p);
  out->mask = (uint64_t{1} << log2_buckets) - 1;
  out->shift = 32 - log2_buckets;
  return Status::OK();
}

void HashIndex::Free(Table* t) {
  if (t->buckets == nullptr) return;
  void* p = t->buckets;
  const size_t bytes = t->count() * sizeof(Bucket);
  BeginMove();
  Publish(t, Table());
  EndMove();
  if (retire_)
    retire_(p, bytes);
  else
    ::munmap(p, bytes);
}

int HashIndex::Log2For(uint64_t keys) {
  int log2 = kMinLog2;
  while (log2 < kMaxLog2 && Threshold(uint64_t{1} << log2) < keys) log2++;
  return log2;
}

Status HashIndex::Init(uint64_t keys) {
  Table fresh;
  Status s = Allocate(Log2For(keys), &fresh);
  if (!s.ok()) return s;
  Free(&old_);
  Free(&cur_);
  BeginMove();
  Publish(&cur_, fresh);
  SetCursor(0);
  EndMove();
  count_ = 0;
  max_count_ = Threshold(cur_.count());
  return Status::OK();
}

void HashIndex::Table::Place(uint32_t tag, uint64_t word) {
  for (uint64_t b = Home(tag);; b = (b + 1) & mask) {
    Bucket* bucket = &buckets[b];
    for (int w = 0; w < kWays; w++) {
      if (bucket->tags[w] == 0) {
        BeginWrite(bucket);
        SetEntry(bucket, w, tag, word);
        EndWrite(bucket);
        return;
      }
    }
  }
}

void HashIndex::Table::EraseAt(Bucket* hole, int hole_way) {
  BeginWrite(hole);
  SetEntry(hole, hole_way, 0, 0);
  EndWrite(hole);
  // Backward shift: an entry further along whose home is at or before the hole relied on
  // the hole's bucket being full to be found; move it into the hole and repeat from there.
  uint64_t h = static_cast<uint64_t>(hole - buckets);
  for (uint64_t j = (h + 1) & mask;; j = (j + 1) & mask) {
    Bucket* bucket = &buckets[j];
    bool full = true;
    int movable = -1;
    for (int w = 0; w < kWays && movable < 0; w++) {
      uint32_t t = bucket->tags[w];
      if (t == 0) {
        full = false;
        continue;
      }
      uint64_t dist_home = (j - Home(t)) & mask;
      uint64_t dist_hole = (j - h) & mask;
      if (dist_home >= dist_hole) movable = w;
    }
    if (movable >= 0) {
      BeginWrite(hole);
      SetEntry(hole, hole_way, bucket->tags[movable], bucket->words[movable]);
      EndWrite(hole);
      BeginWrite(bucket);
      SetEntry(bucket, movable, 0, 0);
      EndWrite(bucket);
      hole = bucket;
      hole_way = movable;
      h = j;
      continue;
    }
    if (!full) return;
  }
}

void HashIndex::Insert(uint64_t hash, Location loc) { InsertWord(Tag(hash), Extra(hash) | loc); }

void HashIndex::InsertWord(uint32_t tag, uint64_t word) {
  TableFor(tag).Place(tag, word);
  count_++;
}

void HashIndex::Replace(Ref ref, Location loc) {
  BeginWrite(ref.bucket);
  __atomic_store_n(&ref.bucket->words[ref.way], (ref.bucket->words[ref.way] & ~kLocationMask) | loc, __ATOMIC_RELAXED);
  EndWrite(ref.bucket);
}

void HashIndex::Erase(Ref ref) {
  // A back-shift moves entries: a reader probing meanwhile may stop short of one.
  BeginMove();
  (ref.in_old ? old_ : cur_).EraseAt(ref.bucket, ref.way);
  EndMove();
  count_--;
}

Status HashIndex::BeginMigration(int log2) {
  FinishMigration();
  Table fresh;
  Status s = Allocate(log2, &fresh);
  if (!s.ok()) return s;
  BeginMove();
  Publish(&old_, cur_);
  Publish(&cur_, fresh);
  SetCursor(0);
  EndMove();
  max_count_ = Threshold(cur_.count());
  // Paced by the smaller table, so that it cannot fill before the migration ends.
  step_ = kStepBuckets * std::max<uint64_t>(1, old_.count() / cur_.count());
  return Status::OK();
}

// The entries homed in [cursor_, end) sit at or after their home, within the run of full
// buckets that follows it (wrapping at the end, as ForEachInTagRange walks): the stretch of
// scan positions i (bucket i & mask) from the cursor on past `end` while buckets are full.
// Returns the position after the stretch.
uint64_t HashIndex::StretchEnd(uint64_t end) const {
  const uint64_t nb = old_.count();
  bool prev_full = true;
  uint64_t i = cursor_;
  for (; (i < end || prev_full) && i - cursor_ < nb; i++) {
    const Bucket& bucket = old_.buckets[i & old_.mask];
    prev_full = true;
    for (int w = 0; w < kWays; w++) prev_full = prev_full && bucket.tags[w] != 0;
  }
  return i;
}

void HashIndex::MoveRangeByReinsertion(uint64_t end, uint64_t stretch_end) {
  const uint64_t mask = old_.mask;
  // Each entry homed in [cursor_, end) goes to the new table; every other entry of the
  // stretch moves back to the first free way from its home if one opened up in an earlier
  // bucket (deletion by re-insertion of the rest of the run, Knuth 6.4 Algorithm R). One
  // pass, O(stretch); the old table stays valid on its own. REQUIRES: the stretch ends
  // before the last bucket (stretch_end < buckets), so it ends at a bucket that was not full
  // (nothing after it relies on the stretch) and never empties a bucket on which an entry
  // homed near the end and wrapped into the stretch relies ([home, buckets), [0, cursor_)).
  // `hole_lo`: every bucket at positions [cursor_, hole_lo) is full.
  uint64_t hole_lo = cursor_;
  for (uint64_t i = cursor_; i < stretch_end; i++) {
    Bucket* bucket = &old_.buckets[i & mask];
    for (int w = 0; w < kWays; w++) {
      const uint32_t t = bucket->tags[w];
      if (t == 0) continue;
      const uint64_t home = old_.Home(t);
      const uint64_t word = bucket->words[w];
      if (home >= cursor_ && home < end) {
        cur_.Place(t, word);
      } else {
        // home >= cursor_ (older homes were migrated). One past i wrapped from the end: it
        // relies on [home, buckets) and [0, cursor_), outside the stretch and untouched, so
        // it may move back as far as the cursor.
        const uint64_t from = std::max(home > i ? cursor_ : home, hole_lo);
        Bucket* to = nullptr;
        int to_way = 0;
        for (uint64_t j = from; j < i && to == nullptr; j++) {
          Bucket* b = &old_.buckets[j & mask];
          for (int v = 0; v < kWays && to == nullptr; v++) {
            if (b->tags[v] == 0) {
              to = b;
              to_way = v;
              if (from == hole_lo) hole_lo = j;
            }
          }
        }
        if (to == nullptr) {
          if (from == hole_lo) hole_lo = i;
          continue;  // no free way before it: it stays
        }
        // Written at its new place before it leaves the old one.
        BeginWrite(to);
        SetEntry(to, to_way, t, word);
        EndWrite(to);
      }
      BeginWrite(bucket);
      SetEntry(bucket, w, 0, 0);
      EndWrite(bucket);
    }
  }
}

void HashIndex::MoveRangeByErase(uint64_t end) {
  const uint64_t nb = old_.count();
  // Each entry homed in range goes to the new table and is erased from the old with the
  // back-shift: correct for a stretch that wraps all the way round, at O(run) per entry.
  bool prev_full = true;
  for (uint64_t i = cursor_; i < end || prev_full; i++) {
    if (i - cursor_ >= nb) break;  // a full circle
    Bucket* bucket = &old_.buckets[i & old_.mask];
    bool full = true;
    for (int w = 0; w < kWays;) {
      const uint32_t t = bucket->tags[w];
      if (t == 0) {
        full = false;
        w++;
        continue;
      }
      const uint64_t home = old_.Home(t);
      if (home < cursor_ || home >= end) {
        w++;
        continue;
      }
      cur_.Place(t, bucket->words[w]);
      // The back-shift may move a later entry (maybe also homed in range) into this very
      // way and only ever into later buckets after it: look at the same way again.
      old_.EraseAt(bucket, w);
    }
    prev_full = full;
  }
}

void HashIndex::Migrate(uint64_t buckets) {
  if (!migrating() || buckets == 0) return;
  const uint64_t nb = old_.count();
  const uint64_t end = nb - cursor_ <= buckets ? nb : cursor_ + buckets;
  // A stretch that reaches the last bucket (the last step, or a run longer than the buckets
  // already migrated) may hold entries homed near the end that rely on buckets the pass
  // would empty later: rare, and then the slower erase keeps it simple.
  const uint64_t stretch_end = StretchEnd(end);
  BeginMove();
  if (stretch_end < nb)
    MoveRangeByReinsertion(end, stretch_end);
  else
    MoveRangeByErase(end);
  SetCursor(end);
  EndMove();
  if (cursor_ == nb) {
    Free(&old_);
    SetCursor(0);
  }
}

void HashIndex::MaybeShrink() {
  const int log2 = Log2Of(cur_);
  if (migrating() || log2 <= kMinLog2 || count_ * kShrinkDen >= max_count_) return;
  // Room for twice the entries: the load lands in (7/32, 7/16], far from both triggers.
  const int target = std::max(Log2For(2 * count_), log2 - kMaxShrinkLog2);
  if (target >= log2) return;
  (void)BeginMigration(target);  // out of memory: keep the big table, which still works
}

Status HashIndex::EnsureRoomFor(uint64_t more) {
  Migrate(SaturatingMul(step_, more));
  // No shrink starts here: recovery reserves one entry at a time into a table sized for
  // every put record, which would look far too big until the end. Deletes start shrinks.
  if (count_ + more <= max_count_) return Status::OK();
  const int log2 = std::max(Log2Of(cur_) + 1, Log2For(count_ + more));
  if (log2 > kMaxLog2 || (uint64_t{1} << log2) * kWays < count_ + more) return Status::Full("index is at its maximum size");
  Status s = BeginMigration(log2);
  if (!s.ok()) return Status::Full("index cannot grow: " + s.message());
  Migrate(SaturatingMul(step_, more));
  return Status::OK();
}

void HashIndex::Step() {
  if (migrating())
    Migrate(step_);
  else
    MaybeShrink();
}

void HashIndex::Clear() {
  Free(&old_);
  BeginMove();
  SetCursor(0);
  for (uint64_t b = 0; b < cur_.count(); b++) {
    Bucket* bucket = &cur_.buckets[b];
    BeginWrite(bucket);
    for (int w = 0; w < kWays; w++) SetEntry(bucket, w, 0, 0);
    EndWrite(bucket);
  }
  EndMove();
  count_ = 0;
}

Status HashIndex::ShrinkToFit() {
  FinishMigration();
  if (count_ * 4 >= max_count_) return Status::OK();
  const int log2 = Log2For(count_ + 1);
  if (log2 >= Log2Of(cur_)) return Status::OK();
  Status s = BeginMigration(log2);
  if (!s.ok()) return s;
  FinishMigration();
  return Status::OK();
}

}  // namespace hashlog
