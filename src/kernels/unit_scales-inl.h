// The F32 side of the one-token row kernels (block_matmul-inl.h UnitTile), per SIMD target: each
// unit's scale·d and offset products for a group of units at once, as vector operations on
// contiguous arrays instead of scalar work per unit.
//
// For a group of units (one k-quant super-block, or 8 legacy blocks) and one weight row:
//   scale[i], min[i]   the traits' UnitScales (weight_units.h), i = unit (kSlots == 1) or
//                      2·unit + half (kSlots == 2, formats with a scale per half: Q2_K, Q3_K, Q6_K)
//   sd[i] = scale[i] · d           d of the unit's activation block
//   mo[i] = min[i] · ds            ds = d·Σq_x of the block (kSlots == 1) or of the half (2)
// Every value is the same single F32 product the scalar code computes (the kernels build with
// -ffp-contract=off), so results stay bit-identical to the per-unit form: the kernel then adds,
// per unit and in unit order, sd into its vector lanes and mo[2u] + mo[2u+1] (or mo[u]) into the
// row's offset sum.
//
// ActFactors: an activation row's per-block d, ds and ds_half as contiguous arrays (filled once
// per product and thread, shared by every weight row), so the products above are whole-vector
// loads.

#if defined(SHRINK_KERNELS_UNIT_SCALES_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SHRINK_KERNELS_UNIT_SCALES_INL_H_
#undef SHRINK_KERNELS_UNIT_SCALES_INL_H_
#else
#define SHRINK_KERNELS_UNIT_SCALES_INL_H_
#endif

#include <cstdint>
#include <cstring>

#include "hwy/highway.h"
#include "kernels/activation_blocks.h"
#include "kernels/unit_bytes-inl.h"
#include "kernels/weight_units.h"

HWY_BEFORE_NAMESPACE();
namespace shrink {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if SHRINK_HAVE_UNIT_VECTORS

// Scale slots per unit: 2 where the halves have their own scales.
template <class U>
inline constexpr int kSlots = U::kHalfScales ? 2 : 1;

// Floats of ActFactors per activation block.
inline constexpr int64_t kActFactorFloats = 6;

// One activation row's factors over n blocks, in a caller's buffer of kActFactorFloats·n floats.
struct ActFactors {
  const float* d;   // (n)  d of block i
  const float* d2;  // (2n) d of block i at 2i and 2i + 1 (one per half)
  const float* ds;  // (n)  d·Σq of block i
  const float* dh;  // (2n) ds_half of block i at 2i + h
};

HWY_INLINE ActFactors FillActFactors(const ActBlock* x, int64_t n, float* buffer) {
  float* d = buffer;
  float* d2 = buffer + n;
  float* ds = buffer + 3 * n;
  float* dh = buffer + 4 * n;
  for (int64_t i = 0; i < n; ++i) {
    d[i] = x[i].d;
    d2[2 * i] = d2[2 * i + 1] = x[i].d;
    ds[i] = x[i].ds;
    dh[2 * i] = x[i].ds_half[0];
    dh[2 * i + 1] = x[i].ds_half[1];
  }
  return {d, d2, ds, dh};
}

// out[i] = a[i] · b[i] for i < N (each one F32 product).
template <int N>
HWY_INLINE void MulArrays(const float* a, const float* b, float* out) {
  const DF32 df;
  constexpr int L = static_cast<int>(hn::MaxLanes(df));
  int i = 0;
  for (; i + L <= N; i += L)
    hn::StoreU(hn::Mul(hn::LoadU(df, a + i), hn::LoadU(df, b + i)), df, out + i);
  for (; i < N; ++i) out[i] = a[i] * b[i];
}

// The traits' scales and mins of G consecutive blocks into slot arrays (layout above). Generic:
// through U::Scales; formats with a vector form overload BlockSlotScales below.
template <class U>
HWY_INLINE void BlockSlotScales(U, const typename U::Block& b, float* scale, float* min) {
  UnitScales s[U::kUnits];
  U::Scales(b, s);
  for (int u = 0; u < U::kUnits; ++u) {
    for (int h = 0; h < kSlots<U>; ++h) {
      scale[kSlots<U> * u + h] = s[u].scale[h];
      min[kSlots<U> * u + h] = s[u].min[h];
    }
  }
}

// Q6_K: the 16 int8 scales times d, and −32 times those (Q6_KUnits::Scales' operations).
HWY_INLINE void BlockSlotScales(Q6_KUnits, const BlockQ6_K& b, float* scale, float* min) {
  const DF32 df;
  const hn::RebindToSigned<DF32> di32;
  const hn::Rebind<int8_t, DF32> di8;
  constexpr int L = static_cast<int>(hn::MaxLanes(df));
  static_assert(16 % L == 0);
  const auto d = hn::Set(df, units_internal::HalfToFloat(b.d));
  for (int i = 0; i < 16; i += L) {
    const auto s = hn::Mul(d, hn::ConvertTo(df, hn::PromoteTo(di32, hn::LoadU(di8, b.scales + i))));
    hn::StoreU(s, df, scale + i);
    hn::StoreU(hn::Mul(hn::Set(df, -32.0f), s), df, min + i);
  }
}

// Q4_K / Q5_K: the 8 six-bit scales and mins (ScaleMinUnitScales' layout, weight_units.h) cut out
// of the 12 bytes with 32-bit word operations, 4 units per word, then converted and multiplied
// as vectors: scale = d·sc, min = −(dmin·m), ScaleMinUnitScales' operations.
template <class BlockT>
HWY_INLINE void ScaleMinSlotScales(const BlockT& b, float* scale, float* min) {
  using units_internal::Load32;
  const uint32_t w0 = Load32(b.scales), w1 = Load32(b.scales + 4), w2 = Load32(b.scales + 8);
  // Units 0..3: low 6 bits of bytes 0..3 (scales) and 4..7 (mins). Units 4..7: the low (scales)
  // or high (mins) nibble of bytes 8..11, and as bits 4..5 the top two bits of bytes 0..3 / 4..7.
  const uint32_t words[4] = {
      w0 & 0x3f3f3f3fu,
      (w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4),
      w1 & 0x3f3f3f3fu,
      ((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4),
  };
  uint8_t bytes[16];
  std::memcpy(bytes, words, sizeof(words));  // sc[0..7], then m[0..7] (little-endian)
  const DF32 df;
  const hn::RebindToSigned<DF32> di32;
  const hn::Rebind<uint8_t, DF32> du8;
  constexpr int L = static_cast<int>(hn::MaxLanes(df));
  static_assert(8 % L == 0);
  const auto d = hn::Set(df, units_internal::HalfToFloat(b.d));
  const auto dmin = hn::Set(df, units_internal::HalfToFloat(b.dmin));
  for (int i = 0; i < 8; i += L) {
    const auto sc = hn::ConvertTo(df, hn::PromoteTo(di32, hn::LoadU(du8, bytes + i)));
    const auto m = hn::ConvertTo(df, hn::PromoteTo(di32, hn::LoadU(du8, bytes + 8 + i)));
    hn::StoreU(hn::Mul(d, sc), df, scale + i);
    hn::StoreU(hn::Neg(hn::Mul(dmin, m)), df, min + i);
  }
}
HWY_INLINE void BlockSlotScales(Q4_KUnits, const BlockQ4_K& b, float* scale, float* min) {
  ScaleMinSlotScales(b, scale, min);
}
HWY_INLINE void BlockSlotScales(Q5_KUnits, const BlockQ5_K& b, float* scale, float* min) {
  ScaleMinSlotScales(b, scale, min);
}

// A group's products for one weight row and one activation row: sd and mo (layout above) of the
// G blocks at `blocks`, whose first unit is activation block `a0`. `sd` holds kSlots·units + 8
// floats (the kernel loads 8 from any slot).
template <class U, int G>
struct GroupScales {
  static constexpr int kUnits = G * U::kUnits;
  static constexpr int kN = kSlots<U> * kUnits;
  float scale[kN];
  float min[kN];
  HWY_INLINE void Load(const typename U::Block* blocks) {
    const DF32 df;
    constexpr int L = static_cast<int>(hn::MaxLanes(df));
    if constexpr (U::kUnits == 1 && G % L == 0) {
      // One-unit (legacy) blocks: d (and m) of G blocks converted from F16 together; min = m or
      // −z·d, the traits' operations (weight_units.h).
      const hn::Rebind<hwy::float16_t, DF32> df16;
      alignas(16) uint16_t d_bits[G], m_bits[G];
      for (int g = 0; g < G; ++g) {
        d_bits[g] = blocks[g].d;
        if constexpr (U::kMins) m_bits[g] = blocks[g].m;
      }
      for (int i = 0; i < G; i += L) {
        const auto d =
            hn::PromoteTo(df, hn::LoadU(df16, reinterpret_cast<const hwy::float16_t*>(d_bits + i)));
        hn::StoreU(d, df, scale + i);
        if constexpr (U::kMins) {
          hn::StoreU(hn::PromoteTo(
                         df, hn::LoadU(df16, reinterpret_cast<const hwy::float16_t*>(m_bits + i))),
                     df, min + i);
        } else if constexpr (U::kZero != 0) {
          hn::StoreU(hn::Mul(hn::Set(df, -static_cast<float>(U::kZero)), d), df, min + i);
        } else {
          hn::StoreU(hn::Zero(df), df, min + i);
        }
      }
      return;
    }
    for (int g = 0; g < G; ++g) {
      BlockSlotScales(U(), blocks[g], scale + kSlots<U> * U::kUnits * g,
                      min + kSlots<U> * U::kUnits * g);
    }
  }
  HWY_INLINE void Products(const ActFactors& f, int64_t a0, float* sd, float* mo) const {
    if constexpr (kSlots<U> == 2) {
      MulArrays<kN>(scale, f.d2 + 2 * a0, sd);
      if constexpr (U::kOffset) MulArrays<kN>(min, f.dh + 2 * a0, mo);
    } else {
      MulArrays<kN>(scale, f.d + a0, sd);
      if constexpr (U::kOffset) MulArrays<kN>(min, f.ds + a0, mo);
    }
  }
};

#endif  // SHRINK_HAVE_UNIT_VECTORS

}  // namespace HWY_NAMESPACE
}  // namespace shrink
HWY_AFTER_NAMESPACE();

#endif  // include guard
