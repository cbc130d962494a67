// Slice: a non-owning view of bytes. The caller keeps the bytes alive.
#ifndef HASHLOG_NATIVE_SLICE_H_
#define HASHLOG_NATIVE_SLICE_H_

#include <cstddef>
#include <cstring>

namespace hashlog {

struct Slice {
  const char* data = nullptr;
  size_t size = 0;

  Slice() = default;
  Slice(const char* d, size_t n) : data(d), size(n) {}
  bool operator==(const Slice& o) const {
    return size == o.size && (size == 0 || std::memcmp(data, o.data, size) == 0);
  }
};

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_SLICE_H_
