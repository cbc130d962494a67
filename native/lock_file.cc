// LockFile: the pid-file protocol plus flock (see lock_file.h).
#include "lock_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace hashlog {

std::string ProcessStartTime(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return "";
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && (rest >> field); i++)
    if (i == 22) return field;
  return "";
}

Status LockFile::LockDir(const std::string& dir, bool shared) {
  Status s = fs_->Open(dir, O_RDONLY | O_DIRECTORY, 0, &dir_fd_);
  if (!s.ok()) return s;
  s = fs_->LockFile(dir_fd_, dir, shared);
  if (s.code() == Status::kLocked) {
    s = Status::Locked(dir + (shared ? " is open for writing" : " is open (for reading or writing)") +
                       " by another store, in this or another process");
  }
  if (!s.ok()) {
    fs_->Close(dir_fd_);
    dir_fd_ = -1;
  }
  return s;
}

long LockFile::LiveOwner(int fd, const std::string& path) {
  char buf[128] = {0};
  size_t got = 0;
  fs_->Pread(fd, buf, sizeof(buf) - 1, 0, &got, path);
  long pid = 0;
  char start[64] = {0};
  if (std::sscanf(buf, "%ld %63s", &pid, start) == 2 && pid > 0) {
    std::string live = ProcessStartTime(pid);
    if (!live.empty() && live == start) return pid;
  }
  return 0;
}

Status LockFile::AcquireShared(const std::string& dir) {
  Status s = LockDir(dir, true);
  if (!s.ok()) return s;
  int fd;
  s = fs_->Open(dir + "/LOCK", O_RDONLY, 0, &fd);
  if (!s.ok()) return s.err() == ENOENT ? Status::OK() : s;
  long owner = LiveOwner(fd, dir + "/LOCK");
  fs_->Close(fd);
  if (owner != 0) return Status::Locked(dir + "/LOCK is held by process " + std::to_string(owner));
  return Status::OK();
}

Status LockFile::Acquire(const std::string& dir) {
  Status s = LockDir(dir, false);
  if (!s.ok()) return s;
  path_ = dir + "/LOCK";
  for (int attempt = 0; attempt < 8; attempt++) {
    Status s = fs_->Open(path_, O_RDWR | O_CREAT | O_EXCL, 0644, &fd_);
    if (s.ok()) {
      s = fs_->LockFile(fd_, path_);
      if (s.ok()) s = WriteOwner();
      if (!s.ok()) Release();
      return s;
    }
    if (s.err() != EEXIST) return s;
    bool retry = false;
    s = TryExisting(path_, &retry);
    if (!retry) return s;
  }
  Release();
  return Status::Locked("could not take over " + path_ + ": it keeps changing");
}

Status LockFile::TryExisting(const std::string& path, bool* retry) {
  int fd;
  Status s = fs_->Open(path, O_RDWR, 0, &fd);
  if (!s.ok()) {
    *retry = s.err() == ENOENT;  // the owner just removed it
    return s;
  }
  s = fs_->LockFile(fd, path);
  if (!s.ok()) {
    fs_->Close(fd);
    return s;  // kLocked: a live native owner holds the flock
  }
  // We hold the flock. If the file was unlinked meanwhile, its owner closed: start over.
  struct stat by_fd, by_path;
  if (::fstat(fd, &by_fd) != 0 || ::stat(path.c_str(), &by_path) != 0 || by_fd.st_ino != by_path.st_ino) {
    fs_->Close(fd);
    *retry = true;
    return Status::OK();
  }
  if (long pid = LiveOwner(fd, path)) {
    fs_->Close(fd);
    return Status::Locked(path + " is held by process " + std::to_string(pid));
  }
  // The owner is gone: take the LOCK over.
  fd_ = fd;
  s = WriteOwner();
  if (!s.ok()) Release();
  return s;
}

Status LockFile::WriteOwner() {
  long pid = static_cast<long>(::getpid());
  std::string content = std::to_string(pid) + " " + ProcessStartTime(pid) + "\n";
  Status s = fs_->Ftruncate(fd_, 0, path_);
  if (s.ok()) s = fs_->Pwrite(fd_, content.data(), content.size(), 0, path_);
  return s;
}

void LockFile::Release() {
  if (fd_ >= 0) {
    // Unlink while still holding the flock, so a waiter that gets the flock next sees the
    // file is gone and starts over instead of reading our (live) pid.
    fs_->Unlink(path_);
    fs_->Close(fd_);
    fd_ = -1;
  }
  if (dir_fd_ >= 0) {
    fs_->Close(dir_fd_);
    dir_fd_ = -1;
  }
}

}  // namespace hashlog
