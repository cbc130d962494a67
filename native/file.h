// FileSystem: the one seam through which the engine makes every file syscall, so that
// tests can inject faults or record syncs without touching the engine (LevelDB's Env).
//
// Thread-safety: the default implementation is stateless and safe from any thread.
#ifndef HASHLOG_NATIVE_FILE_H_
#define HASHLOG_NATIVE_FILE_H_

#include <cstddef>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "status.h"

namespace hashlog {

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  virtual Status Open(const std::string& path, int flags, int mode, int* fd) = 0;
  virtual void Close(int fd) = 0;
  // Writes all n bytes at off (retrying short writes) or returns the error.
  virtual Status Pwrite(int fd, const void* buf, size_t n, uint64_t off, const std::string& path) = 0;
  // Reads up to n bytes at off; *got is less than n only at end of file.
  virtual Status Pread(int fd, void* buf, size_t n, uint64_t off, size_t* got, const std::string& path) = 0;
  // Makes [off, off+len) exist as written (zero) blocks, so a later fdatasync of data there
  // need not commit allocation metadata. ENOSPC surfaces here, before any record is written.
  virtual Status Allocate(int fd, uint64_t off, uint64_t len, const std::string& path) = 0;
  virtual Status Fdatasync(int fd, const std::string& path) = 0;
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Unlink(const std::string& path) = 0;
  virtual Status Ftruncate(int fd, uint64_t size, const std::string& path) = 0;
  virtual Status FileSize(int fd, uint64_t* size, const std::string& path) = 0;
  // Reserves len bytes of address space with no access and no backing (for mapping into later).
  virtual Status Reserve(size_t len, void** out) = 0;
  // Maps [off, off+len) of fd read-only and shared at addr, inside a reservation.
  // REQUIRES: off + len <= file size rounded up to a page (a page past EOF would SIGBUS).
  virtual Status MapFile(void* addr, size_t len, int fd, uint64_t off, const std::string& path) = 0;
  // Returns [addr, addr+len) of a reservation to reserved, unbacked address space.
  virtual void UnmapFile(void* addr, size_t len) = 0;
  // Releases a whole reservation.
  virtual void Release(void* addr, size_t len) = 0;
  // Non-blocking flock, exclusive or shared. kLocked when a conflicting lock is held by
  // another open file description (this process included).
  virtual Status LockFile(int fd, const std::string& path, bool shared = false) = 0;
  virtual Status ListDir(const std::string& dir, std::vector<std::string>* names) = 0;
  virtual Status CreateDir(const std::string& dir) = 0;
};

// The process-wide POSIX implementation.
FileSystem* DefaultFileSystem();

// A FileSystem that forwards to another and can make chosen calls fail, for tests of the
// error paths (docs/RELIABILITY.md). Disarmed, it costs one relaxed atomic load per call.
class FaultInjectingFileSystem final : public FileSystem {
 public:
  enum Op { kOpen, kPwrite, kAllocate, kFdatasync, kSyncDir, kFtruncate, kMmap, kRename, kUnlink, kOpCount };
  static bool ParseOp(const std::string& name, Op* op);

  explicit FaultInjectingFileSystem(FileSystem* base) : base_(base) {}
  // The call after the next `after` calls of `op` fails with `err`; so do all later ones if
  // `sticky`, until Disarm().
  void Arm(Op op, uint64_t after, int err, bool sticky);
  void Disarm();
  // How many calls were made to fail so far (tests loop until a workload sees none).
  uint64_t injected() const { return injected_.load(std::memory_order_relaxed); }

  Status Open(const std::string& path, int flags, int mode, int* fd) override;
  void Close(int fd) override { base_->Close(fd); }
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
  Status MapFile(void* addr, size_t len, int fd, uint64_t off, const std::string& path) override;
  void UnmapFile(void* addr, size_t len) override { base_->UnmapFile(addr, len); }
  void Release(void* addr, size_t len) override { base_->Release(addr, len); }
  Status LockFile(int fd, const std::string& path, bool shared) override { return base_->LockFile(fd, path, shared); }
  Status ListDir(const std::string& dir, std::vector<std::string>* names) override { return base_->ListDir(dir, names); }
  Status CreateDir(const std::string& dir) override { return base_->CreateDir(dir); }

 private:
  // Returns the errno to fail this call with, or 0.
  int Check(Op op, const char* name);

  FileSystem* base_;
  std::atomic<bool> armed_{false};
  std::mutex mu_;
  Op op_ = kOpCount;
  uint64_t remaining_ = 0;
  int err_ = 0;
  bool sticky_ = false;
  std::atomic<uint64_t> injected_{0};
};

size_t PageSize();
inline uint64_t RoundUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_FILE_H_
