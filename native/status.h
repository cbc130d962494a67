// Status: the result of every engine operation (no exceptions cross module boundaries).
// Modelled on LevelDB's Status; I/O errors keep errno and the failing syscall.
#ifndef HASHLOG_NATIVE_STATUS_H_
#define HASHLOG_NATIVE_STATUS_H_

#include <cstdint>
#include <string>

namespace hashlog {

class Status {
 public:
  enum Code : uint8_t {
    kOk = 0,
    kNotFound,
    kCorruption,
    kIOError,
    kInvalidArgument,
    kClosed,
    kLocked,
    kFailed,  // fail-stop: a write may have reached disk in an unknown state
    kNotSupported,
    kNoSpace,  // ENOSPC before any byte of the commit group reached the file
    kFull,     // a configured limit
    kReadOnly,
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string msg = "") { return Status(kNotFound, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(kCorruption, std::move(msg)); }
  static Status InvalidArgument(std::string msg) { return Status(kInvalidArgument, std::move(msg)); }
  static Status Closed() { return Status(kClosed, "store is closed"); }
  static Status Locked(std::string msg) { return Status(kLocked, std::move(msg)); }
  static Status NotSupported(std::string msg) { return Status(kNotSupported, std::move(msg)); }
  static Status Full(std::string msg) { return Status(kFull, std::move(msg)); }
  static Status ReadOnly() { return Status(kReadOnly, "store is open read-only"); }
  // An errno from `syscall` on `path`. ENOSPC and EDQUOT become kNoSpace.
  static Status FromErrno(const char* syscall, const std::string& path, int err);
  // Fail-stop wrapper: keeps the original error as the cause.
  static Status Failed(const Status& cause);

  bool ok() const { return code_ == kOk; }
  bool IsNotFound() const { return code_ == kNotFound; }
  Code code() const { return code_; }
  int err() const { return errno_; }
  const std::string& message() const { return msg_; }
  const std::string& syscall() const { return syscall_; }
  // For kFailed: the error that caused it (code, errno, syscall, message).
  Code cause_code() const { return cause_code_; }

 private:
  Status(Code code, std::string msg) : code_(code), msg_(std::move(msg)) {}

  Code code_ = kOk;
  Code cause_code_ = kOk;
  int errno_ = 0;
  std::string msg_;
  std::string syscall_;
};

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_STATUS_H_
