#include "kernels/activation.h"

#include <cmath>

#include "kernels/kernel_threads.h"

namespace shrink {
namespace {

// Elements per pool chunk: large enough that a chunk costs far more than claiming it.
constexpr int64_t kElementwiseGrain = 16384;

}  // namespace

std::string_view ActivationName(Activation activation) {
  return activation == Activation::kSilu ? "silu" : "gelu_tanh";
}

void SwiGlu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void GeluTanhGlu(const float* gate, const float* up, int64_t n, float* out) {
  constexpr float kSqrt2OverPi = 0.79788456080286535588f;
  constexpr float kCubic = 0.044715f;
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = 0.5f * g * (1.0f + std::tanh(kSqrt2OverPi * g * (1.0f + kCubic * g * g))) * up[i];
  }
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
