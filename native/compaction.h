// Compaction: rewrites the live records of the oldest segments into new, compacted segments
// and deletes the old ones (docs/DESIGN.md, "Compaction"; docs/FORMAT.md, "Compaction").
//
// A job always takes a prefix of the log: every compacted segment plus the oldest ordinary
// ones. Nothing older than a prefix exists, so its tombstones and clear records can be
// dropped with the records they deleted, and recovery needs no rule beyond "compacted
// segments come first". The job runs in phases:
//   mark     owner thread, in slices: which records does the index still point at?
//   copy     any thread: copy them (checking each CRC) into "<n>.hlog.tmp" files, sync,
//            rename them into place, sync the directory
//   install  owner thread, in slices: point the index at the copies where it still points
//            at the originals (a write that raced the copy wins)
//   settle   owner thread: wait until no write made before install can roll back; if a
//            commit group failed during the job, keep the sources (a rollback may point at
//            a record mark did not copy)
//   unlink   any thread: delete the sources, oldest first, syncing the directory after each
//   retire   owner thread: unmap the sources once nothing can still read them
// A crash at any point leaves a log that recovers to the same contents: until a source is
// deleted, its records are still there; the copies are whole before they get their names.
#ifndef HASHLOG_NATIVE_COMPACTION_H_
#define HASHLOG_NATIVE_COMPACTION_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "file.h"
#include "segment.h"
#include "status.h"

namespace hashlog {

struct CompactionJob {
  // A live record to copy: where it is (source index, offset), its key's hash, where it goes.
  struct Move {
    uint32_t source;
    uint32_t offset;
    uint64_t hash;
    uint32_t size;
    uint32_t output = 0;
    uint32_t to_offset = 0;
  };
  // An expired record the index points at: dropped, and its entry erased at install.
  struct Drop {
    uint32_t source;
    uint32_t offset;
    uint64_t hash;
    uint32_t size;
    uint64_t expires_at;
  };
  struct Output {
    uint64_t file_number;
    uint64_t size;
  };

  std::vector<Segment*> sources;       // log order; owned by the store until retired
  uint64_t first_output_number = 0;    // numbers reserved for the outputs
  uint64_t output_numbers = 0;
  uint64_t max_output_size = 0;
  double bytes_per_second = 0;         // copy rate limit; 0 = none

  // mark
  size_t mark_source = 0;
  uint64_t mark_offset = 0;  // within sources[mark_source]; 0 = at its first record
  std::vector<Move> moves;
  std::vector<Drop> drops;
  uint64_t skipped_bytes = 0;  // damaged ranges (a repaired store) stepped over while marking

  // copy
  std::vector<Output> outputs;
  uint64_t bytes_read = 0;   // record bytes of the sources
  uint64_t bytes_written = 0;
  // A failed copy could not remove an output it had renamed into place. Such a file must
  // not outlive the sources: a later job may drop a tombstone that deletes one of its
  // records, which would then come back. The store fails-stop instead.
  bool orphaned = false;

  // install
  std::vector<Segment*> mapped;  // the outputs, mapped and given slots by the store
  size_t install_next = 0;
  size_t drop_next = 0;
  uint64_t gen_after_install = 0;
  bool installed = false;  // the outputs replaced the sources in the log order
  uint64_t failures_at_start = 0;

  // settle: every write placed before install ended is durable, so no rollback can point an
  // entry back at a source any more. If a commit group failed since the job started, one may
  // have done so already, at a record mark did not copy (it was not live then): the sources
  // are kept (back in the log after the outputs, like the state "outputs and all sources").
  bool settled = false;
  bool keep_sources = false;

  // unlink
  size_t unlinked = 0;
  bool sources_in_log = false;  // sources[unlinked..] were put back into the log
};

// Copies every move's record into new compacted segments, syncs them and renames them into
// place. Reads only the sources' mappings (immutable once sealed). On failure nothing is
// left under a segment name. Stops with kAborted if *cancel becomes true.
Status CopyLiveRecords(FileSystem* fs, const std::string& dir, CompactionJob* job, const std::atomic<bool>* cancel);

// Deletes the sources in log order, syncing the directory after each (a later source's
// tombstones may be what keeps an earlier one's records deleted).
Status UnlinkSources(FileSystem* fs, const std::string& dir, CompactionJob* job);

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_COMPACTION_H_
