// Status -> HashlogError mapping.
#include "js_status.h"

#include "addon_data.h"

namespace hashlog {

const char* StatusCodeName(Status::Code code) {
  switch (code) {
    case Status::kOk: return "HASHLOG_OK";
    case Status::kNotFound: return "HASHLOG_NOT_FOUND";
    case Status::kCorruption: return "HASHLOG_CORRUPTION";
    case Status::kIOError: return "HASHLOG_IO";
    case Status::kInvalidArgument: return "HASHLOG_INVALID_ARGUMENT";
    case Status::kClosed: return "HASHLOG_CLOSED";
    case Status::kLocked: return "HASHLOG_LOCKED";
    case Status::kFailed: return "HASHLOG_FAILED";
    case Status::kNotSupported: return "HASHLOG_NOT_SUPPORTED";
    case Status::kNoSpace: return "HASHLOG_NO_SPACE";
    case Status::kFull: return "HASHLOG_FULL";
    case Status::kReadOnly: return "HASHLOG_READONLY";
  }
  return "HASHLOG_IO";
}

namespace {

Napi::Object MakeError(Napi::Env env, const std::string& message, Status::Code code, const Status& s) {
  AddonData* data = env.GetInstanceData<AddonData>();
  Napi::Object err;
  if (data != nullptr && !data->error_class.IsEmpty()) {
    err = data->error_class.New({Napi::String::New(env, message), Napi::String::New(env, StatusCodeName(code))});
  } else {
    err = Napi::Error::New(env, message).Value();
    err.Set("code", StatusCodeName(code));
  }
  if (s.err() != 0) {
    err.Set("errno", Napi::Number::New(env, s.err()));
    err.Set("syscall", Napi::String::New(env, s.syscall()));
  }
  return err;
}

}  // namespace

Napi::Value StatusToError(Napi::Env env, const Status& s) {
  Napi::Object err = MakeError(env, s.message(), s.code(), s);
  if (s.code() == Status::kFailed) {
    std::string cause_msg = s.message().substr(s.message().find(": ") + 2);
    err.Set("cause", MakeError(env, cause_msg, s.cause_code(), s));
  }
  return err;
}

Napi::Value ThrowStatus(Napi::Env env, const Status& s) {
  Napi::Error(env, StatusToError(env, s)).ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace hashlog
