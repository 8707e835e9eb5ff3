// The float products of float_gemm.h, compiled once per SIMD target (Highway's foreach_target).
#include "kernels/float_gemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/float_gemm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/float_rows-inl.h"

HWY_BEFORE_NAMESPACE();
namespace shrink {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using GF = hn::ScalableTag<float>;
inline constexpr int64_t kLanes = static_cast<int64_t>(hn::MaxLanes(GF()));

// Register tile: kTileTokens tokens × kPanelVecs vectors of n. AVX-512 has 32 vector registers:
// 6 × 4 accumulators + 4 panel vectors + 1 broadcast; 16-register targets 6 × 2 + 2 + 1.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
inline constexpr int kPanelVecs = 4;
#else
inline constexpr int kPanelVecs = 2;
#endif
inline constexpr int kTileTokens = 6;
inline constexpr int64_t kPanelWidth = kPanelVecs * kLanes;
// k per block: one packed panel of 32 KB (kKBlock × kPanelWidth floats) stays in L1 while every
// token tile streams over it.
inline constexpr int64_t kKBlock = std::max<int64_t>(64, 8192 / kPanelWidth);

// Calls fn.template operator()<N>(t0) over tokens [t_begin, t_end) in tiles of kTileTokens, the
// last shorter (N is a compile-time constant, so accumulators stay in registers).
template <int N, class Fn>
HWY_INLINE void LastTokenTile(int64_t rest, int64_t t0, const Fn& fn) {
  if constexpr (N > 0) {
    if (rest == N) {
      fn.template operator()<N>(t0);
    } else {
      LastTokenTile<N - 1>(rest, t0, fn);
    }
  }
}
template <class Fn>
HWY_INLINE void ForTokenTiles(int64_t t_begin, int64_t t_end, const Fn& fn) {
  int64_t t0 = t_begin;
  for (; t0 + kTileTokens <= t_end; t0 += kTileTokens) fn.template operator()<kTileTokens>(t0);
  LastTokenTile<kTileTokens - 1>(t_end - t0, t0, fn);
}

// y(t0 + t, panel n) (+)= Σ_{k < kb} x(t0 + t, k) · panel[k · kstride + lane], t < NT; the first
// `valid` of kPanelWidth lanes are stored. `accumulate`: add to what y holds (a later k block).
template <int NT>
HWY_INLINE void PanelTile(const float* panel, int64_t kstride, int64_t kb, const float* x,
                          int64_t ldx, bool accumulate, float* y, int64_t ldy, int64_t valid) {
  const GF df;
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  hn::Vec<GF> acc[NT][kPanelVecs];
  for (int t = 0; t < NT; ++t) {
    if (!accumulate) {
      for (int v = 0; v < kPanelVecs; ++v) acc[t][v] = hn::Zero(df);
    } else if (valid == kPanelWidth) {
      for (int v = 0; v < kPanelVecs; ++v) acc[t][v] = hn::LoadU(df, y + t * ldy + v * L);
    } else {
      alignas(64) float lanes[kPanelWidth] = {};
      std::memcpy(lanes, y + t * ldy, valid * sizeof(float));
      for (int v = 0; v < kPanelVecs; ++v) acc[t][v] = hn::Load(df, lanes + v * L);
    }
  }
  for (int64_t k = 0; k < kb; ++k) {
    hn::Vec<GF> w[kPanelVecs];
    for (int v = 0; v < kPanelVecs; ++v) w[v] = hn::LoadU(df, panel + k * kstride + v * L);
    for (int t = 0; t < NT; ++t) {
      const auto xb = hn::Set(df, x[t * ldx + k]);
      for (int v = 0; v < kPanelVecs; ++v) acc[t][v] = hn::MulAdd(w[v], xb, acc[t][v]);
    }
  }
  for (int t = 0; t < NT; ++t) {
    if (valid == kPanelWidth) {
      for (int v = 0; v < kPanelVecs; ++v) hn::StoreU(acc[t][v], df, y + t * ldy + v * L);
    } else {
      alignas(64) float lanes[kPanelWidth];
      for (int v = 0; v < kPanelVecs; ++v) hn::Store(acc[t][v], df, lanes + v * L);
      std::memcpy(y + t * ldy, lanes, valid * sizeof(float));
    }
  }
}

struct Scratch {
  std::vector<float> panel;  // kKBlock × kPanelWidth
  std::vector<float> row;    // four converted row segments
};
Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// out[k · ld + i] = rows[i][k] for i < 4, k < n: four rows become four adjacent columns. 128-bit
// vectors (every SIMD target has them): 4 × 4 blocks transposed by two rounds of interleaves,
// four loads and four stores per 16 elements instead of 16 scalar loads and stores.
HWY_INLINE void TransposeFourRows(const float* const* rows, int64_t n, float* out, int64_t ld) {
  int64_t k = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::Full128<float> d4;
  const hn::Repartition<uint64_t, decltype(d4)> d64;
  for (; k + 4 <= n; k += 4) {
    const auto r0 = hn::LoadU(d4, rows[0] + k), r1 = hn::LoadU(d4, rows[1] + k);
    const auto r2 = hn::LoadU(d4, rows[2] + k), r3 = hn::LoadU(d4, rows[3] + k);
    // (r0[k], r1[k], r0[k+1], r1[k+1]) and the same for rows 2, 3; then the k+2, k+3 twins.
    const auto lo01 = hn::BitCast(d64, hn::InterleaveLower(d4, r0, r1));
    const auto lo23 = hn::BitCast(d64, hn::InterleaveLower(d4, r2, r3));
    const auto hi01 = hn::BitCast(d64, hn::InterleaveUpper(d4, r0, r1));
    const auto hi23 = hn::BitCast(d64, hn::InterleaveUpper(d4, r2, r3));
    hn::StoreU(hn::BitCast(d4, hn::InterleaveLower(d64, lo01, lo23)), d4, out + k * ld);
    hn::StoreU(hn::BitCast(d4, hn::InterleaveUpper(d64, lo01, lo23)), d4, out + (k + 1) * ld);
    hn::StoreU(hn::BitCast(d4, hn::InterleaveLower(d64, hi01, hi23)), d4, out + (k + 2) * ld);
    hn::StoreU(hn::BitCast(d4, hn::InterleaveUpper(d64, hi01, hi23)), d4, out + (k + 3) * ld);
  }
#endif
  for (; k < n; ++k) {
    for (int i = 0; i < 4; ++i) out[k * ld + i] = rows[i][k];
  }
}

// panel[k · kPanelWidth + j] = B(k0 + k, p + j) for k < kb, j < valid; zero for j >= valid.
template <class W>
void PackPanel(const FloatOperand& b, int64_t k0, int64_t kb, int64_t p, int64_t valid,
               Scratch& s) {
  const auto* data = static_cast<const typename W::T*>(b.data);
  float* panel = s.panel.data();
  if (b.layout == FloatOperand::Layout::kRowsOfK) {
    for (int64_t k = 0; k < kb; ++k) {
      float* out = panel + k * kPanelWidth;
      DecodeFloatRow<W>(data + (k0 + k) * b.stride + p, valid, out);
      std::fill(out + valid, out + kPanelWidth, 0.0f);
    }
    return;
  }
  // Rows of n: four rows at a time (converted to F32 first unless they are F32), transposed 4 × 4
  // in 128-bit vectors into the panel's columns j..j+3; the panel's unused columns are zero.
  const float* rows[4];
  int64_t j = 0;
  for (; j + 4 <= valid; j += 4) {
    if constexpr (std::is_same_v<W, F32Weights>) {
      for (int i = 0; i < 4; ++i) rows[i] = data + (p + j + i) * b.stride + k0;
    } else {
      for (int i = 0; i < 4; ++i) {
        DecodeFloatRow<W>(data + (p + j + i) * b.stride + k0, kb, s.row.data() + i * kb);
        rows[i] = s.row.data() + i * kb;
      }
    }
    TransposeFourRows(rows, kb, panel + j, kPanelWidth);
  }
  for (; j < kPanelWidth; ++j) {
    if (j < valid) {
      const float* row;
      if constexpr (std::is_same_v<W, F32Weights>) {
        row = data + (p + j) * b.stride + k0;
      } else {
        DecodeFloatRow<W>(data + (p + j) * b.stride + k0, kb, s.row.data());
        row = s.row.data();
      }
      for (int64_t k = 0; k < kb; ++k) panel[k * kPanelWidth + j] = row[k];
    } else {
      for (int64_t k = 0; k < kb; ++k) panel[k * kPanelWidth + j] = 0.0f;
    }
  }
}

template <class W>
void PanelGemm(const float* x, int64_t ldx, int64_t T, int64_t K, const FloatOperand& b, int64_t n0,
               int64_t n1, float* y, int64_t ldy, const FloatGemmCausal& c) {
  Scratch& s = ThreadScratch();
  if (static_cast<int64_t>(s.panel.size()) < kKBlock * kPanelWidth) {
    s.panel.resize(kKBlock * kPanelWidth);
    s.row.resize(4 * kKBlock);
  }
  for (int64_t k0 = 0; k0 < K; k0 += kKBlock) {
    const int64_t kb = std::min(kKBlock, K - k0);
    // Tokens whose nonzero x all lie before this block have their sums complete already.
    const int64_t t_first = c.k_causal >= 0 ? std::max<int64_t>(0, k0 - c.k_causal) : 0;
    if (t_first >= T) break;
    for (int64_t p = n0; p < n1; p += kPanelWidth) {
      const int64_t valid = std::min(kPanelWidth, n1 - p);
      // Tokens that need none of this panel's n come first; they skip it.
      const int64_t t_begin =
          c.n_causal >= 0 ? std::max(t_first, std::min(T, p - c.n_causal)) : t_first;
      if (t_begin >= T) continue;
      const float* panel = s.panel.data();
      int64_t kstride = kPanelWidth;
      if (std::is_same_v<W, F32Weights> && b.layout == FloatOperand::Layout::kRowsOfK &&
          valid == kPanelWidth) {
        panel = static_cast<const float*>(b.data) + k0 * b.stride + p;  // in place
        kstride = b.stride;
      } else {
        PackPanel<W>(b, k0, kb, p, valid, s);
      }
      ForTokenTiles(t_begin, T, [&]<int NT>(int64_t t0) {
        // Products past the last token's nonzero x are zero: stop there.
        int64_t k_end = kb;
        if (c.k_causal >= 0) k_end = std::min(kb, c.k_causal + t0 + NT - k0);
        PanelTile<NT>(panel, kstride, k_end, x + t0 * ldx + k0, ldx, k0 > 0, y + t0 * ldy + p, ldy,
                      valid);
      });
    }
  }
}

// Few tokens on rows of n: each row of B dotted with every token (float_rows-inl.h).
template <class W>
void DotGemm(const float* x, int64_t ldx, int64_t T, int64_t K, const FloatOperand& b, int64_t n0,
             int64_t n1, float* y, int64_t ldy, const FloatGemmCausal& c) {
  const auto* data = static_cast<const typename W::T*>(b.data);
  const float* xt[kFloatGemmDotTokens];
  for (int64_t t = 0; t < T; ++t) xt[t] = x + t * ldx;
  for (int64_t n = n0; n < n1; ++n) {
    // Tokens before t_begin do not need row n (causal).
    const int64_t t_begin = c.n_causal >= 0 ? std::min(T, std::max<int64_t>(0, n - c.n_causal)) : 0;
    const typename W::T* row = data + n * b.stride;
    float out[kFloatGemmDotTokens] = {};
    switch (T - t_begin) {
      case 1:
        FloatRowTile<W, 1>(row, K, xt + t_begin, out);
        break;
      case 2:
        FloatRowTile<W, 2>(row, K, xt + t_begin, out);
        break;
      case 3:
        FloatRowTile<W, 3>(row, K, xt + t_begin, out);
        break;
      default:
        continue;
    }
    for (int64_t t = t_begin; t < T; ++t) y[t * ldy + n] = out[t - t_begin];
  }
}
static_assert(kFloatGemmDotTokens == 4, "DotGemm's switch covers 1..3 tokens");

void FloatGemmTarget(const float* x, int64_t ldx, int64_t T, int64_t K, const FloatOperand& b,
                     int64_t n0, int64_t n1, float* y, int64_t ldy, FloatGemmCausal causal) {
  if (T <= 0 || n1 <= n0) return;
  VisitFloatWeights(b.type, [&](auto weights) {
    using W = decltype(weights);
    if (T < kFloatGemmDotTokens && b.layout == FloatOperand::Layout::kRowsOfN) {
      DotGemm<W>(x, ldx, T, K, b, n0, n1, y, ldy, causal);
    } else {
      PanelGemm<W>(x, ldx, T, K, b, n0, n1, y, ldy, causal);
    }
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace shrink
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "base/check.h"
#include "kernels/cpu_target.h"

namespace shrink {

HWY_EXPORT(FloatGemmTarget);

void FloatGemm(const float* x, int64_t ldx, int64_t T, int64_t K, const FloatOperand& b, int64_t n0,
               int64_t n1, float* y, int64_t ldy, FloatGemmCausal causal) {
  SHRINK_CHECK(b.type == TensorType::kF32 || b.type == TensorType::kF16 ||
               b.type == TensorType::kBF16);
  (void)ApplyCpuTargetFromEnvironment();  // SHRINK_CPU before the first dispatch (block_matmul.cc)
  HWY_DYNAMIC_DISPATCH(FloatGemmTarget)(x, ldx, T, K, b, n0, n1, y, ldy, causal);
}

}  // namespace shrink
#endif  // HWY_ONCE
