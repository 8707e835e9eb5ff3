// The generic loops of the in-place matrix products (block_matmul.h), per SIMD target: one skeleton
// for every block format, specialised only by the format's traits (weight_units.h) and its
// unpacker (legacy_units-inl.h, k_units-inl.h).
//
// For weight row r and activation row t (quantized to ActBlocks):
//   y[t][r] = Σ_units ( Σ_h scale[h]·d_t · Σ_{i in half h} q_w[i]·q_x[i]   (vector lanes, F32)
//                       + d_t · Σ_h min[h] · Σ_{i in half h} q_x[i] )          (scalar, F32)
// The byte products are exact int32 per unit; scaling and accumulation are F32, the lanes summed
// once per row. Up to 4 activation rows share each unpacked unit (prompt batches).

#if defined(SHRINK_KERNELS_BLOCK_MATMUL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SHRINK_KERNELS_BLOCK_MATMUL_INL_H_
#undef SHRINK_KERNELS_BLOCK_MATMUL_INL_H_
#else
#define SHRINK_KERNELS_BLOCK_MATMUL_INL_H_
#endif

#include <cstdint>
#include <type_traits>
#include <utility>

#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kernels/activation_blocks.h"
#include "kernels/float_rows-inl.h"
#include "kernels/int8_dot-inl.h"
#include "kernels/k_units-inl.h"
#include "kernels/legacy_units-inl.h"
#include "kernels/unit_bytes-inl.h"
#include "kernels/weight_units.h"

HWY_BEFORE_NAMESPACE();
namespace shrink {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Activation rows dotted at once with each unpacked weight unit.
inline constexpr int kTokenTile = 4;
// How far ahead of the current block the weights are prefetched (bytes). Generation is limited by
// how many lines are in flight, not by arithmetic: on an AMD EPYC (Zen 5, 2 vCPUs) one-thread
// tg128 of SmolLM2 Q8_0 ran at 96 / 129 / 180 tokens/s with 2 / 4 / 8 KiB, Q4_1 148 / 179 / 201,
// Gemma-3 Q4_K_M 49 / 67 / 75 (kernels_benchmark Generation/Q8_0: 14 / 18 / 25.5 GB/s, 16 KiB no
// better); 2 KiB was chosen on a Xeon against no software prefetch (2-3x there).
inline constexpr int64_t kPrefetchBytes = 8192;

#if SHRINK_HAVE_UNIT_VECTORS

// x: (n) -> n / 32 ActBlocks (activation_blocks.h); bit-identical to the scalar reference.
HWY_INLINE void QuantizeActivationBlocks(const float* x, int64_t n, ActBlock* out) {
  const hn::CappedTag<float, 32> df;
  const hn::RebindToSigned<decltype(df)> di32;
  const hn::Rebind<int8_t, decltype(df)> di8;
  constexpr int L = static_cast<int>(hn::MaxLanes(df));
  constexpr int V = 32 / L;  // vectors per block
  static_assert(V >= 2, "each 16-element half must be whole vectors");
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* xb = x + 32 * b;
    hn::Vec<decltype(df)> v[V];
    auto amax = hn::Zero(df);
    auto nonfinite = hn::Zero(df);  // x * 0 is NaN exactly for an infinite or NaN x
    for (int k = 0; k < V; ++k) {
      v[k] = hn::LoadU(df, xb + k * L);
      amax = hn::Max(amax, hn::Abs(v[k]));
      nonfinite = hn::Add(nonfinite, hn::Mul(v[k], hn::Zero(df)));
    }
    ActBlock& o = out[b];
    if (hn::GetLane(hn::SumOfLanes(df, nonfinite)) != 0.0f) {
      SetNonFiniteActBlock(o);
      continue;
    }
    const float m = hn::GetLane(hn::MaxOfLanes(df, amax));
    const auto inv = hn::Set(df, m != 0.0f ? 127.0f / m : 0.0f);
    hn::Vec<decltype(di32)> sums[2] = {hn::Zero(di32), hn::Zero(di32)};
    for (int k = 0; k < V; ++k) {
      const auto q = hn::NearestInt(hn::Mul(v[k], inv));
      sums[k / (V / 2)] = hn::Add(sums[k / (V / 2)], q);
      hn::StoreU(hn::DemoteTo(di8, q), di8, o.q + k * L);
    }
    o.d = m / 127.0f;
    int32_t half[2];
    for (int h = 0; h < 2; ++h) half[h] = hn::GetLane(hn::SumOfLanes(di32, sums[h]));
    o.ds = o.d * static_cast<float>(half[0] + half[1]);
    for (int h = 0; h < 2; ++h) o.ds_half[h] = o.d * static_cast<float>(half[h]);
    o.qsum = half[0] + half[1];
  }
}

// Where the byte products of a unit start: −128 · (each lane's activation bytes) for biased
// weights (kBiased, int8_dot-inl.h: the lanes then hold exactly the signed products' sums, the same
// int32 values as DotSignedBytesAccumulate's), else zero. One per activation block, shared by every
// weight row.
template <class U>
HWY_INLINE void ProductStart(const hn::Vec<DI8> (&xq)[kUnitVecs],
                             hn::Vec<DI32> (&start)[kUnitVecs]) {
  const DU8 du8;
  const DI32 di32;
  for (int k = 0; k < kUnitVecs; ++k) {
    if constexpr (kBiased<U>) {
      start[k] = hn::Sub(hn::Zero(di32),
                         DotBytesAccumulate(di32, hn::Set(du8, 0x80), xq[k], hn::Zero(di32)));
    } else {
      start[k] = hn::Zero(di32);
    }
  }
}

// The byte products of one unit and one activation block, as int32 lanes (lower lanes: the lower
// half of the unit; int8_dot-inl.h), from `start` (ProductStart).
template <class U>
HWY_INLINE void UnitProducts(const UnitBytes& w, const hn::Vec<DI8> (&xq)[kUnitVecs],
                             const hn::Vec<DI32> (&start)[kUnitVecs],
                             hn::Vec<DI32> (&p)[kUnitVecs]) {
  const DU8 du8;
  const DI8 di8;
  const DI32 di32;
  for (int k = 0; k < kUnitVecs; ++k) {
    if constexpr (kBiased<U>) {
      p[k] = DotBytesAccumulate(di32, hn::Xor(w.v[k], hn::Set(du8, 0x80)), xq[k], start[k]);
    } else if constexpr (U::kSigned) {
      p[k] = DotSignedBytesAccumulate(di32, hn::BitCast(di8, w.v[k]), xq[k], start[k]);
    } else {
      p[k] = DotBytesAccumulate(di32, w.v[k], xq[k], start[k]);
    }
  }
}

// acc += Σ_h scale[h]·d · (products of half h).
template <class U>
HWY_INLINE hn::Vec<DF32> ScaleProducts(const hn::Vec<DI32> (&p)[kUnitVecs], const UnitScales& s,
                                       float d, hn::Vec<DF32> acc) {
  const DF32 df;
  if constexpr (!U::kHalfScales) {
    hn::Vec<DI32> sum = p[0];
    for (int k = 1; k < kUnitVecs; ++k) sum = hn::Add(sum, p[k]);
    return hn::MulAdd(hn::ConvertTo(df, sum), hn::Set(df, s.scale[0] * d), acc);
  } else if constexpr (kUnitVecs == 1) {
    const hn::Half<DF32> dfh;
    const auto scales = hn::Combine(df, hn::Set(dfh, s.scale[1] * d), hn::Set(dfh, s.scale[0] * d));
    return hn::MulAdd(hn::ConvertTo(df, p[0]), scales, acc);
  } else {
    acc = hn::MulAdd(hn::ConvertTo(df, p[0]), hn::Set(df, s.scale[0] * d), acc);
    return hn::MulAdd(hn::ConvertTo(df, p[1]), hn::Set(df, s.scale[1] * d), acc);
  }
}

// The offsets' share of one unit: Σ_h min[h] · (d · Σ_{half h} q_x).
template <class U>
HWY_INLINE float UnitOffsets(const ActBlock& x, const UnitScales& s) {
  if constexpr (!U::kOffset) {
    return 0.0f;
  } else if constexpr (U::kHalfScales) {
    return s.min[0] * x.ds_half[0] + s.min[1] * x.ds_half[1];
  } else {
    return s.min[0] * x.ds;
  }
}

// out[r][t] = row r · x[t] for NR weight rows and NT activation rows (`rows[r]` and `x[t]` point at
// their first block). Each unpacked unit serves NT activation rows and each loaded activation
// block NR weight rows; the NR·NT accumulators are independent chains.
template <class U, int NR, int NT>
HWY_INLINE void UnitTile(const typename U::Block* const* rows, int64_t n_blocks,
                         const ActBlock* const* x, float (&out)[NR][NT]) {
  const DF32 df;
  const DI8 di8;
  hn::Vec<DF32> acc[NR][NT];
  float offsets[NR][NT];
  for (int r = 0; r < NR; ++r) {
    for (int t = 0; t < NT; ++t) {
      acc[r][t] = hn::Zero(df);
      offsets[r][t] = 0.0f;
    }
  }
  for (int64_t b = 0; b < n_blocks; ++b) {
    // Weights stream from memory once per product: ask for them ahead of use, more than the
    // hardware prefetcher keeps in flight (measured: kernels_benchmark, 2-3x out of cache).
    for (int r = 0; r < NR; ++r) {
      hwy::Prefetch(reinterpret_cast<const uint8_t*>(rows[r] + b) + kPrefetchBytes);
    }
    UnitScales s[NR][U::kUnits];
    for (int r = 0; r < NR; ++r) U::Scales(rows[r][b], s[r]);
    // Units in order; the unit index is a constant inside (constant shifts in the unpackers).
    [&]<int... kUnit>(std::integer_sequence<int, kUnit...>) {
      (
          [&] {
            UnitBytes w[NR];
            for (int r = 0; r < NR; ++r) w[r] = UnpackUnit<kUnit>(U(), rows[r][b]);
            for (int t = 0; t < NT; ++t) {
              const ActBlock& xb = x[t][b * U::kUnits + kUnit];
              hn::Vec<DI8> xq[kUnitVecs];
              for (int k = 0; k < kUnitVecs; ++k) xq[k] = hn::LoadU(di8, xb.q + k * kUnitLanes);
              hn::Vec<DI32> start[kUnitVecs];
              ProductStart<U>(xq, start);
              for (int r = 0; r < NR; ++r) {
                hn::Vec<DI32> p[kUnitVecs];
                UnitProducts<U>(w[r], xq, start, p);
                acc[r][t] = ScaleProducts<U>(p, s[r][kUnit], xb.d, acc[r][t]);
                offsets[r][t] += UnitOffsets<U>(xb, s[r][kUnit]);
              }
            }
          }(),
          ...);
    }
    (std::make_integer_sequence<int, U::kUnits>());
  }
  for (int r = 0; r < NR; ++r) {
    for (int t = 0; t < NT; ++t) {
      out[r][t] = hn::GetLane(hn::SumOfLanes(df, acc[r][t])) + offsets[r][t];
    }
  }
}

// out: (32) = the unit's weights by the formats table's float operations (weight_units.h), so
// decoding is bit-identical to Traits(type).decode.
template <class U>
HWY_INLINE void DecodeUnit(const UnitBytes& w, const UnitScales& s, float* out) {
  using Q = std::conditional_t<U::kSigned, int8_t, uint8_t>;
  const DF32 df;
  const hn::RebindToSigned<DF32> di32;
  const hn::Rebind<Q, DF32> dq;
  constexpr int L = static_cast<int>(hn::MaxLanes(df));
  static_assert(16 % L == 0, "a float vector never straddles the unit's halves");
  alignas(32) Q q[32];
  for (int k = 0; k < kUnitVecs; ++k) {
    hn::StoreU(hn::BitCast(hn::Repartition<Q, DU8>(), w.v[k]), hn::Repartition<Q, DU8>(),
               q + k * kUnitLanes);
  }
  for (int i = 0; i < 32; i += L) {
    const int h = i / 16;
    auto f = hn::ConvertTo(df, hn::PromoteTo(di32, hn::LoadU(dq, q + i)));
    if constexpr (U::kZero != 0) f = hn::Sub(f, hn::Set(df, static_cast<float>(U::kZero)));
    f = hn::Mul(f, hn::Set(df, s.scale[h]));
    if constexpr (U::kMins) f = hn::Add(f, hn::Set(df, s.min[h]));
    hn::StoreU(f, df, out + i);
  }
}

// out: (cols) = row of blocks decoded.
template <class U>
HWY_INLINE void DecodeUnitRow(const typename U::Block* blocks, int64_t n_blocks, float* out) {
  for (int64_t b = 0; b < n_blocks; ++b) {
    UnitScales s[U::kUnits];
    U::Scales(blocks[b], s);
    [&]<int... kUnit>(std::integer_sequence<int, kUnit...>) {
      (DecodeUnit<U>(UnpackUnit<kUnit>(U(), blocks[b]), s[kUnit],
                     out + (b * U::kUnits + kUnit) * kUnitElements),
       ...);
    }
    (std::make_integer_sequence<int, U::kUnits>());
  }
}

#endif  // SHRINK_HAVE_UNIT_VECTORS

// Calls tile.template operator()<NT>(t0) for tiles of kTokenTile activation rows, the last one
// shorter, so each NT is a compile-time constant (accumulators stay in registers).
template <class Tile>
HWY_INLINE void ForEachTokenTile(int64_t T, const Tile& tile) {
  int64_t t0 = 0;
  for (; t0 + kTokenTile <= T; t0 += kTokenTile) tile.template operator()<kTokenTile>(t0);
  switch (T - t0) {
    case 1:
      tile.template operator()<1>(t0);
      break;
    case 2:
      tile.template operator()<2>(t0);
      break;
    case 3:
      tile.template operator()<3>(t0);
      break;
    default:
      break;
  }
  static_assert(kTokenTile == 4, "the switch above lists the shorter tiles");
}

}  // namespace HWY_NAMESPACE
}  // namespace shrink
HWY_AFTER_NAMESPACE();

#endif  // include guard
