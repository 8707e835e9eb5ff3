// Activations quantized on the fly to 8-bit blocks, for the integer matrix kernels.
//
// A row x: (n) of F32 activations becomes n / 32 ActBlocks, block b holding elements
// [32b, 32b + 32):
//
//   d = max_i |x_i| / 127,   q_i = round_half_even(x_i · (127 / max_i |x_i|))  (0 when the block is
//   all zero),   x_i ≈ d · q_i,   |x_i − d·q_i| <= d / 2 (+ one rounding of the product),
//
// with q in [-127, 127] (never -128: the byte products need b >= -127, int8_dot-inl.h), and
// d·Σq over the block and over each 16-element half (one F32 rounding each), for the weight
// formats with offsets (Σ w·x gains min · d·Σq), and Σq itself.
// The error this adds to a product is bounded in docs/numerics.md ("Integer kernels").
#pragma once

#include <cstdint>
#include <limits>

namespace shrink {

inline constexpr int kActBlockElements = 32;

struct ActBlock {
  int8_t q[kActBlockElements];
  float d;
  float ds;          // d · Σ q
  float ds_half[2];  // d · Σ q over elements [0, 16) and [16, 32)
  int32_t qsum;      // Σ q, exact (the prompt kernels' offset for Q8_0 weights biased to unsigned)
};
static_assert(sizeof(ActBlock) == 52);

// A block with an infinite or NaN element: q = 0 and d, ds, ds_half NaN, so every product with it
// is NaN (the model's NaN/Inf logits check then reports the position) instead of undefined
// float-to-int conversions.
inline void SetNonFiniteActBlock(ActBlock& o) {
  for (int8_t& q : o.q) q = 0;
  o.qsum = 0;
  o.d = o.ds = o.ds_half[0] = o.ds_half[1] = std::numeric_limits<float>::quiet_NaN();
}

// x: (n) -> out: (n / 32) blocks. REQUIRES: n % 32 == 0. Runs the best SIMD target
// (block_matmul.cc); reference::QuantizeActivations is its scalar twin, bit-identical.
void QuantizeActivations(const float* x, int64_t n, ActBlock* out);

}  // namespace shrink
