// Prompt-sized matrix products (many activation rows) on weights as stored, per SIMD target: the
// matrix × matrix twins of block_matmul-inl.h's row kernels (block_matmul.h BlockGemmRows).
//
// Integer formats. A group of G weight rows (G = the int32 lanes of a full vector: 4 on SSE4/NEON,
// 8 on AVX2, 16 on AVX-512) is unpacked once (the formats' unpackers, weight_units.h) into a
// small buffer that puts the rows side by side, lane j holding row j:
//
//   quad g of unit u: G × 4 bytes, bytes 4g..4g+3 of every row's unit u   (8 quads per unit)
//   scales of unit u: 4 vectors of G floats (scale[0], scale[1], min[0], min[1] of each row)
//
// and then serves every activation row: for each unit, 4 activation bytes broadcast to all lanes
// times a quad gives every row's partial dot in its own int32 lane (pmaddubsw / vpdpbusd), so one
// instruction does G rows × 4 elements, and a unit ends with one F32 scaling per G rows:
//
//   acc_t += F32(Σ_quads q_w·q_x) · (scale · d_t)  +  min · (d_t·Σ q_x)        (per half, Q6_K)
//
// NT activation rows share each loaded quad (register tile G rows × NT tokens). Lanes never mix:
// a row's result does not depend on which rows share its group or how tokens are tiled, so results
// are the same for any row split (thread count). F32 rounding: per unit at most 3 roundings per
// term, as the row kernels (docs/numerics.md "Integer kernels").
//
// Activations of a whole prompt stay in L2 for the integer path (52 bytes per 32 elements).

#if defined(SHRINK_KERNELS_BLOCK_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SHRINK_KERNELS_BLOCK_GEMM_INL_H_
#undef SHRINK_KERNELS_BLOCK_GEMM_INL_H_
#else
#define SHRINK_KERNELS_BLOCK_GEMM_INL_H_
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "hwy/highway.h"
#include "kernels/activation_blocks.h"
#include "kernels/int8_dot-inl.h"
#include "kernels/k_units-inl.h"
#include "kernels/legacy_units-inl.h"
#include "kernels/unit_bytes-inl.h"
#include "kernels/weight_units.h"

HWY_BEFORE_NAMESPACE();
namespace shrink {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Targets with 32 vector registers (AVX-512) hold larger register tiles.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
inline constexpr int kGemmTokens = 8;
#else
inline constexpr int kGemmTokens = 4;
#endif

// Calls fn.template operator()<K>(t0) over [0, T) in tiles of N tokens, the last tile shorter (K is
// a compile-time constant, so accumulators stay in registers).
template <int N, class Fn>
HWY_INLINE void TailTile(int64_t rest, int64_t t0, const Fn& fn) {
  if constexpr (N > 0) {
    if (rest == N) {
      fn.template operator()<N>(t0);
    } else {
      TailTile<N - 1>(rest, t0, fn);
    }
  }
}
template <int N, class Fn>
HWY_INLINE void ForEachTile(int64_t T, const Fn& fn) {
  int64_t t0 = 0;
  for (; t0 + N <= T; t0 += N) fn.template operator()<N>(t0);
  TailTile<N - 1>(T - t0, t0, fn);
}

#if SHRINK_HAVE_UNIT_VECTORS

using GI32 = hn::ScalableTag<int32_t>;
using GU8 = hn::Repartition<uint8_t, GI32>;
using GI8 = hn::Repartition<int8_t, GI32>;
using GF32 = hn::Repartition<float, GI32>;
inline constexpr int kGroupRows = static_cast<int>(hn::MaxLanes(GI32()));
inline constexpr int kQuadsPerUnit = kUnitElements / 4;
// Bytes of one unit's quads and floats of its scales in a group buffer.
inline constexpr int64_t kGroupUnitBytes = int64_t{kQuadsPerUnit} * kGroupRows * 4;
inline constexpr int64_t kGroupUnitFloats = int64_t{4} * kGroupRows;

// Unpacks rows[0..kGroupRows) (n_blocks blocks each) into the group layout above: q gets
// n_units · kGroupUnitBytes bytes, scales n_units · kGroupUnitFloats floats.
template <class U>
HWY_INLINE void PackUnitGroup(const typename U::Block* const* rows, int64_t n_blocks, uint8_t* q,
                              float* scales) {
  constexpr int G = kGroupRows;
  for (int j = 0; j < G; ++j) {
    for (int64_t b = 0; b < n_blocks; ++b) {
      const typename U::Block& block = rows[j][b];
      UnitScales s[U::kUnits];
      U::Scales(block, s);
      [&]<int... kUnit>(std::integer_sequence<int, kUnit...>) {
        (
            [&] {
              const int64_t ui = b * U::kUnits + kUnit;
              float* su = scales + ui * kGroupUnitFloats;
              su[j] = s[kUnit].scale[0];
              su[G + j] = s[kUnit].scale[1];
              su[2 * G + j] = s[kUnit].min[0];
              su[3 * G + j] = s[kUnit].min[1];
              alignas(64) uint8_t bytes[kUnitElements];
              const UnitBytes unit = UnpackUnit<kUnit>(U(), block);
              for (int k = 0; k < kUnitVecs; ++k) {
                auto v = unit.v[k];
                if constexpr (kBiased<U>) v = hn::Xor(v, hn::Set(DU8(), 0x80));  // q + 128
                hn::StoreU(v, DU8(), bytes + k * kUnitLanes);
              }
              uint8_t* qu = q + ui * kGroupUnitBytes + 4 * j;
              for (int g = 0; g < kQuadsPerUnit; ++g) std::memcpy(qu + g * G * 4, bytes + 4 * g, 4);
            }(),
            ...);
      }
      (std::make_integer_sequence<int, U::kUnits>());
    }
  }
}

// sum + the products of quad w (every row's 4 bytes) with the activation bytes x4[0..4) (the same
// 4 in every lane).
template <class U>
HWY_INLINE hn::Vec<GI32> QuadProducts(hn::Vec<GU8> w, const int8_t* x4, hn::Vec<GI32> sum) {
  if constexpr (U::kSigned && !kBiased<U>) {
    int32_t v;
    std::memcpy(&v, x4, sizeof(v));
    return DotSignedBytesAccumulate(GI32(), hn::BitCast(GI8(), w),
                                    hn::BitCast(GI8(), hn::Set(GI32(), v)), sum);
  } else {
    return DotBytesAccumulateBroadcast(GI32(), w, x4, sum);
  }
}

// out[t][j] = row j of the group · activation row x[t], t < NT.
//
// Per unit, the quads are the outer loop and the NT tokens the inner one: each loaded quad serves
// NT independent int32 sums, so consecutive byte products never wait on each other (a vpdpbusd's
// result is ready ~5 cycles after it issues; one sum per token over the unit's 8 quads would be a
// chain of 8). Each sum then gets its unit's F32 scaling, in the same order per output as the row
// kernels: the (first half's) product term, the second half's, then the offsets.
template <class U, int NT>
HWY_INLINE void UnitGroupTile(const uint8_t* q, const float* scales, int64_t n_units,
                              const ActBlock* const* x, float (&out)[NT][kGroupRows]) {
  constexpr int G = kGroupRows;
  // Halves with their own scale (Q6_K) are summed separately; one scale: one sum over the unit.
  constexpr int kParts = U::kHalfScales ? 2 : 1;
  constexpr int kPartQuads = kQuadsPerUnit / kParts;
  static_assert(!(kBiased<U> && U::kHalfScales), "the bias is removed per unit");
  const GU8 du8;
  const GF32 df;
  const GI32 di32;
  hn::Vec<GF32> acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = hn::Zero(df);
  for (int64_t ui = 0; ui < n_units; ++ui) {
    const uint8_t* qu = q + ui * kGroupUnitBytes;
    const float* su = scales + ui * kGroupUnitFloats;
    const ActBlock* xb[NT];
    for (int t = 0; t < NT; ++t) xb[t] = &x[t][ui];
    for (int part = 0; part < kParts; ++part) {
      // Biased weights (q + 128): each sum starts at −128·Σq_x, exact in int32.
      hn::Vec<GI32> p[NT];
      for (int t = 0; t < NT; ++t) {
        p[t] = kBiased<U> ? hn::Set(di32, -128 * xb[t]->qsum) : hn::Zero(di32);
      }
      for (int g = part * kPartQuads; g < (part + 1) * kPartQuads; ++g) {
        const auto w = hn::LoadU(du8, qu + g * G * 4);
        for (int t = 0; t < NT; ++t) p[t] = QuadProducts<U>(w, xb[t]->q + 4 * g, p[t]);
      }
      const auto scale = hn::LoadU(df, su + part * G);
      for (int t = 0; t < NT; ++t) {
        acc[t] = hn::MulAdd(hn::ConvertTo(df, p[t]), hn::Mul(scale, hn::Set(df, xb[t]->d)), acc[t]);
      }
    }
    if constexpr (U::kOffset && !U::kHalfScales) {
      const auto min = hn::LoadU(df, su + 2 * G);
      for (int t = 0; t < NT; ++t) acc[t] = hn::MulAdd(min, hn::Set(df, xb[t]->ds), acc[t]);
    } else if constexpr (U::kOffset) {
      const auto min0 = hn::LoadU(df, su + 2 * G);
      const auto min1 = hn::LoadU(df, su + 3 * G);
      for (int t = 0; t < NT; ++t) {
        acc[t] = hn::MulAdd(min0, hn::Set(df, xb[t]->ds_half[0]), acc[t]);
        acc[t] = hn::MulAdd(min1, hn::Set(df, xb[t]->ds_half[1]), acc[t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t) hn::StoreU(acc[t], df, out[t]);
}

// y[t · w.rows + r] for r in [r0, r1), t < T; xq: T rows of w.cols / 32 ActBlocks. `q` and
// `scales` are scratch the caller keeps (grown here).
template <class U>
void UnitGemmRows(const MatrixRef& w, const ActBlock* xq, int64_t T, int64_t r0, int64_t r1,
                  float* y, std::vector<uint8_t>& q, std::vector<float>& scales) {
  using Block = typename U::Block;
  constexpr int G = kGroupRows;
  const int64_t n_blocks = w.cols / (kUnitElements * U::kUnits);
  const int64_t n_units = n_blocks * U::kUnits;
  const int64_t x_blocks = w.cols / kActBlockElements;
  if (static_cast<int64_t>(q.size()) < n_units * kGroupUnitBytes) {
    q.resize(n_units * kGroupUnitBytes);
  }
  if (static_cast<int64_t>(scales.size()) < n_units * kGroupUnitFloats) {
    scales.resize(n_units * kGroupUnitFloats);
  }
  const auto* blocks = reinterpret_cast<const Block*>(w.data.data());
  for (int64_t g0 = r0; g0 < r1; g0 += G) {
    const int64_t n = std::min<int64_t>(G, r1 - g0);
    const Block* rows[G];
    // A short last group repeats its last row (computed, not stored).
    for (int j = 0; j < G; ++j) rows[j] = blocks + (g0 + std::min<int64_t>(j, n - 1)) * n_blocks;
    PackUnitGroup<U>(rows, n_blocks, q.data(), scales.data());
    ForEachTile<kGemmTokens>(T, [&]<int NT>(int64_t t0) {
      const ActBlock* xt[NT];
      for (int t = 0; t < NT; ++t) xt[t] = xq + (t0 + t) * x_blocks;
      alignas(64) float out[NT][G];
      UnitGroupTile<U, NT>(q.data(), scales.data(), n_units, xt, out);
      for (int t = 0; t < NT; ++t)
        std::memcpy(y + (t0 + t) * w.rows + g0, out[t], n * sizeof(float));
    });
  }
}

#endif  // SHRINK_HAVE_UNIT_VECTORS

}  // namespace HWY_NAMESPACE
}  // namespace shrink
HWY_AFTER_NAMESPACE();

#endif  // include guard
