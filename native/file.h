// FileSystem: the one seam through which the engine makes every file syscall, so that
// tests can inject faults or record syncs without touching the engine (LevelDB's Env).
//
// Thread-safety: the default implementation is stateless and safe from any thread.
#ifndef HASHLOG_NATIVE_FILE_H_
#define HASHLOG_NATIVE_FILE_H_

#include <cstddef>
#include <cstdint>
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
  // Exclusive, non-blocking flock. kLocked when another open file description holds it.
  virtual Status LockFile(int fd, const std::string& path) = 0;
  virtual Status ListDir(const std::string& dir, std::vector<std::string>* names) = 0;
  virtual Status CreateDir(const std::string& dir) = 0;
};

// The process-wide POSIX implementation.
FileSystem* DefaultFileSystem();

size_t PageSize();
inline uint64_t RoundUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_FILE_H_
