// The SIMD shape of a 32-element weight unit (weight_units.h) and the byte operations the per-format
// unpackers share.
//
// A unit's 32 integers live in kUnitVecs byte vectors of up to 32 lanes: one on AVX2 and AVX-512
// (256-bit halves), two on 128-bit targets (SSE4, NEON); element i is lane i % L of vector i / L.
// Targets whose vectors hold fewer than 16 bytes (HWY_SCALAR) have no unit kernels: they run the
// scalar reference (SHRINK_HAVE_UNIT_VECTORS is 0 there).

#if defined(SHRINK_KERNELS_UNIT_BYTES_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SHRINK_KERNELS_UNIT_BYTES_INL_H_
#undef SHRINK_KERNELS_UNIT_BYTES_INL_H_
#else
#define SHRINK_KERNELS_UNIT_BYTES_INL_H_
#endif

#include <cstdint>
#include <cstring>

#include "hwy/highway.h"

#undef SHRINK_HAVE_UNIT_VECTORS
#define SHRINK_HAVE_UNIT_VECTORS (HWY_TARGET != HWY_SCALAR)

HWY_BEFORE_NAMESPACE();
namespace shrink {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if SHRINK_HAVE_UNIT_VECTORS

using DU8 = hn::CappedTag<uint8_t, 32>;
using DI8 = hn::RebindToSigned<DU8>;
using DI32 = hn::Repartition<int32_t, DU8>;
using DF32 = hn::Repartition<float, DU8>;
using VU8 = hn::Vec<DU8>;
inline constexpr size_t kUnitLanes = hn::MaxLanes(DU8());
inline constexpr int kUnitVecs = static_cast<int>(32 / kUnitLanes);
static_assert(kUnitLanes == 16 || kUnitLanes == 32, "unit kernels need 16- or 32-byte vectors");

struct UnitBytes {
  // Declared (not implicit) so it carries the target's attributes: GCC does not apply the
  // namespace's target pragma to an implicit constructor, which then cannot inline Arm's vector
  // constructor ("target specific option mismatch").
  HWY_ATTR UnitBytes() {}
  VU8 v[kUnitVecs];
};

// 32 consecutive bytes.
HWY_INLINE UnitBytes LoadUnitBytes(const uint8_t* p) {
  UnitBytes u;
  for (int k = 0; k < kUnitVecs; ++k) u.v[k] = hn::LoadU(DU8(), p + k * kUnitLanes);
  return u;
}

// The low (kHigh false) or high nibble of each of 32 bytes.
template <bool kHigh>
HWY_INLINE UnitBytes NibblesOf(const UnitBytes& bytes) {
  const DU8 d;
  UnitBytes u;
  for (int k = 0; k < kUnitVecs; ++k) {
    u.v[k] = kHigh ? hn::ShiftRight<4>(bytes.v[k]) : hn::And(bytes.v[k], hn::Set(d, 15));
  }
  return u;
}

// 16 bytes, two nibbles each: elements 0..15 are the low nibbles, 16..31 the high ones (the legacy
// block layout).
HWY_INLINE UnitBytes SplitNibbles16(const uint8_t* qs) {
  const DU8 d;
  UnitBytes u;
  if constexpr (kUnitVecs == 1) {
    // The 16 bytes in both 128-bit halves; the upper half shifted right by 4 (32-bit lanes: the
    // bits crossing into a byte's low nibble from its neighbour are masked off below).
    const hn::Repartition<uint32_t, DU8> du32;
    alignas(32) static constexpr uint32_t kShift[8] = {0, 0, 0, 0, 4, 4, 4, 4};
    const auto both = hn::BitCast(du32, hn::LoadDup128(d, qs));
    u.v[0] = hn::And(hn::BitCast(d, both >> hn::Load(du32, kShift)), hn::Set(d, 15));
  } else {
    const auto v = hn::LoadU(d, qs);
    u.v[0] = hn::And(v, hn::Set(d, 15));
    u.v[1] = hn::ShiftRight<4>(v);
  }
  return u;
}

// ORs `value` (a bit the nibbles never have) into element i for every set bit i of `bits` (the
// fifth bit of legacy Q5 blocks).
HWY_INLINE void AddWhereBitSet(uint32_t bits, uint8_t value, UnitBytes& u) {
  const DU8 d;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  // AVX-512 byte masks: `bits` is the mask itself (element i is lane i, bit i), one mask move
  // instead of the broadcast, shuffle and test below (Q5_0 is most of Gemma-3-270M's layers).
  static_assert(kUnitVecs == 1);
  uint8_t mask_bytes[8] = {};
  std::memcpy(mask_bytes, &bits, sizeof(bits));
  u.v[0] = hn::Or(u.v[0], hn::IfThenElseZero(hn::LoadMaskBits(d, mask_bytes), hn::Set(d, value)));
#else
  const hn::Repartition<uint32_t, DU8> du32;
  // Element i tests bit i % 8 of byte i / 8 of `bits`; every 32-bit lane holds all four bytes.
  alignas(32) static constexpr uint8_t kByteOf[32] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1,
                                                      1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2,
                                                      2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
  alignas(32) static constexpr uint8_t kBitOf[32] = {1,  2,   4,  8,  16,  32, 64, 128, 1,  2,  4,
                                                     8,  16,  32, 64, 128, 1,  2,  4,   8,  16, 32,
                                                     64, 128, 1,  2,  4,   8,  16, 32,  64, 128};
  const auto all = hn::BitCast(d, hn::Set(du32, bits));
  for (int k = 0; k < kUnitVecs; ++k) {
    const auto byte = hn::TableLookupBytes(all, hn::Load(d, kByteOf + k * kUnitLanes));
    const auto set = hn::TestBit(byte, hn::Load(d, kBitOf + k * kUnitLanes));
    u.v[k] = hn::Or(u.v[k], hn::IfThenElseZero(set, hn::Set(d, value)));
  }
#endif
}

// ORs `value` into element i where bytes[i] & mask is not zero (Q5_K's fifth bits).
HWY_INLINE void AddWhereMasked(const UnitBytes& bytes, uint8_t mask, uint8_t value, UnitBytes& u) {
  const DU8 d;
  for (int k = 0; k < kUnitVecs; ++k) {
    const auto set = hn::TestBit(bytes.v[k], hn::Set(d, mask));
    u.v[k] = hn::Or(u.v[k], hn::IfThenElseZero(set, hn::Set(d, value)));
  }
}

#endif  // SHRINK_HAVE_UNIT_VECTORS

}  // namespace HWY_NAMESPACE
}  // namespace shrink
HWY_AFTER_NAMESPACE();

#endif  // include guard
