// POSIX implementation of the FileSystem seam.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "file.h"

namespace hashlog {
namespace {

class PosixFileSystem final : public FileSystem {
 public:
  Status Open(const std::string& path, int flags, int mode, int* fd) override {
    int r;
    do r = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    while (r < 0 && errno == EINTR);
    if (r < 0) return Status::FromErrno("open", path, errno);
    *fd = r;
    return Status::OK();
  }

  void Close(int fd) override { ::close(fd); }

  Status Pwrite(int fd, const void* buf, size_t n, uint64_t off, const std::string& path) override {
    const char* p = static_cast<const char*>(buf);
    while (n > 0) {
      ssize_t r = ::pwrite(fd, p, n, static_cast<off_t>(off));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("pwrite", path, errno);
      }
      p += r;
      n -= static_cast<size_t>(r);
      off += static_cast<uint64_t>(r);
    }
    return Status::OK();
  }

  Status Pread(int fd, void* buf, size_t n, uint64_t off, size_t* got, const std::string& path) override {
    char* p = static_cast<char*>(buf);
    size_t total = 0;
    while (total < n) {
      ssize_t r = ::pread(fd, p + total, n - total, static_cast<off_t>(off + total));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("pread", path, errno);
      }
      if (r == 0) break;
      total += static_cast<size_t>(r);
    }
    *got = total;
    return Status::OK();
  }

  Status Allocate(int fd, uint64_t off, uint64_t len, const std::string& path) override {
    static const std::vector<char> zeros(1 << 20, 0);
    while (len > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(len, zeros.size()));
      Status s = Pwrite(fd, zeros.data(), n, off, path);
      if (!s.ok()) return s;
      off += n;
      len -= n;
    }
    return Status::OK();
  }

  Status Fdatasync(int fd, const std::string& path) override {
    if (::fdatasync(fd) != 0) return Status::FromErrno("fdatasync", path, errno);
    return Status::OK();
  }

  Status SyncDir(const std::string& dir) override {
    int fd = -1;
    Status s = Open(dir, O_RDONLY | O_DIRECTORY, 0, &fd);
    if (!s.ok()) return s;
    int r = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (r != 0) return Status::FromErrno("fsync", dir, err);
    return Status::OK();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return Status::FromErrno("rename", from, errno);
    return Status::OK();
  }

  Status Unlink(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::FromErrno("unlink", path, errno);
    return Status::OK();
  }

  Status Ftruncate(int fd, uint64_t size, const std::string& path) override {
    int r;
    do r = ::ftruncate(fd, static_cast<off_t>(size));
    while (r < 0 && errno == EINTR);
    if (r != 0) return Status::FromErrno("ftruncate", path, errno);
    return Status::OK();
  }

  Status FileSize(int fd, uint64_t* size, const std::string& path) override {
    struct stat st;
    if (::fstat(fd, &st) != 0) return Status::FromErrno("fstat", path, errno);
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

  Status Reserve(size_t len, void** out) override {
    void* p = ::mmap(nullptr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return Status::FromErrno("mmap", "(reserve)", errno);
    *out = p;
    return Status::OK();
  }

  Status MapFile(void* addr, size_t len, int fd, uint64_t off, const std::string& path) override {
    if (len == 0) return Status::OK();
    void* p = ::mmap(addr, len, PROT_READ, MAP_SHARED | MAP_FIXED, fd, static_cast<off_t>(off));
    if (p == MAP_FAILED) return Status::FromErrno("mmap", path, errno);
    return Status::OK();
  }

  void UnmapFile(void* addr, size_t len) override {
    if (len > 0) ::mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  }

  void Release(void* addr, size_t len) override {
    if (len > 0) ::munmap(addr, len);
  }

  Status LockFile(int fd, const std::string& path, bool shared) override {
    if (::flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0) return Status::OK();
    if (errno == EWOULDBLOCK) return Status::Locked(path + " is held by another open store (in this or another process)");
    return Status::FromErrno("flock", path, errno);
  }

  Status ListDir(const std::string& dir, std::vector<std::string>* names) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Status::FromErrno("opendir", dir, errno);
    names->clear();
    while (struct dirent* e = ::readdir(d)) names->emplace_back(e->d_name);
    ::closedir(d);
    return Status::OK();
  }

  Status CreateDir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) return Status::OK();
    return Status::FromErrno("mkdir", dir, errno);
  }
};

}  // namespace

FileSystem* DefaultFileSystem() {
  static PosixFileSystem fs;
  return &fs;
}

size_t PageSize() {
  static const size_t size = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

}  // namespace hashlog
