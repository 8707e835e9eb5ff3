// SIMD unpacking of the legacy block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) into unit bytes: the
// vector twins of the Quants functions in weight_units.h, which tests compare byte for byte.
// Scales come from the traits' Scales (scalar, once per block).

#if defined(SHRINK_KERNELS_LEGACY_UNITS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SHRINK_KERNELS_LEGACY_UNITS_INL_H_
#undef SHRINK_KERNELS_LEGACY_UNITS_INL_H_
#else
#define SHRINK_KERNELS_LEGACY_UNITS_INL_H_
#endif

#include "hwy/highway.h"
#include "kernels/unit_bytes-inl.h"
#include "kernels/weight_units.h"

HWY_BEFORE_NAMESPACE();
namespace shrink {
namespace HWY_NAMESPACE {

#if SHRINK_HAVE_UNIT_VECTORS

template <int kUnit>
HWY_INLINE UnitBytes UnpackUnit(Q4_0Units, const BlockQ4_0& b) {
  return SplitNibbles16(b.qs);
}
template <int kUnit>
HWY_INLINE UnitBytes UnpackUnit(Q4_1Units, const BlockQ4_1& b) {
  return SplitNibbles16(b.qs);
}
template <int kUnit>
HWY_INLINE UnitBytes UnpackUnit(Q5_0Units, const BlockQ5_0& b) {
  UnitBytes u = SplitNibbles16(b.qs);
  AddWhereBitSet(units_internal::Load32(b.qh), 16, u);
  return u;
}
template <int kUnit>
HWY_INLINE UnitBytes UnpackUnit(Q5_1Units, const BlockQ5_1& b) {
  UnitBytes u = SplitNibbles16(b.qs);
  AddWhereBitSet(units_internal::Load32(b.qh), 16, u);
  return u;
}
template <int kUnit>
HWY_INLINE UnitBytes UnpackUnit(Q8_0Units, const BlockQ8_0& b) {
  return LoadUnitBytes(reinterpret_cast<const uint8_t*>(b.qs));
}

// IQ4: the nibbles of 16 bytes (legacy layout) mapped through the 16-level table, one byte
// shuffle per vector (the table repeated in every 128-bit block, as the shuffle looks up within
// one).
HWY_INLINE UnitBytes NibbleLevels16(const uint8_t* qs) {
  const DU8 d;
  const auto table = hn::LoadDup128(d, reinterpret_cast<const uint8_t*>(kIq4nlValues));
  UnitBytes u = SplitNibbles16(qs);
  for (int k = 0; k < kUnitVecs; ++k) u.v[k] = hn::TableLookupBytes(table, u.v[k]);
  return u;
}
template <int kUnit>
HWY_INLINE UnitBytes UnpackUnit(IQ4_NLUnits, const BlockIQ4_NL& b) {
  return NibbleLevels16(b.qs);
}
template <int kUnit>
HWY_INLINE UnitBytes UnpackUnit(IQ4_XSUnits, const BlockIQ4_XS& b) {
  return NibbleLevels16(b.qs + 16 * kUnit);
}

#endif  // SHRINK_HAVE_UNIT_VECTORS

}  // namespace HWY_NAMESPACE
}  // namespace shrink
HWY_AFTER_NAMESPACE();

#endif  // include guard
