// SipHash-1-3 (Aumasson & Bernstein): one compression round, three finalisation rounds.
#include "hash.h"

#include <sys/random.h>

#include <chrono>
#include <cstring>

namespace hashlog {
namespace {

inline uint64_t Rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct State {
  uint64_t v0, v1, v2, v3;
  void Round() {
    v0 += v1; v1 = Rotl(v1, 13); v1 ^= v0; v0 = Rotl(v0, 32);
    v2 += v3; v3 = Rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = Rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = Rotl(v1, 17); v1 ^= v2; v2 = Rotl(v2, 32);
  }
  void Absorb(uint64_t m) {
    v3 ^= m;
    Round();
    v0 ^= m;
  }
};

}  // namespace

HashKey HashKey::Random() {
  HashKey k;
  uint64_t buf[2] = {0, 0};
  if (getrandom(buf, sizeof(buf), 0) != static_cast<ssize_t>(sizeof(buf))) {
    // No entropy source: fall back to the clock. Only hash-flooding resistance suffers.
    buf[0] = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    buf[1] = buf[0] * 0x9e3779b97f4a7c15ull;
  }
  k.k0 = buf[0];
  k.k1 = buf[1];
  return k;
}

uint64_t SipHash13(const HashKey& key, const char* data, size_t n) {
  State s{key.k0 ^ 0x736f6d6570736575ull, key.k1 ^ 0x646f72616e646f6dull,
          key.k0 ^ 0x6c7967656e657261ull, key.k1 ^ 0x7465646279746573ull};
  const char* end = data + (n & ~size_t{7});
  for (const char* p = data; p != end; p += 8) {
    uint64_t m;
    std::memcpy(&m, p, 8);
    s.Absorb(m);
  }
  uint64_t last = static_cast<uint64_t>(n) << 56;
  std::memcpy(&last, end, n & 7);  // little-endian: the tail fills the low bytes
  s.Absorb(last);
  s.v2 ^= 0xff;
  s.Round();
  s.Round();
  s.Round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace hashlog
