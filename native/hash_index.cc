// HashIndex: allocation, insertion, backward-shift erase and doubling.
#include "hash_index.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

namespace hashlog {
namespace {

constexpr int kMinLog2 = 3;
constexpr int kMaxLog2 = 31;  // 2^31 buckets = 128 GiB of index: far past any machine here

}  // namespace

HashIndex::~HashIndex() { Free(buckets_, mask_ + 1); }

Status HashIndex::Allocate(int log2_buckets, Bucket** out) {
  size_t bytes = (size_t{1} << log2_buckets) * sizeof(Bucket);
  // Anonymous mmap: page-aligned (so cache-line aligned), zeroed, returned to the OS on free.
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return Status::FromErrno("mmap", "(index)", errno);
  // A random probe into a table larger than the TLB reach costs a page walk; huge pages
  // make it ~2x cheaper here (THP is "madvise" on this kernel, so ask).
  if (bytes >= (2u << 20)) ::madvise(p, bytes, MADV_HUGEPAGE);
  *out = static_cast<Bucket*>(p);
  return Status::OK();
}

void HashIndex::Free(Bucket* b, uint64_t count) {
  if (b != nullptr) ::munmap(b, count * sizeof(Bucket));
}

int HashIndex::Log2For(uint64_t keys) {
  int log2 = kMinLog2;
  while (log2 < kMaxLog2 && ((uint64_t{1} << log2) * kWays * kMaxLoadNum / kMaxLoadDen) < keys) log2++;
  return log2;
}

Status HashIndex::Init(uint64_t keys) {
  Bucket* b;
  const int log2 = Log2For(keys);
  Status s = Allocate(log2, &b);
  if (!s.ok()) return s;
  Free(buckets_, mask_ + 1);
  buckets_ = b;
  mask_ = (uint64_t{1} << log2) - 1;
  shift_ = 32 - log2;
  count_ = 0;
  max_count_ = (mask_ + 1) * kWays * kMaxLoadNum / kMaxLoadDen;
  return Status::OK();
}

void HashIndex::Place(uint32_t tag, uint64_t word) {
  for (uint64_t b = Home(tag);; b = (b + 1) & mask_) {
    Bucket* bucket = &buckets_[b];
    for (int w = 0; w < kWays; w++) {
      if (bucket->tags[w] == 0) {
        BeginWrite(bucket);
        bucket->words[w] = word;
        bucket->tags[w] = tag;
        EndWrite(bucket);
        return;
      }
    }
  }
}

void HashIndex::Insert(uint64_t hash, Location loc) {
  Place(Tag(hash), Extra(hash) | loc);
  count_++;
}

void HashIndex::Replace(Ref ref, Location loc) {
  BeginWrite(ref.bucket);
  ref.bucket->words[ref.way] = (ref.bucket->words[ref.way] & ~kLocationMask) | loc;
  EndWrite(ref.bucket);
}

void HashIndex::Erase(Ref ref) {
  Bucket* hole = ref.bucket;
  int hole_way = ref.way;
  BeginWrite(hole);
  hole->tags[hole_way] = 0;
  hole->words[hole_way] = 0;
  EndWrite(hole);
  count_--;
  // Backward shift: an entry further along whose home is at or before the hole relied on
  // the hole's bucket being full to be found; move it into the hole and repeat from there.
  uint64_t h = static_cast<uint64_t>(hole - buckets_);
  for (uint64_t j = (h + 1) & mask_;; j = (j + 1) & mask_) {
    Bucket* bucket = &buckets_[j];
    bool full = true;
    int movable = -1;
    for (int w = 0; w < kWays && movable < 0; w++) {
      uint32_t t = bucket->tags[w];
      if (t == 0) {
        full = false;
        continue;
      }
      uint64_t dist_home = (j - Home(t)) & mask_;
      uint64_t dist_hole = (j - h) & mask_;
      if (dist_home >= dist_hole) movable = w;
    }
    if (movable >= 0) {
      BeginWrite(hole);
      hole->tags[hole_way] = bucket->tags[movable];
      hole->words[hole_way] = bucket->words[movable];
      EndWrite(hole);
      BeginWrite(bucket);
      bucket->tags[movable] = 0;
      bucket->words[movable] = 0;
      EndWrite(bucket);
      hole = bucket;
      hole_way = movable;
      h = j;
      continue;
    }
    if (!full) return;
  }
}

Status HashIndex::Rebuild(int log2) {
  Bucket* fresh;
  Status s = Allocate(log2, &fresh);
  if (!s.ok()) return s;
  Bucket* old = buckets_;
  uint64_t old_count = mask_ + 1;
  buckets_ = fresh;
  mask_ = (uint64_t{1} << log2) - 1;
  shift_ = 32 - log2;
  max_count_ = (mask_ + 1) * kWays * kMaxLoadNum / kMaxLoadDen;
  for (uint64_t b = 0; b < old_count; b++)
    for (int w = 0; w < kWays; w++)
      if (old[b].tags[w] != 0) Place(old[b].tags[w], old[b].words[w]);
  Free(old, old_count);
  return Status::OK();
}

Status HashIndex::EnsureRoomForOneMore() {
  if (count_ < max_count_) return Status::OK();
  int log2 = 64 - __builtin_clzll(mask_ + 1);  // current log2 + 1
  if (log2 > kMaxLog2) return Status::Full("index is at its maximum size");
  Status s = Rebuild(log2);
  return s.ok() ? s : Status::Full("index cannot grow: " + s.message());
}

Status HashIndex::EnsureRoomFor(uint64_t more) {
  if (count_ + more <= max_count_) return Status::OK();
  const int log2 = Log2For(count_ + more);
  if (log2 > kMaxLog2 || (uint64_t{1} << log2) * kWays < count_ + more) return Status::Full("index is at its maximum size");
  Status s = Rebuild(log2);
  return s.ok() ? s : Status::Full("index cannot grow: " + s.message());
}

void HashIndex::Clear() {
  for (uint64_t b = 0; b <= mask_; b++) {
    BeginWrite(&buckets_[b]);
    std::memset(buckets_[b].tags, 0, sizeof(buckets_[b].tags));
    std::memset(buckets_[b].words, 0, sizeof(buckets_[b].words));
    EndWrite(&buckets_[b]);
  }
  count_ = 0;
}

Status HashIndex::ShrinkToFit() {
  if (count_ * 4 >= max_count_) return Status::OK();
  const int log2 = Log2For(count_ + 1);
  if ((uint64_t{1} << log2) >= mask_ + 1) return Status::OK();
  return Rebuild(log2);
}

}  // namespace hashlog
