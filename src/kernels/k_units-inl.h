// SIMD unpacking of the k-quant super-blocks (Q4_K, Q5_K, Q6_K) into unit bytes, one 32-element
// unit at a time (kUnit is a template argument, so every shift is a constant): the vector twins of
// the Quants functions in weight_units.h, which tests compare byte for byte.

#if defined(SHRINK_KERNELS_K_UNITS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SHRINK_KERNELS_K_UNITS_INL_H_
#undef SHRINK_KERNELS_K_UNITS_INL_H_
#else
#define SHRINK_KERNELS_K_UNITS_INL_H_
#endif

#include "hwy/highway.h"
#include "kernels/unit_bytes-inl.h"
#include "kernels/weight_units.h"

HWY_BEFORE_NAMESPACE();
namespace shrink {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if SHRINK_HAVE_UNIT_VECTORS

// Q2_K: bits 2·(kUnit % 4) of qs[32 · (kUnit / 4) + l].
template <int kUnit>
HWY_INLINE UnitBytes CrumbsOf(const uint8_t* qs) {
  const DU8 d;
  UnitBytes u = LoadUnitBytes(qs + 32 * (kUnit / 4));
  for (int i = 0; i < kUnitVecs; ++i) {
    u.v[i] = hn::And(hn::ShiftRight<2 * (kUnit % 4)>(u.v[i]), hn::Set(d, 3));
  }
  return u;
}
template <int kUnit>
HWY_INLINE UnitBytes UnpackUnit(Q2_KUnits, const BlockQ2_K& b) {
  return CrumbsOf<kUnit>(b.qs);
}

// Q3_K: as Q2_K, plus 4 where bit kUnit of hmask[l] is set.
template <int kUnit>
HWY_INLINE UnitBytes UnpackUnit(Q3_KUnits, const BlockQ3_K& b) {
  UnitBytes u = CrumbsOf<kUnit>(b.qs);
  AddWhereMasked(LoadUnitBytes(b.hmask), static_cast<uint8_t>(1u << kUnit), 4, u);
  return u;
}

// Q4_K: nibble kUnit % 2 of qs[32 · (kUnit / 2) + l].
template <int kUnit>
HWY_INLINE UnitBytes UnpackUnit(Q4_KUnits, const BlockQ4_K& b) {
  return NibblesOf<kUnit % 2 == 1>(LoadUnitBytes(b.qs + 32 * (kUnit / 2)));
}

// Q5_K: as Q4_K, plus bit kUnit of qh[l] as the fifth bit.
template <int kUnit>
HWY_INLINE UnitBytes UnpackUnit(Q5_KUnits, const BlockQ5_K& b) {
  UnitBytes u = NibblesOf<kUnit % 2 == 1>(LoadUnitBytes(b.qs + 32 * (kUnit / 2)));
  AddWhereMasked(LoadUnitBytes(b.qh), static_cast<uint8_t>(1u << kUnit), 16, u);
  return u;
}

// Q6_K: unit 4a + k takes nibble k / 2 of ql[64a + 32(k % 2) + l] and bits 2k..2k+1 of
// qh[32a + l] as bits 4..5.
template <int kUnit>
HWY_INLINE UnitBytes UnpackUnit(Q6_KUnits, const BlockQ6_K& b) {
  constexpr int a = kUnit / 4, k = kUnit % 4;
  const DU8 d;
  UnitBytes u = NibblesOf<k / 2 == 1>(LoadUnitBytes(b.ql + 64 * a + 32 * (k % 2)));
  const UnitBytes qh = LoadUnitBytes(b.qh + 32 * a);
  for (int i = 0; i < kUnitVecs; ++i) {
    // Move bits 2k..2k+1 to 4..5 with a constant shift.
    hn::Vec<DU8> high;
    if constexpr (k < 2) {
      high = hn::ShiftLeft<4 - 2 * k>(qh.v[i]);
    } else if constexpr (k == 2) {
      high = qh.v[i];
    } else {
      high = hn::ShiftRight<2>(qh.v[i]);
    }
    u.v[i] = hn::Or(u.v[i], hn::And(high, hn::Set(d, 0x30)));
  }
  return u;
}

#endif  // SHRINK_HAVE_UNIT_VECTORS

}  // namespace HWY_NAMESPACE
}  // namespace shrink
HWY_AFTER_NAMESPACE();

#endif  // include guard
