// RegisteredBuffers: the buffers lib/reader.ts allocates once per store handle and registers
// at construction (docs/DESIGN.md, "The N-API crossing"): keys in, small values out, and
// getMany's key lengths and value sizes. A get or put then passes only lengths.
#ifndef HASHLOG_NATIVE_BINDING_REGISTERED_BUFFERS_H_
#define HASHLOG_NATIVE_BINDING_REGISTERED_BUFFERS_H_

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../slice.h"

namespace hashlog {

struct RegisteredBuffers {
  char* key = nullptr;
  size_t key_cap = 0;
  char* value = nullptr;
  size_t value_cap = 0;
  uint32_t* many_lengths = nullptr;  // getMany: key lengths in (many_max of them)
  int32_t* many_sizes = nullptr;     // getMany: value sizes (or -1) out
  size_t many_max = 0;

  // Keeps the three buffers alive for as long as this object.
  void Register(Napi::Buffer<char> key_buffer, Napi::Buffer<char> value_buffer, Napi::Buffer<char> meta_buffer) {
    key_ref_ = Napi::Persistent(key_buffer);
    value_ref_ = Napi::Persistent(value_buffer);
    meta_ref_ = Napi::Persistent(meta_buffer);
    key = key_buffer.Data();
    key_cap = key_buffer.Length();
    value = value_buffer.Data();
    value_cap = value_buffer.Length();
    many_max = meta_buffer.Length() / 8;
    many_lengths = reinterpret_cast<uint32_t*>(meta_buffer.Data());
    many_sizes = reinterpret_cast<int32_t*>(meta_buffer.Data() + many_max * 4);
  }

  // The key of `length` bytes at the start of the key buffer.
  Slice Key(const Napi::Value& length) const {
    uint32_t n = length.As<Napi::Number>().Uint32Value();
    return Slice(key, n <= key_cap ? n : key_cap);
  }

 private:
  Napi::Reference<Napi::Buffer<char>> key_ref_;
  Napi::Reference<Napi::Buffer<char>> value_ref_;
  Napi::Reference<Napi::Buffer<char>> meta_ref_;
};

// scan()'s result: [nextCursor, keys[]].
inline Napi::Value ScanPageToJs(Napi::Env env, uint64_t next, const std::vector<std::string>& keys) {
  Napi::Array arr = Napi::Array::New(env, keys.size());
  for (size_t i = 0; i < keys.size(); i++)
    arr.Set(static_cast<uint32_t>(i), Napi::Buffer<char>::Copy(env, keys[i].data(), keys[i].size()));
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, static_cast<double>(next)));
  out.Set(1u, arr);
  return out;
}

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_BINDING_REGISTERED_BUFFERS_H_
