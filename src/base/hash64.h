// Hash64: FNV-1a over 64-bit little-endian words (the bytes past the last whole word one by one).
// Not cryptographic: it catches truncation, bit rot and a different file or token stream, at
// memory speed (one multiply per 8 bytes) over gigabytes of weights. Used by training checkpoints
// (train/checkpoint.h) and the teacher cache (train/teacher_cache.h); the value is part of those
// file formats, so it must never change.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

namespace shrink {

class Hash64 {
 public:
  // Equal to adding the bytes one by one; whole words go straight through (little-endian).
  void Add(std::span<const uint8_t> bytes) {
    size_t i = 0;
    while (i < bytes.size() && fill_ != 0) AddByte(bytes[i++]);
    for (; i + 8 <= bytes.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, bytes.data() + i, 8);
      h_ = (h_ ^ w) * kPrime;
    }
    while (i < bytes.size()) AddByte(bytes[i++]);
  }
  uint64_t Final() {
    if (fill_ > 0) Flush();
    return h_;
  }

 private:
  static constexpr uint64_t kPrime = 0x100000001b3ull;
  void AddByte(uint8_t b) {
    pending_ |= uint64_t{b} << (8 * fill_);
    if (++fill_ == 8) Flush();
  }
  void Flush() {
    h_ = (h_ ^ pending_) * kPrime;
    pending_ = 0;
    fill_ = 0;
  }
  uint64_t h_ = 0xcbf29ce484222325ull, pending_ = 0;
  int fill_ = 0;
};

// The hash of one span of bytes.
inline uint64_t HashBytes(std::span<const uint8_t> bytes) {
  Hash64 h;
  h.Add(bytes);
  return h.Final();
}

// The hash of a token stream's bytes (int32, little-endian).
inline uint64_t HashTokens(std::span<const int32_t> tokens) {
  return HashBytes({reinterpret_cast<const uint8_t*>(tokens.data()), tokens.size_bytes()});
}

}  // namespace shrink
