// Two 32-element units in one 512-bit vector, for the one-token row kernels on AVX-512 targets
// (block_matmul-inl.h UnitTile): the byte products of a unit pair take one vpdpbusd instead of
// two, and the pair's unpacking fewer operations than two single units'. Per unit the int32 lanes
// are those of the 256-bit form (each lane sums the same 4 byte products), so results are
// bit-identical; the F32 scaling stays per unit and in unit order.
//
// UnpackUnitPair<kUnit>(U, block): units kUnit (lower 32 bytes) and kUnit + 1 (upper), kUnit even,
// byte for byte UnpackUnit<kUnit> and UnpackUnit<kUnit + 1> (tested). kHasUnitPairs<U> says which
// formats have one: the k-quants whose unit pairs are neighbours in the block (Q4_K, Q6_K).

#if defined(SHRINK_KERNELS_UNIT_PAIRS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SHRINK_KERNELS_UNIT_PAIRS_INL_H_
#undef SHRINK_KERNELS_UNIT_PAIRS_INL_H_
#else
#define SHRINK_KERNELS_UNIT_PAIRS_INL_H_
#endif

#include <type_traits>

#include "hwy/highway.h"
#include "kernels/unit_bytes-inl.h"
#include "kernels/weight_units.h"

HWY_BEFORE_NAMESPACE();
namespace shrink {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if SHRINK_HAVE_UNIT_VECTORS && HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3

using DP8 = hn::Twice<DU8>;  // 64 bytes: a unit pair
using DP16 = hn::Repartition<uint16_t, DP8>;

template <class U>
inline constexpr bool kHasUnitPairs = std::is_same_v<U, Q4_KUnits> || std::is_same_v<U, Q6_KUnits>;

// 32 bytes at p in both halves of a 512-bit vector.
HWY_INLINE hn::Vec<DP8> LoadPairDup(const uint8_t* p) {
  const DP8 d;
  const auto half = hn::LoadU(DU8(), p);
  return hn::Combine(d, half, half);
}

// 16-bit lanes shifted by kLow in the lower half and kHigh in the upper one (left if kLeft).
template <bool kLeft, int kLow, int kHigh>
HWY_INLINE hn::Vec<DP8> ShiftHalves(hn::Vec<DP8> v) {
  const DP8 d;
  const DP16 d16;
  const hn::Half<DP16> d16h;
  const auto shifts = hn::Combine(d16, hn::Set(d16h, kHigh), hn::Set(d16h, kLow));
  const auto v16 = hn::BitCast(d16, v);
  return hn::BitCast(d, kLeft ? hn::operator<<(v16, shifts) : hn::operator>>(v16, shifts));
}

// Q4_K: units 2j and 2j + 1 are the low and high nibbles of qs[32j ..].
template <int kUnit>
HWY_INLINE hn::Vec<DP8> UnpackUnitPair(Q4_KUnits, const BlockQ4_K& b) {
  static_assert(kUnit % 2 == 0);
  const DP8 d;
  return hn::And(ShiftHalves<false, 0, 4>(LoadPairDup(b.qs + 16 * kUnit)), hn::Set(d, 15));
}

// Q6_K: units 4a + k, k = 0, 1 are the low nibbles of ql[64a ..] (64 bytes), k = 2, 3 the high
// ones; bits 2k..2k+1 of qh[32a + l] become bits 4..5.
template <int kUnit>
HWY_INLINE hn::Vec<DP8> UnpackUnitPair(Q6_KUnits, const BlockQ6_K& b) {
  static_assert(kUnit % 2 == 0);
  constexpr int a = kUnit / 4, k = kUnit % 4;
  const DP8 d;
  const auto ql = hn::LoadU(d, b.ql + 64 * a);
  const auto low = k == 0 ? hn::And(ql, hn::Set(d, 15)) : hn::ShiftRight<4>(ql);
  const auto qh = LoadPairDup(b.qh + 32 * a);
  // Units k and k + 1: bits 2k and 2k + 2 to bit 4 (k = 0: left by 4 and 2; k = 2: by 0 and right
  // by 2). The 16-bit shifts move bits across bytes only outside bits 4..5.
  const auto high = k == 0 ? ShiftHalves<true, 4, 2>(qh) : ShiftHalves<false, 0, 2>(qh);
  return hn::OrAnd(low, high, hn::Set(d, 0x30));
}

#elif SHRINK_HAVE_UNIT_VECTORS
// No pairs (UnitTile's pair branch is discarded; its types must still name something).
using DP8 = DU8;
template <class U>
inline constexpr bool kHasUnitPairs = false;
#endif

}  // namespace HWY_NAMESPACE
}  // namespace shrink
HWY_AFTER_NAMESPACE();

#endif  // include guard
