// Gated activations per SIMD target (Highway's foreach_target): Highway's contrib Exp (at most 1
// ULP) and Tanh (at most 4 ULP) on F32 vectors instead of libm's scalar expf/tanhf, which were
// ~22 % of a Gemma-3 pp512 profile. Element tails go through a full padded vector, so every
// element is computed the same way wherever it falls.
#include "kernels/activation.h"

#include <algorithm>
#include <cstring>

#include "kernels/kernel_threads.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/activation.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

// After foreach_target.h (re-included per target), hence its own block.
#include "hwy/contrib/math/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace shrink {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;

// x with NaN lanes set to 0, for Exp and Tanh: their range reduction converts the argument to int32,
// which for NaN is undefined behaviour in Highway 1.0.3's EMU128 and scalar targets (UBSan finding,
// fuzz/regressions/gguf_model/nan-activations-int-overflow). The activation stays NaN: it is also
// multiplied by g. Finite lanes are unchanged, so results are bit-identical.
HWY_INLINE hn::Vec<DF> NanToZero(hn::Vec<DF> x) { return hn::IfThenZeroElse(hn::IsNaN(x), x); }

// silu(g) · u = g / (1 + exp(-g)) · u. exp's argument is capped at 100, inside Highway's Exp's
// valid range (up to 104) and past F32's overflow (88.7): exp gives +inf there and g / inf = -0,
// as the exact result g·e^g·u rounds to.
struct Silu {
  static HWY_INLINE hn::Vec<DF> Apply(DF d, hn::Vec<DF> g, hn::Vec<DF> u) {
    const auto e = hn::Exp(d, NanToZero(hn::Min(hn::Neg(g), hn::Set(d, 100.0f))));
    return hn::Mul(hn::Div(g, hn::Add(hn::Set(d, 1.0f), e)), u);
  }
};

// gelu(g) · u = 0.5·g·(1 + tanh(√(2/π)·g·(1 + 0.044715·g²))) · u, in the order of the scalar
// formula (activation.h).
struct GeluTanh {
  static HWY_INLINE hn::Vec<DF> Apply(DF d, hn::Vec<DF> g, hn::Vec<DF> u) {
    const auto one = hn::Set(d, 1.0f);
    const auto inner = hn::Mul(hn::Mul(hn::Set(d, 0.79788456080286535588f), g),
                               hn::Add(one, hn::Mul(hn::Mul(hn::Set(d, 0.044715f), g), g)));
    const auto t = hn::Tanh(d, NanToZero(inner));
    return hn::Mul(hn::Mul(hn::Mul(hn::Set(d, 0.5f), g), hn::Add(one, t)), u);
  }
};

template <class Act>
void GatedRows(const float* gate, const float* up, int64_t n, float* out) {
  const DF d;
  const int64_t L = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    hn::StoreU(Act::Apply(d, hn::LoadU(d, gate + i), hn::LoadU(d, up + i)), d, out + i);
  }
  if (i < n) {
    alignas(64) float g[hn::MaxLanes(DF())] = {}, u[hn::MaxLanes(DF())] = {};
    std::memcpy(g, gate + i, (n - i) * sizeof(float));
    std::memcpy(u, up + i, (n - i) * sizeof(float));
    hn::Store(Act::Apply(d, hn::Load(d, g), hn::Load(d, u)), d, g);
    std::memcpy(out + i, g, (n - i) * sizeof(float));
  }
}

void SwiGluTarget(const float* gate, const float* up, int64_t n, float* out) {
  GatedRows<Silu>(gate, up, n, out);
}
void GeluTanhGluTarget(const float* gate, const float* up, int64_t n, float* out) {
  GatedRows<GeluTanh>(gate, up, n, out);
}

}  // namespace HWY_NAMESPACE
}  // namespace shrink
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/cpu_target.h"

namespace shrink {
namespace {

// Elements per pool chunk: large enough that a chunk costs far more than claiming it.
constexpr int64_t kElementwiseGrain = 16384;

}  // namespace

HWY_EXPORT(SwiGluTarget);
HWY_EXPORT(GeluTanhGluTarget);

std::string_view ActivationName(Activation activation) {
  return activation == Activation::kSilu ? "silu" : "gelu_tanh";
}

void SwiGlu(const float* gate, const float* up, int64_t n, float* out) {
  (void)ApplyCpuTargetFromEnvironment();  // SHRINK_CPU before the first dispatch
  HWY_DYNAMIC_DISPATCH(SwiGluTarget)(gate, up, n, out);
}

void GeluTanhGlu(const float* gate, const float* up, int64_t n, float* out) {
  (void)ApplyCpuTargetFromEnvironment();
  HWY_DYNAMIC_DISPATCH(GeluTanhGluTarget)(gate, up, n, out);
}

void GatedActivation(Activation activation, const float* gate, const float* up, int64_t n,
                     float* out) {
  // Element-wise: split over the kernel pool in chunks (each element is computed the same way on
  // any thread), a single chunk for one token's row.
  KernelThreads().Run(n, kElementwiseGrain, [&](int64_t begin, int64_t end, int) {
    if (activation == Activation::kSilu) {
      SwiGlu(gate + begin, up + begin, end - begin, out + begin);
    } else {
      GeluTanhGlu(gate + begin, up + begin, end - begin, out + begin);
    }
  });
}

}  // namespace shrink
#endif  // HWY_ONCE
