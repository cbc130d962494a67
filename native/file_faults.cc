// FaultInjectingFileSystem: makes the Nth call of one syscall fail, for error-path tests.
#include <cerrno>
#include <cstring>

#include "file.h"

namespace hashlog {

bool FaultInjectingFileSystem::ParseOp(const std::string& name, Op* op) {
  static const char* const kNames[kOpCount] = {"open",   "pwrite", "allocate", "fdatasync", "syncdir",
                                               "ftruncate", "mmap", "rename",   "unlink"};
  for (int i = 0; i < kOpCount; i++) {
    if (name == kNames[i]) {
      *op = static_cast<Op>(i);
      return true;
    }
  }
  return false;
}

void FaultInjectingFileSystem::Arm(Op op, uint64_t after, int err, bool sticky) {
  std::lock_guard<std::mutex> lk(mu_);
  op_ = op;
  remaining_ = after;
  err_ = err;
  sticky_ = sticky;
  armed_.store(true, std::memory_order_release);
}

void FaultInjectingFileSystem::Disarm() {
  std::lock_guard<std::mutex> lk(mu_);
  armed_.store(false, std::memory_order_release);
}

int FaultInjectingFileSystem::Check(Op op, const char*) {
  if (!armed_.load(std::memory_order_relaxed)) return 0;
  std::lock_guard<std::mutex> lk(mu_);
  if (!armed_.load(std::memory_order_relaxed) || op != op_) return 0;
  if (remaining_ > 0) {
    remaining_--;
    return 0;
  }
  if (!sticky_) armed_.store(false, std::memory_order_relaxed);
  injected_.fetch_add(1, std::memory_order_relaxed);
  return err_;
}

Status FaultInjectingFileSystem::Open(const std::string& path, int flags, int mode, int* fd) {
  if (int e = Check(kOpen, "open")) return Status::FromErrno("open", path, e);
  return base_->Open(path, flags, mode, fd);
}

Status FaultInjectingFileSystem::Pwrite(int fd, const void* buf, size_t n, uint64_t off, const std::string& path) {
  if (int e = Check(kPwrite, "pwrite")) return Status::FromErrno("pwrite", path, e);
  return base_->Pwrite(fd, buf, n, off, path);
}

Status FaultInjectingFileSystem::Allocate(int fd, uint64_t off, uint64_t len, const std::string& path) {
  if (int e = Check(kAllocate, "allocate")) return Status::FromErrno("pwrite", path, e);
  return base_->Allocate(fd, off, len, path);
}

Status FaultInjectingFileSystem::Fdatasync(int fd, const std::string& path) {
  if (int e = Check(kFdatasync, "fdatasync")) return Status::FromErrno("fdatasync", path, e);
  return base_->Fdatasync(fd, path);
}

Status FaultInjectingFileSystem::SyncDir(const std::string& dir) {
  if (int e = Check(kSyncDir, "syncdir")) return Status::FromErrno("fsync", dir, e);
  return base_->SyncDir(dir);
}

Status FaultInjectingFileSystem::Rename(const std::string& from, const std::string& to) {
  if (int e = Check(kRename, "rename")) return Status::FromErrno("rename", from, e);
  return base_->Rename(from, to);
}

Status FaultInjectingFileSystem::Unlink(const std::string& path) {
  if (int e = Check(kUnlink, "unlink")) return Status::FromErrno("unlink", path, e);
  return base_->Unlink(path);
}

Status FaultInjectingFileSystem::Ftruncate(int fd, uint64_t size, const std::string& path) {
  if (int e = Check(kFtruncate, "ftruncate")) return Status::FromErrno("ftruncate", path, e);
  return base_->Ftruncate(fd, size, path);
}

Status FaultInjectingFileSystem::MapFile(void* addr, size_t len, int fd, uint64_t off, const std::string& path) {
  if (int e = Check(kMmap, "mmap")) return Status::FromErrno("mmap", path, e);
  return base_->MapFile(addr, len, fd, off, path);
}

}  // namespace hashlog
