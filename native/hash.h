// Key hashing for the index: SipHash-1-3 with a per-store random key, so that a network
// client cannot choose keys that collide (hash flooding), as Redis and Rust do.
#ifndef HASHLOG_NATIVE_HASH_H_
#define HASHLOG_NATIVE_HASH_H_

#include <cstddef>
#include <cstdint>

namespace hashlog {

struct HashKey {
  uint64_t k0 = 0;
  uint64_t k1 = 0;
  static HashKey Random();  // from the OS entropy source
};

uint64_t SipHash13(const HashKey& key, const char* data, size_t n);

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_HASH_H_
