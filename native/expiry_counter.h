// ExpiryCounter: how many indexed keys have expired, without RAM per key: a count of keys
// per expiry *second*. Keys whose expiry falls in the current second count as live until
// that second ends, so size() is exact for keys without a TTL and exact to the second for
// keys with one (get/has/scan check each record's own expiry, to the millisecond).
//
// Thread-safety: owner thread only.
#ifndef HASHLOG_NATIVE_EXPIRY_COUNTER_H_
#define HASHLOG_NATIVE_EXPIRY_COUNTER_H_

#include <cstdint>
#include <map>

namespace hashlog {

class ExpiryCounter {
 public:
  // A key with this expiry (ms since the epoch; 0 = none) entered or left the index.
  void Add(uint64_t expires_at) { Adjust(expires_at, +1); }
  void Remove(uint64_t expires_at) { Adjust(expires_at, -1); }
  // Keys in the index whose expiry second ended before now_ms.
  uint64_t Expired(uint64_t now_ms) {
    const uint64_t now_sec = now_ms / 1000;
    while (!pending_.empty() && pending_.begin()->first < now_sec) {
      expired_ += pending_.begin()->second;
      pending_.erase(pending_.begin());
    }
    if (now_sec > folded_below_) folded_below_ = now_sec;
    return expired_;
  }
  // Checkpoints: fn(second, keys) for each expiry second not yet folded, then fn(0, keys
  // already counted as expired). Restore(second, keys) takes each pair back.
  template <typename Fn>
  void ForEachSecond(Fn&& fn) const {
    for (const auto& [sec, n] : pending_) fn(sec, n);
    if (expired_ != 0) fn(0, expired_);
  }
  void Restore(uint64_t sec, uint64_t n) {
    if (sec == 0) {
      expired_ += n;
    } else {
      pending_[sec] += n;
    }
  }
  void Clear() {
    pending_.clear();
    expired_ = 0;
  }

 private:
  void Adjust(uint64_t expires_at, int64_t delta) {
    if (expires_at == 0) return;
    const uint64_t sec = expires_at / 1000;
    if (sec < folded_below_) {
      expired_ += delta;
      return;
    }
    auto it = pending_.emplace(sec, 0).first;
    it->second += delta;
    if (it->second == 0) pending_.erase(it);
  }

  std::map<uint64_t, uint64_t> pending_;  // expiry second -> keys, for seconds not yet folded
  uint64_t folded_below_ = 0;             // seconds below this are counted in expired_
  uint64_t expired_ = 0;
};

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_EXPIRY_COUNTER_H_
