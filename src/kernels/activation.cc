#include "kernels/activation.h"

#include <cmath>

namespace shrink {

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
  if (activation == Activation::kSilu) {
    SwiGlu(gate, up, n, out);
  } else {
    GeluTanhGlu(gate, up, n, out);
  }
}

}  // namespace shrink
