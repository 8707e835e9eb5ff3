// Float matrix products with F32 accumulation on our own SIMD kernels (no BLAS): prompt products on
// F32/F16/BF16 weights, the exact-F32 product mode of matmul.h, and attention's scores and
// weighted sums (attention.h).
//
//   y[t · ldy + n] = Σ_k x[t · ldx + k] · B(k, n)      t in [0, T), n in [n0, n1), k in [0, K)
//
// B is (K, N), given either as rows of n (FloatOperand::Layout::kRowsOfN: B(k, n) = data[n · stride
// + k]: a weight matrix W (N, K) as stored, or a K cache) or as rows of k (kRowsOfK: B(k, n) =
// data[k · stride + n]: a V cache). Elements are F32, F16 or BF16 (converted exactly to F32).
//
// How: B is copied, a block of k by a panel of n at a time, into F32 panels (k-major, one panel =
// a few vectors of n; F32 rows of k are read in place), and a register tile of tokens × panel
// accumulates broadcast x(t, k) times each panel vector, k in order. Each output is one vector lane
// summing its products in k order, so results never depend on the row range [n0, n1) a call covers
// (thread splits) or on how tokens are tiled. Fewer than kFloatGemmDotTokens tokens on kRowsOfN
// (generation) instead dot each row of B with x (vector lanes, summed at the end): no copy of B.
// Dispatched once per call to the best SIMD target (cpu_target.h); scalar on HWY_SCALAR.
#pragma once

#include <cstdint>

#include "formats/types.h"

namespace shrink {

struct FloatOperand {
  enum class Layout { kRowsOfN, kRowsOfK };
  TensorType type = TensorType::kF32;  // kF32, kF16 or kBF16
  Layout layout = Layout::kRowsOfN;
  const void* data = nullptr;
  int64_t stride = 0;  // elements between consecutive rows
};

// Causal shortcuts (attention): with n_causal >= 0 only y(t, n) for n <= n_causal + t is needed
// (others may be left unwritten); with k_causal >= 0, x(t, k) is zero for k > k_causal + t and
// those products may be skipped (adding zero products changes no result).
struct FloatGemmCausal {
  int64_t n_causal = -1;
  int64_t k_causal = -1;
};

// Below this many tokens, kRowsOfN products dot rows (see above).
inline constexpr int64_t kFloatGemmDotTokens = 4;

// REQUIRES: x, y do not overlap; rows [n0, n1) and k < K of B readable; ldx >= K, ldy >= n1.
// A thread's scratch grows to one packed panel (32 KB on AVX-512) plus one row of K floats.
void FloatGemm(const float* x, int64_t ldx, int64_t T, int64_t K, const FloatOperand& b, int64_t n0,
               int64_t n1, float* y, int64_t ldy, FloatGemmCausal causal = {});

}  // namespace shrink
