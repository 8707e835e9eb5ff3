// RMSNorm per SIMD target (Highway's foreach_target), one dispatched entry: squares in F32 vectors,
// summed in F64 lanes (each F32 square promoted exactly; only F64 rounding, far below F32's, so the
// order of the sum does not show in the F32 scale), then y = (x·scale)·w in F32 vectors (two
// separate roundings, as the scalar formula: the kernels build with -ffp-contract=off).
#include "kernels/norm.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/kernel_threads.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/norm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace shrink {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void RmsNormRowsTarget(const float* x, const float* w, int64_t t0, int64_t t1, int64_t C, float eps,
                       float* y) {
  const hn::ScalableTag<float> df;
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> dh;  // as many floats as dd has doubles
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  const int64_t Ld = static_cast<int64_t>(hn::Lanes(dd));
  for (int64_t t = t0; t < t1; ++t) {
    const float* xr = x + t * C;
    float* yr = y + t * C;
    auto s0 = hn::Zero(dd), s1 = hn::Zero(dd);
    int64_t i = 0;
    for (; i + 2 * Ld <= C; i += 2 * Ld) {
      const auto a = hn::LoadU(dh, xr + i), b = hn::LoadU(dh, xr + i + Ld);
      s0 = hn::Add(s0, hn::PromoteTo(dd, hn::Mul(a, a)));
      s1 = hn::Add(s1, hn::PromoteTo(dd, hn::Mul(b, b)));
    }
    double sum = hn::GetLane(hn::SumOfLanes(dd, hn::Add(s0, s1)));
    for (; i < C; ++i) sum += static_cast<double>(xr[i] * xr[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(C));
    const float scale = 1.0f / std::sqrt(mean + eps);
    // ggml scales first, then multiplies by the weight in a separate op: keep that rounding order.
    const auto vscale = hn::Set(df, scale);
    i = 0;
    for (; i + L <= C; i += L) {
      hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(df, xr + i), vscale), hn::LoadU(df, w + i)), df, yr + i);
    }
    for (; i < C; ++i) yr[i] = (xr[i] * scale) * w[i];
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace shrink
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/cpu_target.h"

namespace shrink {

HWY_EXPORT(RmsNormRowsTarget);

void RmsNorm(const float* x, const float* w, int64_t T, int64_t C, float eps, float* y) {
  (void)ApplyCpuTargetFromEnvironment();  // SHRINK_CPU before the first dispatch
  // Rows are independent: split them over the kernel pool (one chunk for a single token).
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(C, 1));
  KernelThreads().Run(T, grain, [&](int64_t t0, int64_t t1, int) {
    HWY_DYNAMIC_DISPATCH(RmsNormRowsTarget)(x, w, t0, t1, C, eps, y);
  });
}

}  // namespace shrink
#endif  // HWY_ONCE
