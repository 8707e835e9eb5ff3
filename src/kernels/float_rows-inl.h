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

// out[t] = Σ_i row[i] · x[t][i] for NT activation rows; F32 accumulation in vector lanes, lanes
// summed at the end, then the tail of fewer than a vector's elements.
template <class W, int NT>
HWY_INLINE void FloatRowTile(const typename W::T* row, int64_t cols, const float* const* x,
                             float* out) {
  const hn::ScalableTag<float> df;
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  hn::Vec<decltype(df)> acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = hn::Zero(df);
  int64_t i = 0;
  for (; i + L <= cols; i += L) {
    const auto w = W::Load(df, row + i);
    for (int t = 0; t < NT; ++t) acc[t] = hn::MulAdd(w, hn::LoadU(df, x[t] + i), acc[t]);
  }
  for (int t = 0; t < NT; ++t) {
    float sum = hn::GetLane(hn::SumOfLanes(df, acc[t]));
    for (int64_t j = i; j < cols; ++j) sum += W::One(row + j) * x[t][j];
    out[t] = sum;
  }
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
