#include "formats/float_types.h"

#include <bit>
#include <cstring>

namespace shrink {

static_assert(std::endian::native == std::endian::little,
              "block layouts assume a little-endian host");

float F16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {  // inf or NaN: keep the payload (shifted into the f32 mantissa)
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {  // normal: rebias 15 -> 127
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {  // ±0
    bits = sign;
  } else {        // subnormal half: normalize, every one is a normal float
    int e = 113;  // exponent of 2^-14 in f32 bias, minus the shifts below
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (static_cast<uint32_t>(e) << 23) | ((mantissa & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

uint16_t F32ToF16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t exponent = (bits >> 23) & 0xffu;
  const uint32_t mantissa = bits & 0x7fffffu;
  if (exponent == 0xff) {
    if (mantissa == 0) return sign | 0x7c00u;                         // ±inf
    return static_cast<uint16_t>(sign | 0x7e00u | (mantissa >> 13));  // NaN, quieted
  }
  // Unbiased exponent; halves have normals for e in [-14, 15].
  const int e = static_cast<int>(exponent) - 127;
  if (e > 15) return sign | 0x7c00u;  // overflow (also values that would round up past 65504)
  uint32_t significand;               // with the implicit bit, 24 bits
  int shift;                          // bits to drop from the 24-bit significand
  if (e >= -14) {
    significand = mantissa | 0x800000u;
    shift = 13;
  } else {
    if (exponent == 0 || e < -25)
      return sign;  // f32 subnormal or below half the smallest half subnormal
    significand = mantissa | 0x800000u;
    shift = 13 + (-14 - e);  // 14..24
  }
  const uint32_t kept = significand >> shift;
  const uint32_t rest = significand & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  uint32_t rounded = kept + ((rest > half || (rest == half && (kept & 1))) ? 1 : 0);
  if (e >= -14) {
    // rounded has the implicit bit at 1<<10; a carry to 1<<11 bumps the exponent (and may reach
    // inf).
    const uint32_t half_exponent = static_cast<uint32_t>(e + 15);
    return static_cast<uint16_t>(sign + (half_exponent << 10) + (rounded - 0x400u));
  }
  // Subnormal result; a carry into 1<<10 yields the smallest normal, which the encoding handles.
  return static_cast<uint16_t>(sign | rounded);
}

float BF16ToF32(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

uint16_t F32ToBF16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  // Non-NaN bits are at most 0xff800000, so the addition cannot wrap.
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

namespace {

uint16_t LoadU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
void StoreU16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, sizeof(v)); }

}  // namespace

void DecodeF32(const uint8_t* blocks, float* out, int64_t n) {
  if (n > 0) std::memcpy(out, blocks, static_cast<size_t>(n) * sizeof(float));
}
void EncodeF32(const float* in, uint8_t* blocks, int64_t n) {
  if (n > 0) std::memcpy(blocks, in, static_cast<size_t>(n) * sizeof(float));
}
void DecodeF16(const uint8_t* blocks, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = F16ToF32(LoadU16(blocks + 2 * i));
}
void EncodeF16(const float* in, uint8_t* blocks, int64_t n) {
  for (int64_t i = 0; i < n; ++i) StoreU16(blocks + 2 * i, F32ToF16(in[i]));
}
void DecodeBF16(const uint8_t* blocks, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = BF16ToF32(LoadU16(blocks + 2 * i));
}
void EncodeBF16(const float* in, uint8_t* blocks, int64_t n) {
  for (int64_t i = 0; i < n; ++i) StoreU16(blocks + 2 * i, F32ToBF16(in[i]));
}

}  // namespace shrink
