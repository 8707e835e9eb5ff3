// Byte dot products for the integer kernels: a polyfill for Highway ops that 1.0.3 lacks.
//
// Highway 1.0.3 (Debian 12) multiplies 16-bit lanes (ReorderWidenMulAccumulate = pmaddwd) but has
// no byte product: SatWidenMulPairwiseAdd (pmaddubsw) and SumOfMulQuadAccumulate (VNNI vpdpbusd)
// arrived in later Highway releases. This file is the one place that fills the gap, per target,
// behind one op; everything else stays in Highway's portable ops. Delete it when Highway >= 1.1 is
// the floor.
//
//   DotBytesAccumulate(di32, a, b, sum): sum + the products a[i]·b[i] of u8 `a` and i8 `b`,
//   REQUIRES a[i] <= 128 and b[i] >= -127 (pmaddubsw adds product pairs in saturating 16-bit lanes:
//   2·128·127 < 2^15, so it never saturates). The reduction of the result's lanes is exact (int32;
//   32 products of at most 128·127 each). Lane grouping: lanes in the lower half of the result
//   collect products from the lower half of the bytes, the upper lanes from the upper half, so a
//   caller can weight the two halves of a 32-byte unit differently (Q6_K); within a half, any.
//
// Per target: x86 SSE4/AVX2/AVX3 use pmaddubsw + pmaddwd(1); AVX3_DL uses vpdpbusd, emitted with an
// explicit EVEX encoding (Highway's AVX3_DL target string also enables AVX-VNNI, whose VEX form of
// the same instruction is missing on AVX-512 CPUs such as Zen 4, so the compiler must not choose
// it); other targets widen to 16 bits and use ReorderWidenMulAccumulate (DotBytesAccumulateWide,
// compiled and tested on every target).

#if defined(SHRINK_KERNELS_INT8_DOT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SHRINK_KERNELS_INT8_DOT_INL_H_
#undef SHRINK_KERNELS_INT8_DOT_INL_H_
#else
#define SHRINK_KERNELS_INT8_DOT_INL_H_
#endif

#include <cstdint>
#include <cstring>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace shrink {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET != HWY_SCALAR  // byte vectors of 16+ lanes (unit_bytes-inl.h)

// The portable path: widen each half to 16 bits, multiply-add pairs into 32 bits, then add
// neighbouring lanes so that the lower result lanes hold the lower half's products. For vectors of
// at least 4 int32 lanes (16 bytes and more).
template <class DI32, class VU8, class VI8>
HWY_INLINE hn::Vec<DI32> DotBytesAccumulateWide(DI32 di32, VU8 a, VI8 b, hn::Vec<DI32> sum) {
  const hn::RepartitionToNarrow<DI32> di16;
  const hn::Half<hn::DFromV<VU8>> du8h;
  const hn::Half<hn::DFromV<VI8>> di8h;
  const auto a_lo = hn::PromoteTo(di16, hn::LowerHalf(du8h, a));
  const auto a_hi = hn::PromoteTo(di16, hn::UpperHalf(du8h, a));
  const auto b_lo = hn::PromoteTo(di16, hn::LowerHalf(di8h, b));
  const auto b_hi = hn::PromoteTo(di16, hn::UpperHalf(di8h, b));
  auto lo1 = hn::Zero(di32), hi1 = hn::Zero(di32);
  auto lo = hn::ReorderWidenMulAccumulate(di32, a_lo, b_lo, hn::Zero(di32), lo1);
  auto hi = hn::ReorderWidenMulAccumulate(di32, a_hi, b_hi, hn::Zero(di32), hi1);
  lo = hn::RearrangeToOddPlusEven(lo, lo1);
  hi = hn::RearrangeToOddPlusEven(hi, hi1);
  // [lo0+lo1, lo2+lo3, ..., hi0+hi1, ...]: lower lanes from the lower half.
  return hn::Add(sum, hn::Add(hn::ConcatEven(di32, hi, lo), hn::ConcatOdd(di32, hi, lo)));
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_SSSE3

template <size_t N>
HWY_INLINE hn::Vec128<int32_t, N / 4> DotBytesAccumulate(hn::Simd<int32_t, N / 4, 0>,
                                                         hn::Vec128<uint8_t, N> a,
                                                         hn::Vec128<int8_t, N> b,
                                                         hn::Vec128<int32_t, N / 4> sum) {
  const __m128i pairs = _mm_maddubs_epi16(a.raw, b.raw);
  return hn::Add(sum, hn::Vec128<int32_t, N / 4>{_mm_madd_epi16(pairs, _mm_set1_epi16(1))});
}

#if HWY_TARGET <= HWY_AVX2
HWY_INLINE hn::Vec256<int32_t> DotBytesAccumulate(hn::Full256<int32_t>, hn::Vec256<uint8_t> a,
                                                  hn::Vec256<int8_t> b, hn::Vec256<int32_t> sum) {
#if HWY_TARGET == HWY_AVX3_DL
  __m256i acc = sum.raw;
  asm("%{evex%} vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a.raw), "v"(b.raw));
  return hn::Vec256<int32_t>{acc};
#else
  const __m256i pairs = _mm256_maddubs_epi16(a.raw, b.raw);
  return hn::Add(sum, hn::Vec256<int32_t>{_mm256_madd_epi16(pairs, _mm256_set1_epi16(1))});
#endif
}
#endif  // HWY_TARGET <= HWY_AVX2

#if HWY_TARGET <= HWY_AVX3
// 512-bit vectors (the prompt kernels' row groups, block_gemm-inl.h). Highway 1.0.3's AVX3_DL
// target attribute lacks avx512vnni, so the instruction is written out (EVEX is its only encoding
// at this width).
HWY_INLINE hn::Vec512<int32_t> DotBytesAccumulate(hn::Full512<int32_t>, hn::Vec512<uint8_t> a,
                                                  hn::Vec512<int8_t> b, hn::Vec512<int32_t> sum) {
#if HWY_TARGET == HWY_AVX3_DL
  __m512i acc = sum.raw;
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a.raw), "v"(b.raw));
  return hn::Vec512<int32_t>{acc};
#else
  const __m512i pairs = _mm512_maddubs_epi16(a.raw, b.raw);
  return hn::Add(sum, hn::Vec512<int32_t>{_mm512_madd_epi16(pairs, _mm512_set1_epi16(1))});
#endif
}
// The same product with b's 4 bytes at `b4` repeated in every int32 lane, taken straight from
// memory by the instruction's embedded broadcast: no separate broadcast instruction (the prompt
// kernels multiply one activation quad by a whole weight row group; block_gemm-inl.h).
#if HWY_TARGET == HWY_AVX3_DL
HWY_INLINE hn::Vec512<int32_t> DotBytesAccumulateBroadcast(hn::Full512<int32_t>,
                                                           hn::Vec512<uint8_t> a, const int8_t* b4,
                                                           hn::Vec512<int32_t> sum) {
  using AliasedI32 [[gnu::may_alias]] = int32_t;
  __m512i acc = sum.raw;
  asm("vpdpbusd %2%{1to16%}, %1, %0"
      : "+v"(acc)
      : "v"(a.raw), "m"(*reinterpret_cast<const AliasedI32*>(b4)));
  return hn::Vec512<int32_t>{acc};
}
#endif  // HWY_TARGET == HWY_AVX3_DL
#endif  // HWY_TARGET <= HWY_AVX3

#else  // other targets

template <class DI32, class VU8, class VI8>
HWY_INLINE hn::Vec<DI32> DotBytesAccumulate(DI32 di32, VU8 a, VI8 b, hn::Vec<DI32> sum) {
  return DotBytesAccumulateWide(di32, a, b, sum);
}

#endif

// DotBytesAccumulate(di32, a, (b4's 4 bytes in every int32 lane), sum), for targets without an
// embedded-broadcast form above.
template <class DI32, class VU8>
HWY_INLINE hn::Vec<DI32> DotBytesAccumulateBroadcast(DI32 di32, VU8 a, const int8_t* b4,
                                                     hn::Vec<DI32> sum) {
  int32_t v;
  std::memcpy(&v, b4, sizeof(v));
  return DotBytesAccumulate(di32, a, hn::BitCast(hn::Repartition<int8_t, DI32>(), hn::Set(di32, v)),
                            sum);
}

// Signed × signed: a[i]·b[i] for i8 `a` (any value) and i8 `b` >= -127, as |a| · (b with a's
// sign), which meets DotBytesAccumulate's REQUIRES (|a| <= 128).
template <class DI32, class VI8>
HWY_INLINE hn::Vec<DI32> DotSignedBytesAccumulate(DI32 di32, VI8 a, VI8 b, hn::Vec<DI32> sum) {
  const hn::DFromV<VI8> di8;
  const hn::RebindToUnsigned<decltype(di8)> du8;
  const auto b_signed = hn::IfThenElse(hn::Lt(a, hn::Zero(di8)), hn::Neg(b), b);
  return DotBytesAccumulate(di32, hn::BitCast(du8, hn::Abs(a)), b_signed, sum);
}

// Signed weights (Q8_0, IQ4_*) where the byte product does not saturate (vpdpbusd, the widening
// fallback) are multiplied as q + 128 (unsigned: q XOR 0x80), one plain unsigned × signed product,
// and the sum starts at −128·Σq_x, exact in int32: 2 ops per weight vector instead of
// DotSignedBytesAccumulate's 5 (the activation-side −128·Σq_x is shared by every weight row).
// pmaddubsw targets would saturate on 255·127 pairs: they apply the weights' signs to the
// activations instead.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_SSSE3 && HWY_TARGET != HWY_AVX3_DL
inline constexpr bool kBiasSignedWeights = false;
#else
inline constexpr bool kBiasSignedWeights = true;
#endif
template <class U>
inline constexpr bool kBiased = U::kSigned&& kBiasSignedWeights;

#endif  // HWY_TARGET != HWY_SCALAR

}  // namespace HWY_NAMESPACE
}  // namespace shrink
HWY_AFTER_NAMESPACE();

#endif  // include guard
