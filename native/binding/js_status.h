// The one place where an engine Status becomes a JavaScript error with a stable code.
#ifndef HASHLOG_NATIVE_BINDING_JS_STATUS_H_
#define HASHLOG_NATIVE_BINDING_JS_STATUS_H_

#include <napi.h>

#include "../status.h"

namespace hashlog {

struct AddonData;

// A HashlogError (the class lib/errors.ts registered) for s, with code, errno, syscall and,
// for a fail-stop, the original error as cause.
Napi::Value StatusToError(Napi::Env env, const Status& s);
// Throws StatusToError(s) and returns undefined, for `return ThrowStatus(env, s);`.
Napi::Value ThrowStatus(Napi::Env env, const Status& s);
const char* StatusCodeName(Status::Code code);

// Number arguments, as lib/ passes them (validated there).
inline uint32_t U32(const Napi::Value& v) { return v.As<Napi::Number>().Uint32Value(); }
inline double F64(const Napi::Value& v) { return v.As<Napi::Number>().DoubleValue(); }

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_BINDING_JS_STATUS_H_
