// Softmax per SIMD target (Highway's foreach_target), one dispatched entry.
//
// Exponentials in F32 vectors (Highway's contrib Exp, within 1 ULP over the range used here:
// arguments <= 0), the sum in F64 (four chains over the stored F32 exponentials, exact products of
// F32 values summed with F64 rounding only), one F32 reciprocal. Attention's prompt rows spend most
// of their softmax time in exp: libm's scalar expf was 14 % of a SmolLM2 pp512 profile.
#include "kernels/softmax.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/softmax.cc"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace shrink {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// exp(a) for a <= 0: Highway's Exp below its valid range (about -87.3, where exp reaches the F32
// normal minimum) is replaced by 0 (an error under 1.2e-38; -inf gives exactly 0, as the contract
// requires).
template <class D>
HWY_INLINE hn::Vec<D> ExpNonPositive(D df, hn::Vec<D> a) {
  return hn::IfThenZeroElse(hn::Lt(a, hn::Set(df, -87.3f)), hn::Exp(df, a));
}

void SoftmaxTarget(float* x, int64_t n) {
  const hn::ScalableTag<float> df;
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = x[i] > max ? x[i] : max;
  const auto vmax = hn::Set(df, max);
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    hn::StoreU(ExpNonPositive(df, hn::Sub(hn::LoadU(df, x + i), vmax)), df, x + i);
  }
  if (i < n) {
    // The tail through the same vector Exp (padding lanes are discarded).
    float tail[64] = {};  // at least one vector on every target
    for (int64_t j = i; j < n; ++j) tail[j - i] = x[j] - max;
    hn::StoreU(ExpNonPositive(df, hn::LoadU(df, tail)), df, tail);
    for (int64_t j = i; j < n; ++j) x[j] = tail[j - i];
  }
  double sums[4] = {0.0, 0.0, 0.0, 0.0};
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    for (int c = 0; c < 4; ++c) sums[c] += x[k + c];
  }
  for (; k < n; ++k) sums[0] += x[k];
  const float inv = static_cast<float>(1.0 / ((sums[0] + sums[1]) + (sums[2] + sums[3])));
  const auto vinv = hn::Set(df, inv);
  for (i = 0; i + L <= n; i += L) hn::StoreU(hn::Mul(hn::LoadU(df, x + i), vinv), df, x + i);
  for (; i < n; ++i) x[i] *= inv;
}

}  // namespace HWY_NAMESPACE
}  // namespace shrink
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace shrink {

HWY_EXPORT(SoftmaxTarget);

void Softmax(float* x, int64_t n) { HWY_DYNAMIC_DISPATCH(SoftmaxTarget)(x, n); }

}  // namespace shrink
#endif  // HWY_ONCE
