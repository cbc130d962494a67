// CRC32C (Castagnoli): SSE4.2 / ARMv8 CRC instructions when the CPU has them, a table otherwise.
#ifndef HASHLOG_NATIVE_CRC32C_H_
#define HASHLOG_NATIVE_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace hashlog {
namespace crc32c {

// Returns the CRC32C of data[0, n) continuing from `crc` (0 to start).
uint32_t Extend(uint32_t crc, const char* data, size_t n);
inline uint32_t Value(const char* data, size_t n) { return Extend(0, data, n); }

// True when Extend uses a hardware instruction on this CPU.
bool IsHardwareAccelerated();

// Stored CRCs are masked (as LevelDB does) so that a CRC computed over bytes that
// themselves contain CRCs (a batch record) does not degenerate.
constexpr uint32_t kMaskDelta = 0xa282ead8u;
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace crc32c
}  // namespace hashlog

#endif  // HASHLOG_NATIVE_CRC32C_H_
