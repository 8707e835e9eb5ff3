// Weight blocks as small integers and scales: the view the integer matrix kernels compute with.
//
// Every block format the fast products read in place (block_matmul.h) is cut into units of 32
// consecutive elements (a legacy block is one unit, a k-quant super-block eight), and element i of
// a unit is
//
//   w[i] = scale[h] · (q[i] − z)   (zero-point formats: Q4_0 z = 8, Q5_0 z = 16, Q6_K z = 32)
//   w[i] = scale[h] · q[i] + m[h]  (min formats: Q4_1, Q5_1, Q4_K, Q5_K)
//   w[i] = scale[h] · q[i]         (Q8_0, IQ4_NL and IQ4_XS: q their level table's int8 value)
//   h = i / 16, the unit's two 16-element halves (own scales in Q2_K, Q3_K, Q6_K; own mins in
//   Q2_K), Q3_K z = 4,
//
// q an integer: in [0, 63] for every format but Q8_0 and IQ4_* (kSigned = false), so that it
// multiplies an int8 activation in an unsigned × signed byte product, and in [-128, 127] for Q8_0
// and IQ4_*. These are the
// formats table's decode formulas with the same float operations, so decoding by this view is
// bit-identical to it (DecodeRows in block_matmul.h). The integer kernels use the single form
// w = scale·q + min, with min = m or −z·scale (UnitScales::min; exact: z is a power of two).
//
// One traits struct per format states this view: Scales (per block: every unit's scales and mins)
// and Quants (the 32 integers of one unit: the scalar twin of the SIMD unpacking in
// legacy_units-inl.h and k_units-inl.h, which tests compare exactly). Facts:
//   kUnits      32-element units per block
//   kSigned     q is int8 (Q8_0, IQ4_*) instead of [0, 63]
//   kHalfScales the two halves of a unit have their own scale (Q6_K); else scale[1] == scale[0]
//   kZero       the zero point z (0: none)
//   kMins       a min m per unit
//   kOffset     the integer kernels' min is not zero (kZero != 0 or kMins)
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#include "formats/float_types.h"
#include "formats/iq_quants.h"
#include "formats/k_quants.h"
#include "formats/legacy_quants.h"
#include "formats/types.h"

namespace shrink {

inline constexpr int kUnitElements = 32;

struct UnitScales {
  float scale[2];
  float min[2];  // m, or −z·scale for zero-point formats
};

namespace units_internal {

// F16 bits -> F32, exact. Inlined into the SIMD kernels, where the compiler emits the target's
// conversion instruction (F16C vcvtph2ps); elsewhere a library call or the formats' bit decoder.
[[gnu::always_inline]] inline float HalfToFloat(uint16_t bits) {
#if defined(__ARM_FP16_FORMAT_IEEE)
  // Arm's storage-only half type (GCC 12's C++ has no _Float16 on Arm); converts with fcvt.
  return static_cast<float>(std::bit_cast<__fp16>(bits));
#elif defined(__FLT16_MAX__)
  return static_cast<float>(std::bit_cast<_Float16>(bits));
#else
  return F16ToF32(bits);
#endif
}

inline void SetUniform(UnitScales& s, float scale, float min) {
  s.scale[0] = s.scale[1] = scale;
  s.min[0] = s.min[1] = min;
}

inline uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Legacy 4/5-bit blocks: element j is the low nibble of qs[j], element j + 16 the high nibble; the
// fifth bit of element j is bit j of qh.
inline void Nibbles(const uint8_t* qs, int8_t* q) {
  for (int j = 0; j < 16; ++j) {
    q[j] = static_cast<int8_t>(qs[j] & 15);
    q[j + 16] = static_cast<int8_t>(qs[j] >> 4);
  }
}
inline void FifthBits(const uint8_t* qh, int8_t* q) {
  const uint32_t bits = Load32(qh);
  for (int j = 0; j < 32; ++j) q[j] = static_cast<int8_t>(q[j] | (((bits >> j) & 1) << 4));
}

}  // namespace units_internal

struct Q4_0Units {
  using Block = BlockQ4_0;
  static constexpr TensorType kType = TensorType::kQ4_0;
  static constexpr int kUnits = 1;
  static constexpr bool kSigned = false, kHalfScales = false, kMins = false;
  static constexpr int kZero = 8;
  static constexpr bool kOffset = kMins || kZero != 0;
  static void Scales(const Block& b, UnitScales* s) {
    const float d = units_internal::HalfToFloat(b.d);
    units_internal::SetUniform(s[0], d, -8.0f * d);
  }
  static void Quants(const Block& b, int, int8_t* q) { units_internal::Nibbles(b.qs, q); }
};

struct Q4_1Units {
  using Block = BlockQ4_1;
  static constexpr TensorType kType = TensorType::kQ4_1;
  static constexpr int kUnits = 1;
  static constexpr bool kSigned = false, kHalfScales = false, kMins = true;
  static constexpr int kZero = 0;
  static constexpr bool kOffset = kMins || kZero != 0;
  static void Scales(const Block& b, UnitScales* s) {
    units_internal::SetUniform(s[0], units_internal::HalfToFloat(b.d),
                               units_internal::HalfToFloat(b.m));
  }
  static void Quants(const Block& b, int, int8_t* q) { units_internal::Nibbles(b.qs, q); }
};

struct Q5_0Units {
  using Block = BlockQ5_0;
  static constexpr TensorType kType = TensorType::kQ5_0;
  static constexpr int kUnits = 1;
  static constexpr bool kSigned = false, kHalfScales = false, kMins = false;
  static constexpr int kZero = 16;
  static constexpr bool kOffset = kMins || kZero != 0;
  static void Scales(const Block& b, UnitScales* s) {
    const float d = units_internal::HalfToFloat(b.d);
    units_internal::SetUniform(s[0], d, -16.0f * d);
  }
  static void Quants(const Block& b, int, int8_t* q) {
    units_internal::Nibbles(b.qs, q);
    units_internal::FifthBits(b.qh, q);
  }
};

struct Q5_1Units {
  using Block = BlockQ5_1;
  static constexpr TensorType kType = TensorType::kQ5_1;
  static constexpr int kUnits = 1;
  static constexpr bool kSigned = false, kHalfScales = false, kMins = true;
  static constexpr int kZero = 0;
  static constexpr bool kOffset = kMins || kZero != 0;
  static void Scales(const Block& b, UnitScales* s) {
    units_internal::SetUniform(s[0], units_internal::HalfToFloat(b.d),
                               units_internal::HalfToFloat(b.m));
  }
  static void Quants(const Block& b, int, int8_t* q) {
    units_internal::Nibbles(b.qs, q);
    units_internal::FifthBits(b.qh, q);
  }
};

struct Q8_0Units {
  using Block = BlockQ8_0;
  static constexpr TensorType kType = TensorType::kQ8_0;
  static constexpr int kUnits = 1;
  static constexpr bool kSigned = true, kHalfScales = false, kMins = false;
  static constexpr int kZero = 0;
  static constexpr bool kOffset = kMins || kZero != 0;
  static void Scales(const Block& b, UnitScales* s) {
    units_internal::SetUniform(s[0], units_internal::HalfToFloat(b.d), 0.0f);
  }
  static void Quants(const Block& b, int, int8_t* q) { std::memcpy(q, b.qs, 32); }
};

// Q4_K / Q5_K: unit u takes nibble u % 2 of qs[32 · (u / 2) + l]; scale d·sc_u, min −dmin·m_u,
// the 6-bit sc_u and m_u packed in 12 bytes as k_quants.h's UnpackScaleMinK4 reads them. Unpacked
// here, all 8 pairs in one inlined pass: the generation kernels unpack every block's scales, and an
// out-of-line call per pair was 2 % of Gemma-3-270M's generation time (perf). Bit-identical decode
// is tested (block_matmul_test DecodeRowsIsBitIdenticalToFormatsDecode).
template <class BlockT>
inline void ScaleMinUnitScales(const BlockT& b, float d, float dmin, UnitScales* s) {
  const uint8_t* p = b.scales;
  for (int u = 0; u < 4; ++u) {
    units_internal::SetUniform(s[u], d * static_cast<float>(p[u] & 63),
                               -(dmin * static_cast<float>(p[u + 4] & 63)));
  }
  for (int u = 4; u < 8; ++u) {
    const int sc = (p[u + 4] & 15) | ((p[u - 4] >> 6) << 4);
    const int m = (p[u + 4] >> 4) | ((p[u] >> 6) << 4);
    units_internal::SetUniform(s[u], d * static_cast<float>(sc), -(dmin * static_cast<float>(m)));
  }
}

struct Q4_KUnits {
  using Block = BlockQ4_K;
  static constexpr TensorType kType = TensorType::kQ4_K;
  static constexpr int kUnits = 8;
  static constexpr bool kSigned = false, kHalfScales = false, kMins = true;
  static constexpr int kZero = 0;
  static constexpr bool kOffset = kMins || kZero != 0;
  static void Scales(const Block& b, UnitScales* s) {
    ScaleMinUnitScales(b, units_internal::HalfToFloat(b.d), units_internal::HalfToFloat(b.dmin), s);
  }
  static void Quants(const Block& b, int u, int8_t* q) {
    const uint8_t* qs = b.qs + 32 * (u / 2);
    for (int l = 0; l < 32; ++l) q[l] = static_cast<int8_t>((qs[l] >> (4 * (u % 2))) & 15);
  }
};

struct Q5_KUnits {
  using Block = BlockQ5_K;
  static constexpr TensorType kType = TensorType::kQ5_K;
  static constexpr int kUnits = 8;
  static constexpr bool kSigned = false, kHalfScales = false, kMins = true;
  static constexpr int kZero = 0;
  static constexpr bool kOffset = kMins || kZero != 0;
  static void Scales(const Block& b, UnitScales* s) {
    ScaleMinUnitScales(b, units_internal::HalfToFloat(b.d), units_internal::HalfToFloat(b.dmin), s);
  }
  // As Q4_K, plus bit u of qh[l] as the fifth bit.
  static void Quants(const Block& b, int u, int8_t* q) {
    const uint8_t* qs = b.qs + 32 * (u / 2);
    for (int l = 0; l < 32; ++l) {
      q[l] = static_cast<int8_t>(((qs[l] >> (4 * (u % 2))) & 15) | (((b.qh[l] >> u) & 1) << 4));
    }
  }
};

// Q6_K: unit u = 4a + k (a = u / 4, k = u % 4) takes nibble k / 2 of ql[64a + 32(k % 2) + l] and
// bits 2k..2k+1 of qh[32a + l]; halves have scales d·scales[2u + h], min −32 times the scale.
struct Q6_KUnits {
  using Block = BlockQ6_K;
  static constexpr TensorType kType = TensorType::kQ6_K;
  static constexpr int kUnits = 8;
  static constexpr bool kSigned = false, kHalfScales = true, kMins = false;
  static constexpr int kZero = 32;
  static constexpr bool kOffset = kMins || kZero != 0;
  static void Scales(const Block& b, UnitScales* s) {
    const float d = units_internal::HalfToFloat(b.d);
    for (int u = 0; u < 8; ++u) {
      for (int h = 0; h < 2; ++h) {
        s[u].scale[h] = d * static_cast<float>(b.scales[2 * u + h]);
        s[u].min[h] = -32.0f * s[u].scale[h];
      }
    }
  }
  static void Quants(const Block& b, int u, int8_t* q) {
    const int a = u / 4, k = u % 4;
    const uint8_t* ql = b.ql + 64 * a + 32 * (k % 2);
    const uint8_t* qh = b.qh + 32 * a;
    for (int l = 0; l < 32; ++l) {
      const int low = (ql[l] >> (4 * (k / 2))) & 15;
      const int high = (qh[l] >> (2 * k)) & 3;
      q[l] = static_cast<int8_t>(low | (high << 4));
    }
  }
};

// Q2_K: unit u takes bits 2·(u % 4) of qs[32 · (u / 4) + l]; half h has scales[2u + h]: scale
// d·(low nibble), min −dmin·(high nibble).
struct Q2_KUnits {
  using Block = BlockQ2_K;
  static constexpr TensorType kType = TensorType::kQ2_K;
  static constexpr int kUnits = 8;
  static constexpr bool kSigned = false, kHalfScales = true, kMins = true;
  static constexpr int kZero = 0;
  static constexpr bool kOffset = kMins || kZero != 0;
  static void Scales(const Block& b, UnitScales* s) {
    const float d = units_internal::HalfToFloat(b.d);
    const float dmin = units_internal::HalfToFloat(b.dmin);
    for (int u = 0; u < 8; ++u) {
      for (int h = 0; h < 2; ++h) {
        const uint8_t sc = b.scales[2 * u + h];
        s[u].scale[h] = d * static_cast<float>(sc & 15);
        s[u].min[h] = -(dmin * static_cast<float>(sc >> 4));
      }
    }
  }
  static void Quants(const Block& b, int u, int8_t* q) {
    const uint8_t* qs = b.qs + 32 * (u / 4);
    for (int l = 0; l < 32; ++l) q[l] = static_cast<int8_t>((qs[l] >> (2 * (u % 4))) & 3);
  }
};

// Q3_K: the low two bits as Q2_K, plus 4 where bit u of hmask[l] is set (a clear bit is the
// format's −4: q − 4 is its value); half h has the 6-bit scale 2u + h, biased by 32.
struct Q3_KUnits {
  using Block = BlockQ3_K;
  static constexpr TensorType kType = TensorType::kQ3_K;
  static constexpr int kUnits = 8;
  static constexpr bool kSigned = false, kHalfScales = true, kMins = false;
  static constexpr int kZero = 4;
  static constexpr bool kOffset = kMins || kZero != 0;
  static void Scales(const Block& b, UnitScales* s) {
    const float d = units_internal::HalfToFloat(b.d);
    for (int u = 0; u < 8; ++u) {
      for (int h = 0; h < 2; ++h) {
        s[u].scale[h] = d * static_cast<float>(UnpackScaleQ3_K(b.scales, 2 * u + h) - 32);
        s[u].min[h] = -4.0f * s[u].scale[h];
      }
    }
  }
  static void Quants(const Block& b, int u, int8_t* q) {
    const uint8_t* qs = b.qs + 32 * (u / 4);
    for (int l = 0; l < 32; ++l) {
      const int low = (qs[l] >> (2 * (u % 4))) & 3;
      q[l] = static_cast<int8_t>(low | (((b.hmask[l] >> u) & 1) << 2));
    }
  }
};

namespace units_internal {
// IQ4: 16 packed bytes -> 32 levels (low nibbles elements 0..15, high nibbles 16..31).
inline void NibbleLevels(const uint8_t* qs, int8_t* q) {
  for (int j = 0; j < 16; ++j) {
    q[j] = kIq4nlValues[qs[j] & 15];
    q[j + 16] = kIq4nlValues[qs[j] >> 4];
  }
}
}  // namespace units_internal

struct IQ4_NLUnits {
  using Block = BlockIQ4_NL;
  static constexpr TensorType kType = TensorType::kIQ4_NL;
  static constexpr int kUnits = 1;
  static constexpr bool kSigned = true, kHalfScales = false, kMins = false;
  static constexpr int kZero = 0;
  static constexpr bool kOffset = kMins || kZero != 0;
  static void Scales(const Block& b, UnitScales* s) {
    units_internal::SetUniform(s[0], units_internal::HalfToFloat(b.d), 0.0f);
  }
  static void Quants(const Block& b, int, int8_t* q) { units_internal::NibbleLevels(b.qs, q); }
};

// IQ4_XS: unit u is packed as one IQ4_NL block in qs[16u ..]; scale d·(6-bit ls − 32).
struct IQ4_XSUnits {
  using Block = BlockIQ4_XS;
  static constexpr TensorType kType = TensorType::kIQ4_XS;
  static constexpr int kUnits = 8;
  static constexpr bool kSigned = true, kHalfScales = false, kMins = false;
  static constexpr int kZero = 0;
  static constexpr bool kOffset = kMins || kZero != 0;
  static void Scales(const Block& b, UnitScales* s) {
    const float d = units_internal::HalfToFloat(b.d);
    for (int u = 0; u < 8; ++u) {
      const int low = (b.scales_l[u / 2] >> (4 * (u % 2))) & 15;
      const int high = (b.scales_h >> (2 * u)) & 3;
      units_internal::SetUniform(s[u], d * static_cast<float>((low | (high << 4)) - 32), 0.0f);
    }
  }
  static void Quants(const Block& b, int u, int8_t* q) {
    units_internal::NibbleLevels(b.qs + 16 * u, q);
  }
};

// Calls fn(Units{}) with the traits of `type`; returns false (fn not called) when the type has no
// integer view. The only place that maps a table type to its traits.
template <class Fn>
bool VisitUnits(TensorType type, Fn&& fn) {
  switch (type) {
    case TensorType::kQ4_0:
      fn(Q4_0Units{});
      return true;
    case TensorType::kQ4_1:
      fn(Q4_1Units{});
      return true;
    case TensorType::kQ5_0:
      fn(Q5_0Units{});
      return true;
    case TensorType::kQ5_1:
      fn(Q5_1Units{});
      return true;
    case TensorType::kQ8_0:
      fn(Q8_0Units{});
      return true;
    case TensorType::kQ4_K:
      fn(Q4_KUnits{});
      return true;
    case TensorType::kQ5_K:
      fn(Q5_KUnits{});
      return true;
    case TensorType::kQ6_K:
      fn(Q6_KUnits{});
      return true;
    case TensorType::kQ2_K:
      fn(Q2_KUnits{});
      return true;
    case TensorType::kQ3_K:
      fn(Q3_KUnits{});
      return true;
    case TensorType::kIQ4_NL:
      fn(IQ4_NLUnits{});
      return true;
    case TensorType::kIQ4_XS:
      fn(IQ4_XSUnits{});
      return true;
    default:
      return false;
  }
}

}  // namespace shrink
