// Little-endian fixed-width encoding. The on-disk format is little-endian on every host.
#ifndef HASHLOG_NATIVE_CODING_H_
#define HASHLOG_NATIVE_CODING_H_

#include <cstdint>
#include <cstring>

namespace hashlog {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "hashlog assumes a little-endian host");

inline void EncodeFixed16(char* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void EncodeFixed32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void EncodeFixed64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint16_t DecodeFixed16(const char* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
inline uint32_t DecodeFixed32(const char* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t DecodeFixed64(const char* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_CODING_H_
