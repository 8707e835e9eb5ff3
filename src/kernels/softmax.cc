// Softmax per SIMD target (Highway's foreach_target), one dispatched entry. Exponentials as F32
// vectors (Highway's contrib Exp: at most 1 ULP from exp), the sum of the stored F32 exponentials in
// F64 vector lanes (only F64 rounding, far below F32's), one F32 reciprocal. libm's scalar expf
// was 14 % of a SmolLM2 pp512 profile before.
#include "kernels/softmax.h"

#include <cstring>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/softmax.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

// After foreach_target.h (re-included per target), hence its own block.
#include "hwy/contrib/math/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace shrink {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// exp(a) for a <= 0 (or -inf): below -88 exp(a) is under F32's smallest normal and Highway's Exp
// leaves its accurate range, so those lanes are 0 (an absolute error under 1.2e-38; -inf gives
// exactly 0 as the contract says). A NaN lane (a row holding NaN or +inf) stays NaN without
// entering Exp, whose int32 range reduction is undefined for NaN on Highway 1.0.3's EMU128 target
// (UBSan, gguf_model/llama2c_checkpoint fuzzing).
template <class D>
HWY_INLINE hn::Vec<D> ExpOfNonPositive(D d, hn::Vec<D> a) {
  const auto tiny = hn::Lt(a, hn::Set(d, -88.0f));
  const auto nan = hn::IsNaN(a);
  const auto e = hn::IfThenZeroElse(tiny, hn::Exp(d, hn::IfThenZeroElse(hn::Or(tiny, nan), a)));
  return hn::IfThenElse(nan, a, e);
}

void SoftmaxTarget(float* x, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t L = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  float max = x[0];
  if (n >= L) {  // max is exact in any order
    auto m = hn::LoadU(d, x);
    for (i = L; i + L <= n; i += L) m = hn::Max(m, hn::LoadU(d, x + i));
    max = hn::GetLane(hn::MaxOfLanes(d, m));
  }
  for (; i < n; ++i) max = x[i] > max ? x[i] : max;
  const auto vmax = hn::Set(d, max);
  i = 0;
  for (; i + L <= n; i += L) {
    hn::StoreU(ExpOfNonPositive(d, hn::Sub(hn::LoadU(d, x + i), vmax)), d, x + i);
  }
  if (i < n) {  // the tail through a full vector, the padding lanes discarded
    alignas(64) float tail[hn::MaxLanes(hn::ScalableTag<float>())];
    std::memset(tail, 0, sizeof(tail));
    std::memcpy(tail, x + i, (n - i) * sizeof(float));
    hn::Store(ExpOfNonPositive(d, hn::Sub(hn::Load(d, tail), vmax)), d, tail);
    std::memcpy(x + i, tail, (n - i) * sizeof(float));
  }
  // F64 lanes: each F32 exponential promoted exactly, then summed with F64 rounding.
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> dh;  // as many floats as dd has doubles
  const int64_t Ld = static_cast<int64_t>(hn::Lanes(dd));
  auto s0 = hn::Zero(dd), s1 = hn::Zero(dd);
  int64_t k = 0;
  for (; k + 2 * Ld <= n; k += 2 * Ld) {
    s0 = hn::Add(s0, hn::PromoteTo(dd, hn::LoadU(dh, x + k)));
    s1 = hn::Add(s1, hn::PromoteTo(dd, hn::LoadU(dh, x + k + Ld)));
  }
  double sum = hn::GetLane(hn::SumOfLanes(dd, hn::Add(s0, s1)));
  for (; k < n; ++k) sum += x[k];
  const float inv = static_cast<float>(1.0 / sum);
  const auto vinv = hn::Set(d, inv);
  for (i = 0; i + L <= n; i += L) hn::StoreU(hn::Mul(hn::LoadU(d, x + i), vinv), d, x + i);
  for (; i < n; ++i) x[i] *= inv;
}

}  // namespace HWY_NAMESPACE
}  // namespace shrink
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/cpu_target.h"

namespace shrink {

HWY_EXPORT(SoftmaxTarget);

void Softmax(float* x, int64_t n) {
  (void)ApplyCpuTargetFromEnvironment();  // SHRINK_CPU before the first dispatch
  HWY_DYNAMIC_DISPATCH(SoftmaxTarget)(x, n);
}

}  // namespace shrink
#endif  // HWY_ONCE
