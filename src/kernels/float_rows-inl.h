// Rows of F32, F16 and BF16 weights dotted with F32 activations (no activation quantization: these
// formats keep 11+ significant bits, and their products are bound by memory bandwidth, not
// arithmetic). One generic loop over a per-type load; works on every target, HWY_SCALAR included.

#if defined(SHRINK_KERNELS_FLOAT_ROWS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SHRINK_KERNELS_FLOAT_ROWS_INL_H_
#undef SHRINK_KERNELS_FLOAT_ROWS_INL_H_
#else
#define SHRINK_KERNELS_FLOAT_ROWS_INL_H_
#endif

#include <cstdint>
#include <cstring>

#include "formats/float_types.h"
#include "formats/types.h"
#include "hwy/cache_control.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace shrink {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

inline uint16_t Bits(const void* p) {
  uint16_t bits;
  std::memcpy(&bits, p, sizeof(bits));
  return bits;
}

// Weight element types: how a vector of them is loaded as F32, and how one is (for row tails).
struct F32Weights {
  using T = float;
  template <class DF>
  static HWY_INLINE hn::Vec<DF> Load(DF df, const T* p) {
    return hn::LoadU(df, p);
  }
  static float One(const T* p) { return *p; }
};
struct F16Weights {
  using T = hwy::float16_t;
  template <class DF>
  static HWY_INLINE hn::Vec<DF> Load(DF df, const T* p) {
    return hn::PromoteTo(df, hn::LoadU(hn::Rebind<T, DF>(), p));
  }
  static float One(const T* p) { return F16ToF32(Bits(p)); }
};
struct BF16Weights {
  using T = hwy::bfloat16_t;
  template <class DF>
  static HWY_INLINE hn::Vec<DF> Load(DF df, const T* p) {
    return hn::PromoteTo(df, hn::LoadU(hn::Rebind<T, DF>(), p));
  }
  static float One(const T* p) { return BF16ToF32(Bits(p)); }
};

// Calls fn(W{}) with the weight element type of `type`; false (fn not called) for a type that is
// not F32, F16 or BF16. The one place mapping a table type to these structs.
template <class Fn>
bool VisitFloatWeights(TensorType type, Fn&& fn) {
  switch (type) {
    case TensorType::kF32:
      fn(F32Weights{});
      return true;
    case TensorType::kF16:
      fn(F16Weights{});
      return true;
    case TensorType::kBF16:
      fn(BF16Weights{});
      return true;
    default:
      return false;
  }
}

// How far ahead of the current element a row's weights are prefetched (bytes): generation streams
// every float weight from memory once per token, and the hardware prefetcher alone keeps too few
// lines in flight (as for the integer kernels, block_matmul-inl.h; Zen 5, SmolLM2 F16 one-thread
// tg128: 66 / 81 / 94 tokens/s with 2 / 4 / 8 KiB, F32 41 / 47 / 48).
inline constexpr int64_t kFloatPrefetchBytes = 8192;

// out[r][t] = Σ_i rows[r][i] · x[t][i] for NR weight rows and NT activation rows; F32
// accumulation in vector lanes, one independent chain per (row, token), lanes summed at the end,
// then the tail of fewer than a vector's elements. Each output's sum is the same whatever NR is.
template <class W, int NR, int NT>
HWY_INLINE void FloatRowsTile(const typename W::T* const* rows, int64_t cols, const float* const* x,
                              float (&out)[NR][NT]) {
  const hn::ScalableTag<float> df;
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  hn::Vec<decltype(df)> acc[NR][NT];
  for (int r = 0; r < NR; ++r) {
    for (int t = 0; t < NT; ++t) acc[r][t] = hn::Zero(df);
  }
  int64_t i = 0;
  for (; i + L <= cols; i += L) {
    hn::Vec<decltype(df)> w[NR];
    for (int r = 0; r < NR; ++r) {
      hwy::Prefetch(reinterpret_cast<const uint8_t*>(rows[r] + i) + kFloatPrefetchBytes);
      w[r] = W::Load(df, rows[r] + i);
    }
    for (int t = 0; t < NT; ++t) {
      const auto xv = hn::LoadU(df, x[t] + i);
      for (int r = 0; r < NR; ++r) acc[r][t] = hn::MulAdd(w[r], xv, acc[r][t]);
    }
  }
  for (int r = 0; r < NR; ++r) {
    for (int t = 0; t < NT; ++t) {
      float sum = hn::GetLane(hn::SumOfLanes(df, acc[r][t]));
      for (int64_t j = i; j < cols; ++j) sum += W::One(rows[r] + j) * x[t][j];
      out[r][t] = sum;
    }
  }
}

// out[t] = Σ_i row[i] · x[t][i] for NT activation rows (FloatRowsTile of one row).
template <class W, int NT>
HWY_INLINE void FloatRowTile(const typename W::T* row, int64_t cols, const float* const* x,
                             float* out) {
  float tile[1][NT] = {};
  FloatRowsTile<W, 1, NT>(&row, cols, x, tile);
  for (int t = 0; t < NT; ++t) out[t] = tile[0][t];
}

// out: (cols) = row as F32.
template <class W>
HWY_INLINE void DecodeFloatRow(const typename W::T* row, int64_t cols, float* out) {
  const hn::ScalableTag<float> df;
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + L <= cols; i += L) hn::StoreU(W::Load(df, row + i), df, out + i);
  for (; i < cols; ++i) out[i] = W::One(row + i);
}

}  // namespace HWY_NAMESPACE
}  // namespace shrink
HWY_AFTER_NAMESPACE();

#endif  // include guard
