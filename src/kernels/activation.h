// Gated feed-forward activations: out = act(gate) * up, element by element.
//   SiLU (SwiGLU, Llama):            silu(g) = g / (1 + exp(-g))
//   GELU, tanh form (GeGLU, Gemma):  gelu(g) = g/2 · (1 + tanh(√(2/π) · (g + 0.044715 g³)))
// Both in F32. (llama.cpp's CPU GELU looks the value up in an F16-indexed table, i.e. rounds g to
// F16 first; shrink evaluates the formula, the closer of the two to exact arithmetic.)
#pragma once

#include <cstdint>
#include <string_view>

namespace shrink {

enum class Activation { kSilu, kGeluTanh };
std::string_view ActivationName(Activation activation);  // "silu" / "gelu_tanh"

// gate, up, out: n elements each. `out` may alias `gate` or `up`.
void SwiGlu(const float* gate, const float* up, int64_t n, float* out);
void GeluTanhGlu(const float* gate, const float* up, int64_t n, float* out);
// Dispatches on `activation` to one of the two above.
void GatedActivation(Activation activation, const float* gate, const float* up, int64_t n,
                     float* out);

}  // namespace shrink
