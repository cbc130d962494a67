// RecordingFileSystem: a test-only FileSystem that forwards every call to a real one and
// logs each mutating call, so that the directory as a power cut would leave it, at any point
// of the log, can be rebuilt (docs/RELIABILITY.md, "Power cuts"). Never linked into the addon.
//
// The crash model (stricter than ext4/xfs in practice, which is the point):
//   - data a file had at its last fdatasync survives; every write, zero-fill and ftruncate
//     of that file since may be lost, wholly or page by page, in any order;
//   - a directory's entries (create, rename, unlink) are durable only after a SyncDir of it;
//     un-synced entry changes survive as a prefix in issue order (metadata journals commit
//     in order), so a created file may be missing and an unlinked one may come back.
//
// Thread-safety: every method may be called from any thread (one mutex around the log).
#ifndef HASHLOG_NATIVE_TESTING_RECORDING_FILE_SYSTEM_H_
#define HASHLOG_NATIVE_TESTING_RECORDING_FILE_SYSTEM_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "../file.h"

namespace hashlog {

struct RecordedOp {
  enum Kind { kCreate, kWrite, kTruncate, kSync, kSyncDir, kRename, kUnlink };
  explicit RecordedOp(Kind k) : kind(k) {}

  Kind kind;
  uint64_t file = 0;     // the file's identity (an inode number of our own); 0 for directory ops
  std::string name;      // kCreate, kRename (from), kUnlink: the entry's base name
  std::string to;        // kRename: the new base name
  uint64_t offset = 0;   // kWrite
  uint64_t size = 0;     // kTruncate: the new size
  std::string data;      // kWrite (a zero-fill is a write of zeros)

  bool IsSync() const { return kind == kSync || kind == kSyncDir; }
};

class RecordingFileSystem final : public FileSystem {
 public:
  // Records only paths in `dir` (the store's directory); everything else just forwards.
  RecordingFileSystem(FileSystem* base, std::string dir) : base_(base), dir_(std::move(dir)) {}

  // Records a file that exists before the workload (e.g. a crash image being recovered) as
  // created, written and synced, with its directory entry synced. Call before any other use.
  void AddExisting(const std::string& name, const std::string& contents);

  // How many operations were logged so far. A crash "at n" keeps ops [0, n).
  uint64_t count() const {
    std::lock_guard<std::mutex> lk(mu_);
    return ops_.size();
  }
  // REQUIRES: no concurrent calls (the workload is over).
  const std::vector<RecordedOp>& ops() const { return ops_; }

  Status Open(const std::string& path, int flags, int mode, int* fd) override;
  void Close(int fd) override;
  Status Pwrite(int fd, const void* buf, size_t n, uint64_t off, const std::string& path) override;
  Status Pread(int fd, void* buf, size_t n, uint64_t off, size_t* got, const std::string& path) override {
    return base_->Pread(fd, buf, n, off, got, path);
  }
  Status Allocate(int fd, uint64_t off, uint64_t len, const std::string& path) override;
  Status Fdatasync(int fd, const std::string& path) override;
  Status SyncDir(const std::string& dir) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Unlink(const std::string& path) override;
  Status Ftruncate(int fd, uint64_t size, const std::string& path) override;
  Status FileSize(int fd, uint64_t* size, const std::string& path) override { return base_->FileSize(fd, size, path); }
  Status Reserve(size_t len, void** out) override { return base_->Reserve(len, out); }
  Status MapFile(void* addr, size_t len, int fd, uint64_t off, const std::string& path) override {
    return base_->MapFile(addr, len, fd, off, path);
  }
  void UnmapFile(void* addr, size_t len) override { base_->UnmapFile(addr, len); }
  void Release(void* addr, size_t len) override { base_->Release(addr, len); }
  Status LockFile(int fd, const std::string& path, bool shared) override { return base_->LockFile(fd, path, shared); }
  Status ListDir(const std::string& dir, std::vector<std::string>* names) override { return base_->ListDir(dir, names); }
  Status CreateDir(const std::string& dir) override { return base_->CreateDir(dir); }

 private:
  // The base name if `path` is an entry of dir_, else empty (not recorded).
  std::string EntryName(const std::string& path) const;
  void Log(RecordedOp op);

  FileSystem* base_;
  const std::string dir_;
  mutable std::mutex mu_;
  std::vector<RecordedOp> ops_;
  std::map<int, uint64_t> fd_file_;          // open descriptor -> file identity
  std::map<std::string, uint64_t> entries_;  // current entries of dir_ -> file identity
  uint64_t next_file_ = 1;
};

// How the un-synced operations before a crash point fare.
enum class CrashPolicy {
  kNoneSurvive,   // only what was synced
  kAllSurvive,    // everything issued (the page cache was written back just in time)
  kRandomPrefix,  // each file keeps a random prefix of its un-synced ops, the last one torn
  kRandomPages,   // each page of each un-synced op survives or not, independently
};

// A directory as it would be after a crash: base name -> contents.
using CrashImage = std::map<std::string, std::string>;

// Rebuilds what `dir` would hold after a power cut after ops [0, at) under `policy`, using
// rng for the random choices.
CrashImage BuildCrashImage(const std::vector<RecordedOp>& ops, uint64_t at, CrashPolicy policy, std::mt19937_64* rng);

// Writes `image` into an empty directory `dir`. Returns false (with errno set) on failure.
bool WriteCrashImage(const CrashImage& image, const std::string& dir);

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_TESTING_RECORDING_FILE_SYSTEM_H_
