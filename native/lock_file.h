// LockFile: one process at a time owns a store directory.
//
// The contract both engines honour is the LOCK file: created with O_EXCL, holding
// "<pid> <process start time>\n" (start time as field 22 of /proc/<pid>/stat, so a reused
// pid is not mistaken for the owner). A LOCK whose process is gone is taken over. The native
// engine also holds an exclusive flock on it, which settles races between two takers and
// catches a second open in the same process.
//
// Read-only opens (which must change no file) take a shared flock on the directory itself;
// writers take it exclusively before the LOCK file, so a writer never truncates a file
// under a reader's mapping and a reader never opens a directory a writer holds.
#ifndef HASHLOG_NATIVE_LOCK_FILE_H_
#define HASHLOG_NATIVE_LOCK_FILE_H_

#include <string>

#include "file.h"
#include "status.h"

namespace hashlog {

class LockFile {
 public:
  explicit LockFile(FileSystem* fs) : fs_(fs) {}
  ~LockFile() { Release(); }
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;

  // kLocked when a live process (this one included) holds the directory.
  Status Acquire(const std::string& dir);
  // For a read-only open: kLocked when a writer holds the directory; changes no file.
  Status AcquireShared(const std::string& dir);
  // Removes the LOCK file, then drops the flock. Idempotent.
  void Release();

 private:
  Status TryExisting(const std::string& path, bool* retry);
  Status WriteOwner();
  Status LockDir(const std::string& dir, bool shared);
  // The pid of a live owner named in LOCK (without flock: the pure-TypeScript engine), or 0.
  long LiveOwner(int fd, const std::string& path);

  FileSystem* fs_;
  std::string path_;
  int fd_ = -1;
  int dir_fd_ = -1;
};

// Start time of a process in clock ticks since boot, or "" if it does not exist.
std::string ProcessStartTime(long pid);

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_LOCK_FILE_H_
