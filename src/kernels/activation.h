// SwiGLU: out = silu(gate) * up, silu(g) = g / (1 + exp(-g)).
#pragma once

#include <cstdint>

namespace shrink {

// gate, up, out: n elements each. `out` may alias `gate` or `up`.
void SwiGlu(const float* gate, const float* up, int64_t n, float* out);

}  // namespace shrink
