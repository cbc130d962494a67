// Recovery: segment scan, damage classification and index rebuild.
#include "recovery.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "coding.h"

namespace hashlog {
namespace {

class Scanner {
 public:
  Scanner(const RecoveryOptions& o, const HashKey& k, SegmentTable* s, HashIndex* i, ExpiryCounter* e,
          RecoveryReport* r)
      : options_(o), key_(k), segments_(s), index_(i), expiry_(e), report_(r) {}

  // Scans segment `i` of the table from `start` (the header's end, or where a checkpoint's
  // coverage ends); *end is where its valid data stops.
  Status Scan(size_t i, uint64_t start, uint64_t* end);

 private:
  // Applies a put or delete whose key hashes to `hash`.
  Status ApplyRecord(const RecordHeader& h, const char* rec, Location loc, uint64_t hash);
  Status ApplyRecord(const RecordHeader& h, const char* rec, Location loc) {
    return ApplyRecord(h, rec, loc, SipHash13(key_, rec + kRecordHeaderSize, h.key_size));
  }
  Status ApplyBatch(const RecordHeader& h, const char* rec, Location loc);
  // Everything before a clear record is deleted: empty the index and the accounting.
  void ApplyClear(const RecordHeader& h, size_t segment) {
    report_->records++;
    report_->max_seq = std::max(report_->max_seq, h.seq);
    index_->Clear();
    expiry_->Clear();
    for (size_t j = 0; j <= segment; j++) (*segments_)[j]->live_bytes = 0;
  }
  Status Damage(size_t i, uint64_t pos, uint64_t* next, bool* stop);
  static bool IntactRecordAfter(const char* base, uint64_t pos, uint64_t size, uint64_t* found);
  const char* RecordAt(Location loc) const {
    return (*segments_)[LocationSlot(loc)]->base() + LocationOffset(loc);
  }

  const RecoveryOptions& options_;
  const HashKey& key_;
  SegmentTable* segments_;
  HashIndex* index_;
  ExpiryCounter* expiry_;
  RecoveryReport* report_;
};

bool Scanner::IntactRecordAfter(const char* base, uint64_t pos, uint64_t size, uint64_t* found) {
  RecordHeader h;
  for (uint64_t p = pos + 1; p + kRecordHeaderSize <= size; p++) {
    const char* r = base + p;
    uint8_t type = static_cast<uint8_t>(r[4]);
    if (type < kTypePut || type > kTypeClear || r[5] != 0 || r[6] != 0 || r[7] != 0) continue;
    if (DecodeRecord(r, size - p, &h) == DecodeResult::kOk) {
      *found = p;
      return true;
    }
  }
  return false;
}

// The end of the inner records of a damaged batch at pos, or pos if pos is not a batch. A
// batch cut short by a crash still holds whole inner records (each with its own CRC); they
// are part of the damaged record, not intact records after it. Inner records carry
// consecutive sequence numbers up to the batch header's, while the records that follow the
// batch carry higher ones, so the walk cannot run into them.
uint64_t InnerRecordsEnd(const char* base, uint64_t pos, uint64_t size) {
  if (size - pos < kRecordHeaderSize) return pos;
  const char* p = base + pos;
  RecordHeader outer;
  DecodeHeader(p, &outer);
  if (outer.type != kTypeBatch || p[5] != 0 || p[6] != 0 || p[7] != 0 || outer.key_size != 0) return pos;
  uint64_t at = pos + kRecordHeaderSize;
  uint64_t prev_seq = 0;
  RecordHeader inner;
  while (at < size && DecodeRecord(base + at, size - at, &inner) == DecodeResult::kOk &&
         (inner.type == kTypePut || inner.type == kTypeDelete) && inner.seq <= outer.seq &&
         (prev_seq == 0 || inner.seq == prev_seq + 1)) {
    prev_seq = inner.seq;
    at += inner.total_size();
  }
  return at;
}

Status Scanner::Damage(size_t i, uint64_t pos, uint64_t* next, bool* stop) {
  Segment* seg = (*segments_)[i].get();
  const uint64_t size = seg->file_size();
  uint64_t found = 0;
  // Look for intact records only past the damaged record's own inner records.
  const uint64_t from = InnerRecordsEnd(seg->base(), pos, size);
  bool more_here = IntactRecordAfter(seg->base(), from > pos ? from - 1 : pos, size, &found);
  bool more_later = false;
  for (size_t j = i + 1; j < segments_->size() && !more_here && !more_later; j++) {
    const Segment* later = (*segments_)[j].get();
    uint64_t unused;
    more_later = IntactRecordAfter(later->base(), kSegmentHeaderSize - 1, later->file_size(), &unused);
  }
  if (!more_here && !more_later) {
    // The tail of the log: what an interrupted, unacknowledged append leaves. Count the
    // non-zero bytes dropped (zero-filled space past the last record is not data).
    uint64_t last = size;
    while (last > pos && seg->base()[last - 1] == 0) last--;
    report_->discarded_bytes += last - pos;
    *stop = true;
    return Status::OK();
  }
  if (!options_.repair) {
    return Status::Corruption("corrupt record in " + seg->path() + " at offset " + std::to_string(pos) +
                              " (open with repair: true to salvage every intact record)");
  }
  uint64_t resume = more_here ? found : size;
  report_->discarded_bytes += resume - pos;
  report_->dropped.push_back(Segment::FileName(seg->file_number()) + "@" + std::to_string(pos) + "+" +
                             std::to_string(resume - pos));
  *next = resume;
  *stop = false;
  return Status::OK();
}

Status Scanner::Scan(size_t i, uint64_t start, uint64_t* end) {
  Segment* seg = (*segments_)[i].get();
  const uint64_t size = seg->file_size();
  const char* base = seg->base();
  // Records are applied in windows: hash a window's keys and prefetch their buckets first,
  // so the index's cache misses overlap instead of coming one after another.
  struct Pending {
    RecordHeader h;
    uint64_t pos;
    uint64_t hash;
  };
  constexpr int kWindow = 16;
  Pending window[kWindow];
  int pending = 0;
  auto apply_window = [&]() -> Status {
    if (options_.progress != nullptr && pending > 0) {
      options_.progress->done.store(report_->bytes_scanned + window[0].pos, std::memory_order_relaxed);
    }
    for (int k = 0; k < pending; k++) {
      const Pending& p = window[k];
      Status s = ApplyRecord(p.h, base + p.pos, MakeLocation(seg->slot(), static_cast<uint32_t>(p.pos)), p.hash);
      if (!s.ok()) return s;
    }
    pending = 0;
    return Status::OK();
  };
  uint64_t pos = start;
  while (pos < size) {
    RecordHeader h;
    DecodeResult r = DecodeRecord(base + pos, size - pos, &h);
    if (r == DecodeResult::kOk && (h.type == kTypePut || h.type == kTypeDelete)) {
      uint64_t hash = SipHash13(key_, base + pos + kRecordHeaderSize, h.key_size);
      index_->Prefetch(hash);
      window[pending++] = Pending{h, pos, hash};
      pos += h.total_size();
      if (pending == kWindow) {
        Status s = apply_window();
        if (!s.ok()) return s;
      }
      continue;
    }
    Status s = apply_window();
    if (!s.ok()) return s;
    if (r == DecodeResult::kOk) {
      if (h.type == kTypeBatch) {
        s = ApplyBatch(h, base + pos, MakeLocation(seg->slot(), static_cast<uint32_t>(pos)));
        if (!s.ok()) return s;
      } else {
        ApplyClear(h, i);
      }
      pos += h.total_size();
      continue;
    }
    uint64_t next = pos;
    bool stop = false;
    s = Damage(i, pos, &next, &stop);
    if (!s.ok()) return s;
    if (stop) break;  // pos is the end of the valid data
    pos = next;
  }
  Status s = apply_window();
  if (!s.ok()) return s;
  *end = std::min(pos, size);
  report_->bytes_scanned += size > start ? size - start : 0;
  return Status::OK();
}

// An upper bound of the keys a segment holds: its put records, counted by walking the
// headers without checking CRCs. Sizing the index once saves the doublings of a blind
// rebuild (rehashing and page clearing were a quarter of a 1M-key open).
uint64_t CountPuts(const Segment* seg, uint64_t start) {
  uint64_t count = 0;
  RecordHeader h;
  for (uint64_t pos = start; pos + kRecordHeaderSize <= seg->file_size();) {
    DecodeHeader(seg->base() + pos, &h);
    if (h.type == kTypePut) count++;
    else if (h.type == kTypeBatch) count += h.value_size / (kRecordHeaderSize + 1);
    else if (h.type != kTypeDelete) break;
    pos += h.total_size();
  }
  return count;
}

Status Scanner::ApplyRecord(const RecordHeader& h, const char* rec, Location loc, uint64_t hash) {
  report_->records++;
  report_->max_seq = std::max(report_->max_seq, h.seq);
  Slice key(rec + kRecordHeaderSize, h.key_size);
  RecordHeader old;
  HashIndex::Ref ref = index_->Find(hash, [&](Location l) { return RecordHasKey(RecordAt(l), key); });
  if (ref) {
    DecodeHeader(RecordAt(ref.location()), &old);
    if (old.seq > h.seq) return Status::OK();  // a newer copy was seen already
    (*segments_)[LocationSlot(ref.location())]->live_bytes -= old.total_size();
    expiry_->Remove(old.expires_at);
  }
  if (h.type == kTypePut) {
    expiry_->Add(h.expires_at);
    if (ref) {
      index_->Replace(ref, loc);
    } else {
      Status s = index_->EnsureRoomForOneMore();
      if (!s.ok()) return s;
      index_->Insert(hash, loc);
    }
    (*segments_)[LocationSlot(loc)]->live_bytes += h.total_size();
  } else if (ref) {
    index_->Erase(ref);
  }
  return Status::OK();
}

Status Scanner::ApplyBatch(const RecordHeader& h, const char* rec, Location loc) {
  // The batch's CRC covered every inner record: inner damage means a writer bug.
  const char* p = rec + kRecordHeaderSize;
  uint64_t left = h.value_size;
  while (left > 0) {
    RecordHeader inner;
    if (DecodeRecord(p, left, &inner) != DecodeResult::kOk || (inner.type != kTypePut && inner.type != kTypeDelete))
      return Status::Corruption("malformed batch at " + std::to_string(LocationOffset(loc)));
    uint32_t off = LocationOffset(loc) + static_cast<uint32_t>(p - rec);
    Status s = ApplyRecord(inner, p, MakeLocation(LocationSlot(loc), off));
    if (!s.ok()) return s;
    p += inner.total_size();
    left -= inner.total_size();
  }
  return Status::OK();
}

Status ListSegments(FileSystem* fs, const std::string& dir, std::vector<uint64_t>* numbers, bool* checkpoint_tmp) {
  std::vector<std::string> names;
  Status s = fs->ListDir(dir, &names);
  if (!s.ok()) return s;
  for (const std::string& n : names) {
    uint64_t num;
    if (Segment::ParseFileName(n, &num)) numbers->push_back(num);
    if (n == kCheckpointTmpName) *checkpoint_tmp = true;
  }
  std::sort(numbers->begin(), numbers->end());
  return Status::OK();
}

// Checks a segment's header and reads its flags. A newest segment whose header never made
// it to disk holds no acknowledged record (the header is synced before any record is
// written): *discard.
Status CheckHeader(Segment* seg, bool newest, bool repair, bool* discard) {
  *discard = false;
  uint64_t number = 0;
  uint16_t major = 0, minor = 0;
  uint32_t flags = 0;
  HeaderResult r = seg->file_size() < kSegmentHeaderSize
                       ? HeaderResult::kZero
                       : DecodeSegmentHeader(seg->base(), &number, &major, &minor, &flags);
  if (r == HeaderResult::kNewerMajor)
    return Status::NotSupported(seg->path() + " has format version " + std::to_string(major) + "." +
                                std::to_string(minor) + "; this build reads up to " +
                                std::to_string(kCompactedFormatMajor) + ".x");
  if (r == HeaderResult::kOk && number == seg->file_number()) {
    seg->flags = flags;
    return Status::OK();
  }
  if (newest && (r == HeaderResult::kZero)) {
    *discard = true;
    return Status::OK();
  }
  if (repair) return Status::OK();  // salvage its records anyway
  return Status::Corruption("bad segment header in " + seg->path() + " at offset 0");
}

// The flags of a segment whose header is intact, else 0 (CheckHeader judges it later).
uint32_t PeekFlags(const Segment* seg) {
  uint64_t number = 0;
  uint16_t major = 0, minor = 0;
  uint32_t flags = 0;
  if (seg->file_size() < kSegmentHeaderSize) return 0;
  if (DecodeSegmentHeader(seg->base(), &number, &major, &minor, &flags) != HeaderResult::kOk) return 0;
  return number == seg->file_number() ? flags : 0;
}

// Removes what an interrupted compaction left: outputs that were never renamed into place.
Status RemoveTempFiles(FileSystem* fs, const std::string& dir) {
  std::vector<std::string> names;
  Status s = fs->ListDir(dir, &names);
  bool removed = false;
  for (size_t i = 0; s.ok() && i < names.size(); i++) {
    uint64_t number;
    if (!Segment::ParseTempFileName(names[i], &number)) continue;
    s = fs->Unlink(dir + "/" + names[i]);
    removed = true;
  }
  if (s.ok() && removed) s = fs->SyncDir(dir);
  return s;
}

// Loads a checkpoint into the index if it matches the segment files (docs/FORMAT.md,
// "Checkpoint", for the rules); sets starts[i] to where the scan of segment i begins.
// False with *why otherwise, leaving the index, the expiry counter and the segments' live
// bytes for the caller to reset.
bool LoadCheckpoint(const LoadedCheckpoint& c, SegmentTable* segments, HashIndex* index, ExpiryCounter* expiry,
                    std::vector<uint64_t>* starts, std::string* why) {
  const size_t k = c.segments.size();
  // The listed segments must be the oldest files, in the same order; every newer file must
  // be an ordinary segment written after the checkpoint.
  for (size_t i = 0; i < k; i++) {
    const CheckpointSegment& cs = c.segments[i];
    const std::string name = Segment::FileName(cs.file_number);
    if (i >= segments->size() || (*segments)[i]->file_number() != cs.file_number) {
      *why = "segment " + name + " is missing or an older segment appeared";
      return false;
    }
    const Segment* seg = (*segments)[i].get();
    if (seg->file_size() < cs.covered_end) {
      *why = "segment " + name + " is shorter than the checkpoint says";
      return false;
    }
    if (DecodeFixed32(seg->base() + 12) != cs.flags) {
      *why = "segment " + name + " has other header flags";
      return false;
    }
    if (CheckpointTailCrc(*seg, cs.covered_end) != cs.tail_crc) {
      *why = "segment " + name + " changed before its covered end";
      return false;
    }
  }
  for (size_t i = k; i < segments->size(); i++) {
    if (DecodeFixed32((*segments)[i]->base() + 12) != 0) {
      *why = "segment " + Segment::FileName((*segments)[i]->file_number()) + " is not listed and not ordinary";
      return false;
    }
  }
  // Keys = the recorded table's exact capacity at the load threshold: Init makes that many
  // buckets, so entries go back in bucket order and memory is touched sequentially.
  Status s = index->Init(c.bucket_count * HashIndex::kWays * HashIndex::kMaxLoadNum / HashIndex::kMaxLoadDen);
  if (!s.ok() || index->bucket_count() != c.bucket_count) {
    *why = "cannot allocate its index";
    return false;
  }
  constexpr uint64_t kSlotMask = uint64_t{0xffff} << 32;
  const char* p = c.bytes.data() + c.entries_at;
  for (uint64_t e = 0; e < c.entry_count; e++, p += kCheckpointEntrySize) {
    const uint32_t tag = DecodeFixed32(p);
    const uint64_t word = DecodeFixed64(p + 4);
    const uint32_t ordinal = LocationSlot(word);
    // Defence against a writer bug that a CRC cannot catch: an entry must point into the
    // covered part of a listed segment.
    if (tag == 0 || ordinal >= k || LocationOffset(word) < kSegmentHeaderSize ||
        LocationOffset(word) >= c.segments[ordinal].covered_end) {
      *why = "entry " + std::to_string(e) + " points outside the listed segments";
      return false;
    }
    // The i-th listed segment is slot i (they are the oldest files, in order).
    index->InsertWord(tag, (word & ~kSlotMask) | (uint64_t{(*segments)[ordinal]->slot()} << 32));
  }
  p = c.bytes.data() + c.expiry_at;
  for (size_t i = 0; i < c.expiry_count; i++, p += kCheckpointExpirySize)
    expiry->Restore(DecodeFixed64(p), DecodeFixed64(p + 8));
  for (size_t i = 0; i < k; i++) {
    (*segments)[i]->live_bytes = c.segments[i].live_bytes;
    (*starts)[i] = c.segments[i].covered_end;
  }
  return true;
}

}  // namespace

Status Recover(FileSystem* fs, const std::string& dir, const RecoveryOptions& options, HashKey* hash_key,
               SegmentTable* segments, HashIndex* index, ExpiryCounter* expiry, RecoveryReport* report) {
  auto start = std::chrono::steady_clock::now();
  std::vector<uint64_t> numbers;
  bool checkpoint_tmp = false;
  Status s = ListSegments(fs, dir, &numbers, &checkpoint_tmp);
  if (!s.ok()) return s;
  // A checkpoint write that never reached its rename: the old CHECKPOINT (if any) stands.
  if (checkpoint_tmp && !options.read_only) fs->Unlink(dir + "/" + kCheckpointTmpName);
  if (numbers.size() > kMaxSegmentSlots) return Status::NotSupported("too many segment files in " + dir);
  if (!options.read_only) {
    s = RemoveTempFiles(fs, dir);
    if (!s.ok()) return s;
  }
  // Open every file first: only their headers say which one the writer was appending to.
  SegmentTable opened;
  for (uint64_t number : numbers) {
    auto seg = std::make_unique<Segment>(fs, dir, number, 0);
    // Every segment is opened writable: a torn log tail may end in any of them.
    s = seg->Open(!options.read_only, 0);
    if (!s.ok()) return s;
    seg->flags = PeekFlags(seg.get());
    opened.push_back(std::move(seg));
  }
  if (!numbers.empty()) report->next_file_number = numbers.back() + 1;
  // The newest ordinary segment is where the writer was (a compacted one may carry a higher
  // number): it may have a torn header, and it is reopened with room to grow.
  size_t newest = opened.size();
  for (size_t i = 0; i < opened.size(); i++)
    if (!opened[i]->compacted()) newest = i;
  if (newest < opened.size()) {
    opened[newest] = std::make_unique<Segment>(fs, dir, numbers[newest], 0);
    s = opened[newest]->Open(!options.read_only, options.segment_size);
    if (!s.ok()) return s;
  }
  for (size_t i = 0; i < opened.size(); i++) {
    bool discard = false;
    s = CheckHeader(opened[i].get(), i == newest, options.repair, &discard);
    if (!s.ok()) return s;
    if (!discard) continue;
    report->discarded_bytes += opened[i]->file_size();
    const bool remove = !options.read_only;
    if (remove) opened[i]->Discard();
    opened[i].reset();
    if (remove) s = fs->SyncDir(dir);
    if (!s.ok()) return s;
  }
  // Log order: compacted segments first (they hold copies of the oldest records), then the
  // others, each by number (docs/FORMAT.md, "Compaction"). Slot i is the i-th in log order.
  std::stable_partition(opened.begin(), opened.end(),
                        [](const std::unique_ptr<Segment>& seg) { return seg && seg->compacted(); });
  for (auto& seg : opened) {
    if (!seg) continue;
    seg->set_slot(static_cast<uint32_t>(segments->size()));
    segments->push_back(std::move(seg));
  }
  std::vector<uint64_t> starts(segments->size(), kSegmentHeaderSize);
  LoadedCheckpoint checkpoint;
  // A repairing open wants every record's CRC checked: it never trusts a checkpoint.
  if (options.repair) report->checkpoint = "not used by a repairing open";
  if (!options.use_checkpoint) report->checkpoint = "not used (useCheckpoint: false)";
  bool used = !options.repair && options.use_checkpoint && ReadCheckpoint(fs, dir, &checkpoint, &report->checkpoint) &&
              LoadCheckpoint(checkpoint, segments, index, expiry, &starts, &report->checkpoint);
  if (used) {
    *hash_key = checkpoint.key;
    report->max_seq = checkpoint.max_seq;
    report->checkpoint = "used";
    report->checkpoint_entries = checkpoint.entry_count;
  } else {
    // Undo whatever a checkpoint that failed a late check loaded.
    expiry->Clear();
    for (size_t i = 0; i < segments->size(); i++) {
      (*segments)[i]->live_bytes = 0;
      starts[i] = kSegmentHeaderSize;
    }
  }
  checkpoint.bytes.Free();  // up to 12 bytes per key: free it before the scan
  uint64_t puts = 0;
  uint64_t total = 0;
  for (size_t i = 0; i < segments->size(); i++) {
    const Segment* seg = (*segments)[i].get();
    puts += CountPuts(seg, starts[i]);
    total += seg->file_size() > starts[i] ? seg->file_size() - starts[i] : 0;
  }
  if (options.progress != nullptr) options.progress->total.store(total, std::memory_order_relaxed);
  s = used ? index->EnsureRoomFor(puts) : index->Init(puts);
  if (!s.ok()) return s;
  Scanner scanner(options, *hash_key, segments, index, expiry, report);
  for (size_t i = 0; i < segments->size(); i++) {
    Segment* cur = (*segments)[i].get();
    uint64_t end = 0;
    s = scanner.Scan(i, starts[i], &end);
    if (!s.ok()) return s;
    report->segments++;
    report->replayed_bytes += end > starts[i] ? end - starts[i] : 0;
    // Cut garbage after the last good record; keep the newest segment's zero-filled space.
    const bool newest = i + 1 == segments->size();
    uint64_t last = cur->file_size();
    while (newest && last > end && cur->base()[last - 1] == 0) last--;
    if (last > end && !options.read_only) {
      s = cur->TruncateTo(end);
      if (!s.ok()) return s;
    }
    cur->end = end;
    cur->reserve = cur->reserved();
    cur->set_flushed_end(end);
    cur->first_gen = 0;  // everything recovered is durable
  }
  s = index->ShrinkToFit();  // a failure leaves the larger table, which still works
  (void)s;
  report->millis = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return Status::OK();
}

}  // namespace hashlog
