// Status constructors that need more than one line.
#include "status.h"

#include <cerrno>
#include <cstring>

namespace hashlog {

Status Status::FromErrno(const char* syscall, const std::string& path, int err) {
  Code code = (err == ENOSPC || err == EDQUOT) ? kNoSpace : kIOError;
  Status s(code, std::string(syscall) + " " + path + ": " + std::strerror(err));
  s.errno_ = err;
  s.syscall_ = syscall;
  return s;
}

Status Status::Failed(const Status& cause) {
  Status s(kFailed, "writes stopped after an I/O error (reopen the store to resume): " + cause.msg_);
  s.cause_code_ = cause.code_;
  s.errno_ = cause.errno_;
  s.syscall_ = cause.syscall_;
  return s;
}

}  // namespace hashlog
