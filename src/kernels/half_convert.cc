// ConvertToF16 per SIMD target (Highway's foreach_target), one dispatched entry.
#include "kernels/half_convert.h"

#include <cstring>

#include "formats/float_types.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/half_convert.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace shrink {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void ConvertToF16Target(const float* in, int64_t n, uint16_t* out) {
  int64_t i = 0;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2 && !defined(HWY_DISABLE_F16C)
  // F16C's vcvtps2ph (round to nearest even, the MXCSR default Highway's DemoteTo leaves as is).
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  for (; i + L <= n; i += L) {
    hn::StoreU(hn::DemoteTo(dh, hn::LoadU(df, in + i)), dh,
               reinterpret_cast<hwy::float16_t*>(out + i));
  }
#endif
  for (; i < n; ++i) out[i] = F32ToF16(in[i]);
}

}  // namespace HWY_NAMESPACE
}  // namespace shrink
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/cpu_target.h"

namespace shrink {

HWY_EXPORT(ConvertToF16Target);

void ConvertToF16(const float* in, int64_t n, uint16_t* out) {
  (void)ApplyCpuTargetFromEnvironment();  // SHRINK_CPU before the first dispatch
  HWY_DYNAMIC_DISPATCH(ConvertToF16Target)(in, n, out);
}

}  // namespace shrink
#endif  // HWY_ONCE
