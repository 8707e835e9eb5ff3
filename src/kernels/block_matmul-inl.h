// The generic loops of the in-place matrix products (block_matmul.h), per SIMD target: one skeleton
// for every block format, specialised only by the format's traits (weight_units.h) and its
// unpacker (legacy_units-inl.h, k_units-inl.h).
//
// For weight row r and activation row t (quantized to ActBlocks):
//   y[t][r] = Σ_units ( Σ_h scale[h]·d_t · Σ_{i in half h} q_w[i]·q_x[i]   (vector lanes, F32)
//                       + d_t · Σ_h min[h] · Σ_{i in half h} q_x[i] )          (scalar, F32)
// The byte products are exact int32 per unit; scaling and accumulation are F32, the lanes summed
// once per row. Up to 4 activation rows share each unpacked unit (prompt batches). The factors
// scale[h]·d_t and min[h]·(d_t·Σq_x) are computed as vectors for a group of units first
// (unit_scales-inl.h), the same F32 products as the per-unit form.

#if defined(SHRINK_KERNELS_BLOCK_MATMUL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SHRINK_KERNELS_BLOCK_MATMUL_INL_H_
#undef SHRINK_KERNELS_BLOCK_MATMUL_INL_H_
#else
#define SHRINK_KERNELS_BLOCK_MATMUL_INL_H_
#endif

#include <algorithm>
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
#include "kernels/unit_pairs-inl.h"
#include "kernels/unit_scales-inl.h"
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

// Asks for the first min(bytes, kPrefetchBytes) bytes at `first`, one prefetch per 64-byte line: a
// row chunk that does not continue the thread's last one (matmul.cc's one-token split) would
// otherwise wait on memory for its first prefetch distance, since the loop's own prefetches only
// reach ahead of where it reads (Zen 5, 2 threads, SmolLM2 tg128 Q4_0: 256 -> 290 tokens/s with 8
// chunks per thread).
HWY_INLINE void PrefetchChunkStart(const void* first, int64_t bytes) {
  const auto* p = static_cast<const uint8_t*>(first);
  for (int64_t o = 0; o < std::min(bytes, kPrefetchBytes); o += 64) hwy::Prefetch(p + o);
}

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

// acc += Σ_h sd[h] · (F32 products of half h), sd[h] = scale[h]·d, for one-vector units (f: the
// converted int32 lanes; GroupScales: sd points at the unit's first slot, 8 floats readable).
template <class U>
HWY_INLINE hn::Vec<DF32> ScaleConverted(hn::Vec<DF32> f, const float* sd, hn::Vec<DF32> acc) {
  const DF32 df;
  if constexpr (!U::kHalfScales) {
    return hn::MulAdd(f, hn::Set(df, sd[0]), acc);
  } else {
    // Lanes 0..3 (the lower half's products) sd[0], lanes 4..7 sd[1].
    alignas(32) static constexpr int32_t kHalfOf[8] = {0, 0, 0, 0, 1, 1, 1, 1};
    const auto scales = hn::TableLookupLanes(hn::LoadU(df, sd), hn::SetTableIndices(df, kHalfOf));
    return hn::MulAdd(f, scales, acc);
  }
}

// acc += Σ_h sd[h] · (products of half h), as above for any unit vector count.
template <class U>
HWY_INLINE hn::Vec<DF32> ScaleProducts(const hn::Vec<DI32> (&p)[kUnitVecs], const float* sd,
                                       hn::Vec<DF32> acc) {
  const DF32 df;
  if constexpr (kUnitVecs == 1) {
    return ScaleConverted<U>(hn::ConvertTo(df, p[0]), sd, acc);
  } else if constexpr (!U::kHalfScales) {
    hn::Vec<DI32> sum = p[0];
    for (int k = 1; k < kUnitVecs; ++k) sum = hn::Add(sum, p[k]);
    return hn::MulAdd(hn::ConvertTo(df, sum), hn::Set(df, sd[0]), acc);
  } else {
    acc = hn::MulAdd(hn::ConvertTo(df, p[0]), hn::Set(df, sd[0]), acc);
    return hn::MulAdd(hn::ConvertTo(df, p[1]), hn::Set(df, sd[1]), acc);
  }
}

// offsets += the unit's offset products (mo: GroupScales, at the unit's first slot).
template <class U>
HWY_INLINE void AddOffsets(const float* mo, float& offsets) {
  if constexpr (U::kOffset && kSlots<U> == 2) {
    offsets += mo[0] + mo[1];
  } else if constexpr (U::kOffset) {
    offsets += mo[0];
  }
}

// Units kUnit and kUnit + 1 of block b (kHasUnitPairs<U>, unit_pairs-inl.h) for NR weight rows and
// NT activation rows: one 512-bit byte product per row and token, then each unit's F32 scaling and
// offset in unit order, as the single-unit loop in UnitTile (sd, mo: its [NR][NT][...] arrays).
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
template <class U, int kUnit, int NR, int NT, class Sd, class Mo>
HWY_INLINE void UnitPairStep(const typename U::Block* const* rows, int64_t b,
                             const ActBlock* const* x, const Sd& sd, const Mo& mo, int slot,
                             hn::Vec<DF32> (&acc)[NR][NT], float (&offsets)[NR][NT]) {
  const hn::Twice<DI8> di8p;
  const hn::Twice<DI32> di32p;
  const hn::Twice<DF32> dfp;
  hn::Vec<DP8> w[NR];
  for (int r = 0; r < NR; ++r) w[r] = UnpackUnitPair<kUnit>(U(), rows[r][b]);
  for (int t = 0; t < NT; ++t) {
    const ActBlock* xb = &x[t][b * U::kUnits + kUnit];
    const auto xq = hn::Combine(di8p, hn::LoadU(DI8(), xb[1].q), hn::LoadU(DI8(), xb[0].q));
    for (int r = 0; r < NR; ++r) {
      const auto both = hn::ConvertTo(dfp, DotBytesAccumulate(di32p, w[r], xq, hn::Zero(di32p)));
      acc[r][t] = ScaleConverted<U>(hn::LowerHalf(both), sd[r][t] + slot, acc[r][t]);
      AddOffsets<U>(mo[r][t] + slot, offsets[r][t]);
      acc[r][t] =
          ScaleConverted<U>(hn::UpperHalf(DF32(), both), sd[r][t] + slot + kSlots<U>, acc[r][t]);
      AddOffsets<U>(mo[r][t] + slot + kSlots<U>, offsets[r][t]);
    }
  }
}
#else
template <class U, int kUnit, int NR, int NT, class Sd, class Mo>
HWY_INLINE void UnitPairStep(const typename U::Block* const*, int64_t, const ActBlock* const*,
                             const Sd&, const Mo&, int, hn::Vec<DF32> (&)[NR][NT],
                             float (&)[NR][NT]) {}  // never called: kHasUnitPairs is false
#endif

// Blocks per scale group of the row kernels: 8 units (one k-quant super-block, 8 legacy blocks).
template <class U>
inline constexpr int kGroupBlocks = U::kUnits >= 8 ? 1 : 8 / U::kUnits;

// out[r][t] = row r · x[t] for NR weight rows and NT activation rows (`rows[r]` and `x[t]` point at
// their first block, f[t] at x[t]'s factors). Each unpacked unit serves NT activation rows and each
// loaded activation block NR weight rows; the NR·NT accumulators are independent chains. Each
// group of G blocks first computes its units' scale products as vectors (unit_scales-inl.h); the
// per-unit arithmetic and its order are those of the scalar form, whatever G (results do not
// depend on the grouping).
template <class U, int NR, int NT>
HWY_INLINE void UnitTile(const typename U::Block* const* rows, int64_t n_blocks,
                         const ActBlock* const* x, const ActFactors* f, float (&out)[NR][NT]) {
  const DF32 df;
  hn::Vec<DF32> acc[NR][NT];
  float offsets[NR][NT];
  for (int r = 0; r < NR; ++r) {
    for (int t = 0; t < NT; ++t) {
      acc[r][t] = hn::Zero(df);
      offsets[r][t] = 0.0f;
    }
  }
  auto group = [&]<int G>(int64_t b0) {
    using Scales = GroupScales<U, G>;
    float sd[NR][NT][Scales::kN + 8];
    float mo[NR][NT][Scales::kN];
    for (int r = 0; r < NR; ++r) {
      Scales s;
      s.Load(rows[r] + b0);
      for (int t = 0; t < NT; ++t) s.Products(f[t], b0 * U::kUnits, sd[r][t], mo[r][t]);
    }
    // Weights stream from memory once per product: ask for them ahead of use, more than the
    // hardware prefetcher keeps in flight (measured: kernels_benchmark, 2-3x out of cache). One
    // prefetch per 64 bytes of the group: every cache line of a row is asked for (k-quant blocks
    // span 3-4 lines; one prefetch per block left most of them to the hardware).
    for (int r = 0; r < NR; ++r) {
      const uint8_t* ahead = reinterpret_cast<const uint8_t*>(rows[r] + b0) + kPrefetchBytes;
      for (int64_t o = 0; o < static_cast<int64_t>(G * sizeof(typename U::Block)); o += 64) {
        hwy::Prefetch(ahead + o);
      }
    }
    for (int g = 0; g < G; ++g) {
      const int64_t b = b0 + g;
      const int slot0 = kSlots<U> * U::kUnits * g;
      if constexpr (kHasUnitPairs<U>) {
        // Unit pairs (unit_pairs-inl.h): one 512-bit product, then per unit in order as below.
        [&]<int... kPair>(std::integer_sequence<int, kPair...>) {
          (UnitPairStep<U, 2 * kPair>(rows, b, x, sd, mo, slot0 + kSlots<U> * 2 * kPair, acc,
                                      offsets),
           ...);
        }
        (std::make_integer_sequence<int, U::kUnits / 2>());
      } else {
        // Units in order; the unit index is a constant inside (constant shifts in the unpackers).
        [&]<int... kUnit>(std::integer_sequence<int, kUnit...>) {
          (
              [&] {
                const DI8 di8;
                const int slot = slot0 + kSlots<U> * kUnit;
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
                    acc[r][t] = ScaleProducts<U>(p, sd[r][t] + slot, acc[r][t]);
                    AddOffsets<U>(mo[r][t] + slot, offsets[r][t]);
                  }
                }
              }(),
              ...);
        }
        (std::make_integer_sequence<int, U::kUnits>());
      }
    }
  };
  constexpr int G = kGroupBlocks<U>;
  int64_t b = 0;
  for (; b + G <= n_blocks; b += G) group.template operator()<G>(b);
  for (; b < n_blocks; ++b) group.template operator()<1>(b);
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
